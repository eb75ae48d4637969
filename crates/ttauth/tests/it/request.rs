//! `ttauth request`: the body on stdout, and one exit status per kind of failure.

use auth_emulator::{AuthScheme, Emulator, Endpoint};
use serde_json::Value;
use ttauth::Exit;

use crate::support::*;

fn request(emu: &Emulator, user: &str, extra: &[&str]) -> Ttauth {
    ttauth(&["request", "--base-url", &emu.url(), "--username", user, "--no-state"]).args(extra)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_2xx_response_body_goes_to_stdout_with_status_0() {
    let emu = Emulator::start();
    let out = request(&emu, "alice", &[CALL_DATA]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    let body = json(&out.stdout);
    assert_eq!(body["served"]["user"], "alice");
    assert_eq!(body["served"]["account_id"], 1001);
    assert_eq!(out.stderr, "");
}

#[test]
fn post_with_a_body_and_headers() {
    let emu = Emulator::start();
    let out = request(&emu, "alice", &["-d", r#"{"to":"+15550100"}"#, "-H", "X-Trace: abc", "/calls"])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["data"][0]["request"]["to"], "+15550100");
    let call = emu.journal().into_iter().find(|e| e.endpoint == Endpoint::Api).unwrap();
    assert_eq!(call.method, "POST");

    let out =
        request(&emu, "alice", &["-X", "GET", "/reports/call-data?from=2024-01-01"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    let call = emu.journal().into_iter().rev().find(|e| e.endpoint == Endpoint::Api).unwrap();
    assert_eq!(call.query.as_deref(), Some("from=2024-01-01"));
}

#[test]
fn an_http_error_status_prints_the_body_and_exits_3() {
    let emu = Emulator::start();
    let out = request(&emu, "alice", &["/no-such-endpoint"]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::HttpStatus);
    assert_eq!(out.exit.code(), 3);
    assert_eq!(json(&out.stdout)["error"], "not_found");
    assert_eq!(out.stderr, "ttauth: HTTP 404 Not Found (GET /no-such-endpoint)\n");
    // A method the endpoint does not allow is an HTTP error too.
    let out = request(&emu, "alice", &["-X", "DELETE", CALL_DATA]).password(ALICE_PASSWORD).run();
    assert_eq!(out.exit, Exit::HttpStatus, "{}", out.stderr);
}

#[test]
fn rejected_credentials_exit_4() {
    let emu = Emulator::start();
    let out = request(&emu, "alice", &[CALL_DATA]).password("not-the-password").run();
    assert_eq!(out.exit, Exit::Auth);
    assert_eq!(out.exit.code(), 4);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.starts_with("ttauth: the server rejected the credentials"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1);
    assert_eq!(emu.count(Endpoint::Login), 1, "a rejected login is never retried");

    // Basic: the API's 401 is the answer (HTTP error), since Basic has no login step.
    let out = request(&emu, "alice", &["--scheme", "basic", CALL_DATA]).password("not-the-password").run();
    assert_eq!(out.exit, Exit::HttpStatus, "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 401"), "{}", out.stderr);
}

#[test]
fn a_transport_failure_exits_5() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    for scheme in ["bearer", "basic"] {
        let out = ttauth(&["request", "--base-url", &url, "--username", "alice", "--no-state", "--scheme", scheme])
            .arg(CALL_DATA)
            .password(ALICE_PASSWORD)
            .run();
        assert_eq!(out.exit, Exit::Transport, "{scheme}: {}", out.stderr);
        assert_eq!(out.exit.code(), 5);
        assert!(out.stderr.starts_with(&format!("ttauth: {url}: ")), "{scheme}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1);
    }
}

#[test]
fn usage_and_configuration_errors_exit_2_before_anything_is_sent() {
    let emu = Emulator::start();
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["--scheme", "basic", "--username", "a:b", CALL_DATA], Some("pw"), "cannot contain ':'"),
        (vec!["--scheme", "integrator", "--username", "x:y", CALL_DATA], Some("pw"), "cannot contain ':'"),
        (vec!["--username", "alice", CALL_DATA], None, "no password"),
        (vec![CALL_DATA], Some(ALICE_PASSWORD), "no username"),
        (vec!["--username", "alice", "reports/call-data"], Some(ALICE_PASSWORD), "must start with /"),
        (
            vec!["--username", "alice", "-X", "G E T", CALL_DATA],
            Some(ALICE_PASSWORD),
            "invalid value 'G E T' for '--request <METHOD>'",
        ),
        (vec!["--username", "alice", "-H", "no-colon", CALL_DATA], Some(ALICE_PASSWORD), "Name: value"),
        (
            vec!["--username", "alice", "-H", "Authorization: Bearer x", CALL_DATA],
            Some(ALICE_PASSWORD),
            "Authorization",
        ),
        (vec!["--username", "alice", "--account", "abc", CALL_DATA], Some(ALICE_PASSWORD), "invalid value"),
        (vec!["--username", "alice", "--scheme", "digest", CALL_DATA], Some(ALICE_PASSWORD), "invalid value"),
        (vec!["--username", "alice", "--no-such-flag", CALL_DATA], Some(ALICE_PASSWORD), "unexpected argument"),
        (vec!["--username", "alice", "http://elsewhere.example/x"], Some(ALICE_PASSWORD), "origin other than"),
        (
            vec!["--username", "alice", "--account-switch", "masquerade", "--masquerade-path", "x", CALL_DATA],
            Some(ALICE_PASSWORD),
            "masquerade path",
        ),
        (
            vec!["--username", "integrator", "--scheme", "integrator", CALL_DATA],
            Some("integrator-password"),
            "account_id",
        ),
    ];
    for (args, password, expected) in cases {
        let mut run = ttauth(&["request", "--base-url", &emu.url(), "--no-state"]).args(&args);
        if let Some(password) = password {
            run = run.password(password);
        }
        let out = run.run();
        assert_eq!(out.exit, Exit::Usage, "{args:?}: {}", out.stderr);
        assert_eq!(out.exit.code(), 2);
        assert!(out.stderr.contains(expected), "{args:?}: expected {expected:?} in {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    assert!(emu.journal().is_empty(), "{:?}", emu.journal());
}

#[test]
fn basic_pins_the_account_and_integrator_takes_it_from_the_flag_or_the_path() {
    let emu = Emulator::start();
    let out = request(&emu, "bob", &["--scheme", "basic", "--account", "2002", CALL_DATA]).password(BOB_PASSWORD).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["served"]["account_id"], 2002);

    let integrator = |extra: &[&str]| {
        request(&emu, "integrator", &["--scheme", "integrator"]).args(extra).password("integrator-password").run()
    };
    let out = integrator(&["--account", "1001", CALL_DATA]);
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["served"]["account_id"], 1001);
    let out = integrator(&["/reports/call-data?account_id=2002"]);
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["served"]["account_id"], 2002);
    assert!(emu.journal().iter().filter(|e| e.endpoint == Endpoint::Api).all(|e| e.scheme != AuthScheme::Bearer));
}

#[test]
fn a_bearer_request_binds_the_session_to_the_pinned_account() {
    let emu = Emulator::start();
    let out = request(&emu, "bob", &["--account", "2003", CALL_DATA]).password(BOB_PASSWORD).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["served"]["account_id"], 2003);
    let login = emu.journal().into_iter().find(|e| e.endpoint == Endpoint::Login).unwrap();
    assert_eq!(login.account_id, Some(2003));
}

#[test]
fn a_session_file_made_for_one_account_is_refused_under_another() {
    let emu = Emulator::start();
    let state = temp_dir("request-switch").join("bob.json").to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        ttauth(&["request", "--base-url", &emu.url(), "--username", "bob", "--state-file", &state])
            .args(extra)
            .password(BOB_PASSWORD)
            .run()
    };
    let out = run(&["--account", "2002", CALL_DATA]);
    assert_eq!(json(&out.stdout)["served"]["account_id"], 2002);
    // SPEC §3a: a stored session belongs to one account; its tokens never serve another.
    let out = run(&["--account", "2003", "--account-switch", "masquerade", CALL_DATA]);
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    assert!(out.stderr.contains("account 2002"), "{}", out.stderr);
    assert_eq!((emu.count(Endpoint::Login), emu.count(Endpoint::Masquerade), emu.count(Endpoint::Api)), (1, 0, 1));
}

#[test]
fn a_session_on_the_default_account_is_not_continued_under_a_pinned_account() {
    let emu = Emulator::start();
    let state = temp_dir("request-default-account").join("bob.json").to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        ttauth(&["request", "--base-url", &emu.url(), "--username", "bob", "--state-file", &state])
            .args(extra)
            .password(BOB_PASSWORD)
            .run()
    };
    assert_eq!(run(&[CALL_DATA]).exit, Exit::Success);
    let out = run(&["--account", "2002", CALL_DATA]);
    assert_eq!(out.exit, Exit::Usage, "{}", out.stderr);
    assert!(out.stderr.contains("default account"), "{}", out.stderr);
    assert_eq!(emu.count(Endpoint::Login), 1);
}
