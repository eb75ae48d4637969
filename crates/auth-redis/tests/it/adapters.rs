//! Through both adapters, against the emulator: one session shared through Redis by a blocking
//! and an async client, a Redis that goes away and comes back, and an async runtime that never
//! waits for Redis. Time moves by hand (a manual clock shared by the clients, and the
//! emulator's), never by sleeping for a token's lifetime.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth_core::{Config, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint};
use auth_redis::RedisStore;
use auth_redis::testing::RedisServer;
use auth_store::SessionStore;
use http::StatusCode;

use crate::support::*;

/// An hour, like the vendor's example.
const LIFETIME: Duration = Duration::from_secs(3600);
/// Into the refresh window, with the token still valid.
const TO_STALE: Duration = Duration::from_secs(3300);
/// Past the client's cutoff and the server's expiry.
const TO_EXPIRED: Duration = Duration::from_secs(3700);
const CALL_DATA: &str = "/reports/call-data";

struct Fleet {
    emu: Emulator,
    clock: ManualClock,
    redis: RedisServer,
}

impl Fleet {
    fn new() -> Fleet {
        Fleet {
            emu: Emulator::builder().token_lifetime(LIFETIME).start(),
            clock: ManualClock::starting_now(),
            redis: server(),
        }
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.emu.advance_clock(by);
    }

    fn config(&self) -> Config {
        Config::bearer(&self.emu.url(), "alice", Password::new("alice-password")).build().unwrap()
    }

    /// A store on the fleet's Redis, standing for one host.
    fn store(&self) -> Arc<dyn SessionStore> {
        Arc::new(self.redis_store())
    }

    fn redis_store(&self) -> RedisStore {
        builder(&self.redis).timeout(Duration::from_secs(2)).build(&self.config()).unwrap()
    }

    fn blocking(&self) -> auth_ureq::Client {
        auth_ureq::Client::builder(self.config())
            .clock(Arc::new(self.clock.clone()))
            .seed(7)
            .store(self.store())
            .build()
            .unwrap()
    }

    async fn nonblocking(&self) -> auth_reqwest::Client {
        auth_reqwest::Client::builder(self.config())
            .clock(Arc::new(self.clock.clone()))
            .seed(8)
            .store(self.store())
            .build()
            .await
            .unwrap()
    }

    fn request(&self) -> http::Request<()> {
        http::Request::get(format!("{}{CALL_DATA}", self.emu.url())).body(()).unwrap()
    }

    fn async_request(&self) -> http::Request<&'static str> {
        http::Request::get(format!("{}{CALL_DATA}", self.emu.url())).body("").unwrap()
    }

    fn stored_generation(&self) -> u64 {
        self.redis_store().load().unwrap().expect("a stored session").generation().as_u64()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn a_blocking_and_an_async_client_share_one_session_through_redis() {
    let fleet = Fleet::new();
    let runtime = runtime();
    let blocking = fleet.blocking();
    assert_eq!(blocking.send(fleet.request()).unwrap().status(), StatusCode::OK);
    let nonblocking = runtime.block_on(fleet.nonblocking());
    let status = runtime.block_on(nonblocking.send(fleet.async_request())).unwrap().status();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fleet.emu.count(Endpoint::Login), 1, "the async client continued the stored session");

    for round in 1..=3 {
        fleet.advance(TO_EXPIRED);
        // Both at once: one refreshes, the other waits for the lease and adopts the new pair.
        std::thread::scope(|scope| {
            let other = scope.spawn(|| blocking.send(fleet.request()).map(|r| r.status()));
            let status = runtime.block_on(nonblocking.send(fleet.async_request())).map(|r| r.status());
            assert_eq!(status.unwrap(), StatusCode::OK);
            assert_eq!(other.join().unwrap().unwrap(), StatusCode::OK);
        });
        assert_eq!(fleet.emu.count(Endpoint::Refresh), round, "one refresh per expiry");
        assert_eq!(fleet.stored_generation(), round as u64 + 1);
    }
    assert_eq!(fleet.emu.count(Endpoint::Login), 1, "one login in all");
    assert_eq!(fleet.emu.count_where(|e| e.endpoint == Endpoint::Refresh && e.status != Some(200)), 0);
    assert!(blocking.session().last_store_error().is_none());
    assert!(nonblocking.session().last_store_error().is_none());
}

#[test]
fn with_redis_down_a_valid_token_keeps_serving_and_the_store_error_is_reported() {
    let mut fleet = Fleet::new();
    let client = fleet.blocking();
    assert_eq!(client.send(fleet.request()).unwrap().status(), StatusCode::OK);

    fleet.redis.stop();
    fleet.advance(TO_STALE);
    // A refresh is due, but the lease cannot be taken: the token still valid serves.
    for _ in 0..3 {
        assert_eq!(client.send(fleet.request()).unwrap().status(), StatusCode::OK);
    }
    let error = client.session().last_store_error().expect("the store's failure is reported");
    // (auth-driver keeps a copy of a failed lock's error; for the variants it does not copy
    // field by field, the copy keeps the message.)
    let message = error.to_string();
    assert!(message.contains("cannot lock the session: Connection refused"), "{message}");
    assert!(message.contains("tokens in memory keep serving"), "{message}");
    assert_eq!(fleet.emu.count(Endpoint::Refresh), 0, "no refresh without the lease");

    fleet.redis.restart().unwrap();
    fleet.advance(TO_EXPIRED - TO_STALE);
    assert_eq!(client.send(fleet.request()).unwrap().status(), StatusCode::OK);
    assert_eq!(fleet.emu.count(Endpoint::Refresh), 1, "refreshed through Redis once it was back");
    assert_eq!(fleet.emu.count(Endpoint::Login), 1);
    assert_eq!(fleet.stored_generation(), 2, "the new pair is in Redis");
    assert!(client.session().last_store_error().is_none(), "cleared by the successful save");
}

#[test]
fn an_async_client_on_a_current_thread_runtime_never_waits_for_a_stuck_redis() {
    let fleet = Fleet::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = runtime.block_on(fleet.nonblocking());
    let status = runtime.block_on(client.send(fleet.async_request())).unwrap().status();
    assert_eq!(status, StatusCode::OK);

    // Redis stops answering for less than the timeout (2 s) while the client must refresh.
    fleet.advance(TO_EXPIRED);
    fleet.redis.pause().unwrap();
    let pid = fleet.redis.pid();
    let resumer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        std::process::Command::new("kill").args(["-CONT", &pid.to_string()]).status().unwrap();
        Instant::now()
    });
    let ticks = AtomicUsize::new(0);
    let (status, done) = runtime.block_on(async {
        let request = async {
            let status = client.send(fleet.async_request()).await.map(|r| r.status());
            (status, Instant::now())
        };
        let ticker = async {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        };
        tokio::select! {
            outcome = request => outcome,
            () = ticker => unreachable!(),
        }
    });
    let resumed = resumer.join().unwrap();
    assert_eq!(status.unwrap(), StatusCode::OK);
    assert!(done >= resumed, "the request waited for Redis");
    // The same thread ran the ticker all along: about 50 ticks in 500 ms.
    assert!(ticks.load(Ordering::Relaxed) >= 20, "ticks: {}", ticks.load(Ordering::Relaxed));
    assert_eq!(fleet.emu.count(Endpoint::Refresh), 1);
}
