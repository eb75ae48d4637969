//! Sealing: the stored session encrypted and authenticated with a key the user supplies, so
//! that whoever reads the Redis data (a dump, a replica, a `MONITOR`) gets no usable token.
//!
//! XChaCha20-Poly1305 (the `chacha20poly1305` crate): a random 192-bit nonce per write (random
//! nonces of that size never repeat in practice), and the session key's name as associated
//! data, so that a sealed value copied under another session's key does not open there.
//! A sealed value is `SEALED_TAG`, the nonce, then the ciphertext with its tag.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

/// What a sealed value starts with (so that a plain value and a sealed one are told apart).
pub(crate) const SEALED_TAG: &[u8] = b"ttseal1:";
const NONCE_LEN: usize = 24;

/// The 32-byte key that seals stored sessions ([`RedisStoreBuilder::seal_key`]). Its `Debug`
/// shows nothing of it, and it is zeroed when dropped.
///
/// Every host sharing a session must use the same key. Generate one with
/// `openssl rand -base64 32` and keep it where you keep the password.
///
/// [`RedisStoreBuilder::seal_key`]: crate::RedisStoreBuilder::seal_key
#[derive(Clone)]
pub struct SealKey([u8; 32]);

impl SealKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SealKey {
        SealKey(bytes)
    }

    /// A key from its standard base64 form (44 characters, e.g. from `openssl rand -base64 32`;
    /// surrounding whitespace is ignored). The error never quotes the text.
    pub fn from_base64(text: &str) -> Result<SealKey, SealKeyError> {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| SealKeyError::NotBase64)?,
        );
        let bytes: [u8; 32] =
            decoded.as_slice().try_into().map_err(|_| SealKeyError::WrongLength { bytes: decoded.len() })?;
        Ok(SealKey(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

impl Drop for SealKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(***)")
    }
}

/// A seal key that could not be read ([`SealKey::from_base64`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealKeyError {
    /// The text is not standard base64.
    #[error("the seal key is not base64; generate one with `openssl rand -base64 32`")]
    NotBase64,
    /// The text decodes to another length than 32 bytes.
    #[error("the seal key is {bytes} bytes long, not 32; generate one with `openssl rand -base64 32`")]
    WrongLength {
        /// How many bytes it decodes to.
        bytes: usize,
    },
}

/// Why a stored value does not open (a fixed reason, never any of the data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsealed {
    /// Sealed, but not with this key, or altered, or moved from another session's key.
    WrongKeyOrAltered,
    /// Not sealed at all, though the store has a key.
    NotSealed,
    /// Sealed, though the store has no key.
    NeedsKey,
}

impl Unsealed {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unsealed::WrongKeyOrAltered => {
                "the stored session does not open with this seal key (sealed with another key, altered, or moved \
                 from another session's key); give every host the same key"
            }
            Unsealed::NotSealed => {
                "the stored session is not sealed, but this store has a seal key; every host sharing the session \
                 must use the same key"
            }
            Unsealed::NeedsKey => {
                "the stored session is sealed, but this store has no seal key; give it the key the other hosts use"
            }
        }
    }
}

/// `plain` sealed with `key`, bound to `key_name`.
pub(crate) fn seal(key: &SealKey, key_name: &str, plain: &[u8]) -> Result<Vec<u8>, getrandom::Error> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)?;
    let nonce = XNonce::from(nonce);
    // Encryption cannot fail for a message this size; an empty value (never stored) otherwise.
    let sealed = key.cipher().encrypt(&nonce, Payload { msg: plain, aad: key_name.as_bytes() }).unwrap_or_default();
    let mut out = Vec::with_capacity(SEALED_TAG.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(SEALED_TAG);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The plain value of `stored`, which `key` sealed under `key_name`.
pub(crate) fn unseal(key: &SealKey, key_name: &str, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, Unsealed> {
    let rest = stored.strip_prefix(SEALED_TAG).ok_or(Unsealed::NotSealed)?;
    if rest.len() < NONCE_LEN {
        return Err(Unsealed::WrongKeyOrAltered);
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = XNonce::from_slice(nonce);
    key.cipher()
        .decrypt(nonce, Payload { msg: sealed, aad: key_name.as_bytes() })
        .map(Zeroizing::new)
        .map_err(|_| Unsealed::WrongKeyOrAltered)
}

/// Whether `stored` is a sealed value.
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(SEALED_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_NAME: &str = "teletracker:00ff:session";

    fn key(byte: u8) -> SealKey {
        SealKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_and_shows_none_of_its_text() {
        let plain = br#"{"token":"tok-secret-123","refresh_token":"ref-secret-456"}"#;
        let sealed = seal(&key(1), KEY_NAME, plain).unwrap();
        assert!(is_sealed(&sealed));
        let text = String::from_utf8_lossy(&sealed);
        assert!(!text.contains("secret") && !text.contains("token"), "{text}");
        assert_eq!(unseal(&key(1), KEY_NAME, &sealed).unwrap().as_slice(), plain);
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        assert_ne!(seal(&key(1), KEY_NAME, b"same").unwrap(), seal(&key(1), KEY_NAME, b"same").unwrap());
    }

    #[test]
    fn another_key_does_not_open_it() {
        let sealed = seal(&key(1), KEY_NAME, b"x").unwrap();
        assert_eq!(unseal(&key(2), KEY_NAME, &sealed).unwrap_err(), Unsealed::WrongKeyOrAltered);
    }

    #[test]
    fn a_value_moved_under_another_sessions_key_does_not_open() {
        let sealed = seal(&key(1), KEY_NAME, b"x").unwrap();
        assert_eq!(unseal(&key(1), "teletracker:aa00:session", &sealed).unwrap_err(), Unsealed::WrongKeyOrAltered);
    }

    #[test]
    fn an_altered_or_cut_value_does_not_open() {
        let sealed = seal(&key(1), KEY_NAME, b"some plain text").unwrap();
        for at in [SEALED_TAG.len(), SEALED_TAG.len() + NONCE_LEN, sealed.len() - 1] {
            let mut altered = sealed.clone();
            altered[at] ^= 1;
            assert_eq!(unseal(&key(1), KEY_NAME, &altered).unwrap_err(), Unsealed::WrongKeyOrAltered);
        }
        assert_eq!(
            unseal(&key(1), KEY_NAME, &sealed[..SEALED_TAG.len() + 3]).unwrap_err(),
            Unsealed::WrongKeyOrAltered
        );
    }

    #[test]
    fn a_plain_value_is_not_taken_for_a_sealed_one() {
        assert_eq!(unseal(&key(1), KEY_NAME, br#"{"version":2}"#).unwrap_err(), Unsealed::NotSealed);
        assert!(!is_sealed(br#"{"version":2}"#));
    }

    #[test]
    fn a_key_reads_from_base64_and_says_what_is_wrong_without_quoting_it() {
        let text = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let sealed = seal(&SealKey::from_base64(&format!(" {text}\n")).unwrap(), KEY_NAME, b"x").unwrap();
        assert!(unseal(&key(7), KEY_NAME, &sealed).is_ok(), "the same key as from_bytes");

        let not_base64 = SealKey::from_base64("not base64 at all: secret!").unwrap_err();
        assert_eq!(not_base64, SealKeyError::NotBase64);
        assert!(!not_base64.to_string().contains("secret"));
        let short = SealKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 16])).unwrap_err();
        assert_eq!(short, SealKeyError::WrongLength { bytes: 16 });
        assert!(short.to_string().contains("16 bytes long, not 32"), "{short}");
    }

    #[test]
    fn a_key_never_shows_in_debug() {
        let key = SealKey::from_bytes([0xAB; 32]);
        let debug = format!("{key:?}");
        assert_eq!(debug, "SealKey(***)");
    }
}
