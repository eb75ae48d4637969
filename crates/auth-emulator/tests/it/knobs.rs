//! Clock offset, advancing clock and latency knobs.

use std::time::{Duration, Instant};

use auth_emulator::{Emulator, Endpoint};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{basic, call_data, login, refresh};

fn seconds_from_now(body: &serde_json::Value, field: &str) -> i64 {
    let text = body[field].as_str().expect("timestamp");
    let at = OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
    (at - OffsetDateTime::now_utc()).whole_seconds()
}

#[test]
fn clock_offset_shifts_reported_expirations_but_not_validity() {
    let emu = Emulator::builder().clock_offset(-7200).start();
    let alice = login(&emu, "alice", None);
    assert_eq!(alice.body["tokenLifetime"], 3600);
    // The server claims the token expired an hour ago...
    assert!((-3610..=-3590).contains(&seconds_from_now(&alice.body, "tokenExpiration")));
    assert!((29 * 86400 - 7210..=29 * 86400 - 7190).contains(&seconds_from_now(&alice.body, "refreshTokenExpiration")));
    // ...but it is valid.
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 200);

    emu.set_clock_offset(600);
    assert_eq!(emu.clock_offset(), 600);
    let again = login(&emu, "alice", None);
    assert!((4190..=4200).contains(&seconds_from_now(&again.body, "tokenExpiration")));
}

#[test]
fn advancing_the_clock_moves_reported_times_too() {
    let emu = Emulator::start();
    emu.advance_clock(Duration::from_secs(86400));
    let alice = login(&emu, "alice", None);
    assert!((86400 + 3590..=86400 + 3600).contains(&seconds_from_now(&alice.body, "tokenExpiration")));
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 200);
}

#[test]
fn global_latency_delays_every_request() {
    let emu = Emulator::builder().latency(Duration::from_millis(300)).start();
    let started = Instant::now();
    assert_eq!(call_data(&emu, Some(&basic("alice", "alice-password")), "").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    emu.set_latency(Duration::ZERO);
    let started = Instant::now();
    let _ = login(&emu, "alice", None);
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[test]
fn endpoint_latency_overrides_the_global_one() {
    let emu = Emulator::builder().endpoint_latency(Endpoint::Login, Duration::from_millis(300)).start();
    let started = Instant::now();
    let alice = login(&emu, "alice", None);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = Instant::now();
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));

    emu.set_endpoint_latency(Endpoint::Api, Some(Duration::from_millis(200)));
    emu.set_endpoint_latency(Endpoint::Login, None);
    let started = Instant::now();
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn a_request_hook_runs_before_each_request_to_its_endpoint_is_answered() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let emu = Emulator::start();
    let logins = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&logins);
    emu.on_request(Endpoint::Login, move || {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let tokens = login(&emu, "alice", None);
    assert_eq!(logins.load(Ordering::SeqCst), 1, "the hook ran once, before the answer came back");
    refresh(&emu, &tokens.refresh_token);
    assert_eq!(logins.load(Ordering::SeqCst), 1, "only for its endpoint");
    emu.clear_request_hook(Endpoint::Login);
    login(&emu, "alice", None);
    assert_eq!(logins.load(Ordering::SeqCst), 1, "cleared");
}
