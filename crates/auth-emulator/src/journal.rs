//! The journal: one entry per request the emulator received, for tests to assert on.
//!
//! Its memory is bounded however clients behave: every field of client-chosen length is cut to
//! [`JOURNAL_FIELD_MAX_BYTES`], and the entries kept are capped in bytes (oldest dropped first,
//! [`DEFAULT_JOURNAL_BYTE_BUDGET`] unless configured) and optionally in number. The counters
//! are running totals, so dropping old entries never changes them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use axum::http::{header, request};

use crate::endpoint::Endpoint;
use crate::faults::{Fault, InjectedFault};
use crate::reply::Facts;
use crate::users::AccountNumber;

/// The most bytes a journaled text field (method, path, query, user) keeps. A longer value is
/// cut on a character boundary and ends in `…` (U+2026) within this limit, and the entry's
/// [`truncated`](JournalEntry::truncated) flag is set.
pub const JOURNAL_FIELD_MAX_BYTES: usize = 256;

/// The journal's default byte budget (8 MiB): about 30,000 typical entries, and at least 6,500
/// even when every text field is cut to [`JOURNAL_FIELD_MAX_BYTES`]. See
/// [`EmulatorBuilder::journal_byte_budget`](crate::EmulatorBuilder::journal_byte_budget).
pub const DEFAULT_JOURNAL_BYTE_BUDGET: usize = 8 * 1024 * 1024;

/// How a request authenticated itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AuthScheme {
    /// No credentials (no `Authorization` header; for RealTime, no token in the first message).
    #[default]
    None,
    /// `Authorization: Bearer <token>`, or a RealTime `authrequest` with a token.
    Bearer,
    /// `Authorization: Basic base64(user:pass)`.
    Basic,
    /// `Authorization: Integrator base64(user:pass)`.
    Integrator,
    /// An `Authorization` header with another scheme word, or none at all.
    Unrecognized,
}

impl AuthScheme {
    /// The lowercase name used in the `served.scheme` field of API responses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer => "bearer",
            Self::Basic => "basic",
            Self::Integrator => "integrator",
            Self::Unrecognized => "unrecognized",
        }
    }
}

/// What the server decided about a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Served successfully (a login that issued tokens, a refresh that rotated, an API call, a
    /// RealTime authentication, a redirect).
    Ok,
    /// `auth_only=1` login: credentials verified, no session created.
    Verified,
    /// Missing or invalid parameters, or a body that is not JSON / form data (400).
    BadRequest,
    /// A body type the emulator does not parse, such as multipart (415).
    UnsupportedMediaType,
    /// A request body over 1 MiB (413).
    PayloadTooLarge,
    /// No credentials where they are required (401).
    MissingCredentials,
    /// Wrong user name or password, or an unusable `Authorization` header (401).
    BadCredentials,
    /// Credentials of the wrong kind for this endpoint: Basic for an integrator, Integrator for
    /// a member, anything but Bearer on masquerade (401/403).
    WrongScheme,
    /// Integrator users cannot log in (403).
    IntegratorCannotLogin,
    /// An Integrator request without `account_id` (400).
    AccountRequired,
    /// The user may not use the requested account (403).
    AccountNotAllowed,
    /// A bearer request whose `account_id` differs from the session's account (403), when the
    /// bearer-account knob is [`BearerAccountParam::MustMatch`](crate::BearerAccountParam).
    AccountMismatch,
    /// The bearer token has expired (expired-token status).
    ExpiredToken,
    /// The bearer token was replaced by a newer one of the same session (expired-token status).
    SupersededToken,
    /// The bearer token's session was revoked (expired-token status).
    RevokedToken,
    /// The bearer token was never issued by this emulator (expired-token status).
    UnknownToken,
    /// The refresh token had already been used (401 `invalid_refresh_token`).
    RefreshReused,
    /// The refresh token has expired (401 `refresh_token_expired`).
    RefreshExpired,
    /// The refresh token was replaced without being used, by a masquerade that issued new
    /// tokens (401 `invalid_refresh_token`).
    RefreshSuperseded,
    /// The refresh token's session was revoked (401 `invalid_refresh_token`).
    RefreshRevoked,
    /// The refresh token was never issued by this emulator (401 `invalid_refresh_token`).
    RefreshUnknown,
    /// RealTime: the first message was not an `authrequest` with a token.
    NotAuthRequest,
    /// RealTime: the client closed the socket before sending its first message.
    ClosedBeforeAuth,
    /// A plain GET on the RealTime path, without a WebSocket upgrade (426).
    UpgradeRequired,
    /// Unknown path (404).
    NotFound,
    /// Known path, wrong method (405).
    MethodNotAllowed,
    /// A scripted fault replaced the processing of the request (it had no effect).
    Fault(Fault),
}

/// One request, as the emulator saw it.
///
/// For RealTime the entry describes the whole handshake (the upgrade request and the first
/// message) and is written when the first message has been judged, before the `authresponse`
/// is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalEntry {
    /// Position in the journal, from 0; keeps counting after [`clear_journal`](crate::Emulator::clear_journal).
    pub seq: u64,
    /// Wall-clock time the request arrived.
    pub at: SystemTime,
    /// The endpoint group.
    pub endpoint: Endpoint,
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query string, without `?`, if any.
    pub query: Option<String>,
    /// Whether the request carried an `Authorization` header at all (whatever its content).
    pub authorization_present: bool,
    /// The scheme of the credentials presented.
    pub scheme: AuthScheme,
    /// The user, when it could be told: from a known token, from Basic/Integrator credentials
    /// (even wrong ones), or from the login's `username`.
    pub user: Option<String>,
    /// The account the request ran under (or was bound to, for auth endpoints).
    pub account_id: Option<AccountNumber>,
    /// The token generation: for API calls and RealTime, the one presented; for login, refresh
    /// and masquerade, the one *issued* (or, when nothing was issued, the one presented).
    /// Generations count from 1 (the login token) within a session.
    pub token_generation: Option<u64>,
    /// What the server decided.
    pub outcome: Outcome,
    /// The scripted fault applied to this request, if any. With
    /// [`FaultTiming::AfterEffect`](crate::FaultTiming) the `outcome` is what the server did
    /// before the response was mangled.
    pub fault: Option<InjectedFault>,
    /// The status sent; `None` when the connection was dropped. RealTime handshakes are 101.
    pub status: Option<u16>,
    /// For refresh requests that carried a `refresh_token`: whether that token had already been
    /// consumed by an earlier refresh (a client bug per SPEC §3). `None` otherwise.
    pub refresh_token_already_consumed: Option<bool>,
    /// Whether a text field (`method`, `path`, `query`, `user`) was longer than
    /// [`JOURNAL_FIELD_MAX_BYTES`] and was cut (it then ends in `…`).
    pub truncated: bool,
}

impl JournalEntry {
    /// What the entry costs the journal's byte budget: its own size plus its text.
    fn cost(&self) -> usize {
        let text = |s: &String| s.capacity();
        std::mem::size_of::<Self>()
            + text(&self.method)
            + text(&self.path)
            + self.query.as_ref().map_or(0, text)
            + self.user.as_ref().map_or(0, text)
    }
}

/// `text`, cut to at most [`JOURNAL_FIELD_MAX_BYTES`] on a character boundary and marked with
/// `…` if it was longer; the flag says whether it was cut.
fn clip(text: &str) -> (String, bool) {
    const MARK: char = '…';
    if text.len() <= JOURNAL_FIELD_MAX_BYTES {
        return (text.to_owned(), false);
    }
    let mut end = JOURNAL_FIELD_MAX_BYTES - MARK.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut clipped = String::with_capacity(end + MARK.len_utf8());
    clipped.push_str(&text[..end]);
    clipped.push(MARK);
    (clipped, true)
}

/// The request-level fields of a journal entry, known before the request is processed.
///
/// Its text is clipped already: a RealTime socket keeps this until its first message.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta {
    at: SystemTime,
    endpoint: Endpoint,
    method: String,
    path: String,
    query: Option<String>,
    authorization_present: bool,
    truncated: bool,
}

impl RequestMeta {
    pub(crate) fn new(at: SystemTime, endpoint: Endpoint, parts: &request::Parts) -> Self {
        let (method, method_cut) = clip(parts.method.as_str());
        let (path, path_cut) = clip(parts.uri.path());
        let (query, query_cut) = parts.uri.query().map(clip).map_or((None, false), |(q, cut)| (Some(q), cut));
        Self {
            at,
            endpoint,
            method,
            path,
            query,
            authorization_present: parts.headers.contains_key(header::AUTHORIZATION),
            truncated: method_cut || path_cut || query_cut,
        }
    }

    /// The full entry (its `seq` is assigned by [`Journal::record`]).
    pub(crate) fn entry(&self, facts: Facts, fault: Option<InjectedFault>, status: Option<u16>) -> JournalEntry {
        let (user, user_cut) = facts.user.as_deref().map(clip).map_or((None, false), |(u, cut)| (Some(u), cut));
        JournalEntry {
            seq: 0,
            at: self.at,
            endpoint: self.endpoint,
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            authorization_present: self.authorization_present,
            scheme: facts.scheme,
            user,
            account_id: facts.account,
            token_generation: facts.generation,
            outcome: facts.outcome,
            fault,
            status,
            refresh_token_already_consumed: facts.refresh_consumed,
            truncated: self.truncated || user_cut,
        }
    }
}

/// How much of the journal is kept in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JournalLimits {
    /// The most entries kept (`None`: no limit on the number).
    pub(crate) entries: Option<usize>,
    /// The most bytes the kept entries may cost (see [`JournalEntry::cost`]).
    pub(crate) bytes: usize,
}

impl Default for JournalLimits {
    fn default() -> Self {
        Self { entries: None, bytes: DEFAULT_JOURNAL_BYTE_BUDGET }
    }
}

/// Running totals over every entry recorded since the last clear, kept or dropped.
#[derive(Debug, Default)]
pub(crate) struct Totals {
    pub(crate) per_endpoint: HashMap<Endpoint, usize>,
    pub(crate) logins_served: usize,
    pub(crate) refreshes_served: usize,
    pub(crate) consumed_refresh_token_reuses: usize,
    /// Entries dropped to stay within the limits.
    pub(crate) dropped: u64,
}

impl Totals {
    fn add(&mut self, entry: &JournalEntry) {
        *self.per_endpoint.entry(entry.endpoint).or_default() += 1;
        let served = entry.outcome == Outcome::Ok;
        self.logins_served += usize::from(served && entry.endpoint == Endpoint::Login);
        self.refreshes_served += usize::from(served && entry.endpoint == Endpoint::Refresh);
        self.consumed_refresh_token_reuses += usize::from(entry.refresh_token_already_consumed == Some(true));
    }
}

/// The in-memory journal.
#[derive(Debug)]
pub(crate) struct Journal {
    entries: VecDeque<JournalEntry>,
    /// What the kept entries cost, by [`JournalEntry::cost`].
    bytes: usize,
    next_seq: u64,
    limits: JournalLimits,
    totals: Totals,
}

impl Journal {
    pub(crate) fn new(limits: JournalLimits) -> Self {
        Self { entries: VecDeque::new(), bytes: 0, next_seq: 0, limits, totals: Totals::default() }
    }

    /// Appends an entry, assigning its sequence number, then drops the oldest entries until
    /// the journal is within its limits again.
    pub(crate) fn record(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.totals.add(&entry);
        self.bytes += entry.cost();
        self.entries.push_back(entry);
        let max_entries = self.limits.entries.unwrap_or(usize::MAX);
        while self.bytes > self.limits.bytes || self.entries.len() > max_entries {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= oldest.cost();
            self.totals.dropped += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<JournalEntry> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn count(&self, pred: impl Fn(&JournalEntry) -> bool) -> usize {
        self.entries.iter().filter(|e| pred(e)).count()
    }

    pub(crate) fn totals(&self) -> &Totals {
        &self.totals
    }

    /// What the kept entries cost, in bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn limits(&self) -> JournalLimits {
        self.limits
    }

    /// Drops every entry and resets the totals (sequence numbers keep counting).
    pub(crate) fn clear(&mut self) {
        self.entries = VecDeque::new();
        self.bytes = 0;
        self.totals = Totals::default();
    }
}

/// Tracks how many auth requests are being processed at once, and the high-water mark.
#[derive(Debug, Default)]
pub(crate) struct AuthGauge {
    in_flight: AtomicUsize,
    max: AtomicUsize,
}

impl AuthGauge {
    /// Counts one auth request in until the guard is dropped.
    pub(crate) fn enter(&self) -> AuthGuard<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        AuthGuard(self)
    }

    pub(crate) fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    pub(crate) fn reset(&self) {
        self.max.store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// Counts an auth request as in flight while alive.
#[derive(Debug)]
pub(crate) struct AuthGuard<'a>(&'a AuthGauge);

impl Drop for AuthGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(clip("from=2024-01-01"), ("from=2024-01-01".to_owned(), false));
        let exact = "x".repeat(JOURNAL_FIELD_MAX_BYTES);
        assert_eq!(clip(&exact), (exact.clone(), false));
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary_and_marked() {
        // Two-byte characters, so the byte limit falls inside one of them.
        let text = "é".repeat(JOURNAL_FIELD_MAX_BYTES);
        let (cut, truncated) = clip(&text);
        assert!(truncated);
        assert!(cut.len() <= JOURNAL_FIELD_MAX_BYTES, "{} bytes", cut.len());
        assert!(cut.ends_with('…'));
        assert!(text.starts_with(cut.trim_end_matches('…')));
        assert_eq!(clip(&cut), (cut.clone(), false), "clipping twice changes nothing");
    }

    /// A login entry with a long query and a long user name, both clipped.
    fn large_entry() -> JournalEntry {
        let uri = format!("/auth/login?q={}", "x".repeat(60_000));
        let (parts, ()) = axum::http::Request::post(uri).body(()).expect("request").into_parts();
        let meta = RequestMeta::new(SystemTime::UNIX_EPOCH, Endpoint::Login, &parts);
        let facts = Facts::new(crate::journal::AuthScheme::None, Outcome::Ok).user(Some("u".repeat(1 << 20)));
        meta.entry(facts, None, Some(200))
    }

    #[test]
    fn the_default_byte_budget_bounds_the_journal_and_the_totals_count_everything() {
        let mut journal = Journal::new(JournalLimits::default());
        let entry = large_entry();
        assert!(entry.truncated);
        let cost = entry.cost();
        assert!(cost < 2 * 1024, "{cost} bytes");
        let n = 2 * DEFAULT_JOURNAL_BYTE_BUDGET / cost;
        for _ in 0..n {
            journal.record(entry.clone());
            assert!(journal.bytes() <= DEFAULT_JOURNAL_BYTE_BUDGET);
        }
        assert_eq!(journal.entries.len(), DEFAULT_JOURNAL_BYTE_BUDGET / cost);
        assert_eq!(journal.totals().dropped, (n - journal.entries.len()) as u64);
        assert_eq!(journal.totals().logins_served, n);
        assert_eq!(journal.totals().per_endpoint.get(&Endpoint::Login), Some(&n));
    }

    #[test]
    fn a_zero_budget_keeps_no_entries_but_still_counts() {
        let mut journal = Journal::new(JournalLimits { entries: None, bytes: 0 });
        journal.record(large_entry());
        assert_eq!((journal.entries.len(), journal.bytes()), (0, 0));
        assert_eq!(journal.totals().logins_served, 1);
    }

    #[test]
    fn gauge_tracks_the_high_water_mark() {
        let gauge = AuthGauge::default();
        {
            let _a = gauge.enter();
            let _b = gauge.enter();
            assert_eq!(gauge.max(), 2);
        }
        let _c = gauge.enter();
        assert_eq!(gauge.max(), 2);
        gauge.reset();
        assert_eq!(gauge.max(), 1);
    }
}
