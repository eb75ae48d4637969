//! The RealTime WebSocket (SPEC §6): handshake, streams and events.
//!
//! ```text
//! connect ──▶ first message ──▶ {"type":"authrequest","token":T}, T valid ──▶ authresponse success:true ──▶ authenticated
//!                          └──▶ anything else / bad token ──▶ authresponse success:false, close
//! authenticated: startusereventrequest / stopusereventrequest       → start/stopusereventresponse
//!                startaccounteventrequest / stopaccounteventrequest → start/stopaccounteventresponse (start needs an elevated user)
//!                events from the handle or the timer knob           → userevent / accountevent
//! ```
//!
//! A connection stays authenticated until it closes, even if its token later expires or is
//! revoked (SPEC §6 leaves this open); tests that need a reconnect close sockets with
//! [`Emulator::close_realtime_of`](crate::Emulator::close_realtime_of).
//!
//! Faults on [`Endpoint::Realtime`]: `Status`, `RetryAfter` and `DropConnection` hit the HTTP
//! upgrade request; `GarbageBody`, `TruncatedBody`, `OversizedBody`, `SuccessFalse` and
//! `EchoCredentials` replace the `authresponse` message (after effect: the connection is
//! authenticated nonetheless and stays open, except for `SuccessFalse` and `EchoCredentials`,
//! which close it).
//!
//! Memory per socket is bounded: incoming messages over [`MAX_INCOMING_MESSAGE`] end the
//! connection, and what the handle and the timer send waits in a queue of at most
//! [`QUEUE_LIMIT`] messages. A client that stops reading fills it (once the TCP buffers are
//! full the socket task cannot send); the next message that does not fit is not queued and the
//! socket is closed with [`OVERFLOW_CLOSE_CODE`] and [`OVERFLOW_CLOSE_REASON`]: the events are
//! not silently dropped while the socket stays open. The close frame is sent after what the
//! client has not read yet, so it sees it only if it reads again within [`FAREWELL_TIMEOUT`];
//! after that the connection is dropped.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header, request};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};

use crate::echo;
use crate::endpoint::Endpoint;
use crate::faults::{Fault, FaultTiming, InjectedFault};
use crate::journal::{AuthScheme, Outcome, RequestMeta};
use crate::reply::{Facts, GARBAGE, Outgoing, Reply, oversized, render_fault, truncated};
use crate::server::ConnCtx;
use crate::sessions::TokenCheck;
use crate::state::{Shared, lock};
use crate::users::AccountNumber;

/// The most messages (events, closes) queued for one socket before it counts as overflowed.
const QUEUE_LIMIT: usize = 1024;

/// The close code of a socket whose queue overflowed (1008, policy violation).
const OVERFLOW_CLOSE_CODE: CloseCode = CloseCode::Policy;

/// The close reason of a socket whose queue overflowed.
const OVERFLOW_CLOSE_REASON: &str = "outgoing queue full: the client stopped reading";

/// How long a close frame may take to go out before the connection is simply dropped.
const FAREWELL_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest message (and frame) read from a client, as for HTTP bodies (1 MiB).
const MAX_INCOMING_MESSAGE: usize = 1024 * 1024;

/// The server end of an upgraded RealTime connection.
type WebSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A command for one socket's task.
#[derive(Debug)]
enum Command {
    Send(String),
    Close,
}

#[derive(Debug)]
struct Conn {
    user: String,
    account: AccountNumber,
    user_stream: bool,
    account_stream: bool,
    tx: mpsc::Sender<Command>,
    /// Set when the queue overflowed: the socket's task closes the socket.
    overflowed: watch::Sender<bool>,
}

impl Conn {
    /// Queues a command; `false` if the socket will not get it. A full queue means the client
    /// stopped reading: the socket is told to close instead.
    fn queue(&self, command: Command) -> bool {
        match self.tx.try_send(command) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.overflowed.send_replace(true);
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }
}

/// The two ends a socket's task keeps.
#[derive(Debug)]
struct Mailbox {
    rx: mpsc::Receiver<Command>,
    overflowed: watch::Receiver<bool>,
}

/// The authenticated sockets.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Debug, Default)]
struct RegistryInner {
    next_id: u64,
    conns: HashMap<u64, Conn>,
}

#[derive(Debug, Clone, Copy)]
enum Stream {
    User,
    Account,
}

impl Registry {
    fn register(&self, user: &str, account: AccountNumber) -> (u64, Mailbox) {
        let (tx, rx) = mpsc::channel(QUEUE_LIMIT);
        let (overflowed, overflowed_rx) = watch::channel(false);
        let conn = Conn { user: user.to_owned(), account, user_stream: false, account_stream: false, tx, overflowed };
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let id = inner.next_id;
        inner.conns.insert(id, conn);
        (id, Mailbox { rx, overflowed: overflowed_rx })
    }

    fn unregister(&self, id: u64) {
        lock(&self.inner).conns.remove(&id);
    }

    fn set_stream(&self, id: u64, stream: Stream, on: bool) {
        if let Some(conn) = lock(&self.inner).conns.get_mut(&id) {
            match stream {
                Stream::User => conn.user_stream = on,
                Stream::Account => conn.account_stream = on,
            }
        }
    }

    /// Queues a message for every socket matching `pick`; returns how many queued it.
    fn send_where(&self, pick: impl Fn(&Conn) -> bool, text: impl Fn(&Conn) -> String) -> usize {
        lock(&self.inner).conns.values().filter(|c| pick(c)).filter(|c| c.queue(Command::Send(text(c)))).count()
    }

    /// `userevent` to every socket of `user` whose user stream is started.
    pub(crate) fn emit_user(&self, user: &str, payload: &Value) -> usize {
        let text = event("userevent", payload);
        self.send_where(|c| c.user_stream && c.user == user, |_| text.clone())
    }

    /// `accountevent` to every socket bound to `account` whose account stream is started.
    pub(crate) fn emit_account(&self, account: AccountNumber, payload: &Value) -> usize {
        let text = event("accountevent", payload);
        self.send_where(|c| c.account_stream && c.account == account, |_| text.clone())
    }

    /// Closes (with a close frame) every authenticated socket of `user`, or all if `None`.
    pub(crate) fn close(&self, user: Option<&str>) -> usize {
        lock(&self.inner)
            .conns
            .values()
            .filter(|c| user.is_none_or(|u| c.user == u))
            // A socket whose queue is full closes anyway (as overflowed): count it.
            .filter(|c| c.queue(Command::Close) || !c.overflowed.is_closed())
            .count()
    }

    /// The number of authenticated sockets.
    pub(crate) fn count(&self) -> usize {
        lock(&self.inner).conns.len()
    }

    fn tick(&self, n: u64) {
        let user = event("userevent", &json!({ "tick": n }));
        self.send_where(|c| c.user_stream, |_| user.clone());
        self.send_where(
            |c| c.account_stream,
            |c| event("accountevent", &json!({ "tick": n, "account_id": c.account })),
        );
    }
}

/// An event message: an object payload gets `"type"` set; anything else is wrapped as `data`.
fn event(kind: &str, payload: &Value) -> String {
    let value = match payload {
        Value::Object(map) => {
            let mut map = map.clone();
            map.insert("type".into(), Value::String(kind.into()));
            Value::Object(map)
        }
        other => {
            let mut map = Map::new();
            map.insert("type".into(), Value::String(kind.into()));
            map.insert("data".into(), other.clone());
            Value::Object(map)
        }
    };
    value.to_string()
}

#[derive(Serialize)]
struct WsReply<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

fn ws_reply(kind: &str, error: Option<&str>) -> String {
    serde_json::to_string(&WsReply { kind, success: error.is_none(), error }).unwrap_or_default()
}

/// The HTTP side: method check, handshake-level faults, then the upgrade.
pub(crate) async fn handshake(ctx: ConnCtx, mut parts: request::Parts, meta: RequestMeta) -> Response {
    let shared = &ctx.shared;
    let fail = |reply: Reply, outcome: Outcome| {
        shared.record(meta.entry(Facts::new(AuthScheme::None, outcome), None, Some(reply.status.as_u16())));
        Outgoing::Reply(reply).into_response()
    };
    if parts.method != Method::GET {
        return fail(
            Reply::failure(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use GET"),
            Outcome::MethodNotAllowed,
        );
    }
    let Some((accept, on_upgrade)) = upgrade_request(&mut parts) else {
        return fail(
            Reply::failure(StatusCode::UPGRADE_REQUIRED, "upgrade_required", "this is the RealTime WebSocket endpoint"),
            Outcome::UpgradeRequired,
        );
    };
    let fault = shared.core().faults.next(Endpoint::Realtime);
    if let Some(f) = &fault
        && matches!(f.fault, Fault::Status(_) | Fault::RetryAfter { .. } | Fault::DropConnection)
    {
        let outgoing = render_fault(&f.fault, None, None);
        let facts = Facts::new(AuthScheme::None, Outcome::Fault(f.fault.clone()));
        shared.record(meta.entry(facts, fault.clone(), outgoing.status()));
        return outgoing.into_response();
    }
    tokio::spawn(async move {
        // A failed upgrade (the client went away after the 101) is not journaled, as before.
        let Ok(upgraded) = on_upgrade.await else { return };
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_INCOMING_MESSAGE))
            .max_frame_size(Some(MAX_INCOMING_MESSAGE));
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        connection(ctx, socket, meta, fault).await;
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response
}

/// Checks a WebSocket upgrade request (RFC 6455 §4.2.1, HTTP/1.1; the checks axum's `ws` made)
/// and takes its upgrade handle: the `Sec-WebSocket-Accept` value and the handle, or `None`
/// for a request that is no upgrade.
fn upgrade_request(parts: &mut request::Parts) -> Option<(HeaderValue, OnUpgrade)> {
    let valid = parts.version <= Version::HTTP_11
        && parts.method == Method::GET
        && header_contains(&parts.headers, header::CONNECTION, "upgrade")
        && header_eq(&parts.headers, header::UPGRADE, "websocket")
        && header_eq(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13");
    if !valid {
        return None;
    }
    let key = parts.headers.get(header::SEC_WEBSOCKET_KEY)?;
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()?;
    let on_upgrade = parts.extensions.remove::<OnUpgrade>()?;
    Some((accept, on_upgrade))
}

fn header_eq(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers.get(name).is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether the header contains `value`, ASCII case-insensitive, as axum's check did (so
/// `Connection: keep-alive, Upgrade` counts).
fn header_contains(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers.get(name).and_then(|h| h.to_str().ok()).is_some_and(|h| h.to_ascii_lowercase().contains(value))
}

/// The verdict on the first message.
struct Verdict {
    facts: Facts,
    /// `Some` when the token was valid.
    session: Option<(String, AccountNumber, bool)>,
    reply: String,
}

fn authenticate(shared: &Shared, first: &Message) -> Verdict {
    let token = match first {
        Message::Text(text) => serde_json::from_str::<Value>(text.as_str())
            .ok()
            .filter(|v| v.get("type").and_then(Value::as_str) == Some("authrequest"))
            .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_owned))
            .filter(|t| !t.is_empty()),
        _ => None,
    };
    let Some(token) = token else {
        return Verdict {
            facts: Facts::new(AuthScheme::None, Outcome::NotAuthRequest),
            session: None,
            reply: ws_reply("authresponse", Some("expected_authrequest")),
        };
    };
    let core = shared.core();
    let check = core.sessions.check_token(&token, core.clock.now());
    let mut facts = Facts::new(AuthScheme::Bearer, Outcome::Ok);
    if let Some(h) = check.holder() {
        facts = facts.user(Some(h.user.clone())).account(Some(h.account)).generation(Some(h.generation));
    }
    let (outcome, error) = match &check {
        TokenCheck::Valid(h) => {
            let elevated = core.users.get(&h.user).is_some_and(|u| u.is_elevated());
            return Verdict {
                facts,
                session: Some((h.user.clone(), h.account, elevated)),
                reply: ws_reply("authresponse", None),
            };
        }
        TokenCheck::Expired(_) => (Outcome::ExpiredToken, "token_expired"),
        TokenCheck::Superseded(_) => (Outcome::SupersededToken, "invalid_token"),
        TokenCheck::Revoked(_) => (Outcome::RevokedToken, "invalid_token"),
        TokenCheck::Unknown => (Outcome::UnknownToken, "invalid_token"),
    };
    Verdict { facts: facts.outcome(outcome), session: None, reply: ws_reply("authresponse", Some(error)) }
}

/// The text that replaces the `authresponse` under a message-level fault.
fn fault_message(fault: &Fault, real: &str, first: &Message) -> String {
    let bytes = match fault {
        Fault::GarbageBody => GARBAGE.to_vec(),
        Fault::TruncatedBody => truncated(real.as_bytes()),
        Fault::OversizedBody => oversized(real.as_bytes()),
        Fault::EchoCredentials { encoding, .. } => {
            let text = match first {
                Message::Text(text) => Some(text.as_str()),
                _ => None,
            };
            return echo::authresponse(*encoding, text);
        }
        _ => return ws_reply("authresponse", Some("injected_failure")),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

fn close(code: CloseCode, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// One socket, from its first message to its close.
async fn connection(ctx: ConnCtx, mut socket: WebSocket, meta: RequestMeta, fault: Option<InjectedFault>) {
    let shared = &ctx.shared;
    let mut stop = ctx.stop.clone();
    let first = tokio::select! {
        first = first_message(&mut socket) => first,
        _ = stop.changed() => None,
    };
    let Some(first) = first else {
        let facts = Facts::new(AuthScheme::None, Outcome::ClosedBeforeAuth);
        shared.record(meta.entry(facts, fault, Some(101)));
        return;
    };
    let mut verdict = authenticate(shared, &first);
    let mut keep_open = verdict.session.is_some();
    if let Some(f) = &fault {
        verdict.reply = fault_message(&f.fault, &verdict.reply, &first);
        if f.timing == FaultTiming::BeforeEffect {
            verdict.facts = verdict.facts.outcome(Outcome::Fault(f.fault.clone()));
            keep_open = false;
        }
        if matches!(f.fault, Fault::SuccessFalse | Fault::EchoCredentials { .. }) {
            keep_open = false;
        }
    }
    shared.record(meta.entry(verdict.facts, fault, Some(101)));
    let session = verdict.session.filter(|_| keep_open);
    // Registered before the reply goes out, so a test that has read `success:true` can emit
    // events to this socket straight away.
    let registered = session.as_ref().map(|(user, account, _)| shared.realtime.register(user, *account));
    let registered_id = registered.as_ref().map(|(id, _)| *id);
    let sent = socket.send(Message::Text(verdict.reply.into())).await;
    let (Some((id, mut mailbox)), Some((_, _, elevated)), Ok(())) = (registered, session, sent) else {
        if let Some(id) = registered_id {
            shared.realtime.unregister(id);
        }
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, socket.send(close(CloseCode::Policy, "authentication failed")))
            .await;
        return;
    };

    let away = || close(CloseCode::Away, "emulator shutting down");
    let overflow = || close(OVERFLOW_CLOSE_CODE, OVERFLOW_CLOSE_REASON);
    let farewell = loop {
        let outgoing = tokio::select! {
            biased;
            _ = mailbox.overflowed.wait_for(|full| *full) => break Some(overflow()),
            _ = stop.changed() => break Some(away()),
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => on_message(&shared.realtime, id, elevated, text.as_str()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                Some(Ok(_)) => continue, // binary, ping, pong, raw frame: nothing to answer
            },
            command = mailbox.rx.recv() => match command {
                Some(Command::Send(text)) => text,
                Some(Command::Close) | None => break Some(close(CloseCode::Normal, "closed by the emulator")),
            },
        };
        // Blocks while the client does not read; meanwhile the queue fills up until it
        // overflows, which ends the wait.
        tokio::select! {
            biased;
            _ = mailbox.overflowed.wait_for(|full| *full) => break Some(overflow()),
            _ = stop.changed() => break Some(away()),
            sent = socket.send(Message::Text(outgoing.into())) => if sent.is_err() { break None },
        }
    };
    // Unregistered before the close frame goes out, so counts are exact once a client sees it.
    shared.realtime.unregister(id);
    if let Some(frame) = farewell {
        // Bounded: a client that does not read would otherwise hold this task forever.
        let _ = tokio::time::timeout(FAREWELL_TIMEOUT, socket.send(frame)).await;
    }
}

/// The first data message (pings and pongs are skipped); `None` if the socket closed first.
async fn first_message(socket: &mut WebSocket) -> Option<Message> {
    loop {
        match socket.next().await? {
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(message) => return Some(message),
        }
    }
}

/// The answer to a message on an authenticated socket.
fn on_message(registry: &Registry, id: u64, elevated: bool, text: &str) -> String {
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
        return ws_reply("error", Some("malformed_message"));
    };
    match message.get("type").and_then(Value::as_str) {
        Some("startusereventrequest") => {
            registry.set_stream(id, Stream::User, true);
            ws_reply("startusereventresponse", None)
        }
        Some("stopusereventrequest") => {
            registry.set_stream(id, Stream::User, false);
            ws_reply("stopusereventresponse", None)
        }
        // SPEC §6: the account stream needs elevated privileges.
        Some("startaccounteventrequest") if elevated => {
            registry.set_stream(id, Stream::Account, true);
            ws_reply("startaccounteventresponse", None)
        }
        Some("startaccounteventrequest") => ws_reply("startaccounteventresponse", Some("not_elevated")),
        Some("stopaccounteventrequest") => {
            registry.set_stream(id, Stream::Account, false);
            ws_reply("stopaccounteventresponse", None)
        }
        Some("authrequest") => ws_reply("authresponse", Some("already_authenticated")),
        _ => ws_reply("error", Some("unknown_request")),
    }
}

/// Emits timer events while the event-interval knob is set.
pub(crate) async fn ticker(ctx: ConnCtx) {
    let mut stop = ctx.stop.clone();
    let mut interval = ctx.shared.event_interval.subscribe();
    let mut n = 0;
    loop {
        let period = interval.borrow_and_update().map(|d| d.max(Duration::from_millis(1)));
        tokio::select! {
            _ = stop.changed() => return,
            changed = interval.changed() => if changed.is_err() { return },
            () = sleep_or_never(period) => {
                n += 1;
                ctx.shared.realtime.tick(n);
            }
        }
    }
}

async fn sleep_or_never(period: Option<Duration>) {
    match period {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)]) -> request::Parts {
        let mut builder = axum::http::Request::get("/realtime");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).expect("request").into_parts();
        // What hyper puts in an upgradable request's extensions (here one that never upgrades).
        parts.extensions.insert(hyper::upgrade::on(axum::http::Request::new(())));
        parts
    }

    const UPGRADE: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        // RFC 6455 §1.3's example.
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn an_upgrade_request_gets_the_rfc_accept_value() {
        let (accept, _) = upgrade_request(&mut parts(&UPGRADE)).expect("an upgrade");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn anything_short_of_an_upgrade_is_refused() {
        for (name, _) in UPGRADE {
            let headers: Vec<_> = UPGRADE.into_iter().filter(|(n, _)| *n != name).collect();
            assert!(upgrade_request(&mut parts(&headers)).is_none(), "without {name}");
        }
        let mut wrong_version = UPGRADE;
        wrong_version[2].1 = "8";
        assert!(upgrade_request(&mut parts(&wrong_version)).is_none());
        let mut post = parts(&UPGRADE);
        post.method = Method::POST;
        assert!(upgrade_request(&mut post).is_none());
        let mut not_upgradable = parts(&UPGRADE);
        not_upgradable.extensions.clear();
        assert!(upgrade_request(&mut not_upgradable).is_none());
    }
}
