//! Bearer sessions: a token and a rotating refresh token, bound to one account (SPEC §2–§4).
//!
//! A session has a chain of token pairs. Each pair has a *generation* (1 for the login pair,
//! +1 per refresh or token-issuing masquerade). Only the newest pair is alive: one live bearer
//! token and one live refresh token per session. Old tokens are kept in the indexes so the
//! emulator can tell a *superseded* or *reused* token from one it never issued.

use std::collections::HashMap;
use std::time::Duration;

use uuid::Uuid;

use crate::clock::ServerInstant;
use crate::users::AccountNumber;

/// A snapshot of one session, for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session id, sent as `guid` in token responses; stable across refreshes.
    pub guid: String,
    /// The user.
    pub user: String,
    /// The account the session is bound to now.
    pub account_id: AccountNumber,
    /// The generation of the live token pair (1 after login).
    pub generation: u64,
    /// Whether the session was revoked.
    pub revoked: bool,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub(crate) struct IssuedPair {
    pub(crate) guid: String,
    pub(crate) account: AccountNumber,
    pub(crate) generation: u64,
    pub(crate) token: String,
    pub(crate) token_expires: ServerInstant,
    pub(crate) token_lifetime: Duration,
    pub(crate) refresh_token: String,
    pub(crate) refresh_expires: ServerInstant,
}

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub(crate) guid: String,
    pub(crate) user: String,
    pub(crate) account: AccountNumber,
    pub(crate) generation: u64,
}

/// The verdict on a bearer token.
#[derive(Debug, Clone)]
pub(crate) enum TokenCheck {
    Valid(Holder),
    Expired(Holder),
    Superseded(Holder),
    Revoked(Holder),
    Unknown,
}

impl TokenCheck {
    pub(crate) fn holder(&self) -> Option<&Holder> {
        match self {
            Self::Valid(h) | Self::Expired(h) | Self::Superseded(h) | Self::Revoked(h) => Some(h),
            Self::Unknown => None,
        }
    }
}

/// The verdict on a refresh token.
#[derive(Debug, Clone)]
pub(crate) enum RefreshCheck {
    Fresh(Holder),
    Reused(Holder),
    Expired(Holder),
    Superseded(Holder),
    Revoked(Holder),
    Unknown,
}

impl RefreshCheck {
    pub(crate) fn holder(&self) -> Option<&Holder> {
        match self {
            Self::Fresh(h) | Self::Reused(h) | Self::Expired(h) | Self::Superseded(h) | Self::Revoked(h) => Some(h),
            Self::Unknown => None,
        }
    }
}

#[derive(Debug)]
struct Session {
    user: String,
    account: AccountNumber,
    generation: u64,
    revoked: bool,
}

#[derive(Debug)]
struct TokenRecord {
    guid: String,
    generation: u64,
    expires: ServerInstant,
}

#[derive(Debug)]
struct RefreshRecord {
    guid: String,
    generation: u64,
    expires: ServerInstant,
    consumed: bool,
}

/// Token lifetimes used when issuing a pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub(crate) token: Duration,
    pub(crate) refresh: Duration,
}

/// All sessions and every token ever issued.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    sessions: HashMap<String, Session>,
    tokens: HashMap<String, TokenRecord>,
    refresh_tokens: HashMap<String, RefreshRecord>,
    /// Creation order, so snapshots are stable.
    order: Vec<String>,
}

impl Sessions {
    /// Opens a session (login) and issues its first pair.
    pub(crate) fn create(
        &mut self,
        user: &str,
        account: AccountNumber,
        now: ServerInstant,
        lifetimes: Lifetimes,
    ) -> IssuedPair {
        let guid = Uuid::new_v4().to_string();
        self.sessions.insert(guid.clone(), Session { user: user.to_owned(), account, generation: 0, revoked: false });
        self.order.push(guid.clone());
        self.issue(&guid, now, lifetimes)
    }

    /// Issues the next pair of a session; the previous pair dies (superseded).
    fn issue(&mut self, guid: &str, now: ServerInstant, lifetimes: Lifetimes) -> IssuedPair {
        let (generation, account) = match self.sessions.get_mut(guid) {
            Some(s) => {
                s.generation += 1;
                (s.generation, s.account)
            }
            None => (0, 0),
        };
        let pair = IssuedPair {
            guid: guid.to_owned(),
            account,
            generation,
            token: Uuid::new_v4().to_string(),
            token_expires: now.plus(lifetimes.token),
            token_lifetime: lifetimes.token,
            refresh_token: Uuid::new_v4().to_string(),
            refresh_expires: now.plus(lifetimes.refresh),
        };
        self.tokens
            .insert(pair.token.clone(), TokenRecord { guid: guid.to_owned(), generation, expires: pair.token_expires });
        self.refresh_tokens.insert(
            pair.refresh_token.clone(),
            RefreshRecord { guid: guid.to_owned(), generation, expires: pair.refresh_expires, consumed: false },
        );
        pair
    }

    fn holder(&self, guid: &str, generation: u64) -> Option<(Holder, &Session)> {
        let session = self.sessions.get(guid)?;
        Some((
            Holder { guid: guid.to_owned(), user: session.user.clone(), account: session.account, generation },
            session,
        ))
    }

    /// Judges a bearer token; read-only.
    pub(crate) fn check_token(&self, token: &str, now: ServerInstant) -> TokenCheck {
        let Some(record) = self.tokens.get(token) else {
            return TokenCheck::Unknown;
        };
        let Some((holder, session)) = self.holder(&record.guid, record.generation) else {
            return TokenCheck::Unknown;
        };
        if session.revoked {
            TokenCheck::Revoked(holder)
        } else if record.generation != session.generation {
            TokenCheck::Superseded(holder)
        } else if now >= record.expires {
            TokenCheck::Expired(holder)
        } else {
            TokenCheck::Valid(holder)
        }
    }

    /// Judges a refresh token; read-only.
    pub(crate) fn check_refresh(&self, refresh_token: &str, now: ServerInstant) -> RefreshCheck {
        let Some(record) = self.refresh_tokens.get(refresh_token) else {
            return RefreshCheck::Unknown;
        };
        let Some((holder, session)) = self.holder(&record.guid, record.generation) else {
            return RefreshCheck::Unknown;
        };
        if record.consumed {
            RefreshCheck::Reused(holder)
        } else if session.revoked {
            RefreshCheck::Revoked(holder)
        } else if record.generation != session.generation {
            RefreshCheck::Superseded(holder)
        } else if now >= record.expires {
            RefreshCheck::Expired(holder)
        } else {
            RefreshCheck::Fresh(holder)
        }
    }

    /// Refresh: consumes `refresh_token` and issues the session's next pair. The caller has
    /// checked that the token is [`RefreshCheck::Fresh`].
    pub(crate) fn rotate(
        &mut self,
        refresh_token: &str,
        now: ServerInstant,
        lifetimes: Lifetimes,
    ) -> Option<IssuedPair> {
        let record = self.refresh_tokens.get_mut(refresh_token)?;
        record.consumed = true;
        let guid = record.guid.clone();
        Some(self.issue(&guid, now, lifetimes))
    }

    /// Masquerade: binds the session to another account.
    pub(crate) fn rebind(&mut self, guid: &str, account: AccountNumber) {
        if let Some(s) = self.sessions.get_mut(guid) {
            s.account = account;
        }
    }

    /// Masquerade with new tokens: issues the next pair without consuming the old refresh
    /// token (it is superseded instead).
    pub(crate) fn reissue(&mut self, guid: &str, now: ServerInstant, lifetimes: Lifetimes) -> IssuedPair {
        self.issue(guid, now, lifetimes)
    }

    /// Revokes one session.
    pub(crate) fn revoke(&mut self, guid: &str) {
        if let Some(s) = self.sessions.get_mut(guid) {
            s.revoked = true;
        }
    }

    /// Revokes every live session of `user`; returns how many.
    pub(crate) fn revoke_user(&mut self, user: &str) -> usize {
        let mut n = 0;
        for s in self.sessions.values_mut() {
            if s.user == user && !s.revoked {
                s.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// Revokes every live session; returns how many.
    pub(crate) fn revoke_all(&mut self) -> usize {
        let mut n = 0;
        for s in self.sessions.values_mut().filter(|s| !s.revoked) {
            s.revoked = true;
            n += 1;
        }
        n
    }

    /// All sessions, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<SessionInfo> {
        self.order
            .iter()
            .filter_map(|guid| {
                self.sessions.get(guid).map(|s| SessionInfo {
                    guid: guid.clone(),
                    user: s.user.clone(),
                    account_id: s.account,
                    generation: s.generation,
                    revoked: s.revoked,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Lifetimes = Lifetimes { token: Duration::from_secs(60), refresh: Duration::from_secs(600) };

    fn start() -> (Sessions, ServerInstant, IssuedPair) {
        let mut sessions = Sessions::default();
        let now = crate::clock::ServerClock::new(0).now();
        let pair = sessions.create("alice", 1001, now, LIFE);
        (sessions, now, pair)
    }

    #[test]
    fn login_pair_is_generation_one_and_valid() {
        let (sessions, now, pair) = start();
        assert_eq!(pair.generation, 1);
        assert!(matches!(sessions.check_token(&pair.token, now), TokenCheck::Valid(h) if h.generation == 1));
        assert!(matches!(sessions.check_refresh(&pair.refresh_token, now), RefreshCheck::Fresh(_)));
    }

    #[test]
    fn rotation_kills_the_old_pair_and_flags_reuse() {
        let (mut sessions, now, first) = start();
        let second = sessions.rotate(&first.refresh_token, now, LIFE).expect("rotates");
        assert_eq!(second.generation, 2);
        assert!(matches!(sessions.check_token(&first.token, now), TokenCheck::Superseded(_)));
        assert!(matches!(sessions.check_refresh(&first.refresh_token, now), RefreshCheck::Reused(_)));
        assert!(matches!(sessions.check_token(&second.token, now), TokenCheck::Valid(_)));
    }

    #[test]
    fn expiry_is_judged_on_server_time() {
        let (sessions, now, pair) = start();
        let later = now.plus(Duration::from_secs(60));
        assert!(matches!(sessions.check_token(&pair.token, later), TokenCheck::Expired(_)));
        assert!(matches!(sessions.check_refresh(&pair.refresh_token, later), RefreshCheck::Fresh(_)));
        let much_later = now.plus(Duration::from_secs(600));
        assert!(matches!(sessions.check_refresh(&pair.refresh_token, much_later), RefreshCheck::Expired(_)));
    }

    #[test]
    fn reissue_supersedes_the_unused_refresh_token() {
        let (mut sessions, now, first) = start();
        sessions.rebind(&first.guid, 2002);
        let second = sessions.reissue(&first.guid, now, LIFE);
        assert_eq!(second.account, 2002);
        assert!(matches!(sessions.check_refresh(&first.refresh_token, now), RefreshCheck::Superseded(_)));
    }

    #[test]
    fn revocation_is_per_user() {
        let (mut sessions, now, alice) = start();
        let bob = sessions.create("bob", 2001, now, LIFE);
        assert_eq!(sessions.revoke_user("alice"), 1);
        assert!(matches!(sessions.check_token(&alice.token, now), TokenCheck::Revoked(_)));
        assert!(matches!(sessions.check_refresh(&alice.refresh_token, now), RefreshCheck::Revoked(_)));
        assert!(matches!(sessions.check_token(&bob.token, now), TokenCheck::Valid(_)));
        assert_eq!(sessions.revoke_all(), 1);
        assert_eq!(sessions.check_token("nope", now).holder().map(|h| h.generation), None);
    }
}
