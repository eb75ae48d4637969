//! Persistence: restarts, two "processes" on one file, failing stores.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auth_emulator::Endpoint;
use auth_reqwest::Error;
use auth_store::{FileStore, MemoryStore, SessionStore, Snapshot, StoreError, StoreGuard};
use http::StatusCode;

use crate::support::{Harness, PAST_EXPIRY, store_path};

#[tokio::test]
async fn a_client_restarted_from_the_file_store_continues_without_a_login() {
    let h = Harness::new();
    let path = store_path("restart");
    {
        let first = h.client_with_store(h.alice(), Arc::new(FileStore::new(&path))).await;
        assert_eq!(h.report(&first).await.0, StatusCode::OK);
        assert!(first.session().last_store_error().is_none());
    }
    // A new process: a new client, a new store handle on the same file.
    let second = h.client_with_store(h.alice(), Arc::new(FileStore::new(&path))).await;
    assert!(second.session().snapshot().is_some(), "restored at build time");
    assert_eq!(h.report(&second).await.0, StatusCode::OK);
    assert_eq!(h.emu.logins_served(), 1);
    assert_eq!(h.api_generations(), vec![Some(1), Some(1)]);

    // It keeps going across an expiry with the stored refresh token.
    h.advance(PAST_EXPIRY);
    assert_eq!(h.report(&second).await.0, StatusCode::OK);
    assert_eq!(h.emu.logins_served(), 1);
    assert_eq!(h.emu.refreshes_served(), 1);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn two_clients_on_one_file_never_reuse_a_refresh_token_and_adopt_each_others_tokens() {
    let h = Harness::new();
    let path = store_path("two");
    let a = h.client_with_store(h.alice(), Arc::new(FileStore::new(&path))).await;
    assert_eq!(h.report(&a).await.0, StatusCode::OK);
    let b = h.client_with_store(h.alice(), Arc::new(FileStore::new(&path))).await;

    // A refreshes; B, whose copy of the refresh token A has just spent, adopts A's new pair.
    h.advance(PAST_EXPIRY);
    assert_eq!(h.report(&a).await.0, StatusCode::OK);
    assert_eq!(h.report(&b).await.0, StatusCode::OK);
    assert_eq!(h.emu.refreshes_served(), 1, "B adopted instead of refreshing");
    assert_eq!(h.api_generations(), vec![Some(1), Some(2), Some(2)]);

    // Both at once across the next expiry: the file lock lets one refresh, the other adopts.
    h.advance(PAST_EXPIRY);
    let (ra, rb) = tokio::join!(h.report(&a), h.report(&b));
    assert_eq!((ra.0, rb.0), (StatusCode::OK, StatusCode::OK));
    assert_eq!(h.emu.refreshes_served(), 2);
    assert_eq!(h.emu.count(Endpoint::Refresh), 2);
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(h.emu.max_concurrent_auth(), 1);
    assert_eq!(h.emu.logins_served(), 1);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// A store whose saves always fail.
#[derive(Debug, Default)]
struct FailingSave {
    inner: MemoryStore,
    saves: AtomicUsize,
}

impl SessionStore for FailingSave {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load()
    }
    fn save(&self, _snapshot: &Snapshot) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::Io {
            operation: "write",
            path: "/nowhere/session.json".into(),
            source: std::io::Error::other("disk full"),
        })
    }
    fn lock(&self, wait: std::time::Duration) -> Result<StoreGuard, StoreError> {
        self.inner.lock(wait)
    }
}

#[tokio::test]
async fn a_failed_save_keeps_the_rotated_token_in_memory() {
    let h = Harness::new();
    let store = Arc::new(FailingSave::default());
    let client = h.client_with_store(h.alice(), store.clone()).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    let error = client.session().last_store_error().expect("the failed save is reported");
    assert!(matches!(*error, StoreError::Io { operation: "write", .. }), "typed: {error:?}");
    assert!(error.to_string().contains("disk full"), "{error}");

    h.advance(PAST_EXPIRY);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.emu.refreshes_served(), 1);
    assert_eq!(h.emu.logins_served(), 1, "the rotated pair was kept");
    assert_eq!(h.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(h.api_generations(), vec![Some(1), Some(2), Some(2)]);
    assert!(store.saves.load(Ordering::SeqCst) >= 3, "login, spent, refreshed");
    assert!(client.session().last_store_error().is_some());
}

/// A store whose lock cannot be taken.
#[derive(Debug, Default)]
struct FailingLock;

impl SessionStore for FailingLock {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }
    fn save(&self, _snapshot: &Snapshot) -> Result<(), StoreError> {
        Ok(())
    }
    fn lock(&self, _: std::time::Duration) -> Result<StoreGuard, StoreError> {
        Err(StoreError::Io {
            operation: "lock",
            path: "/nowhere/session.json.lock".into(),
            source: std::io::Error::other("permission denied"),
        })
    }
}

#[tokio::test]
async fn a_store_lock_failure_is_an_error_and_nothing_is_sent() {
    let h = Harness::new();
    let client = h.client_with_store(h.alice(), Arc::new(FailingLock)).await;
    let request = http::Request::get(h.url("/reports/call-data")).body("").unwrap();
    let error = client.send(request).await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
    let kept = client.session().last_store_error();
    assert!(matches!(kept.as_deref(), Some(StoreError::Io { operation: "lock", .. })), "{kept:?}");
    assert!(h.emu.journal().is_empty());
}

#[tokio::test]
async fn a_corrupt_store_fails_the_build_and_is_not_overwritten() {
    let h = Harness::new();
    let path = store_path("corrupt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    crate::support::write_private(&path, "{ not a snapshot");
    let error = h.builder(h.alice()).store(Arc::new(FileStore::new(&path))).build().await.unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not a snapshot");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test]
async fn another_users_session_is_refused_at_build() {
    let h = Harness::new();
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let alice = h.client_with_store(h.alice(), store.clone()).await;
    assert_eq!(h.report(&alice).await.0, StatusCode::OK);
    let error = h.builder(h.bob()).store(store).build().await.unwrap_err();
    assert!(matches!(error, Error::Restore(_)), "{error:?}");
}

/// SPEC §3a: another process holding the store's lock never blocks this one beyond the auth
/// timeout: a clear "store busy" error when the token has expired, and nothing sent.
#[tokio::test]
async fn a_store_lock_held_by_a_hung_process_ends_in_a_busy_error() {
    let h = Harness::new();
    let path = store_path("busy");
    let policy = auth_core::RefreshPolicy { auth_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    let client = h.client_with_store(h.alice().refresh_policy(policy), Arc::new(FileStore::new(&path))).await;
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    let hung = FileStore::new(&path).lock(std::time::Duration::from_secs(1)).unwrap();

    h.advance(PAST_EXPIRY);
    let request = http::Request::get(h.url("/reports/call-data")).body(Vec::new()).unwrap();
    let error = client.send(request).await.unwrap_err();
    assert!(matches!(error, Error::Store(StoreError::Busy { .. })), "{error:?}");
    assert_eq!(h.emu.refreshes_served() + h.emu.logins_served(), 1, "nothing sent without the lock");

    drop(hung);
    assert_eq!(h.report(&client).await.0, StatusCode::OK);
    assert_eq!(h.emu.refreshes_served(), 1);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
