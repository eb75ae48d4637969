//! Reading a request tolerantly: parameters from the query string and a JSON or form body,
//! and credentials from the `Authorization` header. Nothing here panics on bad input; the
//! callers turn the errors into 400/401 responses with `success:false`.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header, request};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value};

use crate::journal::AuthScheme;
use crate::users::AccountNumber;

/// A fully read request.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why the parameters could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Declared or sniffed JSON that does not parse into an object.
    Malformed,
    /// A body type the emulator does not read (multipart, ...).
    Unsupported,
}

impl Incoming {
    pub(crate) fn new(parts: &request::Parts, body: Bytes) -> Self {
        Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers.clone(),
            body,
        }
    }

    /// The credentials in the `Authorization` header (SPEC §1).
    pub(crate) fn credentials(&self) -> Credentials {
        match self.headers.get(header::AUTHORIZATION) {
            None => Credentials::Absent,
            Some(value) => match value.to_str() {
                Ok(text) => Credentials::parse(text),
                Err(_) => Credentials::Malformed(AuthScheme::Unrecognized),
            },
        }
    }

    /// Query parameters merged with body parameters (the body wins on a clash).
    pub(crate) fn params(&self) -> Result<Params, BodyError> {
        let mut map = Map::new();
        if let Some(query) = &self.query {
            map.extend(form_pairs(query.as_bytes()));
        }
        map.extend(self.body_params()?);
        Ok(Params(map))
    }

    fn body_params(&self) -> Result<Map<String, Value>, BodyError> {
        let body = self.body.as_ref();
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let Some(&first) = first else {
            return Ok(Map::new());
        };
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let is_json = content_type == "application/json" || content_type.ends_with("+json");
        if is_json {
            json_object(body)
        } else if content_type == "application/x-www-form-urlencoded" {
            Ok(form_pairs(body).collect())
        } else if content_type.starts_with("multipart/") {
            Err(BodyError::Unsupported)
        } else if first == b'{' {
            // No (or an odd) content type: sniff, like a lenient server would.
            json_object(body)
        } else {
            Ok(form_pairs(body).collect())
        }
    }
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(BodyError::Malformed),
    }
}

fn form_pairs(bytes: &[u8]) -> impl Iterator<Item = (String, Value)> + '_ {
    // Percent-decoding is lossy on invalid UTF-8 (U+FFFD), never an error.
    form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
}

/// A parameter as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param<T> {
    Missing,
    Present(T),
    Invalid,
}

impl<T> Param<T> {
    /// The value, if present and valid.
    pub(crate) fn present(self) -> Option<T> {
        match self {
            Self::Present(v) => Some(v),
            Self::Missing | Self::Invalid => None,
        }
    }
}

/// Request parameters, whatever encoding they came in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Map<String, Value>);

impl Params {
    /// A non-empty string (a JSON number is accepted and written out).
    pub(crate) fn text(&self, name: &str) -> Param<String> {
        match self.0.get(name) {
            None | Some(Value::Null) => Param::Missing,
            Some(Value::String(s)) if s.is_empty() => Param::Missing,
            Some(Value::String(s)) => Param::Present(s.clone()),
            Some(Value::Number(n)) => Param::Present(n.to_string()),
            Some(_) => Param::Invalid,
        }
    }

    /// An account id: a non-negative integer, as a JSON number or a numeric string.
    pub(crate) fn account_id(&self, name: &str) -> Param<AccountNumber> {
        match self.0.get(name) {
            None | Some(Value::Null) => Param::Missing,
            Some(Value::String(s)) if s.trim().is_empty() => Param::Missing,
            Some(Value::String(s)) => s.trim().parse().map_or(Param::Invalid, Param::Present),
            Some(Value::Number(n)) => n.as_u64().map_or(Param::Invalid, Param::Present),
            Some(_) => Param::Invalid,
        }
    }

    /// A 0/1 flag (`auth_only`): 1, "1", true are set; 0, "0", false or absent are not.
    pub(crate) fn flag(&self, name: &str) -> Param<bool> {
        match self.0.get(name) {
            None | Some(Value::Null) => Param::Missing,
            Some(Value::Bool(b)) => Param::Present(*b),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Param::Present(false),
                Some(1) => Param::Present(true),
                _ => Param::Invalid,
            },
            Some(Value::String(s)) => match s.trim() {
                "" | "0" | "false" => Param::Present(false),
                "1" | "true" => Param::Present(true),
                _ => Param::Invalid,
            },
            Some(_) => Param::Invalid,
        }
    }

    /// All parameters as a JSON object (echoed by `POST /calls`).
    pub(crate) fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

/// A user name and password from Basic or Integrator credentials.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct UserPass {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for UserPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UserPass({:?}, <redacted>)", self.username)
    }
}

/// The credentials a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credentials {
    Absent,
    Bearer(String),
    Basic(UserPass),
    Integrator(UserPass),
    /// A header that cannot be used; the scheme is what it claimed to be.
    Malformed(AuthScheme),
}

impl Credentials {
    fn parse(header: &str) -> Self {
        let header = header.trim();
        let (word, rest) = header.split_once(|c: char| c.is_ascii_whitespace()).unwrap_or((header, ""));
        let rest = rest.trim();
        let scheme = match word.to_ascii_lowercase().as_str() {
            "bearer" => AuthScheme::Bearer,
            "basic" => AuthScheme::Basic,
            "integrator" => AuthScheme::Integrator,
            _ => return Self::Malformed(AuthScheme::Unrecognized),
        };
        if rest.is_empty() {
            return Self::Malformed(scheme);
        }
        match scheme {
            AuthScheme::Bearer => Self::Bearer(rest.to_owned()),
            AuthScheme::Basic => decode_user_pass(rest).map_or(Self::Malformed(scheme), Self::Basic),
            _ => decode_user_pass(rest).map_or(Self::Malformed(scheme), Self::Integrator),
        }
    }

    pub(crate) fn scheme(&self) -> AuthScheme {
        match self {
            Self::Absent => AuthScheme::None,
            Self::Bearer(_) => AuthScheme::Bearer,
            Self::Basic(_) => AuthScheme::Basic,
            Self::Integrator(_) => AuthScheme::Integrator,
            Self::Malformed(scheme) => *scheme,
        }
    }
}

/// RFC 7617: base64 of `user-id ":" password` in UTF-8; the user-id cannot contain `:`.
fn decode_user_pass(encoded: &str) -> Option<UserPass> {
    let bytes = STANDARD.decode(encoded).or_else(|_| STANDARD_NO_PAD.decode(encoded)).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(UserPass { username: username.to_owned(), password: password.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn incoming(content_type: Option<&str>, query: &str, body: &[u8]) -> Incoming {
        let mut builder = Request::post(format!("/x{query}"));
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        Incoming::new(&parts, Bytes::copy_from_slice(body))
    }

    #[test]
    fn json_and_form_bodies_give_the_same_params() {
        let json = incoming(Some("application/json"), "", br#"{"username":"a","account_id":7}"#);
        let form = incoming(Some("application/x-www-form-urlencoded"), "", b"username=a&account_id=7");
        for req in [json, form] {
            let params = req.params().expect("params");
            assert_eq!(params.text("username"), Param::Present("a".into()));
            assert_eq!(params.account_id("account_id"), Param::Present(7));
        }
    }

    #[test]
    fn body_wins_over_query_and_sniffing_works_without_content_type() {
        let req = incoming(None, "?account_id=1&x=y", br#" {"account_id":"2"}"#);
        let params = req.params().expect("params");
        assert_eq!(params.account_id("account_id"), Param::Present(2));
        assert_eq!(params.text("x"), Param::Present("y".into()));
    }

    #[test]
    fn bad_bodies_are_errors_not_panics() {
        assert_eq!(incoming(Some("application/json"), "", b"{nope").params().err(), Some(BodyError::Malformed));
        assert_eq!(incoming(Some("application/json"), "", b"[1]").params().err(), Some(BodyError::Malformed));
        assert_eq!(
            incoming(Some("multipart/form-data; boundary=x"), "", b"--x").params().err(),
            Some(BodyError::Unsupported)
        );
        let form = incoming(Some("application/x-www-form-urlencoded"), "", b"username=%FF%FE&p=\xff");
        assert!(form.params().is_ok());
    }

    #[test]
    fn account_ids_and_flags_are_validated() {
        let req = incoming(Some("application/json"), "", br#"{"a":-1,"b":"x","c":1.5,"d":" 42 ","e":1,"f":"0","g":2}"#);
        let p = req.params().expect("params");
        assert_eq!(p.account_id("a"), Param::Invalid);
        assert_eq!(p.account_id("b"), Param::Invalid);
        assert_eq!(p.account_id("c"), Param::Invalid);
        assert_eq!(p.account_id("d"), Param::Present(42));
        assert_eq!(p.flag("e"), Param::Present(true));
        assert_eq!(p.flag("f"), Param::Present(false));
        assert_eq!(p.flag("g"), Param::Invalid);
        assert_eq!(p.flag("zzz"), Param::Missing);
    }

    #[test]
    fn authorization_headers_are_parsed_per_rfc_7617() {
        let basic = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert_eq!(Credentials::parse("Bearer abc"), Credentials::Bearer("abc".into()));
        assert_eq!(Credentials::parse("bearer  abc "), Credentials::Bearer("abc".into()));
        assert!(
            matches!(Credentials::parse(&basic("u:p:q")), Credentials::Basic(up) if up.username == "u" && up.password == "p:q")
        );
        assert!(matches!(
            Credentials::parse(&format!("Integrator {}", STANDARD.encode("i:p"))),
            Credentials::Integrator(_)
        ));
        assert_eq!(Credentials::parse(&basic("nocolon")), Credentials::Malformed(AuthScheme::Basic));
        assert_eq!(Credentials::parse("Basic !!!"), Credentials::Malformed(AuthScheme::Basic));
        assert_eq!(
            Credentials::parse(&format!("Basic {}", STANDARD.encode([0xff, b':', b'p']))),
            Credentials::Malformed(AuthScheme::Basic)
        );
        assert_eq!(Credentials::parse("Bearer"), Credentials::Malformed(AuthScheme::Bearer));
        assert_eq!(Credentials::parse("Digest x"), Credentials::Malformed(AuthScheme::Unrecognized));
    }
}
