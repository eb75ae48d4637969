//! The password comes from `TELETRACKER_PASSWORD` or stdin, never from a flag.

use auth_emulator::Emulator;
use ttauth::Exit;

use crate::support::*;

fn request(emu: &Emulator) -> Ttauth {
    ttauth(&["request", "--base-url", &emu.url(), "--username", "alice", "--no-state", CALL_DATA])
}

#[test]
fn password_stdin_reads_one_line() {
    let emu = Emulator::start();
    for input in ["alice-password\n", "alice-password\r\n", "alice-password"] {
        let out = request(&emu).arg("--password-stdin").stdin(input).run();
        assert_eq!(out.exit, Exit::Success, "{input:?}: {}", out.stderr);
    }
    assert_eq!(emu.logins_served(), 3);
}

#[test]
fn password_stdin_wins_over_the_environment() {
    let emu = Emulator::start();
    let out = request(&emu).arg("--password-stdin").stdin("alice-password\n").password("wrong").run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
}

#[test]
fn an_empty_stdin_is_a_usage_error() {
    let emu = Emulator::start();
    for input in ["", "\n"] {
        let out = request(&emu).arg("--password-stdin").stdin(input).run();
        assert_eq!(out.exit, Exit::Usage, "{input:?}");
        assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);
    }
    assert!(emu.journal().is_empty());
}

#[test]
fn there_is_no_password_flag() {
    for args in [
        &["request", "--password", "hunter2", "/x"][..],
        &["request", "--password=hunter2", "/x"],
        &["token", "--password", "hunter2"],
    ] {
        let out = ttauth(args).run();
        assert_eq!(out.exit, Exit::Usage, "{args:?}");
        assert!(out.stderr.contains("unexpected argument '--password'"), "{}", out.stderr);
        assert!(!out.stderr.contains("hunter2"), "clap echoed the value: {}", out.stderr);
    }
    for command in ["demo", "token", "request", "realtime"] {
        let help = ttauth(&[command, "--help"]).run();
        assert_eq!(help.exit, Exit::Success);
        assert!(help.stdout.contains("--password-stdin"), "{command}");
        assert!(!help.stdout.replace("--password-stdin", "").contains("--password"), "{command}: {}", help.stdout);
        assert!(help.stdout.contains("TELETRACKER_USERNAME"), "{command}: env fallbacks are documented");
    }
}

#[test]
fn a_password_with_a_control_character_is_refused_without_echoing_it() {
    let emu = Emulator::start();
    let out = request(&emu).password("line1\u{7}line2").run();
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    assert!(out.stderr.contains("control character"), "{}", out.stderr);
    assert!(!out.stderr.contains("line1"), "{}", out.stderr);
    assert!(emu.journal().is_empty());
}
