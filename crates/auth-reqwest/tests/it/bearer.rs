//! Bearer sessions through `Client::send`: login, refresh cycles, 401/403 retries, single
//! flight across a thousand tasks.

use std::time::Duration;

use auth_core::TokenState;
use auth_emulator::{Emulator, Endpoint, ExpiredTokenStatus, Fault};
use auth_reqwest::Client;
use http::StatusCode;
use tokio::task::JoinSet;

use crate::support::{Harness, INTO_STALE, PAST_EXPIRY, read};

#[tokio::test]
async fn the_first_request_logs_in_once_and_carries_the_token() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    assert!(client.session().snapshot().is_none(), "no token before the first use");

    let (status, body) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["user"], "alice");
    assert_eq!(body["served"]["scheme"], "bearer");
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(h.emu.count(Endpoint::Login), 1);
    assert_eq!(h.emu.count(Endpoint::Refresh), 0);
    assert_eq!(h.api_generations(), vec![Some(1), Some(1)]);
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh));
    assert!(client.session().snapshot().is_some());
}

#[tokio::test]
async fn a_stale_token_is_used_while_exactly_one_refresh_runs() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;

    h.advance(INTO_STALE);
    assert_eq!(client.session().token_state(), Some(TokenState::Stale));
    // The request goes out with the stale token at once; the refresh follows its response.
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    let journal = h.emu.journal();
    let api = journal.iter().rposition(|e| e.endpoint == Endpoint::Api).unwrap();
    let refresh = journal.iter().position(|e| e.endpoint == Endpoint::Refresh).unwrap();
    assert!(api < refresh, "the stale-token request was not held up by the refresh");

    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.api_generations(), vec![Some(1), Some(1), Some(2)]);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1, "no second refresh");
    assert_eq!(h.emu.count(Endpoint::Login), 1);
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh));
}

#[tokio::test]
async fn requests_with_a_stale_token_do_not_wait_for_the_running_refresh() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    // A slow refresh: whoever drives it is busy for a second.
    h.emu.set_endpoint_latency(Endpoint::Refresh, Some(Duration::from_secs(1)));
    h.advance(INTO_STALE);

    // `bearer_token` refreshes a stale token first; on this single-threaded runtime one yield
    // lets it start (claim the exchange) before the requests below.
    let refreshing = {
        let client = client.clone();
        tokio::spawn(async move { client.bearer_token().await })
    };
    tokio::task::yield_now().await;
    for _ in 0..5 {
        assert_eq!(h.report(&client).await.0, StatusCode::OK);
    }
    assert!(!refreshing.is_finished(), "five requests went through while the refresh ran");
    assert_eq!(h.emu.count(Endpoint::Refresh), 0, "the refresh has not been answered yet");
    assert_eq!(h.api_generations(), vec![Some(1); 6], "all with the stale token");

    refreshing.await.unwrap().unwrap();
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.api_generations().last(), Some(&Some(2)));
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_request() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;

    h.advance(PAST_EXPIRY);
    assert_eq!(client.session().token_state(), Some(TokenState::Expired));
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    assert_eq!(h.emu.count(Endpoint::Login), 1);
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2)]);

    // And again: the cycle repeats with the rotated refresh token.
    h.advance(PAST_EXPIRY);
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Refresh), 2);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_across_an_expiry_cause_exactly_one_refresh() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    h.emu.clear_journal();

    h.advance(PAST_EXPIRY);
    let url = h.url("/reports/call-data");
    let mut tasks = JoinSet::new();
    for _ in 0..1000 {
        let client = client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let request = http::Request::get(url).body("").unwrap();
            client.send(request).await.map(|r| r.status())
        });
    }
    let mut ok = 0;
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1, "exactly one refresh");
    assert_eq!(h.emu.count(Endpoint::Login), 0);
    assert_eq!(h.emu.max_concurrent_auth(), 1);
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
    assert!(h.api_generations().iter().all(|g| *g == Some(2)), "every request waited for the new token");
}

#[tokio::test]
async fn a_401_on_a_replayable_request_is_retried_once_with_a_new_token() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    h.emu.clear_journal();

    // The server's clock runs ahead: it considers the token expired, the client does not.
    h.emu.advance_clock(Duration::from_secs(PAST_EXPIRY));
    let request = http::Request::post(h.url("/calls"))
        .header("content-type", "application/json")
        .body(r#"{"to":"+15550100"}"#)
        .unwrap();
    let (status, body) = read(client.send(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"][0]["request"]["to"], "+15550100", "the body was replayed");

    let api = h.api_entries();
    assert_eq!(api.len(), 2, "sent twice");
    assert_eq!(api[0].status, Some(401));
    assert_eq!(api[1].status, Some(200));
    assert_eq!(api[0].token_generation, Some(1));
    assert_eq!(api[1].token_generation, Some(2));
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
}

#[tokio::test]
async fn a_second_401_is_returned_to_the_caller() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    h.emu.clear_journal();

    h.emu.inject(Endpoint::Api, Fault::Status(401).times(2));
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let response = client.send(request).await.expect("a 401 is a response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.api_entries().len(), 2, "one retry, no more");
    assert_eq!(h.api_generations(), vec![Some(1), Some(2)], "the retry carried a new token");
    // The resend's answer is final: it does not condemn the new token.
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);

    // The next request uses that token, with no further refresh.
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2), Some(2)]);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
}

#[tokio::test]
async fn a_403_for_an_expired_token_behaves_like_a_401() {
    let h = Harness::with(Emulator::builder().expired_token_status(ExpiredTokenStatus::Forbidden));
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    h.emu.clear_journal();

    h.emu.advance_clock(Duration::from_secs(PAST_EXPIRY));
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    let api = h.api_entries();
    assert_eq!(api.len(), 2);
    assert_eq!(api[0].status, Some(403));
    assert_eq!((api[0].token_generation, api[1].token_generation), (Some(1), Some(2)));
}

#[tokio::test]
async fn a_rejected_streamed_body_is_returned_without_a_retry() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    h.report(&client).await;
    h.emu.clear_journal();

    h.emu.advance_clock(Duration::from_secs(PAST_EXPIRY));
    let stream = http_body_util::Full::new(bytes::Bytes::from_static(b"{\"to\":\"x\"}"));
    let request = http::Request::post(h.url("/calls"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap(stream))
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.api_entries().len(), 1, "a stream cannot be replayed");

    // The session learnt that the token was rejected: the next request gets a new one.
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2)]);
}

#[tokio::test]
async fn execute_takes_reqwest_requests() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let request = client.http_client().get(h.url("/reports/call-data")).build().unwrap();
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["served"]["user"], "alice");
}

#[tokio::test]
async fn bearer_token_refreshes_a_stale_token_first() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let first = client.bearer_token().await.unwrap();
    assert_eq!(h.emu.count(Endpoint::Login), 1);

    h.advance(INTO_STALE);
    let second = client.bearer_token().await.unwrap();
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    assert_ne!(first.expose_secret(), second.expose_secret());
    assert_eq!(client.session().token_state(), Some(TokenState::Fresh));
}

#[tokio::test]
async fn rejected_credentials_are_final_and_typed() {
    let h = Harness::new();
    let config = auth_core::Config::bearer(&h.emu.url(), "alice", auth_core::Password::new("wrong-password"));
    let client = h.client(config).await;
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let error = client.send(request).await.unwrap_err();
    assert!(matches!(error, auth_reqwest::Error::Auth(auth_core::AuthError::CredentialsRejected(_))), "{error:?}");
    // Final: no second login attempt.
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    assert!(client.send(request).await.is_err());
    assert_eq!(h.emu.count(Endpoint::Login), 1);
    assert_eq!(h.api_entries().len(), 0);
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_any_io() {
    let h = Harness::new();
    let other = Emulator::start();
    let client: Client = h.client(h.alice()).await;
    let request = http::Request::get(format!("{}/reports/call-data", other.url())).body("").unwrap();
    let error = client.send(request).await.unwrap_err();
    assert!(matches!(error, auth_reqwest::Error::Auth(auth_core::AuthError::ForeignOrigin)));
    assert!(h.emu.journal().is_empty(), "no login either");
    assert!(other.journal().is_empty());
}

/// The per-request cost goal (issue 17): with a fresh token, a request reads the clock once
/// (its 200 is settled without the session, which would read it again), through `send` and
/// `execute` alike.
#[tokio::test]
async fn a_request_with_a_fresh_token_reads_the_clock_once() {
    let h = Harness::new();
    let clock = h.clock.clone();
    let client =
        Client::builder(h.alice().build().unwrap()).clock(std::sync::Arc::new(clock.clone())).build().await.unwrap();
    client.bearer_token().await.unwrap();
    let reads = || clock.readings();
    let before = reads();
    let url = h.url("/reports/call-data");
    let response = client.send(http::Request::get(&url).body(Vec::new()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = client.execute(client.http_client().get(&url).build().unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(reads() - before, 2, "one reading per request");
}
