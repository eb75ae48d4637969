//! `POST /auth/masquerade` (SPEC §4), both modes.

use std::time::Duration;

use auth_emulator::{Emulator, ExpiredTokenStatus, MasqueradeMode, Outcome};
use serde_json::json;

use crate::support::{Tokens, basic, call_data, login, post_form, post_json, try_refresh};

fn masquerade(emu: &Emulator, tokens: &Tokens, account: u64) -> crate::support::Resp {
    post_json(&format!("{}/auth/masquerade", emu.url()), Some(&tokens.bearer()), &json!({"account_id": account}))
}

#[test]
fn rebind_mode_switches_the_account_and_keeps_the_token() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", None);
    let resp = masquerade(&emu, &bob, 2003);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json(), json!({"success": true, "account_id": 2003}));

    let served = call_data(&emu, Some(&bob.bearer()), "").json();
    assert_eq!(served["served"]["account_id"], 2003);
    assert_eq!(served["served"]["token_generation"], 1);
    assert_eq!(emu.sessions()[0].account_id, 2003);
    assert_eq!(emu.journal()[1].outcome, Outcome::Ok);
    assert_eq!(emu.journal()[1].account_id, Some(2003));
}

#[test]
fn issue_tokens_mode_returns_a_fresh_pair_and_kills_the_old_one() {
    let emu = Emulator::builder().masquerade_mode(MasqueradeMode::IssueTokens).start();
    let bob = login(&emu, "bob", None);
    let resp = masquerade(&emu, &bob, 2002);
    assert_eq!(resp.status, 200);
    let body = resp.json();
    for key in ["guid", "token", "tokenExpiration", "tokenLifetime", "refreshToken", "refreshTokenExpiration"] {
        assert!(!body[key].is_null(), "{key} missing in {body}");
    }
    assert_eq!(body["account_id"], 2002);
    assert_eq!(body["guid"], bob.body["guid"]);

    let new_token = format!("Bearer {}", body["token"].as_str().expect("token"));
    let served = call_data(&emu, Some(&new_token), "").json();
    assert_eq!(served["served"]["account_id"], 2002);
    assert_eq!(served["served"]["token_generation"], 2);

    assert_eq!(call_data(&emu, Some(&bob.bearer()), "").status, 401);
    let old_refresh = try_refresh(&emu, &bob.refresh_token);
    assert_eq!(old_refresh.status, 401);
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::RefreshSuperseded));

    // Switching the mode at runtime.
    emu.set_masquerade_mode(MasqueradeMode::Rebind);
    let again = post_json(&format!("{}/auth/masquerade", emu.url()), Some(&new_token), &json!({"account_id": 2001}));
    assert_eq!(again.json(), json!({"success": true, "account_id": 2001}));
}

#[test]
fn accounts_the_user_may_not_use_are_forbidden() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let resp = masquerade(&emu, &alice, 2001);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::AccountNotAllowed));
    assert_eq!(emu.sessions()[0].account_id, 1001);
}

#[test]
fn an_expired_token_gets_the_expired_token_status() {
    let emu = Emulator::builder().expired_token_status(ExpiredTokenStatus::Forbidden).start();
    let bob = login(&emu, "bob", None);
    emu.advance_clock(Duration::from_secs(3600));
    let resp = masquerade(&emu, &bob, 2002);
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["error"], "token_expired");
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ExpiredToken));
}

#[test]
fn masquerade_needs_a_bearer_token_and_an_account() {
    let emu = Emulator::start();
    let url = format!("{}/auth/masquerade", emu.url());
    let no_auth = post_form(&url, None, "account_id=2002");
    assert_eq!(no_auth.status, 401);
    let basic = post_form(&url, Some(&basic("bob", "bob-password")), "account_id=2002");
    assert_eq!(basic.status, 401);
    assert_eq!(basic.json()["error"], "bearer_required");
    let bob = login(&emu, "bob", None);
    let no_account = post_form(&url, Some(&bob.bearer()), "");
    assert_eq!(no_account.status, 400);
    assert_eq!(no_account.json()["errors"], json!(["account_id"]));
    let form = post_form(&url, Some(&bob.bearer()), "account_id=2002");
    assert_eq!(form.status, 200);
}

#[test]
fn the_path_is_configurable() {
    let emu = Emulator::builder().masquerade_path("/auth/switch-account").start();
    let bob = login(&emu, "bob", None);
    let default_path = masquerade(&emu, &bob, 2002);
    assert_eq!(default_path.status, 404);
    let resp =
        post_json(&format!("{}/auth/switch-account", emu.url()), Some(&bob.bearer()), &json!({"account_id": "2002"}));
    assert_eq!(resp.status, 200);
}
