//! [`AuthMiddleware`]: a [`Client`]'s session applied to the requests of your own ureq agent.

use std::io::{self, Read};

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderValue, Method, Request, Response};
use ureq::config::RedirectAuthHeaders;
use ureq::middleware::{Middleware, MiddlewareNext};
use ureq::{Body, RequestExt, SendBody};

use auth_core::Call;

use auth_driver::{Sending, uri_identity};

use crate::client::{Client, copy_of};

/// How many body bytes the middleware keeps in memory to be able to retry a request
/// (64 KiB). Larger bodies are streamed through once and never retried.
pub const DEFAULT_REPLAY_LIMIT: usize = 64 * 1024;

/// A [`ureq::middleware::Middleware`] that authenticates the requests of an agent you built,
/// with the session of the [`Client`] it came from ([`Client::middleware`]): the same tokens,
/// the same single-flight refresh, the same store.
///
/// For each request whose origin is the configured API origin it authorizes the request
/// (waiting for or driving a login/refresh through the *client's* agent), sends it down the
/// chain with the `Authorization` header and the pinned `account_id`, reports the status to
/// the session, and retries a 401/403 once. Requests to any other origin pass through
/// untouched, without credentials. If the session cannot authorize a request, the error is
/// [`ureq::Error::Other`] holding a [`crate::Error`].
///
/// It also forces, for the requests it authorizes, `RedirectAuthHeaders::Never` (a redirect
/// never carries `Authorization`) whatever your agent says.
///
/// # Limits, honestly
///
/// - **The body is buffered to be replayable.** ureq hands a middleware a one-shot
///   [`SendBody`]; the middleware reads up to [`replay_limit`](Self::replay_limit) bytes of it
///   (default [`DEFAULT_REPLAY_LIMIT`]). A body that fits is sent from memory, with a
///   `Content-Length`, and can be retried. A larger one is streamed through once, chunked
///   unless you set `Content-Length` yourself, and a 401/403 for it is returned as is.
/// - **The retry does not go down your chain.** ureq's `MiddlewareNext` can be used only
///   once, so the retry is sent by the client's own agent (its pool, TLS and timeouts), not
///   through the middlewares after this one nor with your agent's settings. Give the client
///   an agent configured like yours ([`ClientBuilder::http`](auth_driver::ClientBuilder::http))
///   if that matters.
/// - **`http_status_as_error`.** If your agent turns statuses into errors, a 401/403 arrives
///   here as `Error::StatusCode` without its response; it is judged all the same, and the
///   retry keeps that setting. Without the response, a redirect cannot be told apart, so a
///   401/403 from a redirect target would be taken as a verdict on the token (one needless
///   refresh, never a leak).
///
/// ```
/// use auth_ureq::{Client, Config, Password, ureq};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = auth_emulator::Emulator::start(); // the doc test's own TeleTracker
/// # let api = emulator.url();
/// let client = Client::builder(Config::bearer(&api, "alice", Password::new("alice-password")).build()?).build()?;
/// // Your agent, with its own settings, authenticating through the client's session.
/// let agent: ureq::Agent = ureq::Agent::config_builder()
///     .timeout_global(Some(std::time::Duration::from_secs(30)))
///     .middleware(client.middleware())
///     .build()
///     .into();
/// let response = agent.get(format!("{api}/reports/call-data")).call()?;
/// assert_eq!(response.status(), 200);
/// # assert_eq!(emulator.logins_served(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    client: Client,
    replay_limit: usize,
}

impl AuthMiddleware {
    pub(crate) fn new(client: Client) -> Self {
        AuthMiddleware { client, replay_limit: DEFAULT_REPLAY_LIMIT }
    }

    /// How many body bytes to buffer so the request can be retried; bodies up to this size
    /// are replayable, larger ones are streamed once.
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.replay_limit = bytes;
        self
    }

    /// The client whose session this middleware uses.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Middleware for AuthMiddleware {
    fn handle(&self, request: Request<SendBody>, next: MiddlewareNext) -> Result<Response<Body>, ureq::Error> {
        let client = &self.client;
        if Sending::is(uri_identity(request.uri())) || !client.is_api_origin(request.uri()) {
            return next.handle(request);
        }

        let (parts, body) = request.into_parts();
        let template = Request::from_parts(parts, ());
        let mut reader = body.into_reader();
        let mut buffered = Vec::new();
        let limit = u64::try_from(self.replay_limit).unwrap_or(u64::MAX);
        (&mut reader).take(limit.saturating_add(1)).read_to_end(&mut buffered)?;
        let replayable = buffered.len() <= self.replay_limit;

        let mut first = Some((next, reader));
        let mut status_as_error = false;
        let call = Call::request(template.uri().clone(), replayable, client.expect);
        let outcome = client.run(call, template, replayable, |mut request| match first.take() {
            // The first attempt: down the chain, through the user's agent, whose settings hold
            // except that a redirect must not carry our header.
            Some((next, reader)) => {
                if let Some(config) = copy_of(&request).middleware_config() {
                    request = config.redirect_auth_headers(RedirectAuthHeaders::Never).build();
                }
                let outcome = if !replayable {
                    let mut rest = io::Cursor::new(&buffered[..]).chain(reader);
                    next.handle(request.map(|()| SendBody::from_reader(&mut rest)))
                } else if buffered.is_empty() {
                    frame(&mut request, 0);
                    next.handle(request.map(|()| SendBody::none()))
                } else {
                    frame(&mut request, buffered.len());
                    let mut cursor = io::Cursor::new(&buffered[..]);
                    next.handle(request.map(|()| SendBody::from_reader(&mut cursor)))
                };
                status_as_error = matches!(outcome, Err(ureq::Error::StatusCode(_)));
                outcome
            }
            // The one resend (`MiddlewareNext` is spent): through the client's agent.
            None => {
                frame(&mut request, buffered.len());
                match buffered.is_empty() {
                    true => client.dispatch(request, status_as_error),
                    false => client.dispatch(request.map(|()| &buffered[..]), status_as_error),
                }
            }
        });
        outcome.unwrap_or_else(|error| Err(ureq::Error::Other(Box::new(error))))
    }
}

/// Sets `Content-Length` for a body sent from memory, unless the caller framed it already.
/// An empty body gets one only for methods that normally carry a body.
fn frame(request: &mut Request<()>, len: usize) {
    let headers = request.headers();
    if headers.contains_key(CONTENT_LENGTH) || headers.contains_key(TRANSFER_ENCODING) {
        return;
    }
    let carries_body = matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH);
    if len > 0 || carries_body {
        request.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(method: Method, len: usize, preset: Option<(&'static str, &'static str)>) -> Option<String> {
        let mut request = Request::builder().method(method);
        if let Some((name, value)) = preset {
            request = request.header(name, value);
        }
        let mut request = request.body(()).unwrap();
        frame(&mut request, len);
        request.headers().get(CONTENT_LENGTH).map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn a_buffered_body_gets_its_length_unless_the_caller_framed_it() {
        assert_eq!(framed(Method::POST, 12, None).as_deref(), Some("12"));
        assert_eq!(framed(Method::POST, 0, None).as_deref(), Some("0"));
        assert_eq!(framed(Method::GET, 0, None), None, "a GET without body stays without");
        assert_eq!(framed(Method::GET, 3, None).as_deref(), Some("3"));
        assert_eq!(framed(Method::PUT, 5, Some(("content-length", "5"))).as_deref(), Some("5"));
        assert_eq!(framed(Method::POST, 5, Some(("transfer-encoding", "chunked"))), None);
    }
}
