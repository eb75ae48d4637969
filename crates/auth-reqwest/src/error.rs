//! The one error type of the adapter.

/// Why [`Client`](crate::Client) could not produce a response, a token or a client: the
/// drivers' shared [`auth_driver::Error`], with reqwest's errors as
/// [`Transport`](auth_driver::Error::Transport) (they describe the URL and the
/// connection, never the request's headers or body; also when reqwest could not build the
/// request or the default HTTP client).
///
/// Through [`AuthMiddleware`](crate::AuthMiddleware) this error arrives as
/// [`reqwest_middleware::Error::Middleware`]; `downcast_ref::<auth_reqwest::Error>()` gets it
/// back.
pub type Error = auth_driver::Error<reqwest::Error>;
