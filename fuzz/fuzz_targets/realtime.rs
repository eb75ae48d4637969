//! Any sequence of RealTime server messages: parsing and the handshake must never panic, a
//! connection is authenticated only by an `authresponse` with `"success": true`, and a refusal
//! never repeats the token.
#![no_main]

use std::sync::LazyLock;

use auth_core::realtime::{
    HandshakeProgress, RealtimeAuthRequest, RealtimeError, RealtimeHandshake, ServerMessage, parse_server_message,
};
use auth_core::{Config, Password, Session};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

const TOKEN: &str = "fuzz-rt-token-secret";

/// The `authrequest` a bearer session builds for `TOKEN`, made once.
static AUTH: LazyLock<RealtimeAuthRequest> = LazyLock::new(|| {
    let now = OffsetDateTime::UNIX_EPOCH;
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
    let mut session = Session::new(config, 1, now).unwrap();
    let login = session.poll_transmit(now).unwrap();
    let grant = format!(r#"{{"success":true,"token":"{TOKEN}","tokenLifetime":3600}}"#);
    session.handle_response(login.id(), &http::Response::new(grant), now);
    session.bearer_mut().unwrap().realtime_auth(now).unwrap().unwrap()
});

fuzz_target!(|data: &[u8]| {
    // One message per line, so seeds are plain text; invalid UTF-8 is replaced, as a
    // WebSocket text frame could not carry it anyway.
    let text = String::from_utf8_lossy(data);
    let messages: Vec<&str> = text.split('\n').collect();
    let mut handshake = RealtimeHandshake::new(&AUTH);
    let mut authenticated = false;
    for message in messages {
        let parsed = parse_server_message(message);
        let accepted = matches!(parsed, Ok(ServerMessage::AuthResponse { success: true, .. }));
        match handshake.handle_message(message) {
            Ok(HandshakeProgress::Authenticated) => {
                assert!(authenticated || accepted, "authenticated without a successful authresponse");
                authenticated = true;
            }
            Ok(HandshakeProgress::Waiting) => assert!(!authenticated),
            Err(RealtimeError::AuthRejected { detail }) => {
                assert!(!authenticated && !accepted);
                assert!(!detail.unwrap_or_default().contains(TOKEN), "the refusal repeats the token");
            }
            Err(_) => assert!(!authenticated && parsed.is_err() || !accepted),
        }
    }
    let _ = handshake.take_messages().count();
});
