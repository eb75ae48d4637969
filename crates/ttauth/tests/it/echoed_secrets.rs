//! A server that repeats our secrets in its refusals (issue 12, items 8 and 9): what `ttauth`
//! prints on stderr holds none of them, in any encoding.

use auth_emulator::{EchoEncoding, Emulator, Endpoint, Fault, User};
use ttauth::Exit;

use crate::support::*;

const USER: &str = "echo.user";
const PASSWORD: &str = "pä\"ss\\/wo%rd+ 🔑";

fn echo(status: u16, encoding: EchoEncoding) -> Fault {
    Fault::EchoCredentials { status, encoding }
}

/// Whether `text` holds something shaped like the emulator's tokens (a UUID).
fn has_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).any(|start| {
        bytes[start..start + 36].iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
    })
}

#[test]
fn realtime_reports_a_refusal_that_echoes_the_token_without_the_token() {
    for encoding in [EchoEncoding::Raw, EchoEncoding::Json, EchoEncoding::FormUrlEncoded] {
        let emu = Emulator::start();
        // The first token is refused, then the one the reconnect uses: the refusal is final.
        emu.inject(Endpoint::Realtime, echo(401, encoding).times(2));
        let out = ttauth(&["realtime", "--base-url", &emu.url(), "--username", "alice", "--no-state"])
            .args(&["--max-messages", "0"])
            .password(ALICE_PASSWORD)
            .run();
        assert_eq!(out.exit, Exit::Auth, "{encoding:?}: {}", out.stderr);
        assert!(out.stderr.contains("refused the token: auth-emulator echoes token [redacted]"), "{}", out.stderr);
        assert!(!has_uuid(&out.stderr), "{encoding:?}: a token leaked: {}", out.stderr);
    }
}

#[test]
fn token_reports_a_login_that_echoes_the_password_without_the_password() {
    let emu = Emulator::builder().user(User::member(USER, PASSWORD, 1001)).start();
    for encoding in EchoEncoding::ALL {
        emu.inject(Endpoint::Login, echo(401, encoding));
        let out =
            ttauth(&["token", "--base-url", &emu.url(), "--username", USER, "--no-state"]).password(PASSWORD).run();
        assert_eq!(out.exit, Exit::Auth, "{encoding:?}: {}", out.stderr);
        assert!(out.stderr.contains("[redacted]"), "{encoding:?}: {}", out.stderr);
        for secret in [PASSWORD.to_owned(), format!("{USER}:{PASSWORD}")] {
            for form in EchoEncoding::ALL.map(|e| e.apply(&secret)) {
                assert!(!out.stderr.contains(&form), "{encoding:?}: {form:?} leaked: {}", out.stderr);
            }
        }
    }
}
