//! `Authorization` never follows a redirect to another origin.

use auth_emulator::{Emulator, Endpoint};
use http::StatusCode;
use ureq::config::RedirectAuthHeaders;

use crate::support::*;

/// A request to the API origin that redirects to `other`'s API endpoint.
fn redirect_to(s: &Scenario, other: &Emulator) -> http::Request<()> {
    s.get(&format!("/redirect?to={}{CALL_DATA}", other.url()))
}

#[test]
fn a_redirect_to_another_origin_carries_no_authorization() {
    let s = Scenario::new();
    let other = Emulator::start();
    let client = s.client(s.alice());
    let response = client.send(redirect_to(&s, &other)).unwrap();
    // The other server saw the request, without credentials, and said so.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let seen = other.journal();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].authorization_present, "{:?}", seen[0]);
    // The first hop did carry them (it is the API origin).
    assert!(s.entries(Endpoint::Redirect)[0].authorization_present);
    // A redirected 401 is no verdict on our token: no refresh, the token stays in service.
    assert_eq!(s.count(Endpoint::Refresh), 0);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.api_entries()[0].token_generation, Some(1));
}

#[test]
fn a_custom_agent_that_would_keep_the_header_on_the_same_host_is_overridden() {
    // ureq's `SameHost` ignores the port: 127.0.0.1:A -> 127.0.0.1:B would keep the header.
    let s = Scenario::new();
    let other = Emulator::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .redirect_auth_headers(RedirectAuthHeaders::SameHost)
        .http_status_as_error(true)
        .build()
        .into();
    let client = s.builder(s.alice()).http(agent).build().unwrap();
    let response = client.send(redirect_to(&s, &other)).unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "statuses are responses");
    assert!(!other.journal()[0].authorization_present);
}
