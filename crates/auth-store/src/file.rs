//! The file store: one JSON file, atomic replacement, owner-only permissions, an OS lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::Snapshot;

use crate::{SessionStore, StoreError, StoreGuard};

mod corrupt;

/// Stores a session snapshot in one file, e.g. `~/.local/state/ttauth/session.json`.
///
/// - Writes go to a temporary file in the same directory, are flushed to disk, and replace
///   the old file by rename, so a crash never leaves a torn file behind.
/// - The file and its lock file are created readable and writable by the owner only (0600
///   on Unix): the snapshot holds the tokens.
/// - [`lock`](SessionStore::lock) takes an exclusive OS lock on `<file>.lock` (a separate file,
///   because the data file is replaced on every save). The lock is released when the guard
///   drops or the process dies, so a killed process never wedges the others; a stopped or slow
///   one makes them wait no longer than they asked to ([`StoreError::Busy`]).
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

    fn create_parent(&self) -> Result<(), StoreError> {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => {
                let mut builder = fs::DirBuilder::new();
                builder.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(dir).map_err(self.io("create the directory of", dir))
            }
            _ => Ok(()),
        }
    }
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
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(self.io("read", &self.path)(err)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|err| StoreError::Corrupt {
            path: self.path.clone(),
            // Never serde's message: it quotes what it found, and that is a token.
            reason: corrupt::describe(&bytes, &err),
        })
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.create_parent()?;
        // Cannot fail for a snapshot (string keys, no maps); if it ever did, serde's message
        // could quote a token, so it is not passed on.
        let json = serde_json::to_vec_pretty(snapshot).map_err(|_| {
            self.io("serialize the snapshot for", &self.path)(io::Error::other("the snapshot cannot be serialized"))
        })?;
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = self.path.with_file_name(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let write = || -> io::Result<()> {
            let mut file = private_options().create_new(true).open(&temp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)?;
            // Make the rename itself durable (best effort: not every platform can open a
            // directory).
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
                && let Ok(dir) = File::open(dir)
            {
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
        self.create_parent()?;
        let file = private_options()
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(self.io("open the lock file", &self.lock_path))?;
        self.wait_for_lock(&file, wait)?;
        Ok(StoreGuard::new(file))
    }
}

#[cfg(test)]
mod tests;
