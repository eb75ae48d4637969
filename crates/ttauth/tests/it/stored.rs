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
