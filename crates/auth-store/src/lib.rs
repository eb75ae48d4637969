//! # auth-store: what the TeleTracker auth adapters share — persistence, the clock, coordination
//!
//! A bearer session's refresh token is single use (SPEC.md §3): whoever loses the newest one
//! loses the session. This crate keeps it safe across restarts and between processes:
//!
//! - [`SessionStore`]: the interface the adapters drive — load, save, and an exclusive lock
//!   held around every login or refresh.
//! - [`FileStore`]: one JSON file, written atomically (temporary file, `fsync`, rename),
//!   readable by its owner only, with an OS file lock beside it, so that two processes sharing
//!   the file never refresh the same session twice: the one that waited re-reads the file and
//!   adopts the newer token ([`auth_core::Session::adopt`]).
//! - [`MemoryStore`]: the same semantics in memory, for tests and for several clients in one
//!   process.
//!
//! The protocol an adapter follows when [`auth_core::Session::wants_transmit`] says an auth
//! exchange is due:
//!
//! 1. `let _guard = store.lock(auth_timeout)?;` (waits while another holder refreshes, at most
//!    `auth_timeout`, then fails with [`StoreError::Busy`] — SPEC.md §3a),
//! 2. `if let Some(s) = store.load()? { session.adopt(s, now); }`,
//! 3. if the session still wants it, send `poll_transmit`'s request, feed the answer, and
//!    `store.save(&snapshot)` for each [`auth_core::Event::TokensUpdated`],
//! 4. drop the guard.
//!
//! A failed `save` must never discard the token held in memory: report it and carry on.
//!
//! All calls may block on the disk; async callers run them on a blocking thread.
//!
//! The crate also holds the [`Clock`] both adapters read ([`SystemClock`] in production,
//! [`ManualClock`] in tests), since `auth-core` itself never reads one, and what both adapters
//! share beyond I/O:
//!
//! - [`coordinator`]: how one session is shared among many callers — the lock, the one driver
//!   of an exchange and its steps (the store protocol above included), the decision each caller
//!   makes between using a token, driving an exchange and waiting, and the bookkeeping of
//!   credentials handed out. The adapters add only their I/O and their way of waiting (a
//!   `Condvar` for threads, a tokio `Notify` for tasks).
//! - [`AdapterError`]: the adapters' error type (`auth_ureq::Error`, `auth_reqwest::Error`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod adapter_error;
mod clock;
pub mod coordinator;
mod file;
mod memory;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use adapter_error::AdapterError;
pub use auth_core::Snapshot;
pub use clock::{Clock, ManualClock, SystemClock};
pub use file::FileStore;
pub use memory::MemoryStore;

/// Where a session's token state is kept between runs and shared between clients.
///
/// Implementations must be safe to call from many threads; calls may block.
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The stored snapshot, or `None` when nothing has been stored yet.
    fn load(&self) -> Result<Option<Snapshot>, StoreError>;

    /// Replaces the stored snapshot atomically: a reader sees the old one or the new one,
    /// never a mix, even if the process dies half-way.
    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Takes the store's exclusive lock, waiting at most `wait` for another holder (in this
    /// process or another) to release it; then fails with [`StoreError::Busy`]. Held around
    /// every login or refresh; released on drop.
    ///
    /// A `wait` too large to add to the current instant (e.g. [`Duration::MAX`]) waits for as
    /// long as it takes.
    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError>;
}

/// Proof of holding a store's lock; dropping it releases the lock.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct StoreGuard {
    _held: Box<dyn Send + Sync>,
}

impl StoreGuard {
    /// Wraps whatever keeps the lock held (a locked file, a permit, ...).
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        StoreGuard { _held: Box::new(held) }
    }
}

impl fmt::Debug for StoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreGuard")
    }
}

/// A store operation failed. The message names the file and the operation, never its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing, renaming or locking failed.
    #[error("session store: cannot {operation} {}: {source}", path.display())]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but does not hold a snapshot this version understands.
    #[error(
        "session store: {} does not hold a valid session snapshot: {reason}; delete the file and log in again",
        path.display()
    )]
    Corrupt {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong and where, in fixed words ("not JSON (line 3, column 5)", "missing
        /// field `token`"): never a value from the file, which may be a token.
        reason: String,
    },
    /// Another holder kept the store's lock for longer than the caller would wait (SPEC.md §3a):
    /// a login or refresh in progress elsewhere, or a process stopped while holding it.
    #[error(
        "session store busy: another client has held the lock on {} for more than {} (a login or \
         refresh in progress, or a stopped process); try again, or check for a stuck process",
        store_name(path),
        Seconds(*waited)
    )]
    Busy {
        /// The lock file; empty for a store without one ([`MemoryStore`]).
        path: PathBuf,
        /// How long the caller was willing to wait.
        waited: Duration,
    },
}

/// How a message names a store: its file, or what it is when it has none.
fn store_name(path: &Path) -> String {
    if path.as_os_str().is_empty() { "the in-memory store".to_owned() } else { path.display().to_string() }
}

/// A duration as people read it in a message: "2 s", "1.5 s", "200 ms".
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis < 1000 {
            write!(f, "{millis} ms")
        } else if millis.is_multiple_of(1000) {
            write!(f, "{} s", millis / 1000)
        } else {
            let fraction = format!("{:03}", millis % 1000);
            write!(f, "{}.{} s", millis / 1000, fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(path: &str, waited: Duration) -> String {
        StoreError::Busy { path: path.into(), waited }.to_string()
    }

    #[test]
    fn a_busy_error_says_what_holds_the_lock_for_how_long_and_what_to_do() {
        let message = busy("/home/u/.local/state/ttauth/s.json.lock", Duration::from_secs(2));
        assert!(message.starts_with("session store busy: "), "{message}");
        assert!(message.contains("the lock on /home/u/.local/state/ttauth/s.json.lock for more than 2 s"), "{message}");
        assert!(message.contains("try again"), "{message}");
    }

    #[test]
    fn a_busy_wait_is_written_in_the_unit_people_read() {
        assert!(busy("x", Duration::from_millis(200)).contains("more than 200 ms"));
        assert!(busy("x", Duration::from_millis(1500)).contains("more than 1.5 s"));
        assert!(busy("x", Duration::from_millis(2050)).contains("more than 2.05 s"));
    }
}
