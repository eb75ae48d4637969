//! `ttauth token`: logs in once, reuses the stored session, refreshes it when it goes stale.
//!
//! Time: the library function takes the clock from its `Context`; these tests pass a
//! `ManualClock` and move it together with the emulator's `advance_clock`. Each `ttauth token`
//! builds a fresh client from the state file, exactly like separate processes do.

use std::time::Duration;

use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint, Outcome};
use ttauth::Exit;

use crate::support::*;

/// Into the refresh window of a 300 s token (stale from 225–240 s), before its cutoff (290 s).
const TO_STALE: Duration = Duration::from_secs(250);

fn token_args<'a>(emu_url: &'a str, state_file: &'a str) -> Vec<&'a str> {
    vec!["token", "--base-url", emu_url, "--username", "alice", "--state-file", state_file]
}

#[test]
fn token_logs_in_then_reuses_then_refreshes_the_stored_session() {
    let emu = Emulator::builder().token_lifetime(Duration::from_secs(300)).start();
    let clock = ManualClock::starting_now();
    let dir = temp_dir("token-three-calls");
    let state = dir.join("session.json");
    let (url, state_text) = (emu.url(), state.to_string_lossy().into_owned());
    let token = || ttauth(&token_args(&url, &state_text)).password(ALICE_PASSWORD).clock(&clock).run();

    // 1. Nothing stored: one login.
    let first = token();
    assert_eq!(first.exit, Exit::Success, "{}", first.stderr);
    let journal = emu.journal();
    assert_eq!(journal.len(), 1, "{journal:?}");
    assert_eq!((journal[0].endpoint, &journal[0].outcome), (Endpoint::Login, &Outcome::Ok));
    assert!(state.exists());

    // 2. A usable token is stored: no request at all, the same token.
    let second = token();
    assert_eq!(second.exit, Exit::Success, "{}", second.stderr);
    assert_eq!(emu.journal().len(), 1, "the second call sent a request");
    assert_eq!(second.stdout, first.stdout);

    // 3. The stored token is stale: exactly one refresh, and the new token is printed.
    advance(&emu, &clock, TO_STALE);
    let third = token();
    assert_eq!(third.exit, Exit::Success, "{}", third.stderr);
    let new = since(&emu, 1);
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!((new[0].endpoint, &new[0].outcome), (Endpoint::Refresh, &Outcome::Ok));
    assert_eq!(new[0].token_generation, Some(2));
    assert_ne!(third.stdout, first.stdout);
    assert_eq!(emu.logins_served(), 1);

    // Only the token on stdout: one line, nothing else; nothing on stderr.
    for out in [&first, &second, &third] {
        assert_eq!(out.stdout.lines().count(), 1, "{:?}", out.stdout);
        assert!(out.stdout.ends_with('\n'));
        assert!(!out.stdout.trim().is_empty() && !out.stdout.trim().contains(char::is_whitespace));
        assert_eq!(out.stderr, "");
    }
    // The refreshed token works.
    let call = ttauth(&["request", "--base-url", &url, "--username", "alice", "--state-file", &state_text, CALL_DATA])
        .clock(&clock)
        .run();
    assert_eq!(call.exit, Exit::Success, "{}", call.stderr);
    assert!(call.stdout.contains(r#""token_generation":2"#), "{}", call.stdout);
}

#[test]
fn a_stored_session_needs_no_password_until_it_must_log_in_again() {
    let emu = Emulator::start();
    let dir = temp_dir("token-no-password");
    let state = dir.join("s.json").to_string_lossy().into_owned();
    let url = emu.url();
    let without_password = ttauth(&token_args(&url, &state)).run();
    assert_eq!(without_password.exit, Exit::Usage, "nothing stored yet");
    assert!(without_password.stderr.contains("no password"), "{}", without_password.stderr);
    assert!(emu.journal().is_empty());

    let first = ttauth(&token_args(&url, &state)).password(ALICE_PASSWORD).run();
    assert_eq!(first.exit, Exit::Success);
    let again = ttauth(&token_args(&url, &state)).run();
    assert_eq!((again.exit, &again.stdout), (Exit::Success, &first.stdout));

    // The server forgets the session: the refresh token dies, and without a password the
    // session has expired (an auth failure, 4).
    emu.revoke_all();
    let clock = ManualClock::starting_now();
    advance(&emu, &clock, Duration::from_secs(3700));
    let expired = ttauth(&token_args(&url, &state)).clock(&clock).run();
    assert_eq!(expired.exit, Exit::Auth, "{}", expired.stderr);
    assert_eq!(expired.stdout, "");
}

#[test]
fn default_state_files_are_per_user_under_xdg_state_home() {
    let emu = Emulator::start();
    let state_home = temp_dir("token-xdg");
    let run = |user: &str, password: &str| {
        ttauth(&["token", "--base-url", &emu.url(), "--username", user])
            .password(password)
            .var("XDG_STATE_HOME", state_home.to_str().unwrap())
            .run()
    };
    let alice = run("alice", ALICE_PASSWORD);
    let bob = run("bob", BOB_PASSWORD);
    assert_eq!((alice.exit, bob.exit), (Exit::Success, Exit::Success), "{} {}", alice.stderr, bob.stderr);
    assert_ne!(alice.stdout, bob.stdout);
    let files: Vec<_> =
        files_in(&state_home.join("ttauth")).into_iter().filter(|name| name.ends_with(".json")).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("session-alice@127.0.0.1_")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("session-bob@127.0.0.1_")), "{files:?}");
    // Each user continues their own session.
    assert_eq!(run("alice", ALICE_PASSWORD).stdout, alice.stdout);
    assert_eq!(run("bob", BOB_PASSWORD).stdout, bob.stdout);
    assert_eq!(emu.logins_served(), 2);
}

#[test]
fn without_a_state_directory_token_asks_for_one() {
    let emu = Emulator::start();
    let out = ttauth(&["token", "--base-url", &emu.url(), "--username", "alice"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Usage);
    assert!(out.stderr.contains("--state-file"), "{}", out.stderr);
    let out = ttauth(&["token", "--base-url", &emu.url(), "--username", "alice", "--no-state"])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
}

#[test]
fn token_needs_the_bearer_scheme() {
    let emu = Emulator::start();
    let out = ttauth(&["token", "--base-url", &emu.url(), "--username", "alice", "--scheme", "basic", "--no-state"])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(out.exit, Exit::Usage);
    assert!(out.stderr.contains("--scheme bearer"), "{}", out.stderr);
    assert!(emu.journal().is_empty());
}

#[test]
fn a_corrupt_state_file_is_reported_not_overwritten() {
    let emu = Emulator::start();
    let dir = temp_dir("token-corrupt");
    let state = dir.join("s.json");
    write_private(&state, "not a session, maybe a secret");
    let out = ttauth(&token_args(&emu.url(), state.to_str().unwrap())).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Failure, "{}", out.stderr);
    assert!(out.stderr.contains("s.json"), "{}", out.stderr);
    assert!(!out.stderr.contains("maybe a secret"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), "not a session, maybe a secret");
    assert!(emu.journal().is_empty());
}
