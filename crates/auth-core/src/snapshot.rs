//! Persistable token state, so a restarted process continues its session without a new login.
//!
//! A [`Snapshot`] holds wall-clock instants (an `Instant` cannot survive a restart), the token
//! pair, the generation and the account. It serializes with serde for a store to write; its
//! `Debug` never shows a token. Treat the serialized form as a secret: it holds the tokens.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::config::AccountId;
use crate::request::TokenGeneration;
use crate::secret::{BearerToken, RefreshToken};

/// The state of a bearer session, as saved by a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub(crate) username: String,
    pub(crate) token: BearerToken,
    pub(crate) generation: TokenGeneration,
    pub(crate) sent_at: OffsetDateTime,
    pub(crate) lifetime: Duration,
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) refresh_expires_at: Option<OffsetDateTime>,
    pub(crate) account: Option<AccountId>,
}

impl Snapshot {
    /// The user this session belongs to.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The generation of the token; it only grows, across processes sharing one store too.
    pub fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// When the request that obtained the token was sent (client clock).
    pub fn obtained_at(&self) -> OffsetDateTime {
        self.sent_at
    }

    /// Estimated expiry of the bearer token (client clock).
    pub fn expires_at(&self) -> OffsetDateTime {
        crate::clock::later(self.sent_at, self.lifetime)
    }

    /// Whether an unspent refresh token is included.
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// The account the token is bound to, if known.
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }
}

/// The serialized form (version 1). Kept separate so the public type never derives
/// `Serialize` on secret fields by accident.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    username: String,
    token: String,
    generation: u64,
    #[serde(with = "time::serde::rfc3339")]
    obtained_at: OffsetDateTime,
    lifetime_ms: u64,
    refresh_token: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    refresh_expires_at: Option<OffsetDateTime>,
    account_id: Option<AccountId>,
}

const VERSION: u32 = 1;

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            version: VERSION,
            username: self.username.clone(),
            token: self.token.expose_secret().to_owned(),
            generation: self.generation.0,
            obtained_at: self.sent_at,
            lifetime_ms: u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX),
            refresh_token: self.refresh_token.as_ref().map(|t| t.expose_secret().to_owned()),
            refresh_expires_at: self.refresh_expires_at,
            account_id: self.account,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Snapshot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        if stored.version != VERSION {
            return Err(serde::de::Error::custom(format_args!(
                "unsupported snapshot version {} (expected {VERSION})",
                stored.version
            )));
        }
        let valid = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic());
        if !valid(&stored.token) || stored.refresh_token.as_deref().is_some_and(|t| !valid(t)) {
            return Err(serde::de::Error::custom("snapshot holds a token that cannot be sent in a header"));
        }
        Ok(Snapshot {
            username: stored.username,
            token: BearerToken::new(stored.token),
            generation: TokenGeneration(stored.generation),
            sent_at: stored.obtained_at,
            lifetime: Duration::from_millis(stored.lifetime_ms),
            refresh_token: stored.refresh_token.map(RefreshToken::new),
            refresh_expires_at: stored.refresh_expires_at,
            account: stored.account_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            username: "alice".into(),
            token: BearerToken::new("tok-secret"),
            generation: TokenGeneration(4),
            sent_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            lifetime: Duration::from_secs(3600),
            refresh_token: Some(RefreshToken::new("ref-secret")),
            refresh_expires_at: None,
            account: Some(AccountId(9)),
        }
    }

    #[test]
    fn round_trips_through_json() {
        let json = serde_json::to_string(&sample()).unwrap();
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn debug_hides_the_tokens() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("tok-secret") && !shown.contains("ref-secret"), "{shown}");
    }

    #[test]
    fn rejects_other_versions_and_bad_tokens() {
        let json = serde_json::to_string(&sample()).unwrap();
        let v2 = json.replace("\"version\":1", "\"version\":2");
        assert!(serde_json::from_str::<Snapshot>(&v2).is_err());
        let bad = json.replace("tok-secret", "tok secret");
        assert!(serde_json::from_str::<Snapshot>(&bad).is_err());
    }
}
