//! `POST /auth/refresh` (SPEC §3), token expiry and revocation.

use std::time::Duration;

use auth_emulator::{Emulator, Endpoint, ExpiredTokenStatus, Outcome};

use crate::support::{call_data, login, post_form, refresh, try_refresh};

#[test]
fn refresh_rotates_both_tokens_and_kills_the_old_pair() {
    let emu = Emulator::start();
    let first = login(&emu, "alice", None);
    let second = refresh(&emu, &first.refresh_token);
    assert_ne!(second.token, first.token);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(second.body["guid"], first.body["guid"], "same session");
    assert_eq!(second.body["tokenLifetime"], 3600);

    let served = call_data(&emu, Some(&second.bearer()), "").json();
    assert_eq!(served["served"]["token_generation"], 2);

    let old = call_data(&emu, Some(&first.bearer()), "");
    assert_eq!(old.status, 401);
    assert_eq!(emu.journal().last().map(|e| e.outcome.clone()), Some(Outcome::SupersededToken));

    let third = refresh(&emu, &second.refresh_token);
    let served = call_data(&emu, Some(&third.bearer()), "").json();
    assert_eq!(served["served"]["token_generation"], 3);
    assert_eq!(emu.refreshes_served(), 2);
}

#[test]
fn a_consumed_refresh_token_is_rejected_and_recorded() {
    let emu = Emulator::start();
    let first = login(&emu, "alice", None);
    let second = refresh(&emu, &first.refresh_token);
    assert_eq!(emu.consumed_refresh_token_reuses(), 0);

    let reuse = try_refresh(&emu, &first.refresh_token);
    assert_eq!(reuse.status, 401);
    assert_eq!(reuse.json()["success"], false);
    assert_eq!(reuse.json()["error"], "invalid_refresh_token");
    let entry = emu.journal().pop().expect("entry");
    assert_eq!(entry.outcome, Outcome::RefreshReused);
    assert_eq!(entry.refresh_token_already_consumed, Some(true));
    assert_eq!(entry.user.as_deref(), Some("alice"));
    assert_eq!(emu.consumed_refresh_token_reuses(), 1);

    // The session itself is unharmed by default.
    assert_eq!(call_data(&emu, Some(&second.bearer()), "").status, 200);
}

#[test]
fn reuse_can_revoke_the_whole_session() {
    let emu = Emulator::builder().revoke_session_on_refresh_reuse(true).start();
    let first = login(&emu, "alice", None);
    let second = refresh(&emu, &first.refresh_token);
    assert_eq!(try_refresh(&emu, &first.refresh_token).status, 401);
    assert_eq!(call_data(&emu, Some(&second.bearer()), "").status, 401);
    assert_eq!(try_refresh(&emu, &second.refresh_token).status, 401);
    assert!(emu.sessions()[0].revoked);
}

#[test]
fn refresh_keeps_the_sessions_account() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", Some(2002));
    let next = refresh(&emu, &bob.refresh_token);
    assert_eq!(call_data(&emu, Some(&next.bearer()), "").json()["served"]["account_id"], 2002);
}

#[test]
fn refresh_accepts_form_bodies() {
    let emu = Emulator::start();
    let first = login(&emu, "alice", None);
    let resp =
        post_form(&format!("{}/auth/refresh", emu.url()), None, &format!("refresh_token={}", first.refresh_token));
    assert_eq!(resp.status, 200);
    assert!(resp.json()["refreshToken"].is_string());
}

#[test]
fn unknown_and_missing_refresh_tokens() {
    let emu = Emulator::start();
    let unknown = try_refresh(&emu, "no-such-token");
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"], "invalid_refresh_token");
    assert_eq!(emu.journal()[0].outcome, Outcome::RefreshUnknown);
    assert_eq!(emu.journal()[0].refresh_token_already_consumed, Some(false));

    let missing = post_form(&format!("{}/auth/refresh", emu.url()), None, "");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["errors"], serde_json::json!(["refresh_token"]));
}

#[test]
fn tokens_expire_when_the_server_clock_is_advanced() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.advance_clock(Duration::from_secs(3599));
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 200);
    emu.advance_clock(Duration::from_secs(2));
    let expired = call_data(&emu, Some(&alice.bearer()), "");
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json()["error"], "token_expired");
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ExpiredToken));

    // The refresh token lives on: refreshing restores service.
    let next = refresh(&emu, &alice.refresh_token);
    assert_eq!(call_data(&emu, Some(&next.bearer()), "").status, 200);
    assert_eq!(emu.clock_advanced(), Duration::from_secs(3601));
}

#[test]
fn refresh_tokens_expire_too() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.advance_clock(Duration::from_secs(29 * 86400));
    let resp = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["error"], "refresh_token_expired");
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::RefreshExpired));
}

#[test]
fn lifetimes_are_configurable_at_start_and_at_runtime() {
    let emu = Emulator::builder()
        .token_lifetime(Duration::from_secs(120))
        .refresh_token_lifetime(Duration::from_secs(600))
        .start();
    let first = login(&emu, "alice", None);
    assert_eq!(first.body["tokenLifetime"], 120);

    emu.set_token_lifetime(Duration::from_secs(30));
    emu.set_refresh_token_lifetime(Duration::from_secs(60));
    let second = refresh(&emu, &first.refresh_token);
    assert_eq!(second.body["tokenLifetime"], 30);
    emu.advance_clock(Duration::from_secs(30));
    assert_eq!(call_data(&emu, Some(&second.bearer()), "").status, 401);
    emu.advance_clock(Duration::from_secs(30));
    assert_eq!(try_refresh(&emu, &second.refresh_token).json()["error"], "refresh_token_expired");
}

#[test]
fn revoking_a_user_kills_bearer_and_refresh_tokens() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let bob = login(&emu, "bob", None);
    assert_eq!(emu.revoke_session_of("alice"), 1);

    let resp = call_data(&emu, Some(&alice.bearer()), "");
    assert_eq!(resp.status, 401);
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::RevokedToken));
    let resp = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["error"], "invalid_refresh_token");
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::RefreshRevoked));

    assert_eq!(call_data(&emu, Some(&bob.bearer()), "").status, 200);
    emu.set_expired_token_status(ExpiredTokenStatus::Forbidden);
    assert_eq!(emu.revoke_all(), 1);
    assert_eq!(call_data(&emu, Some(&bob.bearer()), "").status, 403);

    // A new login opens a new, valid session.
    let again = login(&emu, "alice", None);
    assert_eq!(call_data(&emu, Some(&again.bearer()), "").status, 200);
    assert_eq!(emu.count(Endpoint::Login), 3);
}
