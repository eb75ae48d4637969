//! # auth-redis: one TeleTracker session shared by a fleet of hosts, through Redis
//!
//! [`RedisStore`] is a [`SessionStore`] for both adapters (`auth_ureq`, `auth_reqwest`): every
//! host (and every client in a host) built with the same Redis and the same configuration
//! shares one session — one login for the fleet, one refresh per token expiry — where
//! [`FileStore`](auth_store::FileStore) shares one between the processes of one machine.
//!
//! Refresh tokens rotate and are single use (SPEC.md §3): two hosts that refresh the same
//! session race, and the loser presents a spent token. The store prevents that with a lease
//! and fenced writes:
//!
//! - **The lease.** [`lock`](SessionStore::lock) sets `{prefix}:{ns}:lock` to a random 128-bit
//!   token, only if it is absent, with an expiry of one lease time (default 5 s); a waiter
//!   retries with a short, jittered, capped backoff until its wait runs out
//!   ([`StoreError::Busy`]). While the guard lives, a thread of its own renews the lease every
//!   third of the lease time, while the key still holds our token. Dropping the guard deletes
//!   the key only if it still holds our token, so a holder never deletes another's lock. A host
//!   that dies holding it blocks the others for one lease time at most.
//! - **The fence.** [`load`](SessionStore::load) remembers the version of the session it read
//!   (`{prefix}:{ns}:session`, a hash of `version` and `value`), and every
//!   [`save`](SessionStore::save) is one Lua script: it writes (with the next version) only if
//!   the stored version is still the one this holder read or last wrote, and the lock is ours
//!   or absent. Otherwise it is refused with [`StoreError::Fenced`]: a host whose lease ran
//!   out while it was paused, and which another host has overtaken, can neither overwrite the
//!   newer session nor — since the spent state is saved before a refresh is sent, and that save
//!   is refused — send a refresh token the other host already spent. The client then re-loads
//!   and adopts the stored session. The version compare-and-set is the real fence: it holds even
//!   when Redis loses the lock key (a failover, an eviction).
//! - **The keys** are namespaced by whose session it is — origin, user, scheme and pinned
//!   account (SPEC.md §3a), hashed, so no username can reach into a key name — under a prefix
//!   of your choice (default `teletracker`).
//! - **Expiry.** The session key expires when its refresh token does; the spent state is kept
//!   for as long as the spent refresh token could still be held by another host (see the
//!   README's "Scaling out").
//! - **Failures.** Every call is bounded (connect, read and write; default 2 s). A Redis that is
//!   down or slow is a [`StoreError::Unavailable`] naming the store by its URL without the
//!   password: tokens in memory keep serving, and the next exchange tries again on a new
//!   connection. A rotated pair that arrived is never dropped for a failed save.
//! - **Sealing** (optional): with a [`SealKey`], values are sealed with XChaCha20-Poly1305,
//!   bound to their key name, so a read of the Redis data yields no usable token.
//!
//! All calls block; the async adapter runs them on tokio's blocking pool, and the renewer is a
//! plain thread, so no runtime thread ever waits for Redis.
//!
//! ## Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use auth_core::{Config, Password};
//! use auth_redis::{RedisStore, SealKey};
//! use auth_store::SessionStore;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("from your secret store"))
//!     .build()?;
//! let store = RedisStore::builder("redis://:redis-password@cache.internal:6379/0")
//!     .prefix("myapp")
//!     .lease(Duration::from_secs(5))
//!     .seal_key(SealKey::from_base64(&std::env::var("MYAPP_SEAL_KEY")?)?)
//!     .build(&config)?;
//! let store: Arc<dyn SessionStore> = Arc::new(store);
//! // Then: auth_ureq::Client::builder(config).store(store).build()?
//! //   or: auth_reqwest::Client::builder(config).store(store).build().await?
//! # Ok(())
//! # }
//! ```
//!
//! ## What Redis must offer
//!
//! A single primary (the store reads and writes the primary only; replicas are for its own
//! durability), or any setup in which a lock key, once set, is seen by every later attempt to
//! take it until it expires or is deleted. A
//! failover with asynchronous replication can lose a freshly set lock key: two hosts may then
//! both hold "the" lease, but the version compare-and-set still lets only one of them write
//! the spent state, so no refresh token is sent twice. It cannot bring back a write the old
//! primary acknowledged and never replicated: such a failover can lose the newest pair, and
//! the fleet logs in again.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod expiry;
mod keys;
mod lease;
mod redact;
mod scripts;
mod seal;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{Config, Snapshot};
pub use auth_store::{SessionStore, StoreError, StoreGuard};
use time::OffsetDateTime;

pub use seal::{SealKey, SealKeyError};
use store::{Expected, Inner, locked};

use crate::keys::Keys;
use crate::scripts::{REFUSED_LOCK, SAVE};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "teletracker";
/// The default lease time: how long a host that dies holding the lock blocks the others.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);
/// The default bound on connecting to Redis and on each read and write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A session store in Redis, shared by every host and client built with the same Redis and
/// configuration (see the [crate docs](crate)). Clones share one connection pool and take
/// turns on the lease.
///
/// Its `Debug` shows the URL without the password, the prefix and the key namespace.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// Configures a [`RedisStore`]: from [`RedisStore::builder`].
pub struct RedisStoreBuilder {
    url: String,
    prefix: String,
    lease: Duration,
    timeout: Duration,
    seal: Option<SealKey>,
}

impl RedisStore {
    /// Starts configuring a store on the Redis at `url`: `redis://[user][:password@]host[:port][/db]`,
    /// `rediss://…` for TLS (rustls, the system's root certificates), or
    /// `redis+unix:///path/to/socket[?db=N&pass=…]`.
    pub fn builder(url: &str) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.to_owned(),
            prefix: DEFAULT_PREFIX.to_owned(),
            lease: DEFAULT_LEASE,
            timeout: DEFAULT_TIMEOUT,
            seal: None,
        }
    }

    /// Deletes the stored session (a logout: every host sharing it logs in again on its next
    /// exchange). A lease held elsewhere is left to its holder, whose next write is then
    /// refused (the version it expects is gone).
    pub fn clear(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner.run("clear the session", |c| redis::cmd("DEL").arg(&inner.keys.session).query::<i64>(c)).map(drop)
    }

    /// The key of the lease (`{prefix}:{namespace}:lock`).
    pub fn lock_key(&self) -> &str {
        &self.inner.keys.lock
    }

    /// The key of the session (`{prefix}:{namespace}:session`).
    pub fn session_key(&self) -> &str {
        &self.inner.keys.session
    }
}

impl RedisStoreBuilder {
    /// The prefix of the store's keys (default [`DEFAULT_PREFIX`]): stores with different
    /// prefixes never share anything.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The lease time (default [`DEFAULT_LEASE`], at least 3 ms): renewed every third of it
    /// while held, so it only runs out for a host paused or cut off that long; a host that
    /// dies holding the lock blocks the others that long. Keep it well above the bound on a
    /// Redis call ([`timeout`](Self::timeout)).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(3));
        self
    }

    /// The bound on connecting to Redis and on each read and write (default
    /// [`DEFAULT_TIMEOUT`], at least 1 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Seals stored values with `key` (every host sharing the session needs the same key).
    pub fn seal_key(mut self, key: SealKey) -> Self {
        self.seal = Some(key);
        self
    }

    /// The store for `config`'s session. Checks the URL only: it connects on first use (and
    /// again after a failure), so Redis need not be up yet. A URL the `redis` crate cannot use
    /// is a [`StoreError::Io`] (kind `InvalidInput`) that names it without its password.
    pub fn build(self, config: &Config) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(self.url.as_str()).map_err(|error| {
            let reason = redact::describe(&error, self.timeout, &redact::secrets_of(&self.url, None));
            StoreError::Io {
                operation: "use the Redis URL",
                path: redact::redact_url(&self.url).into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{reason}; the URL must be redis://[user][:password@]host[:port][/db], rediss://… (TLS) or redis+unix:///path"),
                ),
            }
        })?;
        let keys = Keys::for_config(&self.prefix, config);
        let inner = Inner::new(client, &self.url, self.prefix, keys, self.lease, self.timeout, self.seal);
        Ok(RedisStore { inner: Arc::new(inner) })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("url", &redact::redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("sealed", &self.seal.is_some())
            .finish()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("RedisStore")
            .field("url", &inner.name)
            .field("prefix", &inner.prefix)
            .field("namespace", &inner.keys.namespace)
            .field("lease", &inner.lease)
            .field("timeout", &inner.timeout)
            .field("sealed", &inner.is_sealed())
            .finish()
    }
}

impl SessionStore for RedisStore {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        let inner = &self.inner;
        let (version, value): (Option<u64>, Option<Vec<u8>>) = inner.run("load the session", |c| {
            redis::cmd("HMGET").arg(&inner.keys.session).arg("version").arg("value").query(c)
        })?;
        let decoded = value.as_deref().map(|value| inner.decode(value));
        // The first load under a lease sets the version its writes expect; a load by a client
        // that holds no lease (at build time) leaves it alone.
        if let Some(held) = locked(&inner.held).as_mut().filter(|held| held.expected == Expected::NotLoaded) {
            held.expected = match decoded {
                Some(Err(_)) => Expected::Unreadable,
                _ => Expected::Version(version.unwrap_or(0)),
            };
        }
        match decoded {
            None => Ok(None),
            Some(Ok(snapshot)) => snapshot.map(Some),
            Some(Err(unsealed)) => Err(inner.unreadable(unsealed)),
        }
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let inner = &self.inner;
        let (id, token, expected) = match locked(&inner.held).as_ref() {
            Some(held) => (held.id, held.token.clone(), held.expected),
            None => return Err(fenced(inner, "no lease held")),
        };
        let expected = match expected {
            Expected::Version(version) => version,
            Expected::NotLoaded => return Err(fenced(inner, "nothing loaded under this lease")),
            Expected::Unreadable => return Err(fenced(inner, "the stored session is unreadable with this seal key")),
        };
        let value = inner.encode(snapshot)?;
        let expire_at = expiry::expire_at_ms(snapshot, OffsetDateTime::now_utc());
        let written: i64 = inner.run("save the session", |c| {
            SAVE.key(&inner.keys.session)
                .key(&inner.keys.lock)
                .arg(&token)
                .arg(expected)
                .arg(value.as_slice())
                .arg(expire_at)
                .invoke(c)
        })?;
        let Ok(version) = u64::try_from(written) else {
            let why = if written == REFUSED_LOCK { "the lock is another host's" } else { "another host wrote since" };
            return Err(fenced(inner, why));
        };
        if let Some(held) = locked(&inner.held).as_mut().filter(|held| held.id == id) {
            held.expected = Expected::Version(version);
        }
        Ok(())
    }

    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
        lease::lock(&self.inner, wait)
    }
}

/// A refused write, said as a `warn` event.
fn fenced(inner: &Inner, why: &'static str) -> StoreError {
    tracing::warn!(store = %inner.name, why, "session store write fenced: this host's lease ran out or was overtaken");
    inner.fenced()
}
