//! Bare HTTP and WebSocket helpers: the tests talk to the emulator like any client would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use auth_emulator::Emulator;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// A blocking client that reports every status as a response and never follows redirects.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A response, read fully.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: ureq::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut response = result.expect("HTTP exchange");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().with_config().limit(16 * 1024 * 1024).read_to_vec().expect("body");
    Resp { status, headers, body }
}

/// Any request: `auth` is a full `Authorization` value.
pub(crate) fn send(method: &str, url: &str, auth: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Resp {
    let agent = agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(auth) = auth {
        builder = builder.header("Authorization", auth);
    }
    if let Some(ct) = content_type {
        builder = builder.header("Content-Type", ct);
    }
    let request = builder.body(body.to_vec()).expect("request");
    read(agent.run(request))
}

pub(crate) fn post_json(url: &str, auth: Option<&str>, body: &Value) -> Resp {
    send("POST", url, auth, Some("application/json"), body.to_string().as_bytes())
}

pub(crate) fn post_form(url: &str, auth: Option<&str>, body: &str) -> Resp {
    send("POST", url, auth, Some("application/x-www-form-urlencoded"), body.as_bytes())
}

pub(crate) fn get(url: &str, auth: Option<&str>) -> Resp {
    send("GET", url, auth, None, b"")
}

pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

pub(crate) fn integrator(user: &str, password: &str) -> String {
    format!("Integrator {}", STANDARD.encode(format!("{user}:{password}")))
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A session as a client holds it.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) token: String,
    pub(crate) refresh_token: String,
    pub(crate) body: Value,
}

impl Tokens {
    fn from_body(body: Value) -> Self {
        Self {
            token: body["token"].as_str().expect("token").to_owned(),
            refresh_token: body["refreshToken"].as_str().expect("refreshToken").to_owned(),
            body,
        }
    }

    pub(crate) fn bearer(&self) -> String {
        bearer(&self.token)
    }
}

/// Logs `user` in with the demo password (`<user>-password`), optionally on an account.
pub(crate) fn login(emu: &Emulator, user: &str, account: Option<u64>) -> Tokens {
    let mut body = json!({"username": user, "password": format!("{user}-password")});
    if let Some(id) = account {
        body["account_id"] = json!(id);
    }
    let resp = post_json(&format!("{}/auth/login", emu.url()), None, &body);
    assert_eq!(resp.status, 200, "login failed: {:?}", String::from_utf8_lossy(&resp.body));
    Tokens::from_body(resp.json())
}

/// Refreshes, expecting success.
pub(crate) fn refresh(emu: &Emulator, refresh_token: &str) -> Tokens {
    let resp = try_refresh(emu, refresh_token);
    assert_eq!(resp.status, 200, "refresh failed: {:?}", String::from_utf8_lossy(&resp.body));
    Tokens::from_body(resp.json())
}

pub(crate) fn try_refresh(emu: &Emulator, refresh_token: &str) -> Resp {
    post_json(&format!("{}/auth/refresh", emu.url()), None, &json!({"refresh_token": refresh_token}))
}

/// `GET /reports/call-data` with the given `Authorization` and query.
pub(crate) fn call_data(emu: &Emulator, auth: Option<&str>, query: &str) -> Resp {
    get(&format!("{}/reports/call-data{query}", emu.url()), auth)
}

/// Writes raw bytes on a fresh connection and reads until the server closes it.
pub(crate) fn raw_exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

pub(crate) type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket (with a read timeout so a broken test fails instead of hanging).
pub(crate) fn ws_connect(url: &str) -> Socket {
    let (socket, _) = tungstenite::connect(url).expect("websocket handshake");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    }
    socket
}

pub(crate) fn ws_send(socket: &mut Socket, value: &Value) {
    socket.send(Message::text(value.to_string())).expect("send");
}

/// The next text message (pings skipped); `None` on close.
pub(crate) fn ws_next_text(socket: &mut Socket) -> Option<String> {
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

pub(crate) fn ws_next_json(socket: &mut Socket) -> Value {
    let text = ws_next_text(socket).expect("a message before close");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// Connects and authenticates with `token`, returning the socket and the authresponse.
pub(crate) fn ws_auth(url: &str, token: &str) -> (Socket, Value) {
    let mut socket = ws_connect(url);
    ws_send(&mut socket, &json!({"type": "authrequest", "token": token}));
    let reply = ws_next_json(&mut socket);
    (socket, reply)
}

/// Whether the server closed the socket (close frame or EOF) before any further text.
pub(crate) fn ws_closed(socket: &mut Socket) -> bool {
    ws_next_text(socket).is_none()
}

/// Polls `condition` until it holds or 10 s have passed; returns whether it held. For effects
/// of the emulator's own tasks that no client can observe directly.
pub(crate) fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}
