//! The three schemes on the protected endpoints, and account resolution (SPEC §1).

use auth_emulator::{AuthScheme, BearerAccountParam, Emulator, ExpiredTokenStatus, Outcome};
use serde_json::json;

use crate::support::{basic, bearer, call_data, get, integrator, login, post_form, post_json, send};

#[test]
fn basic_single_account_user_runs_in_the_home_account() {
    let emu = Emulator::start();
    let resp = call_data(&emu, Some(&basic("alice", "alice-password")), "");
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["success"], true);
    assert!(body["data"].is_array());
    assert_eq!(
        body["served"],
        json!({"user": "alice", "scheme": "basic", "account_id": 1001, "token_generation": null})
    );
}

#[test]
fn basic_multi_account_user_without_account_id_lands_on_the_last_account() {
    let emu = Emulator::start();
    let body = call_data(&emu, Some(&basic("bob", "bob-password")), "").json();
    // The silent pick is deliberately not the home account (2001).
    assert_eq!(body["served"]["account_id"], 2003);
}

#[test]
fn basic_account_id_from_query_or_body_is_honoured() {
    let emu = Emulator::start();
    let auth = basic("bob", "bob-password");
    let query = call_data(&emu, Some(&auth), "?account_id=2002").json();
    assert_eq!(query["served"]["account_id"], 2002);

    let body = post_json(&format!("{}/calls", emu.url()), Some(&auth), &json!({"account_id": 2001, "to": "+15550100"}));
    assert_eq!(body.status, 200);
    let body = body.json();
    assert_eq!(body["served"]["account_id"], 2001);
    assert_eq!(body["data"][0]["request"]["to"], "+15550100");

    let form = post_form(&format!("{}/calls", emu.url()), Some(&auth), "account_id=2002&to=x");
    assert_eq!(form.json()["served"]["account_id"], 2002);
}

#[test]
fn basic_with_an_account_the_user_may_not_use_is_forbidden() {
    let emu = Emulator::start();
    let resp = call_data(&emu, Some(&basic("alice", "alice-password")), "?account_id=2001");
    assert_eq!(resp.status, 403);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(emu.journal()[0].outcome, Outcome::AccountNotAllowed);
}

#[test]
fn missing_or_wrong_credentials_get_401() {
    let emu = Emulator::start();
    let none = call_data(&emu, None, "");
    assert_eq!(none.status, 401);
    assert_eq!(none.json()["success"], false);
    let wrong = call_data(&emu, Some(&basic("alice", "nope")), "");
    assert_eq!(wrong.status, 401);
    let unknown_scheme = call_data(&emu, Some("Digest abc"), "");
    assert_eq!(unknown_scheme.status, 401);
    let outcomes: Vec<Outcome> = emu.journal().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [Outcome::MissingCredentials, Outcome::BadCredentials, Outcome::BadCredentials]);
    assert_eq!(emu.journal()[1].user.as_deref(), Some("alice"));
    assert_eq!(emu.journal()[2].scheme, AuthScheme::Unrecognized);
}

#[test]
fn integrator_with_an_allowed_account_is_served() {
    let emu = Emulator::start();
    let resp = call_data(&emu, Some(&integrator("integrator", "integrator-password")), "?account_id=2002");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.json()["served"],
        json!({"user": "integrator", "scheme": "integrator", "account_id": 2002, "token_generation": null})
    );
}

#[test]
fn integrator_without_account_id_gets_400_and_with_a_foreign_one_403() {
    let emu = Emulator::start();
    let auth = integrator("integrator", "integrator-password");
    let missing = call_data(&emu, Some(&auth), "");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["errors"], json!(["account_id"]));
    let foreign = call_data(&emu, Some(&auth), "?account_id=2001");
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.json()["success"], false);
    let outcomes: Vec<Outcome> = emu.journal().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [Outcome::AccountRequired, Outcome::AccountNotAllowed]);
}

#[test]
fn schemes_must_fit_the_user_kind() {
    let emu = Emulator::start();
    let integrator_as_basic = call_data(&emu, Some(&basic("integrator", "integrator-password")), "?account_id=1001");
    assert_eq!(integrator_as_basic.status, 403);
    let member_as_integrator = call_data(&emu, Some(&integrator("alice", "alice-password")), "?account_id=1001");
    assert_eq!(member_as_integrator.status, 403);
    assert!(emu.journal().iter().all(|e| e.outcome == Outcome::WrongScheme));
}

#[test]
fn bearer_uses_the_session_account_and_a_mismatching_account_id_is_refused() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", None);
    let matching = call_data(&emu, Some(&bob.bearer()), "?account_id=2001");
    assert_eq!(matching.status, 200);
    let served = matching.json();
    assert_eq!(served["served"], json!({"user": "bob", "scheme": "bearer", "account_id": 2001, "token_generation": 1}));

    let mismatch = call_data(&emu, Some(&bob.bearer()), "?account_id=2002");
    assert_eq!(mismatch.status, 403);
    assert_eq!(mismatch.json()["error"], "account_mismatch");
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::AccountMismatch));

    emu.set_bearer_account_param(BearerAccountParam::Ignore);
    let ignored = call_data(&emu, Some(&bob.bearer()), "?account_id=2002");
    assert_eq!(ignored.status, 200);
    assert_eq!(ignored.json()["served"]["account_id"], 2001);
}

#[test]
fn unknown_and_expired_tokens_get_the_configured_status() {
    let emu = Emulator::start();
    let unknown = call_data(&emu, Some(&bearer("not-a-token")), "");
    assert_eq!(unknown.status, 401);
    assert_eq!(unknown.json()["error"], "invalid_token");
    assert_eq!(emu.journal()[0].outcome, Outcome::UnknownToken);

    emu.set_expired_token_status(ExpiredTokenStatus::Forbidden);
    assert_eq!(call_data(&emu, Some(&bearer("not-a-token")), "").status, 403);
    let alice = login(&emu, "alice", None);
    emu.advance_clock(std::time::Duration::from_secs(4000));
    let expired = call_data(&emu, Some(&alice.bearer()), "");
    assert_eq!(expired.status, 403);
    assert_eq!(expired.json()["success"], false);
    emu.set_expired_token_status(ExpiredTokenStatus::Unauthorized);
    assert_eq!(call_data(&emu, Some(&alice.bearer()), "").status, 401);
}

#[test]
fn wrong_methods_and_unknown_paths() {
    let emu = Emulator::start();
    let auth = basic("alice", "alice-password");
    let resp = get(&format!("{}/calls", emu.url()), Some(&auth));
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("POST"));
    let resp = send("DELETE", &format!("{}/auth/login", emu.url()), None, None, b"");
    assert_eq!(resp.status, 405);
    let resp = get(&format!("{}/nope", emu.url()), Some(&auth));
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["success"], false);
    let outcomes: Vec<Outcome> = emu.journal().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, [Outcome::MethodNotAllowed, Outcome::MethodNotAllowed, Outcome::NotFound]);
}
