//! The blocking adapter's driver: `auth_ureq::Client`, clones on threads for bursts.

use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AccountId, Config, Snapshot, verify};
use auth_driver::ManualClock;
use auth_store::SessionStore;
use auth_ureq::{Client, Error};
use serde_json::Value;

use crate::driver::{Adapter, ApiRequest, ApiResponse, Driver, Failure, Issued, auth_kind};
use crate::scenario::ErrorKind;

/// `auth-ureq`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ureq;

impl Adapter for Ureq {
    fn name(&self) -> &'static str {
        "ureq"
    }

    fn connect(
        &self,
        config: Config,
        clock: ManualClock,
        store: Arc<dyn SessionStore>,
    ) -> Result<Box<dyn Driver>, Failure> {
        let client = Client::builder(config)
            .clock(Arc::new(clock.clone()))
            .store(store)
            .seed(7)
            .build()
            .map_err(|e| failure(&e))?;
        Ok(Box::new(UreqDriver { client, clock }))
    }
}

/// A `auth_ureq::Client` under test.
#[derive(Debug)]
struct UreqDriver {
    client: Client,
    clock: ManualClock,
}

fn failure(error: &Error) -> Failure {
    let kind = match error {
        Error::Transport(_) => ErrorKind::Transport,
        Error::Auth(auth) => auth_kind(auth),
        Error::Store(_) => ErrorKind::Store,
        Error::Config(_) => ErrorKind::Config,
        Error::Restore(_) => ErrorKind::Restore,
        _ => ErrorKind::Unknown,
    };
    Failure::new(error, kind)
}

fn transport(error: &auth_ureq::ureq::Error) -> Failure {
    Failure::new(error, ErrorKind::Transport)
}

fn send_with(client: &Client, request: &ApiRequest) -> Result<ApiResponse, Failure> {
    let builder = http::Request::builder().method(request.method.clone()).uri(&request.url);
    let response = match &request.body {
        Some(body) => {
            let request = builder.header("content-type", "application/json").body(body.clone());
            client.send(request.map_err(|e| Failure::new(&e, ErrorKind::Unknown))?)
        }
        None => client.send(builder.body(()).map_err(|e| Failure::new(&e, ErrorKind::Unknown))?),
    };
    let mut response = response.map_err(|e| failure(&e))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().map_err(|e| transport(&e))?;
    Ok(ApiResponse { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) })
}

impl Driver for UreqDriver {
    fn send(&mut self, request: ApiRequest) -> Result<ApiResponse, Failure> {
        send_with(&self.client, &request)
    }

    fn send_on(&mut self, account: u64, request: ApiRequest) -> Result<ApiResponse, Failure> {
        send_with(&self.client.on_account(AccountId(account)), &request)
    }

    fn send_concurrently(&mut self, request: ApiRequest, count: usize) -> Vec<Result<ApiResponse, Failure>> {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..count)
                .map(|_| {
                    let (client, request) = (self.client.clone(), &request);
                    scope.spawn(move || send_with(&client, request))
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        })
    }

    fn bearer_token(&mut self) -> Result<Issued, Failure> {
        let token = self.client.bearer_token().map_err(|e| failure(&e))?;
        Ok(Issued { text: token.expose_secret().to_owned(), debug: format!("{token:?}") })
    }

    fn realtime_auth(&mut self) -> Result<RealtimeAuthRequest, Failure> {
        self.client.realtime_auth().map_err(|e| failure(&e))
    }

    fn switch_account(&mut self, account: u64) -> Result<(), Failure> {
        self.client.switch_account(AccountId(account)).map(drop).map_err(|e| failure(&e))
    }

    fn verify(&mut self, config: &Config) -> Result<(), Failure> {
        let request = verify::request(config).map_err(|e| Failure::new(&e, ErrorKind::Config))?;
        let mut response = self.client.agent().run(request).map_err(|e| transport(&e))?;
        let body = response.body_mut().read_to_vec().map_err(|e| transport(&e))?;
        let (parts, _) = response.into_parts();
        let answer = http::Response::from_parts(parts, body);
        verify::handle_response(config, &answer, auth_driver::Clock::now(&self.clock).wall())
            .map_err(|e| Failure::new(&e, auth_kind(&e)))
    }

    fn snapshot(&self) -> Option<Snapshot> {
        self.client.session().snapshot()
    }

    fn debug(&self) -> String {
        format!("{:?} {:?}", self.client, self.client.middleware())
    }
}
