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
    let (busy, seen_busy) = std::sync::mpsc::channel();
    let waiter = {
        let store = FileStore::new(dir.join("session.json"));
        std::thread::spawn(move || {
            // The waiter finds the lock held, says so, then waits for it (no sleep anywhere).
            busy.send(matches!(store.lock(Duration::ZERO), Err(StoreError::Busy { .. }))).unwrap();
            store.lock(Duration::from_secs(60)).map(drop)
        })
    };
    assert!(seen_busy.recv().unwrap(), "the waiter found the lock held");
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
/// Writes a session file as the store would: owner-only.
fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    fs::write(path, contents).unwrap();
    #[cfg(unix)]
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

fn load_error(dir: &TempDir, content: &str) -> (StoreError, String) {
    let path = dir.join("session.json");
    write_private(&path, content);
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
    assert!(shown.contains("delete it (the file or key) and log in again"), "{shown}");
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
    // The core judges the fields after reading the JSON, so there is no position to give.
    assert!(err.to_string().contains("a field has the wrong type"), "{err}");
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

// --- What the store does not trust (SPEC.md §3a) ---------------------------------------------

#[cfg(unix)]
mod hostile {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    use super::*;
    use crate::Insecurity;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// Gives `path` to the user `nobody` (65534): only root can.
    fn give_away(path: &Path) {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }

    fn refusal(result: Result<impl std::fmt::Debug, StoreError>) -> (PathBuf, Insecurity, String) {
        match result {
            Err(err @ StoreError::Insecure { .. }) => {
                let message = err.to_string();
                let StoreError::Insecure { path, problem } = err else { unreachable!() };
                (path, problem, message)
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn every_directory_the_store_creates_is_owner_only() {
        let dir = TempDir::new("created-0700");
        FileStore::new(dir.join("a/b/c/session.json")).save(&snapshot(1, "t")).unwrap();
        for created in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode_of(&dir.join(created)), 0o700, "{created}");
        }
    }

    #[test]
    fn a_group_writable_directory_is_refused_with_how_to_fix_it() {
        let dir = TempDir::new("group-writable");
        chmod(&dir.0, 0o770);
        let (path, problem, message) = refusal(FileStore::new(dir.join("session.json")).load());
        assert_eq!((path.as_path(), problem), (dir.0.as_path(), Insecurity::DirectoryWritableByOthers));
        assert!(message.contains(&format!("run `chmod go-w {}`", dir.0.display())), "{message}");
    }

    #[test]
    fn a_sticky_world_writable_directory_like_tmp_is_refused_too() {
        let dir = TempDir::new("sticky");
        chmod(&dir.0, 0o1777);
        let (_, problem, _) = refusal(FileStore::new(dir.join("session.json")).load());
        assert_eq!(problem, Insecurity::DirectoryWritableByOthers);
    }

    #[test]
    fn a_directory_others_can_write_is_refused_by_save_and_lock_before_anything_is_written() {
        let dir = TempDir::new("writable-save-lock");
        chmod(&dir.0, 0o757);
        let store = FileStore::new(dir.join("session.json"));
        assert_eq!(refusal(store.save(&snapshot(1, "tok-secret"))).1, Insecurity::DirectoryWritableByOthers);
        assert_eq!(refusal(store.lock(FOREVER)).1, Insecurity::DirectoryWritableByOthers);
        assert!(names_in(&dir.0).is_empty(), "{:?}", names_in(&dir.0));
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused() {
        let dir = TempDir::new("foreign-dir");
        // Root can give a directory away; anyone else finds `/` owned by someone else (root).
        let foreign = if is_root() {
            give_away(&dir.0);
            dir.0.clone()
        } else {
            PathBuf::from("/")
        };
        let (path, problem, message) = refusal(FileStore::new(foreign.join("session.json")).load());
        assert_eq!((path, problem), (foreign, Insecurity::OwnedByAnotherUser));
        assert!(message.contains("owned by another user; keep the session in a file and directory of your own"));
    }

    #[test]
    fn a_symbolic_link_in_place_of_the_lock_file_is_refused_and_its_target_left_alone() {
        let dir = TempDir::new("lock-link");
        let target = dir.join("elsewhere");
        fs::write(&target, "someone else's file").unwrap();
        symlink(&target, dir.join("session.json.lock")).unwrap();
        let (path, problem, message) = refusal(FileStore::new(dir.join("session.json")).lock(FOREVER));
        assert_eq!((path, problem), (dir.join("session.json.lock"), Insecurity::SymbolicLink));
        assert!(message.contains("symbolic link"), "{message}");
        assert_eq!(fs::read_to_string(&target).unwrap(), "someone else's file");
        assert!(fs::File::open(&target).unwrap().try_lock().is_ok(), "the target was not locked");
    }

    #[test]
    fn a_dangling_link_in_place_of_the_lock_file_creates_nothing_where_it_points() {
        let dir = TempDir::new("lock-dangling");
        symlink(dir.join("planted"), dir.join("session.json.lock")).unwrap();
        let (_, problem, _) = refusal(FileStore::new(dir.join("session.json")).lock(FOREVER));
        assert_eq!(problem, Insecurity::SymbolicLink);
        assert!(!dir.join("planted").exists());
    }

    #[test]
    fn a_lock_file_others_can_open_is_refused_with_how_to_fix_it() {
        let dir = TempDir::new("lock-open");
        let store = FileStore::new(dir.join("session.json"));
        drop(store.lock(FOREVER).unwrap());
        chmod(&store.lock_path, 0o644);
        let (path, problem, message) = refusal(store.lock(FOREVER));
        assert_eq!((path.as_path(), problem), (store.lock_path.as_path(), Insecurity::AccessibleToOthers));
        assert!(message.contains(&format!("run `chmod 600 {}`", store.lock_path.display())), "{message}");
    }

    #[test]
    fn a_lock_file_of_another_user_is_refused() {
        if !is_root() {
            return; // Only root can give a file away; CI runs as root.
        }
        let dir = TempDir::new("lock-foreign");
        let store = FileStore::new(dir.join("session.json"));
        drop(store.lock(FOREVER).unwrap());
        give_away(&store.lock_path);
        assert_eq!(refusal(store.lock(FOREVER)).1, Insecurity::OwnedByAnotherUser);
    }

    #[test]
    fn a_symbolic_link_in_place_of_the_session_file_is_refused() {
        let dir = TempDir::new("file-link");
        let store = FileStore::new(dir.join("real.json"));
        store.save(&snapshot(1, "t")).unwrap();
        symlink(dir.join("real.json"), dir.join("session.json")).unwrap();
        let (path, problem, _) = refusal(FileStore::new(dir.join("session.json")).load());
        assert_eq!((path, problem), (dir.join("session.json"), Insecurity::SymbolicLink));
    }

    #[test]
    fn a_fifo_in_place_of_the_session_file_is_refused_without_blocking() {
        let dir = TempDir::new("file-fifo");
        let status = Command::new("mkfifo").arg(dir.join("session.json")).status().unwrap();
        assert!(status.success());
        // Opening a FIFO for reading would wait for a writer; the store never does.
        let (_, problem, message) = refusal(FileStore::new(dir.join("session.json")).load());
        assert_eq!(problem, Insecurity::NotARegularFile);
        assert!(message.contains("not a regular file; remove it, or point the store at another path"), "{message}");
    }

    #[test]
    fn a_directory_in_place_of_the_session_file_is_refused() {
        let dir = TempDir::new("file-dir");
        fs::create_dir(dir.join("session.json")).unwrap();
        assert_eq!(refusal(FileStore::new(dir.join("session.json")).load()).1, Insecurity::NotARegularFile);
    }

    #[test]
    fn a_session_file_others_can_write_is_refused() {
        let dir = TempDir::new("file-writable");
        let store = FileStore::new(dir.join("session.json"));
        store.save(&snapshot(1, "t")).unwrap();
        chmod(store.path(), 0o622);
        let (path, problem, _) = refusal(store.load());
        assert_eq!((path.as_path(), problem), (store.path(), Insecurity::AccessibleToOthers));
    }

    #[test]
    fn a_session_file_others_can_read_is_refused_with_how_to_fix_it() {
        let dir = TempDir::new("file-readable");
        let store = FileStore::new(dir.join("session.json"));
        store.save(&snapshot(1, "t")).unwrap();
        chmod(store.path(), 0o644);
        let err = store.load().unwrap_err();
        assert!(matches!(err, StoreError::Insecure { problem: Insecurity::AccessibleToOthers, .. }), "{err:?}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_session_file_of_another_user_is_refused() {
        if !is_root() {
            return; // Only root can give a file away; CI runs as root.
        }
        let dir = TempDir::new("file-foreign");
        let store = FileStore::new(dir.join("session.json"));
        store.save(&snapshot(1, "t")).unwrap();
        give_away(store.path());
        assert_eq!(refusal(store.load()).1, Insecurity::OwnedByAnotherUser);
    }
}

// --- Size ------------------------------------------------------------------------------------

#[test]
fn a_session_file_over_one_mebibyte_is_refused_unread() {
    let dir = TempDir::new("too-large");
    let path = dir.join("session.json");
    write_private(&path, vec![b' '; (1 << 20) + 1]);
    let err = FileStore::new(&path).load().unwrap_err();
    assert!(matches!(err, StoreError::TooLarge { ref path, limit: 1_048_576 } if *path == dir.join("session.json")));
    assert!(err.to_string().contains("is larger than 1 MiB, so it is not a session snapshot"), "{err}");
}

#[test]
fn a_session_file_of_exactly_one_mebibyte_is_read() {
    let dir = TempDir::new("at-limit");
    let mut text = serde_json::to_string(&snapshot(1, "t")).unwrap();
    text.push_str(&" ".repeat((1 << 20) - text.len()));
    write_private(&dir.join("session.json"), text);
    assert_eq!(FileStore::new(dir.join("session.json")).load().unwrap(), Some(snapshot(1, "t")));
}

// --- Leftovers of a crash --------------------------------------------------------------------

/// Leaves a file named `name` in `dir`, last modified `age` ago.
fn leave(dir: &TempDir, name: &str, age: Duration) {
    let file = fs::File::create(dir.join(name)).unwrap();
    file.set_modified(std::time::SystemTime::now() - age).unwrap();
}

const AN_HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_temporary_file_left_by_a_crashed_save_is_removed_when_the_lock_is_taken() {
    let dir = TempDir::new("stale-temp");
    leave(&dir, ".session.json.4242.7.tmp", AN_HOUR);
    let _held = FileStore::new(dir.join("session.json")).lock(FOREVER).unwrap();
    assert_eq!(names_in(&dir.0), ["session.json.lock"]);
}

#[test]
fn a_recent_temporary_file_is_left_alone_since_a_save_may_be_writing_it() {
    let dir = TempDir::new("fresh-temp");
    leave(&dir, ".session.json.4242.8.tmp", Duration::ZERO);
    let _held = FileStore::new(dir.join("session.json")).lock(FOREVER).unwrap();
    assert_eq!(names_in(&dir.0), [".session.json.4242.8.tmp", "session.json.lock"]);
}

#[test]
fn old_files_that_only_resemble_temporary_files_are_left_alone() {
    let dir = TempDir::new("lookalikes");
    let lookalikes = [
        ".other.json.4242.7.tmp",
        ".session.json.tmp",
        ".session.json.x.7.tmp",
        "session.json.4242.7.tmp",
        "notes.txt",
    ];
    for name in lookalikes {
        leave(&dir, name, AN_HOUR);
    }
    let _held = FileStore::new(dir.join("session.json")).lock(FOREVER).unwrap();
    let mut expected: Vec<_> = lookalikes.iter().map(|n| n.to_string()).collect();
    expected.push("session.json.lock".into());
    expected.sort();
    assert_eq!(names_in(&dir.0), expected);
}
