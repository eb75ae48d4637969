//! [`StoreError`]: what can go wrong with a session store, in messages that say what to do.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A store operation failed. The message names the file and the operation, never its content,
/// and says what to do about it.
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
        "session store: {} does not hold a valid session snapshot: {reason}; delete it (the file or key) and log in again",
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
        /// The lock file; empty for a store without one ([`MemoryStore`](crate::MemoryStore)).
        path: PathBuf,
        /// How long the caller was willing to wait.
        waited: Duration,
    },
    /// A file or directory the store would have to trust could be read or replaced by another
    /// user, or is not what it must be (SPEC.md §3a): nothing was read from or written to it.
    #[error("session store: refusing {}: {problem}; {}", path.display(), problem.fix(path))]
    Insecure {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong with it.
        problem: Insecurity,
    },
    /// The session file is far larger than any snapshot, so it is not one; it was not read
    /// beyond the limit.
    #[error(
        "session store: {} is larger than {}, so it is not a session snapshot; delete it (or point the store \
         at the right file) and log in again",
        path.display(),
        Bytes(*limit)
    )]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// The largest size read, in bytes.
        limit: u64,
    },
    /// The store refused a write because another client has taken the session over since this
    /// one locked and loaded it (its lease ran out while it was paused or slow, and the other
    /// has written since): the write was not made. A refresh whose spent state is refused this
    /// way is not sent; the client adopts the stored session instead (SPEC.md §3: a spend is
    /// seen by every sharer).
    #[error(
        "session store {store}: this client's lease on the session ran out and another client has written \
         since, so its write was refused (fencing); it adopts the stored session instead"
    )]
    Fenced {
        /// The store, as its `Debug` names it (never a password).
        store: String,
    },
    /// A remote store (a server) could not be reached or did not answer in time. Tokens held
    /// in memory keep serving; the operation is tried again when next needed.
    #[error("session store {store}: cannot {operation}: {reason}; tokens in memory keep serving until it is back")]
    Unavailable {
        /// The store, as its `Debug` names it (never a password).
        store: String,
        /// What was being done ("lock the session", "load the session", ...).
        operation: &'static str,
        /// What went wrong, in the client library's words (never a value read from the store).
        reason: String,
    },
}

impl StoreError {
    /// A short, stable name of the error's kind, for log fields and metrics: `io`,
    /// `corrupt`, `busy`, `insecure`, `too_large`, `fenced` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "io",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Busy { .. } => "busy",
            StoreError::Insecure { .. } => "insecure",
            StoreError::TooLarge { .. } => "too_large",
            StoreError::Fenced { .. } => "fenced",
            StoreError::Unavailable { .. } => "unavailable",
        }
    }

    /// A store call that could not run at all: the async runtime whose blocking pool it was
    /// sent to is shutting down.
    pub fn runtime_gone() -> StoreError {
        StoreError::Io {
            operation: "run a store operation on",
            path: PathBuf::new(),
            source: std::io::Error::other("the async runtime is shutting down"),
        }
    }
}

/// Why the store refuses a file or directory ([`StoreError::Insecure`]). Its `Display` says
/// what is wrong; the error's message adds how to fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Insecurity {
    /// The directory holding the session is writable by its group or by everyone, so another
    /// user could replace the session in it (with one of their own, or a link elsewhere).
    DirectoryWritableByOthers,
    /// It belongs to another user, who could read or replace it.
    OwnedByAnotherUser,
    /// The file's permissions give its group or everyone access (a session or lock file must
    /// be mode 0600).
    AccessibleToOthers,
    /// A symbolic link where the store expects its file: links are not followed, so that
    /// nobody can point the store at a file of their choice.
    SymbolicLink,
    /// A directory, FIFO, socket or device where the store expects a regular file.
    NotARegularFile,
}

impl Insecurity {
    /// What to do about it, for `path`.
    fn fix(self, path: &Path) -> String {
        let path = path.display();
        match self {
            Insecurity::DirectoryWritableByOthers => {
                format!("run `chmod go-w {path}`, or keep the session in a directory of your own")
            }
            Insecurity::OwnedByAnotherUser => {
                "keep the session in a file and directory of your own (e.g. under your home directory)".to_owned()
            }
            Insecurity::AccessibleToOthers => format!("run `chmod 600 {path}`"),
            Insecurity::SymbolicLink => {
                "replace the link with the file itself, or point the store at the file it names".to_owned()
            }
            Insecurity::NotARegularFile => "remove it, or point the store at another path".to_owned(),
        }
    }
}

impl fmt::Display for Insecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Insecurity::DirectoryWritableByOthers => {
                "other users can write to this directory, so they could replace the session in it"
            }
            Insecurity::OwnedByAnotherUser => "it is owned by another user",
            Insecurity::AccessibleToOthers => "other users have access to it (it must be mode 0600)",
            Insecurity::SymbolicLink => "it is a symbolic link, which the session store does not follow",
            Insecurity::NotARegularFile => "it is not a regular file",
        })
    }
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

/// A size as people read it in a message: "1 MiB", "100 bytes".
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MIB: u64 = 1 << 20;
        match self.0 {
            bytes if bytes >= MIB && bytes.is_multiple_of(MIB) => write!(f, "{} MiB", bytes / MIB),
            bytes => write!(f, "{bytes} bytes"),
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

    #[test]
    fn an_insecure_directory_error_says_what_to_run() {
        let message =
            StoreError::Insecure { path: "/srv/state".into(), problem: Insecurity::DirectoryWritableByOthers }
                .to_string();
        assert!(message.starts_with("session store: refusing /srv/state: other users can write"), "{message}");
        assert!(message.ends_with("run `chmod go-w /srv/state`, or keep the session in a directory of your own"));
    }

    #[test]
    fn a_too_large_file_error_gives_the_limit_in_mebibytes() {
        let message = StoreError::TooLarge { path: "/s.json".into(), limit: 1 << 20 }.to_string();
        assert!(message.starts_with("session store: /s.json is larger than 1 MiB, so it is not"), "{message}");
    }
}
