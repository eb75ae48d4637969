//! Credentials never follow a redirect to another origin — here another *port* on the same
//! host, which is another origin (RFC 6454).

use auth_emulator::{Emulator, Endpoint};
use http::StatusCode;

use crate::support::Harness;

fn encode(url: &str) -> String {
    url.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_redirect_to_another_port_carries_no_authorization() {
    let h = Harness::new();
    let foreign = Emulator::start();
    assert_eq!(h.emu.addr().ip(), foreign.addr().ip(), "same host");
    assert_ne!(h.emu.addr().port(), foreign.addr().port(), "other port");
    let client = h.client(h.alice()).await;

    let target = format!("{}/reports/call-data", foreign.url());
    let (status, _) = h.get(&client, &format!("/redirect?to={}", encode(&target))).await;
    // The foreign emulator saw no credentials and said so; that is the caller's answer.
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let home = h.emu.journal();
    let hop = home.iter().find(|e| e.endpoint == Endpoint::Redirect).unwrap();
    assert!(hop.authorization_present, "the API origin got the token");
    let away = foreign.journal();
    assert_eq!(away.len(), 1);
    assert_eq!(away[0].path, "/reports/call-data");
    assert!(!away[0].authorization_present, "no Authorization crossed origins");

    // A redirected answer is no verdict on our token: no refresh, no retry.
    assert_eq!(h.emu.count(Endpoint::Refresh), 0);
    assert_eq!(h.emu.count(Endpoint::Redirect), 1);
}

#[tokio::test]
async fn a_redirect_within_the_api_origin_keeps_working() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let target = h.url("/reports/call-data");
    let (status, body) = h.get(&client, &format!("/redirect?to={}", encode(&target))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["user"], "alice");
}

#[tokio::test]
async fn the_middleware_does_not_leak_on_redirects_either() {
    let h = Harness::new();
    let foreign = Emulator::start();
    let client = h.client(h.alice()).await;
    let stack = reqwest_middleware::ClientBuilder::new(
        auth_reqwest::http_client_builder(&h.alice().build().unwrap()).build().unwrap(),
    )
    .with(client.middleware())
    .build();
    let target = format!("{}/reports/call-data", foreign.url());
    let response = stack.get(h.url(&format!("/redirect?to={}", encode(&target)))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!foreign.journal()[0].authorization_present);
}

/// `send` answers in `http` types; `reqwest::Response::from` turns the answer back into
/// reqwest's, whose `url()` callers log. It must be the URL the answer came from, not reqwest's
/// placeholder (`http://no.url.provided.local/`).
#[tokio::test]
async fn the_response_of_send_keeps_its_url() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let url = h.url("/reports/call-data?day=1");
    let response = client.send(http::Request::get(&url).body(Vec::new()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = reqwest::Response::from(response);
    assert_eq!(response.url().as_str(), url);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["served"]["user"], "alice", "and its body reads as ever");
}

#[tokio::test]
async fn after_a_redirect_the_response_of_send_has_the_url_it_ended_at() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let target = h.url("/reports/call-data");
    let asked = h.url(&format!("/redirect?to={}", encode(&target)));
    let response = client.send(http::Request::get(&asked).body(Vec::new()).unwrap()).await.unwrap();
    assert_eq!(reqwest::Response::from(response).url().as_str(), target);
}
