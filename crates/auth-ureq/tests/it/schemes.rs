//! Basic and Integrator through the same client: stateless headers and the account rules.

use auth_core::{AccountId, AuthError, Config, ConfigError, Password};
use auth_emulator::{AuthScheme, Endpoint};
use auth_ureq::Error;
use http::StatusCode;

use crate::support::*;

#[test]
fn basic_adds_the_pinned_account_to_every_request() {
    let s = Scenario::new();
    let config =
        Config::basic(&s.emu.url(), BOB, Password::new(BOB_PASSWORD)).account(AccountId(2002)).build().unwrap();
    let client = s.client(config);
    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(served_account(response), Some(AccountId(2002)));
    let response = client.send(s.get(&format!("{CALL_DATA}?from=2024-01-01"))).unwrap();
    assert_eq!(served_account(response), Some(AccountId(2002)));

    let api = s.api_entries();
    assert!(api.iter().all(|e| e.scheme == AuthScheme::Basic));
    assert_eq!(api[0].query.as_deref(), Some("account_id=2002"));
    assert_eq!(api[1].query.as_deref(), Some("from=2024-01-01&account_id=2002"));
    assert_eq!(s.count(Endpoint::Login), 0, "Basic never logs in");
}

#[test]
fn basic_401_is_final_and_not_retried() {
    let s = Scenario::new();
    let config = Config::basic(&s.emu.url(), ALICE, Password::new("wrong")).build().unwrap();
    let client = s.client(config);
    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.api_entries().len(), 1);
}

#[test]
fn integrator_with_a_pinned_account_is_served_on_it() {
    let s = Scenario::new();
    let config = Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD))
        .account(AccountId(1001))
        .build()
        .unwrap();
    let client = s.client(config);
    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(served_account(response), Some(AccountId(1001)));
    assert_eq!(s.api_entries()[0].scheme, AuthScheme::Integrator);
}

#[test]
fn integrator_without_an_account_is_refused_before_any_request() {
    let s = Scenario::new();
    let unpinned = Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD));
    assert!(matches!(unpinned.build(), Err(ConfigError::IntegratorNeedsAccount)));

    let config = Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD))
        .account_per_request()
        .build()
        .unwrap();
    let client = s.client(config);
    let error = client.send(s.get(CALL_DATA)).unwrap_err();
    assert!(matches!(error, Error::Auth(AuthError::AccountRequired)), "{error:?}");
    assert!(s.emu.journal().is_empty(), "nothing was sent");

    // Naming the account in the request is enough.
    let response = client.send(s.get(&format!("{CALL_DATA}?account_id=2002"))).unwrap();
    assert_eq!(served_account(response), Some(AccountId(2002)));
}

#[test]
fn bearer_only_operations_fail_clearly_under_basic_and_integrator() {
    let s = Scenario::new();
    let basic = s.client(Config::basic(&s.emu.url(), ALICE, Password::new(ALICE_PASSWORD)).build().unwrap());
    let integrator = s.client(
        Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD))
            .account(AccountId(1001))
            .build()
            .unwrap(),
    );
    for client in [&basic, &integrator] {
        let error = client.realtime_auth().unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::RequiresBearer)), "{error:?}");
        let error = client.bearer_token().unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::RequiresBearer)), "{error:?}");
        let error = client.switch_account(AccountId(2002)).unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::SwitchRequiresBearer)), "{error:?}");
        assert!(client.session().snapshot().is_none());
    }
    assert!(s.emu.journal().is_empty());
}
