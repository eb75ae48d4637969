//! Where the token came from, and why: ttauth's own tracing events (shown with `-v`).
//!
//! The [`Observer`] is a ureq middleware on the agent ttauth hands the client, so it sees
//! every request the session sends — logins, refreshes, masquerades — and every API request,
//! with its status and duration. Together with what the store held when the command started
//! ([`StoredFacts`]) that tells a person, as far as ttauth can: the stored session was reused,
//! or refreshed (because it was due, or because the API refused it), or replaced by a login
//! (no stored session, its refresh token expired or spent, the server refused it, an account
//! switch by relogin).
//!
//! Events name endpoints, paths without their query, statuses, generations, accounts and
//! durations — never a header, a body or a token.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use auth_core::{AccountId, Snapshot};
use auth_ureq::ureq;
use auth_ureq::ureq::middleware::{Middleware, MiddlewareNext};
use time::OffsetDateTime;
use tracing::{debug, info, warn};

/// What the store held when the command started, as far as it matters to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredFacts {
    pub generation: u64,
    pub account: Option<AccountId>,
    /// Seconds the token has left by the client's estimate (negative: expired that long ago).
    pub token_left: i64,
    pub refresh: RefreshFacts,
}

/// The stored refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshFacts {
    /// None, or spent: the session cannot be refreshed.
    Absent,
    /// Expired by the client's estimate, `seconds` ago.
    Expired { seconds: i64 },
    /// Usable for `seconds` more (`None`: the server named no expiry).
    Usable { seconds: Option<i64> },
}

impl StoredFacts {
    /// The facts of `snapshot` at `now`.
    pub(crate) fn of(snapshot: &Snapshot, now: OffsetDateTime) -> StoredFacts {
        let refresh = if snapshot.has_refresh_token() {
            match snapshot.refresh_expires_at() {
                Some(at) if at <= now => RefreshFacts::Expired { seconds: (now - at).whole_seconds() },
                Some(at) => RefreshFacts::Usable { seconds: Some((at - now).whole_seconds()) },
                None => RefreshFacts::Usable { seconds: None },
            }
        } else {
            RefreshFacts::Absent
        };
        StoredFacts {
            generation: snapshot.generation().as_u64(),
            account: snapshot.account(),
            token_left: (snapshot.expires_at() - now).whole_seconds(),
            refresh,
        }
    }
}

/// Which endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Login,
    Refresh,
    Masquerade,
    Api,
}

/// Watches the client's requests and tells what they mean. Clones share what they saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observer {
    seen: Arc<Mutex<Seen>>,
}

#[derive(Debug, Default)]
struct Seen {
    login_path: String,
    refresh_path: String,
    masquerade_path: String,
    /// `None`: no store (or not looked at); `Some(None)`: nothing stored.
    stored: Option<Option<StoredFacts>>,
    switching_to: Option<AccountId>,
    refresh_refused: Option<u16>,
    api_rejected: Option<u16>,
    logins: u32,
    refreshes: u32,
}

impl Observer {
    /// An observer for the API at `base_url`, whose masquerade endpoint is `masquerade_path`.
    pub(crate) fn new(base_url: &str, masquerade_path: &str) -> Observer {
        let base_path =
            base_url.parse::<http::Uri>().map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default();
        let under_base = |path: &str| format!("{base_path}/{}", path.trim_start_matches('/'));
        let seen = Seen {
            login_path: under_base("/auth/login"),
            refresh_path: under_base("/auth/refresh"),
            masquerade_path: under_base(masquerade_path),
            ..Seen::default()
        };
        Observer { seen: Arc::new(Mutex::new(seen)) }
    }

    fn seen(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records (and tells) what the store at `file` held when the command started.
    pub(crate) fn stored(&self, file: &str, facts: Option<StoredFacts>) {
        match facts {
            None => info!(target: "ttauth", %file, "no stored session"),
            Some(f) => info!(
                target: "ttauth",
                %file,
                generation = f.generation,
                account = %show_account(f.account),
                token = %describe_left(f.token_left),
                refresh_token = %describe_refresh(f.refresh),
                "stored session found"
            ),
        }
        self.seen().stored = Some(facts);
    }

    /// An account switch starts (or ends, with `None`): a login meanwhile is the switch.
    pub(crate) fn switching(&self, to: Option<AccountId>) {
        if let Some(account) = to {
            info!(target: "ttauth", %account, "the stored session is on another account: moving it");
        }
        self.seen().switching_to = to;
    }

    /// Tells where the token now in use came from, once the command has one.
    pub(crate) fn token_in_use(&self, snapshot: Option<&Snapshot>) {
        let seen = self.seen();
        let generation = snapshot.map_or(0, |s| s.generation().as_u64());
        if seen.logins == 0 && seen.refreshes == 0 {
            if let Some(Some(stored)) = seen.stored {
                info!(
                    target: "ttauth",
                    generation = stored.generation,
                    token = %describe_left(stored.token_left),
                    "token from the stored session: no request was needed"
                );
            }
        } else {
            let source = if seen.logins > 0 { "a login" } else { "a refresh" };
            info!(target: "ttauth", generation, "token from {source}");
        }
    }

    /// Why a request to `endpoint` is being sent, as far as ttauth can tell.
    fn before(&self, endpoint: Endpoint, method: &http::Method, path: &str) {
        let mut seen = self.seen();
        match endpoint {
            Endpoint::Login => {
                seen.logins += 1;
                let reason = login_reason(&seen);
                info!(target: "ttauth", %reason, "logging in (POST {path})");
            }
            Endpoint::Refresh => {
                seen.refreshes += 1;
                let reason = refresh_reason(&seen);
                info!(target: "ttauth", %reason, "refreshing the session (POST {path})");
            }
            Endpoint::Masquerade => {
                let account = show_account(seen.switching_to);
                info!(target: "ttauth", %account, "switching account by masquerade (POST {path})");
            }
            Endpoint::Api => debug!(target: "ttauth", "API request {method} {path}"),
        }
    }

    /// What came back.
    fn after(
        &self,
        endpoint: Endpoint,
        path: &str,
        outcome: &Result<http::Response<ureq::Body>, ureq::Error>,
        started: Instant,
    ) {
        let elapsed_ms = started.elapsed().as_millis();
        let mut seen = self.seen();
        let status = match outcome {
            Ok(response) => response.status().as_u16(),
            Err(error) => {
                warn!(target: "ttauth", %error, elapsed_ms, "{path}: no answer");
                return;
            }
        };
        match endpoint {
            Endpoint::Api => {
                if matches!(status, 401 | 403) {
                    seen.api_rejected = Some(status);
                }
                debug!(target: "ttauth", status, elapsed_ms, "API answered {path}");
            }
            Endpoint::Refresh if (400..500).contains(&status) && !matches!(status, 429) => {
                seen.refresh_refused = Some(status);
                info!(target: "ttauth", status, elapsed_ms, "the server refused the refresh token");
            }
            _ => info!(target: "ttauth", status, elapsed_ms, "{path} answered"),
        }
    }

    fn endpoint(&self, method: &http::Method, path: &str) -> Endpoint {
        let seen = self.seen();
        match (method == http::Method::POST, path) {
            (true, p) if p == seen.login_path => Endpoint::Login,
            (true, p) if p == seen.refresh_path => Endpoint::Refresh,
            (true, p) if p == seen.masquerade_path => Endpoint::Masquerade,
            _ => Endpoint::Api,
        }
    }
}

impl Middleware for Observer {
    fn handle(
        &self,
        request: http::Request<ureq::SendBody>,
        next: MiddlewareNext,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        // The path only: a query may hold what the user would rather not see in a log.
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let endpoint = self.endpoint(&method, &path);
        self.before(endpoint, &method, &path);
        let started = Instant::now();
        let outcome = next.handle(request);
        self.after(endpoint, &path, &outcome, started);
        outcome
    }
}

/// Why a login is being sent (SPEC §3: a rejected or expired refresh token falls back to a
/// login when the password is known).
fn login_reason(seen: &Seen) -> String {
    if let Some(status) = seen.refresh_refused {
        return format!("the server refused the refresh token (HTTP {status}): logging in again with the password");
    }
    if let Some(account) = seen.switching_to {
        return format!("moving the session to account {account} (relogin with account_id)");
    }
    match seen.stored {
        None => "no session store (--no-state): every run logs in".to_owned(),
        Some(None) => "no stored session".to_owned(),
        Some(Some(stored)) => match stored.refresh {
            RefreshFacts::Absent => "the stored session has no unspent refresh token".to_owned(),
            RefreshFacts::Expired { .. } => {
                "the stored refresh token has expired (by the client's estimate)".to_owned()
            }
            RefreshFacts::Usable { .. } if seen.api_rejected.is_some() => {
                "the API refused the token and the session could not be refreshed".to_owned()
            }
            RefreshFacts::Usable { .. } => "the stored session could not be continued".to_owned(),
        },
    }
}

/// Why a refresh is being sent.
fn refresh_reason(seen: &Seen) -> String {
    if let Some(status) = seen.api_rejected {
        return format!("the API refused the token (HTTP {status})");
    }
    match seen.stored {
        Some(Some(stored)) if stored.token_left <= 0 => {
            "the stored token has expired (by the client's estimate)".to_owned()
        }
        _ => "the token is due for a refresh (it is in its refresh window)".to_owned(),
    }
}

fn show_account(account: Option<AccountId>) -> String {
    account.map_or_else(|| "the user's default".to_owned(), |a| a.to_string())
}

/// `valid for 59 min 58 s` or `expired 3 min 0 s ago`.
pub(crate) fn describe_left(seconds: i64) -> String {
    if seconds > 0 { format!("valid for {}", span(seconds)) } else { format!("expired {} ago", span(-seconds)) }
}

fn describe_refresh(refresh: RefreshFacts) -> String {
    match refresh {
        RefreshFacts::Absent => "none (spent or never issued)".to_owned(),
        RefreshFacts::Expired { seconds } => format!("expired {} ago", span(seconds)),
        RefreshFacts::Usable { seconds: Some(seconds) } => format!("valid for {}", span(seconds)),
        RefreshFacts::Usable { seconds: None } => "valid (no expiry given)".to_owned(),
    }
}

/// A duration in whole seconds, as a person reads it: `45 s`, `3 min 20 s`, `2 h 5 min`,
/// `28 d 23 h`.
pub(crate) fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec} s"),
        (0, 0, _) => format!("{m} min {sec} s"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_a_person_writes_them() {
        assert_eq!(span(45), "45 s");
        assert_eq!(span(200), "3 min 20 s");
        assert_eq!(span(7500), "2 h 5 min");
        assert_eq!(span(29 * 86_400 - 3600), "28 d 23 h");
        assert_eq!(describe_left(-180), "expired 3 min 0 s ago");
    }

    #[test]
    fn endpoints_are_recognized_under_the_base_path() {
        let observer = Observer::new("https://api.example/v1/", "/auth/masquerade");
        assert_eq!(observer.endpoint(&http::Method::POST, "/v1/auth/login"), Endpoint::Login);
        assert_eq!(observer.endpoint(&http::Method::POST, "/v1/auth/refresh"), Endpoint::Refresh);
        assert_eq!(observer.endpoint(&http::Method::POST, "/v1/auth/masquerade"), Endpoint::Masquerade);
        assert_eq!(observer.endpoint(&http::Method::GET, "/v1/auth/login"), Endpoint::Api);
        assert_eq!(observer.endpoint(&http::Method::POST, "/v1/calls"), Endpoint::Api);
    }
}
