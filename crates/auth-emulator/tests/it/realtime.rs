//! The RealTime WebSocket (SPEC §6).

use std::time::Duration;

use auth_emulator::{AuthScheme, Emulator, Endpoint, Fault, Outcome};
use serde_json::{Value, json};

use crate::support::{eventually, get, login, ws_auth, ws_closed, ws_connect, ws_next_json, ws_next_text, ws_send};

#[test]
fn a_valid_token_authenticates_the_socket() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (_socket, reply) = ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(reply, json!({"type": "authresponse", "success": true}));
    assert_eq!(emu.realtime_connections(), 1);

    let entry = emu.journal().pop().expect("entry");
    assert_eq!(entry.endpoint, Endpoint::Realtime);
    assert_eq!(entry.path, "/");
    assert_eq!(entry.scheme, AuthScheme::Bearer);
    assert_eq!(entry.user.as_deref(), Some("alice"));
    assert_eq!(entry.account_id, Some(1001));
    assert_eq!(entry.token_generation, Some(1));
    assert_eq!(entry.outcome, Outcome::Ok);
    assert_eq!(entry.status, Some(101));
}

#[test]
fn the_socket_is_also_served_at_slash_realtime() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (_socket, reply) = ws_auth(&format!("{}/realtime", emu.ws_url()), &alice.token);
    assert_eq!(reply["success"], true);
}

#[test]
fn bad_and_expired_tokens_are_refused_and_the_socket_closed() {
    let emu = Emulator::start();
    let (mut socket, reply) = ws_auth(&emu.ws_url(), "not-a-token");
    assert_eq!(reply, json!({"type": "authresponse", "success": false, "error": "invalid_token"}));
    assert!(ws_closed(&mut socket));

    let alice = login(&emu, "alice", None);
    emu.advance_clock(Duration::from_secs(3600));
    let (mut socket, reply) = ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(reply["success"], false);
    assert_eq!(reply["error"], "token_expired");
    assert!(ws_closed(&mut socket));
    assert_eq!(emu.realtime_connections(), 0);
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ExpiredToken));
}

#[test]
fn a_first_message_that_is_not_an_authrequest_fails_the_handshake() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    for first in
        [json!({"type": "startusereventrequest"}), json!({"type": "authrequest"}), json!({"token": alice.token})]
    {
        let mut socket = ws_connect(&emu.ws_url());
        ws_send(&mut socket, &first);
        let reply = ws_next_json(&mut socket);
        assert_eq!(reply["type"], "authresponse");
        assert_eq!(reply["success"], false);
        assert!(ws_closed(&mut socket));
    }
    let mut socket = ws_connect(&emu.ws_url());
    socket.send(tungstenite::Message::text("not json")).expect("send");
    assert_eq!(ws_next_json(&mut socket)["success"], false);
    assert!(emu.journal().iter().skip(1).all(|e| e.outcome == Outcome::NotAuthRequest));
}

#[test]
fn a_client_that_leaves_before_authenticating_is_journaled() {
    let emu = Emulator::start();
    let mut socket = ws_connect(&emu.ws_url());
    socket.close(None).expect("close");
    while socket.read().is_ok() {}
    // The entry is written by the server task; wait for it without sleeping blindly.
    for _ in 0..2000 {
        if emu.count(Endpoint::Realtime) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ClosedBeforeAuth));
}

#[test]
fn user_stream_delivers_emitted_events() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(emu.emit_user_event("alice", json!({"x": 1})), 0, "stream not started yet");

    ws_send(&mut socket, &json!({"type": "startusereventrequest"}));
    assert_eq!(ws_next_json(&mut socket), json!({"type": "startusereventresponse", "success": true}));
    assert_eq!(emu.emit_user_event("alice", json!({"x": 1})), 1);
    assert_eq!(emu.emit_user_event("bob", json!({"x": 2})), 0);
    assert_eq!(emu.emit_user_event("alice", json!("hello")), 1);
    assert_eq!(ws_next_json(&mut socket), json!({"type": "userevent", "x": 1}));
    assert_eq!(ws_next_json(&mut socket), json!({"type": "userevent", "data": "hello"}));

    ws_send(&mut socket, &json!({"type": "stopusereventrequest"}));
    assert_eq!(ws_next_json(&mut socket), json!({"type": "stopusereventresponse", "success": true}));
    assert_eq!(emu.emit_user_event("alice", json!({"x": 3})), 0);
}

#[test]
fn account_stream_needs_an_elevated_user() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &alice.token);
    ws_send(&mut socket, &json!({"type": "startaccounteventrequest"}));
    assert_eq!(
        ws_next_json(&mut socket),
        json!({"type": "startaccounteventresponse", "success": false, "error": "not_elevated"})
    );
    assert_eq!(emu.emit_account_event(1001, json!({})), 0);

    let bob = login(&emu, "bob", Some(2002));
    let (mut socket, _) = ws_auth(&emu.ws_url(), &bob.token);
    ws_send(&mut socket, &json!({"type": "startaccounteventrequest"}));
    assert_eq!(ws_next_json(&mut socket), json!({"type": "startaccounteventresponse", "success": true}));
    assert_eq!(emu.emit_account_event(2001, json!({"n": 0})), 0, "bound to 2002");
    assert_eq!(emu.emit_account_event(2002, json!({"n": 1})), 1);
    assert_eq!(ws_next_json(&mut socket), json!({"type": "accountevent", "n": 1}));
    ws_send(&mut socket, &json!({"type": "stopaccounteventrequest"}));
    assert_eq!(ws_next_json(&mut socket), json!({"type": "stopaccounteventresponse", "success": true}));
    assert_eq!(emu.emit_account_event(2002, json!({"n": 2})), 0);
}

#[test]
fn unknown_messages_get_an_error_and_the_socket_stays_open() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &alice.token);
    ws_send(&mut socket, &json!({"type": "frobnicate"}));
    assert_eq!(ws_next_json(&mut socket)["error"], "unknown_request");
    ws_send(&mut socket, &json!({"type": "authrequest", "token": alice.token}));
    assert_eq!(ws_next_json(&mut socket)["error"], "already_authenticated");
    ws_send(&mut socket, &json!({"type": "startusereventrequest"}));
    assert_eq!(ws_next_json(&mut socket)["success"], true);
}

#[test]
fn the_event_timer_emits_to_started_streams() {
    let emu = Emulator::start();
    let bob = login(&emu, "bob", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &bob.token);
    ws_send(&mut socket, &json!({"type": "startusereventrequest"}));
    let _ = ws_next_json(&mut socket);
    emu.set_event_interval(Some(Duration::from_millis(20)));
    let first = ws_next_json(&mut socket);
    let second = ws_next_json(&mut socket);
    emu.set_event_interval(None);
    assert_eq!(first["type"], "userevent");
    assert!(second["tick"].as_u64() > first["tick"].as_u64());
}

#[test]
fn the_event_timer_can_be_set_at_start_and_feeds_account_streams() {
    let emu = Emulator::builder().event_interval(Duration::from_millis(20)).start();
    let bob = login(&emu, "bob", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &bob.token);
    ws_send(&mut socket, &json!({"type": "startaccounteventrequest"}));
    let mut seen: Vec<Value> = Vec::new();
    while !seen.iter().any(|m| m["type"] == "accountevent") {
        seen.push(ws_next_json(&mut socket));
    }
    let event = seen.iter().find(|m| m["type"] == "accountevent").expect("event");
    assert_eq!(event["account_id"], 2001);
    assert!(event["tick"].is_u64());
}

#[test]
fn a_client_that_stops_reading_is_closed_with_a_reason_once_its_queue_is_full() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &alice.token);
    ws_send(&mut socket, &json!({"type": "startusereventrequest"}));
    assert_eq!(ws_next_json(&mut socket)["success"], true);

    // The client reads nothing now: the TCP buffers fill, then the emulator's queue.
    let payload = json!({"pad": "x".repeat(16 * 1024)});
    let bound = 10_000;
    let queued = (0..bound).take_while(|_| emu.emit_user_event("alice", payload.clone()) == 1).count();
    assert!(queued < bound, "the emulator queued {queued} events for a client that reads nothing");
    assert!(queued > 1000, "only {queued} events queued before the socket was given up");
    assert_eq!(emu.emit_user_event("alice", payload), 0, "the socket takes no more");
    assert!(eventually(|| emu.realtime_connections() == 0), "the socket is still registered");

    // Reading again: events (never more than were queued), then the close frame and its reason.
    let mut events = 0;
    let frame = loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(_)) => events += 1,
            Ok(tungstenite::Message::Close(frame)) => break frame.expect("a close frame with a code"),
            Ok(_) => {}
            Err(e) => panic!("the socket ended without a close frame after {events} events: {e}"),
        }
    };
    assert!(events <= queued);
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "outgoing queue full: the client stopped reading");
}

#[test]
fn a_message_over_1_mib_ends_the_connection() {
    let emu = Emulator::start();
    let mut socket = ws_connect(&emu.ws_url());
    let _ = socket.send(tungstenite::Message::text("x".repeat(2 * 1024 * 1024)));
    assert!(ws_closed(&mut socket));
    assert!(eventually(|| emu.count(Endpoint::Realtime) == 1));
    assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ClosedBeforeAuth));
}

#[test]
fn the_emulator_can_close_sockets() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = ws_auth(&emu.ws_url(), &alice.token);
    let (mut other, _) = ws_auth(&emu.ws_url(), &login(&emu, "bob", None).token);
    assert_eq!(emu.close_realtime_of("alice"), 1);
    assert!(ws_closed(&mut socket));
    assert_eq!(emu.close_all_realtime(), 1);
    assert!(ws_closed(&mut other));
}

#[test]
fn a_plain_get_on_the_socket_path_is_426() {
    let emu = Emulator::start();
    let resp = get(&emu.url(), None);
    assert_eq!(resp.status, 426);
    assert_eq!(resp.json()["success"], false);
    assert_eq!(emu.journal()[0].outcome, Outcome::UpgradeRequired);
}

#[test]
fn handshake_faults_hit_the_upgrade_request() {
    let emu = Emulator::start();
    emu.inject(Endpoint::Realtime, Fault::unavailable(5));
    match tungstenite::connect(emu.ws_url()) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
        }
        other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
    }
    emu.inject(Endpoint::Realtime, Fault::DropConnection);
    assert!(tungstenite::connect(emu.ws_url()).is_err());
    assert_eq!(emu.journal().pop().map(|e| e.status), Some(None));
}

#[test]
fn message_faults_replace_the_authresponse() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);

    emu.inject(Endpoint::Realtime, Fault::GarbageBody);
    let mut socket = ws_connect(&emu.ws_url());
    ws_send(&mut socket, &json!({"type": "authrequest", "token": alice.token}));
    let text = ws_next_text(&mut socket).expect("a reply");
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(emu.realtime_connections(), 1, "after effect: authenticated anyway");
    drop(socket);

    emu.inject(Endpoint::Realtime, Fault::TruncatedBody);
    emu.inject(Endpoint::Realtime, Fault::OversizedBody);
    let mut socket = ws_connect(&emu.ws_url());
    ws_send(&mut socket, &json!({"type": "authrequest", "token": alice.token}));
    assert!(serde_json::from_str::<Value>(&ws_next_text(&mut socket).expect("reply")).is_err());
    let (_socket, reply) = crate::support::ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(reply["success"], true);
    assert!(reply.to_string().len() >= 128 * 1024);

    emu.inject(Endpoint::Realtime, Fault::SuccessFalse);
    let (mut socket, reply) = ws_auth(&emu.ws_url(), &alice.token);
    assert_eq!(reply["success"], false);
    assert!(ws_closed(&mut socket));
}
