//! Removing our own secrets from text a server sent back (SPEC.md §5: "redaction covers every
//! form in which a secret can come back: raw, JSON-escaped, URL-encoded, and the base64 of a
//! Basic/Integrator credential; on the RealTime socket too").
//!
//! A server may repeat what it was sent in an error message: the raw text, the request body
//! re-serialized as JSON (`\"`, `\\`, and with some encoders `\/` and `\uXXXX` for anything
//! that is not ASCII), the form or query string it received (percent-encoded, either case of
//! hex, `+` for a space), or the `Authorization` header it could not use (base64 of
//! `user:password`). Rather than list every combination of these as strings, a [`Scrubber`]
//! matches each secret one character at a time, letting every character appear in any of its
//! encodings: a message mixing them (`\/` next to a raw `ä`, `%c3%A4`) is still found. Base64
//! does not encode characters one by one, so its four variants (standard and URL-safe, padded
//! and unpadded) are computed and then matched the same way (a base64 string echoed inside a
//! URL-encoded or `\/`-escaped text is found too).
//!
//! Scrubbing only runs on failure answers, so it favours thoroughness over speed; it is linear
//! in the text for all practical inputs (a position that cannot start a secret is skipped after
//! one byte comparison).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed: they would match ordinary text by accident.
const MIN_SECRET_LEN: usize = 3;

/// The most backslashes a JSON escape may start with. Text that was JSON-escaped more than once
/// (a server that quotes a JSON body inside JSON, or our own re-serialization of a nested error
/// object) doubles them at each level: `"` becomes `\"`, then `\\\"`.
const MAX_ESCAPE_RUN: usize = 8;

/// The secrets of one session, borrowed; [`scrub`](Self::scrub) removes every form of them.
///
/// Building one is cheap (it only collects references; the encoded forms are computed when it
/// scrubs), so it is made on the spot wherever server text is turned into an error.
#[derive(Default)]
pub(crate) struct Scrubber<'a> {
    /// Tokens and other texts, matched in every text encoding.
    secrets: Vec<&'a str>,
    /// `(username, password)`: the password is matched like a secret, and the base64 of the
    /// password and of `username:password` too (the Basic/Integrator credential).
    credentials: Vec<(&'a str, &'a str)>,
}

impl std::fmt::Debug for Scrubber<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .field("credentials", &self.credentials.len())
            .finish()
    }
}

impl<'a> Scrubber<'a> {
    /// A scrubber that knows no secret yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a token (or any secret text), if there is one.
    pub(crate) fn secret(mut self, secret: Option<&'a str>) -> Self {
        self.secrets.extend(secret.filter(|s| s.len() >= MIN_SECRET_LEN));
        self
    }

    /// Adds a password, if there is one, with the user it belongs to.
    pub(crate) fn credentials(mut self, username: &'a str, password: Option<&'a str>) -> Self {
        self.credentials.extend(password.filter(|p| p.len() >= MIN_SECRET_LEN).map(|p| (username, p)));
        self
    }

    /// `text` with every form of every secret replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        if self.secrets.is_empty() && self.credentials.is_empty() {
            return text.to_owned();
        }
        let encoded = self.base64_forms();
        // Borrowed, not copied: no secret is left behind in memory that is not zeroed.
        let needles: Vec<&str> = (self.secrets.iter().copied())
            .chain(self.credentials.iter().map(|(_, password)| *password))
            .chain(encoded.iter().map(|s| s.as_str()))
            .collect();
        let mut matcher = Matcher::default();
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let (mut copied, mut at) = (0, 0);
        while at < bytes.len() {
            if !text.is_char_boundary(at) {
                at += 1;
                continue;
            }
            // The longest match of any secret starting here, so an encoded form is removed whole.
            match needles.iter().filter_map(|needle| matcher.longest(bytes, at, needle)).max() {
                Some(end) => {
                    out.push_str(text.get(copied..at).unwrap_or_default());
                    out.push_str(REDACTED);
                    (copied, at) = (end, end);
                }
                None => at += 1,
            }
        }
        out.push_str(text.get(copied..).unwrap_or_default());
        out
    }

    /// Base64 of each password and of each `username:password`, in the four usual variants.
    fn base64_forms(&self) -> Vec<Zeroizing<String>> {
        let mut forms = Vec::new();
        for (username, password) in &self.credentials {
            let pair = Zeroizing::new(format!("{username}:{password}"));
            for plain in [password.as_bytes(), pair.as_bytes()] {
                for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                    forms.push(Zeroizing::new(engine.encode(plain)));
                }
            }
        }
        forms
    }
}

/// Matches a secret at a position, each character in any of its encodings: a small NFA over
/// the text, whose states are the positions reached after each character.
#[derive(Default)]
struct Matcher {
    current: Vec<usize>,
    next: Vec<usize>,
}

impl Matcher {
    /// The end of the longest match of `needle` starting at `start`, if any.
    fn longest(&mut self, text: &[u8], start: usize, needle: &str) -> Option<usize> {
        let first = needle.chars().next()?;
        if !could_start(text.get(start).copied()?, first) {
            return None;
        }
        self.current.clear();
        self.current.push(start);
        for ch in needle.chars() {
            self.next.clear();
            for &at in &self.current {
                encodings_at(text, at, ch, &mut self.next);
            }
            if self.next.is_empty() {
                return None;
            }
            self.next.sort_unstable();
            self.next.dedup();
            std::mem::swap(&mut self.current, &mut self.next);
        }
        self.current.last().copied()
    }
}

/// Whether `byte` can begin some encoding of `ch` (the cheap test that skips most positions).
fn could_start(byte: u8, ch: char) -> bool {
    let mut buf = [0u8; 4];
    ch.encode_utf8(&mut buf).as_bytes().first() == Some(&byte)
        || byte == b'\\'
        || byte == b'%'
        || (byte == b'+' && ch == ' ')
}

/// Pushes the end of every encoding of `ch` found at `at`: the raw character; `+` for a space
/// (forms); every UTF-8 byte as `%XX`, hex in either case (URLs and forms); a JSON short
/// escape (`\"`, `\\`, `\/`, `\n`, ...); a JSON `\uXXXX` escape in either case, as a surrogate
/// pair outside the Basic Multilingual Plane. JSON escapes are also accepted escaped again
/// (see [`MAX_ESCAPE_RUN`]).
fn encodings_at(text: &[u8], at: usize, ch: char, ends: &mut Vec<usize>) {
    let Some(rest) = text.get(at..) else {
        return;
    };
    let mut buf = [0u8; 4];
    let raw = ch.encode_utf8(&mut buf).as_bytes();
    if rest.starts_with(raw) {
        ends.push(at + raw.len());
    }
    if ch == ' ' && rest.first() == Some(&b'+') {
        ends.push(at + 1);
    }
    if let Some(len) = percent_encoded(rest, raw) {
        ends.push(at + len);
    }
    let short = json_short_escape(ch);
    for backslashes in 1..=escape_run(rest) {
        if short.is_some() && rest.get(backslashes) == short.as_ref() {
            ends.push(at + backslashes + 1);
        }
    }
    if let Some(len) = json_unicode_escaped(rest, ch) {
        ends.push(at + len);
    }
}

/// How many backslashes (at most [`MAX_ESCAPE_RUN`]) `text` starts with.
fn escape_run(text: &[u8]) -> usize {
    text.iter().take(MAX_ESCAPE_RUN).take_while(|&&b| b == b'\\').count()
}

/// The length of `%XX%XX…` at the start of `text` spelling exactly `bytes`.
fn percent_encoded(text: &[u8], bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &byte in bytes {
        match text.get(at..at + 3)? {
            [b'%', hi, lo] if (hex_value(*hi)? << 4 | hex_value(*lo)?) == byte => at += 3,
            _ => return None,
        }
    }
    Some(at)
}

/// The length of `\uXXXX` (or a surrogate pair of them) at the start of `text` spelling `ch`,
/// each possibly escaped again (`\\uXXXX`).
fn json_unicode_escaped(text: &[u8], ch: char) -> Option<usize> {
    let mut units = [0u16; 2];
    let mut at = 0;
    for &unit in ch.encode_utf16(&mut units).iter() {
        let backslashes = escape_run(text.get(at..)?);
        if backslashes == 0 {
            return None;
        }
        at += backslashes;
        let [b'u', digits @ ..] = text.get(at..at + 5)? else {
            return None;
        };
        let value = digits.iter().try_fold(0u16, |acc, &d| Some(acc << 4 | u16::from(hex_value(d)?)))?;
        if value != unit {
            return None;
        }
        at += 5;
    }
    Some(at)
}

/// The letter after `\` in JSON's two-character escape of `ch`, if it has one.
fn json_short_escape(ch: char) -> Option<u8> {
    Some(match ch {
        '"' => b'"',
        '\\' => b'\\',
        '/' => b'/',
        '\u{8}' => b'b',
        '\u{c}' => b'f',
        '\n' => b'n',
        '\r' => b'r',
        '\t' => b't',
        _ => return None,
    })
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "ünïcode.user";
    const PASSWORD: &str = "pä\"ss\\/wo%rd+ 🔑";

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    fn percent(text: &str, upper: bool, plus_for_space: bool) -> String {
        let mut out = String::new();
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
                b' ' if plus_for_space => out.push('+'),
                _ if upper => out.push_str(&format!("%{byte:02X}")),
                _ => out.push_str(&format!("%{byte:02x}")),
            }
        }
        out
    }

    /// JSON-escapes like PHP's `json_encode`: `\/`, and `\uXXXX` for everything not ASCII.
    fn json_ascii(text: &str, upper: bool, escape_slash: bool) -> String {
        let mut out = String::new();
        for ch in text.chars() {
            match ch {
                '/' if escape_slash => out.push_str("\\/"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_ascii() => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units).iter() {
                        out.push_str(&if upper { format!("\\u{unit:04X}") } else { format!("\\u{unit:04x}") });
                    }
                }
            }
        }
        out
    }

    fn json(text: &str) -> String {
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    }

    /// Every form of `secret` SPEC.md §5 names (base64 only where `base64` is set).
    fn forms(secret: &str, base64: bool) -> Vec<String> {
        let mut forms = vec![
            secret.to_owned(),
            json(secret),
            json(secret).replace('/', "\\/"),
            json_ascii(secret, false, true),
            json_ascii(secret, true, true),
            json_ascii(secret, false, false),
            percent(secret, true, true),
            percent(secret, false, true),
            percent(secret, true, false),
            percent(secret, false, false),
        ];
        if base64 {
            for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
                forms.push(engine.encode(secret));
            }
        }
        forms
    }

    /// Every form of the password, and every base64 form of the Basic/Integrator credential.
    fn all_forms() -> Vec<String> {
        let pair = format!("{USER}:{PASSWORD}");
        let mut all = forms(PASSWORD, true);
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            all.push(engine.encode(&pair));
        }
        // A base64 string echoed URL-encoded or with `\/`.
        for engine in [&STANDARD, &URL_SAFE] {
            let encoded = engine.encode(&pair);
            all.push(percent(&encoded, true, true));
            all.push(percent(&encoded, false, false));
            all.push(encoded.replace('/', "\\/"));
        }
        all
    }

    fn scrubber() -> Scrubber<'static> {
        Scrubber::new().credentials(USER, Some(PASSWORD)).secret(Some("tok-3f9a/é"))
    }

    #[test]
    fn every_form_of_the_password_is_redacted_whole() {
        let scrubber = scrubber();
        for form in all_forms() {
            let text = format!("wrong password <{form}> for {USER}");
            let scrubbed = scrubber.scrub(&text);
            assert_eq!(scrubbed, format!("wrong password <{REDACTED}> for {USER}"), "form {form:?}");
        }
    }

    #[test]
    fn the_credential_echoed_as_text_loses_its_password_in_every_encoding() {
        let scrubber = scrubber();
        for form in forms(&format!("{USER}:{PASSWORD}"), false) {
            let scrubbed = scrubber.scrub(&form);
            assert!(scrubbed.ends_with(REDACTED), "{form:?} -> {scrubbed:?}");
            for leaked in all_forms() {
                assert!(!scrubbed.contains(&leaked), "{form:?} -> {scrubbed:?}");
            }
        }
    }

    #[test]
    fn every_form_of_a_token_is_redacted() {
        let scrubber = scrubber();
        for form in forms("tok-3f9a/é", false) {
            assert_eq!(scrubber.scrub(&format!("bad token {form}!")), format!("bad token {REDACTED}!"), "{form:?}");
        }
    }

    #[test]
    fn hex_case_and_escape_styles_may_be_mixed_within_one_echo() {
        // `ä` with mixed-case hex, `"` JSON-escaped, `\` raw, `/` escaped, `%` URL-encoded,
        // `+` raw, the space as `+`, the key as a lower-case surrogate pair.
        let mixed = r#"p%c3%A4\"ss\\/wo%25rd%2B+\ud83d\uDD11"#;
        assert_eq!(scrubber().scrub(mixed), REDACTED);
    }

    #[test]
    fn json_escaped_twice_is_still_found() {
        let once = json_ascii(PASSWORD, false, true);
        let twice = json(&once);
        let thrice = json(&twice);
        for form in [twice, thrice, json(&json(PASSWORD))] {
            assert_eq!(scrubber().scrub(&format!("[{form}]")), format!("[{REDACTED}]"), "{form}");
        }
    }

    #[test]
    fn a_json_body_echoing_the_request_is_scrubbed() {
        let body = serde_json::json!({ "username": USER, "password": PASSWORD }).to_string();
        let scrubbed = scrubber().scrub(&format!("could not parse {body}"));
        assert!(scrubbed.contains(REDACTED), "{scrubbed}");
        for form in all_forms() {
            assert!(!scrubbed.contains(&form), "{scrubbed}");
        }
    }

    #[test]
    fn several_echoes_and_other_text_survive_in_order() {
        let text = format!("a {PASSWORD} b {} c {} d", json(PASSWORD), percent(PASSWORD, false, true));
        assert_eq!(scrubber().scrub(&text), format!("a {REDACTED} b {REDACTED} c {REDACTED} d"));
    }

    #[test]
    fn text_without_secrets_is_unchanged_including_lookalikes() {
        let text = "pä\"ss wo%rd %zz \\u12 \\uD83D \u{1F511} ok ünïcode.user:";
        assert_eq!(scrubber().scrub(text), text);
        assert_eq!(Scrubber::new().scrub(text), text);
    }

    #[test]
    fn tiny_secrets_are_not_scrubbed() {
        let scrubber = Scrubber::new().secret(Some("ab")).credentials("u", Some("xy"));
        assert_eq!(scrubber.scrub("ab xy"), "ab xy");
    }

    #[test]
    fn backslash_runs_do_not_blow_up() {
        let secret = "\\".repeat(40);
        let scrubber = Scrubber::new().secret(Some(&secret));
        let text = "\\".repeat(4000);
        let scrubbed = scrubber.scrub(&text);
        assert!(scrubbed.starts_with(REDACTED), "{}", scrubbed.len());
        assert!(!scrubbed.contains(&secret));
    }

    #[test]
    fn debug_shows_no_secret() {
        let shown = format!("{:?}", scrubber());
        assert!(!shown.contains("ss") && !shown.contains("tok"), "{shown}");
    }
}
