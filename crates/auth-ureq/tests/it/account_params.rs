//! Requests that already carry `account_id` (SPEC.md §1, issue 12 item 14): every one of them
//! is checked, whatever its spelling, and the pinned account is never added twice. The
//! emulator, like many servers, takes the *last* `account_id` and decodes `account%5Fid`, so a
//! check of the first value alone would let a request run on another account. The journal
//! shows the query that arrived.

use auth_core::{AccountId, AuthError, Config, Password};
use auth_ureq::{Client, Error};
use http::StatusCode;

use crate::support::*;

fn basic_bob(s: &Scenario, pinned: Option<u64>) -> Client {
    let mut config = Config::basic(&s.emu.url(), BOB, Password::new(BOB_PASSWORD));
    if let Some(account) = pinned {
        config = config.account(AccountId(account));
    }
    s.client(config.build().unwrap())
}

fn integrator(s: &Scenario, pinned: Option<u64>) -> Client {
    let config = Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD));
    let config = match pinned {
        Some(account) => config.account(AccountId(account)),
        None => config.account_per_request(),
    };
    s.client(config.build().unwrap())
}

fn conflict(error: Error) -> (String, AccountId) {
    match error {
        Error::Auth(AuthError::AccountConflict { requested, pinned }) => (requested, pinned),
        other => panic!("expected AccountConflict, got {other:?}"),
    }
}

#[test]
fn the_emulator_reads_a_percent_encoded_account_id_as_account_id() {
    // Why the decoded name is what counts: the server acts on it.
    let s = Scenario::new();
    let client = basic_bob(&s, None);
    let response = client.send(s.get(&format!("{CALL_DATA}?account%5Fid=2003"))).unwrap();
    assert_eq!(served_account(response), Some(AccountId(2003)));
}

#[test]
fn a_pinned_basic_request_whose_later_account_id_differs_is_refused_before_sending() {
    let s = Scenario::new();
    let client = basic_bob(&s, Some(2002));
    let error = client.send(s.get(&format!("{CALL_DATA}?account_id=2002&account_id=2003"))).unwrap_err();
    assert_eq!(conflict(error), ("2003".to_owned(), AccountId(2002)));
    assert!(s.emu.journal().is_empty(), "nothing was sent");
}

#[test]
fn a_pinned_request_with_a_percent_encoded_or_upper_case_account_id_that_differs_is_refused() {
    let s = Scenario::new();
    let client = basic_bob(&s, Some(2002));
    for query in ["account%5Fid=2003", "account%5fid=2003&account_id=2002", "ACCOUNT_ID=2003", "Account_Id=2003"] {
        let error = client.send(s.get(&format!("{CALL_DATA}?{query}"))).unwrap_err();
        assert_eq!(conflict(error), ("2003".to_owned(), AccountId(2002)), "{query}");
    }
    assert!(s.emu.journal().is_empty(), "nothing was sent");
}

#[test]
fn a_pinned_integrator_request_naming_another_allowed_account_anywhere_is_refused() {
    let s = Scenario::new();
    let client = integrator(&s, Some(1001));
    for query in ["account_id=1001&account_id=2002", "account_id=2002&account_id=1001", "account%5Fid=2002"] {
        let error = client.send(s.get(&format!("{CALL_DATA}?{query}"))).unwrap_err();
        assert_eq!(conflict(error), ("2002".to_owned(), AccountId(1001)), "{query}");
    }
    assert!(s.emu.journal().is_empty(), "nothing was sent");
}

#[test]
fn two_different_account_ids_without_a_pin_are_refused_as_ambiguous() {
    let s = Scenario::new();
    for client in [basic_bob(&s, None), integrator(&s, None)] {
        for query in
            ["account_id=1001&account_id=2002", "account_id=2002&account%5Fid=1001", "account_id=2002&ACCOUNT_ID=1001"]
        {
            let error = client.send(s.get(&format!("{CALL_DATA}?{query}"))).unwrap_err();
            assert!(matches!(error, Error::Auth(AuthError::AccountAmbiguous { .. })), "{query}: {error:?}");
        }
    }
    assert!(s.emu.journal().is_empty(), "nothing was sent");
}

#[test]
fn a_request_already_carrying_the_pinned_account_gets_no_second_one() {
    let s = Scenario::new();
    let basic = basic_bob(&s, Some(2002));
    let queries = ["account_id=2002", "account_id=2002&account_id=2002", "from=1&account%5Fid=2002&account_id=02002"];
    for query in queries {
        let response = basic.send(s.get(&format!("{CALL_DATA}?{query}"))).unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(served_account(response), Some(AccountId(2002)));
    }
    let integrator = integrator(&s, Some(1001));
    assert_eq!(integrator.send(s.get(&format!("{CALL_DATA}?account_id=1001"))).unwrap().status(), StatusCode::OK);

    let arrived: Vec<Option<String>> = s.api_entries().into_iter().map(|e| e.query).collect();
    let mut expected: Vec<Option<String>> = queries.iter().map(|q| Some((*q).to_owned())).collect();
    expected.push(Some("account_id=1001".to_owned()));
    assert_eq!(arrived, expected, "the queries arrived exactly as sent");
}

#[test]
fn a_pinned_account_under_another_letter_case_still_gets_the_documented_parameter() {
    // A server that matches names exactly does not see `ACCOUNT_ID`: without `account_id` a
    // multi-account Basic user would run on the server's silent pick.
    let s = Scenario::new();
    let client = basic_bob(&s, Some(2002));
    let response = client.send(s.get(&format!("{CALL_DATA}?ACCOUNT_ID=2002"))).unwrap();
    assert_eq!(served_account(response), Some(AccountId(2002)));
    assert_eq!(s.api_entries()[0].query.as_deref(), Some("ACCOUNT_ID=2002&account_id=2002"));
}
