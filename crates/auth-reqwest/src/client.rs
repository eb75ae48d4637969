//! [`Client`]: a `reqwest::Client` plus a shared session, safe to use from many tasks.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{
    AccountId, ApiVerdict, AuthError, BearerToken, Config, Credential, Scheme, Session, Snapshot, TokenState,
};
use auth_driver::coordinator;
use auth_driver::{Clock, SystemClock};
use auth_store::{SessionStore, StoreError};
use http::Uri;
use http::header::AUTHORIZATION;

use crate::error::Error;
use crate::http_client::http_client_builder;
use crate::middleware::AuthMiddleware;
use crate::shared::{Outstanding, Shared, StaleToken};

/// A TeleTracker API client: a [`reqwest::Client`] and one authentication session shared by
/// all clones (cheap: an `Arc` inside), across tasks and threads.
///
/// Build it with [`Client::builder`]. See the [crate docs](crate) for how it locks, waits and
/// persists.
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("shared", &self.shared).finish()
    }
}

/// Configures a [`Client`]; from [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn SessionStore>>,
    seed: Option<u64>,
    http_client: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// The clock the session reads (default [`SystemClock`]). Tests pass a
    /// [`ManualClock`](auth_driver::ManualClock) and move it by hand.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the bearer session is persisted and shared with other processes (default: none,
    /// the session lives in memory). [`build`](Self::build) continues from what the store
    /// holds. Ignored for Basic and Integrator, which have no token state.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The seed of the refresh and backoff jitter (default: random). Fix it in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sends through this `reqwest::Client` (its pool, TLS, proxy and timeouts) instead of
    /// the default one, for API requests and auth requests alike.
    ///
    /// Start it from [`http_client_builder`](crate::http_client_builder) to keep the default
    /// TLS set-up and redirect policy. With another redirect policy, an auth request
    /// redirected with 307/308 would repeat its body (password or refresh token) to the
    /// target; its answer is never trusted (it is reported as a transport failure), but the
    /// body has left. reqwest itself removes `Authorization` from any redirect to another
    /// origin, whatever the policy.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Builds the client. With a store, loads it first (on the blocking thread pool) and
    /// continues the stored session (no login while its token is usable).
    ///
    /// `async` because loading the store touches the disk, which must not block an async
    /// thread. Needs a Tokio runtime, like reqwest.
    ///
    /// Fails with [`Error::Store`] if the store cannot be read (a corrupt file is reported,
    /// not overwritten), [`Error::Restore`] if it holds another user's session,
    /// [`Error::Config`] for a bearer configuration without a password and nothing stored, and
    /// [`Error::Transport`] if the default `reqwest::Client` cannot be built.
    pub async fn build(self) -> Result<Client, Error> {
        let seed = self.seed.unwrap_or_else(random_seed);
        let auth_timeout = self.config.refresh_policy().auth_timeout;
        let store = self.store.filter(|_| self.config.scheme() == Scheme::Bearer);
        let stored = match &store {
            Some(store) => load(store).await?,
            None => None,
        };
        let now = self.clock.now();
        let http = match self.http_client {
            Some(client) => client,
            None => http_client_builder(&self.config).build().map_err(Error::Transport)?,
        };
        let session = match stored {
            Some(snapshot) => Session::restore(self.config, snapshot, seed, now)?,
            None => Session::new(self.config, seed, now)?,
        };
        Ok(Client { shared: Arc::new(Shared::new(session, self.clock, store, http, auth_timeout)) })
    }
}

/// Loads the store on the blocking pool.
async fn load(store: &Arc<dyn SessionStore>) -> Result<Option<Snapshot>, StoreError> {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || store.load()).await {
        Ok(loaded) => loaded,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(StoreError::Io {
            operation: "load",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(error.to_string()),
        }),
    }
}

/// A jitter seed from the standard library's per-process random hasher keys (no `rand`).
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

impl Client {
    /// Starts configuring a client for `config`.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder { config, clock: Arc::new(SystemClock), store: None, seed: None, http_client: None }
    }

    /// A middleware that authenticates the requests of *your* `reqwest_middleware` stack with
    /// this client's session (shared with the client and all its clones). See
    /// [`AuthMiddleware`].
    pub fn middleware(&self) -> AuthMiddleware {
        AuthMiddleware::new(self.clone())
    }

    /// The `reqwest::Client` the client sends with.
    pub fn http_client(&self) -> &reqwest::Client {
        self.shared.http()
    }

    /// Sends an API request with credentials and returns the API's response, whatever its
    /// status. `http` types in and out; [`execute`](Self::execute) is the same for reqwest's
    /// own types.
    ///
    /// 1. Authorizes it: waits for (or drives) a login or refresh when no usable token is
    ///    held; refuses with [`AuthError::ForeignOrigin`] a request whose origin is not the
    ///    configured API, and with [`AuthError::AccountRequired`] an Integrator request that
    ///    names no account — both before any I/O.
    /// 2. Sends it with the `Authorization` header (and the pinned `account_id`), reports the
    ///    status to the session.
    /// 3. If the session says the token may have expired (401/403 on a bearer request), sends
    ///    it once more with a freshly authorized header — if the body can be replayed (bytes,
    ///    strings, no body; not a stream). A second rejection, or a rejection of a streamed
    ///    body, is returned as is. If the session cannot authorize the retry, that error is
    ///    returned.
    /// 4. If the token was stale (valid, but due for a refresh that nobody has started), drives
    ///    that refresh after the response has arrived and before returning: the request itself
    ///    never waits for it. If this future is dropped meanwhile, the refresh completes on its
    ///    own task.
    ///
    /// The response body is a [`reqwest::Body`]; `reqwest::Response::from(response)` gives
    /// back reqwest's readers (`text()`, `bytes()`, `json()`), or read it as an
    /// [`http_body::Body`](https://docs.rs/http-body).
    ///
    /// A redirect to another origin is followed without the `Authorization` header, and a
    /// redirected response's status is not judged as a verdict on the token.
    pub async fn send<B: Into<reqwest::Body>>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<reqwest::Body>, Error> {
        if !self.shared.is_api_origin(request.uri()) {
            return Err(AuthError::ForeignOrigin.into());
        }
        let request = reqwest::Request::try_from(request).map_err(Error::Transport)?;
        let response = self.execute(request).await?;
        Ok(http::Response::from(response))
    }

    /// [`send`](Self::send) for a [`reqwest::Request`] (from `reqwest::Client::get(..).build()`
    /// or `RequestBuilder::build`), returning a [`reqwest::Response`]. The retry needs
    /// [`reqwest::Request::try_clone`] to succeed (it does unless the body is a stream).
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        let Some(uri) = api_uri(&self.shared, request.url()) else {
            return Err(AuthError::ForeignOrigin.into());
        };
        let retry = request.try_clone();
        let (response, verdict) = self.attempt(request, &uri, false).await?;
        let response = match (verdict, retry) {
            (ApiVerdict::RetryOnce, Some(retry)) => {
                drop(response);
                self.attempt(retry, &uri, true).await?.0
            }
            (_, _) => response,
        };
        self.shared.refresh_if_due().await;
        Ok(response)
    }

    /// Authorizes `request`, sends it, and reports the outcome to the session.
    async fn attempt(
        &self,
        mut request: reqwest::Request,
        uri: &Uri,
        retry: bool,
    ) -> Result<(reqwest::Response, ApiVerdict), Error> {
        let credential = self.authorize(uri).await?;
        let report = Outstanding::new(&self.shared, &credential);
        let report = if retry { report.for_retry() } else { report };
        apply(&credential, &mut request);
        let sent = request.url().clone();
        let response = self.shared.http().execute(request).await.map_err(Error::Transport)?;
        let verdict = report.response(response.status(), redirected(&response, &sent));
        Ok((response, verdict))
    }

    /// A credential for `uri`, driving or awaiting the auth exchange it needs.
    pub(crate) async fn authorize(&self, uri: &Uri) -> Result<Credential, Error> {
        self.shared.obtain(StaleToken::UseNow, coordinator::credential(uri)).await
    }

    /// A currently valid bearer token, for callers that attach it themselves. Logs in or
    /// refreshes first when needed — also when the token is merely stale and nobody else is
    /// refreshing it, so the token handed out is the newest one.
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator.
    pub async fn bearer_token(&self) -> Result<BearerToken, Error> {
        self.shared.obtain(StaleToken::RefreshFirst, coordinator::bearer_token).await
    }

    /// The first message of a RealTime connection (`{"type":"authrequest","token":…}`), built
    /// from a currently valid token, refreshed first like [`bearer_token`](Self::bearer_token).
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator: the RealTime API
    /// accepts only bearer tokens (SPEC.md §6).
    pub async fn realtime_auth(&self) -> Result<RealtimeAuthRequest, Error> {
        self.shared.obtain(StaleToken::RefreshFirst, coordinator::realtime_auth).await
    }

    /// Reports that the RealTime server answered `authrequest` with `"success": false`: the
    /// token is dropped, so the next [`realtime_auth`](Self::realtime_auth) (the reconnect)
    /// authenticates with a new one (SPEC.md §6).
    pub fn report_realtime_rejection(&self, auth: &RealtimeAuthRequest) {
        self.shared.report_realtime_rejection(auth.generation());
    }

    /// Moves the bearer session to `account` (by relogin or masquerade, as configured) and
    /// waits until it is done. Requests started meanwhile wait for the switch; with
    /// masquerade, the switch waits for requests still out on the old account.
    ///
    /// Returns the server's refusal ([`AuthError::AccountSwitchRejected`]) if the switch
    /// failed (the session stays on its previous account), a transient error if the auth
    /// server is unavailable (the switch stays pending and is retried by the next request),
    /// and [`AuthError::SwitchRequiresBearer`] under Basic or Integrator.
    pub async fn switch_account(&self, account: AccountId) -> Result<(), Error> {
        if !self.shared.start_switch(account)? {
            return Ok(()); // Already on that account.
        }
        self.shared.obtain(StaleToken::UseNow, coordinator::switch_done(account)).await
    }

    /// The bearer token state for persistence (`None` for Basic/Integrator and before the
    /// first login). It holds the tokens: treat it as a secret.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.shared.lock().session.snapshot()
    }

    /// Why the last store operation failed, if it did (cleared by the next successful save).
    /// A failed save never discards the token held in memory: the client carries on, but a
    /// restarted process or another client sharing the store would not see the new token.
    pub fn last_store_error(&self) -> Option<String> {
        self.shared.last_store_error()
    }

    /// The authentication scheme.
    pub fn scheme(&self) -> Scheme {
        self.shared.lock().session.scheme()
    }

    /// The account in effect: the bearer token's account or the pinned one.
    pub fn account(&self) -> Option<AccountId> {
        self.shared.lock().session.account()
    }

    /// Where the bearer token stands now (`None` without a token, or for Basic/Integrator).
    pub fn token_state(&self) -> Option<TokenState> {
        self.shared.token_state()
    }
}

/// `url` as an `http::Uri`, if it is on the configured API origin. A URL that `http` cannot
/// parse is treated as foreign: credentials go only where the origin is proven.
pub(crate) fn api_uri(shared: &Shared, url: &reqwest::Url) -> Option<Uri> {
    Uri::try_from(url.as_str()).ok().filter(|uri| shared.is_api_origin(uri))
}

/// Whether `response` to a request sent to `sent` came from a redirect (its final URL differs):
/// its final hop may have gone out without our `Authorization` header.
pub(crate) fn redirected(response: &reqwest::Response, sent: &reqwest::Url) -> bool {
    response.url() != sent
}

/// Sets the `Authorization` header and adds the pinned account, exactly as
/// [`Credential::apply`] does for an `http::Request`: `account_id=N` is appended to the
/// query string.
pub(crate) fn apply(credential: &Credential, request: &mut reqwest::Request) {
    request.headers_mut().insert(AUTHORIZATION, credential.header().clone());
    if let Some(account) = credential.account_param() {
        request.url_mut().query_pairs_mut().append_pair("account_id", &account.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{Authorization, Config, Password};

    /// `apply` on a reqwest request gives the same URL and header as the core's
    /// `Credential::apply` on an `http` request.
    #[test]
    fn apply_matches_the_core() {
        let config =
            Config::basic("https://api.example", "u", Password::new("p")).account(AccountId(42)).build().unwrap();
        let mut session = Session::new(config, 1, time::OffsetDateTime::UNIX_EPOCH).unwrap();
        for url in
            ["https://api.example/reports", "https://api.example/reports?", "https://api.example/reports?x=1&y=a%20b"]
        {
            let uri: Uri = url.parse().unwrap();
            let Authorization::Ready(credential) = session.authorize(&uri, time::OffsetDateTime::UNIX_EPOCH).unwrap()
            else {
                panic!("basic is always ready")
            };
            let mut expected = http::Request::new(());
            *expected.uri_mut() = uri.clone();
            credential.apply(&mut expected);
            let mut actual = reqwest::Request::new(reqwest::Method::GET, reqwest::Url::parse(url).unwrap());
            apply(&credential, &mut actual);
            assert_eq!(actual.url().as_str(), expected.uri().to_string(), "{url}");
            assert_eq!(actual.headers().get(AUTHORIZATION), expected.headers().get(AUTHORIZATION));
        }
    }
}
