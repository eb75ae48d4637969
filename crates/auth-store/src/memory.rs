//! The in-memory store: the file store's semantics without a file.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

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

    fn lock(&self) -> Result<StoreGuard, StoreError> {
        let mut locked = self.inner.locked.lock().unwrap_or_else(PoisonError::into_inner);
        while *locked {
            locked = self.inner.released.wait(locked).unwrap_or_else(PoisonError::into_inner);
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

    #[test]
    fn the_lock_excludes_a_second_holder_until_dropped() {
        let store = MemoryStore::new();
        let guard = store.lock().unwrap();
        let entered = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (store, entered) = (store.clone(), Arc::clone(&entered));
            std::thread::spawn(move || {
                let _guard = store.lock().unwrap();
                entered.store(true, Ordering::SeqCst);
            })
        };
        // The waiter cannot have entered while we hold the guard; it must after we drop it.
        assert!(!entered.load(Ordering::SeqCst));
        drop(guard);
        waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
    }
}
