//! A server that repeats our secrets in its failure answers, in every encoding SPEC.md §5
//! names (issue 12, items 8 and 9): through the client, none of them reaches an error's
//! `Display`, `Debug`, `{:#?}` or its sources, nor a RealTime refusal.

use std::error::Error as _;

use auth_core::realtime::{RealtimeError, RealtimeHandshake};
use auth_core::{AuthError, Config, Password, TransientCause};
use auth_emulator::{EchoEncoding, Emulator, Endpoint, Fault, User};
use auth_ureq::Error;
use tungstenite::Message;

use crate::support::*;

const USER: &str = "echo.user";
/// Every character here changes in at least one encoding.
const PASSWORD: &str = "pä\"ss\\/wo%rd+ 🔑";

fn scenario() -> Scenario {
    Scenario::with(Emulator::builder().token_lifetime(LIFETIME).user(User::member(USER, PASSWORD, 1001)).start())
}

fn echo(status: u16, encoding: EchoEncoding) -> Fault {
    Fault::EchoCredentials { status, encoding }
}

/// Every form of each secret, in every encoding the emulator can echo.
fn forms(secrets: &[&str]) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets {
        forms.extend(EchoEncoding::ALL.iter().map(|encoding| encoding.apply(secret)));
        forms.push(format!("{secret:?}").trim_matches('"').to_owned()); // as `Debug` would escape it
    }
    forms
}

/// Everything the error shows: `Display`, `Debug`, `{:#?}`, and the same for each source.
fn shown(error: &Error) -> Vec<String> {
    let mut shown = vec![error.to_string(), format!("{error:?}"), format!("{error:#?}")];
    let mut source = error.source();
    while let Some(inner) = source {
        shown.extend([inner.to_string(), format!("{inner:?}"), format!("{inner:#?}")]);
        source = inner.source();
    }
    shown
}

fn assert_no_form(shown: &[String], forms: &[String], context: &str) {
    for text in shown {
        for form in forms {
            assert!(!text.contains(form.as_str()), "{context}: {form:?} leaked in {text}");
        }
    }
    assert!(shown[0].contains("[redacted]"), "{context}: the echo did not reach the error: {}", shown[0]);
}

#[test]
fn a_rejected_login_that_echoes_the_password_shows_it_in_no_encoding() {
    let s = scenario();
    let pair = format!("{USER}:{PASSWORD}");
    let secrets = forms(&[PASSWORD, &pair]);
    for encoding in EchoEncoding::ALL {
        let client = s.client(s.bearer(USER, PASSWORD));
        s.emu.inject(Endpoint::Login, echo(401, encoding));
        let error = client.send(s.get(CALL_DATA)).unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::CredentialsRejected(_))), "{encoding:?}: {error:?}");
        assert_no_form(&shown(&error), &secrets, &format!("{encoding:?}"));
    }
    assert_eq!(s.count(Endpoint::Api), 0);
}

#[test]
fn a_login_answered_5xx_with_the_password_echoed_shows_it_in_no_encoding() {
    let s = scenario();
    let pair = format!("{USER}:{PASSWORD}");
    let secrets = forms(&[PASSWORD, &pair]);
    for encoding in EchoEncoding::ALL {
        let client = s.client(s.bearer(USER, PASSWORD));
        s.emu.inject(Endpoint::Login, echo(502, encoding));
        let error = client.send(s.get(CALL_DATA)).unwrap_err();
        let Error::Auth(AuthError::Unavailable { cause: TransientCause::Server(_), .. }) = &error else {
            panic!("{encoding:?}: {error:?}");
        };
        assert_no_form(&shown(&error), &secrets, &format!("{encoding:?}"));
    }
}

#[test]
fn a_failed_refresh_that_echoes_the_spent_refresh_token_shows_it_in_no_encoding() {
    let s = scenario();
    for encoding in EchoEncoding::ALL.into_iter().filter(|e| !e.is_base64()) {
        let client = s.client(s.bearer(USER, PASSWORD));
        let token = client.bearer_token().unwrap();
        let snapshot = serde_json::to_value(client.session().snapshot().unwrap()).unwrap();
        let refresh_token = snapshot["refresh_token"].as_str().unwrap().to_owned();
        s.advance(TO_EXPIRED);
        s.emu.inject(Endpoint::Refresh, echo(500, encoding));
        let error = client.send(s.get(CALL_DATA)).unwrap_err();
        assert!(matches!(error, Error::Auth(AuthError::Unavailable { .. })), "{encoding:?}: {error:?}");
        let secrets = forms(&[token.expose_secret(), &refresh_token, PASSWORD]);
        assert_no_form(&shown(&error), &secrets, &format!("{encoding:?}"));
    }
}

#[test]
fn a_realtime_refusal_that_echoes_the_token_shows_it_in_no_encoding() {
    let s = scenario();
    let client = s.client(s.bearer(USER, PASSWORD));
    let token = client.bearer_token().unwrap();
    let secrets = forms(&[token.expose_secret()]);
    for encoding in EchoEncoding::ALL.into_iter().filter(|e| !e.is_base64()) {
        s.emu.inject(Endpoint::Realtime, echo(401, encoding));
        let auth = client.realtime_auth().unwrap();
        let (mut socket, _) = tungstenite::connect(format!("{}/realtime", s.emu.ws_url())).unwrap();
        socket.send(Message::text(auth.as_text())).unwrap();
        let mut handshake = RealtimeHandshake::new(&auth);
        let refusal = loop {
            match socket.read().unwrap() {
                Message::Text(text) => match handshake.handle_message(text.as_str()) {
                    Err(refusal) => break refusal,
                    Ok(progress) => panic!("{encoding:?}: not refused: {progress:?}"),
                },
                Message::Close(frame) => panic!("{encoding:?}: closed first: {frame:?}"),
                _ => {}
            }
        };
        assert!(matches!(refusal, RealtimeError::AuthRejected { detail: Some(_) }), "{refusal:?}");
        let shown = [refusal.to_string(), format!("{refusal:?}"), format!("{refusal:#?}")];
        assert_no_form(&shown, &secrets, &format!("{encoding:?}"));
    }
}

#[test]
fn a_basic_client_never_turns_an_echoing_api_answer_into_an_error() {
    // Basic and Integrator hold no server text in their errors: an API answer that echoes the
    // credential is the caller's response, returned as it came.
    let s = scenario();
    let client = s.client(Config::basic(&s.emu.url(), USER, Password::new(PASSWORD)).build().unwrap());
    s.emu.inject(Endpoint::Api, echo(401, EchoEncoding::Base64));
    let response = client.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(s.count(Endpoint::Api), 1, "a Basic 401 is final");
}
