//! Scripted faults on every endpoint, and their before/after-effect timing.

use auth_emulator::{Emulator, Endpoint, Fault, FaultPlan, FaultTiming, Outcome};
use serde_json::{Value, json};

use crate::support::{agent, call_data, login, post_json, raw_exchange, refresh, try_refresh};

fn is_json(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok()
}

#[test]
fn a_5xx_on_refresh_is_applied_before_rotation() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Refresh, Fault::Status(502));
    let resp = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(resp.status, 502);
    assert_eq!(resp.json()["success"], false);
    // No rotation happened: the same refresh token still works.
    let _ = refresh(&emu, &alice.refresh_token);
    let faulted = &emu.journal()[1];
    assert_eq!(faulted.outcome, Outcome::Fault(Fault::Status(502)));
    assert_eq!(faulted.fault.as_ref().map(|f| f.timing), Some(FaultTiming::BeforeEffect));
    assert_eq!(faulted.status, Some(502));
    assert_eq!(faulted.user.as_deref(), Some("alice"));
    assert_eq!(faulted.refresh_token_already_consumed, Some(false));
}

/// Sends `fault` on the next refresh of a fresh session: the answer, then whether the same
/// refresh token is still good.
fn refresh_through(fault: impl Into<FaultPlan>, status: u16) -> Emulator {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Refresh, fault);
    let refused = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(refused.status, status);
    assert_eq!(refused.json()["success"], false);
    let again = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(again.status, 200, "the refresh token survived: {:?}", String::from_utf8_lossy(&again.body));
    assert_eq!(emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(emu.refreshes_served(), 1);
    let faulted = &emu.journal()[1];
    assert_eq!(faulted.fault.as_ref().map(|f| f.timing), Some(FaultTiming::BeforeEffect));
    assert_eq!(faulted.refresh_token_already_consumed, Some(false));
    emu
}

#[test]
fn a_503_on_refresh_does_not_rotate_and_the_same_refresh_token_works_after_it() {
    let emu = refresh_through(Fault::unavailable(2), 503);
    assert_eq!(emu.journal()[1].outcome, Outcome::Fault(Fault::unavailable(2)));
}

#[test]
fn a_429_on_refresh_does_not_rotate_and_the_same_refresh_token_works_after_it() {
    let emu = refresh_through(Fault::rate_limited(2), 429);
    assert_eq!(emu.journal()[1].outcome, Outcome::Fault(Fault::rate_limited(2)));
}

#[test]
fn a_429_or_503_on_refresh_never_rotates_even_when_scripted_after_effect() {
    for (fault, status) in [
        (Fault::Status(503), 503),
        (Fault::Status(429), 429),
        (Fault::unavailable(1), 503),
        (Fault::rate_limited(1), 429),
    ] {
        let _ = refresh_through(fault.after_effect(), status);
    }
}

#[test]
fn rate_limits_carry_retry_after() {
    let emu = Emulator::start();
    emu.inject(Endpoint::Login, Fault::rate_limited(7));
    emu.inject(Endpoint::Login, Fault::unavailable(3));
    let url = format!("{}/auth/login", emu.url());
    let body = json!({"username": "alice", "password": "alice-password"});
    let first = post_json(&url, None, &body);
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("7"));
    assert_eq!(first.json()["success"], false);
    let second = post_json(&url, None, &body);
    assert_eq!(second.status, 503);
    assert_eq!(second.header("retry-after"), Some("3"));
    assert!(emu.sessions().is_empty(), "before effect: no session");
    assert_eq!(post_json(&url, None, &body).status, 200);
}

#[test]
fn garbage_body_on_login_still_opens_the_session() {
    let emu = Emulator::start();
    emu.inject(Endpoint::Login, Fault::GarbageBody);
    let resp = post_json(
        &format!("{}/auth/login", emu.url()),
        None,
        &json!({"username": "alice", "password": "alice-password"}),
    );
    assert_eq!(resp.status, 200);
    assert!(!is_json(&resp.body));
    assert_eq!(emu.sessions().len(), 1, "after effect: the session exists");
    assert_eq!(emu.logins_served(), 1);
    let entry = &emu.journal()[0];
    assert_eq!(entry.outcome, Outcome::Ok);
    assert_eq!(
        entry.fault.as_ref().map(|f| (&f.fault, f.timing)),
        Some((&Fault::GarbageBody, FaultTiming::AfterEffect))
    );
}

#[test]
fn a_truncated_refresh_response_still_consumed_the_refresh_token() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Refresh, Fault::TruncatedBody);
    let resp = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(resp.status, 200);
    assert!(!is_json(&resp.body));
    assert!(String::from_utf8_lossy(&resp.body).starts_with(r#"{"success":true"#));
    assert_eq!(emu.sessions()[0].generation, 2, "rotated server-side");
    // The lost-response case: the old refresh token is now dead.
    let retry = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(retry.json()["error"], "invalid_refresh_token");
    assert_eq!(emu.consumed_refresh_token_reuses(), 1);
}

#[test]
fn an_oversized_body_is_valid_json_above_64_kib() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Api, Fault::OversizedBody);
    let resp = call_data(&emu, Some(&alice.bearer()), "");
    assert_eq!(resp.status, 200);
    assert!(resp.body.len() >= 128 * 1024);
    assert_eq!(resp.json()["served"]["user"], "alice");
}

#[test]
fn success_false_with_status_200_on_masquerade_changes_nothing() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", None);
    emu.inject(Endpoint::Masquerade, Fault::SuccessFalse);
    let resp = post_json(&format!("{}/auth/masquerade", emu.url()), Some(&bob.bearer()), &json!({"account_id": 2002}));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(emu.sessions()[0].account_id, 2001);
}

#[test]
fn a_dropped_connection_sends_no_http_response_at_all() {
    let emu = Emulator::start();
    emu.inject(Endpoint::Login, Fault::DropConnection);
    let body = r#"{"username":"alice","password":"alice-password"}"#;
    let request = format!(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = raw_exchange(emu.addr(), request.as_bytes());
    assert!(answer.is_empty(), "got {:?}", String::from_utf8_lossy(&answer));
    assert_eq!(emu.journal()[0].status, None);
    assert_eq!(emu.sessions().len(), 1, "after effect by default");

    // And through a real client: a transport error.
    emu.inject(Endpoint::Api, Fault::DropConnection);
    let result = agent().get(format!("{}/reports/call-data", emu.url())).call();
    assert!(result.is_err());
}

#[test]
fn a_dropped_refresh_has_rotated_unless_told_otherwise() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Refresh, Fault::DropConnection);
    let result =
        agent().post(format!("{}/auth/refresh", emu.url())).send_json(json!({"refresh_token": alice.refresh_token}));
    assert!(result.is_err());
    assert_eq!(try_refresh(&emu, &alice.refresh_token).status, 401);

    let bob = login(&emu, "bob", None);
    emu.inject(Endpoint::Refresh, Fault::DropConnection.before_effect());
    let result =
        agent().post(format!("{}/auth/refresh", emu.url())).send_json(json!({"refresh_token": bob.refresh_token}));
    assert!(result.is_err());
    assert_eq!(try_refresh(&emu, &bob.refresh_token).status, 200);
}

#[test]
fn faults_are_consumed_in_order_and_counted() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Api, Fault::Status(500).times(2));
    emu.inject(Endpoint::Api, Fault::SuccessFalse);
    emu.inject(Endpoint::Login, Fault::Status(503));
    assert_eq!(emu.pending_faults(Endpoint::Api), 3);
    let statuses: Vec<(u16, bool)> = (0..4)
        .map(|_| {
            let r = call_data(&emu, Some(&alice.bearer()), "");
            (r.status, r.json()["success"] == true)
        })
        .collect();
    assert_eq!(statuses, [(500, false), (500, false), (200, false), (200, true)]);
    assert_eq!(emu.pending_faults(Endpoint::Api), 0);
    assert_eq!(emu.pending_faults(Endpoint::Login), 1);
    emu.clear_faults();
    assert_eq!(emu.pending_faults(Endpoint::Login), 0);
    let _ = login(&emu, "alice", None);
}

#[test]
fn faults_can_be_scripted_at_start_and_with_explicit_timing() {
    let emu = Emulator::builder().fault(Endpoint::Refresh, Fault::Status(500).after_effect()).start();
    let alice = login(&emu, "alice", None);
    assert_eq!(try_refresh(&emu, &alice.refresh_token).status, 500);
    // After effect: it rotated although the client saw a 500.
    assert_eq!(try_refresh(&emu, &alice.refresh_token).status, 401);
    assert_eq!(emu.refreshes_served(), 1);
}
