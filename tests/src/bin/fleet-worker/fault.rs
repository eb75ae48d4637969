//! The fault hooks: a [`SessionStore`] wrapper that counts every store call by outcome and, at
//! one step of the lease-and-fencing protocol, acts on a fault the test armed.
//!
//! The test arms a fault by creating a file named after it in the control directory; the first
//! worker to reach the step claims it by renaming the file to `<name>.claimed-<pid>` (one rename
//! succeeds, the others find no file), then acts:
//!
//! | fault | step | act |
//! |---|---|---|
//! | `kill-before-spent-save` | a refresh is decided (lock held, store loaded), its spent state not yet saved | SIGKILL itself |
//! | `kill-after-spent-save` | the spent state is saved, the refresh not yet sent | SIGKILL itself |
//! | `kill-before-new-pair-save` | the refresh was sent and answered, the new pair not yet saved | SIGKILL itself |
//! | `stop-before-spent-save` | as `kill-before-spent-save` | SIGSTOP itself, and holds the step until the test creates `<name>.continue` (then sends SIGCONT) |
//!
//! A signal sent to the whole process, as kill(1) sends it, does not stop the thread that sent
//! it when kill(1) returns: the kernel stops each thread as it gets round to it, and on a busy
//! machine the sender can run on for milliseconds, through the very step the fault is to come
//! before (the spent state then lands in the store before the pause, which is
//! `kill-after-spent-save`'s case, not this one). Hence the hold: the step waits for the test,
//! whenever the process stops. A SIGKILL has the same delay; there the thread sleeps until it
//! comes.
//!
//! A spent state is a snapshot saved under the lock without a refresh token; the new pair is
//! the save with a refresh token that follows it in the same exchange. One wrapper serves one
//! client, which runs at most one exchange at a time (the core's rule), so the wrapper's view
//! of "the current exchange" is exact.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth_store::{SessionStore, Snapshot, StoreError, StoreGuard};

use crate::counters::Counters;

/// Where a client's exchange stands, as far as the store has seen it.
#[derive(Debug, Default)]
struct Exchange {
    locked: bool,
    spent_saved: bool,
}

/// The wrapper around the process's store, one per client.
pub struct Faulty {
    inner: Arc<dyn SessionStore>,
    control: PathBuf,
    counters: Arc<Counters>,
    exchange: Arc<Mutex<Exchange>>,
}

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faulty").field("inner", &self.inner).finish_non_exhaustive()
    }
}

/// What a claimed fault does to the process.
#[derive(Clone, Copy)]
enum Act {
    Kill,
    Stop,
}

impl Faulty {
    pub fn new(inner: Arc<dyn SessionStore>, control: PathBuf, counters: Arc<Counters>) -> Self {
        Faulty { inner, control, counters, exchange: Arc::default() }
    }

    fn exchange(&self) -> std::sync::MutexGuard<'_, Exchange> {
        self.exchange.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count<T>(&self, operation: &str, outcome: &Result<T, StoreError>) {
        let unavailable = matches!(outcome, Err(StoreError::Unavailable { .. }));
        self.counters.note_store(unavailable);
        match outcome {
            Ok(_) => self.counters.add(format!("store.{operation}.ok")),
            Err(error) => {
                let key = format!("store.{operation}.{}", error.kind());
                self.counters.add_with_sample(key, || error.to_string());
            }
        }
    }

    /// Claims the fault `name` if it is armed, and acts on it.
    fn fire(&self, name: &str, act: Act) {
        let pid = std::process::id();
        let armed = self.control.join(name);
        if std::fs::rename(&armed, self.control.join(format!("{name}.claimed-{pid}"))).is_err() {
            return; // Not armed, or another worker claimed it.
        }
        self.counters.add(format!("fault.{name}"));
        let signal = match act {
            Act::Kill => "-KILL",
            Act::Stop => "-STOP",
        };
        let sent = Command::new("kill").args([signal, &pid.to_string()]).status();
        if !sent.as_ref().is_ok_and(|status| status.success()) {
            eprintln!("fleet-worker {pid}: could not send itself {signal} ({sent:?})");
            std::process::exit(3);
        }
        match act {
            Act::Kill => {
                // The signal is on its way (kill(1) has returned): nothing of ours runs again.
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Act::Stop => {
                // The stop is on its way too, but this thread may run on before it lands (see
                // the module docs): the step waits for the test to end the pause.
                // Bounded: a test that died before ending the pause leaves no worker behind.
                let resume = self.control.join(format!("{name}.continue"));
                let deadline = std::time::Instant::now() + Duration::from_secs(120);
                while !resume.exists() {
                    if std::time::Instant::now() > deadline {
                        eprintln!("fleet-worker {pid}: the pause was never ended ({} missing)", resume.display());
                        std::process::exit(3);
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                self.counters.add(format!("fault.{name}.continued"));
            }
        }
    }
}

impl SessionStore for Faulty {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        let loaded = self.inner.load();
        self.count("load", &loaded);
        loaded
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let (spent, new_pair) = {
            let exchange = self.exchange();
            let spent = exchange.locked && !snapshot.has_refresh_token();
            (spent, exchange.locked && exchange.spent_saved && snapshot.has_refresh_token())
        };
        if spent {
            self.fire("kill-before-spent-save", Act::Kill);
            self.fire("stop-before-spent-save", Act::Stop);
        }
        if new_pair {
            self.fire("kill-before-new-pair-save", Act::Kill);
        }
        let saved = self.inner.save(snapshot);
        self.count("save", &saved);
        if spent && saved.is_ok() {
            self.exchange().spent_saved = true;
            self.counters.add("store.save.spent_state");
            self.fire("kill-after-spent-save", Act::Kill);
        }
        saved
    }

    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
        let locked = self.inner.lock(wait);
        self.count("lock", &locked);
        let guard = locked?;
        *self.exchange() = Exchange { locked: true, spent_saved: false };
        Ok(StoreGuard::new(Held { exchange: Arc::clone(&self.exchange), _guard: guard }))
    }
}

/// The inner store's guard; marks the exchange over before it releases the lock.
struct Held {
    exchange: Arc<Mutex<Exchange>>,
    _guard: StoreGuard,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.exchange.lock().unwrap_or_else(PoisonError::into_inner).locked = false;
    }
}
