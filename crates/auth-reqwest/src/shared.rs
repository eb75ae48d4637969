//! What every clone of a [`Client`](crate::Client) and its middleware share: one
//! [`Coordinator`] (the session behind one `std` mutex, the driver flag, the store), a
//! [`Notify`] for the tasks waiting on an auth exchange, and the driver that carries an exchange
//! out on a task of its own.
//!
//! The protocol is `auth_driver::coordinator`'s, shared with the blocking adapter; this module
//! adds the async I/O and the waiting:
//!
//! - The coordinator's mutex is never held across an `.await` (`clippy::await_holding_lock` is
//!   denied in this crate, and every public future is `Send`, which a held `MutexGuard` would
//!   prevent). A `std` mutex rather than tokio's, because the critical sections are short and
//!   synchronous, and because the drop guards below must lock it in `Drop`, where nothing can
//!   be awaited.
//! - The driver runs on a task of its own (`tokio::spawn`), which the caller that started it
//!   awaits. If that caller is cancelled (its future dropped), the exchange still completes:
//!   the answer is handled, the rotated tokens are kept and saved, the waiters are woken. A
//!   refresh that reached the server is therefore never lost to a cancellation.
//! - The driver reports its request on every path: if its task panics or is dropped (the
//!   runtime shuts down), its drop guard ends the exchange, persists, releases the store's
//!   lock and wakes the waiters.
//! - Everyone else waits on the `Notify` (registered before the session is looked at, so no
//!   wake-up is lost), with the timeout the coordinator computes, and is woken by
//!   `notify_waiters`. Nobody sleeps in a loop.
//! - Store calls block (disk, file lock), so they run on `spawn_blocking`, and new snapshots
//!   are saved there after the state is unlocked. The store's lock guard is held across the
//!   HTTP exchange's `.await`s: it is a file lock, not a mutex.

use std::io;
use std::ops::Deref;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, MAX_AUTH_BODY, Now, Session};
use auth_driver::Clock;
use auth_driver::coordinator::{self, Coordinator, Exchange, Next, Obtain, Wake};
use auth_store::{SessionStore, StoreError};
use tokio::sync::Notify;

use crate::error::Error;

pub(crate) use auth_driver::coordinator::StaleToken;

/// A credential handed out and not yet reported; released on drop.
pub(crate) type Outstanding<'a> = coordinator::Outstanding<'a, Changed>;

/// The tasks' wake-up: a [`Notify`] whose waiters register before they look at the session.
#[derive(Debug, Default)]
pub(crate) struct Changed(Notify);

impl Wake for Changed {
    fn wake_all(&self) {
        self.0.notify_waiters();
    }
}

/// The coordinator plus this adapter's I/O. Derefs to the [`Coordinator`] for everything that
/// is not I/O.
pub(crate) struct Shared {
    core: Coordinator<Changed>,
    /// Sends the API requests of `Client` and the auth exchanges.
    http: reqwest::Client,
    /// The policy's `auth_timeout`, used as the transport timeout of auth requests so that the
    /// driver reports a hung request before the core gives up on it.
    auth_timeout: Duration,
}

impl Deref for Shared {
    type Target = Coordinator<Changed>;

    fn deref(&self) -> &Coordinator<Changed> {
        &self.core
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn SessionStore>>,
        http: reqwest::Client,
        auth_timeout: Duration,
    ) -> Self {
        Shared { core: Coordinator::new(session, clock, store, Changed::default()), http, auth_timeout }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Runs `get` until it yields a value or an error, driving the exchanges the session wants
    /// and waiting while another task drives one.
    pub(crate) async fn obtain<T>(
        self: &Arc<Self>,
        stale: StaleToken,
        mut get: impl FnMut(&mut Session, Now) -> Result<Option<T>, AuthError>,
    ) -> Result<T, Error> {
        let mut obtain = Obtain::new(stale);
        loop {
            // Registered before the session is looked at: a driver that finishes between
            // our look and our wait still wakes us.
            let mut changed = pin!(self.waker().0.notified());
            changed.as_mut().enable();
            let next = {
                let mut st = self.lock();
                obtain.next(&mut st, self.now(), &mut get)?
            };
            match next {
                Next::Ready(value) => return Ok(value),
                Next::Drive { required } => {
                    let outcome = self.drive(required).await;
                    if required {
                        outcome?;
                    }
                }
                Next::Wait(timeout) => {
                    let _woken = tokio::time::timeout(timeout, changed).await;
                    let now = self.now();
                    self.lock().session.handle_timeout(now);
                }
                Next::Retry => {}
            }
        }
    }

    /// Runs one exchange on a task of its own and waits for it. The caller is the driver.
    ///
    /// If this future is dropped, the task carries on: the exchange is completed and reported
    /// whatever happens to the caller. `required` as in [`coordinator::store_lock_wait`].
    async fn drive(self: &Arc<Self>, required: bool) -> Result<(), Error> {
        let lock_wait = coordinator::store_lock_wait(required, self.auth_timeout);
        // Built before the spawn, so that even a task that never runs (a runtime shutting
        // down) drops it and clears `driving`.
        let mut driver = Driver { shared: Arc::clone(self), exchange: Exchange::new(), lock_wait };
        let task = tokio::spawn(async move { driver.run().await });
        match task.await {
            Ok(outcome) => outcome,
            // The driver's guard has reported the exchange; the panic is the caller's too.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down; the guard has reported. The session says the rest.
            Err(_) => Ok(()),
        }
    }

    /// After a caller's own request: drives the refresh of a *stale* token if nobody else is
    /// doing it.
    pub(crate) async fn refresh_if_due(self: &Arc<Self>) {
        if self.claim_after_request() {
            let _ = self.drive(false).await;
        }
    }

    /// Sends one auth request and reads its answer with the core's size limit. `None`: no
    /// answer (transport error, or an answer that did not come from the URL asked, which a
    /// client of the caller's own may have redirected). A status is an answer, not an error.
    async fn send_auth(&self, request: http::Request<Vec<u8>>) -> Option<http::Response<Vec<u8>>> {
        let mut request = reqwest::Request::try_from(request).ok()?;
        *request.timeout_mut() = Some(self.auth_timeout);
        let asked = request.url().clone();
        let mut response = self.http.execute(request).await.ok()?;
        if response.url() != &asked {
            return None;
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            let room = (MAX_AUTH_BODY + 1).saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() > MAX_AUTH_BODY {
                break; // Enough to know it is too large; the core refuses it unparsed.
            }
        }
        let mut answer = http::Response::new(body);
        *answer.status_mut() = response.status();
        *answer.version_mut() = response.version();
        *answer.headers_mut() = response.headers().clone();
        Some(answer)
    }
}

/// Runs a blocking store call on the blocking thread pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<dyn SessionStore>,
    call: impl FnOnce(&dyn SessionStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || call(&*store)).await {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(shutting_down()),
    }
}

fn shutting_down() -> StoreError {
    StoreError::Io {
        operation: "run a store operation on",
        path: PathBuf::new(),
        source: io::Error::other("the async runtime is shutting down"),
    }
}

/// The driver of one exchange, owned by its task. Whatever way [`Driver::run`] ends —
/// success, error, panic, or the task being dropped — dropping it finishes the job.
struct Driver {
    shared: Arc<Shared>,
    exchange: Exchange,
    /// How long to wait for the store's lock (SPEC.md §3a: bounded).
    lock_wait: Duration,
}

impl Driver {
    async fn run(&mut self) -> Result<(), Error> {
        let shared = Arc::clone(&self.shared);
        let loaded = match shared.store() {
            Some(store) => {
                let wait = self.lock_wait;
                let lock =
                    blocking(store, move |store| store.lock(wait)).await.inspect_err(|e| shared.note_store_error(e))?;
                self.exchange.set_store_lock(Some(lock));
                Some(blocking(store, |store| store.load()).await)
            }
            None => None,
        };
        let Some(request) = shared.begin_exchange(&mut shared.lock(), &mut self.exchange, loaded) else {
            return Ok(()); // Adopted a usable token, or someone else's exchange is in flight.
        };
        // The refresh token is spent from here on: offer that to the store before the request
        // leaves (SPEC.md §3, rotation safety).
        self.persist().await;
        // The deadline runs from here, as the transport's timeout does, not from before the save.
        if !shared.hand_off(&mut shared.lock(), &mut self.exchange) {
            return Ok(()); // The save outlasted the auth timeout: the session gave the request up.
        }

        let answer = shared.send_auth(request.into_request()).await;

        shared.finish_exchange(&mut shared.lock(), &mut self.exchange, answer.as_ref());
        // Saved before the store's lock is released (in `Drop`), so another process that
        // takes it next reads these tokens. Tasks of this process may use the new token
        // while the save runs: a `std` mutex cannot be held across it, and using a token
        // spends nothing (only a refresh does, and none can start before the lock is freed).
        self.persist().await;
        Ok(())
    }

    /// Saves the unsaved snapshots on the blocking pool, holding the store's lock. The lock
    /// guard travels with the save: if this task is dropped meanwhile, the lock is still
    /// released only after the save.
    async fn persist(&mut self) {
        let snapshots = self.exchange.take_unsaved();
        let Some(store) = self.shared.store().cloned() else {
            return;
        };
        if snapshots.is_empty() {
            return;
        }
        let lock = self.exchange.take_store_lock();
        let job = tokio::task::spawn_blocking(move || (coordinator::save_all(&*store, &snapshots), lock));
        let outcome = match job.await {
            Ok((outcome, lock)) => {
                self.exchange.set_store_lock(lock);
                outcome
            }
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(shutting_down()),
        };
        self.shared.lock().record_save(outcome);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let shared = Arc::clone(&self.shared);
        shared.end_exchange(&mut shared.lock(), &mut self.exchange);
        let unsaved = self.exchange.take_unsaved();
        let lock = self.exchange.take_store_lock();
        match (shared.store(), unsaved.is_empty()) {
            (Some(store), false) => {
                // Only reached on an abnormal exit. Nothing can be awaited here: save on the
                // blocking pool if a runtime is there, else right here (not an async thread).
                // Saved first, unlocked second: the next process to lock the store reads our
                // newest tokens.
                let store = Arc::clone(store);
                let recorder = Arc::clone(&shared);
                let save = move || {
                    let outcome = coordinator::save_all(&*store, &unsaved);
                    drop(lock);
                    recorder.lock().record_save(outcome);
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(save)),
                    Err(_) => save(),
                }
            }
            _ => drop(lock),
        }
        shared.notify();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{Config, Password};
    use auth_driver::ManualClock;
    use http::Uri;
    use time::OffsetDateTime;

    fn shared() -> Arc<Shared> {
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let http = crate::http_client_builder(&config).build().unwrap();
        let session = Session::new(config, 1, clock.now()).unwrap();
        Arc::new(Shared::new(session, Arc::new(clock), None, http, Duration::from_secs(30)))
    }

    /// The drop guard alone: a driver dropped after its request left reports the failure,
    /// clears `driving` and wakes the waiters, so the next caller can proceed.
    #[tokio::test]
    async fn a_dropped_driver_reports_its_exchange_and_wakes_the_waiters() {
        let shared = shared();
        let uri: Uri = "http://127.0.0.1:9/reports".parse().unwrap();
        let mut waiter = pin!(shared.waker().0.notified());
        waiter.as_mut().enable();
        let driver = {
            let mut st = shared.lock();
            let now = shared.now();
            let next = Obtain::new(StaleToken::UseNow).next(&mut st, now, coordinator::credential(&uri)).unwrap();
            assert!(matches!(next, Next::Drive { required: true }));
            let mut exchange = Exchange::new();
            shared.begin_exchange(&mut st, &mut exchange, None).expect("a login");
            Driver { shared: Arc::clone(&shared), exchange, lock_wait: Duration::ZERO }
        };
        assert!(shared.lock().session.bearer().unwrap().is_exchange_in_flight());
        drop(driver);
        {
            let st = shared.lock();
            assert!(!st.is_driving());
            assert!(!st.session.bearer().unwrap().is_exchange_in_flight());
        }
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("the waiter was woken");
    }

    #[tokio::test]
    async fn an_outstanding_credential_dropped_unreported_is_released() {
        let shared = shared();
        let config = Config::basic("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let mut basic = Session::new(config, 1, OffsetDateTime::UNIX_EPOCH).unwrap();
        let uri: Uri = "http://127.0.0.1:9/reports".parse().unwrap();
        let auth_core::Authorization::Ready(credential) = basic.authorize(&uri, OffsetDateTime::UNIX_EPOCH).unwrap()
        else {
            panic!("basic is always ready")
        };
        let mut waiter = pin!(shared.waker().0.notified());
        waiter.as_mut().enable();
        drop(Outstanding::new(&shared, &credential));
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("release wakes a pending masquerade switch");
    }
}
