//! The bytes on the wire: auth request bodies we send and the answers we accept (SPEC.md §2,
//! §3, §4, §5).
//!
//! Parsing is tolerant where the vendor's docs are silent (unknown fields are ignored, error
//! details are read from whichever of `error`, `errors`, `message`, `code`, `error_code` is
//! present) and strict where a mistake would hurt (a token that cannot go in a header, a body
//! over [`MAX_AUTH_BODY`]).

use std::time::Duration;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::AccountId;
use crate::error::{Malformed, ServerError};
use crate::secret::{BearerToken, Password, RefreshToken};

/// Auth response bodies larger than this (64 KiB) are rejected without being parsed
/// (SPEC.md §5). Adapters should stop reading at `MAX_AUTH_BODY + 1` bytes.
pub const MAX_AUTH_BODY: usize = 64 * 1024;

/// Lifetimes above this are clamped: no real token lives a year, and it keeps time arithmetic
/// far from overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

/// Longest excerpt of a server message kept in an error.
const EXCERPT_CHARS: usize = 160;

/// Tokens longer than this are not plausible and are refused.
const MAX_TOKEN_LEN: usize = 4096;

/// A token pair and its timing, as granted by login, refresh or (optionally) masquerade.
#[derive(Debug)]
pub(crate) struct Grant {
    pub(crate) token: BearerToken,
    pub(crate) lifetime: Duration,
    pub(crate) refresh_token: Option<RefreshToken>,
    /// `tokenExpiration`, in the server's clock.
    pub(crate) token_expiration: Option<OffsetDateTime>,
    /// `refreshTokenExpiration`, in the server's clock.
    pub(crate) refresh_expiration: Option<OffsetDateTime>,
}

/// Why an auth answer is not a success.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A 4xx (other than 408/429) or a `"success": false` body: the server said no.
    Rejected(ServerError),
    /// A 5xx, 408 or other unexpected status: it may pass.
    Server(ServerError),
    /// 429, or 503 with `Retry-After`.
    RateLimited { error: ServerError, retry_after: Option<Duration> },
    /// A 2xx whose body we cannot use.
    Malformed(Malformed),
}

/// Removes secrets from server-provided text; the session passes one that knows its secrets.
pub(crate) type Scrub<'a> = &'a dyn Fn(&str) -> String;

/// Sorts an auth answer into success (the JSON object) or a [`Failure`].
pub(crate) fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
    scrub: Scrub<'_>,
) -> Result<Map<String, Value>, Failure> {
    let retry_after = headers.get(RETRY_AFTER).and_then(|v| parse_retry_after(v, now));
    let parsed = if body.len() > MAX_AUTH_BODY { None } else { serde_json::from_slice::<Value>(body).ok() };
    let details = || server_error(status, parsed.as_ref(), body, scrub);

    if status == StatusCode::TOO_MANY_REQUESTS || (status == StatusCode::SERVICE_UNAVAILABLE && retry_after.is_some()) {
        return Err(Failure::RateLimited { error: details(), retry_after });
    }
    if status == StatusCode::REQUEST_TIMEOUT || !(status.is_success() || status.is_client_error()) {
        return Err(Failure::Server(details()));
    }
    if status.is_client_error() {
        return Err(Failure::Rejected(details()));
    }
    if body.len() > MAX_AUTH_BODY {
        return Err(Failure::Malformed(Malformed::TooLarge { len: body.len() }));
    }
    let Some(Value::Object(map)) = parsed else {
        return Err(Failure::Malformed(Malformed::NotJson { status: status.as_u16() }));
    };
    if map.get("success") == Some(&Value::Bool(false)) {
        return Err(Failure::Rejected(server_error(status, Some(&Value::Object(map)), body, scrub)));
    }
    Ok(map)
}

/// Reads a token grant out of a successful login/refresh body.
pub(crate) fn parse_grant(map: &Map<String, Value>) -> Result<Grant, Malformed> {
    let token = match map.get("token") {
        None | Some(Value::Null) => return Err(Malformed::MissingField("token")),
        Some(Value::String(s)) if is_token_text(s) => BearerToken::new(s.as_str()),
        Some(_) => return Err(Malformed::InvalidField("token")),
    };
    let lifetime = match map.get("tokenLifetime") {
        None | Some(Value::Null) => return Err(Malformed::MissingField("tokenLifetime")),
        Some(value) => parse_seconds(value).ok_or(Malformed::InvalidField("tokenLifetime"))?,
    };
    let refresh_token = match map.get("refreshToken") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_token_text(s) => Some(RefreshToken::new(s.as_str())),
        Some(_) => return Err(Malformed::InvalidField("refreshToken")),
    };
    Ok(Grant {
        token,
        lifetime: lifetime.min(MAX_LIFETIME),
        refresh_token,
        token_expiration: timestamp(map.get("tokenExpiration")),
        refresh_expiration: timestamp(map.get("refreshTokenExpiration")),
    })
}

/// Whether a successful body carries a token (masquerade may or may not, SPEC.md §4).
pub(crate) fn has_token(map: &Map<String, Value>) -> bool {
    !matches!(map.get("token"), None | Some(Value::Null))
}

/// A token must fit in a header and a JSON string untouched: visible ASCII, no spaces.
fn is_token_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TOKEN_LEN && s.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn parse_seconds(value: &Value) -> Option<Duration> {
    match value {
        Value::Number(n) => {
            if let Some(secs) = n.as_u64() {
                Some(Duration::from_secs(secs.min(MAX_LIFETIME.as_secs())))
            } else {
                let secs = n.as_f64()?;
                (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(MAX_LIFETIME.as_secs_f64())))
            }
        }
        Value::String(s) => {
            s.trim().parse::<u64>().ok().map(|secs| Duration::from_secs(secs.min(MAX_LIFETIME.as_secs())))
        }
        _ => None,
    }
}

/// A server timestamp; an unreadable one is ignored, never fatal (it is advisory only).
fn timestamp(value: Option<&Value>) -> Option<OffsetDateTime> {
    let text = value?.as_str()?;
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `Retry-After` as a delay: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub(crate) fn parse_retry_after(value: &HeaderValue, now: OffsetDateTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = OffsetDateTime::from(httpdate::parse_http_date(text).ok()?);
    Some((at - now).try_into().unwrap_or(Duration::ZERO))
}

fn server_error(status: StatusCode, parsed: Option<&Value>, body: &[u8], scrub: Scrub<'_>) -> ServerError {
    let clean = |text: &str| excerpt(&scrub(text));
    let (code, message) = match parsed {
        Some(Value::Object(map)) => {
            let text_of = |key: &str| match map.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let code = text_of("error_code").or_else(|| text_of("code")).or_else(|| text_of("error"));
            let nested = match map.get("error") {
                Some(Value::Object(inner)) => inner.get("message").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            let errors = match map.get("errors") {
                Some(Value::Array(items)) => {
                    let parts: Vec<String> = items
                        .iter()
                        .take(5)
                        .map(|item| match item {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    (!parts.is_empty()).then(|| parts.join(", "))
                }
                Some(Value::Object(fields)) => {
                    (!fields.is_empty()).then(|| fields.keys().take(5).cloned().collect::<Vec<_>>().join(", "))
                }
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let message = text_of("message").or(nested).or(errors);
            (code.map(|c| clean(&c)), message.map(|m| clean(&m)))
        }
        _ if body.is_empty() || body.len() > MAX_AUTH_BODY => (None, None),
        // The whole body is scrubbed before it is cut to an excerpt: cut first, a secret that
        // straddled the cut would leave its first half behind.
        _ => (None, Some(clean(&String::from_utf8_lossy(body)))),
    };
    ServerError { status, code: code.filter(|c| !c.is_empty()), message: message.filter(|m| !m.is_empty()) }
}

/// A short, printable, single-line excerpt.
fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (count, ch) in text.chars().enumerate() {
        if count == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push(if ch.is_control() { ' ' } else { ch });
    }
    out.trim().to_owned()
}

fn json_request(uri: Uri, body: &Value, bearer: Option<&HeaderValue>) -> Request<Vec<u8>> {
    let body = body.to_string().into_bytes();
    let length = body.len();
    let mut request = Request::new(body);
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(value) = bearer {
        request.headers_mut().insert(AUTHORIZATION, value.clone());
    }
    request
}

/// `POST /auth/login` (SPEC.md §2). JSON body, a project decision.
pub(crate) fn login_request(
    uri: Uri,
    username: &str,
    password: &Password,
    account: Option<AccountId>,
    auth_only: bool,
) -> Request<Vec<u8>> {
    let mut body = serde_json::json!({ "username": username, "password": password.expose_secret() });
    if let Some(account) = account {
        body["account_id"] = Value::from(account.0);
    }
    if auth_only {
        body["auth_only"] = Value::from(1);
    }
    json_request(uri, &body, None)
}

/// `POST /auth/refresh` (SPEC.md §3). Takes the refresh token by value: once sent, it is gone.
pub(crate) fn refresh_request(uri: Uri, refresh_token: RefreshToken) -> Request<Vec<u8>> {
    json_request(uri, &serde_json::json!({ "refresh_token": refresh_token.expose_secret() }), None)
}

/// `POST <masquerade path>` with the current bearer token (SPEC.md §4, an assumption).
pub(crate) fn masquerade_request(uri: Uri, bearer: &HeaderValue, account: AccountId) -> Request<Vec<u8>> {
    json_request(uri, &serde_json::json!({ "account_id": account.0 }), Some(bearer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_scrub(s: &str) -> String {
        s.to_owned()
    }

    fn classify_body(status: u16, body: &str) -> Result<Map<String, Value>, Failure> {
        let now = OffsetDateTime::UNIX_EPOCH;
        classify(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), body.as_bytes(), now, &no_scrub)
    }

    const LOGIN_EXAMPLE: &str = r#"{"success": true, "guid": "71067212-8141-4887-b48e-ccabcfb07196",
        "token": "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79",
        "tokenExpiration": "2018-04-01T21:39:12+00:00", "tokenLifetime": 3600,
        "refreshToken": "dff78899-ed3b-4965-8f44-474ac2bf7354",
        "refreshTokenExpiration": "2018-04-30T21:39:12+00:00", "extra": {"ignored": true}}"#;

    #[test]
    fn parses_the_documented_login_example() {
        let map = classify_body(200, LOGIN_EXAMPLE).unwrap();
        let grant = parse_grant(&map).unwrap();
        assert_eq!(grant.token.expose_secret(), "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79");
        assert_eq!(grant.lifetime, Duration::from_secs(3600));
        assert_eq!(grant.refresh_token.unwrap().expose_secret(), "dff78899-ed3b-4965-8f44-474ac2bf7354");
        assert_eq!(grant.token_expiration.unwrap().unix_timestamp(), 1_522_618_752);
        assert!(grant.refresh_expiration.is_some());
    }

    #[test]
    fn success_false_with_200_is_a_rejection_with_details() {
        let Err(Failure::Rejected(err)) =
            classify_body(200, r#"{"success":false,"error":"invalid_credentials","message":"Bad\npassword"}"#)
        else {
            panic!("expected a rejection");
        };
        assert_eq!(err.status(), StatusCode::OK);
        assert_eq!(err.code(), Some("invalid_credentials"));
        assert_eq!(err.message(), Some("Bad password"));
    }

    #[test]
    fn errors_list_and_error_code_are_read() {
        let Err(Failure::Rejected(err)) =
            classify_body(400, r#"{"success":false,"errors":["username","password"],"error_code":42}"#)
        else {
            panic!("expected a rejection");
        };
        assert_eq!(err.code(), Some("42"));
        assert_eq!(err.message(), Some("username, password"));
        assert_eq!(err.to_string(), "HTTP 400 (42): username, password");
    }

    #[test]
    fn statuses_are_sorted_into_classes() {
        assert!(matches!(classify_body(500, "oops"), Err(Failure::Server(_))));
        assert!(matches!(classify_body(408, ""), Err(Failure::Server(_))));
        assert!(matches!(classify_body(302, ""), Err(Failure::Server(_))));
        assert!(matches!(classify_body(429, ""), Err(Failure::RateLimited { retry_after: None, .. })));
        assert!(matches!(classify_body(401, "<html>"), Err(Failure::Rejected(_))));
        assert!(matches!(classify_body(200, "<html>"), Err(Failure::Malformed(Malformed::NotJson { status: 200 }))));
        assert!(matches!(classify_body(200, "[1]"), Err(Failure::Malformed(Malformed::NotJson { .. }))));
    }

    #[test]
    fn oversized_bodies_are_not_parsed() {
        let big = format!("{{\"token\":\"{}\"}}", "a".repeat(MAX_AUTH_BODY));
        assert!(matches!(classify_body(200, &big), Err(Failure::Malformed(Malformed::TooLarge { .. }))));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap(); // Sun, 06 Nov 1994 08:49:37 GMT
        let secs = HeaderValue::from_static(" 120 ");
        assert_eq!(parse_retry_after(&secs, now), Some(Duration::from_secs(120)));
        let date = HeaderValue::from_static("Sun, 06 Nov 1994 08:50:37 GMT");
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(60)));
        let past = HeaderValue::from_static("Sun, 06 Nov 1994 08:00:00 GMT");
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon"), now), None);
    }

    #[test]
    fn unusable_token_fields_are_typed_errors() {
        let cases = [
            (r#"{"tokenLifetime":1}"#, Malformed::MissingField("token")),
            (r#"{"token":"a b","tokenLifetime":1}"#, Malformed::InvalidField("token")),
            (r#"{"token":"a\r\nb","tokenLifetime":1}"#, Malformed::InvalidField("token")),
            (r#"{"token":7,"tokenLifetime":1}"#, Malformed::InvalidField("token")),
            (r#"{"token":"t"}"#, Malformed::MissingField("tokenLifetime")),
            (r#"{"token":"t","tokenLifetime":-1}"#, Malformed::InvalidField("tokenLifetime")),
            (r#"{"token":"t","tokenLifetime":"x"}"#, Malformed::InvalidField("tokenLifetime")),
            (r#"{"token":"t","tokenLifetime":1,"refreshToken":false}"#, Malformed::InvalidField("refreshToken")),
        ];
        for (body, expected) in cases {
            let map = classify_body(200, body).unwrap();
            assert_eq!(parse_grant(&map).unwrap_err(), expected, "{body}");
        }
    }

    #[test]
    fn tolerant_where_the_docs_are_silent() {
        let map = classify_body(200, r#"{"token":"t","tokenLifetime":"60","tokenExpiration":"garbage"}"#).unwrap();
        let grant = parse_grant(&map).unwrap();
        assert_eq!(grant.lifetime, Duration::from_secs(60));
        assert!(grant.token_expiration.is_none());
        assert!(grant.refresh_token.is_none());
        let map = classify_body(200, r#"{"token":"t","tokenLifetime":1e300}"#).unwrap();
        assert_eq!(parse_grant(&map).unwrap().lifetime, MAX_LIFETIME);
    }

    #[test]
    fn scrubbed_excerpts_hide_secrets() {
        let scrub = |s: &str| s.replace("hunter2", "[redacted]");
        let err = server_error(StatusCode::BAD_REQUEST, None, b"password hunter2 is wrong", &scrub);
        assert_eq!(err.message(), Some("password [redacted] is wrong"));
    }

    #[test]
    fn login_body_is_json_with_optional_fields() {
        let req = login_request(
            "http://h/auth/login".parse().unwrap(),
            "alice",
            &Password::new("pw"),
            Some(AccountId(5)),
            true,
        );
        let body: Value = serde_json::from_slice(req.body()).unwrap();
        assert_eq!(body, serde_json::json!({"username":"alice","password":"pw","account_id":5,"auth_only":1}));
        assert_eq!(req.headers()[CONTENT_LENGTH], req.body().len().to_string().as_str());
        assert_eq!(req.method(), Method::POST);
    }
}
