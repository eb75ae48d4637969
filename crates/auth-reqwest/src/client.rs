//! [`Client`]: a `reqwest::Client` plus a shared session, safe to use from many tasks.

use std::pin::{Pin, pin};
use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{
    AccountId, AuthError, AuthRequest, BearerToken, Call, Config, Drive, DriveStep, MAX_AUTH_BODY, Ready, Step,
};
use auth_driver::{Adapter, Driving, Hub, Parts, SharedSession, Wake};
use auth_store::StoreError;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Uri};
use tokio::sync::Notify;

use crate::error::Error;
use crate::http_client::http_client_builder;
use crate::middleware::AuthMiddleware;

/// A TeleTracker API client: a [`reqwest::Client`] and one authentication session shared by
/// all clones (cheap: an `Arc` inside), across tasks and threads.
///
/// Build it with [`Client::builder`]. See the [crate docs](crate) for how it locks, waits and
/// persists.
#[derive(Clone, Debug)]
pub struct Client {
    hub: Arc<Hub<Changed>>,
    http: reqwest::Client,
    /// The account this handle's requests are for ([`Client::on_account`]).
    expect: Option<AccountId>,
}

/// Configures a [`Client`]; from [`Client::builder`]. Its HTTP client
/// ([`http`](auth_driver::ClientBuilder::http)) is a [`reqwest::Client`]; `build()` is `async`.
pub type ClientBuilder = auth_driver::ClientBuilder<Client>;

/// The tasks' wake-up: a [`Notify`] whose waiters register before they look at the session.
#[derive(Debug, Default)]
pub(crate) struct Changed(Notify);

impl Wake for Changed {
    fn wake_all(&self) {
        self.0.notify_waiters();
    }

    /// A drop guard's store work goes to the blocking pool when a runtime is there.
    fn run_blocking(&self, job: Box<dyn FnOnce() + Send>) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(job)),
            Err(_) => job(),
        }
    }
}

impl Adapter for Client {
    type Http = reqwest::Client;
    type Built = Pin<Box<dyn Future<Output = Result<Client, Error>> + Send>>;

    /// Loads the store on the blocking pool: the disk must not block an async thread.
    fn build(mut parts: Parts<Self>) -> Self::Built {
        Box::pin(async move {
            let default = || http_client_builder(&parts.config).build();
            let http = parts.http.take().map_or_else(default, Ok).map_err(Error::Transport)?;
            let stored = match parts.store.clone() {
                Some(store) => on_blocking_pool(move || store.load()).await??,
                None => None,
            };
            Ok(Client { hub: Arc::new(parts.start(stored, Changed::default())?), http, expect: None })
        })
    }
}

/// Runs `job` on the blocking pool; a panic in it is the caller's.
async fn on_blocking_pool<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, StoreError> {
    match tokio::task::spawn_blocking(job).await {
        Ok(out) => Ok(out),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(StoreError::runtime_gone()),
    }
}

impl Client {
    /// Starts configuring a client for `config`. Start its HTTP client
    /// ([`http`](auth_driver::ClientBuilder::http)) from [`http_client_builder`] to keep the
    /// default TLS set-up and redirect policy (`http_client_builder(&config)` borrows the
    /// configuration: call it before this). With another redirect policy, an auth request
    /// redirected with 307/308 would repeat its body (password or refresh token) to the target;
    /// its answer is never trusted (it is reported as a transport failure), but the body has
    /// left. reqwest itself removes `Authorization` from any redirect to another origin,
    /// whatever the policy. `build()` needs a Tokio runtime, like reqwest.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder::new(config)
    }

    /// A middleware that authenticates the requests of *your* `reqwest_middleware` stack with
    /// this client's session (shared with the client and all its clones). See
    /// [`AuthMiddleware`].
    pub fn middleware(&self) -> AuthMiddleware {
        AuthMiddleware::new(self.clone())
    }

    /// The `reqwest::Client` the client sends with.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.http
    }

    /// A handle on the same session whose requests are for `account` only: if the session is
    /// on another account (another caller switched it), they fail with
    /// [`AuthError::AccountChanged`] and nothing is sent.
    pub fn on_account(&self, account: AccountId) -> Client {
        Client { expect: Some(account), ..self.clone() }
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
        let request = reqwest::Request::try_from(request).map_err(Error::Transport)?;
        let response = self.execute(request).await?;
        Ok(http::Response::from(response))
    }

    /// [`send`](Self::send) for a [`reqwest::Request`] (from `reqwest::Client::get(..).build()`
    /// or `RequestBuilder::build`), returning a [`reqwest::Response`]. The retry needs
    /// [`reqwest::Request::try_clone`] to succeed (it does unless the body is a stream).
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        let Some(uri) = self.api_uri(request.url()) else {
            return Err(AuthError::ForeignOrigin.into());
        };
        self.run(uri, request, Direct(&self.http)).await?.map_err(Error::Transport)
    }

    /// The caller's loop for one API request to `uri`: each attempt the session allows goes out
    /// through `send` with the credential applied, and its answer is reported. Returns the last
    /// attempt's outcome.
    pub(crate) async fn run<A: Attempt>(
        &self,
        uri: Uri,
        request: reqwest::Request,
        mut via: A,
    ) -> Result<Result<reqwest::Response, A::Error>, Error> {
        let mut spare = request.try_clone();
        let mut call = Call::request(uri, spare.is_some(), self.expect);
        let mut unsent = Some(request);
        let mut last = None;
        let mut step = self.hub.poll(&mut call);
        loop {
            step = match step {
                Step::Attach(credential) => {
                    drop(last.take()); // A rejected first answer frees its connection.
                    let (header, account, receipt) = credential.into_parts();
                    let sent = self.hub.outstanding(receipt);
                    let Some(mut request) = unsent.take().or_else(|| spare.take()) else {
                        break; // The session allowed more attempts than it was told the body had.
                    };
                    apply(header, account, &mut request);
                    let url = request.url().clone();
                    let outcome = via.send(request).await;
                    let Ok(response) = &outcome else {
                        return Ok(outcome); // No answer: `sent` drops and is released.
                    };
                    let (status, redirected) = (response.status(), response.url() != &url);
                    last = Some(outcome);
                    sent.report(&mut call, status, redirected)
                }
                Step::Drive(drive) => {
                    self.drive(drive).await?;
                    self.hub.poll(&mut call)
                }
                Step::Wait(_) => self.wait(&mut call).await,
                Step::Failed(error) => return Err(error.into()),
                Step::Ready(_) => break,
            };
        }
        // Ready comes only after an answer was reported, so `last` holds it.
        last.ok_or(Error::Auth(AuthError::SessionExpired))
    }

    /// A call that yields a value (a token, a handshake, a switch).
    async fn finish(&self, mut call: Call) -> Result<Ready, Error> {
        let mut step = self.hub.poll(&mut call);
        loop {
            step = match step {
                Step::Ready(ready) => return Ok(ready),
                Step::Failed(error) => return Err(error.into()),
                Step::Drive(drive) => {
                    self.drive(drive).await?;
                    self.hub.poll(&mut call)
                }
                Step::Wait(_) | Step::Attach(_) => self.wait(&mut call).await,
            };
        }
    }

    /// Waits for the session to change, then says what the caller does next. The wake-up is
    /// registered before the session is looked at again, so a driver that finishes between that
    /// look and the wait still wakes us.
    async fn wait(&self, call: &mut Call) -> Step {
        let mut changed = pin!(self.hub.waker().0.notified());
        changed.as_mut().enable();
        match self.hub.poll(call) {
            Step::Wait(at_most) => {
                drop(tokio::time::timeout(at_most, changed).await);
                self.hub.poll(call)
            }
            step => step,
        }
    }

    /// Drives one exchange on a task of its own, which this caller awaits: if the caller is
    /// cancelled, the exchange still completes (its answer is handled, the rotated tokens kept
    /// and saved). Store steps run on the blocking pool.
    async fn drive(&self, drive: Drive) -> Result<(), Error> {
        // Built before the spawn, so that even a task that never runs (a runtime shutting down)
        // drops it and finishes the exchange.
        let mut driving = Driving::new(Arc::clone(&self.hub), drive);
        let http = self.http.clone();
        let task = tokio::spawn(async move {
            loop {
                match driving.step() {
                    DriveStep::Send(request) => {
                        let answer = send_auth(&http, request).await;
                        driving.answer(answer.as_ref());
                    }
                    DriveStep::Done => return Ok(()),
                    store_step => {
                        let (back, outcome) = on_blocking_pool(move || {
                            let outcome = driving.store_step(store_step);
                            (driving, outcome)
                        })
                        .await?;
                        driving = back;
                        outcome?;
                    }
                }
            }
        });
        match task.await {
            Ok(outcome) => outcome,
            // The guard has finished the exchange; the panic is the caller's too.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down; the guard has finished. The session says the rest.
            Err(_) => Ok(()),
        }
    }

    /// A currently valid bearer token, for callers that attach it themselves. Logs in or
    /// refreshes first when needed — also when the token is merely stale and nobody else is
    /// refreshing it, so the token handed out is the newest one.
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator.
    pub async fn bearer_token(&self) -> Result<BearerToken, Error> {
        Ok(self.finish(Call::bearer_token()).await?.into_token()?)
    }

    /// The first message of a RealTime connection (`{"type":"authrequest","token":…}`), built
    /// from a currently valid token, refreshed first like [`bearer_token`](Self::bearer_token).
    ///
    /// Fails with [`AuthError::RequiresBearer`] under Basic or Integrator: the RealTime API
    /// accepts only bearer tokens (SPEC.md §6).
    pub async fn realtime_auth(&self) -> Result<RealtimeAuthRequest, Error> {
        Ok(self.finish(Call::realtime_auth()).await?.into_realtime()?)
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
    pub async fn switch_account(&self, account: AccountId) -> Result<Client, Error> {
        let call = self.hub.switch_account(account)?;
        let account = self.finish(call).await?.into_account()?;
        Ok(self.on_account(account))
    }

    /// The session all clones share: what it holds ([`SharedSession::snapshot`]), where its
    /// token stands, which account is in effect, how its store fares.
    pub fn session(&self) -> &SharedSession {
        self.hub.session()
    }

    /// `url` as an `http::Uri`, if it is on the configured API origin. A URL that `http` cannot
    /// parse is treated as foreign: credentials go only where the origin is proven.
    pub(crate) fn api_uri(&self, url: &reqwest::Url) -> Option<Uri> {
        let uri = Uri::try_from(url.as_str()).ok()?;
        self.hub.session().is_api_origin(&uri).then_some(uri)
    }
}

/// How the attempts of one API request go out.
pub(crate) trait Attempt {
    /// What a failed attempt says.
    type Error;
    /// Sends one attempt.
    fn send(
        &mut self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<reqwest::Response, Self::Error>> + Send;
}

/// Through the client's own `reqwest::Client`.
struct Direct<'a>(&'a reqwest::Client);

impl Attempt for Direct<'_> {
    type Error = reqwest::Error;

    fn send(
        &mut self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<reqwest::Response, reqwest::Error>> + Send {
        self.0.execute(request)
    }
}

/// Sends one auth request and reads its answer with the core's size limit. `None`: no answer
/// (transport error, or an answer that did not come from the URL asked, which a client of the
/// caller's own may have redirected). A status is an answer, not an error.
async fn send_auth(http: &reqwest::Client, request: AuthRequest) -> Option<http::Response<Vec<u8>>> {
    let timeout = request.timeout();
    let mut request = reqwest::Request::try_from(request.into_request()).ok()?;
    *request.timeout_mut() = Some(timeout);
    let asked = request.url().clone();
    let mut response = http.execute(request).await.ok()?;
    if response.url() != &asked {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        let room = (MAX_AUTH_BODY + 1).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > MAX_AUTH_BODY {
            break; // Enough to know it is too large; the core refuses it unparsed.
        }
    }
    let mut answer = http::Response::new(body);
    *answer.status_mut() = response.status();
    *answer.version_mut() = response.version();
    *answer.headers_mut() = response.headers().clone();
    Some(answer)
}

/// Sets the `Authorization` header and adds the pinned account, exactly as
/// [`Credential::attach`](auth_core::Credential::attach) does for an `http::Request`:
/// `account_id=N` is appended to the query string.
pub(crate) fn apply(header: HeaderValue, account: Option<AccountId>, request: &mut reqwest::Request) {
    request.headers_mut().insert(AUTHORIZATION, header);
    if let Some(account) = account {
        request.url_mut().query_pairs_mut().append_pair("account_id", &account.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{Authorization, Config, Password, Session};

    /// `apply` on a reqwest request gives the same URL and header as the core's
    /// `Credential::attach` on an `http` request.
    #[test]
    fn apply_matches_the_core() {
        let config = Config::basic("https://api.example", "u", auth_core::Password::new("p"))
            .account(AccountId(42))
            .build()
            .unwrap();
        let mut session = Session::new(config, 1, time::OffsetDateTime::UNIX_EPOCH).unwrap();
        for url in
            ["https://api.example/reports", "https://api.example/reports?", "https://api.example/reports?x=1&y=a%20b"]
        {
            let uri: Uri = url.parse().unwrap();
            let ready = |session: &mut Session| match session.authorize(&uri, time::OffsetDateTime::UNIX_EPOCH).unwrap()
            {
                Authorization::Ready(credential) => credential,
                Authorization::Pending => panic!("basic is always ready"),
            };
            let mut expected = http::Request::new(());
            *expected.uri_mut() = uri.clone();
            let _receipt = ready(&mut session).attach(&mut expected);
            let mut actual = reqwest::Request::new(reqwest::Method::GET, reqwest::Url::parse(url).unwrap());
            let (header, account, _receipt) = ready(&mut session).into_parts();
            apply(header, account, &mut actual);
            assert_eq!(actual.url().as_str(), expected.uri().to_string(), "{url}");
            assert_eq!(actual.headers().get(AUTHORIZATION), expected.headers().get(AUTHORIZATION));
        }
        let _ = Password::new("unused");
    }
}
