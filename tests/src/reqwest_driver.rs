//! The async adapter's driver: `auth_reqwest::Client` on a current-thread runtime the driver
//! owns, each step `block_on`ed; bursts are spawned tasks.

use std::sync::Arc;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{AccountId, Config, Snapshot, verify};
use auth_driver::ManualClock;
use auth_reqwest::{Client, Error};
use auth_store::SessionStore;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::driver::{Adapter, ApiRequest, ApiResponse, Driver, Failure, Issued, auth_kind};
use crate::scenario::ErrorKind;

/// `auth-reqwest`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reqwest;

impl Adapter for Reqwest {
    fn name(&self) -> &'static str {
        "reqwest"
    }

    fn connect(
        &self,
        config: Config,
        clock: ManualClock,
        store: Arc<dyn SessionStore>,
    ) -> Result<Box<dyn Driver>, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(&e, ErrorKind::Unknown))?;
        let builder = Client::builder(config).clock(Arc::new(clock.clone())).store(store).seed(7);
        let client = runtime.block_on(builder.build()).map_err(|e| failure(&e))?;
        Ok(Box::new(ReqwestDriver { client, clock, runtime }))
    }
}

/// An `auth_reqwest::Client` under test, with the runtime it runs on. Field order matters:
/// the client is dropped before its runtime.
#[derive(Debug)]
struct ReqwestDriver {
    client: Client,
    clock: ManualClock,
    runtime: Runtime,
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

fn transport(error: &auth_reqwest::reqwest::Error) -> Failure {
    Failure::new(error, ErrorKind::Transport)
}

async fn send_with(client: Client, request: ApiRequest) -> Result<ApiResponse, Failure> {
    let builder = http::Request::builder().method(request.method).uri(&request.url);
    let builder = match &request.body {
        Some(_) => builder.header("content-type", "application/json"),
        None => builder,
    };
    let request = builder.body(request.body.unwrap_or_default()).map_err(|e| Failure::new(&e, ErrorKind::Unknown))?;
    let response = client.send(request).await.map_err(|e| failure(&e))?;
    let response = auth_reqwest::reqwest::Response::from(response);
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| transport(&e))?;
    Ok(ApiResponse { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) })
}

impl Driver for ReqwestDriver {
    fn send(&mut self, request: ApiRequest) -> Result<ApiResponse, Failure> {
        self.runtime.block_on(send_with(self.client.clone(), request))
    }

    fn send_on(&mut self, account: u64, request: ApiRequest) -> Result<ApiResponse, Failure> {
        self.runtime.block_on(send_with(self.client.on_account(AccountId(account)), request))
    }

    fn send_concurrently(&mut self, request: ApiRequest, count: usize) -> Vec<Result<ApiResponse, Failure>> {
        self.runtime.block_on(async {
            let tasks: Vec<_> =
                (0..count).map(|_| tokio::spawn(send_with(self.client.clone(), request.clone()))).collect();
            let mut results = Vec::with_capacity(count);
            for task in tasks {
                results.push(task.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
            }
            results
        })
    }

    fn bearer_token(&mut self) -> Result<Issued, Failure> {
        let token = self.runtime.block_on(self.client.bearer_token()).map_err(|e| failure(&e))?;
        Ok(Issued { text: token.expose_secret().to_owned(), debug: format!("{token:?}") })
    }

    fn realtime_auth(&mut self) -> Result<RealtimeAuthRequest, Failure> {
        self.runtime.block_on(self.client.realtime_auth()).map_err(|e| failure(&e))
    }

    fn switch_account(&mut self, account: u64) -> Result<(), Failure> {
        self.runtime.block_on(self.client.switch_account(AccountId(account))).map(drop).map_err(|e| failure(&e))
    }

    fn verify(&mut self, config: &Config) -> Result<(), Failure> {
        let request = verify::request(config).map_err(|e| Failure::new(&e, ErrorKind::Config))?;
        let request = auth_reqwest::reqwest::Request::try_from(request).map_err(|e| transport(&e))?;
        let http = self.client.http_client().clone();
        let answer = self.runtime.block_on(async move {
            let response = http.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?.to_vec();
            Ok::<_, auth_reqwest::reqwest::Error>(answer.body(body))
        });
        let answer = answer.map_err(|e| transport(&e))?.map_err(|e| Failure::new(&e, ErrorKind::Unknown))?;
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
