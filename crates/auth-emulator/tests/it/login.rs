//! `POST /auth/login` (SPEC §2).

use auth_emulator::{Emulator, Outcome};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{call_data, login, post_form, post_json};

fn login_url(emu: &Emulator) -> String {
    format!("{}/auth/login", emu.url())
}

fn seconds_from_now(text: &str) -> i64 {
    let at = OffsetDateTime::parse(text, &Rfc3339).expect("RFC 3339");
    (at - OffsetDateTime::now_utc()).whole_seconds()
}

#[test]
fn json_login_returns_the_documented_fields_in_order() {
    let emu = Emulator::start();
    let resp = post_json(&login_url(&emu), None, &json!({"username": "alice", "password": "alice-password"}));
    assert_eq!(resp.status, 200);
    let text = String::from_utf8(resp.body.clone()).expect("UTF-8");
    let order = [
        "\"success\"",
        "\"guid\"",
        "\"token\"",
        "\"tokenExpiration\"",
        "\"tokenLifetime\"",
        "\"refreshToken\"",
        "\"refreshTokenExpiration\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).expect(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    let body = resp.json();
    assert_eq!(body["success"], true);
    assert_eq!(body["tokenLifetime"], 3600);
    for key in ["guid", "token", "refreshToken"] {
        assert_eq!(body[key].as_str().map(str::len), Some(36), "{key} is a UUID");
    }
    let expiration = body["tokenExpiration"].as_str().expect("string");
    assert!(expiration.ends_with("+00:00"), "{expiration}");
    assert!((3590..=3600).contains(&seconds_from_now(expiration)));
    let refresh_expiration = body["refreshTokenExpiration"].as_str().expect("string");
    assert!((29 * 86400 - 10..=29 * 86400).contains(&seconds_from_now(refresh_expiration)));
    assert_eq!(emu.sessions().len(), 1);
    assert_eq!(emu.sessions()[0].guid, body["guid"].as_str().expect("guid"));
}

#[test]
fn form_login_works_like_json() {
    let emu = Emulator::start();
    let resp = post_form(&login_url(&emu), None, "username=alice&password=alice-password");
    assert_eq!(resp.status, 200);
    assert!(resp.json()["token"].is_string());
    assert_eq!(emu.logins_served(), 1);
}

#[test]
fn auth_only_verifies_without_tokens_or_session() {
    let emu = Emulator::start();
    let resp = post_form(&login_url(&emu), None, "username=bob&password=bob-password&auth_only=1");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.json(), json!({"success": true}));
    assert!(emu.sessions().is_empty());
    assert_eq!(emu.journal()[0].outcome, Outcome::Verified);
    assert_eq!(emu.logins_served(), 0);

    let wrong = post_json(&login_url(&emu), None, &json!({"username": "bob", "password": "x", "auth_only": 1}));
    assert_eq!(wrong.status, 401);
}

#[test]
fn login_without_account_binds_the_home_account() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", None);
    let served = call_data(&emu, Some(&bob.bearer()), "").json();
    assert_eq!(served["served"]["account_id"], 2001);
}

#[test]
fn account_id_as_number_or_string_binds_the_session() {
    let emu = Emulator::start();
    for (account, expected) in [(json!(2002), 2002), (json!("2003"), 2003)] {
        let resp = post_json(
            &login_url(&emu),
            None,
            &json!({"username": "bob", "password": "bob-password", "account_id": account}),
        );
        assert_eq!(resp.status, 200);
        let token = resp.json()["token"].as_str().expect("token").to_owned();
        let served = call_data(&emu, Some(&format!("Bearer {token}")), "").json();
        assert_eq!(served["served"]["account_id"], expected);
    }
    let form = post_form(&login_url(&emu), None, "username=bob&password=bob-password&account_id=2002");
    assert_eq!(form.status, 200);
    assert_eq!(emu.sessions().last().map(|s| s.account_id), Some(2002));
}

#[test]
fn an_account_the_user_may_not_use_is_forbidden() {
    let emu = Emulator::start();
    let resp = post_json(
        &login_url(&emu),
        None,
        &json!({"username": "alice", "password": "alice-password", "account_id": 2001}),
    );
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(resp.json()["error"], "account_not_allowed");
    assert_eq!(emu.journal()[0].outcome, Outcome::AccountNotAllowed);
    assert!(emu.sessions().is_empty());
}

#[test]
fn missing_parameters_are_listed_in_a_400() {
    let emu = Emulator::start();
    let resp = post_json(&login_url(&emu), None, &json!({}));
    assert_eq!(resp.status, 400);
    let body = resp.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"], json!(["username", "password"]));
    assert!(body["message"].is_string());

    let resp = post_form(&login_url(&emu), None, "username=alice");
    assert_eq!(resp.json()["errors"], json!(["password"]));

    let resp =
        post_json(&login_url(&emu), None, &json!({"username": "bob", "password": "bob-password", "account_id": "two"}));
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["errors"], json!(["account_id"]));
}

#[test]
fn wrong_password_and_unknown_user_get_invalid_credentials() {
    let emu = Emulator::start();
    for (user, password) in [("alice", "wrong"), ("mallory", "alice-password")] {
        let resp = post_json(&login_url(&emu), None, &json!({"username": user, "password": password}));
        assert_eq!(resp.status, 401);
        let body: Value = resp.json();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"], "invalid_credentials");
        assert!(body["message"].is_string());
    }
    let journal = emu.journal();
    assert!(journal.iter().all(|e| e.outcome == Outcome::BadCredentials));
    assert_eq!(journal[0].user.as_deref(), Some("alice"));
}

#[test]
fn integrators_cannot_log_in() {
    let emu = Emulator::start();
    let resp = post_json(&login_url(&emu), None, &json!({"username": "integrator", "password": "integrator-password"}));
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(emu.journal()[0].outcome, Outcome::IntegratorCannotLogin);
}
