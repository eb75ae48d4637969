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

/// Task A asks for 2002; while A's login is on the wire, task B asks for 2003. A is told its
/// switch was superseded, naming 2003; B's is done; A's handle runs nothing on 2003.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_superseded_by_another_tasks_switch_is_told_so() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let h = Harness::new();
    let client = h.client(h.bob()).await;
    type Switching = tokio::task::JoinHandle<Result<auth_reqwest::Client, Error>>;
    let second: Arc<Mutex<Option<Switching>>> = Arc::default();
    {
        let (client, second, runtime) = (client.clone(), Arc::clone(&second), tokio::runtime::Handle::current());
        h.emu.on_request(Endpoint::Login, move || {
            let mut second = second.lock().unwrap();
            if second.is_some() {
                return; // B's own login.
            }
            let b = client.clone();
            *second = Some(runtime.spawn(async move { b.switch_account(AccountId(2003)).await }));
            // A's login is answered only once B's switch has been asked for.
            let deadline = Instant::now() + Duration::from_secs(10);
            let pending = || client.session().read(|c, _| c.session().bearer().and_then(|b| b.pending_switch()));
            while pending() != Some(AccountId(2003)) {
                assert!(Instant::now() < deadline, "B's switch never registered");
                std::thread::yield_now();
            }
        });
    }

    let a = client.switch_account(AccountId(2002)).await;
    let b = second.lock().unwrap().take().expect("B switched");
    let b = b.await.unwrap().expect("B's switch is done");
    match a {
        Err(Error::Auth(AuthError::SwitchSuperseded { requested, in_force })) => {
            assert_eq!((requested, in_force), (AccountId(2002), Some(AccountId(2003))));
        }
        other => panic!("A must learn its switch was superseded, got {other:?}"),
    }
    assert_eq!(h.report(&b).await.1["served"]["account_id"], 2003);
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let refused = client.on_account(AccountId(2002)).send(request).await.unwrap_err();
    assert!(matches!(refused, Error::Auth(AuthError::AccountChanged { .. })), "{refused:?}");
    assert_eq!(h.emu.count(Endpoint::Api), 1, "nothing ran for A on 2003");
}
