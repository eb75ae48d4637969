//! `AuthMiddleware` in a `reqwest_middleware` stack, sharing the session of its `Client`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::AuthError;
use auth_emulator::{Emulator, Endpoint};
use http::{Extensions, StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware, Next};

use crate::support::{Harness, PAST_EXPIRY};

/// Counts the requests that reach the bottom of the stack.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

#[async_trait::async_trait]
impl Middleware for Counter {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        next.run(request, extensions).await
    }
}

fn stack(h: &Harness, client: &auth_reqwest::Client, counter: &Counter) -> ClientWithMiddleware {
    let http = auth_reqwest::http_client_builder(&h.alice().build().unwrap()).build().unwrap();
    ClientBuilder::new(http).with(client.middleware()).with(counter.clone()).build()
}

#[tokio::test]
async fn the_middleware_shares_the_clients_session() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let counter = Counter::default();
    let stack = stack(&h, &client, &counter);

    let response = stack.get(h.url("/reports/call-data")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The client itself uses the token the middleware's request logged in for.
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Login), 1);
    assert_eq!(h.api_generations(), vec![Some(1), Some(1)]);

    // Across an expiry, one refresh serves both.
    h.advance(PAST_EXPIRY);
    let response = stack.get(h.url("/reports/call-data")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.emu.count(Endpoint::Refresh), 1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_middleware_retries_a_401_once_down_the_chain() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let counter = Counter::default();
    let stack = stack(&h, &client, &counter);
    assert_eq!(stack.get(h.url("/reports/call-data")).send().await.unwrap().status(), StatusCode::OK);
    h.emu.clear_journal();

    h.emu.advance_clock(Duration::from_secs(PAST_EXPIRY));
    let response = stack
        .post(h.url("/calls"))
        .header("content-type", "application/json")
        .body(r#"{"to":"+15550100"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let api = h.api_entries();
    assert_eq!(api.len(), 2);
    assert_eq!(api[0].status, Some(401));
    assert_eq!((api[0].token_generation, api[1].token_generation), (Some(1), Some(2)));
    assert_eq!(counter.0.load(Ordering::SeqCst), 3, "the retry went down the chain");
}

#[tokio::test]
async fn foreign_requests_pass_through_untouched() {
    let h = Harness::new();
    let foreign = Emulator::start();
    let client = h.client(h.alice()).await;
    let counter = Counter::default();
    let stack = stack(&h, &client, &counter);
    let response = stack.get(format!("{}/reports/call-data", foreign.url())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!foreign.journal()[0].authorization_present);
    assert!(h.emu.journal().is_empty(), "no login for a foreign request");
}

#[tokio::test]
async fn an_auth_failure_is_a_middleware_error_holding_the_adapters_error() {
    let h = Harness::new();
    let client = h.client(h.integrator(None)).await;
    let stack =
        ClientBuilder::new(auth_reqwest::http_client_builder(&h.integrator(None).build().unwrap()).build().unwrap())
            .with(client.middleware())
            .build();
    let error = stack.get(h.url("/reports/call-data")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = error else {
        panic!("not a middleware error: {error:?}");
    };
    assert!(matches!(
        inner.downcast_ref::<auth_reqwest::Error>(),
        Some(auth_reqwest::Error::Auth(AuthError::AccountRequired))
    ));
    assert!(h.emu.journal().is_empty());
}
