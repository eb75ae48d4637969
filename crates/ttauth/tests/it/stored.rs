//! A stored session belongs to one server, user and account (SPEC.md §3a): a state file made
//! against one server is refused by a command against another, which then sends it nothing.

use auth_emulator::Emulator;
use ttauth::Exit;

use crate::support::*;

#[test]
fn a_state_file_made_for_one_server_is_refused_against_another() {
    let (first, second) = (Emulator::start(), Emulator::start());
    let dir = temp_dir("stored-other-server");
    let state = dir.join("session.json");
    let state = state.to_str().unwrap();
    let made = ttauth(&["token", "--base-url", &first.url(), "--username", "alice", "--state-file", state])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(made.exit, Exit::Success, "{}", made.stderr);
    let stored = std::fs::read_to_string(state).unwrap();

    let out = ttauth(&["request", "--base-url", &second.url(), "--username", "alice", "--state-file", state])
        .arg(CALL_DATA)
        .password(ALICE_PASSWORD)
        .run();
    assert_ne!(out.exit, Exit::Success, "{}", out.stdout);
    assert!(out.stderr.contains("another server"), "{}", out.stderr);
    assert!(second.journal().is_empty(), "the other server received {:?}", second.journal());
    // Nothing of the stored session was spent or replaced.
    assert_eq!(std::fs::read_to_string(state).unwrap(), stored);
    assert_eq!(first.journal().len(), 1);
}

/// SPEC §3a: a process holding the session file's lock (stopped, or stuck in a slow login)
/// blocks `ttauth token --timeout 1` for a second at most, which then says the store is busy.
#[test]
fn a_session_file_locked_by_a_hung_process_makes_token_fail_fast_with_store_busy() {
    use auth_store::SessionStore;

    let emu = Emulator::start();
    let clock = auth_driver::ManualClock::starting_now();
    let dir = temp_dir("stored-busy");
    let state = dir.join("session.json");
    let args = ["token", "--base-url", &emu.url(), "--username", "alice", "--state-file", state.to_str().unwrap()];
    let made = ttauth(&args).password(ALICE_PASSWORD).clock(&clock).run();
    assert_eq!(made.exit, Exit::Success, "{}", made.stderr);

    let hung = auth_store::FileStore::new(&state).lock(std::time::Duration::from_secs(1)).unwrap();
    advance(&emu, &clock, std::time::Duration::from_secs(4000));
    let out = ttauth(&args).args(&["--timeout", "1"]).password(ALICE_PASSWORD).clock(&clock).run();
    assert_ne!(out.exit, Exit::Success, "{}", out.stdout);
    assert!(out.stderr.contains("busy"), "{}", out.stderr);
    assert_eq!(emu.journal().len(), 1, "nothing sent without the lock");
    drop(hung);
    let after = ttauth(&args).password(ALICE_PASSWORD).clock(&clock).run();
    assert_eq!(after.exit, Exit::Success, "{}", after.stderr);
}
