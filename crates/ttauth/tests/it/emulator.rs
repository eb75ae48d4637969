//! `ttauth emulator`: serves until Ctrl-C, printing where and for whom.

use std::thread;

use ttauth::{Exit, Interrupt};

use crate::support::*;

#[test]
fn the_emulator_command_serves_until_interrupted() {
    let interrupt = Interrupt::new();
    let (stdout, stderr) = (SharedBuf::default(), SharedBuf::default());
    let (out, err) = (stdout.clone(), stderr.clone());
    let run = ttauth(&["emulator", "--port", "0"]).interrupt(&interrupt);
    let handle = thread::spawn(move || run.run_into(out, err));
    wait_until("the banner", || stdout.text().contains("Ctrl-C to stop."));
    let banner = stdout.text();
    let url =
        banner.lines().find_map(|l| l.trim().strip_prefix("REST:")).map(|u| u.trim().to_owned()).expect("a REST line");
    assert!(banner.contains(&format!("RealTime:  {}", url.replace("http://", "ws://"))), "{banner}");
    for user in ["alice", "bob", "integrator"] {
        assert!(banner.contains(user), "{banner}");
    }

    let call = ttauth(&["request", "--base-url", &url, "--username", "alice", "--no-state", CALL_DATA])
        .password(ALICE_PASSWORD)
        .run();
    assert_eq!(call.exit, Exit::Success, "{}", call.stderr);

    interrupt.trigger();
    assert_eq!(handle.join().unwrap(), Exit::Success, "{}", stderr.text());
    assert!(stdout.text().ends_with("emulator stopped\n"));
}

#[test]
fn a_port_in_use_is_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = ttauth(&["emulator", "--port", &port]).run();
    assert_eq!(out.exit, Exit::Failure, "{}", out.stderr);
    assert!(out.stderr.contains("cannot start the emulator"), "{}", out.stderr);
}
