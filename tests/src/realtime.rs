//! The RealTime handshake over a real WebSocket (SPEC.md §6), the same for both adapters: the
//! adapter only provides the first message.

use std::time::Duration;

use auth_core::realtime::{HandshakeProgress, RealtimeAuthRequest, RealtimeError, RealtimeHandshake};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Connects to `ws_url`, sends `first`'s text as the first message and reads until the
/// `authresponse`. `Ok(Ok(()))`: authenticated; `Ok(Err(reason))`: refused; `Err`: the
/// handshake could not be run.
pub fn handshake(ws_url: &str, first: &RealtimeAuthRequest) -> Result<Result<(), String>, String> {
    let (mut socket, _) =
        tungstenite::connect(format!("{ws_url}/realtime")).map_err(|e| format!("websocket connect: {e}"))?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    }
    socket.send(Message::text(first.as_text())).map_err(|e| format!("websocket send: {e}"))?;
    let answer = read_answer(&mut socket, first);
    let _ = socket.close(None);
    let _ = socket.flush();
    answer
}

fn read_answer(
    socket: &mut WebSocket<MaybeTlsStream<std::net::TcpStream>>,
    first: &RealtimeAuthRequest,
) -> Result<Result<(), String>, String> {
    let mut handshake = RealtimeHandshake::new(first);
    loop {
        match socket.read().map_err(|e| format!("websocket read: {e}"))? {
            Message::Text(text) => match handshake.handle_message(text.as_str()) {
                Ok(HandshakeProgress::Authenticated) => return Ok(Ok(())),
                Ok(_) => {}
                Err(refusal @ RealtimeError::AuthRejected { .. }) => return Ok(Err(refusal.to_string())),
                Err(other) => return Err(format!("unusable server message: {other}")),
            },
            Message::Close(frame) => return Ok(Err(format!("closed before an authresponse: {frame:?}"))),
            _ => {}
        }
    }
}
