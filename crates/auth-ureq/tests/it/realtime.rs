//! The RealTime handshake with the text `realtime_auth()` builds, over a real WebSocket.

use auth_core::realtime::{HandshakeProgress, RealtimeAuthRequest, RealtimeHandshake, ServerMessage, Stream};
use auth_emulator::{AuthScheme, Endpoint, Outcome};
use tungstenite::Message;

use crate::support::*;

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn read_text(socket: &mut Socket) -> String {
    loop {
        match socket.read().unwrap() {
            Message::Text(text) => return text.to_string(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

fn authenticate(s: &Scenario, auth: &RealtimeAuthRequest) -> Result<Socket, String> {
    let (mut socket, _) = tungstenite::connect(format!("{}/realtime", s.emu.ws_url())).unwrap();
    socket.send(Message::text(auth.as_text())).unwrap();
    let mut handshake = RealtimeHandshake::new(auth);
    loop {
        match handshake.handle_message(&read_text(&mut socket)) {
            Ok(HandshakeProgress::Authenticated) => return Ok(socket),
            Ok(HandshakeProgress::Waiting) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

#[test]
fn realtime_auth_text_authenticates_a_websocket_and_starts_the_user_stream() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let auth = client.realtime_auth().unwrap();
    assert_eq!(s.count(Endpoint::Login), 1);
    let mut socket = authenticate(&s, &auth).expect("authenticated");

    socket.send(Message::text(Stream::User.start_message())).unwrap();
    let answer = auth_core::realtime::parse_server_message(&read_text(&mut socket)).unwrap();
    assert_eq!(answer, ServerMessage::StreamResponse { stream: Stream::User, start: true, success: true });

    let entry = s.entries(Endpoint::Realtime).pop().unwrap();
    assert_eq!((entry.scheme, entry.outcome), (AuthScheme::Bearer, Outcome::Ok));
    assert_eq!(entry.token_generation, Some(1));
}

#[test]
fn a_reconnect_after_expiry_authenticates_with_a_refreshed_token() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let old = client.realtime_auth().unwrap();
    s.advance(TO_EXPIRED);
    assert!(authenticate(&s, &old).is_err(), "the old token is refused");
    let fresh = client.realtime_auth().unwrap();
    authenticate(&s, &fresh).expect("authenticated with the refreshed token");
    assert_eq!(s.count(Endpoint::Refresh), 1);
}

#[test]
fn a_refused_token_is_reported_and_the_reconnect_uses_a_new_one() {
    let s = Scenario::new();
    let client = s.client(s.alice());
    let refused = client.realtime_auth().unwrap();
    s.emu.revoke_session_of("alice"); // the server kills the session behind our back
    assert!(authenticate(&s, &refused).is_err());
    client.report_realtime_rejection(&refused);
    let fresh = client.realtime_auth().unwrap();
    assert!(fresh.generation() > refused.generation());
    authenticate(&s, &fresh).expect("authenticated with a new session");
    assert_eq!(s.count(Endpoint::Login), 2, "the dead refresh token was rejected, then a login");
}
