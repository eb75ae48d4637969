//! [`Client`]: a ureq agent plus a shared session, safe to use from many threads.

use std::io::Read;
use std::sync::{Arc, Condvar};

#[cfg(doc)]
use auth_core::AuthError;
use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AccountId, AuthRequest, BearerToken, Call, Config, Drive, MAX_AUTH_BODY, Ready, Step};
use auth_driver::{Adapter, Attempts, Driving, Hub, Parts, ResendParts, Sending, SharedSession, uri_identity};
use http::{Request, Response, StatusCode};
use ureq::config::RedirectAuthHeaders;
use ureq::{Agent, AsSendBody, Body, ResponseExt};

use crate::body::ReplayBody;
use crate::error::Error;
use crate::middleware::AuthMiddleware;

/// A TeleTracker API client: a [`ureq::Agent`] and one authentication session shared by all
/// clones (cheap: an `Arc` inside), across threads.
///
/// Build it with [`Client::builder`]. See the [crate docs](crate) for how it locks, waits and
/// persists.
#[derive(Clone, Debug)]
pub struct Client {
    hub: Arc<Hub<Condvar>>,
    agent: Agent,
    /// The agent's own settings are not the ones every request needs (statuses as responses,
    /// no `Authorization` on a redirect): each request overrides them. Not so for the default
    /// agent, configured that way once.
    override_settings: bool,
    /// The account this handle's requests are for ([`Client::on_account`]).
    pub(crate) expect: Option<AccountId>,
}

/// Configures a [`Client`]; from [`Client::builder`]. Its HTTP client
/// ([`http`](auth_driver::ClientBuilder::http)) is a [`ureq::Agent`].
pub type ClientBuilder = auth_driver::ClientBuilder<Client>;

/// What a request attempt came back with: a response, or ureq's error (which may still be an
/// answer, `Error::StatusCode`, when the agent turns statuses into errors).
pub(crate) type Outcome = Result<Response<Body>, ureq::Error>;

impl Adapter for Client {
    type Http = Agent;
    type Built = Result<Client, Error>;

    fn build(mut parts: Parts<Self>) -> Result<Client, Error> {
        let agent = parts.http.take().unwrap_or_else(default_agent);
        let config = agent.config();
        let override_settings =
            config.http_status_as_error() || config.redirect_auth_headers() != RedirectAuthHeaders::Never;
        let stored = match &parts.store {
            Some(store) => store.load()?,
            None => None,
        };
        let hub = Arc::new(parts.start(stored, Condvar::new())?);
        Ok(Client { hub, agent, override_settings, expect: None })
    }
}

/// The agent used when none is given: statuses are responses, redirects drop `Authorization`.
fn default_agent() -> Agent {
    Agent::config_builder().http_status_as_error(false).redirect_auth_headers(RedirectAuthHeaders::Never).build().into()
}

impl Client {
    /// Starts configuring a client for `config`. Whatever agent it is given
    /// ([`http`](auth_driver::ClientBuilder::http)), every request the client sends has two
    /// settings: statuses are responses (`http_status_as_error(false)`) and redirects never
    /// carry `Authorization` (`RedirectAuthHeaders::Never`); an agent configured otherwise has
    /// them overridden on each request (configure yours that way to spare that). Auth requests
    /// also follow no redirect and time out after the policy's `auth_timeout`.
    /// Keep the agent's own timeouts within reason (days, not `Duration::MAX`): ureq 3 adds them
    /// to the current instant and panics when that overflows.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder::new(config)
    }

    /// A middleware that authenticates requests of *your* ureq agent with this client's
    /// session (shared with the client and all its clones). See [`AuthMiddleware`].
    pub fn middleware(&self) -> AuthMiddleware {
        AuthMiddleware::new(self.clone())
    }

    /// The agent the client sends with.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// A handle on the same session whose requests are for `account` only: if the session is
    /// on another account (another caller switched it), they fail with
    /// [`AuthError::AccountChanged`] and nothing is sent.
    pub fn on_account(&self, account: AccountId) -> Client {
        Client { expect: Some(account), ..self.clone() }
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
        let call = self.hub.session().gate().request(template.uri(), true, self.expect)?;
        let outcome = self.run(call, template, true, |request| match body.replay() {
            None => self.dispatch(request, false),
            Some(bytes) => self.dispatch(request.map(|()| bytes), false),
        })?;
        outcome.map_err(Error::Transport)
    }

    /// Like [`send`](Self::send) for a body that can be sent only once (a reader, a file): a
    /// 401/403 is returned as is, never retried. The session still learns that the token was
    /// rejected, so the next request gets a new one.
    pub fn send_once<B: AsSendBody>(&self, request: Request<B>) -> Result<Response<Body>, Error> {
        let (parts, body) = request.into_parts();
        let template = Request::from_parts(parts, ());
        let mut body = Some(body);
        let call = self.hub.session().gate().request(template.uri(), false, self.expect)?;
        let outcome = self.run(call, template, false, |request| match body.take() {
            Some(body) => self.dispatch(request.map(move |()| body), false),
            None => self.dispatch(request, false), // never: no resend
        })?;
        outcome.map_err(Error::Transport)
    }

    /// Runs `request` on the client's agent with the settings every request of the client gets,
    /// whatever the agent says, marked for an [`AuthMiddleware`] on the same agent to let it
    /// through.
    pub(crate) fn dispatch<S: AsSendBody>(&self, request: Request<S>, status_as_error: bool) -> Outcome {
        if self.override_settings || status_as_error {
            let request = self
                .agent
                .configure_request(request)
                .http_status_as_error(status_as_error)
                .redirect_auth_headers(RedirectAuthHeaders::Never)
                .build();
            return Sending::run(uri_identity(request.uri()), || self.agent.run(request));
        }
        Sending::run(uri_identity(request.uri()), || self.agent.run(request))
    }

    /// The caller's loop for one API request: each attempt the session allows goes out through
    /// `send` with the credential attached to `template` — to a copy of it while a resend may
    /// follow (a bearer request's first attempt, `replayable`) — and its answer is reported.
    /// Returns the last attempt's outcome.
    pub(crate) fn run(
        &self,
        mut call: Call,
        template: Request<()>,
        replayable: bool,
        mut send: impl FnMut(Request<()>) -> Outcome,
    ) -> Result<Outcome, Error> {
        let mut step = self.hub.poll_blocking(&mut call);
        let mut attempts = Attempts::new(template);
        let mut last: Option<Outcome> = None;
        loop {
            step = match step {
                Step::Attach(credential) => {
                    // The resend goes where the first attempt went: the URI the call keeps, or
                    // the one its rejection came from (judged, and so resent, only when no
                    // redirect led to it).
                    let answered = last.as_ref().and_then(|outcome| outcome.as_ref().ok());
                    let uri = || call.uri().or(answered.map(ResponseExt::get_uri)).cloned();
                    let keep = |first: &Request<()>| replayable.then(|| ResendParts::of(first));
                    let Some(mut request) = attempts.next(&credential, keep, |kept| Some(kept.to(uri()?))) else {
                        break; // The session allowed more attempts than the body can be sent.
                    };
                    drop(last.take()); // A rejected first answer frees its connection before the resend.
                    let sent = self.hub.outstanding(credential.attach(&mut request));
                    let asked = uri_identity(request.uri());
                    let outcome = send(request);
                    let Some((status, redirected)) = answer_of(&outcome, asked) else {
                        return Ok(outcome); // No answer: `sent` drops and is released.
                    };
                    match sent.report(&mut call, status, redirected) {
                        Step::Ready(_) => return Ok(outcome),
                        step => {
                            last = Some(outcome);
                            step
                        }
                    }
                }
                Step::Drive(drive) => {
                    self.drive(drive)?;
                    self.hub.poll_blocking(&mut call)
                }
                Step::Wait(_) => self.hub.poll_blocking(&mut call),
                Step::Failed(error) => return Err(error.into()),
                Step::Ready(_) => break,
            };
        }
        // Ready comes only after an answer was reported, so `last` holds it.
        last.ok_or(Error::Auth(auth_core::AuthError::SessionExpired))
    }

    /// A call that yields a value (a token, a handshake, a switch).
    fn finish(&self, mut call: Call) -> Result<Ready, Error> {
        loop {
            match self.hub.poll_blocking(&mut call) {
                Step::Ready(ready) => return Ok(ready),
                Step::Failed(error) => return Err(error.into()),
                Step::Drive(drive) => self.drive(drive)?,
                Step::Attach(_) | Step::Wait(_) => {}
            }
        }
    }

    /// Drives one exchange: store steps right here (this is a thread of its own), auth
    /// requests through the agent. The guard finishes the exchange on every path.
    fn drive(&self, drive: Drive) -> Result<(), Error> {
        let mut driving = Driving::new(Arc::clone(&self.hub), drive);
        while let Some(request) = driving.next_request()? {
            let answer = self.send_auth(request);
            driving.answer(answer.ok().as_ref());
        }
        Ok(())
    }

    /// Sends one auth request and reads its answer with the core's size limit. Redirects are
    /// not followed (a redirected login would carry the password elsewhere); a status is an
    /// answer, not an error.
    fn send_auth(&self, request: AuthRequest) -> Result<Response<Vec<u8>>, ureq::Error> {
        let timeout = request.timeout();
        let request = self
            .agent
            .configure_request(request.into_request())
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        let mut response = Sending::run(uri_identity(request.uri()), || self.agent.run(request))?;
        let mut body = Vec::new();
        let limit = u64::try_from(MAX_AUTH_BODY).unwrap_or(u64::MAX).saturating_add(1);
        response.body_mut().with_config().reader().take(limit).read_to_end(&mut body).map_err(ureq::Error::Io)?;
        let (parts, _) = response.into_parts();
        Ok(Response::from_parts(parts, body))
    }

    /// A currently valid bearer token, for callers that attach it themselves. Logs in or
    /// refreshes first when needed — also when the token is merely stale and nobody else is
    /// refreshing it, so the token handed out is the newest one.
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator.
    pub fn bearer_token(&self) -> Result<BearerToken, Error> {
        Ok(self.finish(Call::bearer_token())?.into_token()?)
    }

    /// The first message of a RealTime connection (`{"type":"authrequest","token":…}`), built
    /// from a currently valid token, refreshed first like [`bearer_token`](Self::bearer_token).
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator: the RealTime API
    /// accepts only bearer tokens (SPEC.md §6).
    pub fn realtime_auth(&self) -> Result<RealtimeAuthRequest, Error> {
        Ok(self.finish(Call::realtime_auth())?.into_realtime()?)
    }

    /// Reports that the RealTime server answered `authrequest` with `"success": false`: the
    /// token is dropped, so the next [`realtime_auth`](Self::realtime_auth) (the reconnect)
    /// authenticates with a new one (SPEC.md §6).
    pub fn report_realtime_rejection(&self, auth: &RealtimeAuthRequest) {
        self.hub.report_realtime_rejection(auth.generation());
    }

    /// Moves the bearer session to `account` (by relogin or masquerade, as configured) and
    /// waits until it is done. Requests started meanwhile wait for the switch; with
    /// masquerade, the switch waits for requests still out on the old account. Returns a handle
    /// whose requests are for `account` only ([`on_account`](Self::on_account)).
    ///
    /// Each caller learns how *its* switch ended: the server's refusal
    /// ([`AuthError::AccountSwitchRejected`]: the session stays on its previous account),
    /// [`AuthError::SwitchSuperseded`] if another caller switched elsewhere after it (naming the
    /// account now in force), a transient error if the auth server is unavailable (the switch
    /// stays pending and is retried by the next request), and
    /// [`AuthError::SwitchRequiresBearer`] under Basic or Integrator.
    pub fn switch_account(&self, account: AccountId) -> Result<Client, Error> {
        let call = self.hub.switch_account(account)?;
        let account = self.finish(call)?.into_account()?;
        Ok(self.on_account(account))
    }

    /// The session all clones share: what it holds ([`SharedSession::snapshot`]), where its
    /// token stands, which account is in effect, how its store fares.
    pub fn session(&self) -> &SharedSession {
        self.hub.session()
    }

    /// Whether credentials go to requests for `uri` (the configured API origin).
    pub(crate) fn is_api_origin(&self, uri: &http::Uri) -> bool {
        self.hub.session().is_api_origin(uri)
    }
}

/// The status to report for an attempt's outcome, and whether it came from a redirect (its
/// final hop went out without our `Authorization` header, so it is not judged); `None`: no
/// answer at all. `asked`: the [`uri_identity`] of the URI the attempt was sent to; only a
/// rejection needs to know whether it came through a redirect, so only its URI is looked up.
pub(crate) fn answer_of(outcome: &Outcome, asked: usize) -> Option<(StatusCode, bool)> {
    match outcome {
        Ok(response) => {
            let status = response.status();
            Some((status, auth_core::rejects(status) && uri_identity(response.get_uri()) != asked))
        }
        Err(ureq::Error::StatusCode(code)) => StatusCode::from_u16(*code).ok().map(|status| (status, false)),
        Err(_) => None,
    }
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
