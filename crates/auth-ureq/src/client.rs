//! [`Client`]: a ureq agent plus a shared session, safe to use from many threads.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

#[cfg(doc)]
use auth_core::AuthError;
use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AccountId, ApiVerdict, BearerToken, Config, Credential, Scheme, Session, Snapshot, TokenState};
use auth_driver::coordinator;
use auth_driver::{Clock, SystemClock};
use auth_store::SessionStore;
use http::{Request, Response};
use ureq::config::RedirectAuthHeaders;
use ureq::{Agent, AsSendBody, Body, ResponseExt};

use crate::body::ReplayBody;
use crate::error::Error;
use crate::middleware::AuthMiddleware;
use crate::shared::{Outstanding, PassThrough, Shared, StaleToken};

/// A TeleTracker API client: a [`ureq::Agent`] and one authentication session shared by all
/// clones (cheap: an `Arc` inside), across threads.
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
    agent: Option<Agent>,
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

    /// Sends through this agent (its pool, TLS, proxy and timeouts) instead of a default one.
    /// Whatever it is configured with, every request the client sends overrides three
    /// settings: statuses are responses (`http_status_as_error(false)`), redirects never carry
    /// `Authorization` (`RedirectAuthHeaders::Never`), and the redirect history is kept; auth
    /// requests also follow no redirect and time out after the policy's `auth_timeout`.
    ///
    /// Keep the agent's own timeouts within reason (days, not `Duration::MAX`): ureq 3 adds
    /// them to the current instant and panics when that overflows.
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Builds the client. With a store, loads it first and continues the stored session (no
    /// login while its token is usable).
    ///
    /// Fails with [`Error::Store`] if the store cannot be read (a corrupt file is reported,
    /// not overwritten), [`Error::Restore`] if it holds another user's session, and
    /// [`Error::Config`] for a bearer configuration without a password and nothing stored.
    pub fn build(self) -> Result<Client, Error> {
        let now = self.clock.now();
        let seed = self.seed.unwrap_or_else(random_seed);
        let auth_timeout = self.config.refresh_policy().auth_timeout;
        let store = self.store.filter(|_| self.config.scheme() == Scheme::Bearer);
        let stored = match &store {
            Some(store) => store.load()?,
            None => None,
        };
        let session = match stored {
            Some(snapshot) => Session::restore(self.config, snapshot, seed, now)?,
            None => Session::new(self.config, seed, now)?,
        };
        let agent = self.agent.unwrap_or_else(default_agent);
        Ok(Client { shared: Arc::new(Shared::new(session, self.clock, store, agent, auth_timeout)) })
    }
}

/// The agent used when none is given: statuses are responses, redirects drop `Authorization`.
fn default_agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .redirect_auth_headers(RedirectAuthHeaders::Never)
        .save_redirect_history(true)
        .build()
        .into()
}

/// A jitter seed from the standard library's per-process random hasher keys (no `rand`).
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::process::id())
}

impl Client {
    /// Starts configuring a client for `config`.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder { config, clock: Arc::new(SystemClock), store: None, seed: None, agent: None }
    }

    /// A middleware that authenticates requests of *your* ureq agent with this client's
    /// session (shared with the client and all its clones). See [`AuthMiddleware`].
    pub fn middleware(&self) -> AuthMiddleware {
        AuthMiddleware::new(self.clone())
    }

    /// The agent the client sends with.
    pub fn agent(&self) -> &Agent {
        self.shared.agent()
    }

    /// Sends an API request with credentials and returns the API's response, whatever its
    /// status.
    ///
    /// 1. Authorizes it: waits for (or drives) a login or refresh when no usable token is
    ///    held; refuses with [`AuthError::ForeignOrigin`] a request whose origin is not the
    ///    configured API, and with [`AuthError::AccountRequired`] an Integrator request that
    ///    names no account — both before any I/O.
    /// 2. Sends it with the `Authorization` header (and the pinned `account_id`), reports the
    ///    status to the session.
    /// 3. If the session says the token may have expired (401/403 on a bearer request), sends
    ///    it once more with a freshly authorized header; a second rejection is returned as is.
    ///    If the session cannot authorize the retry, that error is returned.
    /// 4. If the token was stale (valid, but due for a refresh that nobody has started), drives
    ///    that refresh before returning: the request itself never waits for it.
    ///
    /// The body must be replayable ([`ReplayBody`]: `()`, bytes, strings); for a streamed
    /// body use [`send_once`](Self::send_once).
    ///
    /// A redirect is followed without the `Authorization` header (even to the same origin)
    /// and its final status is not judged as a verdict on the token.
    pub fn send<B: ReplayBody>(&self, request: Request<B>) -> Result<Response<Body>, Error> {
        let (parts, body) = request.into_parts();
        let template = Request::from_parts(parts, ());
        let (response, verdict) = self.attempt(copy_of(&template), body.replay(), false)?;
        let response = match verdict {
            ApiVerdict::Accept => response,
            ApiVerdict::RetryOnce => {
                drop(response);
                self.attempt(template, body.replay(), true)?.0
            }
        };
        self.shared.refresh_if_due();
        Ok(response)
    }

    /// Like [`send`](Self::send) for a body that can be sent only once (a reader, a file): a
    /// 401/403 is returned as is, never retried. The session still learns that the token was
    /// rejected, so the next request gets a new one.
    pub fn send_once<B: AsSendBody>(&self, request: Request<B>) -> Result<Response<Body>, Error> {
        let (parts, body) = request.into_parts();
        let (response, _verdict) =
            self.attempt_with(Request::from_parts(parts, ()), false, move |agent, request| {
                agent.run(request.map(move |()| body))
            })?;
        self.shared.refresh_if_due();
        Ok(response)
    }

    fn attempt(
        &self,
        request: Request<()>,
        body: Option<&[u8]>,
        retry: bool,
    ) -> Result<(Response<Body>, ApiVerdict), Error> {
        self.attempt_with(request, retry, |agent, request| match body {
            None => agent.run(request),
            Some(bytes) => agent.run(request.map(|()| bytes)),
        })
    }

    /// Authorizes `request`, sends it with `run`, and reports the outcome to the session.
    fn attempt_with(
        &self,
        mut request: Request<()>,
        retry: bool,
        run: impl FnOnce(&Agent, Request<()>) -> Result<Response<Body>, ureq::Error>,
    ) -> Result<(Response<Body>, ApiVerdict), Error> {
        let credential = self.authorize(request.uri())?;
        let report = Outstanding::new(&self.shared, &credential);
        let report = if retry { report.for_retry() } else { report };
        credential.apply(&mut request);
        let agent = self.shared.agent();
        let mut request = agent
            .configure_request(request)
            .http_status_as_error(false)
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .save_redirect_history(true)
            .build();
        request.extensions_mut().insert(PassThrough);
        let response = run(agent, request).map_err(Error::Transport)?;
        let verdict = report.response(response.status(), redirected(&response));
        Ok((response, verdict))
    }

    /// A credential for `uri`, driving or awaiting the auth exchange it needs.
    pub(crate) fn authorize(&self, uri: &http::Uri) -> Result<Credential, Error> {
        self.shared.obtain(StaleToken::UseNow, coordinator::credential(uri))
    }

    /// A currently valid bearer token, for callers that attach it themselves. Logs in or
    /// refreshes first when needed — also when the token is merely stale and nobody else is
    /// refreshing it, so the token handed out is the newest one.
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator.
    pub fn bearer_token(&self) -> Result<BearerToken, Error> {
        self.shared.obtain(StaleToken::RefreshFirst, coordinator::bearer_token)
    }

    /// The first message of a RealTime connection (`{"type":"authrequest","token":…}`), built
    /// from a currently valid token, refreshed first like [`bearer_token`](Self::bearer_token).
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator: the RealTime API
    /// accepts only bearer tokens (SPEC.md §6).
    pub fn realtime_auth(&self) -> Result<RealtimeAuthRequest, Error> {
        self.shared.obtain(StaleToken::RefreshFirst, coordinator::realtime_auth)
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
    pub fn switch_account(&self, account: AccountId) -> Result<(), Error> {
        if !self.shared.start_switch(account)? {
            return Ok(()); // Already on that account.
        }
        self.shared.obtain(StaleToken::UseNow, coordinator::switch_done(account))
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

/// Whether `response` came from a redirect (its final hop went out without our
/// `Authorization` header, so its status says nothing about the token).
pub(crate) fn redirected(response: &Response<Body>) -> bool {
    response.get_redirect_history().is_some_and(|history| history.len() > 1)
}

/// A copy of a body-less request: method, URI, version, headers and extensions.
pub(crate) fn copy_of(request: &Request<()>) -> Request<()> {
    let mut copy = Request::new(());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}
