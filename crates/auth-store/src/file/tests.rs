//! The file store's behaviour, each test in a directory of its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use super::FileStore;
use crate::memory::tests::snapshot;
use crate::{SessionStore, StoreError};

const FOREVER: Duration = Duration::MAX;

/// A fresh directory for one test (owner-only, as a state directory is), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("auth-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

// --- Saving and loading --------------------------------------------------------------------

#[test]
fn load_of_a_missing_file_is_none() {
    let dir = TempDir::new("missing");
    assert!(FileStore::new(dir.join("session.json")).load().unwrap().is_none());
}

#[test]
fn load_in_a_missing_directory_is_none() {
    let dir = TempDir::new("missing-dir");
    assert!(FileStore::new(dir.join("not/yet/session.json")).load().unwrap().is_none());
}

#[test]
fn save_then_load_round_trips_and_replaces() {
    let dir = TempDir::new("roundtrip");
    let store = FileStore::new(dir.join("nested/session.json"));
    store.save(&snapshot(1, "first")).unwrap();
    store.save(&snapshot(2, "second")).unwrap();
    assert_eq!(store.load().unwrap().unwrap(), snapshot(2, "second"));
    assert_eq!(names_in(&dir.join("nested")), ["session.json"], "no temporary file is left behind");
}

#[cfg(unix)]
#[test]
fn files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perms");
    let store = FileStore::new(dir.join("session.json"));
    store.save(&snapshot(1, "t")).unwrap();
    drop(store.lock(FOREVER).unwrap());
    for file in ["session.json", "session.json.lock"] {
        let mode = fs::metadata(dir.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}

// --- The lock --------------------------------------------------------------------------------

#[test]
fn the_lock_is_exclusive_between_open_files() {
    // Two stores on one path stand for two processes: OS file locks conflict between
    // separately opened files even within one process.
    let dir = TempDir::new("lock");
    let a = FileStore::new(dir.join("session.json"));
    let b = FileStore::new(dir.join("session.json"));
    let guard = a.lock(FOREVER).unwrap();
    let probe = fs::OpenOptions::new().write(true).open(&b.lock_path).unwrap();
    assert!(probe.try_lock().is_err(), "a second holder must wait");
    drop(guard);
    assert!(probe.try_lock().is_ok(), "released on drop");
}

#[test]
fn a_lock_held_by_another_open_file_longer_than_the_wait_is_a_busy_error_naming_the_lock_file() {
    let dir = TempDir::new("busy");
    let holder = FileStore::new(dir.join("session.json"));
    let _held = holder.lock(FOREVER).unwrap();
    let err = FileStore::new(dir.join("session.json")).lock(Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, StoreError::Busy { ref path, .. } if *path == holder.lock_path), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("session store busy"), "{message}");
    assert!(message.contains(&holder.lock_path.display().to_string()), "{message}");
}

#[test]
fn a_released_file_lock_is_taken_after_a_busy_error() {
    let dir = TempDir::new("busy-then-free");
    let holder = FileStore::new(dir.join("session.json"));
    let waiter = FileStore::new(dir.join("session.json"));
    let held = holder.lock(FOREVER).unwrap();
    assert!(matches!(waiter.lock(Duration::ZERO), Err(StoreError::Busy { .. })));
    drop(held);
    assert!(waiter.lock(Duration::ZERO).is_ok());
}

#[test]
fn a_waiter_within_its_bound_gets_the_file_lock_when_the_holder_releases_it() {
    let dir = TempDir::new("wait-then-take");
    let held = FileStore::new(dir.join("session.json")).lock(FOREVER).unwrap();
    let waiter = {
        let store = FileStore::new(dir.join("session.json"));
        std::thread::spawn(move || store.lock(Duration::from_secs(60)).map(drop))
    };
    std::thread::sleep(Duration::from_millis(20)); // Let the waiter start polling.
    drop(held);
    waiter.join().unwrap().unwrap();
}

#[test]
fn an_unbounded_wait_takes_a_free_file_lock_without_overflowing() {
    let dir = TempDir::new("forever");
    assert!(FileStore::new(dir.join("session.json")).lock(FOREVER).is_ok());
}

// --- A corrupt file --------------------------------------------------------------------------

/// A valid stored snapshot whose tokens look like secrets, as JSON to spoil.
fn stored() -> serde_json::Map<String, Value> {
    match serde_json::to_value(snapshot(1, "tok-secret-bearer")).unwrap() {
        Value::Object(fields) => fields,
        other => panic!("a snapshot is stored as an object, not {other}"),
    }
}

/// Loads `content` from a session file; the error and both its renderings.
fn load_error(dir: &TempDir, content: &str) -> (StoreError, String) {
    let path = dir.join("session.json");
    fs::write(&path, content).unwrap();
    let err = FileStore::new(&path).load().unwrap_err();
    let shown = format!("{err} | {err:?}");
    (err, shown)
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut fields = stored();
    change(&mut fields);
    Value::Object(fields).to_string()
}

#[test]
fn no_corrupt_file_error_shows_a_value_from_the_file() {
    let dir = TempDir::new("corrupt-values");
    let cases = [
        // Cut short right after a token.
        r#"{"token": "tok-secret-cut""#.to_owned(),
        // Not JSON right after a token.
        r#"{"token": "tok-secret-syntax" oops}"#.to_owned(),
        // A bad escape inside a token.
        r#"{"token": "tok-secret-escape\q"}"#.to_owned(),
        // A field of the wrong type holding a secret.
        with(|f| drop(f.insert("lifetime_ms".into(), json!("tok-secret-wrong-type")))),
        with(|f| drop(f.insert("generation".into(), json!(["tok-secret-in-a-list"])))),
        with(|f| drop(f.insert("account_id".into(), json!("tok-secret-account")))),
        // A field with an invalid value holding a secret.
        with(|f| drop(f.insert("obtained_at".into(), json!("tok-secret-date")))),
        // An unknown field named like a secret.
        with(|f| drop(f.insert("tok-secret-field-name".into(), json!(1)))),
        // A token that cannot be sent.
        with(|f| drop(f.insert("token".into(), json!("tok-secret with a space")))),
        // Another version, holding secrets.
        with(|f| drop(f.insert("version".into(), json!(99)))),
        // A missing field next to secrets.
        with(|f| drop(f.remove("username"))),
    ];
    for case in cases {
        let (err, shown) = load_error(&dir, &case);
        assert!(matches!(err, StoreError::Corrupt { .. }), "{case}: {err:?}");
        assert!(!shown.contains("tok-secret"), "{case}: {shown}");
    }
}

#[test]
fn a_corrupt_file_error_names_the_file_and_how_to_recover() {
    let dir = TempDir::new("corrupt-recover");
    let (_, shown) = load_error(&dir, "{ not json");
    assert!(shown.contains(&dir.join("session.json").display().to_string()), "{shown}");
    assert!(shown.contains("delete the file and log in again"), "{shown}");
}

#[test]
fn a_file_that_is_not_json_is_described_with_where() {
    let dir = TempDir::new("corrupt-syntax");
    let (err, _) = load_error(&dir, "{\n  \"token\": oops\n}");
    assert!(err.to_string().contains("not JSON (line 2, column 12)"), "{err}");
}

#[test]
fn a_missing_field_is_named() {
    let dir = TempDir::new("corrupt-missing");
    let (err, _) = load_error(&dir, &with(|f| drop(f.remove("token"))));
    assert!(err.to_string().contains("missing field `token`"), "{err}");
}

#[test]
fn a_field_of_the_wrong_type_is_described_without_its_value() {
    let dir = TempDir::new("corrupt-type");
    let (err, _) = load_error(&dir, &with(|f| drop(f.insert("lifetime_ms".into(), json!("tok-secret")))));
    assert!(err.to_string().contains("a field has the wrong type (line 1, column "), "{err}");
}

#[test]
fn an_unsupported_version_is_named() {
    let dir = TempDir::new("corrupt-version");
    let (err, _) = load_error(&dir, &with(|f| drop(f.insert("version".into(), json!(99)))));
    assert!(
        err.to_string().contains(": an unsupported snapshot version (written by another version of this library);"),
        "{err}"
    );
}

#[test]
fn a_token_that_cannot_be_sent_is_named() {
    let dir = TempDir::new("corrupt-token");
    let (err, _) = load_error(&dir, &with(|f| drop(f.insert("token".into(), json!("two words")))));
    assert!(err.to_string().contains("a token that cannot be sent in a header"), "{err}");
}

#[test]
fn an_empty_file_is_called_empty() {
    let dir = TempDir::new("corrupt-empty");
    let (err, _) = load_error(&dir, "");
    assert!(err.to_string().contains("the file is empty"), "{err}");
}
