//! Behaviour knobs: settable on the builder and, while running, on the handle.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;

use crate::endpoint::Endpoint;
use crate::sessions::Lifetimes;

/// The status for a bearer token that is expired, superseded, revoked or unknown.
/// SPEC §2: the docs name both 401 and 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpiredTokenStatus {
    /// 401 Unauthorized (the default).
    #[default]
    Unauthorized,
    /// 403 Forbidden.
    Forbidden,
}

impl ExpiredTokenStatus {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
        }
    }

    pub(crate) fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
        }
    }
}

/// What a successful masquerade answers (SPEC §4 leaves it open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MasqueradeMode {
    /// Rebind the session, keep the tokens, answer `{"success":true,"account_id":N}` (default).
    #[default]
    Rebind,
    /// Rebind the session and issue a fresh token pair (same fields as login, plus
    /// `account_id`); the old token and the old refresh token die.
    IssueTokens,
}

/// How a bearer API request's `account_id` parameter is treated (SPEC §2: a token is bound to
/// exactly one account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BearerAccountParam {
    /// If present it must equal the session's account, else 403 `account_mismatch` (default:
    /// it makes a request racing an account switch visible).
    #[default]
    MustMatch,
    /// It is ignored; the session's account is used.
    Ignore,
}

/// All runtime knobs.
#[derive(Debug, Clone)]
pub(crate) struct Knobs {
    pub(crate) token_lifetime: Duration,
    pub(crate) refresh_token_lifetime: Duration,
    pub(crate) expired_status: ExpiredTokenStatus,
    pub(crate) latency: Duration,
    pub(crate) endpoint_latency: HashMap<Endpoint, Duration>,
    pub(crate) masquerade_mode: MasqueradeMode,
    pub(crate) bearer_account_param: BearerAccountParam,
    pub(crate) revoke_on_refresh_reuse: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
            expired_status: ExpiredTokenStatus::default(),
            latency: Duration::ZERO,
            endpoint_latency: HashMap::new(),
            masquerade_mode: MasqueradeMode::default(),
            bearer_account_param: BearerAccountParam::default(),
            revoke_on_refresh_reuse: false,
        }
    }
}

/// Default bearer token lifetime: one hour, as in the vendor's example (SPEC §2).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Default refresh-token lifetime: 29 days, as the vendor's examples suggest (SPEC §3).
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(29 * 24 * 3600);

impl Knobs {
    pub(crate) fn lifetimes(&self) -> Lifetimes {
        Lifetimes { token: self.token_lifetime, refresh: self.refresh_token_lifetime }
    }

    /// The delay added to a request of `endpoint`: the per-endpoint value if set, else the
    /// global one.
    pub(crate) fn latency_for(&self, endpoint: Endpoint) -> Duration {
        self.endpoint_latency.get(&endpoint).copied().unwrap_or(self.latency)
    }
}
