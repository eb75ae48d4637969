//! Bad input gets 4xx with `success:false`, never a panic or a hang.

use auth_emulator::{Emulator, Outcome};
use serde_json::json;

use crate::support::{call_data, login, raw_exchange, send};

fn status_of(raw: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(raw);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[test]
fn malformed_bodies_get_400_or_415() {
    let emu = Emulator::start();
    let url = format!("{}/auth/login", emu.url());
    for (content_type, body, status) in [
        (Some("application/json"), &b"{not json"[..], 400),
        (Some("application/json"), b"[1,2]", 400),
        (Some("application/json"), b"\xff\xfe", 400),
        (None, b"{\"username\":", 400),
        (Some("multipart/form-data; boundary=x"), b"--x--", 415),
    ] {
        let resp = send("POST", &url, None, content_type, body);
        assert_eq!(resp.status, status, "{content_type:?} {body:?}");
        assert_eq!(resp.json()["success"], false);
    }
    // Non-UTF-8 form data decodes lossily: just a wrong password.
    let resp = send("POST", &url, None, Some("application/x-www-form-urlencoded"), b"username=alice&password=%FF\xfe");
    assert_eq!(resp.status, 401);
    // Wrong JSON types are bad parameters.
    let resp = send(
        "POST",
        &url,
        None,
        Some("application/json"),
        json!({"username": ["a"], "password": {}}).to_string().as_bytes(),
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["errors"], json!(["username", "password"]));
}

#[test]
fn unusable_authorization_headers_get_401() {
    let emu = Emulator::start();
    for header in ["Basic !!!notbase64", "Basic bm9jb2xvbg==", "Bearer", "Integrator", "Basic"] {
        let resp = call_data(&emu, Some(header), "");
        assert_eq!(resp.status, 401, "{header}");
        assert_eq!(resp.json()["success"], false);
    }
    // Raw bytes that are not UTF-8 in the header value.
    let raw = raw_exchange(
        emu.addr(),
        b"GET /reports/call-data HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status_of(&raw), 401);
    assert!(emu.journal().iter().all(|e| e.outcome == Outcome::BadCredentials));
}

#[test]
fn oversized_requests_get_413_and_the_server_keeps_serving() {
    let emu = Emulator::start();
    let big = vec![b'a'; 2 * 1024 * 1024];
    let resp = send("POST", &format!("{}/calls", emu.url()), None, Some("text/plain"), &big);
    assert_eq!(resp.status, 413);
    assert_eq!(emu.journal()[0].outcome, Outcome::PayloadTooLarge);
    let _ = login(&emu, "alice", None);
}

#[test]
fn garbage_on_the_socket_does_not_hurt_the_server() {
    let emu = Emulator::start();
    let answer = raw_exchange(emu.addr(), b"\x00\x01\x02 not http at all\r\n\r\n");
    assert!(answer.is_empty() || status_of(&answer) == 400);
    // A body shorter than announced, then the client goes away.
    let mut stream = std::net::TcpStream::connect(emu.addr()).expect("connect");
    std::io::Write::write_all(&mut stream, b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort")
        .expect("write");
    drop(stream);
    let _ = login(&emu, "alice", None);
}
