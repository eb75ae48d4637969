//! Checking credentials without starting a session: login with `auth_only=1` (SPEC.md §2).
//!
//! The server verifies the username and password and returns no tokens. Useful for a
//! "test connection" button or a CLI's `login --check`.
//!
//! ```
//! use auth_core::{verify, Config, Password};
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build()?;
//! let request = verify::request(&config)?;
//! assert_eq!(request.uri().path(), "/auth/login");
//! // ... send it, then:
//! let answer = http::Response::new(br#"{"success":true}"#.to_vec());
//! verify::handle_response(&config, &answer, time::OffsetDateTime::UNIX_EPOCH)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::{Request, Response};
use time::OffsetDateTime;

use crate::clock::later;
use crate::config::{Config, ConfigError};
use crate::error::{AuthError, TransientCause};
use crate::scrub::Scrubber;
use crate::secret::Password;
use crate::wire::{self, Failure};

/// The `auth_only` login request for `config`'s credentials (with its pinned account, if
/// any). Its body holds the password: do not log it.
pub fn request(config: &Config) -> Result<Request<Vec<u8>>, ConfigError> {
    let password = config.password.as_ref().ok_or(ConfigError::NoPasswordToLogIn)?;
    Ok(wire::login_request(config.base.join("/auth/login"), &config.username, password, config.account, true))
}

/// Interprets the answer to [`request`]`(config)`: `Ok(())` when the credentials are valid.
///
/// `config` is the one the request was built from: a server that repeats the password in its
/// refusal (raw, JSON-escaped, URL-encoded, or as the base64 of `user:password`) must not put
/// it into the error, so the error's excerpt of the answer is scrubbed of it (SPEC.md §5).
pub fn handle_response<B: AsRef<[u8]>>(
    config: &Config,
    response: &Response<B>,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let password = config.password.as_ref().map(Password::expose_secret);
    let scrub = |text: &str| Scrubber::new().credentials(&config.username, password).scrub(text);
    match wire::classify(response.status(), response.headers(), response.body().as_ref(), now, &scrub) {
        Ok(_) => Ok(()),
        Err(Failure::Rejected(error)) => Err(AuthError::CredentialsRejected(error)),
        Err(Failure::Server(error)) => Err(unavailable(TransientCause::Server(error), None, now)),
        Err(Failure::RateLimited { error, retry_after }) => {
            Err(unavailable(TransientCause::RateLimited(error), retry_after, now))
        }
        Err(Failure::Malformed(malformed)) => Err(unavailable(TransientCause::Malformed(malformed), None, now)),
    }
}

fn unavailable(cause: TransientCause, retry_after: Option<std::time::Duration>, now: OffsetDateTime) -> AuthError {
    AuthError::Unavailable { cause, retry_at: later(now, retry_after.unwrap_or_default()) }
}
