//! No error, and no `Debug` of the client, ever shows a password or a token.

use std::sync::Arc;

use auth_core::{AccountId, Config, Password};
use auth_emulator::{Endpoint, Fault};
use auth_store::{FileStore, SessionStore};
use auth_ureq::Error;

use crate::support::*;

#[test]
fn no_error_or_debug_output_contains_a_secret() {
    let s = Scenario::new();
    let dir = temp_dir("secrets");
    let path = dir.join("session.json");
    let mut shown: Vec<String> = Vec::new();
    let mut show = |error: &Error| {
        shown.push(error.to_string());
        shown.push(format!("{error:?}"));
        shown.push(format!("{error:#?}"));
    };

    // A working session, so there are real tokens to look for.
    let client = s.client_with_store(s.alice(), Arc::new(FileStore::new(&path)));
    let token = client.bearer_token().unwrap();
    let stored = std::fs::read_to_string(&path).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let refresh_token = stored["refresh_token"].as_str().unwrap().to_owned();
    let mut secrets = vec![
        ALICE_PASSWORD.to_owned(),
        "wrong-s3cret-password".to_owned(),
        token.expose_secret().to_owned(),
        refresh_token,
    ];

    // Rejected credentials (the server's message is echoed, scrubbed).
    let wrong = s.client(s.bearer(ALICE, "wrong-s3cret-password"));
    show(&wrong.send(s.get(CALL_DATA)).unwrap_err());
    // Transient: a 500 on login, then the backoff.
    let flaky = s.client(s.alice());
    s.emu.inject(Endpoint::Login, Fault::Status(500));
    show(&flaky.send(s.get(CALL_DATA)).unwrap_err());
    show(&flaky.send(s.get(CALL_DATA)).unwrap_err());
    // A foreign origin, a bearer-only operation, an Integrator without an account.
    show(&client.send(http::Request::get("http://elsewhere.invalid/x").body(()).unwrap()).unwrap_err());
    let basic = s.client(Config::basic(&s.emu.url(), ALICE, Password::new(ALICE_PASSWORD)).build().unwrap());
    show(&basic.realtime_auth().unwrap_err());
    let integrator = s.client(
        Config::integrator(&s.emu.url(), INTEGRATOR, Password::new(INTEGRATOR_PASSWORD))
            .account_per_request()
            .build()
            .unwrap(),
    );
    secrets.push(INTEGRATOR_PASSWORD.to_owned());
    show(&integrator.send(s.get(CALL_DATA)).unwrap_err());
    // A refused account switch.
    show(&client.switch_account(AccountId(9999)).unwrap_err());
    // Transport: nobody listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let nowhere = Scenario::with(auth_emulator::Emulator::start());
    let dead = nowhere
        .client(Config::basic(&format!("http://{closed}"), ALICE, Password::new(ALICE_PASSWORD)).build().unwrap());
    show(&dead.send(http::Request::get(format!("http://{closed}/x")).body(()).unwrap()).unwrap_err());
    // Store problems: a corrupt file holding a token, another user's session, no password.
    let corrupt = dir.join("corrupt.json");
    write_private(&corrupt, format!("{{\"token\": \"{}\"", token.expose_secret()));
    show(&s.builder(s.alice()).store(Arc::new(FileStore::new(&corrupt))).build().unwrap_err());
    let bob =
        s.builder(s.bearer(BOB, BOB_PASSWORD)).store(Arc::new(FileStore::new(&path)) as Arc<dyn SessionStore>).build();
    secrets.push(BOB_PASSWORD.to_owned());
    show(&bob.unwrap_err());
    let tokenless = Config::bearer_without_password(&s.emu.url(), ALICE).build().unwrap();
    show(&s.builder(tokenless).build().unwrap_err());
    // The session expired for good.
    s.emu.revoke_session_of(ALICE);
    s.advance(TO_EXPIRED);
    let tokens_only = s.client_with_store(
        Config::bearer_without_password(&s.emu.url(), ALICE).build().unwrap(),
        Arc::new(FileStore::new(&path)),
    );
    show(&tokens_only.send(s.get(CALL_DATA)).unwrap_err());

    // And the clients themselves.
    for c in [&client, &wrong, &flaky, &basic, &integrator, &tokens_only] {
        shown.push(format!("{c:?}"));
        shown.push(format!("{:?}", c.middleware()));
    }
    shown.push(format!("{:?}", client.session().snapshot()));
    shown.push(format!("{:?}", client.realtime_auth()));

    assert!(shown.len() > 40, "{}", shown.len());
    for text in &shown {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "secret leaked in: {text}");
        }
    }
}
