//! What the session hands out: auth requests to send, credentials to attach, events to act on.

use std::fmt;

use http::header::AUTHORIZATION;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenGeneration(pub u64);

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

/// What to attach to one API request: the `Authorization` header and, for a pinned Basic or
/// Integrator account, an `account_id` query parameter.
///
/// Report the API's answer with [`Session::handle_api_response`](crate::Session::handle_api_response)
/// (or [`Session::release`](crate::Session::release) if none came), passing [`Credential::generation`].
#[derive(Clone)]
pub struct Credential {
    pub(crate) header: HeaderValue,
    pub(crate) generation: TokenGeneration,
    pub(crate) account_param: Option<AccountId>,
}

impl Credential {
    /// The `Authorization` header value (marked sensitive, so `http` never prints it).
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// The token generation (always 0 for Basic and Integrator).
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// The `account_id` this credential adds to the request's query string, if any.
    pub fn account_param(&self) -> Option<AccountId> {
        self.account_param
    }

    /// Sets the `Authorization` header and adds the account parameter, if any.
    pub fn apply<B>(&self, request: &mut Request<B>) {
        self.clone().attach(request);
    }

    /// Like [`apply`](Self::apply), moving the header into the request instead of copying it
    /// (the hot path: one reference-count update fewer). Returns the generation to report.
    pub fn attach<B>(self, request: &mut Request<B>) -> TokenGeneration {
        if let Some(account) = self.account_param {
            *request.uri_mut() = with_account_param(request.uri(), account);
        }
        request.headers_mut().insert(AUTHORIZATION, self.header);
        self.generation
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("header", &"[redacted]")
            .field("generation", &self.generation)
            .field("account_param", &self.account_param)
            .finish()
    }
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

/// The value of `account_id` in a URI's query string, if present.
pub(crate) fn account_param_of(uri: &Uri) -> Option<&str> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == "account_id").then_some(value)
    })
}

/// What the caller must do with an API response that used a [`Credential`] (SPEC.md §5a).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum ApiVerdict {
    /// Return the response to the caller as it is.
    Accept,
    /// The token may have expired: if this was the first attempt and the body can be replayed,
    /// authorize again (the header is rebuilt from the current state) and resend once.
    /// Otherwise return the response as it is.
    RetryOnce,
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

    #[test]
    fn account_param_is_found_only_as_a_whole_key() {
        let uri: Uri = "https://h/r?my_account_id=1&account_id=9".parse().unwrap();
        assert_eq!(account_param_of(&uri), Some("9"));
        let uri: Uri = "https://h/r?my_account_id=1".parse().unwrap();
        assert_eq!(account_param_of(&uri), None);
    }
}
