//! [`Client`]: a `reqwest::Client` plus a shared session, safe to use from many tasks.

use std::pin::Pin;
use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AccountId, AuthError, AuthRequest, BearerToken, Call, Config, MAX_AUTH_BODY, Ready, Step, UrlParts};
use auth_driver::{
    Adapter, Attempts, Changed, Hub, Parts, SharedSession, fingerprint, on_blocking_pool, with_uri_text,
};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Uri};
use reqwest::ResponseBuilderExt;

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
    pub(crate) expect: Option<AccountId>,
    /// The API's origin as a URL, parsed once: [`send`](Client::send) parses only the path and
    /// query of a URI on it (`None`: a URL reqwest does not take, never to be joined).
    origin: Option<Arc<reqwest::Url>>,
}

/// Configures a [`Client`]; from [`Client::builder`]. Its HTTP client
/// ([`http`](auth_driver::ClientBuilder::http)) is a [`reqwest::Client`]; `build()` is `async`.
pub type ClientBuilder = auth_driver::ClientBuilder<Client>;

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
            let origin = reqwest::Url::parse(&parts.config.base_url().origin()).ok().map(Arc::new);
            Ok(Client { hub: Arc::new(parts.start(stored, Changed::default())?), http, expect: None, origin })
        })
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
        let (parts, body) = request.into_parts();
        let body = body.into();
        let call = self.hub.session().gate().request(&parts.uri, replayable(Some(&body)), self.expect)?;
        let mut request = reqwest::Request::new(parts.method, self.url_of(&parts.uri)?);
        *request.headers_mut() = parts.headers;
        *request.version_mut() = parts.version;
        *request.body_mut() = Some(body);
        let response = self.run(call, request, Direct(&self.http)).await?.map_err(Error::Transport)?;
        Ok(with_url(response))
    }

    /// [`send`](Self::send) for a [`reqwest::Request`] (from `reqwest::Client::get(..).build()`
    /// or `RequestBuilder::build`), returning a [`reqwest::Response`]. The retry needs the body to
    /// be in memory ([`reqwest::Body::as_bytes`]), not a stream.
    pub async fn execute(&self, request: reqwest::Request) -> Result<reqwest::Response, Error> {
        let call = self.hub.session().gate().request(&parts(request.url()), replayable(request.body()), self.expect)?;
        self.run(call, request, Direct(&self.http)).await?.map_err(Error::Transport)
    }

    /// The caller's loop for one API request: each attempt the session allows goes out through
    /// `via` with the credential applied, and its answer is reported. Returns the last
    /// attempt's outcome.
    pub(crate) async fn run<A: Attempt>(
        &self,
        mut call: Call,
        request: reqwest::Request,
        mut via: A,
    ) -> Result<Result<reqwest::Response, A::Error>, Error> {
        let replayable = replayable(request.body());
        let mut attempts = Attempts::new(request);
        let mut last: Option<Result<reqwest::Response, A::Error>> = None;
        let mut step = self.hub.poll(&mut call);
        loop {
            step = match step {
                Step::Attach(credential) => {
                    // The resend goes where its rejection came from (judged, and so resent,
                    // only when no redirect led to it).
                    let answered = last.as_ref().and_then(|outcome| outcome.as_ref().ok());
                    let keep = |first: &reqwest::Request| replayable.then(|| Resend::of(first)).flatten();
                    let Some(mut request) = attempts.next(&credential, keep, |kept| Some(kept.to(answered?))) else {
                        break; // The session allowed more attempts than the body can be sent.
                    };
                    drop(last.take()); // A rejected first answer frees its connection.
                    let (header, account, receipt) = credential.into_parts();
                    let sent = self.hub.outstanding(receipt);
                    apply(header, account, &mut request);
                    let asked = fingerprint(request.url().as_str());
                    let outcome = via.send(request).await;
                    let Ok(response) = &outcome else {
                        return Ok(outcome); // No answer: `sent` drops and is released.
                    };
                    let status = response.status();
                    let redirected = auth_core::rejects(status) && fingerprint(response.url().as_str()) != asked;
                    match sent.report(&mut call, status, redirected) {
                        Step::Ready(_) => return Ok(outcome),
                        step => {
                            last = Some(outcome);
                            step
                        }
                    }
                }
                Step::Drive(drive) => {
                    let http = self.http.clone();
                    self.hub.drive(drive, move |request| send_auth(http.clone(), request)).await?;
                    self.hub.poll(&mut call)
                }
                Step::Wait(_) => self.hub.wait(&mut call).await,
                Step::Failed(error) => return Err(error.into()),
                Step::Ready(_) => break,
            };
        }
        // Ready comes only after an answer was reported, so `last` holds it.
        last.ok_or(Error::Auth(AuthError::SessionExpired))
    }

    /// A call that yields a value (a token, a handshake, a switch).
    async fn finish(&self, call: Call) -> Result<Ready, Error> {
        let http = self.http.clone();
        self.hub.finish(call, move |request| send_auth(http.clone(), request)).await
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

    /// `uri` as a reqwest URL. On the API's origin as configured, only its path and query are
    /// parsed, against the origin's URL: the URL the whole text makes, for a third of the work
    /// (the host is not parsed again). Otherwise its parts are put together and parsed once
    /// (not printed first).
    fn url_of(&self, uri: &Uri) -> Result<reqwest::Url, Error> {
        if let Some(url) = self.origin.as_deref().and_then(|origin| joined(origin, self.gate().base_url(), uri)) {
            return Ok(url);
        }
        with_uri_text(uri, reqwest::Url::parse).or_else(|_| {
            // Not a URL to reqwest: its own conversion says why.
            let request = http::Request::get(uri.clone()).body("").map_err(|_| AuthError::ForeignOrigin)?;
            reqwest::Request::try_from(request).map(|request| request.url().clone()).map_err(Error::Transport)
        })
    }

    /// What the session admits to its credentials.
    pub(crate) fn gate(&self) -> &auth_core::Gate {
        self.hub.session().gate()
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
async fn send_auth(http: reqwest::Client, request: AuthRequest) -> Option<http::Response<Vec<u8>>> {
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

/// A URL's parts, as the session's gate judges them.
pub(crate) fn parts(url: &reqwest::Url) -> UrlParts<'_> {
    UrlParts { scheme: url.scheme(), authority: url.authority(), query: url.query() }
}

/// Whether a request with `body` can be sent again: no body, or one in memory.
pub(crate) fn replayable(body: Option<&reqwest::Body>) -> bool {
    body.is_none_or(|body| body.as_bytes().is_some())
}

/// What the one resend of a reqwest request needs besides its URL (which its rejection gives
/// back): kept only while a resend may follow. Headers are copied only if there are any, and
/// the timeout set only if there is one (reqwest's own `try_clone` does both always).
struct Resend {
    method: http::Method,
    version: http::Version,
    headers: Option<http::HeaderMap>,
    body: Option<reqwest::Body>,
    timeout: Option<std::time::Duration>,
}

impl Resend {
    fn of(request: &reqwest::Request) -> Option<Resend> {
        // reqwest's `Body::try_clone` is its own: a body in memory is copied.
        let body = match request.body() {
            Some(body) => Some(reqwest::Body::from(body.as_bytes()?.to_vec())),
            None => None,
        };
        let headers = Some(request.headers()).filter(|headers| !headers.is_empty()).cloned();
        let (method, version, timeout) = (request.method().clone(), request.version(), request.timeout().copied());
        Some(Resend { method, version, headers, body, timeout })
    }

    fn to(self, answered: &reqwest::Response) -> reqwest::Request {
        let mut request = reqwest::Request::new(self.method, answered.url().clone());
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.unwrap_or_default();
        *request.body_mut() = self.body;
        if self.timeout.is_some() {
            *request.timeout_mut() = self.timeout;
        }
        request
    }
}

/// `uri` as a URL, from its path and query resolved against `origin` (`base`'s origin as a URL)
/// if `uri` is on that origin as `base` spells it (`None` otherwise).
fn joined(origin: &reqwest::Url, base: &auth_core::BaseUrl, uri: &Uri) -> Option<reqwest::Url> {
    origin.join(base.path_on_origin(uri)?).ok()
}

/// `response` in `http` types, keeping its URL where `reqwest::Response::from` finds it again
/// (reqwest's own conversion drops it: `url()` would then show a placeholder).
fn with_url(response: reqwest::Response) -> http::Response<reqwest::Body> {
    let url = response.url().clone();
    let mut response = http::Response::from(response);
    if let Ok(carrier) = http::Response::builder().url(url).body(()) {
        response.extensions_mut().extend(carrier.into_parts().0.extensions);
    }
    response
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
    use auth_core::{Authorization, BaseUrl, Config, Password, Session};
    use proptest::prelude::*;

    proptest! {
        /// A URI on the configured origin becomes, from its path and query alone, the very URL
        /// its whole text parses to (or none where that text parses to none): dot segments,
        /// escapes, backslashes, a second slash, characters reqwest escapes.
        #[test]
        fn a_joined_url_is_the_parsed_one(
            base in prop::sample::select(vec![
                "http://127.0.0.1:8080", "https://API.Example.com", "https://api.example.com:443",
                "http://[::1]:9", "https://api.example.com/v1/",
            ]),
            path in "/[a-zA-Z0-9/\\\\.%?#&=:@!$'()*+,;~_\\-\\[\\]{}|^`\"<> ]{0,16}",
        ) {
            let Ok(uri) = format!("{}{path}", base.trim_end_matches('/')).parse::<Uri>() else {
                return Ok(()); // Not a URI: `send` never gets it.
            };
            let config = BaseUrl::parse(base).unwrap();
            let origin = reqwest::Url::parse(&config.origin()).unwrap();
            let parsed = with_uri_text(&uri, reqwest::Url::parse).ok();
            match joined(&origin, &config, &uri) {
                Some(url) => prop_assert_eq!(Some(url), parsed, "{}", uri),
                None => prop_assert!(
                    config.path_on_origin(&uri).is_none() || parsed.is_none(),
                    "joining failed for a URL reqwest takes: {}", uri
                ),
            }
        }
    }

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
