//! [`Error`]: the one error type of every driver, generic over the HTTP stack's error.

use auth_core::{AuthError, ConfigError, RestoreError};
use auth_store::StoreError;

/// Why a driver (an adapter's `Client`) could not produce a response, a token or a client. Each
/// adapter names it `Error`, with its HTTP stack's error as `T` (`auth_ureq::Error` is
/// `auth_driver::Error<ureq::Error>`, `auth_reqwest::Error` is
/// `auth_driver::Error<reqwest::Error>`).
///
/// Every HTTP status the API answers with — including 401, 403 and 5xx — is a successful
/// `Ok(response)`: the caller decides what a status means. `Error` is only for what is
/// not a response: the transport failed, the session cannot authenticate, the store failed where
/// it matters, or the configuration is unusable.
///
/// No variant ever contains a password or a token: the core's errors are redacted at the
/// source, store errors name the file but never its content, and the HTTP stacks' errors
/// describe the URL and the connection, never the request's headers or body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<T> {
    /// Sending the API request or receiving its response head failed (connection refused or
    /// dropped, TLS, timeout, bad URI), or the HTTP stack could not build the request or its
    /// default client. Nothing is known about what the server did.
    #[error("transport error: {0}")]
    Transport(#[source] T),
    /// The session cannot authorize the request: rejected credentials, an expired session,
    /// an auth server that is temporarily unavailable (see [`AuthError::retry_at`]), a request
    /// to a foreign origin, an Integrator request without an account, or a bearer-only
    /// operation under Basic/Integrator. Nothing was sent to the API.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The session store failed where it matters: loading it while building the client, or
    /// taking its lock before an auth exchange (sending a refresh without the lock could spend a
    /// refresh token another process also holds). A failed *save* is not an error: see the
    /// client's `last_store_error`.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration cannot start a session (e.g. a bearer session without a password and
    /// nothing in the store to continue from).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store holds a session this configuration cannot continue (another user's). Point
    /// the client at another file, or delete this one.
    #[error("the stored session cannot be used: {0}")]
    Restore(#[from] RestoreError),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_core::{Config, Password};

    use super::*;

    type E = Error<std::io::Error>;

    #[test]
    fn the_core_and_store_errors_convert_and_keep_their_messages() {
        let config: Result<Config, E> = Config::bearer("not a url", "u", Password::new("p")).build().map_err(E::from);
        assert!(matches!(config, Err(Error::Config(_))));

        let busy = StoreError::Busy { path: "s.json".into(), waited: Duration::from_secs(2) };
        let message = busy.to_string();
        assert_eq!(E::from(busy).to_string(), message, "a store error reads the same inside");
    }

    #[test]
    fn a_transport_error_says_so_and_keeps_its_source() {
        let err = E::Transport(std::io::Error::other("connection refused"));
        assert_eq!(err.to_string(), "transport error: connection refused");
        assert!(std::error::Error::source(&err).is_some());
    }
}
