//! # auth-store: where a TeleTracker auth session is kept
//!
//! A bearer session's refresh token is single use (SPEC.md §3): whoever loses the newest one
//! loses the session. This crate keeps it safe across restarts and between processes:
//!
//! - [`SessionStore`]: the interface the adapters drive — load, save, and an exclusive lock
//!   held around every login or refresh.
//! - [`FileStore`]: one JSON file, written atomically (temporary file, `fsync`, rename),
//!   readable by its owner only, with an OS file lock beside it, so that two processes sharing
//!   the file never refresh the same session twice: the one that waited re-reads the file and
//!   adopts the newer token ([`auth_core::Session::adopt`]). Like ssh, it refuses a file or
//!   directory another user could have put in place or could replace (SPEC.md §3a), and says
//!   what to fix.
//! - [`MemoryStore`]: the same semantics in memory, for tests and for several clients in one
//!   process.
//!
//! The protocol around every login or refresh is decided by the core: a driver of an
//! [`auth_core::Coordinator`] is told each step ([`auth_core::DriveStep`]) and carries it out
//! with the store:
//!
//! 1. `LockStore(wait)`: `let guard = store.lock(wait)?;` (waits while another holder
//!    refreshes, at most `wait`, then fails with [`StoreError::Busy`] — SPEC.md §3a),
//! 2. `LoadStore`: `store.load()`, reported back, so the session adopts a newer snapshot before
//!    it decides whether to send anything,
//! 3. `Save(snapshot)`: `store.save(&snapshot)` — the spent state before the refresh leaves,
//!    the new tokens after the answer,
//! 4. `UnlockStore`: drop the guard (after every save: the next holder reads ours).
//!
//! A failed `save` must never discard the token held in memory: report it and carry on.
//!
//! All calls may block on the disk; async callers run them on a blocking thread.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
mod file;
mod memory;

use std::fmt;
use std::time::Duration;

pub use auth_core::Snapshot;
pub use error::{Insecurity, StoreError};
pub use file::FileStore;
pub use memory::MemoryStore;

/// What is wrong with a stored snapshot that did not parse (`bytes`, which failed with
/// `error`), in fixed words and a position: never serde's message, which quotes what it found,
/// and in a session that is a token. For [`StoreError::Corrupt`]'s `reason`, in a store of
/// one's own.
pub fn describe_corrupt(bytes: &[u8], error: &serde_json::Error) -> String {
    file::corrupt::describe(bytes, error)
}

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
