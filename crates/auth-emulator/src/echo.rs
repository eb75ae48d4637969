//! [`Fault::EchoCredentials`](crate::Fault::EchoCredentials): a server that repeats the
//! credentials it was sent in its failure message, in one of the encodings SPEC §5 says a
//! client must scrub from its errors.
//!
//! What is echoed is what the request presented: the `password` (with its `username`) and the
//! `refresh_token` of the body or query, the token of a `Bearer` header, the decoded
//! `user:password` of a `Basic`/`Integrator` header, and the token of a RealTime `authrequest`.
//! The text encodings repeat each of these; the base64 encodings repeat only the password and
//! `user:password`, the forms SPEC §5 names.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::reply::Reply;
use crate::request::{Credentials, Incoming};

/// How [`Fault::EchoCredentials`](crate::Fault::EchoCredentials) writes the credentials into
/// its failure message (the text of the message; the body around it is ordinary JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EchoEncoding {
    /// As presented.
    Raw,
    /// JSON-escaped as serde_json writes a string, without the quotes (`\"`, `\\`).
    Json,
    /// JSON-escaped as PHP's `json_encode` writes it: also `\/`, and `\uxxxx` (lower-case
    /// hex, surrogate pairs beyond the Basic Multilingual Plane) for all that is not ASCII.
    JsonAscii,
    /// Like [`JsonAscii`](Self::JsonAscii), with upper-case hex (`\uXXXX`).
    JsonAsciiUpper,
    /// `application/x-www-form-urlencoded`: upper-case `%XX`, `+` for a space.
    FormUrlEncoded,
    /// Percent-encoding of all but RFC 3986's unreserved characters, lower-case `%xx`, `%20`
    /// for a space.
    PercentLower,
    /// Base64, standard alphabet, padded (as in a Basic header).
    Base64,
    /// Base64, standard alphabet, unpadded.
    Base64Unpadded,
    /// Base64, URL-safe alphabet, padded.
    Base64Url,
    /// Base64, URL-safe alphabet, unpadded.
    Base64UrlUnpadded,
}

impl EchoEncoding {
    /// Every encoding, for tests that try them all.
    pub const ALL: [EchoEncoding; 10] = [
        Self::Raw,
        Self::Json,
        Self::JsonAscii,
        Self::JsonAsciiUpper,
        Self::FormUrlEncoded,
        Self::PercentLower,
        Self::Base64,
        Self::Base64Unpadded,
        Self::Base64Url,
        Self::Base64UrlUnpadded,
    ];

    /// Whether this is one of the base64 encodings (which echo only passwords and
    /// `user:password`).
    pub fn is_base64(self) -> bool {
        matches!(self, Self::Base64 | Self::Base64Unpadded | Self::Base64Url | Self::Base64UrlUnpadded)
    }

    /// `text` in this encoding.
    pub fn apply(self, text: &str) -> String {
        match self {
            Self::Raw => text.to_owned(),
            Self::Json => {
                let quoted = Value::from(text).to_string();
                quoted.get(1..quoted.len() - 1).unwrap_or_default().to_owned()
            }
            Self::JsonAscii => json_ascii(text, false),
            Self::JsonAsciiUpper => json_ascii(text, true),
            Self::FormUrlEncoded => form_urlencoded::byte_serialize(text.as_bytes()).collect(),
            Self::PercentLower => percent_lower(text),
            Self::Base64 => STANDARD.encode(text),
            Self::Base64Unpadded => STANDARD_NO_PAD.encode(text),
            Self::Base64Url => URL_SAFE.encode(text),
            Self::Base64UrlUnpadded => URL_SAFE_NO_PAD.encode(text),
        }
    }
}

fn json_ascii(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c if c.is_ascii() => out.push(c),
            c => {
                for unit in c.encode_utf16(&mut [0u16; 2]).iter() {
                    out.push_str(&if upper { format!("\\u{unit:04X}") } else { format!("\\u{unit:04x}") });
                }
            }
        }
    }
    out
}

fn percent_lower(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

/// The credentials one request presented.
#[derive(Default)]
struct Presented {
    /// `(what, value)` for tokens and refresh tokens.
    tokens: Vec<(&'static str, String)>,
    username: Option<String>,
    password: Option<String>,
}

impl Presented {
    fn of_request(req: &Incoming) -> Self {
        let mut presented = Self::default();
        match req.credentials() {
            Credentials::Bearer(token) => presented.tokens.push(("token", token)),
            Credentials::Basic(pair) | Credentials::Integrator(pair) => {
                presented.username = Some(pair.username.clone());
                presented.password = Some(pair.password.clone());
            }
            Credentials::Absent | Credentials::Malformed(_) => {}
        }
        if let Ok(params) = req.params() {
            if let Some(token) = params.text("refresh_token").present() {
                presented.tokens.push(("refresh_token", token));
            }
            if let Some(password) = params.text("password").present() {
                presented.password = Some(password);
                presented.username = params.text("username").present().or(presented.username);
            }
        }
        presented
    }

    /// The failure message: every credential, in `encoding`.
    fn message(&self, encoding: EchoEncoding) -> String {
        let mut parts = Vec::new();
        if !encoding.is_base64() {
            for (what, token) in &self.tokens {
                parts.push(format!("{what} {}", encoding.apply(token)));
            }
        }
        if let Some(password) = &self.password {
            parts.push(format!("password {}", encoding.apply(password)));
            if let Some(username) = &self.username {
                parts.push(format!("credentials {}", encoding.apply(&format!("{username}:{password}"))));
            }
        }
        if parts.is_empty() {
            parts.push("(nothing)".to_owned());
        }
        format!("auth-emulator echoes {}", parts.join("; "))
    }
}

/// The reply of [`Fault::EchoCredentials`](crate::Fault::EchoCredentials) to an HTTP request:
/// `status` (an invalid code becomes 401) and `{"success":false,"error":"echoed_credentials",
/// "message":"auth-emulator echoes <what> <form>; ..."}`.
pub(crate) fn reply(status: u16, encoding: EchoEncoding, req: Option<&Incoming>) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
    let message = req.map(Presented::of_request).unwrap_or_default().message(encoding);
    Reply::failure(status, "echoed_credentials", &message)
}

/// The `authresponse` of the fault on a RealTime socket: `success:false`, with the token of the
/// first message echoed in `error`.
pub(crate) fn authresponse(encoding: EchoEncoding, first_message: Option<&str>) -> String {
    let token = first_message
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|value| value.get("token").and_then(Value::as_str).map(str::to_owned));
    let presented = Presented { tokens: token.map(|t| ("token", t)).into_iter().collect(), ..Presented::default() };
    serde_json::json!({"type": "authresponse", "success": false, "error": presented.message(encoding)}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "pä\"ss\\/wo%rd+ 🔑";

    #[test]
    fn each_encoding_writes_the_expected_form() {
        let expected = [
            (EchoEncoding::Raw, SECRET),
            (EchoEncoding::Json, r#"pä\"ss\\/wo%rd+ 🔑"#),
            (EchoEncoding::JsonAscii, r#"p\u00e4\"ss\\\/wo%rd+ \ud83d\udd11"#),
            (EchoEncoding::JsonAsciiUpper, r#"p\u00E4\"ss\\\/wo%rd+ \uD83D\uDD11"#),
            (EchoEncoding::FormUrlEncoded, "p%C3%A4%22ss%5C%2Fwo%25rd%2B+%F0%9F%94%91"),
            (EchoEncoding::PercentLower, "p%c3%a4%22ss%5c%2fwo%25rd%2b%20%f0%9f%94%91"),
            (EchoEncoding::Base64, "cMOkInNzXC93byVyZCsg8J+UkQ=="),
            (EchoEncoding::Base64Unpadded, "cMOkInNzXC93byVyZCsg8J+UkQ"),
            (EchoEncoding::Base64Url, "cMOkInNzXC93byVyZCsg8J-UkQ=="),
            (EchoEncoding::Base64UrlUnpadded, "cMOkInNzXC93byVyZCsg8J-UkQ"),
        ];
        assert_eq!(expected.map(|(e, _)| e), EchoEncoding::ALL);
        for (encoding, form) in expected {
            assert_eq!(encoding.apply(SECRET), form, "{encoding:?}");
        }
    }

    #[test]
    fn base64_echoes_only_passwords() {
        let presented = Presented {
            tokens: vec![("token", "tok".into())],
            username: Some("u".into()),
            password: Some("pw".into()),
        };
        assert_eq!(presented.message(EchoEncoding::Base64), "auth-emulator echoes password cHc=; credentials dTpwdw==");
        assert_eq!(
            presented.message(EchoEncoding::Raw),
            "auth-emulator echoes token tok; password pw; credentials u:pw"
        );
    }
}
