//! Compile-time guarantees: every public type is `Send + Sync`, and every public future is
//! `Send` — which also proves that no `std::sync::MutexGuard` (which is `!Send`) is held across
//! an `.await` inside them.

use std::future::Future;

use auth_core::AccountId;
use auth_reqwest::{AuthMiddleware, Client, ClientBuilder, Error};

fn send_sync<T: Send + Sync>() {}
fn send_future<F: Future + Send>(_: &F) {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Client>();
    send_sync::<ClientBuilder>();
    send_sync::<AuthMiddleware>();
    send_sync::<Error>();
}

/// Never run: it only has to compile.
#[allow(dead_code, clippy::let_underscore_future)]
fn public_futures_are_send(client: Client, builder: ClientBuilder) {
    let build = builder.build();
    send_future(&build);
    let send = client.send(http::Request::new(""));
    send_future(&send);
    let execute = client.execute(reqwest::Request::new(reqwest::Method::GET, "http://127.0.0.1/".parse().unwrap()));
    send_future(&execute);
    let token = client.bearer_token();
    send_future(&token);
    let realtime = client.realtime_auth();
    send_future(&realtime);
    let switch = client.switch_account(AccountId(1));
    send_future(&switch);
}
