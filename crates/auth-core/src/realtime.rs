//! The RealTime (WebSocket) handshake and server messages (SPEC.md §6).
//!
//! Only a bearer session can authenticate a RealTime connection, and the types say so: the
//! [`RealtimeAuthRequest`] that opens a connection comes from
//! [`BearerSession::realtime_auth`](crate::BearerSession::realtime_auth) and nowhere else.
//!
//! A server that refuses the token may repeat it in its reason (raw, JSON-escaped or
//! URL-encoded). The reason is therefore only handed out by a [`RealtimeHandshake`], which is
//! built from the request it answers and scrubs that request's token from it (SPEC.md §5);
//! [`parse_server_message`] reports a refusal without its reason.
//!
//! ```
//! use auth_core::realtime::{HandshakeProgress, RealtimeError, RealtimeHandshake, Stream};
//! use auth_core::{Config, Password, Session};
//! # let now = time::OffsetDateTime::UNIX_EPOCH;
//! # let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build()?;
//! # let mut session = Session::new(config, 1, now)?;
//! # let login = session.poll_transmit(now).expect("a login");
//! # let grant = r#"{"success":true,"token":"tok-123","tokenLifetime":3600,"refreshToken":"ref"}"#;
//! # session.handle_response(login.id(), &http::Response::new(grant), now);
//! let auth = session.bearer_mut().expect("bearer").realtime_auth(now)?.expect("a token");
//! // ... send `auth.as_text()` as the first message, then feed what arrives:
//! let mut handshake = RealtimeHandshake::new(&auth);
//! let refusal = handshake.handle_message(r#"{"type":"authresponse","success":false,"error":"bad token tok-123"}"#);
//! assert_eq!(refusal, Err(RealtimeError::AuthRejected { detail: Some("bad token [redacted]".into()) }));
//!
//! let mut handshake = RealtimeHandshake::new(&auth);
//! assert_eq!(handshake.handle_message(r#"{"type":"authresponse","success":true}"#)?,
//!            HandshakeProgress::Authenticated);
//! assert_eq!(Stream::User.start_message(), r#"{"type":"startusereventrequest"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fmt;

use serde_json::{Map, Value};

use crate::scrub::Scrubber;
use crate::secret::Secret;

/// Server messages larger than this are refused without being parsed.
pub const MAX_MESSAGE: usize = 1024 * 1024;

/// Longest excerpt of a refusal's reason kept in an error.
const DETAIL_CHARS: usize = 160;

/// The first message of a RealTime connection: `{"type":"authrequest","token":"…"}`.
/// It carries the bearer token, so its `Debug` is redacted and reading it is explicit.
#[derive(Clone)]
pub struct RealtimeAuthRequest {
    text: Secret,
    /// The token alone, to scrub it from the server's answer.
    token: Secret,
    generation: crate::TokenGeneration,
}

impl RealtimeAuthRequest {
    pub(crate) fn new(token: &str, generation: crate::TokenGeneration) -> Self {
        // Field order as in the vendor's example; the token is escaped as a JSON string.
        let quoted = serde_json::Value::from(token).to_string();
        let text = format!(r#"{{"type":"authrequest","token":{quoted}}}"#);
        RealtimeAuthRequest { text: Secret::new(text), token: Secret::new(token), generation }
    }

    /// The generation of the token inside, to report a refusal with
    /// [`BearerSession::handle_realtime_rejection`](crate::BearerSession::handle_realtime_rejection).
    pub fn generation(&self) -> crate::TokenGeneration {
        self.generation
    }

    /// The message text to send as the connection's first frame. It holds the token.
    pub fn as_text(&self) -> &str {
        self.text.expose_secret()
    }
}

impl fmt::Debug for RealtimeAuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RealtimeAuthRequest([redacted])")
    }
}

/// The two event streams (SPEC.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Events tied to the user (`userevent`).
    User,
    /// Events of the whole account (`accountevent`); needs elevated privileges.
    Account,
}

impl Stream {
    fn word(self) -> &'static str {
        match self {
            Stream::User => "user",
            Stream::Account => "account",
        }
    }

    /// The message that starts this stream.
    pub fn start_message(self) -> &'static str {
        match self {
            Stream::User => r#"{"type":"startusereventrequest"}"#,
            Stream::Account => r#"{"type":"startaccounteventrequest"}"#,
        }
    }

    /// The message that stops this stream.
    pub fn stop_message(self) -> &'static str {
        match self {
            Stream::User => r#"{"type":"stopusereventrequest"}"#,
            Stream::Account => r#"{"type":"stopaccounteventrequest"}"#,
        }
    }
}

/// A message from the RealTime server, matched by its `type` (replies carry no request id).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ServerMessage {
    /// The answer to `authrequest`. A refusal's reason may repeat the token, so it is not
    /// given here: [`RealtimeHandshake::handle_message`] reports it, scrubbed.
    AuthResponse {
        /// Whether the connection is now authenticated.
        success: bool,
    },
    /// The answer to a start or stop request.
    StreamResponse {
        /// Which stream.
        stream: Stream,
        /// `true` for start, `false` for stop.
        start: bool,
        /// Whether the server agreed.
        success: bool,
    },
    /// An event of a started stream; the whole message.
    Event {
        /// Which stream it belongs to.
        stream: Stream,
        /// The message as received.
        message: Map<String, Value>,
    },
    /// Any other message type; the whole message.
    Other {
        /// Its `type`.
        kind: String,
        /// The message as received.
        message: Map<String, Value>,
    },
}

/// A RealTime message that could not be used, or a refused handshake.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RealtimeError {
    /// The message is larger than [`MAX_MESSAGE`].
    #[error("message of {len} bytes exceeds the limit")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The message is not a JSON object.
    #[error("message is not a JSON object")]
    NotJson,
    /// The message has no string `type`.
    #[error("message has no type")]
    MissingType,
    /// The server refused the token.
    #[error("the RealTime server refused the token{}", .detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    AuthRejected {
        /// A short excerpt of the server's reason, with the token scrubbed from it in every
        /// form it can come back in.
        detail: Option<String>,
    },
}

/// Parses one server message. An `authresponse` comes without the server's reason: feed the
/// handshake's messages to [`RealtimeHandshake::handle_message`] to get it, scrubbed.
pub fn parse_server_message(text: &str) -> Result<ServerMessage, RealtimeError> {
    parse(text).map(|(message, _)| message)
}

/// A server message, and for a refused `authresponse` the server's reason as it was sent.
fn parse(text: &str) -> Result<(ServerMessage, Option<String>), RealtimeError> {
    if text.len() > MAX_MESSAGE {
        return Err(RealtimeError::TooLarge { len: text.len() });
    }
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
        return Err(RealtimeError::NotJson);
    };
    let kind = match message.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(RealtimeError::MissingType),
    };
    let success = message.get("success") == Some(&Value::Bool(true));
    let mut reason = None;
    let parsed = match kind.as_str() {
        "authresponse" => {
            if !success {
                reason = reason_of(&message);
            }
            ServerMessage::AuthResponse { success }
        }
        "userevent" => ServerMessage::Event { stream: Stream::User, message },
        "accountevent" => ServerMessage::Event { stream: Stream::Account, message },
        other => match stream_response(other) {
            Some((stream, start)) => ServerMessage::StreamResponse { stream, start, success },
            None => ServerMessage::Other { kind, message },
        },
    };
    Ok((parsed, reason))
}

/// The reason a refusal gives, as the server sent it.
fn reason_of(message: &serde_json::Map<String, Value>) -> Option<String> {
    ["error", "message", "code"].iter().find_map(|key| message.get(*key).and_then(Value::as_str)).map(str::to_owned)
}

fn stream_response(kind: &str) -> Option<(Stream, bool)> {
    [Stream::User, Stream::Account].into_iter().find_map(|stream| {
        let word = stream.word();
        if kind == format!("start{word}eventresponse") {
            Some((stream, true))
        } else if kind == format!("stop{word}eventresponse") {
            Some((stream, false))
        } else {
            None
        }
    })
}

/// Where a handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeProgress {
    /// No `authresponse` yet.
    Waiting,
    /// The connection is authenticated; streams may be started.
    Authenticated,
}

/// Tracks the `authrequest` → `authresponse` exchange. Messages that arrive before the answer
/// (the server may interleave) are kept, in order, for the caller.
///
/// It is built from the [`RealtimeAuthRequest`] it answers, and scrubs that request's token
/// from a refusal's reason, so a reason it reports can be shown as it is.
#[derive(Debug)]
pub struct RealtimeHandshake {
    /// The token the `authrequest` carried.
    token: Secret,
    authenticated: bool,
    early: VecDeque<ServerMessage>,
}

impl RealtimeHandshake {
    /// A handshake for `auth`, whose text is about to be sent as the first message.
    pub fn new(auth: &RealtimeAuthRequest) -> Self {
        RealtimeHandshake { token: auth.token.clone(), authenticated: false, early: VecDeque::new() }
    }

    /// Feeds one server message. A refusal is [`RealtimeError::AuthRejected`], whose reason
    /// holds no form of the token (raw, JSON-escaped, URL-encoded).
    pub fn handle_message(&mut self, text: &str) -> Result<HandshakeProgress, RealtimeError> {
        match parse(text)? {
            (ServerMessage::AuthResponse { success: true }, _) => self.authenticated = true,
            (ServerMessage::AuthResponse { success: false }, reason) if !self.authenticated => {
                let detail = reason.map(|reason| self.scrub(&reason));
                return Err(RealtimeError::AuthRejected { detail });
            }
            (other, _) => self.early.push_back(other),
        }
        Ok(if self.authenticated { HandshakeProgress::Authenticated } else { HandshakeProgress::Waiting })
    }

    /// The reason a later refusal on this connection gives (a stream that may not start, say),
    /// as a short excerpt scrubbed of the token exactly like an `authresponse` refusal's.
    /// `None`: `text` is no refusal with a reason.
    pub fn refusal_reason(&self, text: &str) -> Option<String> {
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        if message.get("success") == Some(&Value::Bool(true)) {
            return None;
        }
        reason_of(&message).map(|reason| self.scrub(&reason))
    }

    /// Messages received besides the `authresponse`, oldest first.
    pub fn take_messages(&mut self) -> impl Iterator<Item = ServerMessage> + '_ {
        self.early.drain(..)
    }

    /// A short, printable excerpt of a refusal's reason, scrubbed before it is cut (so no
    /// part of an echoed token survives the cut).
    fn scrub(&self, reason: &str) -> String {
        let scrubbed = Scrubber::new().secret(Some(self.token.expose_secret())).scrub(reason);
        // Control characters become spaces, never nothing: dropping them would join what they
        // separate, and could put together a token the scrubber had no reason to see (found by
        // the fuzzer: `f\u{7f}uzz-…` turned into the token itself).
        scrubbed.chars().map(|c| if c.is_control() { ' ' } else { c }).take(DETAIL_CHARS).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_request_matches_the_documented_shape_and_hides_the_token() {
        let request = RealtimeAuthRequest::new("c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79", crate::TokenGeneration(1));
        let value: Value = serde_json::from_str(request.as_text()).unwrap();
        assert_eq!(value, serde_json::json!({"type":"authrequest","token":"c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79"}));
        assert!(!format!("{request:?}").contains("c04c7ff7"));
    }

    #[test]
    fn messages_are_matched_by_type() {
        let cases = [
            (
                r#"{"type":"startusereventresponse","success":true}"#,
                ServerMessage::StreamResponse { stream: Stream::User, start: true, success: true },
            ),
            (
                r#"{"type":"stopaccounteventresponse","success":false}"#,
                ServerMessage::StreamResponse { stream: Stream::Account, start: false, success: false },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_server_message(text).unwrap(), expected);
        }
        assert!(matches!(
            parse_server_message(r#"{"type":"userevent","call":1}"#).unwrap(),
            ServerMessage::Event { stream: Stream::User, .. }
        ));
        assert!(matches!(parse_server_message(r#"{"type":"x"}"#).unwrap(), ServerMessage::Other { .. }));
    }

    #[test]
    fn bad_messages_are_typed_errors() {
        assert_eq!(parse_server_message("nope"), Err(RealtimeError::NotJson));
        assert_eq!(parse_server_message("[]"), Err(RealtimeError::NotJson));
        assert_eq!(parse_server_message(r#"{"type":1}"#), Err(RealtimeError::MissingType));
        let big = format!(r#"{{"type":"{}"}}"#, "a".repeat(MAX_MESSAGE));
        assert!(matches!(parse_server_message(&big), Err(RealtimeError::TooLarge { .. })));
    }

    fn auth(token: &str) -> RealtimeAuthRequest {
        RealtimeAuthRequest::new(token, crate::TokenGeneration(1))
    }

    #[test]
    fn handshake_keeps_early_messages_and_reports_rejection() {
        let mut handshake = RealtimeHandshake::new(&auth("tok-1"));
        assert_eq!(handshake.handle_message(r#"{"type":"hello"}"#).unwrap(), HandshakeProgress::Waiting);
        assert_eq!(
            handshake.handle_message(r#"{"type":"authresponse","success":true}"#).unwrap(),
            HandshakeProgress::Authenticated
        );
        assert_eq!(handshake.take_messages().count(), 1);

        let mut handshake = RealtimeHandshake::new(&auth("tok-1"));
        let err = handshake.handle_message(r#"{"type":"authresponse","success":false,"error":"expired"}"#);
        assert_eq!(err, Err(RealtimeError::AuthRejected { detail: Some("expired".into()) }));
    }

    #[test]
    fn a_refusal_never_repeats_the_token_in_any_encoding() {
        // A token with characters that JSON and URL encodings change.
        let token = "tök/en+\\\"#x 9";
        let echoes = [
            token.to_owned(),
            r##"t\u00f6k\/en+\\\"#x 9"##.to_owned(),
            r##"t\u00F6k/en+\\\"#x 9"##.to_owned(),
            "t%C3%B6k%2Fen%2B%5C%22%23x+9".to_owned(),
            "t%c3%b6k%2fen%2b%5c%22%23x%209".to_owned(),
        ];
        for echo in echoes {
            let message = serde_json::json!({"type": "authresponse", "success": false, "error": format!("no: {echo}")});
            let mut handshake = RealtimeHandshake::new(&auth(token));
            let refusal = handshake.handle_message(&message.to_string()).unwrap_err();
            assert_eq!(refusal, RealtimeError::AuthRejected { detail: Some("no: [redacted]".into()) }, "{echo}");
            for shown in [refusal.to_string(), format!("{refusal:?}"), format!("{refusal:#?}")] {
                assert!(!shown.contains(&echo) && !shown.contains("k/en"), "{shown}");
            }
        }
    }

    #[test]
    fn the_reason_is_scrubbed_before_it_is_cut() {
        let token = "0123456789abcdef";
        let reason = format!("{}{token}", "x".repeat(150));
        let message = serde_json::json!({"type": "authresponse", "success": false, "message": reason});
        let refusal = RealtimeHandshake::new(&auth(token)).handle_message(&message.to_string()).unwrap_err();
        let RealtimeError::AuthRejected { detail: Some(detail) } = refusal else { panic!("{refusal:?}") };
        assert_eq!(detail, format!("{}[redacted]", "x".repeat(150)));
    }

    #[test]
    fn the_plain_parser_gives_no_reason() {
        let text = r#"{"type":"authresponse","success":false,"error":"bad token tok-1"}"#;
        assert_eq!(parse_server_message(text).unwrap(), ServerMessage::AuthResponse { success: false });
    }

    #[test]
    fn a_later_refusal_on_the_connection_is_scrubbed_too() {
        let token = "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79";
        let auth = RealtimeAuthRequest::new(token, crate::TokenGeneration(1));
        let handshake = RealtimeHandshake::new(&auth);
        let refusal =
            format!(r#"{{"type":"startaccounteventresponse","success":false,"error":"no rights for {token}"}}"#);
        let reason = handshake.refusal_reason(&refusal).expect("a reason");
        assert!(reason.starts_with("no rights for ") && !reason.contains("c04c7ff7"), "{reason}");
        assert_eq!(handshake.refusal_reason(r#"{"type":"x","success":true,"error":"e"}"#), None);
        assert_eq!(handshake.refusal_reason("not json"), None);
    }

    #[test]
    fn a_control_character_inside_an_echoed_token_never_joins_it_back_together() {
        let token = "fuzz-rt-token-secret";
        let auth = RealtimeAuthRequest::new(token, crate::TokenGeneration(1));
        let mut handshake = RealtimeHandshake::new(&auth);
        let refusal = r#"{"type":"authresponse","success":false,"error":"bad token f\u007fuzz-rt-token-secret"}"#;
        let Err(RealtimeError::AuthRejected { detail }) = handshake.handle_message(refusal) else {
            panic!("a refusal")
        };
        let detail = detail.expect("a reason");
        assert!(!detail.contains(token), "{detail}");
        assert!(detail.starts_with("bad token f uzz"), "{detail}");
    }
}
