//! Bearer sessions through `Client::send`: login, refresh cycles, rejected tokens, switches.

use std::time::Duration;

use auth_core::{AccountId, AuthError, TokenState};
use auth_emulator::{Endpoint, ExpiredTokenStatus, Fault, Outcome};
use auth_ureq::Error;
use http::StatusCode;

use crate::support::*;

#[test]
fn first_request_logs_in_once_and_carries_the_token() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    for _ in 0..3 {
        let response = client.send(s.get(CALL_DATA)).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.logins_served(), 1);
    let api = s.api_entries();
    assert_eq!(api.len(), 3);
    assert!(api.iter().all(|e| e.outcome == Outcome::Ok && e.token_generation == Some(1)));
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh));
}

#[test]
fn stale_token_is_still_attached_while_one_refresh_runs_after_the_request() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    s.advance(TO_STALE);
    assert_eq!(client.session().token_state(), Some(TokenState::Stale));

    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The request went out with the stale token first; the refresh came after it.
    let journal = s.emu.journal();
    let last_api = journal.iter().rev().find(|e| e.endpoint == Endpoint::Api).unwrap();
    let refresh = journal.iter().find(|e| e.endpoint == Endpoint::Refresh).unwrap();
    assert_eq!(last_api.token_generation, Some(1));
    assert!(last_api.seq < refresh.seq, "the request was not blocked by the refresh");
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh));

    client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.api_entries().last().unwrap().token_generation, Some(2));
}

#[test]
fn expired_token_is_refreshed_before_the_request() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    s.advance(TO_EXPIRED);
    assert_eq!(client.session().token_state(), Some(TokenState::Expired));

    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let journal = s.emu.journal();
    let kinds: Vec<_> = journal.iter().map(|e| (e.endpoint, e.token_generation)).collect();
    assert_eq!(
        kinds,
        vec![
            (Endpoint::Login, Some(1)),
            (Endpoint::Api, Some(1)),
            (Endpoint::Refresh, Some(2)),
            (Endpoint::Api, Some(2)),
        ]
    );
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0);
}

/// The server expires the token earlier than the client estimated (only its clock moves).
fn server_only_expiry(s: &Scenario) {
    s.emu.advance_clock(TO_EXPIRED);
}

#[test]
fn a_401_on_a_replayable_request_is_retried_once_with_a_new_token() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    server_only_expiry(&s);

    let body = r#"{"to":"+15550100"}"#;
    let request = http::Request::post(s.url(CALLS)).header("content-type", "application/json").body(body).unwrap();
    let response = client.send(request).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = json(response);
    assert_eq!(echoed["data"][0]["request"]["to"], "+15550100", "{echoed}");

    let api = s.api_entries();
    let attempts: Vec<_> = api[1..].iter().map(|e| (e.status, e.token_generation)).collect();
    assert_eq!(attempts, vec![(Some(401), Some(1)), (Some(200), Some(2))]);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn a_second_401_is_returned_as_is() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    s.emu.inject(Endpoint::Api, Fault::Status(401).times(2));

    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.api_entries().len(), 3, "one request, one retry, no more");
    assert_eq!(s.count(Endpoint::Refresh), 1);
    // The resend's answer is final: it does not condemn the new token, so the next request
    // uses it without another refresh.
    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.api_entries().last().unwrap().token_generation, Some(2));
}

#[test]
fn a_403_for_an_expired_token_behaves_like_a_401() {
    let s = Scenario::new();
    s.emu.set_expired_token_status(ExpiredTokenStatus::Forbidden);
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    server_only_expiry(&s);

    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let statuses: Vec<_> = s.api_entries().iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![Some(200), Some(403), Some(200)]);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn send_once_returns_a_401_without_retrying_and_the_next_request_refreshes() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    client.send(s.get(CALL_DATA)).unwrap();
    server_only_expiry(&s);

    let stream = std::io::Cursor::new(br#"{"to":"+15550100"}"#.to_vec());
    let request = http::Request::post(s.url(CALLS))
        .header("content-type", "application/json")
        .body(ureq::SendBody::from_owned_reader(stream))
        .unwrap();
    let response = client.send_once(request).unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.api_entries().len(), 2);
    assert_eq!(s.count(Endpoint::Refresh), 0);
    // The rejection reached the session: the next request refreshes first and succeeds.
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.api_entries().last().unwrap().token_generation, Some(2));
}

#[test]
fn every_status_is_a_response() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    s.emu.inject(Endpoint::Api, Fault::Status(503));
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(client.send(s.get("/nope")).unwrap().status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_request_to_another_origin_is_refused_before_any_io() {
    let s = Scenario::new();
    let other = auth_emulator::Emulator::start();
    let client = s.client(s.alice());
    let request = http::Request::get(format!("{}{CALL_DATA}", other.url())).body(()).unwrap();
    let error = client.send(request).unwrap_err();
    assert!(matches!(error, Error::Auth(AuthError::ForeignOrigin)), "{error:?}");
    assert!(other.journal().is_empty());
    assert!(s.emu.journal().is_empty(), "not even a login");
}

#[test]
fn rejected_credentials_are_final_and_never_retried() {
    let s = Scenario::new();
    let client = s.client(s.bearer(ALICE, "wrong-password"));
    for _ in 0..2 {
        let error = client.send(s.get(CALL_DATA)).unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::CredentialsRejected(_))), "{error:?}");
    }
    assert_eq!(s.count(Endpoint::Login), 1);
    assert!(s.api_entries().is_empty());
}

#[test]
fn a_login_lost_in_transport_is_reported_and_retried_after_the_backoff() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    s.emu.inject(Endpoint::Login, Fault::DropConnection.before_effect());
    let error = client.send(s.get(CALL_DATA)).unwrap_err();
    match &error {
        Error::Auth(e @ AuthError::Unavailable { .. }) => assert!(e.is_transient()),
        other => panic!("{other:?}"),
    }
    // Still backing off: no new request.
    assert!(client.send(s.get(CALL_DATA)).is_err());
    assert_eq!(s.count(Endpoint::Login), 1);
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Login), 2);
}

#[test]
fn waiters_are_woken_when_the_exchange_fails() {
    let s = Scenario::new();
    s.emu.set_endpoint_latency(Endpoint::Login, Some(Duration::from_millis(100)));
    s.emu.inject(Endpoint::Login, Fault::Status(500));
    let client = s.client(s.alice());
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    client.send(s.get(CALL_DATA))
                })
            })
            .collect();
        for handle in handles {
            let error = handle.join().unwrap().unwrap_err();
            assert!(matches!(error, Error::Auth(AuthError::Unavailable { .. })), "{error:?}");
        }
    });
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
}

#[test]
fn switching_accounts_relogs_in_and_requests_run_on_the_new_account() {
    let s = Scenario::new();
    let client = s.client(s.bearer(BOB, BOB_PASSWORD));
    assert_eq!(served_account(client.send(s.get(CALL_DATA)).unwrap()), Some(AccountId(2001)));

    client.switch_account(AccountId(2002)).unwrap();
    assert_eq!(client.session().account(), Some(AccountId(2002)));
    assert_eq!(served_account(client.send(s.get(CALL_DATA)).unwrap()), Some(AccountId(2002)));
    assert_eq!(s.count(Endpoint::Login), 2);

    // Already there: nothing to do.
    client.switch_account(AccountId(2002)).unwrap();
    assert_eq!(s.count(Endpoint::Login), 2);

    let error = client.switch_account(AccountId(9999)).unwrap_err();
    assert!(matches!(error, Error::Auth(AuthError::AccountSwitchRejected(_))), "{error:?}");
    assert_eq!(client.session().account(), Some(AccountId(2002)));
    assert_eq!(served_account(client.send(s.get(CALL_DATA)).unwrap()), Some(AccountId(2002)));
}

#[test]
fn switching_by_masquerade_keeps_the_token_and_moves_the_account() {
    let s = Scenario::new();
    let config = auth_core::Config::bearer(&s.emu.url(), BOB, auth_core::Password::new(BOB_PASSWORD))
        .account_switch(auth_core::AccountSwitch::masquerade())
        .build()
        .unwrap();
    let client = s.client(config);
    client.send(s.get(CALL_DATA)).unwrap();
    client.switch_account(AccountId(2003)).unwrap();
    assert_eq!(served_account(client.send(s.get(CALL_DATA)).unwrap()), Some(AccountId(2003)));
    assert_eq!(s.count(Endpoint::Masquerade), 1);
    assert_eq!(s.count(Endpoint::Login), 1);
}

#[test]
fn bearer_token_refreshes_a_stale_token_first() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let first = client.bearer_token().unwrap();
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(client.bearer_token().unwrap().expose_secret(), first.expose_secret(), "a fresh token is reused");
    s.advance(TO_STALE);
    let second = client.bearer_token().unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(client.session().snapshot().unwrap().generation().as_u64(), 2);
}

/// The per-request cost goal (issue 17): with a fresh token, a request reads the clock once
/// (its 200 is settled without the session, which would read it again).
#[test]
fn a_request_with_a_fresh_token_reads_the_clock_once() {
    let s = Scenario::new();
    let clock = s.clock.clone();
    let client = auth_ureq::Client::builder(s.alice()).clock(std::sync::Arc::new(clock.clone())).build().unwrap();
    client.bearer_token().unwrap();
    let before = clock.readings();
    for _ in 0..3 {
        assert_eq!(client.send(s.get("/reports/call-data")).unwrap().status(), StatusCode::OK);
    }
    assert_eq!(clock.readings() - before, 3, "one reading per request");
    // A rejection is the session's business: it reads the clock to judge it.
    s.emu.revoke_all();
    assert_eq!(client.send(s.get("/reports/call-data")).unwrap().status(), StatusCode::OK);
    assert!(clock.readings() - before > 4);
}
