//! Persistable token state, so a restarted process continues its session without a new login.
//!
//! A [`Snapshot`] holds wall-clock instants (an `Instant` cannot survive a restart), the token
//! pair, the generation and the account the token is bound to, and says whose session it is:
//! the origin, the user, the scheme and the pinned account (SPEC.md §3a). A session only ever
//! restores or adopts a snapshot of its own; another's tokens are never sent anywhere. It
//! serializes with serde for a store to write; its `Debug` never shows a token. Treat the
//! serialized form as a secret: it holds the tokens.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::config::AccountId;
use crate::request::TokenGeneration;
use crate::secret::{BearerToken, RefreshToken};

/// The state of a bearer session, as saved by a store.
///
/// Two snapshots are equal when they hold the same state, tokens included (see the
/// `PartialEq` impl for how the tokens are compared).
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub(crate) owner: Owner,
    pub(crate) token: BearerToken,
    pub(crate) generation: TokenGeneration,
    pub(crate) sent_at: OffsetDateTime,
    pub(crate) lifetime: Duration,
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) refresh_expires_at: Option<OffsetDateTime>,
    pub(crate) account: Option<AccountId>,
}

/// Whose session a snapshot holds (SPEC.md §3a): the scheme is always bearer (only bearer
/// sessions have token state), so the origin, the user and the pinned account say the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// [`BaseUrl::canonical_origin`](crate::BaseUrl::canonical_origin).
    pub(crate) origin: String,
    pub(crate) username: String,
    /// The account the configuration pins (`None`: not pinned). The account the token is bound
    /// to at the moment is [`Snapshot::account`]; it may differ after an account switch.
    pub(crate) pinned: Option<AccountId>,
}

/// Compares the tokens by their exposed text, with `==` on `&str` (not constant time): the
/// tokens are not `PartialEq` themselves, so that no comparison of secrets happens unseen. Both
/// sides are state this process holds or a store hands back (a store's round trip, an event
/// against the expected one), never text an attacker submits and times, so an early exit at the
/// first differing byte tells nobody anything.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        let Snapshot { owner, token, generation, sent_at, lifetime, refresh_token, refresh_expires_at, account } = self;
        *owner == other.owner
            && token.expose_secret() == other.token.expose_secret()
            && *generation == other.generation
            && *sent_at == other.sent_at
            && *lifetime == other.lifetime
            && refresh_token.as_ref().map(RefreshToken::expose_secret)
                == other.refresh_token.as_ref().map(RefreshToken::expose_secret)
            && *refresh_expires_at == other.refresh_expires_at
            && *account == other.account
    }
}

impl Eq for Snapshot {}

impl Snapshot {
    /// The user this session belongs to.
    pub fn username(&self) -> &str {
        &self.owner.username
    }

    /// The origin (`scheme://host:port`) of the server this session belongs to.
    pub fn origin(&self) -> &str {
        &self.owner.origin
    }

    /// The account pinned by the configuration that made this session, if any.
    pub fn pinned_account(&self) -> Option<AccountId> {
        self.owner.pinned
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

    /// Estimated expiry of the unspent refresh token (client clock), when one is included and
    /// the server said when it expires.
    pub fn refresh_expires_at(&self) -> Option<OffsetDateTime> {
        self.refresh_token.as_ref().and(self.refresh_expires_at)
    }

    /// The account the token is bound to, if known.
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }
}

/// The serialized form (version 2). Kept separate so the public type never derives
/// `Serialize` on secret fields by accident.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    version: u32,
    origin: String,
    /// Always `"bearer"`; written so that a reader can refuse anything else.
    scheme: String,
    username: String,
    pinned_account_id: Option<AccountId>,
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

const VERSION: u32 = 2;
/// The fields [`Stored`] cannot do without.
const REQUIRED: [&str; 8] =
    ["version", "origin", "scheme", "username", "token", "generation", "obtained_at", "lifetime_ms"];
/// Every field of [`Stored`].
const KNOWN: [&str; 12] = [
    "version",
    "origin",
    "scheme",
    "username",
    "pinned_account_id",
    "token",
    "generation",
    "obtained_at",
    "lifetime_ms",
    "refresh_token",
    "refresh_expires_at",
    "account_id",
];
const SCHEME: &str = "bearer";

impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            version: VERSION,
            origin: self.owner.origin.clone(),
            scheme: SCHEME.to_owned(),
            username: self.owner.username.clone(),
            pinned_account_id: self.owner.pinned,
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
        // Read as plain JSON first, and judged here in words of our own: serde's messages quote
        // the offending value, which may be a token, and a store shows this message to the user.
        let value = serde_json::Value::deserialize(deserializer)?;
        let Some(object) = value.as_object() else {
            return Err(serde::de::Error::custom("invalid type: a snapshot is a JSON object"));
        };
        match object.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            // A version-1 snapshot cannot say which server it belongs to (SPEC.md §3a).
            Some(1) => {
                return Err(serde::de::Error::custom(
                    "unsupported snapshot version 1, which does not say which server it belongs to",
                ));
            }
            _ => {
                return Err(serde::de::Error::custom(format_args!(
                    "unsupported snapshot version (expected {VERSION})"
                )));
            }
        }
        if let Some(missing) = REQUIRED.iter().find(|name| !object.contains_key(**name)) {
            return Err(serde::de::Error::custom(format_args!("missing field `{missing}`")));
        }
        if object.keys().any(|key| !KNOWN.contains(&key.as_str())) {
            return Err(serde::de::Error::custom("unknown field in the snapshot"));
        }
        let stored = Stored::deserialize(value)
            .map_err(|_| serde::de::Error::custom("invalid type or value of a field of the snapshot"))?;
        // The origin is shown in messages ("belongs to another server (…)"): printable ASCII
        // of the canonical shape only, so a doctored file cannot put anything else on a screen.
        let canonical = |o: &str| o.len() <= 300 && o.bytes().all(|b| b.is_ascii_graphic()) && o.contains("://");
        if !canonical(&stored.origin) {
            return Err(serde::de::Error::custom("invalid value: the origin is not a scheme://host:port"));
        }
        if stored.scheme != SCHEME {
            return Err(serde::de::Error::custom("only bearer sessions have snapshots"));
        }
        let valid = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic());
        if !valid(&stored.token) || stored.refresh_token.as_deref().is_some_and(|t| !valid(t)) {
            // (Never quote the token.)
            return Err(serde::de::Error::custom("snapshot holds a token that cannot be sent in a header"));
        }
        Ok(Snapshot {
            owner: Owner { origin: stored.origin, username: stored.username, pinned: stored.pinned_account_id },
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
            owner: Owner { origin: "https://api.teletracker.net:443".into(), username: "alice".into(), pinned: None },
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
        let v3 = json.replace("\"version\":2", "\"version\":3");
        assert!(serde_json::from_str::<Snapshot>(&v3).is_err());
        let v1 = json.replace("\"version\":2", "\"version\":1");
        let error = serde_json::from_str::<Snapshot>(&v1).unwrap_err().to_string();
        assert!(error.starts_with("unsupported snapshot version 1") && error.contains("which server"), "{error}");
        let basic = json.replace("\"bearer\"", "\"basic\"");
        assert!(serde_json::from_str::<Snapshot>(&basic).is_err());
        let odd_origin = json.replace("https://api.teletracker.net:443", "https://evil\\u001b[2J:443");
        assert!(serde_json::from_str::<Snapshot>(&odd_origin).is_err(), "control characters in the origin");
        let bad = json.replace("tok-secret", "tok secret");
        assert!(serde_json::from_str::<Snapshot>(&bad).is_err());
    }

    #[test]
    fn errors_never_quote_a_value_of_the_snapshot() {
        let json = serde_json::to_string(&sample()).unwrap();
        let broken = [
            json.replace("\"generation\":4", "\"generation\":\"tok-secret\""),
            json.replace("\"lifetime_ms\"", "\"tok-secret\""),
            json.replace("\"refresh_token\":\"ref-secret\"", "\"refresh_token\":[\"ref-secret\"]"),
            json.replace("tok-secret", "tok-secret\\n"),
        ];
        for text in broken {
            let error = serde_json::from_str::<Snapshot>(&text).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("tok-secret") && !shown.contains("ref-secret"), "{shown}");
        }
    }

    #[test]
    fn the_field_lists_match_what_is_written() {
        let json: serde_json::Value = serde_json::to_value(sample()).unwrap();
        let written: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(written.iter().all(|key| KNOWN.contains(key)), "{written:?}");
        assert!(KNOWN.iter().all(|key| written.contains(key)), "{written:?}");
        assert!(REQUIRED.iter().all(|key| written.contains(key)));
    }
}
