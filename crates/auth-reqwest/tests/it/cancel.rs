//! Cancel safety: a caller dropped while it drives a login/refresh never wedges the session.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};
use http::StatusCode;
use tokio::sync::Notify;

use crate::support::{Harness, PAST_EXPIRY};

/// The emulator's refresh endpoint held: each refresh that arrives says so
/// ([`arrived`](Held::arrived)) and is answered only once the test [`release`](Held::release)s
/// it (or drops this), so "while the refresh is on the wire" holds however slow the machine.
struct Held<'a> {
    emu: &'a Emulator,
    arrived: Arc<Notify>,
    released: Arc<(Mutex<bool>, Condvar)>,
}

impl<'a> Held<'a> {
    fn refresh(emu: &'a Emulator) -> Self {
        let (arrived, released) = (Arc::new(Notify::new()), Arc::new((Mutex::new(false), Condvar::new())));
        let hook = (Arc::clone(&arrived), Arc::clone(&released));
        emu.on_request(Endpoint::Refresh, move || {
            hook.0.notify_one();
            let (lock, released) = &*hook.1;
            // Bounded, so that a failing test cannot hang the emulator's thread for good.
            let held = lock.lock().unwrap();
            drop(released.wait_timeout_while(held, Duration::from_secs(30), |released| !*released).unwrap());
        });
        Held { emu, arrived, released }
    }

    async fn arrived(&self) {
        self.arrived.notified().await;
    }

    fn release(&self) {
        *self.released.0.lock().unwrap() = true;
        self.released.1.notify_all();
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.release();
        self.emu.clear_request_hook(Endpoint::Refresh);
    }
}

#[tokio::test]
async fn a_send_dropped_mid_refresh_leaves_the_session_usable() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);

    let held = Held::refresh(&h.emu);
    h.advance(PAST_EXPIRY);
    // This send drives the refresh; it is dropped while the refresh is on the wire.
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let mut send = Box::pin(client.send(request));
    tokio::select! {
        _ = &mut send => panic!("answered while its refresh is held"),
        () = held.arrived() => {}
    }
    drop(send);
    held.release();

    // The next send is not wedged: it gets the refreshed token.
    let next = tokio::time::timeout(Duration::from_secs(10), h.report(&client)).await.expect("not wedged");
    assert_eq!(next.0, StatusCode::OK);
    // The exchange ran to completion on its own task: its rotated pair was kept, so no
    // second refresh, no new login, and the spent refresh token was never presented again.
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    assert_eq!(h.emu.logins_served(), 1);
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2)]);
}

#[tokio::test]
async fn a_waiter_dropped_while_another_task_drives_changes_nothing() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    let held = Held::refresh(&h.emu);
    h.advance(PAST_EXPIRY);

    let driver = {
        let client = client.clone();
        let url = h.url("/reports/call-data");
        tokio::spawn(async move {
            let request = http::Request::get(url).body("").unwrap();
            client.send(request).await.map(|r| r.status())
        })
    };
    held.arrived().await; // The driver's refresh is on the wire, and stays there.
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), client.send(request)).await.is_err(),
        "the waiter cannot be answered before the refresh, which is held: it is cancelled waiting"
    );
    held.release();
    assert_eq!(driver.await.unwrap().unwrap(), StatusCode::OK);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
}

/// The other half of the guarantee: if the exchange's own task is dropped (here: its runtime
/// shuts down mid-refresh), its drop guard reports the failure, so the next caller — on
/// another runtime — proceeds instead of waiting for an answer that will never come.
#[test]
fn an_exchange_task_dropped_with_its_runtime_is_reported_and_the_next_caller_proceeds() {
    let emu = Emulator::builder().endpoint_latency(Endpoint::Refresh, Duration::from_millis(500)).start();
    let clock = auth_driver::ManualClock::starting_now();
    let advance = |secs: u64| {
        clock.advance(Duration::from_secs(secs));
        emu.advance_clock(Duration::from_secs(secs));
    };
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config =
        auth_core::Config::bearer(&emu.url(), "alice", auth_core::Password::new(crate::support::ALICE_PASSWORD))
            .build()
            .unwrap();
    // No idle connections kept: none of them would survive the first runtime.
    let http = auth_reqwest::http_client_builder(&config).pool_max_idle_per_host(0).build().unwrap();
    let url = format!("{}/reports/call-data", emu.url());
    let get = || http::Request::get(url.clone()).body("").unwrap();

    let first = runtime();
    let client = first.block_on(async {
        let client = auth_reqwest::Client::builder(config)
            .clock(std::sync::Arc::new(clock.clone()))
            .http(http)
            .seed(7)
            .build()
            .await
            .unwrap();
        assert_eq!(client.send(get()).await.unwrap().status(), StatusCode::OK);
        client
    });
    advance(PAST_EXPIRY);
    first.block_on(async {
        let cancelled = tokio::time::timeout(Duration::from_millis(100), client.send(get())).await;
        assert!(cancelled.is_err());
    });
    drop(first); // The refresh task dies with its runtime, mid-flight.

    let second = runtime();
    second.block_on(async {
        // The failure was reported: the core backs off (at most 1 s) instead of waiting for
        // the lost answer until its 30 s deadline.
        advance(2);
        let response =
            tokio::time::timeout(Duration::from_secs(10), client.send(get())).await.expect("not wedged").unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    });
    // The refresh token went out with the lost request, so the session logged in again
    // rather than present it twice.
    assert_eq!(emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(emu.count(Endpoint::Login), 2);
}
