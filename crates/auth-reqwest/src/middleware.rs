//! [`AuthMiddleware`]: a [`Client`]'s session applied to the requests of your own
//! `reqwest_middleware` stack.

use auth_core::ApiVerdict;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::client::{Client, api_uri, apply, redirected};
use crate::shared::Outstanding;

/// A [`reqwest_middleware::Middleware`] that authenticates the requests of a
/// [`ClientWithMiddleware`](reqwest_middleware::ClientWithMiddleware) you built, with the
/// session of the [`Client`] it came from ([`Client::middleware`]): the same tokens, the same
/// single-flight refresh, the same store.
///
/// For each request whose origin is the configured API origin it authorizes the request
/// (waiting for or driving a login/refresh through the *client's* `reqwest::Client`), passes it
/// down the chain with the `Authorization` header and the pinned `account_id`, reports the
/// status to the session, and retries a 401/403 once — down the chain again — when
/// [`Request::try_clone`] succeeds (not for a streamed body). Requests to any other origin pass
/// through untouched, without credentials. If the session cannot authorize a request, the error
/// is [`reqwest_middleware::Error::Middleware`] holding a [`crate::Error`].
///
/// Redirects are followed by the `reqwest::Client` at the bottom of your stack; reqwest removes
/// `Authorization` on a redirect to another origin whatever its policy.
///
/// ```no_run
/// # async fn demo(client: auth_reqwest::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(client.middleware())
///     .build();
/// let response = stack.get("https://api.teletracker.net/reports/call-data").send().await?;
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
        let shared = &self.client.shared;
        let Some(uri) = api_uri(shared, request.url()) else {
            return next.run(request, extensions).await;
        };
        let retry = request.try_clone();

        let credential = self.client.authorize(&uri).await.map_err(other)?;
        let report = Outstanding::new(shared, &credential);
        let mut first = request;
        apply(&credential, &mut first);
        let sent = first.url().clone();
        let outcome = next.clone().run(first, extensions).await;
        let verdict = judge(report, &outcome, &sent);
        let Some(mut retry) = retry.filter(|_| verdict == ApiVerdict::RetryOnce) else {
            shared.refresh_if_due().await;
            return outcome;
        };

        // The one retry, with a freshly authorized header, down the chain again.
        drop(outcome);
        let credential = self.client.authorize(&uri).await.map_err(other)?;
        let report = Outstanding::new(shared, &credential).for_retry();
        apply(&credential, &mut retry);
        let sent = retry.url().clone();
        let outcome = next.run(retry, extensions).await;
        let _ = judge(report, &outcome, &sent);
        shared.refresh_if_due().await;
        outcome
    }
}

/// Reports an outcome to the session and returns its verdict.
fn judge(report: Outstanding<'_>, outcome: &reqwest_middleware::Result<Response>, sent: &reqwest::Url) -> ApiVerdict {
    match outcome {
        Ok(response) => report.response(response.status(), redirected(response, sent)),
        // No answer to judge the token by: `report` drops and releases the credential.
        Err(_) => ApiVerdict::Accept,
    }
}

fn other(error: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(error)
}
