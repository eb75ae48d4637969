//! Secrets: passwords and tokens that can be used but never printed.
//!
//! Every secret the library holds lives in a [`secrecy::SecretString`], behind a domain newtype:
//! its `Debug` prints a redaction, it has no `Display`, secrecy zeroes its memory when it is
//! dropped, and the only way to read it is the explicit [`Secret::expose_secret`]. The domain
//! names ([`Password`], [`BearerToken`], [`RefreshToken`]) are distinct types so that one can
//! never be passed where another belongs.
//!
//! None of them implements `PartialEq`: a derived comparison would stop at the first differing
//! byte, and would compare secrets where nobody meant to. Code that must compare two secrets
//! does so on the exposed text, in plain sight.
//!
//! ```compile_fail
//! use auth_core::BearerToken;
//! let _ = BearerToken::new("a") == BearerToken::new("a");
//! ```

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// Moves `value` into secrecy's box without leaving a copy behind. secrecy converts a `String`
/// with `into_boxed_str`, which reallocates (and frees the old buffer unwiped) when the string
/// has spare capacity; such a string is copied into an exact-size box and wiped instead.
fn boxed(mut value: String) -> SecretString {
    if value.len() == value.capacity() {
        return SecretString::from(value);
    }
    let secret = SecretString::from(value.as_str());
    value.zeroize();
    secret
}

/// A string that must never be printed, logged or left behind in memory.
///
/// ```
/// use auth_core::Secret;
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret([redacted])");
/// assert_eq!(password.expose_secret(), "hunter2");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(boxed(value.into()))
    }

    /// Returns the secret itself. Every call site is a place where the secret leaves our
    /// protection, so keep them few and obvious.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in bytes; handy for validation messages that must not show the value.
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.expose_secret().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(boxed(value.into()))
            }

            /// Returns the secret itself; see [`Secret::expose_secret`].
            pub fn expose_secret(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                $name::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name::new(value)
            }
        }
    };
}

secret_newtype!(
    /// A user's password.
    Password
);
secret_newtype!(
    /// A bearer token, as returned in the `token` field of a login or refresh response.
    BearerToken
);
secret_newtype!(
    /// A refresh token (the `refreshToken` response field). It is single use: the session gives
    /// it away by value when it builds a refresh request, so a consumed one cannot be sent twice.
    RefreshToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let values = [
            format!("{:?}", Secret::new("s3cret-value")),
            format!("{:?}", Password::new("s3cret-value")),
            format!("{:?}", BearerToken::new("s3cret-value")),
            format!("{:#?}", RefreshToken::new("s3cret-value")),
        ];
        for shown in values {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(RefreshToken::new("abc").expose_secret(), "abc");
        assert_eq!(Secret::from("abc").len(), 3);
        assert!(Secret::new("").is_empty());
    }

    #[test]
    fn a_string_with_spare_capacity_keeps_its_text() {
        let mut value = String::with_capacity(64);
        value.push_str("tok-with-room");
        assert_eq!(BearerToken::new(value).expose_secret(), "tok-with-room");
        assert_eq!(Password::from(String::from("exact")).expose_secret(), "exact");
        assert_eq!(Secret::from(String::new()).expose_secret(), "");
    }
}
