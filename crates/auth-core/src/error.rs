//! What can go wrong, as data: adapters match on variants, never on strings.
//!
//! Every variant says what happened and what to do. None of them carries a secret: server
//! messages are trimmed, stripped of control characters and scrubbed of the session's own
//! secrets before they are stored (see [`ServerError`]).

use std::fmt;

use http::StatusCode;
use time::OffsetDateTime;

/// An authentication failure reported by a [`Session`](crate::Session).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The server rejected the username or password (a failed login). Final: the library never
    /// retries a rejected login; fix the credentials and build a new session.
    #[error("the server rejected the credentials: {0}")]
    CredentialsRejected(ServerError),
    /// The refresh token was rejected or has expired and the session holds no password to log
    /// in again. Log in again with a password.
    #[error("the session has expired and no password is available to log in again")]
    SessionExpired,
    /// The last auth request failed for a cause that may pass (transport error, 5xx, 429,
    /// a malformed answer, no answer). No usable token is available until `retry_at`, when the
    /// session tries again by itself.
    #[error("authentication is temporarily unavailable ({cause}); retrying at {retry_at}")]
    Unavailable {
        /// Why the last attempt failed.
        cause: TransientCause,
        /// When the session will try again.
        retry_at: OffsetDateTime,
    },
    /// The server keeps issuing tokens that are stale on arrival (a tiny or zero
    /// `tokenLifetime`); the session stopped asking for more until `retry_at` rather than loop.
    #[error(
        "the server issued {count} tokens in a row that were unusable on arrival (lifetime {lifetime_secs} s); retrying at {retry_at}"
    )]
    UnusableTokenLifetime {
        /// How many such tokens arrived in a row.
        count: u32,
        /// The last token's `tokenLifetime`.
        lifetime_secs: u64,
        /// When the session will try again.
        retry_at: OffsetDateTime,
    },
    /// An Integrator request carried no `account_id` and none is pinned (SPEC.md §1). Nothing
    /// was sent. Add `account_id` to the query string or pin an account.
    #[error("Integrator requests must carry an account_id; none is pinned and the request has none")]
    AccountRequired,
    /// The request's origin is not the configured API origin, so no credentials were attached.
    #[error("refusing to send credentials to an origin other than the configured API")]
    ForeignOrigin,
    /// The request names an account other than the pinned one, in any of its `account_id`
    /// parameters (also `account%5Fid`, and `ACCOUNT_ID`, which a server may take for it).
    /// Nothing was sent. Remove the parameter, or pin that account.
    #[error("the request names account {requested}, but the session is pinned to account {pinned}")]
    AccountConflict {
        /// The account in the request's query string.
        requested: String,
        /// The pinned account.
        pinned: crate::AccountId,
    },
    /// The request carries `account_id` parameters naming different accounts and no account
    /// is pinned: which one the server would act on is undocumented (SPEC.md §1). Nothing was
    /// sent. Name the account once.
    #[error("the request names two accounts ({first} and {second}); name exactly one")]
    AccountAmbiguous {
        /// The first account in the request's query string.
        first: String,
        /// Another account in it, which differs from the first.
        second: String,
    },
    /// The server refused to switch the session to the requested account. The session stays on
    /// its previous account.
    #[error("the server refused the account switch: {0}")]
    AccountSwitchRejected(ServerError),
    /// Another caller switched the session to another account after this caller asked for
    /// `requested`, and that switch is the one in force: this caller's switch will not happen.
    /// Or the switch happened, but before this caller heard of it the session adopted the one
    /// another client sharing its store had saved, on another account. Nothing ran on an
    /// account this caller was not told about. Switch again if `requested` is still wanted.
    #[error(
        "the switch to account {requested} was superseded (by a later switch, or by the session another client \
         sharing the store saved); {}",
        in_force_text(*in_force)
    )]
    SwitchSuperseded {
        /// The account this caller asked for.
        requested: crate::AccountId,
        /// The account the session is on now (`None`: the user's default account).
        in_force: Option<crate::AccountId>,
    },
    /// The request was meant for account `expected`, but the session is on another account
    /// (someone switched it). Nothing was sent. Switch back, or send it for the account in
    /// force.
    #[error("the request is for account {expected}, but {}: nothing was sent", in_force_text(*in_force))]
    AccountChanged {
        /// The account the caller expected the request to act on.
        expected: crate::AccountId,
        /// The account the session is on now (`None`: the user's default account).
        in_force: Option<crate::AccountId>,
    },
    /// Switching accounts by relogin needs the password, which this session does not hold.
    #[error("switching accounts by logging in again needs the password, which this session does not hold")]
    PasswordRequired,
    /// RealTime and bearer tokens need a bearer session (SPEC.md §1, §6): Basic and Integrator
    /// cannot authenticate a RealTime connection.
    #[error("this needs a bearer session: the RealTime API accepts only bearer tokens")]
    RequiresBearer,
    /// Account switching needs a bearer session.
    #[error("only a bearer session can switch accounts; Basic and Integrator name the account per request")]
    SwitchRequiresBearer,
}

fn in_force_text(account: Option<crate::AccountId>) -> String {
    account.map_or_else(
        || "the session is on the user's default account".to_owned(),
        |a| format!("the session is on account {a}"),
    )
}

impl AuthError {
    /// Whether the session will recover by itself (the error names a time to retry).
    pub fn is_transient(&self) -> bool {
        self.retry_at().is_some()
    }

    /// When the session will try again, for transient errors.
    pub fn retry_at(&self) -> Option<OffsetDateTime> {
        match self {
            AuthError::Unavailable { retry_at, .. } | AuthError::UnusableTokenLifetime { retry_at, .. } => {
                Some(*retry_at)
            }
            _ => None,
        }
    }
}

/// Why an auth request failed transiently.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransientCause {
    /// The transport failed (connection refused or dropped, TLS error, ...).
    #[error("transport error")]
    Transport,
    /// No answer arrived within the policy's `auth_timeout`.
    #[error("no answer in time")]
    Timeout,
    /// The server answered with a 5xx status.
    #[error("server error: {0}")]
    Server(ServerError),
    /// The server asked us to slow down (429, or 503 with `Retry-After`).
    #[error("rate limited: {0}")]
    RateLimited(ServerError),
    /// The answer could not be understood.
    #[error("malformed response: {0}")]
    Malformed(Malformed),
}

/// Why a response body could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// The body is larger than [`MAX_AUTH_BODY`](crate::MAX_AUTH_BODY); it was not parsed.
    #[error("body of {len} bytes exceeds the limit")]
    TooLarge {
        /// The body's length.
        len: usize,
    },
    /// The body is not a JSON object.
    #[error("body is not a JSON object (HTTP {status})")]
    NotJson {
        /// The response status.
        status: u16,
    },
    /// A required field is missing.
    #[error("field `{0}` is missing")]
    MissingField(&'static str),
    /// A field has the wrong type or an unusable value.
    #[error("field `{0}` is invalid")]
    InvalidField(&'static str),
}

/// A failure answer from the server: the status and what the body said, trimmed and redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerError {
    pub(crate) status: StatusCode,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

impl ServerError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code from `error`/`code`/`error_code`, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// A short excerpt of the human-readable explanation, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}
