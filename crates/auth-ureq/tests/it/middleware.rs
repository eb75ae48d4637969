//! `AuthMiddleware` on an agent the user built, sharing the client's session.

use std::time::Duration;

use auth_core::{AuthError, TokenState};
use auth_emulator::{Emulator, Endpoint, Fault};
use http::StatusCode;
use ureq::Agent;
use ureq::config::RedirectAuthHeaders;

use crate::support::*;

fn agent_with(client: &auth_ureq::Client, status_as_error: bool) -> Agent {
    Agent::config_builder()
        .middleware(client.middleware())
        .http_status_as_error(status_as_error)
        .redirect_auth_headers(RedirectAuthHeaders::SameHost)
        .build()
        .into()
}

#[test]
fn the_middleware_authorizes_api_requests_with_the_clients_session() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let agent = agent_with(&client, false);
    let response = agent.get(s.url(CALL_DATA)).call().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh), "the client holds the token");
    // The client itself reuses it: still one login.
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Login), 1);
    assert!(s.api_entries().iter().all(|e| e.token_generation == Some(1)));
}

#[test]
fn the_middleware_passes_foreign_requests_through_without_credentials() {
    let s = Scenario::new();
    let other = Emulator::start();
    let client = s.client(s.alice());
    let agent = agent_with(&client, false);
    let response = agent.get(format!("{}{CALL_DATA}", other.url())).call().unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!other.journal()[0].authorization_present);
    assert!(s.emu.journal().is_empty(), "no login for a foreign request");

    // Redirects never carry the header either, although this agent says `SameHost`.
    let response = agent.get(s.url(&format!("/redirect?to={}{CALL_DATA}", other.url()))).call().unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let seen = other.journal();
    assert_eq!(seen.len(), 2);
    assert!(!seen[1].authorization_present);
}

#[test]
fn the_middleware_retries_a_rejected_request_once_with_the_same_body() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let agent = agent_with(&client, false);
    agent.get(s.url(CALL_DATA)).call().unwrap();
    s.emu.advance_clock(TO_EXPIRED); // The server alone: the client still thinks it fresh.

    let response =
        agent.post(s.url(CALLS)).header("content-type", "application/json").send(r#"{"to":"+15550100"}"#).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed = json(response);
    assert_eq!(echoed["data"][0]["request"]["to"], "+15550100", "{echoed}");
    let attempts: Vec<_> = s.api_entries()[1..].iter().map(|e| (e.status, e.token_generation)).collect();
    assert_eq!(attempts, vec![(Some(401), Some(1)), (Some(200), Some(2))]);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn with_statuses_as_errors_a_second_rejection_is_the_agents_error() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let agent = agent_with(&client, true);
    agent.get(s.url(CALL_DATA)).call().unwrap();
    s.emu.inject(Endpoint::Api, Fault::Status(403).times(2));
    let error = agent.get(s.url(CALL_DATA)).call().unwrap_err();
    assert!(matches!(error, ureq::Error::StatusCode(403)), "{error:?}");
    assert_eq!(s.api_entries().len(), 3);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn a_body_over_the_replay_limit_is_sent_once_and_not_retried() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let agent: Agent = Agent::config_builder()
        .middleware(client.middleware().replay_limit(4))
        .http_status_as_error(false)
        .build()
        .into();
    agent.get(s.url(CALL_DATA)).call().unwrap();
    s.emu.advance_clock(TO_EXPIRED);
    let response =
        agent.post(s.url(CALLS)).header("content-type", "application/json").send(r#"{"to":"+15550100"}"#).unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.api_entries().len(), 2);
    // The session learnt the token is dead: the next request refreshes and succeeds.
    let response =
        agent.post(s.url(CALLS)).header("content-type", "application/json").send(r#"{"to":"+15550100"}"#).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn an_auth_failure_in_the_middleware_is_an_other_error_holding_ours() {
    let s = Scenario::new();
    let client = s.client(s.bearer(ALICE, "wrong-password"));
    let agent = agent_with(&client, false);
    let error = agent.get(s.url(CALL_DATA)).call().unwrap_err();
    let ureq::Error::Other(inner) = error else { panic!("{error:?}") };
    let ours = inner.downcast_ref::<auth_ureq::Error>().unwrap();
    assert!(matches!(ours, auth_ureq::Error::Auth(AuthError::CredentialsRejected(_))), "{ours:?}");
    assert!(s.api_entries().is_empty());
}

#[test]
fn threads_through_the_middleware_share_one_refresh() {
    let s = Scenario::with(
        Emulator::builder()
            .token_lifetime(LIFETIME)
            .endpoint_latency(Endpoint::Refresh, Duration::from_millis(100))
            .start(),
    );
    let client = s.client(s.alice());
    let agent = agent_with(&client, false);
    agent.get(s.url(CALL_DATA)).call().unwrap();
    s.advance(TO_EXPIRED);
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..8).map(|_| scope.spawn(|| agent.get(s.url(CALL_DATA)).call().map(|r| r.status()))).collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap().unwrap(), StatusCode::OK);
        }
    });
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
}
