//! `ttauth realtime`: authenticate, start the stream, print each message as a JSON line.

use std::thread;

use auth_emulator::{AuthScheme, Emulator, Endpoint, Outcome};
use serde_json::{Value, json};
use ttauth::{Exit, Interrupt};

use crate::support::*;

fn realtime(emu: &Emulator, user: &str, extra: &[&str]) -> Ttauth {
    ttauth(&["realtime", "--base-url", &emu.url(), "--username", user, "--no-state"]).args(extra)
}

/// Starts `run` on a thread, returning its stdout buffer and handle.
fn spawn(run: Ttauth) -> (SharedBuf, SharedBuf, thread::JoinHandle<Exit>) {
    let (stdout, stderr) = (SharedBuf::default(), SharedBuf::default());
    let (out, err) = (stdout.clone(), stderr.clone());
    (stdout, stderr, thread::spawn(move || run.run_into(out, err)))
}

#[test]
fn max_messages_1_prints_the_emitted_event_as_one_json_line() {
    let emu = Emulator::start();
    let (stdout, stderr, handle) = spawn(realtime(&emu, "alice", &["--max-messages", "1"]).password(ALICE_PASSWORD));
    // The event reaches only a socket whose user stream has started: emit until one has.
    wait_until("the user stream to start", || {
        emu.emit_user_event("alice", json!({"message": "hello", "n": 1})) == 1 || handle.is_finished()
    });
    let exit = handle.join().unwrap();
    assert_eq!(exit, Exit::Success, "{}", stderr.text());
    let stdout = stdout.text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let event: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(event, json!({"type": "userevent", "message": "hello", "n": 1}));
    assert!(stderr.text().contains("user stream started"), "{}", stderr.text());
    let entry = emu.journal().into_iter().find(|e| e.endpoint == Endpoint::Realtime).unwrap();
    assert_eq!((entry.scheme, entry.outcome, entry.user.as_deref()), (AuthScheme::Bearer, Outcome::Ok, Some("alice")));
}

#[test]
fn every_message_is_printed_until_the_server_closes() {
    let emu = Emulator::start();
    let (stdout, stderr, handle) = spawn(realtime(&emu, "bob", &["--stream", "account"]).password(BOB_PASSWORD));
    wait_until("the account stream to start", || emu.emit_account_event(2001, json!({"seq": 1})) == 1);
    emu.emit_account_event(2001, json!("plain value"));
    wait_until("two lines", || stdout.text().lines().count() == 2);
    emu.close_realtime_of("bob");
    assert_eq!(handle.join().unwrap(), Exit::Success, "{}", stderr.text());
    let lines: Vec<Value> = stdout.text().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0], json!({"type": "accountevent", "seq": 1}));
    assert_eq!(lines[1]["data"], "plain value");
    assert!(stderr.text().contains("closed the connection"), "{}", stderr.text());
}

#[test]
fn ctrl_c_stops_the_stream_with_status_0() {
    let emu = Emulator::start();
    let interrupt = Interrupt::new();
    let (stdout, stderr, handle) = spawn(realtime(&emu, "alice", &[]).password(ALICE_PASSWORD).interrupt(&interrupt));
    wait_until("the stream to start", || stderr.text().contains("stream started"));
    interrupt.trigger();
    assert_eq!(handle.join().unwrap(), Exit::Success, "{}", stderr.text());
    assert_eq!(stdout.text(), "");
}

#[test]
fn the_account_stream_of_a_user_without_privileges_is_an_auth_failure() {
    let emu = Emulator::start();
    let out = realtime(&emu, "alice", &["--stream", "account"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Auth, "{}", out.stderr);
    assert!(out.stderr.contains("not_elevated"), "{}", out.stderr);
}

#[test]
fn realtime_needs_a_bearer_session_and_a_reachable_server() {
    let emu = Emulator::start();
    let out = realtime(&emu, "alice", &["--scheme", "basic"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    assert!(out.stderr.contains("only bearer tokens"), "{}", out.stderr);
    assert!(emu.journal().is_empty());

    let ws = format!("ws://127.0.0.1:{}", closed_port());
    let out = realtime(&emu, "alice", &["--ws-url", &ws]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Transport, "{}", out.stderr);
    assert!(out.stderr.contains(&ws), "{}", out.stderr);
}

/// An emulator whose only session (alice's, stored in the returned state file) the server has
/// revoked behind the client's back.
fn a_revoked_stored_session(name: &str) -> (Emulator, String) {
    let emu = Emulator::start();
    let state = temp_dir(name).join("alice.json").to_string_lossy().into_owned();
    let token = ttauth(&["token", "--base-url", &emu.url(), "--username", "alice", "--state-file", &state])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(token.exit, Exit::Success);
    emu.revoke_all();
    (emu, state)
}

#[test]
fn a_refused_token_is_replaced_once_and_the_reconnect_succeeds() {
    let (emu, state) = a_revoked_stored_session("realtime-refused");
    let out = ttauth(&["realtime", "--base-url", &emu.url(), "--username", "alice", "--state-file", &state])
        .args(&["--max-messages", "0"])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(emu.logins_served(), 2, "the refused session was replaced by a new login");
}

#[test]
fn a_refused_token_that_cannot_be_replaced_is_an_auth_failure() {
    let (emu, state) = a_revoked_stored_session("realtime-refused-final");
    // The stored session is dead and the password given now is wrong: nothing can replace it.
    let out = ttauth(&["realtime", "--base-url", &emu.url(), "--username", "alice", "--state-file", &state])
        .args(&["--max-messages", "0"])
        .password("not-the-password")
        .run();
    assert_eq!(out.exit, Exit::Auth, "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-password"), "{}", out.stderr);
}
