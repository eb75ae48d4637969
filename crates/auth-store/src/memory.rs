//! The in-memory store: the file store's semantics without a file.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use auth_core::Snapshot;

use crate::{SessionStore, StoreError, StoreGuard};

/// Keeps the snapshot in memory. Clones share one store, so several clients in one process
/// (or a test standing for two processes) see each other's tokens and serialize their
/// refreshes on its lock.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    snapshot: Mutex<Option<Snapshot>>,
    locked: Mutex<bool>,
    released: Condvar,
}

/// Releases the memory store's lock on drop.
struct Permit(Arc<Inner>);

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.locked.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.0.released.notify_one();
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.inner.snapshot.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        *self.inner.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = Some(snapshot.clone());
        Ok(())
    }

    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
        // No deadline when `wait` does not fit after now: wait for as long as it takes.
        let deadline = Instant::now().checked_add(wait);
        let mut locked = self.inner.locked.lock().unwrap_or_else(PoisonError::into_inner);
        while *locked {
            locked = match deadline {
                None => self.inner.released.wait(locked).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(StoreError::Busy { path: PathBuf::new(), waited: wait });
                    }
                    // A wake-up (or a timeout) is followed by a fresh look at `locked`, so a
                    // release that coincides with the deadline is still taken.
                    self.inner.released.wait_timeout(locked, remaining).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
        *locked = true;
        Ok(StoreGuard::new(Permit(Arc::clone(&self.inner))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A snapshot with the given generation and token text.
    pub(crate) fn snapshot(generation: u64, token: &str) -> Snapshot {
        let json = format!(
            r#"{{"version":2,"origin":"https://api.teletracker.net:443","scheme":"bearer","username":"alice",
                "pinned_account_id":null,"token":"{token}","generation":{generation},
                "obtained_at":"2026-11-27T10:00:00Z","lifetime_ms":3600000,
                "refresh_token":"refresh-{token}","account_id":null}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn clones_share_the_snapshot() {
        let a = MemoryStore::new();
        let b = a.clone();
        assert!(b.load().unwrap().is_none());
        a.save(&snapshot(3, "x")).unwrap();
        assert_eq!(b.load().unwrap(), Some(snapshot(3, "x")));
    }

    const FOREVER: Duration = Duration::MAX;

    #[test]
    fn the_lock_excludes_a_second_holder_until_dropped() {
        let store = MemoryStore::new();
        let guard = store.lock(FOREVER).unwrap();
        let entered = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (store, entered) = (store.clone(), Arc::clone(&entered));
            std::thread::spawn(move || {
                let _guard = store.lock(FOREVER).unwrap();
                entered.store(true, Ordering::SeqCst);
            })
        };
        // The waiter cannot have entered while we hold the guard; it must after we drop it.
        assert!(!entered.load(Ordering::SeqCst));
        drop(guard);
        waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
    }

    #[test]
    fn a_lock_held_longer_than_the_wait_is_a_busy_error() {
        let store = MemoryStore::new();
        let _held = store.lock(FOREVER).unwrap();
        let err = store.clone().lock(Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, StoreError::Busy { ref path, .. } if path.as_os_str().is_empty()), "{err:?}");
        assert!(err.to_string().contains("session store busy"), "{err}");
        assert!(err.to_string().contains("the in-memory store"), "{err}");
    }

    #[test]
    fn a_released_lock_is_taken_after_a_busy_error() {
        let store = MemoryStore::new();
        let held = store.lock(FOREVER).unwrap();
        assert!(store.lock(Duration::ZERO).is_err());
        drop(held);
        assert!(store.lock(Duration::ZERO).is_ok());
    }

    #[test]
    fn a_waiter_within_its_bound_gets_the_lock_when_the_holder_releases_it() {
        let store = MemoryStore::new();
        let held = store.lock(FOREVER).unwrap();
        let (busy, seen_busy) = std::sync::mpsc::channel();
        let waiter = {
            let store = store.clone();
            std::thread::spawn(move || {
                // The waiter finds the lock held, says so, then waits for it (no sleep anywhere).
                busy.send(store.lock(Duration::ZERO).is_err()).unwrap();
                store.lock(Duration::from_secs(60)).map(drop)
            })
        };
        assert!(seen_busy.recv().unwrap(), "the waiter found the lock held");
        drop(held);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn an_unbounded_wait_takes_a_free_lock_without_overflowing() {
        let store = MemoryStore::new();
        drop(store.lock(FOREVER).unwrap());
        assert!(store.lock(FOREVER).is_ok());
    }
}
