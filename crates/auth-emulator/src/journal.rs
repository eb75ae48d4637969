//! The journal: one entry per request the emulator received, for tests to assert on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use axum::http::{header, request};

use crate::endpoint::Endpoint;
use crate::faults::{Fault, InjectedFault};
use crate::reply::Facts;
use crate::users::AccountId;

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
    pub account_id: Option<AccountId>,
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
}

/// The request-level fields of a journal entry, known before the request is processed.
#[derive(Debug, Clone)]
pub(crate) struct RequestMeta {
    at: SystemTime,
    endpoint: Endpoint,
    method: String,
    path: String,
    query: Option<String>,
    authorization_present: bool,
}

impl RequestMeta {
    pub(crate) fn new(at: SystemTime, endpoint: Endpoint, parts: &request::Parts) -> Self {
        Self {
            at,
            endpoint,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            authorization_present: parts.headers.contains_key(header::AUTHORIZATION),
        }
    }

    /// The full entry (its `seq` is assigned by [`Journal::record`]).
    pub(crate) fn entry(&self, facts: Facts, fault: Option<InjectedFault>, status: Option<u16>) -> JournalEntry {
        JournalEntry {
            seq: 0,
            at: self.at,
            endpoint: self.endpoint,
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            authorization_present: self.authorization_present,
            scheme: facts.scheme,
            user: facts.user,
            account_id: facts.account,
            token_generation: facts.generation,
            outcome: facts.outcome,
            fault,
            status,
            refresh_token_already_consumed: facts.refresh_consumed,
        }
    }
}

/// The in-memory journal.
#[derive(Debug)]
pub(crate) struct Journal {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    limit: Option<usize>,
}

impl Journal {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self { entries: VecDeque::new(), next_seq: 0, limit }
    }

    /// Appends an entry, assigning its sequence number.
    pub(crate) fn record(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(entry);
        if let Some(limit) = self.limit {
            while self.entries.len() > limit {
                self.entries.pop_front();
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<JournalEntry> {
        self.entries.iter().cloned().collect()
    }

    pub(crate) fn count(&self, pred: impl Fn(&JournalEntry) -> bool) -> usize {
        self.entries.iter().filter(|e| pred(e)).count()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
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
