//! Any sequence of RealTime server messages: parsing and the handshake must never panic, and
//! a connection is authenticated only by an `authresponse` with `"success": true`.
#![no_main]

use auth_core::realtime::{HandshakeProgress, RealtimeHandshake, ServerMessage, parse_server_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One message per line, so seeds are plain text; invalid UTF-8 is replaced, as a
    // WebSocket text frame could not carry it anyway.
    let text = String::from_utf8_lossy(data);
    let messages: Vec<&str> = text.split('\n').collect();
    let mut handshake = RealtimeHandshake::new();
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
            Err(_) => assert!(!authenticated && parsed.is_err() || !accepted),
        }
    }
    let _ = handshake.take_messages().count();
});
