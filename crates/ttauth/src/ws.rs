//! A blocking RealTime (WebSocket) connection: connect, authenticate with the first message
//! from [`auth_ureq::Client::realtime_auth`], start a stream, read messages (SPEC.md §6).
//!
//! Reads wake up every [`POLL`] so a Ctrl-C ([`Interrupt`]) or a deadline is noticed while
//! the server is silent.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use auth_core::realtime::{HandshakeProgress, RealtimeAuthRequest, RealtimeHandshake, ServerMessage, Stream};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::Interrupt;
use crate::exit::{Exit, Failure, Result};

/// How often a blocked read looks at the interrupt and the deadline.
const POLL: Duration = Duration::from_millis(200);

/// What a read produced.
#[derive(Debug)]
pub(crate) enum Received {
    /// A text message.
    Text(String),
    /// The server closed the connection (cleanly or not).
    Closed,
    /// The interrupt was triggered.
    Interrupted,
    /// The deadline passed.
    TimedOut,
}

/// An open RealTime connection.
pub(crate) struct RealtimeSocket {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    /// A handle on the same TCP socket, to change its read timeout under TLS too.
    tcp: TcpStream,
}

impl std::fmt::Debug for RealtimeSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeSocket").field("peer", &self.tcp.peer_addr().ok()).finish_non_exhaustive()
    }
}

impl RealtimeSocket {
    /// Connects to `url` (`ws://` or `wss://`) and completes the WebSocket upgrade, each
    /// network step bounded by `timeout`. Failures are transport failures (exit 5), except a
    /// malformed URL (exit 2).
    pub fn connect(url: &str, timeout: Duration) -> Result<RealtimeSocket> {
        let request =
            url.into_client_request().map_err(|e| Failure::usage(format!("invalid RealTime URL {url:?}: {e}")))?;
        let uri = request.uri();
        let host = uri.host().ok_or_else(|| Failure::usage(format!("the RealTime URL {url:?} has no host")))?;
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("wss") { 443 } else { 80 });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let unreachable = |e: std::io::Error| Failure::new(Exit::Transport, format!("cannot connect to {url}: {e}"));
        let addrs = (host, port).to_socket_addrs().map_err(unreachable)?;
        let mut last_error = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        let mut connected = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let stream = connected.ok_or_else(|| unreachable(last_error))?;
        let tcp = stream.try_clone().map_err(unreachable)?;
        tcp.set_read_timeout(Some(timeout)).map_err(unreachable)?;
        tcp.set_write_timeout(Some(timeout)).map_err(unreachable)?;
        let (socket, _response) = tungstenite::client_tls_with_config(request, stream, None, None)
            .map_err(|e| Failure::new(Exit::Transport, format!("WebSocket handshake with {url} failed: {e}")))?;
        tcp.set_read_timeout(Some(POLL)).map_err(unreachable)?;
        Ok(RealtimeSocket { socket, tcp })
    }

    /// Sends the `authrequest` and waits for the `authresponse`. Returns the messages that
    /// arrived before it, in order. A refusal is an auth failure (exit 4).
    pub fn authenticate(
        &mut self,
        auth: &RealtimeAuthRequest,
        deadline: Instant,
        interrupt: &Interrupt,
    ) -> Result<Vec<ServerMessage>> {
        self.send(auth.as_text())?;
        let mut handshake = RealtimeHandshake::new(auth);
        loop {
            let text = self.expect_text(deadline, interrupt, "the authresponse")?;
            match handshake.handle_message(&text) {
                Ok(HandshakeProgress::Authenticated) => return Ok(handshake.take_messages().collect()),
                Ok(HandshakeProgress::Waiting) => {}
                Err(e @ auth_core::realtime::RealtimeError::AuthRejected { .. }) => {
                    return Err(Failure::new(Exit::Auth, e.to_string()));
                }
                // A message we cannot parse is not the answer; keep waiting for it.
                Err(_) => {}
            }
        }
    }

    /// Starts `stream` and waits for the server's answer. Events that arrive meanwhile are
    /// returned, in order. A refusal (e.g. the account stream without elevated privileges)
    /// is an auth failure (exit 4).
    pub fn start_stream(&mut self, stream: Stream, deadline: Instant, interrupt: &Interrupt) -> Result<Vec<String>> {
        self.send(stream.start_message())?;
        let mut early = Vec::new();
        loop {
            let text = self.expect_text(deadline, interrupt, "the stream's start response")?;
            match auth_core::realtime::parse_server_message(&text) {
                Ok(ServerMessage::StreamResponse { stream: s, start: true, success }) if s == stream => {
                    return if success {
                        Ok(early)
                    } else {
                        Err(Failure::new(
                            Exit::Auth,
                            format!("the server refused to start the {} stream{}", stream_name(stream), refusal(&text)),
                        ))
                    };
                }
                _ => early.push(text),
            }
        }
    }

    /// Sends a text message.
    pub fn send(&mut self, text: &str) -> Result<()> {
        self.socket
            .send(Message::text(text))
            .map_err(|e| Failure::new(Exit::Transport, format!("RealTime connection failed while sending: {e}")))
    }

    /// The next text message, waiting until `deadline` (if any) or the interrupt.
    pub fn next_text(&mut self, deadline: Option<Instant>, interrupt: &Interrupt) -> Result<Received> {
        loop {
            if interrupt.is_triggered() {
                return Ok(Received::Interrupted);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Received::TimedOut);
            }
            match self.socket.read() {
                Ok(Message::Text(text)) => return Ok(Received::Text(text.as_str().to_owned())),
                Ok(Message::Binary(bytes)) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => return Ok(Received::Text(text)),
                    Err(_) => continue, // The protocol is JSON text; nothing to print.
                },
                Ok(Message::Close(_)) => return Ok(Received::Closed),
                Ok(_) => continue, // Ping/pong/raw frames: tungstenite answers pings itself.
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Ok(Received::Closed);
                }
                // A read timeout (the poll interval), or a signal such as Ctrl-C arriving
                // during the read: look at the interrupt and the deadline, then read on.
                Err(tungstenite::Error::Io(e)) if is_retryable(&e) => continue,
                Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => {
                    return Ok(Received::Closed);
                }
                Err(e) => return Err(Failure::new(Exit::Transport, format!("RealTime connection failed: {e}"))),
            }
        }
    }

    /// Closes the connection politely (best effort).
    pub fn close(mut self) {
        let _ = self.socket.close(None);
        let deadline = Instant::now() + Duration::from_secs(1);
        // Drive the close handshake until the server answers or a second has passed.
        while Instant::now() < deadline {
            match self.socket.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_retryable(&e) => {}
                Err(_) => break,
            }
        }
    }

    fn expect_text(&mut self, deadline: Instant, interrupt: &Interrupt, what: &str) -> Result<String> {
        match self.next_text(Some(deadline), interrupt)? {
            Received::Text(text) => Ok(text),
            Received::Closed => {
                Err(Failure::new(Exit::Transport, format!("the RealTime server closed the connection before {what}")))
            }
            Received::Interrupted => Err(Failure::new(Exit::Failure, "interrupted")),
            Received::TimedOut => {
                Err(Failure::new(Exit::Transport, format!("no {what} from the RealTime server in time")))
            }
        }
    }
}

/// Whether a read error only means "nothing yet": the poll timeout, or an interrupted call.
fn is_retryable(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted)
}

/// `user` or `account`.
pub(crate) fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::User => "user",
        Stream::Account => "account",
    }
}

/// The server's reason in a refusal, if it gave one (`: <error>`), trimmed.
fn refusal(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    ["error", "message", "code"]
        .iter()
        .find_map(|key| value.get(*key).and_then(serde_json::Value::as_str))
        .map(|reason| format!(": {}", reason.chars().filter(|c| !c.is_control()).take(120).collect::<String>()))
        .unwrap_or_default()
}

/// A message as one JSON line: JSON is re-serialized compactly, anything else becomes a JSON
/// string, so every line parses as JSON.
pub(crate) fn json_line(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value.to_string(),
        Err(_) => serde_json::Value::String(text.to_owned()).to_string(),
    }
}
