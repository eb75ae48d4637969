//! Exit statuses a script can rely on, and the one-line failure messages behind them.

use std::fmt;
use std::process::ExitCode;

use auth_core::{AuthError, TransientCause};

/// How a command ended. [`Exit::code`] is the process exit status.
///
/// | status | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | another failure: a demo step did not behave as expected, the session store failed, the RealTime server broke the protocol, stdout could not be written; `status`: no session that can continue without the password |
/// | 2 | usage or configuration error (bad flag, a value out of range such as `--timeout 0`, an option given to a subcommand it does not act in, missing username or password, `:` in a Basic user-id, an Integrator request without an account, RealTime under Basic) — nothing was sent |
/// | 3 | the API answered with a status other than 2xx (the body is still printed) |
/// | 4 | authentication failed: credentials rejected, session expired, account switch or stream refused, RealTime token refused |
/// | 5 | transport failure (connection refused, DNS, TLS, timeout — for `realtime`, a connection not set up within `--timeout`) or the auth server is temporarily unavailable (5xx, 429): retrying later may help |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0.
    Success,
    /// 1.
    Failure,
    /// 2.
    Usage,
    /// 3.
    HttpStatus,
    /// 4.
    Auth,
    /// 5.
    Transport,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::HttpStatus => 3,
            Exit::Auth => 4,
            Exit::Transport => 5,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// A command's failure: the exit status and a one-line message for stderr.
///
/// Messages are built from the libraries' `Display` implementations, which never contain a
/// password or a token, and from what the user typed; [`crate::run`] additionally scrubs the
/// password before writing, as a second line of defence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit status.
    pub exit: Exit,
    /// What went wrong, on one line.
    pub message: String,
}

impl Failure {
    /// A failure with this status and message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure { exit, message: message.into() }
    }

    /// A usage or configuration error (2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Exit::Usage, message)
    }

    /// Another failure (1).
    pub fn other(message: impl Into<String>) -> Self {
        Failure::new(Exit::Failure, message)
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<auth_ureq::Error> for Failure {
    fn from(error: auth_ureq::Error) -> Self {
        match error {
            auth_ureq::Error::Transport(e) => Failure::new(Exit::Transport, format!("transport error: {e}")),
            auth_ureq::Error::Auth(e) => e.into(),
            auth_ureq::Error::Config(e) => Failure::usage(format!("configuration: {e}")),
            auth_ureq::Error::Restore(e) => {
                Failure::usage(format!("the session file cannot be continued with this configuration: {e}"))
            }
            auth_ureq::Error::Store(e) => Failure::other(e.to_string()),
            other => Failure::other(other.to_string()),
        }
    }
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        let exit = match &error {
            AuthError::CredentialsRejected(_) | AuthError::SessionExpired | AuthError::AccountSwitchRejected(_) => {
                Exit::Auth
            }
            AuthError::Unavailable { cause, .. } => {
                // The CLI does not wait for the session's retry time: say what failed, not
                // when the library would have tried again.
                let what = match cause {
                    TransientCause::Transport | TransientCause::Timeout => "the auth server could not be reached",
                    _ => "the auth server is temporarily unavailable",
                };
                return Failure::new(Exit::Transport, format!("{what} ({cause}); try again later"));
            }
            AuthError::UnusableTokenLifetime { .. } => Exit::Transport,
            AuthError::AccountRequired
            | AuthError::ForeignOrigin
            | AuthError::AccountConflict { .. }
            | AuthError::AccountAmbiguous { .. }
            | AuthError::PasswordRequired
            | AuthError::RequiresBearer
            | AuthError::SwitchRequiresBearer => Exit::Usage,
            _ => Exit::Auth,
        };
        Failure::new(exit, error.to_string())
    }
}

/// Shorthand for command bodies.
pub type Result<T, E = Failure> = std::result::Result<T, E>;
