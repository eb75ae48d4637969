//! No error the adapter produces shows a secret in its `Display` or `Debug`.

use std::sync::Arc;

use auth_core::{AccountId, Config, Password};
use auth_emulator::Endpoint;
use auth_reqwest::{Client, Error};
use auth_store::{MemoryStore, SessionStore, Snapshot, StoreError, StoreGuard};
use http::StatusCode;

use crate::support::{ALICE_PASSWORD, BOB_PASSWORD, Harness, INTEGRATOR_PASSWORD};

#[derive(Debug)]
struct LockFails;

impl SessionStore for LockFails {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Snapshot) -> Result<(), StoreError> {
        Ok(())
    }
    fn lock(&self, _: std::time::Duration) -> Result<StoreGuard, StoreError> {
        Err(StoreError::Io { operation: "lock", path: "/nowhere".into(), source: std::io::Error::other("denied") })
    }
}

/// `Display`, `Debug` and the whole `source()` chain.
fn shown(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error} | {error:?}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause} | {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn no_error_shows_a_password_or_a_token() {
    let h = Harness::new();
    let mut errors: Vec<Error> = Vec::new();
    let get = |path: &str| http::Request::get(h.url(path)).body("").unwrap();

    // A live session, to have a token that must not leak.
    let alice = h.client(h.alice()).await;
    assert_eq!(h.report(&alice).await.0, StatusCode::OK);
    let token = alice.bearer_token().await.unwrap();
    let token = token.expose_secret().to_owned();

    // ForeignOrigin.
    errors.push(alice.send(http::Request::get("http://127.0.0.1:9/x").body("").unwrap()).await.unwrap_err());
    // CredentialsRejected (the server's message is kept, redacted).
    let wrong = h.client(Config::bearer(&h.emu.url(), "alice", Password::new("wrong-password"))).await;
    errors.push(wrong.send(get("/reports/call-data")).await.unwrap_err());
    // AccountSwitchRejected.
    let bob = h.client(h.bob()).await;
    assert_eq!(h.report(&bob).await.0, StatusCode::OK);
    errors.push(bob.switch_account(AccountId(9999)).await.unwrap_err());
    // AccountRequired, RequiresBearer.
    let integrator = h.client(h.integrator(None)).await;
    errors.push(integrator.send(get("/reports/call-data")).await.unwrap_err());
    errors.push(integrator.realtime_auth().await.unwrap_err());
    // Transport: nothing listens on the configured API's port.
    let closed = auth_emulator::Emulator::start();
    let closed_url = closed.url();
    drop(closed);
    let basic_nowhere = h.client(Config::basic(&closed_url, "alice", Password::new(ALICE_PASSWORD))).await;
    let transport = basic_nowhere
        .send(http::Request::get(format!("{closed_url}/reports/call-data")).body("").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(transport, Error::Transport(_)), "{transport:?}");
    errors.push(transport);
    // Unavailable: the login itself cannot reach the server.
    let bearer_nowhere = h.client(Config::bearer(&closed_url, "alice", Password::new(ALICE_PASSWORD))).await;
    errors
        .push(bearer_nowhere.send(http::Request::get(format!("{closed_url}/r")).body("").unwrap()).await.unwrap_err());
    // Store.
    let locked_out = h.client_with_store(h.alice(), Arc::new(LockFails)).await;
    errors.push(locked_out.send(get("/reports/call-data")).await.unwrap_err());
    // Config.
    errors.push(h.builder(Config::bearer_without_password(&h.emu.url(), "alice")).build().await.unwrap_err());
    // Restore.
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let stored = h.client_with_store(h.alice(), store.clone()).await;
    assert_eq!(h.report(&stored).await.0, StatusCode::OK);
    errors.push(h.builder(h.bob()).store(store).build().await.unwrap_err());

    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Transport(_) => "transport",
            Error::Auth(_) => "auth",
            Error::Store(_) => "store",
            Error::Config(_) => "config",
            Error::Restore(_) => "restore",
            _ => "other",
        })
        .collect();
    for kind in ["transport", "auth", "store", "config", "restore"] {
        assert!(kinds.contains(&kind), "no {kind} error produced: {kinds:?}");
    }

    // Through the middleware, too.
    let stack = reqwest_middleware::ClientBuilder::new(reqwest::Client::clone(integrator.http_client()))
        .with(integrator.middleware())
        .build();
    let wrapped = stack.get(h.url("/reports/call-data")).send().await.unwrap_err();

    let basic_header = "YWxpY2U6YWxpY2UtcGFzc3dvcmQ"; // base64("alice:alice-password")
    let secrets = [ALICE_PASSWORD, BOB_PASSWORD, INTEGRATOR_PASSWORD, "wrong-password", basic_header, token.as_str()];
    let mut texts: Vec<String> = errors.iter().map(|e| shown(e)).collect();
    texts.push(shown(&wrapped));
    texts.push(format!("{alice:?} {bob:?} {stored:?}"));
    texts.push(format!("{:?}", alice.middleware()));
    for text in &texts {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} leaked in: {text}");
        }
    }
    assert!(h.emu.count(Endpoint::Login) >= 3);
}

#[tokio::test]
async fn the_client_and_its_snapshot_debug_show_no_token() {
    let h = Harness::new();
    let client: Client = h.client(h.alice()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    let token = client.bearer_token().await.unwrap();
    let shown = format!("{client:?} {:?} {token:?}", client.session().snapshot());
    assert!(!shown.contains(token.expose_secret()), "{shown}");
    assert!(!shown.contains(ALICE_PASSWORD));
}
