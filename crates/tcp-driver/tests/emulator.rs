//! The TCP driver against the emulator: each scenario asserts what the server saw (its journal).
//! Time moves on a manual clock, together with the emulator's: nothing sleeps for a lifetime.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use auth_core::{Config, Password, RefreshPolicy};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint, Fault, JournalEntry, Outcome};
use auth_store::{FileStore, SessionStore, StoreError};
use http::{Request, StatusCode};
use tcp_driver::{Driver, Error};

/// An hour, like the vendor's example: stale from 54 min (minus at most 30 s of jitter), cut
/// off at 59:50.
const LIFETIME: Duration = Duration::from_secs(3600);
/// Into the refresh window, well before the cutoff.
const TO_STALE: Duration = Duration::from_secs(3300);
/// Past the client's cutoff and the server's expiry.
const TO_EXPIRED: Duration = Duration::from_secs(3700);
const CALL_DATA: &str = "/reports/call-data";

struct Scenario {
    emu: Emulator,
    clock: ManualClock,
}

impl Scenario {
    fn new() -> Self {
        Self::with(Emulator::builder().token_lifetime(LIFETIME).start())
    }

    fn with(emu: Emulator) -> Self {
        Scenario { emu, clock: ManualClock::starting_now() }
    }

    /// Moves the client's clock and the server's by the same amount.
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.emu.advance_clock(by);
    }

    fn driver(&self, store: Option<&Path>) -> Driver {
        self.driver_with(RefreshPolicy::default(), store)
    }

    fn driver_with(&self, policy: RefreshPolicy, store: Option<&Path>) -> Driver {
        let config = Config::bearer(&self.emu.url(), "alice", Password::new("alice-password"));
        let config = config.refresh_policy(policy).build().unwrap();
        Driver::new(config, Arc::new(self.clock.clone()), store.map(FileStore::new)).unwrap()
    }

    /// Sends a `GET /reports/call-data` and returns its status.
    fn get(&self, driver: &Driver) -> StatusCode {
        let request = Request::get(format!("{}{CALL_DATA}", self.emu.url())).body(Vec::new()).unwrap();
        driver.send(request).unwrap().status()
    }

    fn entries(&self, endpoint: Endpoint) -> Vec<JournalEntry> {
        self.emu.journal().into_iter().filter(|e| e.endpoint == endpoint).collect()
    }

    /// No refresh token was ever presented twice.
    fn assert_no_refresh_token_reused(&self) {
        assert_eq!(self.emu.consumed_refresh_token_reuses(), 0);
        assert_eq!(self.emu.count_where(|e| e.refresh_token_already_consumed == Some(true)), 0);
        assert_eq!(self.emu.count_where(|e| e.outcome == Outcome::RefreshReused), 0);
    }
}

/// A private directory for one test's files (nextest runs each test in its own process).
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcp-driver-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `send` on `threads` threads released at once; every request must get a 200.
fn all_at_once(threads: usize, send: impl Fn(usize) -> StatusCode + Sync) {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, send) = (&barrier, &send);
                scope.spawn(move || {
                    barrier.wait();
                    send(i)
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), StatusCode::OK);
        }
    });
}

#[test]
fn the_first_request_logs_in_once_and_gets_a_200() {
    let s = Scenario::new();
    let driver = s.driver(None);
    for _ in 0..3 {
        assert_eq!(s.get(&driver), StatusCode::OK);
    }
    assert_eq!(s.emu.logins_served(), 1);
    assert_eq!(s.emu.count(Endpoint::Login), 1);
    let api = s.entries(Endpoint::Api);
    assert_eq!(api.len(), 3);
    assert!(api.iter().all(|e| e.outcome == Outcome::Ok && e.token_generation == Some(1)), "{api:?}");
}

#[test]
fn a_stale_token_serves_the_request_then_exactly_one_refresh_runs() {
    let s = Scenario::new();
    let driver = s.driver(None);
    assert_eq!(s.get(&driver), StatusCode::OK);
    s.advance(TO_STALE);

    assert_eq!(s.get(&driver), StatusCode::OK);
    let journal = s.emu.journal();
    let stale = journal.iter().rev().find(|e| e.endpoint == Endpoint::Api).unwrap();
    let refresh = journal.iter().find(|e| e.endpoint == Endpoint::Refresh).unwrap();
    assert_eq!(stale.token_generation, Some(1), "served with the old token");
    assert!(stale.seq < refresh.seq, "the request did not wait for the refresh");
    assert_eq!(refresh.outcome, Outcome::Ok);

    assert_eq!(s.get(&driver), StatusCode::OK);
    assert_eq!(s.entries(Endpoint::Api).last().unwrap().token_generation, Some(2));
    assert_eq!(s.emu.refreshes_served(), 1);
    assert_eq!(s.emu.count(Endpoint::Refresh), 1);
    assert_eq!(s.emu.logins_served(), 1);
    s.assert_no_refresh_token_reused();
}

#[test]
fn a_401_is_resent_once_with_a_new_token_and_succeeds() {
    let s = Scenario::new();
    let driver = s.driver(None);
    assert_eq!(s.get(&driver), StatusCode::OK);
    s.emu.inject(Endpoint::Api, Fault::Status(401)); // the server rejects the current token once

    let body = br#"{"to":"+15550100"}"#.to_vec();
    let request = Request::post(format!("{}/calls", s.emu.url())).header("content-type", "application/json");
    let response = driver.send(request.body(body).unwrap()).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = String::from_utf8(response.into_body()).unwrap();
    assert!(echoed.contains(r#""to":"+15550100""#), "the resend carried the body: {echoed}");
    let attempts: Vec<_> = s.entries(Endpoint::Api)[1..].iter().map(|e| (e.status, e.token_generation)).collect();
    assert_eq!(attempts, vec![(Some(401), Some(1)), (Some(200), Some(2))], "one resend, with the new token");
    assert_eq!(s.emu.refreshes_served(), 1);
    assert_eq!(s.emu.logins_served(), 1);
    s.assert_no_refresh_token_reused();
}

#[test]
fn responses_keep_their_status_headers_and_whole_body() {
    let s = Scenario::new();
    let driver = s.driver(None);
    let request = || Request::get(format!("{}{CALL_DATA}", s.emu.url())).body(Vec::new()).unwrap();
    let response = driver.send(request()).unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let length: usize = response.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert_eq!(response.body().len(), length, "the emulator sends a Content-Length, and all of it was read");
    let text = String::from_utf8(response.into_body()).unwrap();
    assert!(text.starts_with('{') && text.ends_with('}') && text.contains(r#""user":"alice""#), "{text}");

    s.emu.inject(Endpoint::Api, Fault::unavailable(2));
    let response = driver.send(request()).unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(s.emu.logins_served(), 1);
}

#[test]
fn eight_threads_across_an_expiry_make_exactly_one_refresh() {
    // A slow refresh, so that the threads really overlap it.
    let emu = Emulator::builder()
        .token_lifetime(LIFETIME)
        .endpoint_latency(Endpoint::Refresh, Duration::from_millis(150))
        .start();
    let s = Scenario::with(emu);
    let driver = s.driver(None);
    assert_eq!(s.get(&driver), StatusCode::OK);
    s.advance(TO_EXPIRED);

    all_at_once(8, |_| s.get(&driver));
    assert_eq!(s.emu.count(Endpoint::Refresh), 1, "exactly one refresh");
    assert_eq!(s.emu.refreshes_served(), 1);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
    assert_eq!(s.emu.logins_served(), 1);
    let api = s.entries(Endpoint::Api);
    assert_eq!(api.len(), 9, "no request was sent twice");
    assert!(api[1..].iter().all(|e| e.token_generation == Some(2) && e.status == Some(200)), "{api:?}");
    s.assert_no_refresh_token_reused();
}

#[test]
fn two_drivers_on_one_file_never_reuse_a_refresh_token() {
    let s = Scenario::new();
    let path = temp_dir("two-drivers").join("session.json");
    // Both start before anything is stored: the second adopts the first one's login.
    let drivers = [s.driver(Some(&path)), s.driver(Some(&path))];
    assert_eq!(s.get(&drivers[0]), StatusCode::OK);
    assert_eq!(s.get(&drivers[1]), StatusCode::OK);
    assert_eq!(s.emu.logins_served(), 1, "the second driver adopted the stored login");

    // Alternately: one refreshes, the other adopts the stored pair.
    for round in 1..=3 {
        s.advance(TO_EXPIRED);
        assert_eq!(s.get(&drivers[round % 2]), StatusCode::OK);
        assert_eq!(s.get(&drivers[(round + 1) % 2]), StatusCode::OK);
        assert_eq!(s.emu.refreshes_served(), round, "one refresh per expiry");
    }
    // Concurrently: one takes the store's lock and refreshes, the other waits and adopts.
    for round in 4..=6 {
        s.advance(TO_EXPIRED);
        all_at_once(4, |i| s.get(&drivers[i % 2]));
        assert_eq!(s.emu.refreshes_served(), round, "one refresh per expiry");
    }
    assert_eq!(s.emu.count(Endpoint::Refresh), 6);
    assert_eq!(s.emu.count(Endpoint::Login), 1, "no extra logins");
    assert!(s.entries(Endpoint::Api).iter().all(|e| e.status == Some(200)));
    s.assert_no_refresh_token_reused();
    let stored = FileStore::new(&path).load().unwrap().unwrap();
    assert_eq!(stored.generation().as_u64(), 7, "the file holds the newest pair");
}

#[test]
fn a_lost_answer_is_an_error_and_the_next_request_goes_through() {
    let s = Scenario::new();
    let driver = s.driver(None);
    assert_eq!(s.get(&driver), StatusCode::OK);
    s.emu.inject(Endpoint::Api, Fault::DropConnection);

    let request = Request::get(format!("{}{CALL_DATA}", s.emu.url())).body(Vec::new()).unwrap();
    assert!(matches!(driver.send(request), Err(Error::Transport(_))));
    assert_eq!(s.get(&driver), StatusCode::OK, "the credential came back: nothing is stuck");
    assert_eq!(s.entries(Endpoint::Api).len(), 3, "no resend of the lost request");
    assert_eq!(s.emu.logins_served(), 1);
    assert_eq!(s.emu.count(Endpoint::Refresh), 0);
}

#[test]
fn a_busy_store_fails_the_call_and_the_drop_guard_leaves_nothing_behind() {
    let s = Scenario::new();
    let path = temp_dir("busy").join("session.json");
    let policy = RefreshPolicy { auth_timeout: Duration::from_millis(200), ..RefreshPolicy::default() };
    let driver = s.driver_with(policy, Some(&path));
    assert_eq!(s.get(&driver), StatusCode::OK);
    s.advance(TO_EXPIRED);

    // Another process holds the store's lock: the call that needs a refresh gives up after
    // `auth_timeout`, through the exchange loop's early return.
    let held = FileStore::new(&path).lock(Duration::ZERO).unwrap();
    let request = Request::get(format!("{}{CALL_DATA}", s.emu.url())).body(Vec::new()).unwrap();
    assert!(matches!(driver.send(request), Err(Error::Store(StoreError::Busy { .. }))));
    assert_eq!(s.emu.count(Endpoint::Refresh), 0);
    drop(held);

    // The drive was finished by the guard: the next call drives again and succeeds.
    assert_eq!(s.get(&driver), StatusCode::OK);
    assert_eq!(s.emu.refreshes_served(), 1);
    assert_eq!(s.emu.logins_served(), 1);
    s.assert_no_refresh_token_reused();
}
