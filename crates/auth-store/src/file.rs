//! The file store: one JSON file, atomic replacement, owner-only permissions, an OS lock, and
//! no trust in a file or directory that someone else could have put there.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use auth_core::Snapshot;

use crate::{SessionStore, StoreError, StoreGuard};

pub(crate) mod corrupt;
mod trust;

/// Stores a session snapshot in one file, e.g. `~/.local/state/ttauth/session.json`.
///
/// - Writes go to a temporary file in the same directory, are flushed to disk, and replace
///   the old file by rename, so a crash never leaves a torn file behind.
/// - The file and its lock file are created readable and writable by the owner only (0600
///   on Unix): the snapshot holds the tokens. Missing directories are created owner-only
///   (0700).
/// - Nothing is trusted that another user could have put in place (SPEC.md §3a; Unix): load,
///   save and lock refuse a directory that is not the user's or that others can write to, a
///   lock file or session file that is not a regular file of the user's or that others can
///   open (read-only access by others is tolerated for the session file, whose next save is
///   owner-only), and a symbolic link in either file's place ([`StoreError::Insecure`], with
///   what to fix). A session file over 1 MiB is refused unread ([`StoreError::TooLarge`]).
/// - [`lock`](SessionStore::lock) takes an exclusive OS lock on `<file>.lock` (a separate file,
///   because the data file is replaced on every save). The lock is released when the guard
///   drops or the process dies, so a killed process never wedges the others; a stopped or slow
///   one makes them wait no longer than they asked to ([`StoreError::Busy`]).
/// - Temporary files a crashed save left behind (`.<name>.<pid>.<n>.tmp`) are removed when the
///   lock is taken, once they are older than any save could take.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The first pause between two attempts at a held lock; it doubles up to [`MAX_LOCK_PAUSE`].
/// The OS has no portable "lock with timeout", so a held lock is polled: short pauses first,
/// since a refresh usually ends within milliseconds.
const FIRST_LOCK_PAUSE: Duration = Duration::from_millis(1);
const MAX_LOCK_PAUSE: Duration = Duration::from_millis(50);

/// A temporary file older than this was left by a save that died: a save writes a few hundred
/// bytes and renames them within moments. Age, not the lock, is what tells, since the trait
/// does not oblige a saver to hold the lock.
const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(10 * 60);

impl FileStore {
    /// A store at `path`. Nothing is touched until the first call; missing parent
    /// directories are created on save and lock (owner-only on Unix).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mut lock_name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        FileStore { path, lock_path }
    }

    /// The snapshot file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io { operation, path, source }
    }

    /// Takes the OS lock on `file`, polling while another holder keeps it, until `wait` has
    /// passed.
    fn wait_for_lock(&self, file: &File, wait: Duration) -> Result<(), StoreError> {
        // No deadline when `wait` does not fit after now: wait for as long as it takes.
        let deadline = Instant::now().checked_add(wait);
        let mut pause = FIRST_LOCK_PAUSE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(err)) => return Err(self.io("lock", &self.lock_path)(err)),
            }
            let nap = match deadline {
                None => pause,
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        return Err(StoreError::Busy { path: self.lock_path.clone(), waited: wait });
                    }
                    pause.min(remaining)
                }
            };
            std::thread::sleep(nap);
            pause = pause.saturating_mul(2).min(MAX_LOCK_PAUSE);
        }
    }

    /// Creates the session's directory if it is missing (each missing component owner-only),
    /// and checks it.
    fn prepare_directory(&self) -> Result<(), StoreError> {
        let dir = trust::directory_of(&self.path);
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(self.io("create the directory", dir))?;
        trust::check_directory(dir)?;
        Ok(())
    }

    /// The name of a temporary file beside the session file: `.<name>.<pid>.<n>.tmp`.
    fn temporary_path(&self) -> PathBuf {
        let counter = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.path.with_file_name(format!(".{}.{}.{counter}.tmp", self.file_name(), std::process::id()))
    }

    fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Whether `name` is one of [`temporary_path`](Self::temporary_path)'s names.
    fn is_temporary_name(&self, name: &str) -> bool {
        let numbers = name
            .strip_prefix('.')
            .and_then(|rest| rest.strip_prefix(self.file_name().as_str()))
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_suffix(".tmp"));
        let is_number = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        numbers.and_then(|n| n.split_once('.')).is_some_and(|(pid, n)| is_number(pid) && is_number(n))
    }

    /// Removes the temporary files that saves which died left behind. Best effort: a file that
    /// cannot be inspected or removed stays, and nothing else is touched.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(trust::directory_of(&self.path)) else {
            return;
        };
        for entry in entries.flatten() {
            let stale = entry.file_name().to_str().is_some_and(|name| self.is_temporary_name(name))
                // The entry itself, not what a link names.
                && entry.metadata().is_ok_and(|metadata| {
                    !metadata.is_dir()
                        && metadata.modified().is_ok_and(|modified| older_than(modified, STALE_TEMPORARY_AGE))
                });
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Whether `instant` lies more than `age` in the past of the wall clock (a time in the future,
/// after a clock step, is not old).
fn older_than(instant: SystemTime, age: Duration) -> bool {
    SystemTime::now().duration_since(instant).is_ok_and(|elapsed| elapsed > age)
}

/// Opens for writing with owner-only permissions (on Unix) from the start: the content is
/// never readable by others, not even for an instant.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

impl SessionStore for FileStore {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        if !trust::check_directory(trust::directory_of(&self.path))? {
            return Ok(None);
        }
        let Some((file, metadata)) = trust::open_snapshot(&self.path)? else {
            return Ok(None);
        };
        let bytes = trust::read_snapshot(&self.path, file, &metadata)?;
        serde_json::from_slice(&bytes).map(Some).map_err(|err| StoreError::Corrupt {
            path: self.path.clone(),
            // Never serde's message: it quotes what it found, and that is a token.
            reason: corrupt::describe(&bytes, &err),
        })
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.prepare_directory()?;
        // Cannot fail for a snapshot (string keys, no maps); if it ever did, serde's message
        // could quote a token, so it is not passed on.
        let json = serde_json::to_vec_pretty(snapshot).map_err(|_| {
            self.io("serialize the snapshot for", &self.path)(io::Error::other("the snapshot cannot be serialized"))
        })?;
        let temp = self.temporary_path();
        let write = || -> io::Result<()> {
            let mut file = private_options().create_new(true).open(&temp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)?;
            // Make the rename itself durable (best effort: not every platform can open a
            // directory).
            if let Ok(dir) = File::open(trust::directory_of(&self.path)) {
                let _ = dir.sync_all();
            }
            Ok(())
        };
        write().map_err(|err| {
            let _ = fs::remove_file(&temp);
            self.io("write", &self.path)(err)
        })
    }

    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
        self.prepare_directory()?;
        let file = trust::open_lock_file(&self.lock_path)?;
        self.wait_for_lock(&file, wait)?;
        self.remove_stale_temporaries();
        Ok(StoreGuard::new(file))
    }
}

#[cfg(test)]
mod tests;
