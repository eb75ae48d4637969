//! What both adapters share: how one session is shared among many callers.
//!
//! `auth-ureq` (threads, a [`Condvar`]) and `auth-reqwest` (tasks, a tokio `Notify`) run the
//! same protocol around one [`Session`] — the run loop of `auth_core`'s crate docs, made safe
//! for many callers. Everything in it that does not depend on *how* a caller waits or sends
//! lives here, once; each adapter keeps only its I/O (sending an auth request, calling the
//! store from a blocking thread or not) and its way of waiting.
//!
//! The rules:
//!
//! - A [`Coordinator`] holds the session behind a `std` mutex, which guards it only while it is
//!   asked or told something: never during network I/O, never while waiting for the store's lock
//!   (another process may hold that for a whole exchange), never across an `.await`.
//! - One caller at a time is the *driver* ([`State::is_driving`]): it takes the store's lock (if
//!   any), adopts a newer stored snapshot, asks `poll_transmit` for the exchange, sends it and
//!   reports the answer ([`Coordinator::begin_exchange`], [`Coordinator::finish_exchange`],
//!   [`Coordinator::end_exchange`]). The core alone guarantees single flight; the flag adds that
//!   only one caller of this process queues on the store's lock, so the others wait on the
//!   adapter's wake-up primitive instead of on the file.
//! - Everyone else waits ([`Next::Wait`]) with a timeout of `poll_timeout() - now` at most, so an
//!   exchange whose driver vanished is given up by the core's deadline and taken over, and is
//!   woken ([`Wake`]) when the driver finishes, fails or unwinds, and when a credential is
//!   reported back (a masquerade switch waits for those).
//! - The driver reports its request on every path: the adapter's drop guard calls
//!   [`Coordinator::end_exchange`], which reports an unanswered request as failed.
//! - A credential handed out is reported exactly once: [`Outstanding`] releases it on drop.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use auth_core::realtime::RealtimeAuthRequest;
use auth_core::{
    AccountId, ApiVerdict, AuthError, AuthRequest, Authorization, BearerToken, Credential, Event, Now, RequestId,
    Session, Snapshot, TokenGeneration, TokenState,
};
use auth_store::{SessionStore, StoreError, StoreGuard};
use http::{Response, StatusCode, Uri};

use crate::Clock;

/// The longest a waiter sleeps before it looks at the session again, even when someone is
/// driving (a driver blocked on another process's store lock keeps everyone waiting; waking
/// once a minute to find that out costs nothing).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A defensive pause for a state the core should never be in: `Pending`, nobody driving, no
/// deadline. It bounds what would otherwise be a spin.
pub const IDLE_WAIT: Duration = Duration::from_secs(1);

/// How an adapter wakes every caller waiting for the session to change.
///
/// Implemented for [`Condvar`] (`notify_all`); the async adapter wraps a tokio `Notify`
/// (`notify_waiters`, with waiters registered before they look at the session).
pub trait Wake: Send + Sync {
    /// Wakes all current waiters.
    fn wake_all(&self);
}

impl Wake for Condvar {
    fn wake_all(&self) {
        self.notify_all();
    }
}

/// What a caller that already got a usable token does about a refresh that is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleToken {
    /// Use the stale-but-valid token now; the caller drives the refresh after its request
    /// (`Client::send`): the request is never delayed by the refresh.
    UseNow,
    /// Refresh first when nobody else is, so the caller gets the newest token
    /// (`bearer_token`, `realtime_auth`: the token leaves the library).
    RefreshFirst,
}

/// The shared state, behind the coordinator's mutex.
#[derive(Debug)]
pub struct State {
    /// The session. Ask and tell it only with the lock held, and never across I/O.
    pub session: Session,
    /// A caller of this process is driving an exchange (from before it takes the store's lock
    /// until it has reported the answer).
    driving: bool,
    last_store_error: Option<String>,
}

impl State {
    /// Whether a caller of this process is driving an exchange.
    pub fn is_driving(&self) -> bool {
        self.driving
    }

    /// Records the outcome of a save: a failure is kept for `last_store_error`, a success
    /// clears it. A failed save keeps the token in memory; it is reported, never returned.
    pub fn record_save(&mut self, outcome: Result<(), StoreError>) {
        self.last_store_error = outcome.err().map(|e| e.to_string());
    }
}

/// One session shared by every clone of an adapter's client: the session and its driver flag
/// behind one mutex, the clock, the optional store, and the wake-up primitive `W`.
pub struct Coordinator<W> {
    state: Mutex<State>,
    wake: W,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn SessionStore>>,
}

impl<W> fmt::Debug for Coordinator<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Coordinator");
        // Never block in `Debug`: a caller may print the client while another one drives.
        match self.state.try_lock() {
            Ok(state) => s.field("session", &state.session),
            Err(_) => s.field("session", &"<busy>"),
        };
        s.field("store", &self.store).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl<W: Wake> Coordinator<W> {
    /// Shares `session`; `wake` is how waiters are woken.
    pub fn new(session: Session, clock: Arc<dyn Clock>, store: Option<Arc<dyn SessionStore>>, wake: W) -> Self {
        Coordinator { state: Mutex::new(State { session, driving: false, last_store_error: None }), wake, clock, store }
    }

    /// The wake-up primitive, for the adapter to wait on.
    pub fn waker(&self) -> &W {
        &self.wake
    }

    /// The store, if the session is persisted.
    pub fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.store.as_ref()
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> Now {
        self.clock.now()
    }

    /// The state, locked. A panic elsewhere never leaves the session half-updated (the core
    /// does not panic mid-transition), so a poisoned lock is taken over.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Why the last store operation failed, if it did.
    pub fn last_store_error(&self) -> Option<String> {
        self.lock().last_store_error.clone()
    }

    /// Records a store failure that is not returned to anyone else (taking the store's lock
    /// failed: the driver returns it to its own caller only).
    pub fn note_store_error(&self, error: &StoreError) {
        self.lock().last_store_error = Some(error.to_string());
    }

    /// Whether credentials may be attached to a request for `uri`.
    pub fn is_api_origin(&self, uri: &Uri) -> bool {
        self.lock().session.is_api_origin(uri)
    }

    /// Where the bearer token stands now.
    pub fn token_state(&self) -> Option<TokenState> {
        let st = self.lock();
        st.session.bearer().and_then(|b| b.token_state(self.now()))
    }

    /// Wakes every waiter (after a command such as an account switch changed the session).
    pub fn notify(&self) {
        self.wake.wake_all();
    }

    /// Starts moving the session to `account` and wakes the waiters. `Ok(true)`: a switch is
    /// now pending, wait for it with [`switch_done`]; `Ok(false)`: already on that account.
    pub fn start_switch(&self, account: AccountId) -> Result<bool, AuthError> {
        {
            let mut st = self.lock();
            let now = self.now();
            st.session.switch_account(account, now)?;
            if st.session.bearer().and_then(|b| b.pending_switch()).is_none() {
                return Ok(false);
            }
        }
        self.notify();
        Ok(true)
    }

    /// Reports that the RealTime server refused the token of `generation`: the session drops it,
    /// so the next [`realtime_auth`] refreshes first.
    pub fn report_realtime_rejection(&self, generation: TokenGeneration) {
        {
            let mut st = self.lock();
            let now = self.now();
            if let Some(bearer) = st.session.bearer_mut() {
                bearer.handle_realtime_rejection(generation, now);
            }
        }
        self.notify();
    }

    /// Reports the status of an API response that used a credential of `generation`.
    pub fn report(&self, generation: TokenGeneration, status: StatusCode, retry: bool) -> ApiVerdict {
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
        self.wake.wake_all();
        verdict
    }

    /// Reports that a credential of `generation` got no answer we may judge it by.
    pub fn release(&self, generation: TokenGeneration) {
        self.lock().session.release(generation);
        self.wake.wake_all();
    }

    /// After a caller's own request: claims the driver's role for the refresh of a *stale*
    /// token (still valid, in its refresh window) if it is due and nobody else drives. `true`:
    /// the caller must now drive it. A token that was rejected or has expired is left to the
    /// next caller, who needs it; the caller that just got its answer is not delayed for it.
    /// The outcome reaches callers only through the session (a failed refresh backs off and
    /// leaves the valid token in service).
    pub fn claim_after_request(&self) -> bool {
        let mut st = self.lock();
        let now = self.now();
        let allowed =
            st.session.bearer().and_then(|b| b.token_state(now)).is_some_and(|state| state == TokenState::Stale);
        let due = allowed && !st.driving && st.session.wants_transmit(now);
        st.driving |= due;
        due
    }

    /// The driver's first step, with the store's lock held (if there is a store) and `loaded`
    /// what the store held: adopts a newer stored snapshot (the store protocol: lock, load,
    /// adopt, then decide), then asks the session for its auth request.
    ///
    /// `None`: nothing to send (a usable token was adopted, or another exchange is in flight).
    /// Otherwise the request is the caller's to send and report with
    /// [`finish_exchange`](Self::finish_exchange); its refresh token is spent from here on, so
    /// the adapter saves [`Exchange::take_unsaved`] *before* the request leaves (SPEC.md §3,
    /// rotation safety).
    pub fn begin_exchange(
        &self,
        st: &mut State,
        exchange: &mut Exchange,
        loaded: Option<Result<Option<Snapshot>, StoreError>>,
    ) -> Option<AuthRequest> {
        match loaded {
            Some(Ok(Some(snapshot))) => {
                let _adopted = st.session.adopt(snapshot, self.now());
            }
            Some(Ok(None)) | None => {}
            // We hold the lock and a session: carry on; our next save replaces the
            // unreadable file.
            Some(Err(error)) => st.last_store_error = Some(error.to_string()),
        }
        let request = st.session.poll_transmit(self.now())?;
        exchange.request = Some(request.id());
        exchange.unsaved.extend(drain_snapshots(&mut st.session));
        Some(request)
    }

    /// The driver's step between saving the spent state and sending: reports that the request
    /// is handed to the transport now, so its deadline (and the transport's own timeout, which
    /// the adapter starts now too) runs from here, not from before the save (SPEC.md §3a).
    /// `false`: the session gave the request up meanwhile (the save outlasted the auth
    /// timeout): do not send it; there is nothing left to report for it.
    pub fn hand_off(&self, st: &mut State, exchange: &mut Exchange) -> bool {
        let Some(id) = exchange.request else {
            return false;
        };
        let go = st.session.handle_handoff(id, self.now());
        if !go {
            exchange.request = None;
        }
        go
    }

    /// The driver's second step: feeds the answer (`None`: no answer, a transport failure) and
    /// collects the new snapshots to save.
    pub fn finish_exchange<B: AsRef<[u8]>>(
        &self,
        st: &mut State,
        exchange: &mut Exchange,
        answer: Option<&Response<B>>,
    ) {
        let now = self.now();
        if let Some(id) = exchange.request.take() {
            match answer {
                Some(response) => st.session.handle_response(id, response, now),
                None => st.session.handle_failure(id, now),
            }
        }
        exchange.unsaved.extend(drain_snapshots(&mut st.session));
    }

    /// The driver's last step, on every path (called from its drop guard): an unreported
    /// request failed as far as anyone will ever know; the remaining snapshots are collected;
    /// the driver's role is given up. The adapter then saves what is unsaved, releases the
    /// store's lock — saved first, unlocked second, so the next process to lock the store
    /// reads our tokens — and wakes the waiters.
    pub fn end_exchange(&self, st: &mut State, exchange: &mut Exchange) {
        if let Some(id) = exchange.request.take() {
            st.session.handle_failure(id, self.now());
        }
        exchange.unsaved.extend(drain_snapshots(&mut st.session));
        st.driving = false;
    }

    /// Saves the exchange's unsaved snapshots right here, with the state locked: the blocking
    /// adapter's way, so that nobody uses a token before it has been offered to the store.
    pub fn save_locked(&self, st: &mut State, exchange: &mut Exchange) {
        let snapshots = exchange.take_unsaved();
        if let Some(store) = &self.store
            && !snapshots.is_empty()
        {
            st.record_save(save_all(&**store, &snapshots));
        }
    }
}

/// How long a driver waits for the store's lock (SPEC.md §3a). `required`: the caller has no
/// usable token without this exchange, so it waits up to the auth timeout, then fails with
/// [`StoreError::Busy`]. Otherwise (a refresh while the token is still valid) it does not wait
/// at all: whoever holds the lock is refreshing, and the valid token serves meanwhile.
pub fn store_lock_wait(required: bool, auth_timeout: Duration) -> Duration {
    if required { auth_timeout } else { Duration::ZERO }
}

/// Saves `snapshots` in order; returns the last save's outcome.
pub fn save_all(store: &dyn SessionStore, snapshots: &[Snapshot]) -> Result<(), StoreError> {
    let mut outcome = Ok(());
    for snapshot in snapshots {
        outcome = store.save(snapshot);
    }
    outcome
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

/// What a caller does next, after looking at the session ([`Obtain::next`]).
#[derive(Debug)]
pub enum Next<T> {
    /// The value asked for.
    Ready(T),
    /// Drive an exchange: the caller has been made the driver. `required`: its error is the
    /// caller's error; otherwise (a refresh before handing out a token) a failure leaves the
    /// current token in service if it is still usable, which the next round says.
    Drive {
        /// Whether the exchange's error is the caller's error.
        required: bool,
    },
    /// Wait for a wake-up, at most this long, then call `handle_timeout` and look again.
    Wait(Duration),
    /// Look again at once.
    Retry,
}

/// One caller's way through `obtain`: the decision of ready / drive / wait, round after round.
#[derive(Debug)]
pub struct Obtain {
    refresh_first: bool,
    idle_rounds: u32,
}

impl Obtain {
    /// A caller that gets its token per `stale`.
    pub fn new(stale: StaleToken) -> Self {
        Obtain { refresh_first: stale == StaleToken::RefreshFirst, idle_rounds: 0 }
    }

    /// Looks at the session (locked by the caller) and decides. `get` asks the session for the
    /// value: `Ok(None)` means an exchange must complete first. On [`Next::Drive`] the caller
    /// is the driver (`driving` is set under this same lock, so no two callers claim it).
    pub fn next<T>(
        &mut self,
        st: &mut State,
        now: Now,
        get: impl FnOnce(&mut Session, Now) -> Result<Option<T>, AuthError>,
    ) -> Result<Next<T>, AuthError> {
        if self.refresh_first && !st.driving && st.session.wants_transmit(now) {
            self.refresh_first = false;
            return Ok(self.drive(st, false));
        }
        Ok(match get(&mut st.session, now)? {
            Some(value) => Next::Ready(value),
            None if !st.driving && st.session.wants_transmit(now) => self.drive(st, true),
            None => self.wait(st, now),
        })
    }

    fn drive<T>(&mut self, st: &mut State, required: bool) -> Next<T> {
        st.driving = true;
        self.idle_rounds = 0;
        Next::Drive { required }
    }

    /// How long to wait for a wake-up: until the session's next deadline, capped by
    /// [`MAX_WAIT`]. The deadline is in the injected clock, the wait in real time: with a
    /// manual clock the timeout only bounds the wait, the wake-up comes from [`Wake`].
    fn wait<T>(&mut self, st: &State, now: Now) -> Next<T> {
        let until_deadline = st
            .session
            .poll_timeout()
            .map(|deadline| deadline - now.monotonic())
            .filter(|left| left.is_positive())
            .and_then(|left| Duration::try_from(left).ok());
        let someone_drives = st.driving || st.session.bearer().is_some_and(|b| b.is_exchange_in_flight());
        match (until_deadline, someone_drives) {
            (Some(left), _) => Next::Wait(left.min(MAX_WAIT)),
            (None, true) => Next::Wait(MAX_WAIT),
            (None, false) => {
                // Nothing will wake us, but a deadline may just have passed: look again at
                // once (a couple of times), then pause rather than spin.
                self.idle_rounds += 1;
                if self.idle_rounds <= 2 { Next::Retry } else { Next::Wait(IDLE_WAIT) }
            }
        }
    }
}

/// A credential for an API request to `uri` (`Client::send` and the middlewares).
pub fn credential(uri: &Uri) -> impl FnMut(&mut Session, Now) -> Result<Option<Credential>, AuthError> {
    move |session, now| {
        Ok(match session.authorize(uri, now)? {
            Authorization::Ready(credential) => Some(credential),
            Authorization::Pending => None,
        })
    }
}

/// A currently valid bearer token (`Client::bearer_token`).
pub fn bearer_token(session: &mut Session, now: Now) -> Result<Option<BearerToken>, AuthError> {
    match session.bearer_mut() {
        Some(bearer) => bearer.current_token(now),
        None => Err(AuthError::RequiresBearer),
    }
}

/// The first message of a RealTime connection (`Client::realtime_auth`).
pub fn realtime_auth(session: &mut Session, now: Now) -> Result<Option<RealtimeAuthRequest>, AuthError> {
    match session.bearer_mut() {
        Some(bearer) => bearer.realtime_auth(now),
        None => Err(AuthError::RequiresBearer),
    }
}

/// The end of a switch to `account` started by [`Coordinator::start_switch`]: `Some(())` once
/// it is done, the server's refusal if it failed.
pub fn switch_done(account: AccountId) -> impl FnMut(&mut Session, Now) -> Result<Option<()>, AuthError> {
    move |session, now| {
        let Some(bearer) = session.bearer_mut() else {
            return Err(AuthError::SwitchRequiresBearer);
        };
        if bearer.pending_switch() == Some(account) {
            // Still switching: `current_token` yields nothing while a switch is pending,
            // but reports what stops it (a backoff, a fatal error).
            return bearer.current_token(now).map(|_| None);
        }
        // The caller of the switch learns of a refusal here, which acknowledges it: the
        // session goes on serving the account it stayed on.
        match bearer.acknowledge_switch_error() {
            Some(error) => Err(error),
            None => Ok(Some(())),
        }
    }
}

/// What a driver holds between the steps of one exchange. The adapter's driver owns one and,
/// whatever way it ends, calls [`Coordinator::end_exchange`] from its `Drop`.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The auth request sent and not yet reported.
    request: Option<RequestId>,
    /// Held from before `poll_transmit` until the answer is handled and saved.
    store_lock: Option<StoreGuard>,
    /// Snapshots drained from the session and not yet saved.
    unsaved: Vec<Snapshot>,
}

impl Exchange {
    /// Nothing held yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the store's lock until it is taken back ([`take_store_lock`](Self::take_store_lock)).
    pub fn set_store_lock(&mut self, lock: Option<StoreGuard>) {
        self.store_lock = lock;
    }

    /// The store's lock, to release (or to carry along with a save).
    pub fn take_store_lock(&mut self) -> Option<StoreGuard> {
        self.store_lock.take()
    }

    /// The snapshots to save, oldest first.
    pub fn take_unsaved(&mut self) -> Vec<Snapshot> {
        std::mem::take(&mut self.unsaved)
    }
}

/// A credential handed out and not yet reported. Reports "no answer" on drop, so a transport
/// error, a cancelled request, or a panic in between never leaves the session counting a
/// request that is gone.
#[derive(Debug)]
pub struct Outstanding<'a, W: Wake> {
    coordinator: &'a Coordinator<W>,
    generation: TokenGeneration,
    reported: bool,
    /// The one resend after a 401/403: its answer is final.
    retry: bool,
}

impl<'a, W: Wake> Outstanding<'a, W> {
    /// Tracks `credential`, handed out by `coordinator`'s session.
    pub fn new(coordinator: &'a Coordinator<W>, credential: &Credential) -> Self {
        Outstanding { coordinator, generation: credential.generation(), reported: false, retry: false }
    }

    /// The credential of the one resend after [`ApiVerdict::RetryOnce`].
    pub fn for_retry(mut self) -> Self {
        self.retry = true;
        self
    }

    /// Reports a response. A `redirected` one is not judged: its final hop may have gone out
    /// without our `Authorization` header, so its status says nothing about the token.
    pub fn response(self, status: StatusCode, redirected: bool) -> ApiVerdict {
        if redirected {
            ApiVerdict::Accept // `self` drops: released.
        } else {
            self.status(status)
        }
    }

    /// Reports an API status.
    pub fn status(mut self, status: StatusCode) -> ApiVerdict {
        self.reported = true;
        self.coordinator.report(self.generation, status, self.retry)
    }
}

impl<W: Wake> Drop for Outstanding<'_, W> {
    fn drop(&mut self) {
        if !self.reported {
            self.coordinator.release(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use time::OffsetDateTime;

    use auth_core::{Config, Password};
    use auth_store::MemoryStore;

    use super::*;
    use crate::ManualClock;

    /// Counts wake-ups.
    #[derive(Debug, Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake_all(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl Count {
        fn get(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn coordinator(store: Option<Arc<dyn SessionStore>>) -> Coordinator<Count> {
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let session = Session::new(config, 1, clock.now()).unwrap();
        Coordinator::new(session, Arc::new(clock), store, Count::default())
    }

    fn grant() -> Response<Vec<u8>> {
        let body = r#"{"success":true,"token":"t1","tokenLifetime":3600,"refreshToken":"r1"}"#;
        Response::new(body.as_bytes().to_vec())
    }

    fn uri() -> Uri {
        "http://127.0.0.1:9/reports".parse().unwrap()
    }

    /// One caller becomes the driver; the next one, with nothing to wait for but the
    /// exchange, waits at most `MAX_WAIT` and is woken when the driver ends.
    #[test]
    fn one_caller_drives_the_others_wait_and_the_end_wakes_them() {
        let shared = coordinator(None);
        let uri = uri();
        let mut first = Obtain::new(StaleToken::UseNow);
        let mut second = Obtain::new(StaleToken::UseNow);
        let mut exchange = Exchange::new();
        {
            let mut st = shared.lock();
            let now = shared.now();
            assert!(matches!(first.next(&mut st, now, credential(&uri)).unwrap(), Next::Drive { required: true }));
            assert!(st.is_driving());
            assert!(matches!(second.next(&mut st, now, credential(&uri)).unwrap(), Next::Wait(MAX_WAIT)));
            assert!(shared.begin_exchange(&mut st, &mut exchange, None).is_some(), "a login");
        }
        let mut st = shared.lock();
        shared.finish_exchange(&mut st, &mut exchange, Some(&grant()));
        shared.end_exchange(&mut st, &mut exchange);
        assert!(!st.is_driving());
        assert!(matches!(second.next(&mut st, shared.now(), credential(&uri)).unwrap(), Next::Ready(_)));
    }

    /// A driver that ends without an answer reports the failure: the exchange is no longer in
    /// flight and the next caller may drive.
    #[test]
    fn an_unanswered_exchange_is_reported_as_failed_at_the_end() {
        let shared = coordinator(None);
        let mut exchange = Exchange::new();
        let mut st = shared.lock();
        let mut obtain = Obtain::new(StaleToken::UseNow);
        let now = shared.now();
        assert!(matches!(obtain.next(&mut st, now, credential(&uri())).unwrap(), Next::Drive { .. }));
        assert!(shared.begin_exchange(&mut st, &mut exchange, None).is_some());
        assert!(st.session.bearer().unwrap().is_exchange_in_flight());
        shared.end_exchange(&mut st, &mut exchange);
        assert!(!st.is_driving());
        assert!(!st.session.bearer().unwrap().is_exchange_in_flight());
    }

    /// The new tokens are saved under the state lock, and a stored snapshot is adopted before
    /// the session decides (no request then).
    #[test]
    fn saves_new_tokens_and_adopts_stored_ones() {
        let store = MemoryStore::new();
        let shared = coordinator(Some(Arc::new(store.clone())));
        let mut exchange = Exchange::new();
        let mut st = shared.lock();
        assert!(shared.begin_exchange(&mut st, &mut exchange, Some(Ok(None))).is_some());
        shared.finish_exchange(&mut st, &mut exchange, Some(&grant()));
        shared.save_locked(&mut st, &mut exchange);
        let saved = store.load().unwrap().expect("the new tokens were saved");
        drop(st);

        let other = coordinator(None);
        let mut exchange = Exchange::new();
        let mut st = other.lock();
        assert!(other.begin_exchange(&mut st, &mut exchange, Some(Ok(Some(saved)))).is_none(), "adopted");
        assert!(st.session.snapshot().is_some());
    }

    /// A credential dropped unreported is released, and the waiters are woken (a masquerade
    /// switch waits for it).
    #[test]
    fn an_outstanding_credential_dropped_unreported_is_released() {
        let shared = coordinator(None);
        let config = Config::basic("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let mut basic = Session::new(config, 1, OffsetDateTime::UNIX_EPOCH).unwrap();
        let Authorization::Ready(credential) = basic.authorize(&uri(), OffsetDateTime::UNIX_EPOCH).unwrap() else {
            panic!("basic is always ready")
        };
        drop(Outstanding::new(&shared, &credential));
        assert_eq!(shared.waker().get(), 1);
        let verdict = Outstanding::new(&shared, &credential).response(StatusCode::UNAUTHORIZED, true);
        assert_eq!(verdict, ApiVerdict::Accept, "a redirected answer is not judged");
        assert_eq!(shared.waker().get(), 2);
    }
}
