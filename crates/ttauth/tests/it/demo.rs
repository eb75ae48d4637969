//! `ttauth demo`: every step behaves as expected, in-process and as the real binary, and
//! against a running server with the knob steps skipped.

use std::time::Duration;

use auth_emulator::Emulator;
use ttauth::{Context, Exit};

use crate::support::*;

const STEPS: [&str; 12] = [
    "login",
    "API call",
    "refresh",
    "account switch (relogin)",
    "account switch (masquerade)",
    "Basic, no account pinned",
    "Basic, account pinned",
    "Integrator with account",
    "Integrator without account",
    "RealTime needs bearer",
    "RealTime handshake",
    "RealTime user event",
];

fn assert_every_step_passed(stdout: &str) {
    for step in STEPS {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("✓ {step} "))), "step {step:?} did not pass:\n{stdout}");
    }
    assert!(!stdout.contains('✗'), "{stdout}");
    assert!(stdout.contains("demo: 12 steps passed, 0 failed, 0 skipped"), "{stdout}");
}

#[test]
fn demo_against_the_in_process_emulator_passes_every_step() {
    let stdout = SharedBuf::default();
    let stderr = SharedBuf::default();
    let exit = ttauth::demo::run_with_emulator(Context::new(stdout.clone(), stderr.clone()));
    let stdout = stdout.text();
    assert_eq!(exit, Exit::Success, "{stdout}\n{}", stderr.text());
    assert_every_step_passed(&stdout);
    // The details the walk promises: who served each call, with which token generation.
    assert!(stdout.contains("served alice (bearer) on account 1001 with token generation 1"), "{stdout}");
    assert!(stdout.contains("next call served with generation 2"), "{stdout}");
    assert!(stdout.contains("emulator journal: 0 new requests"), "{stdout}");
    assert!(stdout.contains(r#""type":"userevent""#), "{stdout}");
    assert_eq!(stderr.text(), "");
}

#[test]
fn the_demo_binary_completes_in_seconds_and_exits_0() {
    let mut command = binary();
    command.arg("demo");
    let output = run_binary(command, Duration::from_secs(60));
    assert_eq!(output.code, Some(0), "{output:?}");
    assert_every_step_passed(&output.stdout);
    assert!(output.elapsed < Duration::from_secs(30), "took {:?}", output.elapsed);
}

#[test]
fn demo_against_a_running_server_skips_what_needs_the_emulator_knobs() {
    let emu = Emulator::start();
    let out = ttauth(&["demo", "--base-url", &emu.url(), "--username", "bob", "--account", "2003"])
        .args(&["--switch-account", "2002"])
        .password(BOB_PASSWORD)
        .run();
    assert_eq!(out.exit, Exit::Success, "{}\n{}", out.stdout, out.stderr);
    let stdout = &out.stdout;
    assert!(
        stdout.contains(&format!("against the SERVER {} (--base-url) as bob (Bearer), real clock", emu.url())),
        "{stdout}"
    );
    for step in ["login", "API call", "account switch (relogin)", "Basic, no account pinned", "Basic, account pinned"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("✓ {step} "))), "{step}:\n{stdout}");
    }
    for step in ["Integrator without account", "RealTime needs bearer", "RealTime handshake"] {
        assert!(stdout.lines().any(|l| l.starts_with(&format!("✓ {step} "))), "{step}:\n{stdout}");
    }
    assert!(stdout.contains("- refresh                        skipped: needs the emulator's clock"), "{stdout}");
    assert!(stdout.contains("- RealTime user event            skipped"), "{stdout}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(stdout.contains("now on account 2002"), "{stdout}");
    // It really talked to the server: a login bound to 2003, then one to 2002.
    let logins: Vec<_> = emu.journal().into_iter().filter(|e| e.endpoint == auth_emulator::Endpoint::Login).collect();
    assert_eq!(logins.iter().map(|e| e.account_id).collect::<Vec<_>>(), [Some(2003), Some(2002)]);
}

#[test]
fn a_demo_step_that_misbehaves_fails_the_demo_with_status_1() {
    let emu = Emulator::start();
    let out = ttauth(&["demo", "--base-url", &emu.url(), "--username", "alice"]).password("wrong-password").run();
    assert_eq!(out.exit, Exit::Failure, "{}", out.stdout);
    assert!(out.stdout.contains("✗ login"), "{}", out.stdout);
    assert!(out.stderr.contains("demo step(s) did not behave as expected"), "{}", out.stderr);
    assert!(!out.stdout.contains("wrong-password") && !out.stderr.contains("wrong-password"));
}

#[test]
fn demo_against_a_server_needs_a_username_and_password() {
    let emu = Emulator::start();
    let out = ttauth(&["demo", "--base-url", &emu.url()]).run();
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    let out = ttauth(&["demo", "--base-url", &emu.url(), "--username", "alice"]).run();
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    assert!(out.stderr.contains("no password"), "{}", out.stderr);
    assert!(emu.journal().is_empty());
}
