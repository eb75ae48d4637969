//! What every clone of a [`Client`](crate::Client) and its middleware share: one session behind
//! one `std` mutex, a [`Notify`] for the tasks waiting on an auth exchange, and the driver that
//! carries an exchange out on a task of its own.
//!
//! The rules (the run loop of `auth_core`'s crate docs, made task-safe):
//!
//! - The mutex guards the [`Session`] only while it is asked or told something: never across
//!   an `.await` (`clippy::await_holding_lock` is denied in this crate, and every public future
//!   is `Send`, which a held `MutexGuard` would prevent). A `std` mutex rather than tokio's,
//!   because the critical sections are short and synchronous, and because the drop guards
//!   below must lock it in `Drop`, where nothing can be awaited.
//! - One task at a time is the *driver* (`State::driving`): it takes the store's lock (if
//!   any), adopts a newer stored snapshot, asks `poll_transmit` for the exchange, sends it and
//!   reports the answer. The core alone guarantees single flight; the flag adds that only one
//!   task of this process queues on the store's lock, so the others wait on the `Notify`
//!   instead of on the file (and on the blocking thread pool).
//! - The driver runs on a task of its own (`tokio::spawn`), which the caller that started it
//!   awaits. If that caller is cancelled (its future dropped), the exchange still completes:
//!   the answer is handled, the rotated tokens are kept and saved, the waiters are woken. A
//!   refresh that reached the server is therefore never lost to a cancellation.
//! - The driver reports its request on every path: if its task panics or is dropped (the
//!   runtime shuts down), a drop guard calls `handle_failure` for an unreported request,
//!   persists the events, releases the store's lock, clears the flag and wakes the waiters.
//! - Everyone else waits on the `Notify` (registered before the session is looked at, so no
//!   wake-up is lost), with a timeout of `poll_timeout() - now` at most, and is woken by
//!   `notify_waiters` when the driver finishes, fails or unwinds. Nobody sleeps in a loop.
//! - Store calls block (disk, file lock), so they run on `spawn_blocking`. The store's lock
//!   guard is held across the HTTP exchange's `.await`s: it is a file lock, not a mutex.

use std::io;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use auth_core::{
    ApiVerdict, AuthError, Credential, Event, MAX_AUTH_BODY, RequestId, Session, Snapshot, TokenGeneration,
};
use auth_store::{Clock, SessionStore, StoreError, StoreGuard};
use http::{StatusCode, Uri};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::error::Error;

/// The longest a waiter sleeps before it looks at the session again, even when someone is
/// driving (a driver blocked on another process's store lock keeps everyone waiting; waking
/// once a minute to find that out costs nothing).
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A defensive pause for a state the core should never be in: `Pending`, nobody driving, no
/// deadline. It bounds what would otherwise be a spin.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// What a caller that already got a usable token does about a refresh that is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StaleToken {
    /// Use the stale-but-valid token now; the caller drives the refresh after its request
    /// (`Client::send`): the request is never delayed by the refresh.
    UseNow,
    /// Refresh first when nobody else is, so the caller gets the newest token
    /// (`bearer_token`, `realtime_auth`: the token leaves the library).
    RefreshFirst,
}

pub(crate) struct State {
    pub(crate) session: Session,
    /// A task of this process is driving an exchange (from before it takes the store's lock
    /// until it has reported the answer and saved the result).
    driving: bool,
    last_store_error: Option<String>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Notify,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn SessionStore>>,
    /// Sends the API requests of `Client` and the auth exchanges.
    http: reqwest::Client,
    /// The policy's `auth_timeout`, used as the transport timeout of auth requests so that the
    /// driver reports a hung request before the core gives up on it.
    auth_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Shared");
        // Never block in `Debug`: a caller may print the client while another task drives.
        match self.state.try_lock() {
            Ok(state) => s.field("session", &state.session),
            Err(_) => s.field("session", &"<busy>"),
        };
        s.field("store", &self.store).field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// What a caller does after looking at the session.
enum Step {
    /// Start an exchange (the caller has set `driving`); `required`: its error is the
    /// caller's error.
    Drive { required: bool },
    /// Wait for a wake-up, at most this long.
    Wait(Duration),
    /// Look again at once.
    Retry,
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn SessionStore>>,
        http: reqwest::Client,
        auth_timeout: Duration,
    ) -> Self {
        Shared {
            state: Mutex::new(State { session, driving: false, last_store_error: None }),
            changed: Notify::new(),
            clock,
            store,
            http,
            auth_timeout,
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The state, locked. A panic elsewhere never leaves the session half-updated (the core
    /// does not panic mid-transition), so a poisoned lock is taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn last_store_error(&self) -> Option<String> {
        self.lock().last_store_error.clone()
    }

    pub(crate) fn is_api_origin(&self, uri: &Uri) -> bool {
        self.lock().session.is_api_origin(uri)
    }

    /// Runs `get` until it yields a value or an error, driving the exchanges the session wants
    /// and waiting while another task drives one.
    pub(crate) async fn obtain<T>(
        self: &Arc<Self>,
        stale: StaleToken,
        mut get: impl FnMut(&mut Session, OffsetDateTime) -> Result<Option<T>, AuthError>,
    ) -> Result<T, Error> {
        let mut refresh_first = stale == StaleToken::RefreshFirst;
        let mut idle_rounds = 0;
        loop {
            // Registered before the session is looked at: a driver that finishes between
            // our look and our wait still wakes us.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let step = {
                let mut st = self.lock();
                let now = self.now();
                if refresh_first && !st.driving && st.session.wants_transmit(now) {
                    refresh_first = false;
                    st.driving = true;
                    // A failure leaves the current token in service if it is still usable;
                    // `get` on the next round says whether it is.
                    Step::Drive { required: false }
                } else {
                    match get(&mut st.session, now)? {
                        Some(value) => return Ok(value),
                        None if !st.driving && st.session.wants_transmit(now) => {
                            st.driving = true;
                            Step::Drive { required: true }
                        }
                        None => self.wait_step(&st, now, &mut idle_rounds),
                    }
                }
            };
            match step {
                Step::Drive { required } => {
                    idle_rounds = 0;
                    let outcome = self.drive().await;
                    if required {
                        outcome?;
                    }
                }
                Step::Wait(timeout) => {
                    let _woken = tokio::time::timeout(timeout, changed).await;
                    let now = self.now();
                    self.lock().session.handle_timeout(now);
                }
                Step::Retry => {}
            }
        }
    }

    /// How long to wait for a wake-up: until the session's next deadline (in the injected
    /// clock; with a manual clock the timeout only bounds the wait, the wake-up comes from
    /// `notify_waiters`), capped by [`MAX_WAIT`].
    fn wait_step(&self, st: &State, now: OffsetDateTime, idle_rounds: &mut u32) -> Step {
        let until_deadline = st
            .session
            .poll_timeout()
            .map(|deadline| deadline - now)
            .filter(|left| left.is_positive())
            .and_then(|left| Duration::try_from(left).ok());
        let someone_drives = st.driving || st.session.bearer().is_some_and(|b| b.is_exchange_in_flight());
        match (until_deadline, someone_drives) {
            (Some(left), _) => Step::Wait(left.min(MAX_WAIT)),
            (None, true) => Step::Wait(MAX_WAIT),
            (None, false) => {
                // Nothing will wake us, but a deadline may just have passed: look again at
                // once (a couple of times), then pause rather than spin.
                *idle_rounds += 1;
                if *idle_rounds <= 2 { Step::Retry } else { Step::Wait(IDLE_WAIT) }
            }
        }
    }

    /// Runs one exchange on a task of its own and waits for it. The caller has set `driving`.
    ///
    /// If this future is dropped, the task carries on: the exchange is completed and reported
    /// whatever happens to the caller.
    async fn drive(self: &Arc<Self>) -> Result<(), Error> {
        // Built before the spawn, so that even a task that never runs (a runtime shutting
        // down) drops it and clears `driving`.
        let mut driver = Driver { shared: Arc::clone(self), request: None, store_lock: None, unsaved: Vec::new() };
        let task = tokio::spawn(async move { driver.run().await });
        match task.await {
            Ok(outcome) => outcome,
            // The driver's guard has reported the exchange; the panic is the caller's too.
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // The runtime is shutting down; the guard has reported. The session says the rest.
            Err(_) => Ok(()),
        }
    }

    /// After a caller's own request: drives the refresh of a stale token if it is due and
    /// nobody else is doing it. Its outcome reaches the caller only through the session (a
    /// failed refresh backs off and leaves the valid token in service).
    pub(crate) async fn refresh_if_due(self: &Arc<Self>) {
        let due = {
            let mut st = self.lock();
            let due = !st.driving && st.session.wants_transmit(self.now());
            st.driving |= due;
            due
        };
        if due {
            let _ = self.drive().await;
        }
    }

    /// Reports the status of an API response that used a credential of `generation`.
    fn report(&self, generation: TokenGeneration, status: StatusCode, retry: bool) -> ApiVerdict {
        let verdict = {
            let mut st = self.lock();
            let now = self.now();
            if retry {
                // The resend's answer is final: it never condemns the token again.
                st.session.handle_retry_response(generation, status, now);
                ApiVerdict::Accept
            } else {
                st.session.handle_api_response(generation, status, now)
            }
        };
        // An account switch by masquerade waits for outstanding requests to come back.
        self.changed.notify_waiters();
        verdict
    }

    /// Reports that a credential of `generation` got no answer we may judge it by.
    fn release(&self, generation: TokenGeneration) {
        self.lock().session.release(generation);
        self.changed.notify_waiters();
    }

    /// Wakes every waiter (after a command such as an account switch changed the session).
    pub(crate) fn notify(&self) {
        self.changed.notify_waiters();
    }

    fn note_store_error(&self, error: &StoreError) {
        self.lock().last_store_error = Some(error.to_string());
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

/// Takes the session's pending events; returns the snapshots to save, oldest first.
fn drain_snapshots(session: &mut Session) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    while let Some(event) = session.poll_event() {
        if let Event::TokensUpdated(snapshot) = event {
            snapshots.push(snapshot);
        }
    }
    snapshots
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

/// Saves `snapshots` in order, then drops `lock`: the next process to take the store's lock
/// reads our newest tokens. Returns the last save's outcome.
fn save_all(store: &dyn SessionStore, snapshots: &[Snapshot], lock: Option<StoreGuard>) -> Result<(), StoreError> {
    let mut outcome = Ok(());
    for snapshot in snapshots {
        outcome = store.save(snapshot);
    }
    drop(lock);
    outcome
}

/// The driver of one exchange, owned by its task. Whatever way [`Driver::run`] ends —
/// success, error, panic, or the task being dropped — dropping it finishes the job.
struct Driver {
    shared: Arc<Shared>,
    /// The auth request sent and not yet reported.
    request: Option<RequestId>,
    /// Held from before `poll_transmit` until the answer is handled and saved.
    store_lock: Option<StoreGuard>,
    /// Snapshots drained from the session and not yet saved.
    unsaved: Vec<Snapshot>,
}

impl Driver {
    async fn run(&mut self) -> Result<(), Error> {
        let shared = Arc::clone(&self.shared);
        if let Some(store) = &shared.store {
            // The store protocol (auth-store docs): lock, load, adopt, then decide.
            let lock = blocking(store, |store| store.lock()).await.inspect_err(|e| shared.note_store_error(e))?;
            self.store_lock = Some(lock);
            let loaded = blocking(store, |store| store.load()).await;
            let mut st = shared.lock();
            match loaded {
                Ok(Some(snapshot)) => {
                    let _adopted = st.session.adopt(snapshot, shared.now());
                }
                Ok(None) => {}
                // We hold the lock and a session: carry on; our next save replaces the
                // unreadable file.
                Err(error) => st.last_store_error = Some(error.to_string()),
            }
        }
        let request = {
            let mut st = shared.lock();
            let Some(request) = st.session.poll_transmit(shared.now()) else {
                return Ok(()); // Adopted a usable token, or someone else's exchange is in flight.
            };
            self.request = Some(request.id());
            self.unsaved.extend(drain_snapshots(&mut st.session));
            request
        };
        // The refresh token is spent from here on: offer that to the store before the request
        // leaves (SPEC.md §3, rotation safety).
        self.persist().await;

        let answer = shared.send_auth(request.into_request()).await;

        {
            let mut st = shared.lock();
            let now = shared.now();
            if let Some(id) = self.request.take() {
                match &answer {
                    Some(response) => st.session.handle_response(id, response, now),
                    None => st.session.handle_failure(id, now),
                }
            }
            self.unsaved.extend(drain_snapshots(&mut st.session));
        }
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
        let snapshots = std::mem::take(&mut self.unsaved);
        let Some(store) = self.shared.store.clone() else {
            return;
        };
        if snapshots.is_empty() {
            return;
        }
        let lock = self.store_lock.take();
        let job = tokio::task::spawn_blocking(move || {
            let mut outcome = Ok(());
            for snapshot in &snapshots {
                outcome = store.save(snapshot);
            }
            (outcome, lock)
        });
        let outcome = match job.await {
            Ok((outcome, lock)) => {
                self.store_lock = lock;
                outcome
            }
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => Err(shutting_down()),
        };
        // A failed save keeps the token in memory; it is reported, never returned.
        self.shared.lock().last_store_error = outcome.err().map(|e| e.to_string());
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let shared = Arc::clone(&self.shared);
        let mut st = shared.lock();
        if let Some(id) = self.request.take() {
            // A panic, or the task dropped after the request left: it failed as far as
            // anyone will ever know.
            st.session.handle_failure(id, shared.now());
        }
        let mut unsaved = std::mem::take(&mut self.unsaved);
        unsaved.extend(drain_snapshots(&mut st.session));
        let lock = self.store_lock.take();
        st.driving = false;
        drop(st);
        match (&shared.store, unsaved.is_empty()) {
            (Some(store), false) => {
                // Only reached on an abnormal exit. Nothing can be awaited here: save on the
                // blocking pool if a runtime is there, else right here (not an async thread).
                let store = Arc::clone(store);
                let recorder = Arc::clone(&shared);
                let save = move || {
                    let outcome = save_all(&*store, &unsaved, lock);
                    recorder.lock().last_store_error = outcome.err().map(|e| e.to_string());
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(save)),
                    Err(_) => save(),
                }
            }
            _ => drop(lock),
        }
        shared.changed.notify_waiters();
    }
}

/// A credential handed out and not yet reported. Reports "no answer" on drop, so a transport
/// error, a cancelled request, or a panic in between never leaves the session counting a
/// request that is gone.
pub(crate) struct Outstanding {
    shared: Arc<Shared>,
    generation: TokenGeneration,
    reported: bool,
    /// The one resend after a 401/403: its answer is final.
    retry: bool,
}

impl Outstanding {
    pub(crate) fn new(shared: &Arc<Shared>, credential: &Credential) -> Self {
        Outstanding { shared: Arc::clone(shared), generation: credential.generation(), reported: false, retry: false }
    }

    /// The credential of the one resend after [`ApiVerdict::RetryOnce`].
    pub(crate) fn for_retry(mut self) -> Self {
        self.retry = true;
        self
    }

    /// Reports the response to a request sent to `sent`. A redirected response (its final
    /// URL differs) is not judged: its final hop may have gone out without our
    /// `Authorization` header, so its status says nothing about the token.
    pub(crate) fn response(self, response: &reqwest::Response, sent: &reqwest::Url) -> ApiVerdict {
        if response.url() != sent {
            ApiVerdict::Accept // `self` drops: released.
        } else {
            self.status(response.status())
        }
    }

    /// Reports an API status.
    pub(crate) fn status(mut self, status: StatusCode) -> ApiVerdict {
        self.reported = true;
        self.shared.report(self.generation, status, self.retry)
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if !self.reported {
            self.shared.release(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{Authorization, Config, Password};
    use auth_store::ManualClock;

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
        let mut waiter = pin!(shared.changed.notified());
        waiter.as_mut().enable();
        let driver = {
            let mut st = shared.lock();
            let now = shared.now();
            assert!(matches!(st.session.authorize(&uri, now).unwrap(), Authorization::Pending));
            let request = st.session.poll_transmit(now).expect("a login");
            st.driving = true;
            Driver { shared: Arc::clone(&shared), request: Some(request.id()), store_lock: None, unsaved: Vec::new() }
        };
        assert!(shared.lock().session.bearer().unwrap().is_exchange_in_flight());
        drop(driver);
        {
            let st = shared.lock();
            assert!(!st.driving);
            assert!(!st.session.bearer().unwrap().is_exchange_in_flight());
        }
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("the waiter was woken");
    }

    #[tokio::test]
    async fn an_outstanding_credential_dropped_unreported_is_released() {
        let shared = shared();
        let credential_generation = TokenGeneration(0);
        let mut waiter = pin!(shared.changed.notified());
        waiter.as_mut().enable();
        drop(Outstanding {
            shared: Arc::clone(&shared),
            generation: credential_generation,
            reported: false,
            retry: false,
        });
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("release wakes a pending masquerade switch");
    }
}
