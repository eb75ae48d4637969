//! `ttauth status` and `ttauth logout`, through the real binary (and in-process where the
//! client's clock has to move).

use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint};
use serde_json::Value;
use ttauth::Exit;

use crate::support::*;

const WATCHDOG: Duration = Duration::from_secs(60);

/// `ttauth <args>` as alice against `emu`, with its state under `state_home`.
fn alice(emu: &Emulator, state_home: &Path, args: &[&str]) -> BinaryOutput {
    let mut command = binary();
    command
        .args(args)
        .env("TELETRACKER_BASE_URL", emu.url())
        .env("TELETRACKER_USERNAME", "alice")
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD)
        .env("XDG_STATE_HOME", state_home);
    run_binary(command, WATCHDOG)
}

fn json(out: &BinaryOutput) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"))
}

/// The only session file (`*.json`) in `<state_home>/ttauth`.
fn session_file(state_home: &Path) -> PathBuf {
    let dir = state_home.join("ttauth");
    let files: Vec<String> = files_in(&dir).into_iter().filter(|f| f.ends_with(".json")).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    dir.join(&files[0])
}

#[test]
fn status_without_a_stored_session_exits_1_and_says_where_it_would_be() {
    let emu = Emulator::start();
    let home = temp_dir("status-none");
    let out = alice(&emu, &home, &["status", "--json"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let status = json(&out);
    assert_eq!(status["stored"], false);
    assert_eq!(status["usable"], false);
    assert_eq!(status["password_needed"], true);
    assert_eq!(status["username"], "alice");
    assert_eq!(status["server"], emu.url());
    assert!(status["state_file"].as_str().unwrap().starts_with(home.join("ttauth").to_str().unwrap()), "{status}");
    assert!(out.stderr.contains("no usable session for alice"), "{}", out.stderr);
    let text = alice(&emu, &home, &["status"]);
    assert_eq!(text.code, Some(1));
    assert!(text.stdout.contains("session:        none stored"), "{}", text.stdout);
    assert!(emu.journal().is_empty(), "status sent a request");
}

#[test]
fn status_json_reports_the_stored_session_sends_nothing_and_shows_no_secret() {
    let emu = Emulator::start();
    let home = temp_dir("status-json");
    let token = alice(&emu, &home, &["token"]);
    assert_eq!(token.code, Some(0), "{token:?}");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(session_file(&home)).unwrap()).unwrap();
    let journal = emu.journal().len();

    let out = alice(&emu, &home, &["status", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(emu.journal().len(), journal, "status sent a request");
    let status = json(&out);
    assert_eq!(status["stored"], true);
    assert_eq!(status["usable"], true);
    assert_eq!(status["password_needed"], false);
    assert_eq!(status["account"], Value::Null, "alice logged in without an account: the default one");
    assert_eq!(status["pinned_account"], Value::Null);
    assert_eq!(status["token"]["state"], "fresh");
    let left = status["token"]["seconds_left"].as_i64().unwrap();
    assert!((3500..=3600).contains(&left), "{status}");
    assert!(status["token"]["expires_at"].as_str().unwrap().ends_with('Z'), "to the second, in UTC: {status}");
    assert_eq!(status["refresh_token"]["state"], "valid");
    assert!(status["refresh_token"]["seconds_left"].as_i64().unwrap() > 28 * 86_400, "{status}");
    assert_eq!(status["check"], Value::Null);
    assert_eq!(status["state_file"], session_file(&home).to_str().unwrap());
    for secret in [token.stdout.trim(), stored["refresh_token"].as_str().unwrap(), ALICE_PASSWORD] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "status shows a secret: {out:?}");
    }
}

#[test]
fn status_check_with_a_fresh_token_sends_nothing() {
    let emu = Emulator::start();
    let home = temp_dir("status-check");
    assert_eq!(alice(&emu, &home, &["token"]).code, Some(0));
    let journal = emu.journal().len();
    let out = alice(&emu, &home, &["status", "--check", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let status = json(&out);
    assert_eq!(status["check"]["ok"], true, "{status}");
    assert!(status["check"]["result"].as_str().unwrap().contains("nothing was sent"), "{status}");
    assert_eq!(emu.journal().len(), journal);
}

#[test]
fn status_says_when_the_password_is_needed() {
    // In-process: the client's clock moves, with the emulator's.
    let emu = Emulator::builder()
        .token_lifetime(Duration::from_secs(300))
        .refresh_token_lifetime(Duration::from_secs(900))
        .start();
    let clock = ManualClock::starting_now();
    let state = temp_dir("status-password").join("alice.json");
    let state = state.to_str().unwrap();
    // Options before the subcommand, as `ttauth --state-file S token`.
    let ttauth_alice = |args: &[&str]| {
        ttauth(&["--base-url", &emu.url(), "--username", "alice", "--state-file", state]).args(args).clock(&clock)
    };
    let run = |args: &[&str]| ttauth_alice(args).run();
    assert_eq!(ttauth_alice(&["token"]).password(ALICE_PASSWORD).run().exit, Exit::Success);
    let journal = emu.journal().len();

    // The token has run out, the refresh token has not: no password needed.
    advance(&emu, &clock, Duration::from_secs(400));
    let out = run(&["status", "--json"]);
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (status["token"]["state"].as_str(), status["password_needed"].as_bool()),
        (Some("expired"), Some(false))
    );
    assert!(status["token"]["seconds_left"].as_i64().unwrap() < 0, "{status}");

    // Both have run out: the password is needed, and status exits 1.
    advance(&emu, &clock, Duration::from_secs(600));
    let out = run(&["status"]);
    assert_eq!(out.exit, Exit::Failure, "{}", out.stdout);
    assert!(out.stdout.contains("password:       needed"), "{}", out.stdout);
    assert!(out.stdout.contains("refresh token:  expired"), "{}", out.stdout);
    assert_eq!(emu.journal().len(), journal, "status sent a request");

    // --check without the password cannot continue it: an auth failure.
    let out = run(&["status", "--check"]);
    assert_eq!(out.exit, Exit::Auth, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("check:          FAILED: "), "{}", out.stdout);
    assert!(out.stderr.starts_with("ttauth: "), "{}", out.stderr);

    // --check with the password logs in again, and the session is usable after it.
    let out = ttauth_alice(&["status", "--check"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Success, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("check:          ok: the session was renewed"), "{}", out.stdout);
    assert!(out.stdout.contains("password:       not needed"), "{}", out.stdout);
    assert_eq!(emu.count(Endpoint::Login), 2);
}

#[test]
fn logout_twice_removes_the_session_then_finds_nothing() {
    let emu = Emulator::start();
    let home = temp_dir("logout-twice");
    assert_eq!(alice(&emu, &home, &["token"]).code, Some(0));
    let file = session_file(&home);
    let lock = PathBuf::from(format!("{}.lock", file.display()));
    assert!(lock.exists(), "the store keeps a lock file beside the session");

    let first = alice(&emu, &home, &["logout"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(first.stdout, format!("removed {}\nremoved {}\n", file.display(), lock.display()));
    assert!(!file.exists() && !lock.exists());

    let second = alice(&emu, &home, &["logout"]);
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(second.stdout, format!("nothing to remove: no session stored at {}\n", file.display()));
    assert_eq!(alice(&emu, &home, &["status"]).code, Some(1));
}

#[test]
fn logout_all_removes_every_session_and_nothing_else() {
    let emu = Emulator::start();
    let home = temp_dir("logout-all");
    assert_eq!(alice(&emu, &home, &["token"]).code, Some(0));
    let mut bob = binary();
    bob.args(["token", "--base-url", &emu.url(), "--username", "bob"])
        .env("TELETRACKER_PASSWORD", BOB_PASSWORD)
        .env("XDG_STATE_HOME", &home);
    assert_eq!(run_binary(bob, WATCHDOG).code, Some(0));
    let dir = home.join("ttauth");
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    assert_eq!(files_in(&dir).len(), 5, "{:?}", files_in(&dir));

    let mut all = binary();
    all.args(["logout", "--all"]).env("XDG_STATE_HOME", &home);
    let out = run_binary(all, WATCHDOG);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.lines().filter(|l| l.starts_with("removed ")).count(), 4, "{}", out.stdout);
    assert_eq!(files_in(&dir), ["notes.txt"]);

    let mut again = binary();
    again.args(["logout", "--all"]).env("XDG_STATE_HOME", &home);
    let out = run_binary(again, WATCHDOG);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("nothing to remove"), "{}", out.stdout);

    let mut conflicting = binary();
    conflicting.args(["--state-file", "/tmp/x.json", "logout", "--all"]).env("XDG_STATE_HOME", &home);
    assert_eq!(run_binary(conflicting, WATCHDOG).code, Some(2));
}

#[test]
fn the_state_directory_is_the_platforms() {
    // Without XDG_STATE_HOME, Linux's rule: ~/.local/state/ttauth (the `directories` crate).
    let emu = Emulator::start();
    let home = temp_dir("state-home");
    let mut command = binary();
    command
        .args(["token", "--base-url", &emu.url(), "--username", "alice"])
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD)
        .env("HOME", &home);
    let out = run_binary(command, WATCHDOG);
    assert_eq!(out.code, Some(0), "{out:?}");
    #[cfg(target_os = "linux")]
    {
        let files = files_in(&home.join(".local/state/ttauth"));
        assert!(files.iter().any(|f| f.starts_with("session-alice@")), "{files:?}");
    }
}
