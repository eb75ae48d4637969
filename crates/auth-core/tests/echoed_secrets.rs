//! A server that repeats our secrets in its failure answers (SPEC.md §5): raw, JSON-escaped,
//! URL-encoded, or as the base64 of a Basic/Integrator credential. None of these forms may
//! reach an error's `Display`, `Debug` or `{:#?}`.

use auth_core::{AuthError, Authorization, Config, Exchange, Password, Session};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use http::Response;
use time::{Duration, OffsetDateTime};

const BASE: &str = "https://api.teletracker.net";
const USER: &str = "alice";
/// Every character here changes in at least one encoding.
const PASSWORD: &str = "pä\"ss\\/wo%rd+ 🔑";
const TOKEN: &str = "tok/1+a%b-secret";
const REFRESH: &str = "ref/1+c%d-secret";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// RFC 3986 percent-encoding of all but the unreserved characters.
fn percent(text: &str, upper: bool, plus_for_space: bool) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(byte).to_string(),
            b' ' if plus_for_space => "+".to_owned(),
            _ if upper => format!("%{byte:02X}"),
            _ => format!("%{byte:02x}"),
        })
        .collect()
}

/// JSON escaping as serde_json writes it, without the quotes.
fn json(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

/// JSON escaping as PHP's `json_encode` writes it: `\/`, and `\uXXXX` for all but ASCII.
fn json_ascii(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '/' => out.push_str("\\/"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0u16; 2]).iter() {
                    out.push_str(&if upper { format!("\\u{unit:04X}") } else { format!("\\u{unit:04x}") });
                }
            }
        }
    }
    out
}

/// The text encodings of `secret`.
fn text_forms(secret: &str) -> Vec<String> {
    vec![
        secret.to_owned(),
        json(secret),
        json(secret).replace('/', "\\/"),
        json_ascii(secret, false),
        json_ascii(secret, true),
        percent(secret, true, true),
        percent(secret, false, true),
        percent(secret, true, false),
        percent(secret, false, false),
    ]
}

/// The base64 forms of `secret`.
fn base64_forms(secret: &str) -> Vec<String> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD].iter().map(|engine| engine.encode(secret)).collect()
}

/// Every form of the password SPEC.md §5 names, and of the Basic/Integrator credential.
fn password_forms() -> Vec<String> {
    let mut forms = text_forms(PASSWORD);
    forms.extend(base64_forms(PASSWORD));
    forms.extend(base64_forms(&format!("{USER}:{PASSWORD}")));
    forms
}

/// Bodies a server might answer with, each repeating `echo` in another place.
fn bodies(echo: &str) -> Vec<String> {
    vec![
        serde_json::json!({"success": false, "error": "invalid_credentials", "message": format!("bad {echo}")})
            .to_string(),
        serde_json::json!({"success": false, "error": format!("bad {echo}")}).to_string(),
        serde_json::json!({"success": false, "errors": [{"field": "password", "value": echo}]}).to_string(),
        serde_json::json!({"success": false, "error": {"message": echo}}).to_string(),
        format!("<html><body>bad request: {echo}</body></html>"),
    ]
}

fn status(code: u16, body: String) -> Response<Vec<u8>> {
    Response::builder().status(code).body(body.into_bytes()).unwrap()
}

/// Asserts that none of `forms` shows in the error, and that the echo did reach it (scrubbed).
fn assert_scrubbed(error: &AuthError, forms: &[String], context: &str) {
    let shown = [error.to_string(), format!("{error:?}"), format!("{error:#?}")];
    for text in &shown {
        for form in forms {
            assert!(!text.contains(form.as_str()), "{context}: {form:?} leaked in {text}");
        }
    }
    assert!(shown[0].contains("[redacted]"), "{context}: the echo did not reach the error: {}", shown[0]);
}

fn bearer_session() -> Session {
    let config = Config::bearer(BASE, USER, Password::new(PASSWORD)).build().unwrap();
    Session::new(config, 7, now()).unwrap()
}

fn authorize_error(session: &mut Session, at: OffsetDateTime) -> AuthError {
    let uri = format!("{BASE}/reports").parse().unwrap();
    match session.authorize(&uri, at) {
        Err(error) => error,
        Ok(Authorization::Ready(_)) => panic!("authorized"),
        Ok(Authorization::Pending) => panic!("pending"),
    }
}

#[test]
fn a_rejected_login_never_shows_the_password_in_any_encoding() {
    for echo in password_forms() {
        for body in bodies(&echo) {
            let mut session = bearer_session();
            let login = session.poll_transmit(now()).unwrap();
            session.handle_response(login.id(), &status(401, body.clone()), now());
            let error = authorize_error(&mut session, now());
            assert!(matches!(error, AuthError::CredentialsRejected(_)), "{error:?}");
            assert_scrubbed(&error, &password_forms(), &body);
        }
    }
}

#[test]
fn a_failed_refresh_never_shows_the_spent_refresh_token_or_the_token() {
    let grant = format!(r#"{{"success":true,"token":"{TOKEN}","tokenLifetime":3600,"refreshToken":"{REFRESH}"}}"#);
    let mut forms = text_forms(TOKEN);
    forms.extend(text_forms(REFRESH));
    for echo in &forms {
        for body in bodies(&format!("{echo} and {}", percent(TOKEN, false, false))) {
            let mut session = bearer_session();
            let login = session.poll_transmit(now()).unwrap();
            session.handle_response(login.id(), &Response::new(grant.clone()), now());
            let later = now() + Duration::seconds(3700);
            let refresh = session.poll_transmit(later).unwrap();
            assert_eq!(refresh.exchange(), Exchange::Refresh);
            session.handle_response(refresh.id(), &status(500, body.clone()), later);
            let error = authorize_error(&mut session, later);
            assert!(matches!(error, AuthError::Unavailable { .. }), "{error:?}");
            assert_scrubbed(&error, &forms, &body);
        }
    }
}

#[test]
fn an_auth_only_check_never_shows_the_basic_credential_or_the_password() {
    let config = Config::basic(BASE, USER, Password::new(PASSWORD)).build().unwrap();
    for echo in password_forms() {
        for body in bodies(&echo) {
            let error = auth_core::verify::handle_response(&config, &status(403, body.clone()), now()).unwrap_err();
            assert!(matches!(error, AuthError::CredentialsRejected(_)), "{error:?}");
            assert_scrubbed(&error, &password_forms(), &body);
        }
    }
}

#[test]
fn a_secret_past_the_excerpt_length_is_still_scrubbed_whole() {
    // A plain-text body whose echo straddles the first 512 bytes: no prefix of it survives.
    let body = format!("{}{}", "x".repeat(500), percent(PASSWORD, true, true));
    let config = Config::bearer(BASE, USER, Password::new(PASSWORD)).build().unwrap();
    let error = auth_core::verify::handle_response(&config, &status(500, body), now()).unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("p%C3"), "{shown}");
}
