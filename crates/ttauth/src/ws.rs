//! A blocking RealTime (WebSocket) connection: connect, authenticate with the first message
//! from [`auth_ureq::Client::realtime_auth`], start a stream, read messages (SPEC.md §6).
//!
//! Time: a connection's set-up has one *budget* ([`RealtimeSocket::connect`]): the name
//! lookup, the TCP connect, TLS, the WebSocket handshake, the authrequest/authresponse
//! exchange and starting the stream must all finish before one deadline. The deadline is
//! enforced below tungstenite, on every read and write of the socket ([`BoundedStream`]):
//! tungstenite loops over reads until an answer is complete, so a per-read timeout would
//! restart with every byte of a server that trickles its answer, and never fire.
//!
//! Reads wake up every [`POLL`] so a Ctrl-C ([`Interrupt`]) is noticed while the server is
//! silent.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use auth_core::realtime::{HandshakeProgress, RealtimeAuthRequest, RealtimeHandshake, ServerMessage, Stream};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::Interrupt;
use crate::exit::{Exit, Failure, Result};

/// How often a blocked read looks at the interrupt.
const POLL: Duration = Duration::from_millis(200);

/// How long [`RealtimeSocket::close`] waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

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

/// `now + within`, or `None` (no deadline) if that instant does not fit the clock: a deadline
/// so far away is no deadline, and adding must not panic.
pub(crate) fn deadline_in(within: Duration) -> Option<Instant> {
    Instant::now().checked_add(within)
}

/// The instant after which reads and writes fail, shared by the socket and its owner (which
/// moves it between the set-up and the stream).
#[derive(Clone, Debug, Default)]
struct Deadline(Arc<Mutex<Option<Instant>>>);

impl Deadline {
    fn set(&self, at: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Time left, `None` without a deadline; an error once it has passed.
    fn left(&self) -> io::Result<Option<Duration>> {
        match self.get() {
            None => Ok(None),
            Some(at) => match at.saturating_duration_since(Instant::now()) {
                left if left.is_zero() => Err(io::Error::new(ErrorKind::TimedOut, DeadlinePassed)),
                left => Ok(Some(left)),
            },
        }
    }

    fn passed(&self) -> bool {
        self.left().is_err()
    }
}

/// The error a [`BoundedStream`] returns once its deadline has passed.
#[derive(Debug)]
struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline passed")
    }
}

impl std::error::Error for DeadlinePassed {}

/// Whether `error` is a [`BoundedStream`]'s "deadline passed".
fn is_deadline(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<DeadlinePassed>())
}

/// A TCP stream whose reads and writes fail once a [`Deadline`] has passed. Reads block for
/// at most [`POLL`] (then report `WouldBlock`, so the caller can look at the interrupt).
#[derive(Debug)]
pub(crate) struct BoundedStream {
    tcp: TcpStream,
    deadline: Deadline,
}

impl Read for BoundedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wait = self.deadline.left()?.map_or(POLL, |left| left.min(POLL));
        self.tcp.set_read_timeout(Some(wait))?;
        self.tcp.read(buf).map_err(|e| self.timed_out(e))
    }
}

impl Write for BoundedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.deadline.left()?;
        self.tcp.set_write_timeout(left)?;
        self.tcp.write(buf).map_err(|e| self.timed_out(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

impl BoundedStream {
    /// A socket timeout is "deadline passed" once it has, else `WouldBlock` (Windows reports
    /// timeouts as `TimedOut`, which tungstenite would take for a failure).
    fn timed_out(&self, error: io::Error) -> io::Error {
        if !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
            error
        } else if self.deadline.passed() {
            io::Error::new(ErrorKind::TimedOut, DeadlinePassed)
        } else {
            io::Error::from(ErrorKind::WouldBlock)
        }
    }
}

/// An open RealTime connection.
pub(crate) struct RealtimeSocket {
    socket: WebSocket<MaybeTlsStream<BoundedStream>>,
    deadline: Deadline,
    /// The set-up budget, for messages.
    budget: Duration,
    url: String,
    peer: Option<SocketAddr>,
    /// The handshake once authenticated: it scrubs the token from later refusals' reasons.
    handshake: Option<RealtimeHandshake>,
}

impl std::fmt::Debug for RealtimeSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeSocket").field("url", &self.url).field("peer", &self.peer).finish_non_exhaustive()
    }
}

impl RealtimeSocket {
    /// Connects to `url` (`ws://` or `wss://`) and completes the WebSocket upgrade. `budget`
    /// starts now and bounds the whole set-up: this call, then [`authenticate`](Self::authenticate)
    /// and [`start_stream`](Self::start_stream), until [`set_deadline`](Self::set_deadline)
    /// replaces it. Failures are transport failures (exit 5), running out of time included,
    /// except a malformed URL (exit 2) and Ctrl-C (exit 1).
    pub fn connect(url: &str, budget: Duration, interrupt: &Interrupt) -> Result<RealtimeSocket> {
        let deadline = Deadline::default();
        deadline.set(deadline_in(budget));
        let request =
            url.into_client_request().map_err(|e| Failure::usage(format!("invalid RealTime URL {url:?}: {e}")))?;
        let uri = request.uri();
        let host = uri.host().ok_or_else(|| Failure::usage(format!("the RealTime URL {url:?} has no host")))?;
        let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("wss") { 443 } else { 80 });
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let too_slow = |what: &str| {
            Failure::new(
                Exit::Transport,
                format!("no RealTime connection to {url} within {} (--timeout): {what}", seconds(budget)),
            )
        };
        let unreachable = |e: io::Error| Failure::new(Exit::Transport, format!("cannot connect to {url}: {e}"));

        let addrs = match resolve(&host, port, &deadline) {
            Ok(addrs) => addrs,
            Err(e) if is_deadline(&e) => return Err(too_slow("the name lookup did not finish")),
            Err(e) => return Err(unreachable(e)),
        };
        let mut last_error = io::Error::new(ErrorKind::NotFound, "no address");
        let mut connected = None;
        for addr in addrs {
            let left = match deadline.left() {
                Ok(left) => left.unwrap_or(Duration::MAX),
                Err(_) => return Err(too_slow("the TCP connection did not open")),
            };
            match TcpStream::connect_timeout(&addr, left) {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(e) => last_error = e,
            }
        }
        let tcp = match connected {
            Some(tcp) => tcp,
            None if matches!(last_error.kind(), ErrorKind::TimedOut) && deadline.passed() => {
                return Err(too_slow("the TCP connection did not open"));
            }
            None => return Err(unreachable(last_error)),
        };
        let peer = tcp.peer_addr().ok();
        let stream = BoundedStream { tcp, deadline: deadline.clone() };

        let mut handshake = tungstenite::client_tls_with_config(request, stream, None, None);
        let socket = loop {
            match handshake {
                Ok((socket, _response)) => break socket,
                // A read found nothing for a poll interval: look at Ctrl-C, then go on.
                Err(HandshakeError::Interrupted(mid)) => {
                    if interrupt.is_triggered() {
                        return Err(Failure::new(Exit::Failure, "interrupted"));
                    }
                    handshake = mid.handshake();
                }
                Err(HandshakeError::Failure(tungstenite::Error::Io(e))) if is_deadline(&e) => {
                    return Err(too_slow("the WebSocket handshake did not finish"));
                }
                Err(HandshakeError::Failure(e)) => {
                    return Err(Failure::new(Exit::Transport, format!("WebSocket handshake with {url} failed: {e}")));
                }
            }
        };
        Ok(RealtimeSocket { socket, deadline, budget, url: url.to_owned(), peer, handshake: None })
    }

    /// Replaces the deadline: `Some(d)` gives the next reads and writes `d` from now, `None`
    /// lets them wait for as long as it takes (the stream, once started).
    pub fn set_deadline(&mut self, within: Option<Duration>) {
        self.budget = within.unwrap_or(self.budget);
        self.deadline.set(within.and_then(deadline_in));
    }

    /// Sends the `authrequest` and waits for the `authresponse`. Returns the messages that
    /// arrived before it, in order. A refusal is an auth failure (exit 4).
    pub fn authenticate(&mut self, auth: &RealtimeAuthRequest, interrupt: &Interrupt) -> Result<Vec<ServerMessage>> {
        self.send(auth.as_text())?;
        let mut handshake = RealtimeHandshake::new(auth);
        loop {
            let text = self.expect_text(interrupt, "authresponse")?;
            match handshake.handle_message(&text) {
                Ok(HandshakeProgress::Authenticated) => {
                    let early = handshake.take_messages().collect();
                    self.handshake = Some(handshake);
                    return Ok(early);
                }
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
    pub fn start_stream(&mut self, stream: Stream, interrupt: &Interrupt) -> Result<Vec<String>> {
        self.send(stream.start_message())?;
        let mut early = Vec::new();
        loop {
            let text = self.expect_text(interrupt, "answer to the stream start")?;
            match auth_core::realtime::parse_server_message(&text) {
                Ok(ServerMessage::StreamResponse { stream: s, start: true, success }) if s == stream => {
                    return if success {
                        Ok(early)
                    } else {
                        // The reason is scrubbed of the token, as the authresponse's was.
                        let reason = self.handshake.as_ref().and_then(|h| h.refusal_reason(&text));
                        let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
                        Err(Failure::new(
                            Exit::Auth,
                            format!("the server refused to start the {} stream{reason}", stream_name(stream)),
                        ))
                    };
                }
                _ => early.push(text),
            }
        }
    }

    /// Sends a text message.
    pub fn send(&mut self, text: &str) -> Result<()> {
        match self.socket.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if is_deadline(&e) => Err(self.too_slow("sending")),
            Err(e) => Err(Failure::new(Exit::Transport, format!("RealTime connection failed while sending: {e}"))),
        }
    }

    /// The next text message, waiting until the deadline (if any) or the interrupt.
    pub fn next_text(&mut self, interrupt: &Interrupt) -> Result<Received> {
        loop {
            if interrupt.is_triggered() {
                return Ok(Received::Interrupted);
            }
            if self.deadline.passed() {
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
                Err(tungstenite::Error::Io(e)) if is_deadline(&e) => return Ok(Received::TimedOut),
                // A poll interval without data, or a signal such as Ctrl-C arriving during
                // the read: look at the interrupt and the deadline, then read on.
                Err(tungstenite::Error::Io(e)) if is_retryable(&e) => continue,
                Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => {
                    return Ok(Received::Closed);
                }
                Err(e) => return Err(Failure::new(Exit::Transport, format!("RealTime connection failed: {e}"))),
            }
        }
    }

    /// Closes the connection politely (best effort, for at most [`CLOSE_WAIT`]).
    pub fn close(mut self) {
        self.deadline.set(deadline_in(CLOSE_WAIT));
        let _ = self.socket.close(None);
        // Drive the close handshake until the server answers or the deadline has passed.
        loop {
            match self.socket.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if !is_deadline(&e) && is_retryable(&e) => {}
                Err(_) => break,
            }
        }
    }

    fn expect_text(&mut self, interrupt: &Interrupt, what: &str) -> Result<String> {
        match self.next_text(interrupt)? {
            Received::Text(text) => Ok(text),
            Received::Closed => Err(Failure::new(
                Exit::Transport,
                format!("the RealTime server {} closed the connection before the {what}", self.url),
            )),
            Received::Interrupted => Err(Failure::new(Exit::Failure, "interrupted")),
            Received::TimedOut => Err(self.too_slow(&format!("no {what}"))),
        }
    }

    fn too_slow(&self, what: &str) -> Failure {
        Failure::new(
            Exit::Transport,
            format!("no RealTime connection to {} within {} (--timeout): {what}", self.url, seconds(self.budget)),
        )
    }
}

/// The addresses of `host`, looked up on a helper thread so that the deadline bounds the
/// lookup too (the system resolver has no timeout of its own). A lookup that outlives the
/// deadline is abandoned; its thread ends when the resolver returns.
fn resolve(host: &str, port: u16, deadline: &Deadline) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (sender, receiver) = mpsc::channel();
    let name = host.to_owned();
    std::thread::Builder::new().name("ttauth-dns".into()).spawn(move || {
        let _ = sender.send((name.as_str(), port).to_socket_addrs().map(Iterator::collect));
    })?;
    let lost = || io::Error::other("the name lookup failed");
    match deadline.left()? {
        None => receiver.recv().map_err(|_| lost())?,
        Some(left) => match receiver.recv_timeout(left) {
            Ok(found) => found,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(ErrorKind::TimedOut, DeadlinePassed)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(lost()),
        },
    }
}

/// `1 s`, `1.5 s`.
fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
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

/// A message as one JSON line: JSON is re-serialized compactly, anything else becomes a JSON
/// string, so every line parses as JSON.
pub(crate) fn json_line(text: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value.to_string(),
        Err(_) => serde_json::Value::String(text.to_owned()).to_string(),
    }
}
