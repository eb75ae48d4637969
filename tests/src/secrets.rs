//! What must never be printed, and the search for it.
//!
//! Two nets: the exact secrets the scenario knows (the passwords, their Basic/Integrator
//! encodings, every token and refresh token seen in the client's snapshots or handed out), and
//! any UUID-shaped text that is not a session `guid`. The emulator issues its tokens as UUIDs
//! and does not expose them, so the second net catches tokens the client never held, such as
//! one from a login whose response was truncated.

use std::collections::BTreeSet;

/// Secrets collected during a run.
#[derive(Debug, Default)]
pub struct Secrets {
    exact: BTreeSet<String>,
}

impl Secrets {
    /// Adds a secret (ignored when shorter than 3 characters: it would match by accident).
    pub fn add(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.len() >= 3 {
            self.exact.insert(secret);
        }
    }

    /// Adds a password, and its `user:password` encoding as Basic and Integrator send it.
    pub fn add_password(&mut self, user: &str, password: &str) {
        self.add(password);
        self.add(base64(format!("{user}:{password}").as_bytes()));
    }

    /// Adds the tokens of a serialized snapshot.
    pub fn add_snapshot(&mut self, snapshot: &serde_json::Value) {
        for field in ["token", "refresh_token"] {
            if let Some(token) = snapshot[field].as_str() {
                self.add(token);
            }
        }
    }

    /// `text` with every known secret and every UUID that is no guid replaced by `[SECRET]`,
    /// so that a report about a leak does not repeat it.
    pub fn mask(&self, text: &str, guids: &[String]) -> String {
        let mut masked = text.to_owned();
        for secret in &self.exact {
            masked = masked.replace(secret.as_str(), "[SECRET]");
        }
        let tokens: Vec<String> =
            uuids(&masked).filter(|uuid| !guids.iter().any(|g| g == uuid)).map(str::to_owned).collect();
        for token in tokens {
            masked = masked.replace(&token, "[SECRET]");
        }
        masked
    }

    /// How many secrets are known.
    pub fn len(&self) -> usize {
        self.exact.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// Why `text` leaks something, if it does. `guids` are the session ids, which are UUIDs too
    /// but not secret.
    pub fn leak_in(&self, text: &str, guids: &[String]) -> Option<String> {
        if let Some(secret) = self.exact.iter().find(|s| text.contains(s.as_str())) {
            return Some(format!("a known secret of {} characters", secret.len()));
        }
        uuids(text)
            .find(|uuid| !guids.iter().any(|g| g == uuid))
            .map(|_| "a UUID-shaped token that is no session guid".to_owned())
    }
}

/// Every 8-4-4-4-12 hex group in `text`.
fn uuids(text: &str) -> impl Iterator<Item = &str> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).filter_map(move |start| {
        let candidate = &bytes[start..start + 36];
        let shaped = candidate
            .iter()
            .enumerate()
            .all(|(i, b)| if DASHES.contains(&i) { *b == b'-' } else { b.is_ascii_hexdigit() });
        // Only whole UUIDs: not preceded or followed by another hex digit.
        let bounded = (start == 0 || !bytes[start - 1].is_ascii_hexdigit())
            && bytes.get(start + 36).is_none_or(|b| !b.is_ascii_hexdigit());
        (shaped && bounded).then(|| &text[start..start + 36])
    })
}

/// Standard base64 with padding (RFC 4648), as Basic credentials are encoded.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_vendor_example() {
        assert_eq!(base64(b"test@user.com:testpassword"), "dGVzdEB1c2VyLmNvbTp0ZXN0cGFzc3dvcmQ=");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    #[test]
    fn finds_uuids_that_are_not_guids() {
        let mut secrets = Secrets::default();
        secrets.add("hunter22");
        let guid = "71067212-8141-4887-b48e-ccabcfb07196".to_owned();
        let token = "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79";
        assert!(secrets.leak_in(&format!("session {guid}"), std::slice::from_ref(&guid)).is_none());
        assert!(secrets.leak_in(&format!("token {token}"), std::slice::from_ref(&guid)).is_some());
        assert!(secrets.leak_in("password hunter22!", &[]).is_some());
        assert!(secrets.leak_in("nothing here", &[]).is_none());
        let masked = secrets.mask(&format!("{token} hunter22 {guid}"), std::slice::from_ref(&guid));
        assert_eq!(masked, format!("[SECRET] [SECRET] {guid}"));
    }
}
