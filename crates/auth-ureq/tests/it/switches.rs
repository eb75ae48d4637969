//! Account switches from several callers at once: each caller learns how *its* switch ended
//! (SPEC.md §4), and no request runs on an account its caller was not told about.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use auth_core::{AccountId, AuthError};
use auth_emulator::Endpoint;
use auth_ureq::{Client, Error};

use crate::support::*;

/// Caller A asks for 2002; while A's login is on the wire, caller B asks for 2003. A's switch
/// is superseded and A is told so, naming 2003, the account now in force; B's is done. A's
/// handle then refuses to run anything on 2003. (Before the coordination moved into the core,
/// A was told `Ok` and its next requests ran on 2003.)
#[test]
fn a_switch_superseded_by_another_callers_switch_is_told_so() {
    let s = Scenario::new();
    let client = s.client(s.bearer(BOB, BOB_PASSWORD));
    let second: Arc<Mutex<Option<Switching>>> = Arc::default();
    {
        let (client, second) = (client.clone(), Arc::clone(&second));
        s.emu.on_request(Endpoint::Login, move || {
            let mut second = second.lock().unwrap();
            if second.is_some() {
                return; // B's own login.
            }
            let b = client.clone();
            *second = Some(std::thread::spawn(move || b.switch_account(AccountId(2003))));
            // A's login is answered only once B's switch has been asked for.
            let deadline = Instant::now() + Duration::from_secs(10);
            while pending_switch(&client) != Some(AccountId(2003)) {
                assert!(Instant::now() < deadline, "B's switch never registered");
                std::thread::yield_now();
            }
        });
    }

    let a = client.switch_account(AccountId(2002));
    let b = second.lock().unwrap().take().expect("B switched"); // the lock is not held while joining
    let b = b.join().unwrap();

    match a {
        Err(Error::Auth(AuthError::SwitchSuperseded { requested, in_force })) => {
            assert_eq!((requested, in_force), (AccountId(2002), Some(AccountId(2003))));
        }
        other => panic!("A must learn its switch was superseded, got {other:?}"),
    }
    let b = b.expect("B's switch is done");
    assert_eq!(served_account(b.send(s.get("/reports/call-data")).unwrap()), Some(AccountId(2003)));
    let stale_a = client.on_account(AccountId(2002));
    let refused = stale_a.send(s.get("/reports/call-data")).unwrap_err();
    assert!(matches!(refused, Error::Auth(AuthError::AccountChanged { .. })), "{refused:?}");
    assert_eq!(s.count(Endpoint::Api), 1, "nothing ran for A on 2003");
}

/// The other caller's switch, on its own thread.
type Switching = JoinHandle<Result<Client, Error>>;

fn pending_switch(client: &Client) -> Option<AccountId> {
    client.session().read(|coordinator, _| coordinator.session().bearer().and_then(|b| b.pending_switch()))
}
