//! The small interface the runner drives, one implementation per adapter.
//!
//! A driver is a client of one adapter, built against the scenario's emulator, clock and store.
//! Its methods are blocking: the async driver owns a runtime and `block_on`s each call. Errors
//! come back as a [`Failure`]: the kind the scenario compares, plus every way the adapter's
//! error can be printed, which the runner scans for secrets.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AuthError, Config, Snapshot, TransientCause};
use auth_driver::ManualClock;
use auth_store::SessionStore;
use serde_json::Value;

use crate::scenario::{Cause, ErrorKind};

/// An adapter under test: builds drivers.
pub trait Adapter: Sync {
    /// The adapter's name, as reported in failures (`ureq`, `reqwest`).
    fn name(&self) -> &'static str;

    /// Builds a client for `config` reading `clock`, persisting to `store` (loading what it
    /// holds), with a fixed jitter seed.
    fn connect(
        &self,
        config: Config,
        clock: ManualClock,
        store: Arc<dyn SessionStore>,
    ) -> Result<Box<dyn Driver>, Failure>;
}

/// An API request for [`Driver::send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// `GET` or `POST`.
    pub method: http::Method,
    /// The absolute URL.
    pub url: String,
    /// A JSON body (POST).
    pub body: Option<String>,
}

/// What the API answered.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiResponse {
    /// The status.
    pub status: u16,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

/// A value that leaves the library (a token, a RealTime first message): its text, and how it
/// prints, which must not show the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The secret text.
    pub text: String,
    /// Its `Debug` output.
    pub debug: String,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued").field("debug", &self.debug).finish_non_exhaustive()
    }
}

/// An adapter's error, reduced to what the suite compares and scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The kind the scenario expects (or not).
    pub kind: ErrorKind,
    /// `Display`, `Debug`, `{:#?}` and the `Display` of every source: must not hold a secret.
    pub shown: Vec<String>,
}

impl Failure {
    /// Reduces `error` to a kind with `classify` and records every way it prints.
    pub fn new<E: StdError>(error: &E, kind: ErrorKind) -> Self {
        let mut shown = vec![error.to_string(), format!("{error:?}"), format!("{error:#?}")];
        let mut source = error.source();
        while let Some(inner) = source {
            shown.push(inner.to_string());
            source = inner.source();
        }
        Failure { kind, shown }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.shown.first().map_or("", String::as_str))
    }
}

/// The kind of a core error.
pub fn auth_kind(error: &AuthError) -> ErrorKind {
    match error {
        AuthError::CredentialsRejected(_) => ErrorKind::CredentialsRejected,
        AuthError::SessionExpired => ErrorKind::SessionExpired,
        AuthError::Unavailable { cause, .. } => ErrorKind::Unavailable(match cause {
            TransientCause::Transport => Cause::Transport,
            TransientCause::Timeout => Cause::Timeout,
            TransientCause::Server(_) => Cause::Server,
            TransientCause::RateLimited(_) => Cause::RateLimited,
            TransientCause::Malformed(_) => Cause::Malformed,
            _ => Cause::Unknown,
        }),
        AuthError::UnusableTokenLifetime { .. } => ErrorKind::UnusableTokenLifetime,
        AuthError::AccountRequired => ErrorKind::AccountRequired,
        AuthError::ForeignOrigin => ErrorKind::ForeignOrigin,
        AuthError::AccountConflict { .. } => ErrorKind::AccountConflict,
        AuthError::AccountSwitchRejected(_) => ErrorKind::AccountSwitchRejected,
        AuthError::PasswordRequired => ErrorKind::PasswordRequired,
        AuthError::RequiresBearer => ErrorKind::RequiresBearer,
        AuthError::SwitchRequiresBearer => ErrorKind::SwitchRequiresBearer,
        AuthError::SwitchSuperseded { .. } => ErrorKind::SwitchSuperseded,
        AuthError::AccountChanged { .. } => ErrorKind::AccountChanged,
        _ => ErrorKind::Unknown,
    }
}

/// A client of one adapter, driven one blocking call at a time.
pub trait Driver {
    /// Sends an API request with credentials (`Client::send`).
    fn send(&mut self, request: ApiRequest) -> Result<ApiResponse, Failure>;

    /// Sends an API request through a handle meant for `account` only (`Client::on_account`).
    fn send_on(&mut self, account: u64, request: ApiRequest) -> Result<ApiResponse, Failure>;

    /// Sends `count` copies of `request` at once, from as many threads or tasks.
    fn send_concurrently(&mut self, request: ApiRequest, count: usize) -> Vec<Result<ApiResponse, Failure>>;

    /// A currently valid bearer token (`Client::bearer_token`).
    fn bearer_token(&mut self) -> Result<Issued, Failure>;

    /// The RealTime first message (`Client::realtime_auth`); the handshake is judged with it.
    fn realtime_auth(&mut self) -> Result<RealtimeAuthRequest, Failure>;

    /// Switches accounts (`Client::switch_account`).
    fn switch_account(&mut self, account: u64) -> Result<(), Failure>;

    /// Sends `auth_core::verify::request(config)` with the adapter's HTTP stack and judges the
    /// answer with `auth_core::verify::handle_response`.
    fn verify(&mut self, config: &Config) -> Result<(), Failure>;

    /// The session's token state (`Client::snapshot`).
    fn snapshot(&self) -> Option<Snapshot>;

    /// The client's `Debug` output.
    fn debug(&self) -> String;
}
