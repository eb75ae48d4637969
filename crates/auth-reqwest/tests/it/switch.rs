//! Account switches (SPEC.md §4), by relogin and by masquerade.

use auth_core::{AccountId, AccountSwitch, AuthError};
use auth_emulator::Endpoint;
use auth_reqwest::Error;
use http::StatusCode;

use crate::support::Harness;

#[tokio::test]
async fn switching_by_relogin_binds_the_new_account() {
    let h = Harness::new();
    let client = h.client(h.bob()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);

    client.switch_account(AccountId(2002)).await.unwrap();
    assert_eq!(client.session().account(), Some(AccountId(2002)));
    let (status, body) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["account_id"], 2002);
    assert_eq!(h.emu.count(Endpoint::Login), 2);

    // Already there: nothing to do.
    client.switch_account(AccountId(2002)).await.unwrap();
    assert_eq!(h.emu.count(Endpoint::Login), 2);
}

#[tokio::test]
async fn switching_by_masquerade_keeps_the_session() {
    let h = Harness::new();
    let client = h.client(h.bob().account_switch(AccountSwitch::masquerade())).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);

    client.switch_account(AccountId(2001)).await.unwrap();
    assert_eq!(client.session().account(), Some(AccountId(2001)));
    let (status, body) = h.report(&client).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["served"]["account_id"], 2001);
    assert_eq!(h.emu.count(Endpoint::Masquerade), 1);
    assert_eq!(h.emu.count(Endpoint::Login), 1);
}

#[tokio::test]
async fn a_refused_switch_is_reported_and_the_session_stays() {
    let h = Harness::new();
    let client = h.client(h.bob()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    let before = client.session().account();

    let error = client.switch_account(AccountId(9999)).await.unwrap_err();
    assert!(matches!(error, Error::Auth(AuthError::AccountSwitchRejected(_))), "{error:?}");
    assert_eq!(client.session().account(), before);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
}
