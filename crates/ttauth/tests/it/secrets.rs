//! Nothing `ttauth` writes to stderr ever contains the password or a token, whatever fails.

use auth_emulator::{Emulator, Endpoint};
use ttauth::Exit;

use crate::support::*;

const PASSWORD: &str = "Zq8-unguessable-bob-password";

#[test]
fn stderr_never_shows_the_password_or_a_token() {
    let emu = Emulator::start();
    emu.add_user(auth_emulator::User::member("carol", PASSWORD, 3001).with_accounts([3002]));
    let state = temp_dir("secrets").join("carol.json");
    let state_text = state.to_string_lossy().into_owned();
    let url = emu.url();
    let base =
        |command: &str| ttauth(&[command, "--base-url", &url, "--username", "carol", "--state-file", &state_text]);

    // A session to leak: its token is what `token` prints; its refresh token is in the file.
    let token = base("token").password(PASSWORD).run();
    assert_eq!(token.exit, Exit::Success, "{}", token.stderr);
    let token = token.stdout.trim().to_owned();
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let refresh_token = stored["refresh_token"].as_str().unwrap().to_owned();

    let mut outputs = vec![
        base("request").arg("/nope").password(PASSWORD).run(),
        ttauth(&["request", "--base-url", &url, "--username", "carol", "--no-state", "--account", "9999", CALL_DATA])
            .password(PASSWORD)
            .run(),
        ttauth(&["request", "--base-url", &url, "--username", "carol", "--no-state", CALL_DATA])
            .password("wrong")
            .run(),
        ttauth(&["request", "--base-url", &url, "--username", "ca:rol", "--scheme", "basic", CALL_DATA])
            .password(PASSWORD)
            .run(),
        ttauth(&["request", "--base-url", &format!("http://127.0.0.1:{}", closed_port()), "--username", "carol"])
            .args(&["--no-state", CALL_DATA])
            .password(PASSWORD)
            .run(),
        base("realtime").args(&["--stream", "account"]).password(PASSWORD).run(),
    ];
    // The server revokes the session and the password is wrong now: the stored token is
    // rejected, the refresh token refused, the relogin rejected.
    emu.revoke_all();
    outputs.push(base("request").arg(CALL_DATA).password("wrong").run());
    outputs.push(ttauth(&["demo", "--base-url", &url, "--username", "carol"]).password(PASSWORD).run());

    let expected =
        [Exit::HttpStatus, Exit::Auth, Exit::Auth, Exit::Usage, Exit::Transport, Exit::Auth, Exit::Auth, Exit::Success];
    for (out, expected) in outputs.iter().zip(expected) {
        assert_eq!(out.exit, expected, "{}", out.stderr);
        for secret in [PASSWORD, token.as_str(), refresh_token.as_str()] {
            assert!(!out.stderr.contains(secret), "stderr shows a secret: {}", out.stderr);
        }
        assert!(!out.stdout.contains(PASSWORD), "stdout shows the password: {}", out.stdout);
    }
    assert!(emu.count(Endpoint::Refresh) >= 1, "the revoked session's refresh was attempted");
}
