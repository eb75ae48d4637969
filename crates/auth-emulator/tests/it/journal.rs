//! The journal, counters and the auth-concurrency high-water mark.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use auth_emulator::{AuthScheme, DEFAULT_JOURNAL_BYTE_BUDGET, Emulator, Endpoint, JOURNAL_FIELD_MAX_BYTES, Outcome};
use serde_json::json;

use crate::support::{agent, basic, call_data, login, post_json, refresh, try_refresh};

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
fn long_client_chosen_fields_are_cut_and_marked_as_truncated() {
    let emu = Emulator::start();
    let _ = call_data(&emu, None, &format!("?q={}", "é".repeat(30_000)));
    let username = "u".repeat(512 * 1024);
    let resp = post_json(&format!("{}/auth/login", emu.url()), None, &json!({"username": username, "password": "x"}));
    assert_eq!(resp.status, 401);
    let _ = call_data(&emu, None, "?short=1");

    let journal = emu.journal();
    let query = journal[0].query.as_deref().expect("query");
    assert!(query.len() <= JOURNAL_FIELD_MAX_BYTES && query.starts_with("q=") && query.ends_with('…'), "{query}");
    assert!(journal[0].truncated);
    let user = journal[1].user.as_deref().expect("user");
    assert!(user.len() <= JOURNAL_FIELD_MAX_BYTES && user.starts_with("uuu") && user.ends_with('…'));
    assert!(journal[1].truncated);
    assert_eq!(journal[2].query.as_deref(), Some("short=1"));
    assert!(!journal[2].truncated);
}

#[test]
fn the_journal_stays_within_its_byte_budget_and_the_counters_stay_exact() {
    const BUDGET: usize = 64 * 1024;
    let emu = Emulator::builder().journal_byte_budget(BUDGET).start();
    let alice = login(&emu, "alice", None);
    let next = refresh(&emu, &alice.refresh_token);
    assert_eq!(try_refresh(&emu, &alice.refresh_token).status, 401, "a reuse");
    let agent = agent();
    let query = "x".repeat(20_000);
    for n in 0..400 {
        let resp = agent.get(format!("{}/reports/call-data?n={n}&q={query}", emu.url())).call().expect("GET");
        assert_eq!(resp.status(), 401);
        assert!(emu.journal_bytes() <= BUDGET, "{} bytes after {n} requests", emu.journal_bytes());
    }
    let _ = refresh(&emu, &next.refresh_token);

    let journal = emu.journal();
    assert!(emu.journal_dropped() > 0);
    assert_eq!(journal.len() as u64 + emu.journal_dropped(), 404);
    assert_eq!(journal.last().map(|e| e.endpoint), Some(Endpoint::Refresh), "the newest entry is kept");
    assert!(journal.windows(2).all(|w| w[0].seq + 1 == w[1].seq), "the oldest are dropped first");
    // The counters still see the dropped login, refreshes and reuse.
    assert_eq!(emu.count(Endpoint::Login), 1);
    assert_eq!(emu.count(Endpoint::Refresh), 3);
    assert_eq!(emu.count(Endpoint::Api), 400);
    assert_eq!(emu.logins_served(), 1);
    assert_eq!(emu.refreshes_served(), 2);
    assert_eq!(emu.consumed_refresh_token_reuses(), 1);
    assert_eq!(emu.count_where(|e| e.endpoint == Endpoint::Login), 0, "count_where sees what is kept");

    emu.clear_journal();
    assert_eq!((emu.journal_bytes(), emu.journal_dropped(), emu.count(Endpoint::Api)), (0, 0, 0));
}

#[test]
fn the_default_emulator_has_the_default_byte_budget() {
    let emu = Emulator::start();
    assert_eq!(emu.journal_byte_budget(), DEFAULT_JOURNAL_BYTE_BUDGET);
    assert_eq!(DEFAULT_JOURNAL_BYTE_BUDGET, 8 * 1024 * 1024);
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
