//! What the session hands out: auth requests to send, credentials to attach, events to act on.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, StatusCode, Uri};

use crate::config::AccountId;
use crate::snapshot::Snapshot;

/// Identifies one auth request the session emitted, so its answer can be matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);

/// Which auth exchange a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// `POST /auth/login` (SPEC.md §2).
    Login,
    /// `POST /auth/refresh` (SPEC.md §3).
    Refresh,
    /// `POST <masquerade path>` to this account (SPEC.md §4).
    Masquerade(AccountId),
}

/// An auth request the driver must send, then report with
/// [`Session::handle_response`](crate::Session::handle_response) or
/// [`Session::handle_failure`](crate::Session::handle_failure).
///
/// Its `Debug` output shows the method, URI and exchange but never the body, which carries the
/// password or the refresh token.
pub struct AuthRequest {
    pub(crate) id: RequestId,
    pub(crate) exchange: Exchange,
    pub(crate) request: Request<Vec<u8>>,
    pub(crate) timeout: std::time::Duration,
}

impl AuthRequest {
    /// The id to report the answer under.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Which exchange this is.
    pub fn exchange(&self) -> Exchange {
        self.exchange
    }

    /// The transport timeout to send it with: the policy's `auth_timeout`, so that the driver
    /// reports a hung request before the session gives up on it.
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// The HTTP request to send.
    pub fn request(&self) -> &Request<Vec<u8>> {
        &self.request
    }

    /// Takes the HTTP request out, to send it. Its body holds a secret: do not log it.
    pub fn into_request(self) -> Request<Vec<u8>> {
        self.request
    }
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("id", &self.id)
            .field("exchange", &self.exchange)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field("body", &"[redacted]")
            .finish()
    }
}

/// The generation of the token a request carried. It increases with every new token, so the
/// session can tell whether a 401/403 concerns the current token or an old one (SPEC.md §5a).
///
/// Issued by the session only: a generation cannot be built outside this crate, so a report can
/// never name a token the session did not hand out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenGeneration(pub(crate) u64);

impl TokenGeneration {
    /// The number, for logs and metrics (0 before the first token).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// The next generation.
    pub(crate) fn next(self) -> TokenGeneration {
        TokenGeneration(self.0.saturating_add(1))
    }
}

impl fmt::Display for TokenGeneration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The answer of [`Session::authorize`](crate::Session::authorize).
#[derive(Debug)]
#[must_use]
pub enum Authorization {
    /// Attach this credential and send the request.
    Ready(Credential),
    /// An auth exchange must complete first: drive [`Session::poll_transmit`](crate::Session::poll_transmit)
    /// (or wait for whoever is driving it), then ask again.
    Pending,
}

impl Authorization {
    /// This answer for the one resend of a rejected request: its credential marked as the
    /// resend's (its answer is final), or `Pending` with `permit` given back.
    pub(crate) fn for_resend(self, permit: RetryPermit) -> RetryAuthorization {
        match self {
            Authorization::Ready(mut credential) => {
                credential.receipt.flags |= Receipt::RETRY;
                tracing::debug!(generation = credential.generation().as_u64(), "resend permit used");
                RetryAuthorization::Ready(credential)
            }
            Authorization::Pending => RetryAuthorization::Pending(permit),
        }
    }
}

/// The answer of [`Session::authorize_retry`](crate::Session::authorize_retry).
#[derive(Debug)]
#[must_use]
pub enum RetryAuthorization {
    /// Attach this credential and resend the request; its answer is final.
    Ready(Credential),
    /// An auth exchange must complete first; the permit comes back to ask again.
    Pending(RetryPermit),
}

/// What to attach to one API request: the `Authorization` header and, for a pinned Basic or
/// Integrator account, an `account_id` query parameter.
///
/// A ticket, not a value to copy: it is not `Clone`. [`attach`](Self::attach) (or
/// [`into_parts`](Self::into_parts)) turns it into the [`Receipt`] that reports the API's
/// answer, exactly once.
pub struct Credential {
    pub(crate) header: HeaderValue,
    /// The account the request acts on.
    pub(crate) account: Option<AccountId>,
    /// Whether `account` goes into the query string (a pinned Basic or Integrator account that
    /// the request does not name itself).
    pub(crate) account_param: bool,
    pub(crate) receipt: Receipt,
}

impl Credential {
    /// The `Authorization` header value (marked sensitive, so `http` never prints it).
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// The token generation (always the same one for Basic and Integrator).
    pub fn generation(&self) -> TokenGeneration {
        self.receipt.generation
    }

    /// The account the request will act on: the bearer token's account, or the pinned Basic or
    /// Integrator account (`None`: the user's default account, or the one the request names).
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// Whether a 401/403 answer to the request may earn a resend ([`Receipt::may_retry`]): only
    /// then does a driver keep a copy of the request for it.
    pub fn may_retry(&self) -> bool {
        self.receipt.may_retry()
    }

    /// The `account_id` this credential adds to the request's query string, if any.
    #[inline]
    pub fn account_param(&self) -> Option<AccountId> {
        self.account.filter(|_| self.account_param)
    }

    /// Sets the `Authorization` header and adds the account parameter, if any, moving the header
    /// into the request. Returns the receipt to report the answer with.
    #[inline]
    pub fn attach<B>(self, request: &mut Request<B>) -> Receipt {
        let Credential { header, account, account_param, receipt } = self;
        if let (Some(account), true) = (account, account_param) {
            *request.uri_mut() = with_account_param(request.uri(), account);
        }
        request.headers_mut().insert(AUTHORIZATION, header);
        receipt
    }

    /// The header, the account parameter and the receipt, for a request type other than
    /// [`http::Request`]: set `Authorization` to the header and append `account_id=<account>` to
    /// the query string, exactly as [`attach`](Self::attach) does.
    #[inline]
    pub fn into_parts(self) -> (HeaderValue, Option<AccountId>, Receipt) {
        let account = self.account_param();
        (self.header, account, self.receipt)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("header", &"[redacted]")
            .field("account", &self.account)
            .field("account_param", &self.account_param)
            .field("receipt", &self.receipt)
            .finish()
    }
}

/// The proof that a credential went out with a request: report the API's answer with it,
/// exactly once ([`Session::handle_api_response`](crate::Session::handle_api_response), or
/// [`Session::release`](crate::Session::release) when no answer came), or settle it without the
/// session when the answer needs nothing from it ([`Ledger::settle`]). Not `Clone`: a report
/// consumes it, so no request is reported twice.
#[derive(PartialEq, Eq)]
#[must_use = "report the answer with `Session::handle_api_response` or `Session::release`"]
pub struct Receipt {
    pub(crate) generation: TokenGeneration,
    /// The [`Ledger`] that counts this credential (`0`: none; Basic and Integrator credentials
    /// are not counted).
    pub(crate) ledger: u64,
    /// [`Receipt::QUIET`] and [`Receipt::RETRY`] (one byte: it is written on every request).
    pub(crate) flags: u8,
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receipt")
            .field("generation", &self.generation)
            .field("ledger", &self.ledger)
            .field("retry", &self.is_retry())
            .field("quiet", &self.is_quiet())
            .finish()
    }
}

impl Receipt {
    /// The token was fresh when it was handed out: an answer the session would accept as it is
    /// needs nothing from the session ([`Ledger::settle`]). Bit 0, so that `u8::from(fresh)`
    /// is the flags of a first attempt.
    pub(crate) const QUIET: u8 = 1;
    /// The one resend after a 401/403: its answer is final (SPEC.md §5a).
    pub(crate) const RETRY: u8 = 2;

    pub(crate) fn is_quiet(&self) -> bool {
        self.flags & Receipt::QUIET != 0
    }

    /// The generation of the token the request carried.
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// Whether this was the one resend after [`ApiVerdict::RetryOnce`] (its answer is final).
    pub fn is_retry(&self) -> bool {
        self.flags & Receipt::RETRY != 0
    }

    /// Whether a 401/403 answer to this request may earn a resend: a bearer credential's first
    /// attempt. A driver keeps what the resend needs (a copy of the request) only then.
    pub fn may_retry(&self) -> bool {
        self.ledger != 0 && !self.is_retry()
    }
}

/// The books of the credentials a session handed out and that have not come back yet, shared
/// (an `Arc`, from [`Session::ledger`](crate::Session::ledger)) with the callers who hold them,
/// so that an answer the session would accept as it is can be settled without the session's
/// lock ([`settle`](Self::settle), [`release`](Self::release)). A masquerade switch waits for
/// these books to balance (SPEC.md §4); while one waits, settling a credential says so
/// ([`Settled::Wake`]).
#[derive(Debug)]
pub struct Ledger {
    pub(crate) id: u64,
    /// Credentials that came back (those handed out are counted by the session, under its
    /// lock: [`Issued`]).
    pub(crate) returned: AtomicU64,
    /// A switch is under way: someone may wait for credentials to come back.
    pub(crate) watched: AtomicBool,
}

/// The session's side of its [`Ledger`]: the credentials it handed out, counted under the
/// session's lock (a plain increment on the per-request path).
#[derive(Debug)]
pub(crate) struct Issued {
    pub(crate) ledger: Arc<Ledger>,
    /// `ledger.id`, kept at hand.
    pub(crate) id: u64,
    pub(crate) count: u64,
}

impl Issued {
    pub(crate) fn new() -> Issued {
        let ledger = Ledger::new();
        Issued { id: ledger.id, ledger, count: 0 }
    }

    /// Counts a credential out; the receipt's books.
    #[inline]
    pub(crate) fn count_out(&mut self) -> u64 {
        self.count += 1;
        self.id
    }

    /// How many credentials are out (handed out, not reported, settled or released).
    pub(crate) fn outstanding(&self) -> u64 {
        self.count.saturating_sub(self.ledger.returned.load(Ordering::SeqCst))
    }
}

/// What settling a credential without the session came to ([`Ledger::settle`],
/// [`Ledger::release`]).
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Settled {
    /// Done; nobody waits for it.
    Quiet,
    /// Done, and a caller may be waiting for credentials to come back (an account switch): tell
    /// the coordinator ([`Coordinator::handle_return`](crate::Coordinator::handle_return)), then
    /// wake the waiters if it says so.
    Wake,
}

impl Ledger {
    pub(crate) fn new() -> Arc<Ledger> {
        /// Ledger ids, so that a receipt is only ever settled in its own session's books.
        static IDS: AtomicU64 = AtomicU64::new(1);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        Arc::new(Ledger { id, returned: AtomicU64::new(0), watched: AtomicBool::new(false) })
    }

    /// Takes `receipt` back into the books, if they count it. Whether someone may wait for it.
    pub(crate) fn take_back(&self, receipt: &Receipt) -> bool {
        if receipt.ledger != self.id {
            return false;
        }
        // Count it back, then look: a switch that starts meanwhile sets `watched` before it
        // counts what is out, so either it sees this credential back or this sees it watching.
        self.returned.fetch_add(1, Ordering::SeqCst);
        self.watched.load(Ordering::SeqCst)
    }

    /// Releases, without the session, a credential whose request got no answer we may judge
    /// the token by (a transport error, a cancelled caller), as
    /// [`Session::release`](crate::Session::release) would. `Err`: the receipt is another
    /// session's; it is given back.
    pub fn release(&self, receipt: Receipt) -> Result<Settled, Receipt> {
        match receipt.ledger {
            0 => Ok(Settled::Quiet),
            id if id == self.id => Ok(if self.take_back(&receipt) { Settled::Wake } else { Settled::Quiet }),
            _ => Err(receipt),
        }
    }

    /// Marks whether a switch is under way (under the session's lock).
    pub(crate) fn watch(&self, switching: bool) {
        if self.watched.load(Ordering::Relaxed) != switching {
            self.watched.store(switching, Ordering::SeqCst);
        }
    }
}

/// The permission to resend one rejected request once, from [`ApiVerdict::RetryOnce`]; spent by
/// [`Session::authorize_retry`](crate::Session::authorize_retry). Not `Clone`: one rejection,
/// one resend.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub struct RetryPermit {
    pub(crate) _private: (),
}

/// `uri` with `account_id=<account>` appended to its query string.
pub(crate) fn with_account_param(uri: &Uri, account: AccountId) -> Uri {
    let path = uri.path();
    let query = match uri.query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}&account_id={account}"),
        _ => format!("{path}?account_id={account}"),
    };
    let mut parts = uri.clone().into_parts();
    match PathAndQuery::try_from(query) {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return uri.clone(),
    }
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// One `account_id` parameter of a request's query string, read the way the server's form
/// decoder reads it: name and value percent-decoded, `+` as a space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AccountParam<'a> {
    /// The decoded value.
    pub(crate) value: Cow<'a, str>,
    /// Whether the decoded name is exactly `account_id`, the documented spelling (SPEC.md §1).
    /// Otherwise it differs only in letter case (`ACCOUNT_ID`): a server that matches names
    /// case-insensitively would act on it, one that does not would ignore it.
    pub(crate) documented: bool,
}

/// Every parameter of a query string whose decoded name is `account_id` in any letter case
/// (`account_id`, `account%5Fid`, `ACCOUNT_ID`), in order.
pub(crate) fn account_params(query: Option<&str>) -> impl Iterator<Item = AccountParam<'_>> {
    query.unwrap_or_default().split('&').filter_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name);
        name.eq_ignore_ascii_case("account_id")
            .then(|| AccountParam { value: form_decode(value), documented: name == "account_id" })
    })
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte (either case);
/// a `%` not followed by two hex digits stays as it is, and bytes that are not UTF-8 become
/// U+FFFD. Text with neither `%` nor `+` is returned as it is, without allocating.
fn form_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let hex = |digit: Option<&u8>| char::from(*digit?).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut bytes = text.as_bytes().iter();
    let mut out = Vec::with_capacity(text.len());
    while let Some(&byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.as_slice().first()), hex(bytes.as_slice().get(1))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    bytes.nth(1);
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Whether an API answer with `status` is a verdict on the token it carried: 401 or 403, both
/// "maybe expired" (SPEC.md §5a). Only such an answer needs to know whether it came through a
/// redirect (then it is not judged), so a driver need not find out for any other.
pub fn rejects(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// What the caller must do with an API response that used a [`Credential`] (SPEC.md §5a).
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum ApiVerdict {
    /// Return the response to the caller as it is.
    Accept,
    /// The token may have expired: if the body can be replayed, authorize again with this permit
    /// ([`Session::authorize_retry`](crate::Session::authorize_retry): the header is rebuilt from
    /// the current state) and resend once. Otherwise return the response as it is.
    RetryOnce(RetryPermit),
}

impl ApiVerdict {
    /// Whether the verdict is [`RetryOnce`](Self::RetryOnce).
    pub fn is_retry(&self) -> bool {
        matches!(self, ApiVerdict::RetryOnce(_))
    }
}

/// Something the driver should act on, from [`Session::poll_event`](crate::Session::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The token state changed (new tokens, or a refresh token was consumed): persist this
    /// snapshot before any request uses the new state.
    TokensUpdated(Snapshot),
    /// The session now acts on this account.
    AccountSwitched(AccountId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_param_is_appended_or_added() {
        let uri: Uri = "https://h/reports?x=1".parse().unwrap();
        assert_eq!(with_account_param(&uri, AccountId(7)).to_string(), "https://h/reports?x=1&account_id=7");
        let uri: Uri = "https://h/reports".parse().unwrap();
        assert_eq!(with_account_param(&uri, AccountId(7)).to_string(), "https://h/reports?account_id=7");
    }

    fn params(uri: &str) -> Vec<(String, bool)> {
        let uri: Uri = uri.parse().unwrap();
        account_params(uri.query()).map(|p| (p.value.into_owned(), p.documented)).collect()
    }

    #[test]
    fn account_param_is_found_only_as_a_whole_key() {
        assert_eq!(params("https://h/r?my_account_id=1&account_id=9"), [("9".to_owned(), true)]);
        assert!(params("https://h/r?my_account_id=1&account_idx=2").is_empty());
        assert!(params("https://h/r").is_empty());
    }

    #[test]
    fn every_account_param_is_found_in_order_whatever_its_spelling() {
        let found =
            params("https://h/r?account_id=1&x=account_id&account%5Fid=%32&ACCOUNT_ID=3&Account%5fId=+4&account_id");
        let expected = [("1", true), ("2", true), ("3", false), (" 4", false), ("", true)];
        assert_eq!(found, expected.map(|(v, d)| (v.to_owned(), d)));
    }

    #[test]
    fn form_decoding_is_lenient() {
        assert_eq!(form_decode("a%zz%4"), "a%zz%4");
        assert_eq!(form_decode("%C3%a4+%FF"), "ä \u{FFFD}");
        assert!(matches!(form_decode("plain"), Cow::Borrowed("plain")));
    }
}
