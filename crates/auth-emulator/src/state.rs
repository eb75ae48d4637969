//! The state shared by the server tasks and the test-facing handle.
//!
//! All mutable protocol state sits behind one mutex ([`Core`]) that handlers hold only for the
//! synchronous part of a request (never across an `.await`), so every knob method on the
//! handle is a short, blocking-safe call usable from sync and async tests alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::ServerClock;
use crate::endpoint::Endpoint;
use crate::faults::FaultQueues;
use crate::journal::{AuthGauge, Journal, JournalEntry};
use crate::knobs::Knobs;
use crate::realtime::Registry;
use crate::sessions::Sessions;
use crate::users::Directory;

/// Protocol state: users, sessions, clock, knobs and fault queues.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) users: Directory,
    pub(crate) sessions: Sessions,
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
    hooks: Hooks,
}

/// The tests' request hooks, by endpoint; `Debug` lists the endpoints.
#[derive(Default)]
struct Hooks(Mutex<HashMap<Endpoint, RequestHook>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(lock(&self.0).keys()).finish()
    }
}

/// A test's callback, run when a request to an endpoint arrives ([`Emulator::on_request`]).
///
/// [`Emulator::on_request`]: crate::Emulator::on_request
pub(crate) type RequestHook = Arc<dyn Fn() + Send + Sync>;

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
            hooks: Hooks::default(),
        }
    }

    /// The hook for `endpoint`, if a test set one.
    pub(crate) fn hook(&self, endpoint: Endpoint) -> Option<RequestHook> {
        lock(&self.hooks.0).get(&endpoint).cloned()
    }

    /// Sets (`Some`) or removes (`None`) the hook for `endpoint`.
    pub(crate) fn set_hook(&self, endpoint: Endpoint, hook: Option<RequestHook>) {
        let mut hooks = lock(&self.hooks.0);
        match hook {
            Some(hook) => hooks.insert(endpoint, hook),
            None => hooks.remove(&endpoint),
        };
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
