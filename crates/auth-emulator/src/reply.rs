//! What handlers produce: a response plus the facts the journal records about the request,
//! and how scripted faults replace or mangle that response.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;

use crate::clock::ServerClock;
use crate::echo;
use crate::faults::Fault;
use crate::journal::{AuthScheme, Outcome};
use crate::request::{BodyError, Incoming};
use crate::sessions::IssuedPair;
use crate::users::AccountNumber;

/// Size of an [`Fault::OversizedBody`] body: twice SPEC §5's 64 KiB limit.
pub(crate) const OVERSIZED_BODY_BYTES: usize = 128 * 1024;

const JSON: &str = "application/json";

/// A response before it is turned into HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Vec<u8>,
    content_type: Option<&'static str>,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [&'a str]>,
    message: &'a str,
}

/// The token fields of SPEC §2, in the vendor's order.
#[derive(Serialize)]
struct TokenBody<'a> {
    success: bool,
    guid: &'a str,
    token: &'a str,
    #[serde(rename = "tokenExpiration")]
    token_expiration: String,
    #[serde(rename = "tokenLifetime")]
    token_lifetime: u64,
    #[serde(rename = "refreshToken")]
    refresh_token: &'a str,
    #[serde(rename = "refreshTokenExpiration")]
    refresh_token_expiration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<AccountNumber>,
}

impl Reply {
    /// A JSON response.
    pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Self {
        Self {
            status,
            headers: Vec::new(),
            // Serializing our own plain types cannot fail.
            body: serde_json::to_vec(value).unwrap_or_default(),
            content_type: Some(JSON),
        }
    }

    /// `{"success":false,"error":..,"message":..}`.
    pub(crate) fn failure(status: StatusCode, error: &str, message: &str) -> Self {
        Self::json(status, &Failure { success: false, error: Some(error), errors: None, message })
    }

    /// 400 `{"success":false,"errors":[names...],"message":..}` (SPEC §5: the documented 400
    /// lists the missing parameters).
    pub(crate) fn bad_params(names: &[&str]) -> Self {
        let message = format!("missing or invalid parameters: {}", names.join(", "));
        Self::json(
            StatusCode::BAD_REQUEST,
            &Failure { success: false, error: None, errors: Some(names), message: &message },
        )
    }

    /// A response without a body.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new(), content_type: None }
    }

    /// The token response of login, refresh and token-issuing masquerade (SPEC §2). The
    /// expirations are reported on the server's (possibly offset) clock.
    pub(crate) fn tokens(pair: &IssuedPair, clock: &ServerClock, account: Option<AccountNumber>) -> Self {
        Self::json(
            StatusCode::OK,
            &TokenBody {
                success: true,
                guid: &pair.guid,
                token: &pair.token,
                token_expiration: clock.reported_rfc3339(pair.token_expires),
                token_lifetime: pair.token_lifetime.as_secs(),
                refresh_token: &pair.refresh_token,
                refresh_token_expiration: clock.reported_rfc3339(pair.refresh_expires),
                account_id: account,
            },
        )
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(ct) = self.content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

/// What goes back on the wire: a response, or nothing at all.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    Reply(Reply),
    /// Close the TCP connection without a response.
    Drop,
}

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

impl Outgoing {
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Reply(r) => Some(r.status.as_u16()),
            Self::Drop => None,
        }
    }

    pub(crate) fn into_response(self) -> Response {
        match self {
            Self::Reply(r) => r.into_response(),
            Self::Drop => {
                let mut response = Response::new(Body::empty());
                response.extensions_mut().insert(DropConnection);
                response
            }
        }
    }
}

impl From<Reply> for Outgoing {
    fn from(reply: Reply) -> Self {
        Self::Reply(reply)
    }
}

/// What a handler learned about the request, for the journal.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub(crate) scheme: AuthScheme,
    pub(crate) user: Option<String>,
    pub(crate) account: Option<AccountNumber>,
    pub(crate) generation: Option<u64>,
    pub(crate) outcome: Outcome,
    pub(crate) refresh_consumed: Option<bool>,
}

impl Facts {
    pub(crate) fn new(scheme: AuthScheme, outcome: Outcome) -> Self {
        Self { scheme, user: None, account: None, generation: None, outcome, refresh_consumed: None }
    }

    pub(crate) fn user(mut self, user: Option<impl Into<String>>) -> Self {
        self.user = user.map(Into::into);
        self
    }

    pub(crate) fn account(mut self, account: Option<AccountNumber>) -> Self {
        self.account = account;
        self
    }

    pub(crate) fn generation(mut self, generation: Option<u64>) -> Self {
        self.generation = generation;
        self
    }

    pub(crate) fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}

/// A handler's result.
#[derive(Debug, Clone)]
pub(crate) struct Handled {
    pub(crate) reply: Reply,
    pub(crate) facts: Facts,
}

impl Handled {
    pub(crate) fn new(reply: Reply, facts: Facts) -> Self {
        Self { reply, facts }
    }

    /// A body that could not be read: 400 `malformed_body` or 415 `unsupported_media_type`.
    pub(crate) fn body_error(error: BodyError, facts: Facts) -> Self {
        match error {
            BodyError::Malformed => Self::new(
                Reply::failure(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    "the body is not a JSON object nor form data",
                ),
                facts.outcome(Outcome::BadRequest),
            ),
            BodyError::Unsupported => Self::new(
                Reply::failure(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send JSON or application/x-www-form-urlencoded",
                ),
                facts.outcome(Outcome::UnsupportedMediaType),
            ),
        }
    }
}

/// Non-JSON, non-UTF-8 bytes.
pub(crate) const GARBAGE: &[u8] = b"\x00\xff\xfe<html><body>502 Bad Gateway</body></html>\x80";

/// The body a fault sends when it replaces processing and there is no real body to mangle.
const PLACEHOLDER: &[u8] = br#"{"success":true,"message":"auth-emulator placeholder body"}"#;

/// The first half of `body` (broken JSON).
pub(crate) fn truncated(body: &[u8]) -> Vec<u8> {
    let body = if body.len() < 2 { PLACEHOLDER } else { body };
    body[..body.len() / 2].to_vec()
}

/// `body` (a JSON object) padded with a `"padding"` field to [`OVERSIZED_BODY_BYTES`].
pub(crate) fn oversized(body: &[u8]) -> Vec<u8> {
    let body = match body.strip_suffix(b"}") {
        Some(open) if open.len() > 1 => body,
        _ => PLACEHOLDER,
    };
    let open = &body[..body.len() - 1];
    const FIELD_OPEN: &[u8] = br#","padding":""#;
    let pad = OVERSIZED_BODY_BYTES.saturating_sub(open.len() + FIELD_OPEN.len() + 2);
    let mut out = Vec::with_capacity(OVERSIZED_BODY_BYTES);
    out.extend_from_slice(open);
    out.extend_from_slice(FIELD_OPEN);
    out.resize(out.len() + pad, b'x');
    out.extend_from_slice(b"\"}");
    out
}

/// The HTTP response a fault produces, given the response it replaces (if processing ran) and
/// the request (whose credentials [`Fault::EchoCredentials`] repeats).
pub(crate) fn render_fault(fault: &Fault, replaced: Option<&Reply>, request: Option<&Incoming>) -> Outgoing {
    let real_body = replaced.map_or(PLACEHOLDER, |r| r.body.as_slice());
    let raw = |body: Vec<u8>| {
        Outgoing::Reply(Reply { status: StatusCode::OK, headers: Vec::new(), body, content_type: Some(JSON) })
    };
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = format!("auth-emulator: injected status {}", status.as_u16());
            Reply::failure(status, "injected_status", &message).into()
        }
        Fault::RetryAfter { status, seconds } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let error = match status.as_u16() {
                429 => "rate_limited",
                503 => "service_unavailable",
                _ => "injected_status",
            };
            let message = format!("auth-emulator: injected {}; retry after {seconds} s", status.as_u16());
            Reply::failure(status, error, &message).with_header(header::RETRY_AFTER, HeaderValue::from(*seconds)).into()
        }
        Fault::GarbageBody => raw(GARBAGE.to_vec()),
        Fault::TruncatedBody => raw(truncated(real_body)),
        Fault::OversizedBody => raw(oversized(real_body)),
        Fault::SuccessFalse => {
            Reply::failure(StatusCode::OK, "injected_failure", "auth-emulator: injected success:false").into()
        }
        Fault::DropConnection => Outgoing::Drop,
        Fault::EchoCredentials { status, encoding } => echo::reply(*status, *encoding, request).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_json_does_not_parse() {
        let body = br#"{"success":true,"token":"abc"}"#;
        let cut = truncated(body);
        assert_eq!(cut.len(), body.len() / 2);
        assert!(serde_json::from_slice::<serde_json::Value>(&cut).is_err());
    }

    #[test]
    fn oversized_json_parses_and_keeps_the_real_fields() {
        let big = oversized(br#"{"success":true,"token":"abc"}"#);
        assert_eq!(big.len(), OVERSIZED_BODY_BYTES);
        let value: serde_json::Value = serde_json::from_slice(&big).expect("valid JSON");
        assert_eq!(value["token"], "abc");
        assert_eq!(oversized(b"").len(), OVERSIZED_BODY_BYTES);
    }

    #[test]
    fn garbage_is_neither_json_nor_utf8() {
        assert!(serde_json::from_slice::<serde_json::Value>(GARBAGE).is_err());
        assert!(std::str::from_utf8(std::hint::black_box(GARBAGE)).is_err());
    }
}
