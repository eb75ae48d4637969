//! [`Inner`]: what the clones of one [`RedisStore`](crate::RedisStore) share — the Redis
//! client and its idle connections, the key names, the seal key, and the lease held now.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use auth_core::Snapshot;
use auth_store::StoreError;
use redis::{Connection, RedisError, RedisResult};
use zeroize::Zeroizing;

use crate::keys::Keys;
use crate::redact;
use crate::seal::{self, SealKey, Unsealed};

/// The most idle connections kept (one per thread that talks to Redis at once is plenty: an
/// exchange and a renewer at a time, per process).
const MAX_IDLE: usize = 4;

/// Locks a mutex whose data stays consistent whatever panicked while it was held.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Inner {
    client: redis::Client,
    /// The URL without its password: how messages and `Debug` name the store.
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) keys: Keys,
    pub(crate) lease: Duration,
    pub(crate) timeout: Duration,
    seal: Option<SealKey>,
    /// The password as it may appear in a message, to scrub.
    secrets: Zeroizing<Vec<String>>,
    idle: Mutex<Vec<Connection>>,
    /// The lease this store object holds now, if any (one at a time: see `local`).
    pub(crate) held: Mutex<Option<HeldLease>>,
    /// Whether a lease of this store object (these clones) is held or being released: clients
    /// in one process that share the store take turns here before they go to Redis, so that
    /// the lease being saved under is always the caller's own.
    local: Mutex<bool>,
    released: Condvar,
}

/// The lease held now: its token and the version the fenced write expects.
#[derive(Debug)]
pub(crate) struct HeldLease {
    pub(crate) id: u64,
    pub(crate) token: String,
    pub(crate) expected: Expected,
}

/// The version a write under the held lease expects to replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    /// Nothing loaded under this lease yet: a write is refused (the core always loads first).
    NotLoaded,
    /// The version loaded, or last written, under this lease.
    Version(u64),
    /// The stored session is sealed with another key (or not sealed while this store seals):
    /// this host cannot read it, so it must not replace it for the fleet either.
    Unreadable,
}

impl Inner {
    pub(crate) fn new(
        client: redis::Client,
        url: &str,
        prefix: String,
        keys: Keys,
        lease: Duration,
        timeout: Duration,
        seal: Option<SealKey>,
    ) -> Inner {
        let secrets = redact::secrets_of(url, client.get_connection_info().redis_settings().password());
        Inner {
            client,
            name: redact::redact_url(url),
            prefix,
            keys,
            lease,
            timeout,
            seal,
            secrets: Zeroizing::new(secrets),
            idle: Mutex::new(Vec::new()),
            held: Mutex::new(None),
            local: Mutex::new(false),
            released: Condvar::new(),
        }
    }

    pub(crate) fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// Runs `command` on an idle connection (or a new one). A connection that failed is dropped
    /// (a reply may still be on its way); one taken from the idle list that failed for another
    /// reason than a timeout (Redis restarted since: a reset, a broken pipe) is replaced by a
    /// new one and the command tried once more — every command this store sends may run twice
    /// with the same effect. A timeout is not retried: the bound is the bound.
    pub(crate) fn run<T>(
        &self,
        operation: &'static str,
        command: impl Fn(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        let idle = locked(&self.idle).pop();
        let reused = idle.is_some();
        let mut connection = match idle {
            Some(connection) => connection,
            None => self.connect().map_err(|error| self.unavailable(operation, &error))?,
        };
        let outcome = match command(&mut connection) {
            Err(error) if reused && error.is_connection_dropped() && !error.is_timeout() => {
                connection = self.connect().map_err(|error| self.unavailable(operation, &error))?;
                command(&mut connection)
            }
            outcome => outcome,
        };
        match outcome {
            Ok(value) => {
                let mut idle = locked(&self.idle);
                if idle.len() < MAX_IDLE {
                    idle.push(connection);
                }
                Ok(value)
            }
            Err(error) => Err(self.unavailable(operation, &error)),
        }
    }

    /// A new connection, with the store's bound on connecting, reading and writing.
    fn connect(&self) -> RedisResult<Connection> {
        let connection = self.client.get_connection_with_timeout(self.timeout)?;
        connection.set_read_timeout(Some(self.timeout))?;
        connection.set_write_timeout(Some(self.timeout))?;
        Ok(connection)
    }

    pub(crate) fn unavailable(&self, operation: &'static str, error: &RedisError) -> StoreError {
        StoreError::Unavailable {
            store: self.name.clone(),
            operation,
            reason: redact::describe(error, self.timeout, &self.secrets),
        }
    }

    pub(crate) fn fenced(&self) -> StoreError {
        StoreError::Fenced { store: self.name.clone() }
    }

    pub(crate) fn busy(&self, waited: Duration) -> StoreError {
        StoreError::Busy { path: PathBuf::from(format!("{} key {}", self.name, self.keys.lock)), waited }
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt { path: PathBuf::from(format!("{} key {}", self.name, self.keys.session)), reason }
    }

    /// The stored form of `snapshot`: its JSON, sealed when the store has a key.
    pub(crate) fn encode(&self, snapshot: &Snapshot) -> Result<Vec<u8>, StoreError> {
        // Cannot fail for a snapshot; if it ever did, serde's message could quote a token.
        let json = Zeroizing::new(
            serde_json::to_vec(snapshot).map_err(|_| self.corrupt("the snapshot cannot be serialized".to_owned()))?,
        );
        match &self.seal {
            Some(key) => seal::seal(key, &self.keys.session, &json).map_err(|error| StoreError::Unavailable {
                store: self.name.clone(),
                operation: "seal the session",
                reason: format!("no random nonce from the operating system: {error}"),
            }),
            None => Ok(json.to_vec()),
        }
    }

    /// The snapshot in the stored `value`; `Err(Unsealed)` when this store cannot open it.
    pub(crate) fn decode(&self, value: &[u8]) -> Result<Result<Snapshot, StoreError>, Unsealed> {
        let plain = match &self.seal {
            Some(key) => seal::unseal(key, &self.keys.session, value)?,
            None if seal::is_sealed(value) => return Err(Unsealed::NeedsKey),
            None => Zeroizing::new(value.to_vec()),
        };
        Ok(serde_json::from_slice(&plain).map_err(|error| self.corrupt(auth_store::describe_corrupt(&plain, &error))))
    }

    pub(crate) fn unreadable(&self, why: Unsealed) -> StoreError {
        self.corrupt(why.reason().to_owned())
    }

    /// Waits (until `deadline`, or for ever when `None`) for this store object's turn.
    pub(crate) fn take_turn(&self, deadline: Option<Instant>) -> bool {
        let mut taken = locked(&self.local);
        while *taken {
            taken = match deadline {
                None => self.released.wait(taken).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return false;
                    }
                    self.released.wait_timeout(taken, remaining).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
        *taken = true;
        true
    }

    /// Ends this store object's turn: the next waiter in this process goes.
    pub(crate) fn end_turn(&self) {
        *locked(&self.local) = false;
        self.released.notify_one();
    }
}
