//! The RealTime handshake (SPEC.md §6) against the emulator's WebSocket.

use std::time::Duration;

use auth_core::realtime::{HandshakeProgress, RealtimeHandshake};
use auth_emulator::{AuthScheme, Endpoint, Outcome};
use tungstenite::Message;

use crate::support::{Harness, PAST_EXPIRY};

/// Connects, sends `first` as the first message, and returns the server's first text reply.
async fn handshake(url: String, first: String) -> String {
    tokio::task::spawn_blocking(move || {
        let (mut socket, _) = tungstenite::connect(url).expect("websocket handshake");
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        socket.send(Message::text(first)).expect("send");
        loop {
            match socket.read().expect("a reply") {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Close(_) => panic!("closed before a reply"),
                _ => {}
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn realtime_auth_text_authenticates_the_websocket() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let first = client.realtime_auth().await.unwrap();
    assert_eq!(h.emu.count(Endpoint::Login), 1);

    let reply = handshake(h.emu.ws_url(), first.as_text().to_owned()).await;
    let mut progress = RealtimeHandshake::new(&first);
    assert_eq!(progress.handle_message(&reply).unwrap(), HandshakeProgress::Authenticated);
    let entry = h.emu.journal().pop().unwrap();
    assert_eq!(entry.endpoint, Endpoint::Realtime);
    assert_eq!(entry.scheme, AuthScheme::Bearer);
    assert_eq!(entry.outcome, Outcome::Ok);
    assert_eq!(entry.token_generation, Some(1));
}

#[tokio::test]
async fn a_reconnect_after_expiry_authenticates_with_a_fresh_token() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let _ = client.realtime_auth().await.unwrap();
    h.advance(PAST_EXPIRY);
    let first = client.realtime_auth().await.unwrap();
    assert_eq!(h.emu.count(Endpoint::Refresh), 1, "refreshed first");
    let reply = handshake(format!("{}/realtime", h.emu.ws_url()), first.as_text().to_owned()).await;
    assert!(reply.contains(r#""success":true"#), "{reply}");
    assert_eq!(h.emu.journal().pop().unwrap().token_generation, Some(2));
}

#[tokio::test]
async fn a_refused_token_is_reported_and_the_reconnect_uses_a_new_one() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let refused = client.realtime_auth().await.unwrap();
    h.emu.revoke_session_of("alice"); // the server kills the session behind our back
    let reply = handshake(format!("{}/realtime", h.emu.ws_url()), refused.as_text().to_owned()).await;
    assert!(reply.contains(r#""success":false"#), "{reply}");
    client.report_realtime_rejection(&refused);
    let fresh = client.realtime_auth().await.unwrap();
    assert!(fresh.generation() > refused.generation());
    let reply = handshake(format!("{}/realtime", h.emu.ws_url()), fresh.as_text().to_owned()).await;
    assert!(reply.contains(r#""success":true"#), "{reply}");
    assert_eq!(h.emu.count(Endpoint::Login), 2, "the dead refresh token was rejected, then a login");
}

#[tokio::test]
async fn realtime_auth_debug_hides_the_token() {
    let h = Harness::new();
    let client = h.client(h.alice()).await;
    let first = client.realtime_auth().await.unwrap();
    let token = client.bearer_token().await.unwrap();
    assert!(first.as_text().contains(token.expose_secret()));
    assert!(!format!("{first:?}").contains(token.expose_secret()));
}
