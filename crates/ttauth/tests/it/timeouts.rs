//! `--timeout`: it bounds a RealTime set-up as a whole, however slowly the server trickles
//! its answers, and values that do not fit are usage errors, never a panic.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};
use ttauth::Exit;

use crate::support::*;

/// The test's own watchdog: far below the trickle's length, far above `--timeout 1`.
const WATCHDOG: Duration = Duration::from_secs(30);
/// How often the trickling server writes one byte.
const TRICKLE_EVERY: Duration = Duration::from_millis(200);
/// Bytes of padding in a trickled answer: 300 bytes at one per 200 ms is a minute of trickle.
const PADDING: usize = 300;

/// What the trickling server answers to a WebSocket upgrade.
enum Trickle {
    /// The `101 Switching Protocols` head itself, one byte at a time.
    Upgrade,
    /// A correct `101` at once, then the `authresponse` frame one byte at a time.
    AuthResponse,
}

/// A server on 127.0.0.1 that accepts one WebSocket connection, reads the upgrade request and
/// then writes its answer one byte every [`TRICKLE_EVERY`], for about a minute. It simulates
/// a slow peer (that is what the pauses are for); it stops once the client has gone.
fn trickling_server(trickle: Trickle) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut key = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("sec-websocket-key")
            {
                key = value.trim().to_owned();
            }
        }
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let head = |padding: &str| {
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {accept}\r\nX-Padding: {padding}\r\n\r\n"
            )
        };
        let mut stream = stream;
        let slow = match trickle {
            Trickle::Upgrade => head(&"a".repeat(PADDING)).into_bytes(),
            Trickle::AuthResponse => {
                stream.write_all(head("").as_bytes()).unwrap();
                let payload = format!(r#"{{"type":"authresponse","success":true,"pad":"{}"}}"#, "a".repeat(PADDING));
                let mut frame = vec![0x81, 126];
                frame.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
                frame.extend_from_slice(payload.as_bytes());
                frame
            }
        };
        for byte in slow {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            std::thread::sleep(TRICKLE_EVERY);
        }
    });
    url
}

/// `ttauth realtime --timeout 1` for alice, with her token from `emu` and the socket at `ws_url`.
fn realtime_with_timeout_1(emu: &Emulator, ws_url: &str) -> BinaryOutput {
    let mut command = binary();
    command
        .args(["realtime", "--base-url", &emu.url(), "--username", "alice", "--no-state"])
        .args(["--ws-url", ws_url, "--timeout", "1"])
        .env("TELETRACKER_PASSWORD", ALICE_PASSWORD);
    run_binary(command, WATCHDOG)
}

#[test]
fn realtime_timeout_bounds_a_trickled_websocket_handshake() {
    let emu = Emulator::start();
    let ws_url = trickling_server(Trickle::Upgrade);
    let out = realtime_with_timeout_1(&emu, &ws_url);
    assert_eq!(out.code, Some(i32::from(Exit::Transport.code())), "{out:?}");
    assert!(
        out.stderr.contains(&format!("no RealTime connection to {ws_url} within 1 s (--timeout)")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("the WebSocket handshake did not finish"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(!out.stderr.contains(ALICE_PASSWORD));
}

#[test]
fn realtime_timeout_also_bounds_a_trickled_authresponse() {
    let emu = Emulator::start();
    let ws_url = trickling_server(Trickle::AuthResponse);
    let out = realtime_with_timeout_1(&emu, &ws_url);
    assert_eq!(out.code, Some(i32::from(Exit::Transport.code())), "{out:?}");
    assert!(out.stderr.contains("within 1 s (--timeout): no authresponse"), "{}", out.stderr);
}

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
