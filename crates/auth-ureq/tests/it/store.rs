//! Persistence: restarts, two clients (standing for two processes) on one file, failing stores.

use std::sync::{Arc, Barrier};

use auth_core::{AuthError, RestoreError};
use auth_driver::Clock;
use auth_emulator::Endpoint;
use auth_store::{FileStore, SessionStore, Snapshot, StoreError, StoreGuard};
use auth_ureq::Error;
use http::StatusCode;

use crate::support::*;

fn file_store(path: &std::path::Path) -> Arc<dyn SessionStore> {
    Arc::new(FileStore::new(path))
}

#[test]
fn a_restarted_client_continues_from_the_file_without_logging_in() {
    let s = Scenario::new();
    let path = temp_dir("restart").join("session.json");
    let client = s.client_with_store(s.alice(), file_store(&path));
    client.send(s.get(CALL_DATA)).unwrap();
    let before = client.session().snapshot().unwrap();
    drop(client);

    let restarted = s.client_with_store(s.alice(), file_store(&path));
    assert_eq!(restarted.session().snapshot().unwrap().generation(), before.generation());
    assert_eq!(restarted.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.logins_served(), 1);

    // It refreshes with the stored refresh token, and saves the new pair.
    s.advance(TO_EXPIRED);
    assert_eq!(restarted.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);
    let stored = FileStore::new(&path).load().unwrap().unwrap();
    assert_eq!(stored.generation().as_u64(), 2);
    assert!(stored.has_refresh_token());
}

#[test]
fn a_second_client_on_the_same_file_adopts_the_first_ones_login() {
    let s = Scenario::new();
    let path = temp_dir("adopt-login").join("session.json");
    let a = s.client_with_store(s.alice(), file_store(&path));
    let b = s.client_with_store(s.alice(), file_store(&path));
    a.send(s.get(CALL_DATA)).unwrap();
    b.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(a.session().snapshot(), b.session().snapshot());
}

#[test]
fn two_clients_on_one_file_across_an_expiry_refresh_once_and_never_reuse_a_refresh_token() {
    let s = Scenario::new();
    let path = temp_dir("two-clients").join("session.json");
    let a = s.client_with_store(s.alice(), file_store(&path));
    a.send(s.get(CALL_DATA)).unwrap();
    let b = s.client_with_store(s.alice(), file_store(&path));
    assert_eq!(s.count(Endpoint::Login), 1, "b continued a's session");

    for round in 1..=3 {
        s.advance(TO_EXPIRED);
        let barrier = Barrier::new(2);
        std::thread::scope(|scope| {
            let handles: Vec<_> = [&a, &b]
                .map(|client| {
                    let (s, barrier) = (&s, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        client.send(s.get(CALL_DATA)).map(|r| r.status())
                    })
                })
                .into_iter()
                .collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap().unwrap(), StatusCode::OK);
            }
        });
        assert_eq!(s.count(Endpoint::Refresh), round, "one refresh per expiry, not one per client");
        assert_eq!(a.session().snapshot().unwrap().generation(), b.session().snapshot().unwrap().generation());
    }
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
}

#[test]
fn a_client_holding_a_superseded_token_adopts_the_stored_one_on_rejection() {
    let s = Scenario::new();
    let path = temp_dir("superseded").join("session.json");
    let a = s.client_with_store(s.alice(), file_store(&path));
    a.send(s.get(CALL_DATA)).unwrap();
    let b = s.client_with_store(s.alice(), file_store(&path));
    // `a` refreshes early (its token is stale); b's copy of the token is superseded.
    s.advance(TO_STALE);
    a.bearer_token().unwrap();
    assert_eq!(s.count(Endpoint::Refresh), 1);

    let response = b.send(s.get(CALL_DATA)).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1, "b adopted a's token instead of refreshing");
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(b.session().snapshot().unwrap().generation().as_u64(), 2);
}

/// A store whose saves always fail (a full disk, a read-only directory).
#[derive(Debug)]
struct FailingSaves;

impl SessionStore for FailingSaves {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Snapshot) -> Result<(), StoreError> {
        Err(StoreError::Io {
            operation: "write",
            path: "/full/disk/session.json".into(),
            source: std::io::Error::other("no space left on device"),
        })
    }
    fn lock(&self, _: std::time::Duration) -> Result<StoreGuard, StoreError> {
        Ok(StoreGuard::new(()))
    }
}

#[test]
fn a_failed_save_keeps_the_rotated_token_in_memory_and_is_reported() {
    let s = Scenario::new();
    let client = s.client_with_store(s.alice(), Arc::new(FailingSaves));
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    let error = client.session().last_store_error().expect("the failed save is reported");
    assert!(matches!(*error, StoreError::Io { operation: "write", .. }), "typed: {error:?}");
    assert!(error.to_string().contains("no space left"), "{error}");

    s.advance(TO_EXPIRED);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(client.session().snapshot().unwrap().generation().as_u64(), 2, "the rotated token is kept");
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.count(Endpoint::Login), 1);
    assert!(client.session().last_store_error().is_some());
}

/// A store whose lock cannot be taken.
#[derive(Debug)]
struct Unlockable;

impl SessionStore for Unlockable {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(None)
    }
    fn save(&self, _: &Snapshot) -> Result<(), StoreError> {
        Ok(())
    }
    fn lock(&self, _: std::time::Duration) -> Result<StoreGuard, StoreError> {
        Err(StoreError::Io {
            operation: "lock",
            path: "/locked/session.json.lock".into(),
            source: std::io::Error::other("permission denied"),
        })
    }
}

#[test]
fn a_store_lock_failure_is_an_error_and_nothing_is_sent() {
    let s = Scenario::new();
    let client = s.client_with_store(s.alice(), Arc::new(Unlockable));
    let error = client.send(s.get(CALL_DATA)).unwrap_err();
    assert!(matches!(error, Error::Store(_)), "{error:?}");
    assert!(s.emu.journal().is_empty());
    let kept = client.session().last_store_error();
    assert!(matches!(kept.as_deref(), Some(StoreError::Io { operation: "lock", .. })), "{kept:?}");
}

#[test]
fn a_corrupt_file_or_another_users_session_fails_the_build() {
    let s = Scenario::new();
    let dir = temp_dir("bad-files");
    let corrupt = dir.join("corrupt.json");
    write_private(&corrupt, "{ not json");
    let error = s.builder(s.alice()).store(file_store(&corrupt)).build().unwrap_err();
    assert!(matches!(error, Error::Store(StoreError::Corrupt { .. })), "{error:?}");

    let bobs = dir.join("bob.json");
    let bob = s.client_with_store(s.bearer(BOB, BOB_PASSWORD), file_store(&bobs));
    bob.send(s.get(CALL_DATA)).unwrap();
    let error = s.builder(s.alice()).store(file_store(&bobs)).build().unwrap_err();
    assert!(matches!(error, Error::Restore(RestoreError::OtherUser)), "{error:?}");
}

#[test]
fn a_session_without_password_continues_from_the_store_and_expires_cleanly() {
    let s = Scenario::new();
    let path = temp_dir("no-password").join("session.json");
    let client = s.client_with_store(s.alice(), file_store(&path));
    client.send(s.get(CALL_DATA)).unwrap();
    drop(client);

    let tokens_only = auth_core::Config::bearer_without_password(&s.emu.url(), ALICE).build().unwrap();
    let client = s.client_with_store(tokens_only.clone(), file_store(&path));
    s.advance(TO_EXPIRED);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);

    // Without a stored session there is nothing to continue from.
    let empty = temp_dir("no-password-empty").join("session.json");
    let error = s.builder(tokens_only).store(file_store(&empty)).build().unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");

    // The refresh token dies on the server: without a password the session is over.
    s.emu.revoke_session_of(ALICE);
    let response = client.send(s.get(CALL_DATA)).unwrap_err();
    assert!(matches!(response, Error::Auth(AuthError::SessionExpired)), "{response:?}");
}

/// A client for a child process of this test binary, from what the parent put in its
/// environment under `prefix` (`_URL`, `_STORE`, `_NOW`); `None` when run as an ordinary test.
fn child_client(prefix: &str) -> Option<(auth_ureq::Client, String)> {
    let var = |name: &str| std::env::var(format!("{prefix}_{name}")).ok();
    let (url, path, at) = (var("URL")?, var("STORE")?, var("NOW")?);
    let now = time::OffsetDateTime::from_unix_timestamp_nanos(at.parse().unwrap()).unwrap();
    let config = auth_core::Config::bearer(&url, ALICE, auth_core::Password::new(ALICE_PASSWORD)).build().unwrap();
    let client = auth_ureq::Client::builder(config)
        .clock(Arc::new(auth_driver::ManualClock::new(now)))
        .store(file_store(std::path::Path::new(&path)))
        .build()
        .unwrap();
    Some((client, url))
}

/// The child half of `two_processes_on_one_file_refresh_once`: runs only when the parent sets
/// the environment, as a separate process of this test binary.
#[test]
fn child_process_entry() {
    let Some((client, url)) = child_client("AUTH_UREQ_CHILD") else {
        return;
    };
    let request = http::Request::get(format!("{url}{CALL_DATA}")).body(()).unwrap();
    assert_eq!(client.send(request).unwrap().status(), StatusCode::OK);
}

#[test]
fn two_processes_on_one_file_refresh_once() {
    let s = Scenario::new();
    let path = temp_dir("two-processes").join("session.json");
    let parent = s.client_with_store(s.alice(), file_store(&path));
    parent.send(s.get(CALL_DATA)).unwrap();
    s.advance(TO_EXPIRED);

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store::child_process_entry", "--quiet", "--test-threads=1"])
        .env("AUTH_UREQ_CHILD_URL", s.emu.url())
        .env("AUTH_UREQ_CHILD_STORE", &path)
        .env("AUTH_UREQ_CHILD_NOW", s.clock.now().wall().unix_timestamp_nanos().to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(parent.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert!(child.wait().unwrap().success(), "the child process failed");

    assert_eq!(s.count(Endpoint::Refresh), 1, "one refresh for both processes");
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
    let api = s.api_entries();
    assert_eq!(api.len(), 3);
    assert!(api.iter().all(|e| e.status == Some(200)));
}

/// The child half of `a_process_never_presents_a_refresh_token_another_process_spent`: loads
/// the stored session, says `child-ready` on stdout, waits for a line on stdin, then sends one
/// request. Runs only when the parent sets the environment.
#[test]
fn child_process_that_waits_entry() {
    let Some((client, url)) = child_client("AUTH_UREQ_WAITING_CHILD") else {
        return;
    };
    assert!(client.session().snapshot().unwrap().has_refresh_token(), "the child holds the refresh token in memory");
    // Straight to the pipe: the test harness's output capture would hold a `println!` back.
    let mut stdout = std::io::stdout().lock();
    std::io::Write::write_all(&mut stdout, b"child-ready\n").unwrap();
    std::io::Write::flush(&mut stdout).unwrap();
    drop(stdout);
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let request = http::Request::get(format!("{url}{CALL_DATA}")).body(()).unwrap();
    assert_eq!(client.send(request).unwrap().status(), StatusCode::OK);
}

/// SPEC §3: the spend of a refresh token is seen by every sharer. Another process loaded the
/// session (refresh token included) before this one spent it and lost the answer; it must then
/// log in rather than present the spent token.
#[test]
fn a_process_never_presents_a_refresh_token_another_process_spent() {
    use std::io::{BufRead, BufReader, Write};

    let s = Scenario::new();
    let path = temp_dir("spent-across-processes").join("session.json");
    let parent = s.client_with_store(s.alice(), file_store(&path));
    parent.send(s.get(CALL_DATA)).unwrap();
    s.advance(TO_STALE);

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store::child_process_that_waits_entry", "--nocapture", "--test-threads=1"])
        .env("AUTH_UREQ_WAITING_CHILD_URL", s.emu.url())
        .env("AUTH_UREQ_WAITING_CHILD_STORE", &path)
        .env("AUTH_UREQ_WAITING_CHILD_NOW", s.clock.now().wall().unix_timestamp_nanos().to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness may have started the line with the test's name.
    assert!(lines.any(|line| line.unwrap().ends_with("child-ready")), "the child never got ready");

    // The parent spends the refresh token; the server rotates, the answer is lost.
    s.emu.inject(Endpoint::Refresh, auth_emulator::Fault::DropConnection);
    assert_eq!(parent.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);

    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    assert!(child.wait().unwrap().success(), "the child process failed");
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0, "the child presented the spent refresh token");
    assert_eq!(s.count(Endpoint::Refresh), 1);
    assert_eq!(s.count(Endpoint::Login), 2, "the child logged in instead");
}

/// SPEC §3a: another process holding the store's lock (stopped, or stuck in a slow login) never
/// blocks this one beyond the auth timeout. With an expired token the caller gets a clear
/// "store busy" error; with a token still valid it gets that token.
#[test]
fn a_store_lock_held_by_a_hung_process_ends_in_a_busy_error_or_the_valid_token() {
    let s = Scenario::new();
    let path = temp_dir("busy").join("session.json");
    let policy = auth_core::RefreshPolicy { auth_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    let config = auth_core::Config::bearer(&s.emu.url(), ALICE, auth_core::Password::new(ALICE_PASSWORD))
        .refresh_policy(policy)
        .build()
        .unwrap();
    let client = s.client_with_store(config, file_store(&path));
    client.send(s.get(CALL_DATA)).unwrap();
    // Another process takes the lock and hangs.
    let hung = FileStore::new(&path).lock(std::time::Duration::from_secs(1)).unwrap();

    // Stale but valid: requests are served, and the token handed out is the valid one.
    s.advance(TO_STALE);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    let token = client.bearer_token().unwrap();
    assert_eq!(token.expose_secret(), serde_json::to_value(client.session().snapshot().unwrap()).unwrap()["token"]);

    // Expired: nothing to serve with, and the refresh must wait for the lock: a busy error.
    s.advance(TO_EXPIRED);
    let error = client.send(s.get(CALL_DATA)).unwrap_err();
    assert!(matches!(error, Error::Store(StoreError::Busy { .. })), "{error:?}");
    assert!(error.to_string().contains("busy"), "{error}");
    assert_eq!(s.count(Endpoint::Refresh) + s.count(Endpoint::Login), 1, "nothing sent without the lock");

    // The other process lets go: the next request refreshes.
    drop(hung);
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    assert_eq!(s.count(Endpoint::Refresh), 1);
}
