//! `--timeout` and other user-given durations: values that do not fit are usage errors,
//! never a panic, and the largest accepted ones work.

use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};
use ttauth::Exit;

use crate::support::*;

/// The test's own watchdog.
const WATCHDOG: Duration = Duration::from_secs(30);

#[test]
fn out_of_range_timeouts_are_usage_errors_for_every_command() {
    for command in [&["request", CALL_DATA][..], &["token"], &["realtime"], &["demo", "--base-url", "http://x"]] {
        for value in ["0", "86401", "18446744073709551615", "soon"] {
            let mut binary = binary();
            binary
                .args(command)
                .args(["--timeout", value, "--username", "alice", "--base-url", "http://127.0.0.1:9"])
                .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
            let out = run_binary(binary, WATCHDOG);
            assert_eq!(out.code, Some(2), "{command:?} --timeout {value}: {out:?}");
            assert!(out.stderr.contains("--timeout"), "{command:?} --timeout {value}: {}", out.stderr);
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
    }
}

#[test]
fn the_longest_timeout_works() {
    let emu = Emulator::start();
    let mut command = binary();
    command
        .args(["request", "--base-url", &emu.url(), "--username", "alice", "--no-state"])
        .args(["--timeout", "86400", CALL_DATA])
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
    let out = run_binary(command, WATCHDOG);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn huge_emulator_token_lifetimes_are_usage_errors() {
    for value in ["0", "31536001", "18446744073709551615"] {
        let mut command = binary();
        command.args(["emulator", "--port", "0", "--token-lifetime", value]);
        let out = run_binary(command, WATCHDOG);
        assert_eq!(out.code, Some(2), "--token-lifetime {value}: {out:?}");
        assert!(out.stderr.contains("--token-lifetime"), "{}", out.stderr);
        assert_eq!(out.stdout, "", "the emulator must not start");
    }
}

#[test]
fn timeout_bounds_a_login_that_never_answers() {
    // The emulator holds every login forever (its latency knob at the largest duration: it
    // must not overflow either); `--timeout 1` gives up on it.
    let emu = Emulator::builder().endpoint_latency(Endpoint::Login, Duration::MAX).start();
    let mut command = binary();
    command
        .args(["token", "--base-url", &emu.url(), "--username", "alice", "--no-state", "--timeout", "1"])
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
    let out = run_binary(command, WATCHDOG);
    assert_eq!(out.code, Some(i32::from(Exit::Transport.code())), "{out:?}");
    assert!(out.stderr.contains("could not be reached (no answer in time)"), "{}", out.stderr);
}

#[test]
fn absurd_emulator_lifetimes_and_clock_offsets_serve_without_panicking() {
    for offset in [i64::MAX, i64::MIN] {
        let emu = Emulator::builder()
            .token_lifetime(Duration::MAX)
            .refresh_token_lifetime(Duration::MAX)
            .clock_offset(offset)
            .start();
        let out = ttauth(&["request", "--base-url", &emu.url(), "--username", "alice", "--no-state", CALL_DATA])
            .password(ALICE_PASSWORD)
            .run();
        assert_eq!(out.exit, Exit::Success, "offset {offset}: {}", out.stderr);
    }
}
