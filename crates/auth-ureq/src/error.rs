//! The one error type of the adapter.

/// Why [`Client`](crate::Client) could not produce a response, a token or a client: the
/// drivers' shared [`auth_driver::Error`], with ureq's errors as
/// [`Transport`](auth_driver::Error::Transport) (they describe the connection, never the
/// request's headers or body).
///
/// Through [`AuthMiddleware`](crate::AuthMiddleware) this error arrives as
/// [`ureq::Error::Other`]; `downcast_ref::<auth_ureq::Error>()` gets it back.
pub type Error = auth_driver::Error<ureq::Error>;
