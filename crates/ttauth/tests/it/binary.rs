//! The real binary: exit statuses as the shell sees them, the `TELETRACKER_*` environment,
//! the password on stdin, a session shared by separate processes, Ctrl-C.

use std::io::{BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};

use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn exit_statuses_reach_the_shell() {
    let emu = Emulator::start();
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let cases: [(&[&str], &str, i32); 6] = [
        (&["request", CALL_DATA], ALICE_PASSWORD, 0),
        (&["request", "--no-such-flag"], ALICE_PASSWORD, 2),
        (&["request", "--scheme", "basic", "--username", "a:b", CALL_DATA], ALICE_PASSWORD, 2),
        (&["request", "/nope"], ALICE_PASSWORD, 3),
        (&["request", CALL_DATA], "wrong-password", 4),
        (&["request", "--base-url", &closed, CALL_DATA], ALICE_PASSWORD, 5),
    ];
    for (args, password, code) in cases {
        let mut command = binary();
        command
            .args(args)
            .arg("--no-state")
            .env("TELETRACKER_BASE_URL", emu.url())
            .env("TELETRACKER_USERNAME", "alice")
            .env("TELETRACKER_PASSWORD", password);
        let out = run_binary(command, TIMEOUT);
        assert_eq!(out.code, Some(code), "{args:?}: {out:?}");
        assert!(!out.stderr.contains(password), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.is_empty(), code == 0, "{args:?}: a message on stderr exactly on failure");
    }
}

#[test]
fn configuration_comes_from_the_environment_and_flags_win() {
    let emu = Emulator::start();
    let mut command = binary();
    command
        .args(["request", "--no-state", CALL_DATA])
        .env("TELETRACKER_BASE_URL", emu.url())
        .env("TELETRACKER_USERNAME", "bob")
        .env("TELETRACKER_PASSWORD", BOB_PASSWORD)
        .env("TELETRACKER_SCHEME", "basic")
        .env("TELETRACKER_ACCOUNT_ID", "2002");
    let out = run_binary(command, TIMEOUT);
    assert_eq!(out.code, Some(0), "{out:?}");
    let body: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((body["served"]["scheme"].as_str(), body["served"]["account_id"].as_u64()), (Some("basic"), Some(2002)));

    let mut command = binary();
    command
        .args(["request", "--no-state", "--account", "2003", "--scheme", "bearer", CALL_DATA])
        .env("TELETRACKER_BASE_URL", emu.url())
        .env("TELETRACKER_USERNAME", "bob")
        .env("TELETRACKER_PASSWORD", BOB_PASSWORD)
        .env("TELETRACKER_SCHEME", "basic")
        .env("TELETRACKER_ACCOUNT_ID", "2002");
    let out = run_binary(command, TIMEOUT);
    let body: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (body["served"]["scheme"].as_str(), body["served"]["account_id"].as_u64()),
        (Some("bearer"), Some(2003))
    );
}

#[test]
fn password_stdin_reads_the_real_stdin() {
    let emu = Emulator::start();
    let mut child = binary()
        .args(["request", "--no-state", "--base-url", &emu.url(), "--username", "alice", "--password-stdin", CALL_DATA])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"alice-password\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""user":"alice""#));
}

#[test]
fn separate_processes_share_the_stored_session() {
    let emu = Emulator::start();
    let state_home = temp_dir("binary-token");
    let token = || {
        let mut command = binary();
        command
            .args(["token", "--base-url", &emu.url(), "--username", "alice"])
            .env("XDG_STATE_HOME", &state_home)
            .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
        run_binary(command, TIMEOUT)
    };
    let first = token();
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(emu.journal().len(), 1);
    let second = token();
    assert_eq!(second.code, Some(0), "{second:?}");
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(emu.journal().len(), 1, "the second process sent a request");
    assert_eq!(emu.count(Endpoint::Login), 1);
    let files = files_in(&state_home.join("ttauth"));
    assert!(files.iter().any(|f| f.starts_with("session-alice@") && f.ends_with(".json")), "{files:?}");
    #[cfg(unix)]
    for file in files.iter().filter(|f| f.ends_with(".json")) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state_home.join("ttauth").join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_emulator_command() {
    let mut child = binary().args(["emulator", "--port", "0"]).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let banner = read_banner(&mut stdout);
    assert!(banner.contains("REST:      http://127.0.0.1:"), "{banner}");
    // SIGINT to the child we started, by its id.
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("emulator stopped"), "{rest}");
}

#[test]
fn help_lists_the_commands_and_exit_statuses() {
    let mut command = binary();
    command.arg("--help");
    let out = run_binary(command, TIMEOUT);
    assert_eq!(out.code, Some(0));
    for word in ["demo", "token", "request", "realtime", "emulator", "Exit status"] {
        assert!(out.stdout.contains(word), "{word}: {}", out.stdout);
    }
}
