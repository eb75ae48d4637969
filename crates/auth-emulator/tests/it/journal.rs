//! The journal, counters and the auth-concurrency high-water mark.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use auth_emulator::{AuthScheme, Emulator, Endpoint, Outcome};

use crate::support::{basic, call_data, login, refresh};

#[test]
fn every_request_is_journaled_with_who_and_what() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", Some(2002));
    let _ = call_data(&emu, Some(&bob.bearer()), "?from=2024-01-01");
    let _ = call_data(&emu, None, "");

    let journal = emu.journal();
    assert_eq!(journal.len(), 3);
    let [login_entry, api, anonymous] = &journal[..] else {
        panic!("three entries expected");
    };
    assert_eq!(login_entry.endpoint, Endpoint::Login);
    assert_eq!(login_entry.method, "POST");
    assert_eq!(login_entry.path, "/auth/login");
    assert_eq!(login_entry.user.as_deref(), Some("bob"));
    assert_eq!(login_entry.account_id, Some(2002));
    assert_eq!(login_entry.token_generation, Some(1));
    assert_eq!(login_entry.status, Some(200));
    assert!(!login_entry.authorization_present);

    assert_eq!(api.endpoint, Endpoint::Api);
    assert_eq!(api.method, "GET");
    assert_eq!(api.path, "/reports/call-data");
    assert_eq!(api.query.as_deref(), Some("from=2024-01-01"));
    assert!(api.authorization_present);
    assert_eq!(api.scheme, AuthScheme::Bearer);
    assert_eq!(api.user.as_deref(), Some("bob"));
    assert_eq!(api.account_id, Some(2002));
    assert_eq!(api.token_generation, Some(1));
    assert_eq!(api.outcome, Outcome::Ok);
    assert_eq!(api.fault, None);
    assert_eq!(api.refresh_token_already_consumed, None);

    assert!(!anonymous.authorization_present);
    assert_eq!(anonymous.scheme, AuthScheme::None);
    assert_eq!(anonymous.status, Some(401));

    assert!(journal.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at));
}

#[test]
fn counters_follow_the_journal_and_clear_with_it() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let next = refresh(&emu, &alice.refresh_token);
    let _ = refresh(&emu, &next.refresh_token);
    let _ = call_data(&emu, Some(&basic("alice", "alice-password")), "");
    assert_eq!(emu.count(Endpoint::Login), 1);
    assert_eq!(emu.count(Endpoint::Refresh), 2);
    assert_eq!(emu.count(Endpoint::Api), 1);
    assert_eq!(emu.logins_served(), 1);
    assert_eq!(emu.refreshes_served(), 2);
    assert_eq!(emu.count_where(|e| e.scheme == AuthScheme::Basic), 1);

    let last_seq = emu.journal().last().map(|e| e.seq).expect("entries");
    emu.clear_journal();
    assert!(emu.journal().is_empty());
    assert_eq!(emu.count(Endpoint::Refresh), 0);
    let _ = login(&emu, "alice", None);
    assert_eq!(emu.journal()[0].seq, last_seq + 1);
}

#[test]
fn journal_limit_keeps_the_newest_entries() {
    let emu = Emulator::builder().journal_limit(2).start();
    for _ in 0..3 {
        let _ = call_data(&emu, None, "");
    }
    let seqs: Vec<u64> = emu.journal().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn sequential_auth_requests_never_overlap() {
    let emu = Emulator::builder().endpoint_latency(Endpoint::Login, Duration::from_millis(20)).start();
    let alice = login(&emu, "alice", None);
    let _ = refresh(&emu, &alice.refresh_token);
    let _ = login(&emu, "bob", None);
    assert_eq!(emu.max_concurrent_auth(), 1);
}

#[test]
fn concurrent_auth_requests_are_measured() {
    let emu = Arc::new(Emulator::builder().endpoint_latency(Endpoint::Login, Duration::from_millis(500)).start());
    let barrier = Arc::new(Barrier::new(3));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let emu = Arc::clone(&emu);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                login(&emu, "alice", None);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("login thread");
    }
    assert_eq!(emu.max_concurrent_auth(), 3);
    // API calls do not count.
    emu.clear_journal();
    assert_eq!(emu.max_concurrent_auth(), 0);
}
