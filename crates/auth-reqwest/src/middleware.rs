//! [`AuthMiddleware`]: a [`Client`]'s session applied to the requests of your own
//! `reqwest_middleware` stack.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use auth_core::AuthError;

use crate::client::{Attempt, Client, parts, replayable};

/// A [`reqwest_middleware::Middleware`] that authenticates the requests of a
/// [`ClientWithMiddleware`](reqwest_middleware::ClientWithMiddleware) you built, with the
/// session of the [`Client`] it came from ([`Client::middleware`]): the same tokens, the same
/// single-flight refresh, the same store.
///
/// For each request whose origin is the configured API origin it authorizes the request
/// (waiting for or driving a login/refresh through the *client's* `reqwest::Client`), passes it
/// down the chain with the `Authorization` header and the pinned `account_id`, reports the
/// status to the session, and retries a 401/403 once — down the chain again — when the body is
/// in memory ([`reqwest::Body::as_bytes`]; not a stream). Requests to any other origin pass
/// through untouched, without credentials. If the session cannot authorize a request, the error
/// is [`reqwest_middleware::Error::Middleware`] holding a [`crate::Error`].
///
/// Redirects are followed by the `reqwest::Client` at the bottom of your stack; reqwest removes
/// `Authorization` on a redirect to another origin whatever its policy.
///
/// Start the stack from a `reqwest::Client` that has a TLS set-up: the client's own
/// ([`Client::http_client`]) or one from [`http_client_builder`](crate::http_client_builder).
/// A bare `reqwest::Client::new()` panics ("No rustls crypto provider is configured") when
/// reqwest comes only through this crate, which installs no process-wide provider.
///
/// ```
/// use auth_reqwest::{Client, Config, Password, reqwest_middleware};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let emulator = auth_emulator::Emulator::start(); // the doc test's own TeleTracker
/// # let api = emulator.url();
/// let config = Config::bearer(&api, "alice", Password::new("alice-password")).build()?;
/// let client = Client::builder(config).build().await?;
/// let stack = reqwest_middleware::ClientBuilder::new(client.http_client().clone())
///     .with(client.middleware())
///     .build();
/// let response = stack.get(format!("{api}/reports/call-data")).send().await?;
/// assert_eq!(response.status(), 200);
/// # assert_eq!(emulator.logins_served(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    client: Client,
}

impl AuthMiddleware {
    pub(crate) fn new(client: Client) -> Self {
        AuthMiddleware { client }
    }

    /// The client whose session this middleware uses.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let gate = self.client.gate().request(&parts(request.url()), replayable(request.body()), self.client.expect);
        let call = match gate {
            Err(AuthError::ForeignOrigin) => return next.run(request, extensions).await,
            Err(error) => return Err(reqwest_middleware::Error::middleware(crate::Error::from(error))),
            Ok(call) => call,
        };
        // Every attempt (the resend too) goes down the chain.
        let chain = Chain { next, extensions };
        self.client
            .run(call, request, chain)
            .await
            .unwrap_or_else(|error| Err(reqwest_middleware::Error::middleware(error)))
    }
}

/// Down the rest of the user's middleware chain.
struct Chain<'a, 'e> {
    next: Next<'a>,
    extensions: &'e mut Extensions,
}

impl Attempt for Chain<'_, '_> {
    type Error = reqwest_middleware::Error;

    fn send(&mut self, request: Request) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send {
        self.next.clone().run(request, self.extensions)
    }
}
