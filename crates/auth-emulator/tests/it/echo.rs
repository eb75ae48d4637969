//! `Fault::EchoCredentials`: a server that repeats the presented credentials in its failure
//! message, in each encoding a client must scrub (SPEC §5).

use auth_emulator::{EchoEncoding, Emulator, Endpoint, Fault, Outcome, User};
use serde_json::json;

use crate::support::{basic, bearer, call_data, login, post_json, refresh, try_refresh, ws_auth, ws_closed};

const USER: &str = "echo.user";
/// Every character here changes in at least one encoding.
const PASSWORD: &str = "pä\"ss\\/wo%rd+ 🔑";

fn emulator() -> Emulator {
    Emulator::builder().user(User::member(USER, PASSWORD, 1001)).start()
}

fn echo(status: u16, encoding: EchoEncoding) -> Fault {
    Fault::EchoCredentials { status, encoding }
}

#[test]
fn a_login_echoes_the_password_and_the_credential_in_each_encoding_without_a_session() {
    let emu = emulator();
    let pair = format!("{USER}:{PASSWORD}");
    for encoding in EchoEncoding::ALL {
        emu.inject(Endpoint::Login, echo(401, encoding));
        let body = json!({"username": USER, "password": PASSWORD});
        let resp = post_json(&format!("{}/auth/login", emu.url()), None, &body);
        assert_eq!(resp.status, 401, "{encoding:?}");
        let answer = resp.json();
        assert_eq!((answer["success"].as_bool(), answer["error"].as_str()), (Some(false), Some("echoed_credentials")));
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(&format!("password {}", encoding.apply(PASSWORD))), "{encoding:?}: {message}");
        assert!(message.contains(&format!("credentials {}", encoding.apply(&pair))), "{encoding:?}: {message}");
    }
    assert!(emu.sessions().is_empty(), "before effect: no session");
    let journal = emu.journal();
    assert!(journal.iter().all(|e| matches!(e.outcome, Outcome::Fault(Fault::EchoCredentials { .. }))));
    assert_eq!(journal.len(), EchoEncoding::ALL.len());
}

#[test]
fn a_refresh_echoes_the_refresh_token_and_does_not_rotate() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Refresh, echo(500, EchoEncoding::Json));
    let resp = try_refresh(&emu, &alice.refresh_token);
    assert_eq!(resp.status, 500);
    let message = resp.json()["message"].as_str().unwrap().to_owned();
    assert_eq!(message, format!("auth-emulator echoes refresh_token {}", alice.refresh_token));
    let _ = refresh(&emu, &alice.refresh_token); // still the live refresh token
}

#[test]
fn the_api_echoes_a_basic_credential_and_a_bearer_token() {
    let emu = emulator();
    emu.inject(Endpoint::Api, echo(403, EchoEncoding::Base64));
    let resp = call_data(&emu, Some(&basic(USER, PASSWORD)), "");
    assert_eq!(resp.status, 403);
    let message = resp.json()["message"].as_str().unwrap().to_owned();
    let header = basic(USER, PASSWORD);
    let encoded = header.trim_start_matches("Basic ");
    assert!(message.ends_with(&format!("credentials {encoded}")), "{message}");

    let alice = login(&emu, "alice", None);
    emu.inject(Endpoint::Api, echo(401, EchoEncoding::FormUrlEncoded));
    let resp = call_data(&emu, Some(&bearer(&alice.token)), "");
    assert_eq!(resp.json()["message"], format!("auth-emulator echoes token {}", alice.token));
}

#[test]
fn a_realtime_handshake_is_refused_with_the_token_echoed_and_closed() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let token = format!("{}/ä+ x", alice.token); // not a valid token, but one with characters to encode
    for encoding in [EchoEncoding::Raw, EchoEncoding::JsonAscii, EchoEncoding::PercentLower] {
        emu.inject(Endpoint::Realtime, echo(401, encoding));
        let (mut socket, reply) = ws_auth(&emu.ws_url(), &token);
        assert_eq!(reply["type"], "authresponse");
        assert_eq!(reply["success"], false);
        assert_eq!(reply["error"], format!("auth-emulator echoes token {}", encoding.apply(&token)));
        assert!(ws_closed(&mut socket), "{encoding:?}");
    }
    // Without the fault, the real token authenticates as usual.
    let (_socket, reply) = ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(reply["success"], true);
}
