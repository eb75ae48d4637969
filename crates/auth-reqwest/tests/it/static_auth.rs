//! Basic and Integrator through `Client::send` (SPEC.md §1).

use auth_core::{AccountId, AuthError};
use auth_emulator::{AuthScheme, Endpoint};
use auth_reqwest::Error;
use http::StatusCode;

use crate::support::Harness;

#[tokio::test]
async fn basic_with_a_pinned_account_adds_it_to_every_request() {
    let h = Harness::new();
    let client = h.client(h.basic_alice().account(AccountId(1001))).await;
    let (status, body) = h.get(&client, "/reports/call-data?start_date=2022-10-01").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["scheme"], "basic");
    assert_eq!(body["served"]["account_id"], 1001);
    let entry = h.api_entries().pop().unwrap();
    assert_eq!(entry.scheme, AuthScheme::Basic);
    assert_eq!(entry.query.as_deref(), Some("start_date=2022-10-01&account_id=1001"));
    assert_eq!(h.emu.count(Endpoint::Login), 0, "Basic never logs in");
}

#[tokio::test]
async fn basic_without_a_pinned_account_still_works() {
    let h = Harness::new();
    let client = h.client(h.basic_alice()).await;
    let (status, body) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["account_id"], 1001);
    assert_eq!(h.api_entries().pop().unwrap().query, None);
}

#[tokio::test]
async fn a_basic_401_is_final() {
    let h = Harness::new();
    let config = auth_core::Config::basic(&h.emu.url(), "alice", auth_core::Password::new("wrong-password"));
    let client = h.client(config).await;
    let (status, _) = h.report(&client).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.api_entries().len(), 1, "not retried");
}

#[tokio::test]
async fn integrator_with_a_pinned_account() {
    let h = Harness::new();
    let client = h.client(h.integrator(Some(2002))).await;
    let (status, body) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["scheme"], "integrator");
    assert_eq!(body["served"]["account_id"], 2002);
    let entry = h.api_entries().pop().unwrap();
    assert_eq!(entry.scheme, AuthScheme::Integrator);
    assert_eq!(entry.query.as_deref(), Some("account_id=2002"));
}

#[tokio::test]
async fn integrator_without_an_account_is_refused_before_any_io() {
    let h = Harness::new();
    let client = h.client(h.integrator(None)).await;
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let error = client.send(request).await.unwrap_err();
    assert!(matches!(error, Error::Auth(AuthError::AccountRequired)), "{error:?}");
    assert!(h.emu.journal().is_empty(), "nothing was sent");

    // Naming the account in the request is enough.
    let (status, body) = h.get(&client, "/reports/call-data?account_id=1001").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["account_id"], 1001);
}

#[tokio::test]
async fn static_schemes_have_no_bearer_token_nor_account_switch() {
    let h = Harness::new();
    for client in [h.client(h.basic_alice()).await, h.client(h.integrator(Some(1001))).await] {
        assert!(matches!(client.bearer_token().await, Err(Error::Auth(AuthError::RequiresBearer))));
        assert!(matches!(client.realtime_auth().await, Err(Error::Auth(AuthError::RequiresBearer))));
        assert!(matches!(
            client.switch_account(AccountId(1001)).await,
            Err(Error::Auth(AuthError::SwitchRequiresBearer))
        ));
        assert!(client.session().snapshot().is_none());
    }
    assert!(h.emu.journal().is_empty());
}
