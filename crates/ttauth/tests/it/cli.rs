//! The command line as people use it (issue 15), through the real binary: options on either
//! side of the subcommand, per-subcommand help, usage errors, `-v`, completions, the demo and
//! `TELETRACKER_BASE_URL`, and `realtime` against `ttauth emulator`.

use std::io::BufReader;
use std::process::Child;
use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};
use ttauth::Context;

use crate::support::*;

const WATCHDOG: Duration = Duration::from_secs(60);

fn run(args: &[&str]) -> BinaryOutput {
    let mut command = binary();
    command.args(args);
    run_binary(command, WATCHDOG)
}

#[test]
fn options_work_before_or_after_the_subcommand() {
    let emu = Emulator::start();
    let state = temp_dir("either-side").join("s.json");
    let state = state.to_str().unwrap();
    let url = emu.url();
    let token = |args: &[&str]| {
        let mut command = binary();
        command.args(args).env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
        run_binary(command, WATCHDOG)
    };
    let before = token(&["--state-file", state, "--base-url", &url, "--username", "alice", "--timeout", "5", "token"]);
    assert_eq!(before.code, Some(0), "{before:?}");
    let after = token(&["token", "--state-file", state, "--base-url", &url, "--username", "alice", "--timeout", "5"]);
    assert_eq!(after.code, Some(0), "{after:?}");
    let mixed = token(&["--state-file", state, "token", "--base-url", &url, "-v", "--username", "alice"]);
    assert_eq!(mixed.code, Some(0), "{mixed:?}");
    assert_eq!(before.stdout, after.stdout, "both continued the one stored session");
    assert_eq!(before.stdout, mixed.stdout);
    assert_eq!(emu.count(Endpoint::Login), 1);
    assert!(mixed.stderr.contains("token from the stored session"), "-v after the subcommand: {}", mixed.stderr);
}

/// The long options (`--name`) a help text lists.
fn options_in(help: &str) -> Vec<String> {
    help.split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.', ':']).split(['=', '[']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn each_subcommands_help_lists_only_the_options_that_act_there() {
    let help = |sub: &str| {
        let out = run(&[sub, "--help"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        out.stdout
    };
    let switch = ["--account-switch", "--masquerade-path"];
    for sub in ["token", "request", "realtime", "demo"] {
        let options = options_in(&help(sub));
        for option in switch {
            assert!(options.iter().any(|o| o == option), "{sub} --help lacks {option}: {options:?}");
        }
    }
    for (sub, absent) in [
        ("status", &["--account-switch", "--masquerade-path", "--no-state", "--scheme"][..]),
        ("logout", &["--account-switch", "--masquerade-path", "--timeout", "--password-stdin", "--no-state"]),
        ("emulator", &["--base-url", "--username", "--state-file", "--timeout", "--account-switch"]),
        ("completions", &["--base-url", "--verbose", "--state-file"]),
        ("demo", &["--state-file", "--no-state"]),
    ] {
        let options = options_in(&help(sub));
        for option in absent {
            assert!(!options.iter().any(|o| o == option), "{sub} --help lists {option}: {options:?}");
        }
    }
    let demo = help("demo");
    assert!(!demo.contains("https://api.teletracker.net"), "demo --help shows a default server: {demo}");
    assert!(demo.contains("instead of the in-process emulator"), "{demo}");
    assert!(help("status").contains("--json") && help("status").contains("--check"));
    assert!(help("logout").contains("--all"));
}

#[test]
fn an_option_that_does_not_act_in_a_subcommand_is_a_usage_error() {
    for args in [
        &["logout", "--timeout", "5"][..],
        &["--account-switch", "masquerade", "status", "--username", "alice"],
        &["emulator", "--base-url", "http://x", "--port", "0"],
        &["demo", "--state-file", "/tmp/s.json"],
    ] {
        let out = run(args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains("does not apply to `ttauth "), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}: nothing ran");
    }
}

#[test]
fn input_errors_are_usage_errors() {
    let emu = Emulator::start();
    for args in [
        &["request", "-X", "BOGUS", CALL_DATA][..],
        &["request", "-X", "", CALL_DATA],
        &["request", "--timeout", "0", CALL_DATA],
        &["request", "--timeout", "18446744073709551615", CALL_DATA],
        &["request", "--account", "many", CALL_DATA],
        &["request", "relative/path"],
    ] {
        let mut command = binary();
        command
            .args(args)
            .args(["--no-state", "--base-url", &emu.url(), "--username", "alice"])
            .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
        let out = run_binary(command, WATCHDOG);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
    }
    assert!(emu.journal().is_empty(), "a usage error sent something");
    // Methods are case-insensitive.
    let mut command = binary();
    command
        .args(["request", "-X", "get", CALL_DATA, "--no-state", "--base-url", &emu.url(), "--username", "alice"])
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
    assert_eq!(run_binary(command, WATCHDOG).code, Some(0));
}

#[test]
fn verbose_tells_where_the_token_came_from_and_never_shows_a_secret() {
    let emu = Emulator::start();
    let home = temp_dir("verbose");
    let password = "Zq8-verbose\"pass\\word";
    emu.add_user(auth_emulator::User::member("carol", password, 3001));
    let ttauth = |args: &[&str], password: &str| {
        let mut command = binary();
        command
            .args(args)
            .args(["--base-url", &emu.url(), "--username", "carol"])
            .env("TELETRACKER_PASSWORD", password)
            .env("XDG_STATE_HOME", &home);
        run_binary(command, WATCHDOG)
    };
    let mut outputs = Vec::new();

    // No session: a login, and why.
    let first = ttauth(&["-v", "token"], password);
    assert_eq!(first.code, Some(0), "{first:?}");
    assert!(first.stderr.contains("logging in (POST /auth/login) reason=no stored session"), "{}", first.stderr);
    assert!(first.stderr.contains("token from a login"), "{}", first.stderr);
    let token = first.stdout.trim().to_owned();
    outputs.push(first);

    // A stored, fresh session: reused, nothing sent.
    let second = ttauth(&["token", "-v"], password);
    assert!(second.stderr.contains("token from the stored session: no request was needed"), "{}", second.stderr);
    outputs.push(second);
    let file = std::fs::read_dir(home.join("ttauth")).unwrap().map(|e| e.unwrap().path());
    let file = file.into_iter().find(|p| p.extension().is_some_and(|e| e == "json")).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let refresh_token = stored["refresh_token"].as_str().unwrap().to_owned();

    // The server revoked it: the API refuses the token, the refresh is refused, a relogin.
    emu.revoke_all();
    let third = ttauth(&["-vvv", "request", CALL_DATA], password);
    assert_eq!(third.code, Some(0), "{third:?}");
    let log = &third.stderr;
    assert!(
        log.contains("refreshing the session (POST /auth/refresh) reason=the API refused the token (HTTP 401)"),
        "{log}"
    );
    assert!(log.contains("reason=the server refused the refresh token (HTTP 401): logging in again"), "{log}");
    assert!(log.contains("TRACE"), "-vvv shows trace events: {log}");
    outputs.push(third);

    // TTAUTH_LOG at trace level too.
    let mut command = binary();
    command
        .args(["token", "--base-url", &emu.url(), "--username", "carol"])
        .env("TELETRACKER_PASSWORD", password)
        .env("XDG_STATE_HOME", &home)
        .env("TTAUTH_LOG", "trace");
    let fourth = run_binary(command, WATCHDOG);
    assert!(fourth.stderr.contains("token from the stored session"), "{}", fourth.stderr);
    outputs.push(fourth);

    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let new_token = stored["token"].as_str().unwrap().to_owned();
    let new_refresh = stored["refresh_token"].as_str().unwrap().to_owned();
    for out in &outputs {
        for secret in [password, &token, &refresh_token, &new_token, &new_refresh] {
            assert!(!out.stderr.contains(secret), "stderr shows a secret: {}", out.stderr);
        }
        assert!(!out.stdout.contains(password) && !out.stdout.contains(&refresh_token), "{}", out.stdout);
    }
    // The request's stdout is the response body: no token in it either.
    assert!(!outputs[2].stdout.contains(&new_token));

    // An unreadable filter is a usage error.
    let mut command = binary();
    command.args(["logout", "--all"]).env("TTAUTH_LOG", "ttauth=loud").env("XDG_STATE_HOME", &home);
    assert_eq!(run_binary(command, WATCHDOG).code, Some(2));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in
        [("bash", "_ttauth()"), ("zsh", "#compdef ttauth"), ("fish", "complete -c ttauth"), ("powershell", "ttauth")]
    {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {out:?}");
        assert!(out.stdout.contains(marker), "{shell}: {}", &out.stdout[..out.stdout.len().min(300)]);
        assert!(out.stdout.contains("status") && out.stdout.contains("logout"), "{shell}");
    }
    assert_eq!(run(&["completions", "tcsh"]).code, Some(2));
}

#[test]
fn demo_with_teletracker_base_url_exported_still_runs_the_emulator_and_says_so() {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let mut command = binary();
    command.arg("demo").env("TELETRACKER_BASE_URL", &closed);
    let out = run_binary(command, WATCHDOG);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut lines = out.stdout.lines();
    assert!(lines.next().unwrap().contains("against an IN-PROCESS EMULATOR"), "{}", out.stdout);
    let second = lines.next().unwrap();
    assert!(second.contains(&format!("TELETRACKER_BASE_URL={closed} is set but not used")), "{second}");
}

#[test]
fn demo_against_a_server_that_is_down_exits_5_and_prints_times_to_the_second() {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let mut command = binary();
    command.args(["demo", "--base-url", &closed, "--username", "bob"]).env("TELETRACKER_PASSWORD", BOB_PASSWORD);
    let out = run_binary(command, WATCHDOG);
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(
        out.stdout.starts_with(&format!("ttauth demo: against the SERVER {closed} (--base-url)")),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("retrying at") && !out.stderr.contains("retrying at"), "{out:?}");
    // No time with a fraction of a second anywhere (the old message had `7:39:55.118334548`).
    let has_fraction = |text: &str| {
        text.split(|c: char| !c.is_ascii_digit() && c != ':' && c != '.').any(|word| {
            let parts: Vec<&str> = word.split(':').collect();
            parts.len() == 3
                && parts[..2].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                && parts[2].split_once('.').is_some_and(|(s, f)| !s.is_empty() && !f.is_empty())
        })
    };
    assert!(has_fraction("retrying at 2026-11-29 7:39:55.118334548 +00:00:00"), "the check itself works");
    assert!(!has_fraction(&out.stdout) && !has_fraction(&out.stderr), "{out:?}");
}

/// Starts `ttauth emulator <args>` and reads its banner; returns the child and the banner.
fn start_emulator(args: &[&str]) -> (Child, String) {
    let mut child = binary().arg("emulator").args(args).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let banner = read_banner(&mut stdout);
    // Keep reading (and dropping) so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, banner)
}

#[test]
fn realtime_against_the_emulator_command_receives_events_as_the_hints_say() {
    // The demo's hint names the emulator command to run next...
    let demo = SharedBuf::default();
    assert_eq!(
        ttauth::demo::run_with_emulator(Context::new(demo.clone(), SharedBuf::default())),
        ttauth::Exit::Success
    );
    let demo = demo.text();
    let hint = demo.lines().find(|l| l.starts_with("next: ")).unwrap_or_else(|| panic!("no hint: {demo}"));
    let emulator_line = hint.split('`').nth(1).unwrap();
    let mut args: Vec<&str> = emulator_line.split_whitespace().skip(2).collect();
    assert_eq!(&emulator_line[..16], "ttauth emulator ", "{hint}");
    // ...on a port of its own here (8080 may be taken on a shared machine).
    if let Some(i) = args.iter().position(|a| *a == "--port") {
        args[i + 1] = "0";
    }
    let (mut child, banner) = start_emulator(&args);

    // ...whose banner prints the `ttauth realtime` line: run it as printed.
    let line =
        banner.lines().map(str::trim).find(|l| l.contains("ttauth realtime")).unwrap_or_else(|| panic!("{banner}"));
    let mut words = line.split_whitespace();
    let (var, value) = words.next().unwrap().split_once('=').unwrap();
    assert_eq!(words.next(), Some("ttauth"));
    let mut command = binary();
    command.env(var, value).args(words);
    let out = run_binary(command, WATCHDOG);
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));

    assert_eq!(out.code, Some(0), "{out:?}");
    let events: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 3, "{}", out.stdout);
    assert!(events.iter().all(|e| e["type"] == "userevent" && e["tick"].is_u64()), "{events:?}");
}

#[test]
fn emulator_event_intervals_out_of_range_are_usage_errors() {
    let out = run(&["emulator", "--port", "0", "--event-interval-ms", "18446744073709551615"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--event-interval-ms"), "{}", out.stderr);
}
