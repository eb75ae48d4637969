//! The state shared by the server tasks and the test-facing handle.
//!
//! All mutable protocol state sits behind one mutex ([`Core`]) that handlers hold only for the
//! synchronous part of a request (never across an `.await`), so every knob method on the
//! handle is a short, blocking-safe call usable from sync and async tests alike.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::ServerClock;
use crate::faults::FaultQueues;
use crate::journal::{AuthGauge, Journal, JournalEntry};
use crate::knobs::Knobs;
use crate::realtime::Registry;
use crate::sessions::SessionStore;
use crate::users::Directory;

/// Protocol state: users, sessions, clock, knobs and fault queues.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) users: Directory,
    pub(crate) sessions: SessionStore,
    pub(crate) clock: ServerClock,
    pub(crate) knobs: Knobs,
    pub(crate) faults: FaultQueues,
}

/// Everything the server and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    core: Mutex<Core>,
    journal: Mutex<Journal>,
    pub(crate) gauge: AuthGauge,
    pub(crate) realtime: Registry,
    pub(crate) masquerade_path: String,
    pub(crate) event_interval: watch::Sender<Option<Duration>>,
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not wedge the emulator.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(core: Core, journal: Journal, masquerade_path: String, event_interval: Option<Duration>) -> Self {
        Self {
            core: Mutex::new(core),
            journal: Mutex::new(journal),
            gauge: AuthGauge::default(),
            realtime: Registry::default(),
            masquerade_path,
            event_interval: watch::Sender::new(event_interval),
        }
    }

    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }

    pub(crate) fn journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.journal)
    }

    pub(crate) fn record(&self, entry: JournalEntry) {
        self.journal().record(entry);
    }
}
