//! Any bytes, any status, `Retry-After` in both forms as the answer to a login, a refresh, a masquerade or an
//! `auth_only` check. The session must never panic, never hand out a header that is not a
//! bearer token it was given, and never put a secret in an error.
#![no_main]

use auth_core::{AccountId, AccountSwitch, Authorization, Config, Exchange, Password, Session};
use http::{HeaderValue, Response};
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};

const PASSWORD: &str = "fuzz-password-secret";

#[derive(Debug)]
enum Stage {
    Login,
    Refresh,
    Masquerade,
    Verify,
}

/// The input, decoded from raw bytes so that seeds can be written by hand:
/// byte 0 picks the stage, bytes 1–2 are the status (big-endian), byte 3 holds header flags
/// (bit 0: `Retry-After: <byte 4>` seconds, bit 1: `Retry-After` as an HTTP date, bit 2: a
/// JSON content type), and the rest is the body.
#[derive(Debug)]
struct Input<'a> {
    stage: Stage,
    status: u16,
    flags: u8,
    retry_secs: u8,
    body: &'a [u8],
}

impl<'a> Input<'a> {
    fn decode(data: &'a [u8]) -> Option<Self> {
        let [stage, hi, lo, flags, retry_secs, body @ ..] = data else { return None };
        let stage = match stage % 4 {
            0 => Stage::Login,
            1 => Stage::Refresh,
            2 => Stage::Masquerade,
            _ => Stage::Verify,
        };
        Some(Input { stage, status: u16::from_be_bytes([*hi, *lo]), flags: *flags, retry_secs: *retry_secs, body })
    }
}

fn response<'a>(input: &Input<'a>) -> Response<&'a [u8]> {
    let mut response = Response::new(input.body);
    *response.status_mut() = http::StatusCode::from_u16(input.status).unwrap_or(http::StatusCode::OK);
    let headers = response.headers_mut();
    if input.flags & 1 != 0 {
        headers.append("retry-after", HeaderValue::from(u16::from(input.retry_secs)));
    }
    if input.flags & 2 != 0 {
        headers.append("retry-after", HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
    }
    if input.flags & 4 != 0 {
        headers.append("content-type", HeaderValue::from_static("application/json"));
    }
    response
}

const GRANT: &str = r#"{"success":true,"token":"tok-1-secret","tokenLifetime":3600,"refreshToken":"ref-1-secret"}"#;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::decode(data) else { return };
    let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
    let uri: http::Uri = "https://api.teletracker.net/reports".parse().unwrap();
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new(PASSWORD))
        .account_switch(AccountSwitch::masquerade())
        .build()
        .unwrap();
    if let Stage::Verify = input.stage {
        if let Err(err) = auth_core::verify::handle_response(&config, &response(&input), now) {
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(PASSWORD));
        }
        return;
    }
    let mut session = Session::new(config, 1, now).unwrap();
    let mut now = now;
    let login = session.poll_transmit(now).unwrap();
    if let Stage::Login = input.stage {
        session.handle_response(login.id(), &response(&input), now);
    } else {
        session.handle_response(login.id(), &Response::new(GRANT.as_bytes()), now);
        if let Stage::Masquerade = input.stage {
            let _ticket = session.switch_account(AccountId(7), now).unwrap();
        } else {
            now += Duration::minutes(58);
        }
        let request = session.poll_transmit(now).unwrap();
        assert!(matches!(request.exchange(), Exchange::Refresh | Exchange::Masquerade(_)));
        session.handle_response(request.id(), &response(&input), now);
    }
    while session.poll_event().is_some() {}
    match session.authorize(&uri, now) {
        Ok(Authorization::Ready(credential)) => {
            let header = credential.header().to_str().unwrap();
            assert!(header.starts_with("Bearer ") && header.len() > 7, "{header}");
        }
        Ok(Authorization::Pending) => {}
        Err(err) => {
            // Only what the session knew can leak: the password, and the first grant's tokens
            // once it had them (a server may echo anything, including text that merely
            // looks like a token it never sent).
            let shown = format!("{err} {err:?}");
            let known: &[&str] = if matches!(input.stage, Stage::Login) {
                &[PASSWORD]
            } else {
                &[PASSWORD, "tok-1-secret", "ref-1-secret"]
            };
            for secret in known {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }
    let _ = session.poll_timeout();
    let _ = format!("{session:?}");
});
