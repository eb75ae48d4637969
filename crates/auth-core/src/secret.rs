//! Secrets: passwords and tokens that can be used but never printed.
//!
//! Every secret the library holds lives in a [`Secret`]: its `Debug` prints a redaction, it has
//! no `Display`, its memory is zeroed when it is dropped, and the only way to read it is the
//! explicit [`Secret::expose_secret`]. The domain names ([`Password`], [`BearerToken`],
//! [`RefreshToken`]) are distinct types so that one can never be passed where another belongs.

use std::fmt;

use zeroize::Zeroize;

/// A string that must never be printed, logged or left behind in memory.
///
/// ```
/// use auth_core::Secret;
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "Secret([redacted])");
/// assert_eq!(password.expose_secret(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Returns the secret itself. Every call site is a place where the secret leaves our
    /// protection, so keep them few and obvious.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Length in bytes; handy for validation messages that must not show the value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Secret);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(Secret::new(value))
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
}
