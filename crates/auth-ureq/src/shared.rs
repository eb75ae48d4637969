//! What every clone of a [`Client`](crate::Client) and its middleware share: one session behind
//! one mutex, a condition variable for the callers waiting on an auth exchange, and the driver
//! that carries an exchange out.
//!
//! The rules (the run loop of `auth_core`'s crate docs, made thread-safe):
//!
//! - The mutex guards the [`Session`] only while it is asked or told something. It is never
//!   held during network I/O, nor while waiting for the store's lock (another process may hold
//!   that for a whole exchange). It *is* held while a new snapshot is saved, so that nobody uses
//!   a token before it has been offered to the store.
//! - One thread at a time is the *driver* (`State::driving`): it takes the store's lock (if
//!   any), adopts a newer stored snapshot, asks `poll_transmit` for the exchange, sends it and
//!   reports the answer. The core alone guarantees single flight between threads; the flag adds
//!   that only one thread of this process queues on the store's lock, so the others wait on the
//!   condition variable instead of on the file.
//! - Everyone else waits on the condition variable, with a timeout of `poll_timeout() - now`
//!   at most (so an exchange whose driver vanished is given up by the core's deadline and taken
//!   over), and is woken by `notify_all` when the driver finishes, fails or unwinds.
//! - The driver reports its request on every path, including a panic or an early return: a
//!   drop guard calls `handle_failure` for an unreported request, persists the events, releases
//!   the store's lock, clears the flag and wakes the waiters.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use auth_core::{ApiVerdict, AuthError, Event, MAX_AUTH_BODY, RequestId, Session, TokenGeneration, TokenState};
use auth_store::{Clock, SessionStore, StoreError, StoreGuard};
use http::{Request, Response, StatusCode, Uri};
use time::OffsetDateTime;
use ureq::Agent;

use crate::error::Error;

/// The longest a waiter sleeps before it looks at the session again, even when someone is
/// driving (a driver blocked on another process's store lock keeps everyone waiting; waking
/// once a minute to find that out costs nothing).
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A defensive pause for a state the core should never be in: `Pending`, nobody driving, no
/// deadline. It bounds what would otherwise be a spin.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Marks the requests this crate has already authorized (auth exchanges, `Client::send`, the
/// middleware's retry), so that an [`AuthMiddleware`](crate::AuthMiddleware) installed on the
/// same agent lets them through untouched.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassThrough;

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
    /// A thread of this process is driving an exchange (from before it takes the store's lock
    /// until it has reported the answer).
    driving: bool,
    last_store_error: Option<String>,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn SessionStore>>,
    /// Sends the auth exchanges.
    agent: Agent,
    /// The policy's `auth_timeout`, used as the transport timeout of auth requests so that the
    /// driver reports a hung request before the core gives up on it.
    auth_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Shared");
        // Never block in `Debug`: a caller may print the client while another thread drives.
        match self.state.try_lock() {
            Ok(state) => s.field("session", &state.session),
            Err(_) => s.field("session", &"<busy>"),
        };
        s.field("store", &self.store).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn SessionStore>>,
        agent: Agent,
        auth_timeout: Duration,
    ) -> Self {
        Shared {
            state: Mutex::new(State { session, driving: false, last_store_error: None }),
            changed: Condvar::new(),
            clock,
            store,
            agent,
            auth_timeout,
        }
    }

    pub(crate) fn agent(&self) -> &Agent {
        &self.agent
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
    /// and waiting while another caller drives one.
    pub(crate) fn obtain<T>(
        &self,
        stale: StaleToken,
        mut get: impl FnMut(&mut Session, OffsetDateTime) -> Result<Option<T>, AuthError>,
    ) -> Result<T, Error> {
        let mut st = self.lock();
        let mut refresh_first = stale == StaleToken::RefreshFirst;
        let mut idle_rounds = 0;
        loop {
            let now = self.now();
            if refresh_first && !st.driving && st.session.wants_transmit(now) {
                refresh_first = false;
                // A failure leaves the current token in service if it is still usable; `get`
                // below says whether it is.
                let _ = self.drive(st);
                st = self.lock();
                continue;
            }
            match get(&mut st.session, now)? {
                Some(value) => return Ok(value),
                None if !st.driving && st.session.wants_transmit(now) => {
                    self.drive(st)?;
                    st = self.lock();
                    idle_rounds = 0;
                }
                None => st = self.wait(st, now, &mut idle_rounds),
            }
        }
    }

    /// Waits until the driver wakes us or the session's next deadline passes.
    fn wait<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        now: OffsetDateTime,
        idle_rounds: &mut u32,
    ) -> MutexGuard<'a, State> {
        // The deadline is in the injected clock; the wait is in real time. With a manual clock
        // the timeout only bounds the wait: the wake-up comes from `notify_all`.
        let until_deadline = st
            .session
            .poll_timeout()
            .map(|deadline| deadline - now)
            .filter(|left| left.is_positive())
            .and_then(|left| Duration::try_from(left).ok());
        let someone_drives = st.driving || st.session.bearer().is_some_and(|b| b.is_exchange_in_flight());
        let timeout = match (until_deadline, someone_drives) {
            (Some(left), _) => left.min(MAX_WAIT),
            (None, true) => MAX_WAIT,
            (None, false) => {
                // Nothing will wake us, but a deadline may just have passed: look again at
                // once (a couple of times), then pause rather than spin.
                *idle_rounds += 1;
                if *idle_rounds <= 2 {
                    return st;
                }
                IDLE_WAIT
            }
        };
        let (mut st, _) = self.changed.wait_timeout(st, timeout).unwrap_or_else(PoisonError::into_inner);
        st.session.handle_timeout(self.now());
        st
    }

    /// The driver's job, for a caller that found the session wanting an exchange and nobody
    /// driving. Consumes the lock; returns with the state unlocked.
    fn drive(&self, mut st: MutexGuard<'_, State>) -> Result<(), Error> {
        st.driving = true;
        drop(st);
        let mut driver = Driver { shared: self, request: None, store_lock: None };
        driver.run()
        // `driver` drops here: it reports, persists, unlocks the store and wakes the waiters.
    }

    /// After a caller's own request: drives the refresh of a *stale* token (still valid, in
    /// its refresh window) if nobody else is doing it. Its outcome reaches the caller only
    /// through the session (a failed refresh backs off and leaves the valid token in service).
    /// A token that was rejected or has expired is left to the next caller, who needs it.
    pub(crate) fn refresh_if_due(&self) {
        let mut st = self.lock();
        let now = self.now();
        let stale =
            st.session.bearer().and_then(|b| b.token_state(now)).is_some_and(|state| state == TokenState::Stale);
        if stale && !st.driving && st.session.wants_transmit(now) {
            let _ = self.drive(st);
        }
    }

    /// Reports the status of an API response that used a credential of `generation`.
    pub(crate) fn report(&self, generation: TokenGeneration, status: StatusCode, retry: bool) -> ApiVerdict {
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
        self.changed.notify_all();
        verdict
    }

    /// Reports that a credential of `generation` got no answer we may judge it by.
    pub(crate) fn release(&self, generation: TokenGeneration) {
        self.lock().session.release(generation);
        self.changed.notify_all();
    }

    /// Wakes every waiter (after a command such as an account switch changed the session).
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    fn note_store_error(&self, error: &StoreError) {
        self.lock().last_store_error = Some(error.to_string());
    }

    /// Drains the session's events; each new snapshot is saved (the caller holds the store's
    /// lock, and the state's, so no request uses the new token before it is offered to the
    /// store). A failed save keeps the token in memory and is recorded, never returned.
    fn persist_events(&self, st: &mut State) {
        while let Some(event) = st.session.poll_event() {
            if let (Event::TokensUpdated(snapshot), Some(store)) = (&event, &self.store) {
                st.last_store_error = store.save(snapshot).err().map(|e| e.to_string());
            }
        }
    }

    /// Sends one auth request and reads its answer with the core's size limit. Redirects are
    /// not followed (a redirected login would carry the password elsewhere); a status is an
    /// answer, not an error.
    fn send_auth(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, ureq::Error> {
        let mut request = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(self.auth_timeout))
            .build();
        request.extensions_mut().insert(PassThrough);
        let mut response = self.agent.run(request)?;
        let mut body = Vec::new();
        let limit = u64::try_from(MAX_AUTH_BODY).unwrap_or(u64::MAX).saturating_add(1);
        response.body_mut().with_config().reader().take(limit).read_to_end(&mut body).map_err(ureq::Error::Io)?;
        let (parts, _) = response.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}

/// The driver of one exchange. Whatever way [`Driver::run`] ends — success, error or panic —
/// dropping it finishes the job.
struct Driver<'a> {
    shared: &'a Shared,
    /// The auth request sent and not yet reported.
    request: Option<RequestId>,
    /// Held from before `poll_transmit` until the answer is handled and saved.
    store_lock: Option<StoreGuard>,
}

impl Driver<'_> {
    fn run(&mut self) -> Result<(), Error> {
        let shared = self.shared;
        let mut st = match &shared.store {
            Some(store) => {
                // The store protocol (auth-store docs): lock, load, adopt, then decide.
                let lock = store.lock().inspect_err(|e| shared.note_store_error(e))?;
                self.store_lock = Some(lock);
                let loaded = store.load();
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
                st
            }
            None => shared.lock(),
        };
        let Some(request) = st.session.poll_transmit(shared.now()) else {
            return Ok(()); // Adopted a usable token, or someone else's exchange is in flight.
        };
        self.request = Some(request.id());
        // The refresh token is spent from here on: offer that to the store before the request
        // leaves (SPEC.md §3, rotation safety).
        shared.persist_events(&mut st);
        drop(st);

        let answer = shared.send_auth(request.into_request());

        let mut st = shared.lock();
        let now = shared.now();
        if let Some(id) = self.request.take() {
            match &answer {
                Ok(response) => st.session.handle_response(id, response, now),
                Err(_) => st.session.handle_failure(id, now),
            }
        }
        Ok(())
    }
}

impl Drop for Driver<'_> {
    fn drop(&mut self) {
        let shared = self.shared;
        let mut st = shared.lock();
        if let Some(id) = self.request.take() {
            // Unwinding, or an early return after the request left: it failed as far as
            // anyone will ever know.
            st.session.handle_failure(id, shared.now());
        }
        shared.persist_events(&mut st);
        // Saved first, unlocked second: the next process to lock the store reads our tokens.
        drop(self.store_lock.take());
        st.driving = false;
        drop(st);
        shared.changed.notify_all();
    }
}
