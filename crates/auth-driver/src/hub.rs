//! [`Hub`]: one [`Coordinator`] behind a mutex, with the clock, the store and a wake-up
//! primitive — the part of a driver that is neither its HTTP stack nor its way of waiting.
//!
//! It decides nothing: every decision is the coordinator's. The hub carries out what the
//! coordinator asks of the *store* (the same calls for every driver), reads the clock for every
//! call, holds the mutex only while the coordinator is asked or told something, and wakes the
//! waiters when the coordinator says so. Its drop guards report what a vanished caller or driver
//! left behind: [`Outstanding`] releases a credential whose answer never came, [`Driving`]
//! finishes an exchange whose driver stopped early (saves, then unlocks the store).

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use auth_core::{
    AccountId, AuthError, AuthRequest, Call, Coordinator, Drive, DriveStep, Gate, Ledger, Now, Ready, Receipt, Refusal,
    Scheme, Settled, Snapshot, Step, TokenGeneration, TokenState,
};
use auth_store::{SessionStore, StoreError, StoreGuard};
use http::{Response, StatusCode, Uri};

use crate::Clock;

/// How a driver wakes every caller waiting for the shared session to change, and where it may
/// block on the store outside a caller's own path.
pub trait Wake: Send + Sync + 'static {
    /// Wakes all current waiters.
    fn wake_all(&self);

    /// Runs `job`, which may block on the store, where blocking is allowed. Called only from a
    /// drop guard finishing what an interrupted driver left. Default: right here.
    fn run_blocking(&self, job: Box<dyn FnOnce() + Send>) {
        job();
    }
}

impl Wake for Condvar {
    fn wake_all(&self) {
        self.notify_all();
    }
}

/// The shared state: the coordinator and what the store last said.
struct State {
    coordinator: Coordinator,
    store_error: Option<Arc<StoreError>>,
}

/// The session every clone of a client shares, as its users see it: what it holds, where its
/// token stands, how its store fares (`client.session()` in both adapters). The driver's side
/// of it is the [`Hub`].
pub struct SharedSession {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn SessionStore>>,
    /// The coordinator's books of the credentials out, where plain answers are settled without
    /// the mutex.
    ledger: Arc<Ledger>,
    /// What the session admits to its credentials, which never changes: origins are checked,
    /// and requests' calls made, without the mutex.
    gate: Gate,
}

impl fmt::Debug for SharedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("SharedSession");
        // Never block in `Debug`: a caller may print the client while another one drives.
        match self.state.try_lock() {
            Ok(state) => s.field("coordinator", &state.coordinator),
            Err(_) => s.field("coordinator", &"<busy>"),
        };
        s.field("store", &self.store).field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl SharedSession {
    /// The current time, from the injected clock.
    pub fn now(&self) -> Now {
        self.clock.now()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The coordinator never panics mid-transition, so a poisoned lock is taken over.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the coordinator something (a getter: the session cannot be changed from here).
    pub fn read<R>(&self, ask: impl FnOnce(&Coordinator, Now) -> R) -> R {
        let now = self.now();
        ask(&self.lock().coordinator, now)
    }

    /// Asks the coordinator something that does not depend on the time.
    fn peek<R>(&self, ask: impl FnOnce(&Coordinator) -> R) -> R {
        ask(&self.lock().coordinator)
    }

    /// The bearer token state for persistence (`None` for Basic/Integrator and before the
    /// first login). It holds the tokens: treat it as a secret.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.peek(|coordinator| coordinator.session().snapshot())
    }

    /// Why the last store operation failed, if it did (cleared by the next successful save):
    /// the [`StoreError`] itself, to match on its kind; its message names the file, never its
    /// content. A failed save never discards the token held in memory: the client carries on,
    /// but a restarted process or another client sharing the store would not see the new token.
    /// Each failure is also a `tracing` event (warn, "session store failed").
    pub fn last_store_error(&self) -> Option<Arc<StoreError>> {
        self.lock().store_error.clone()
    }

    /// The authentication scheme.
    pub fn scheme(&self) -> Scheme {
        self.peek(|coordinator| coordinator.session().scheme())
    }

    /// The account in effect: the bearer token's account or the pinned one.
    pub fn account(&self) -> Option<AccountId> {
        self.peek(|coordinator| coordinator.session().account())
    }

    /// Where the bearer token stands now (`None` without a token, or for Basic/Integrator).
    pub fn token_state(&self) -> Option<TokenState> {
        self.read(|coordinator, now| coordinator.token_state(now))
    }

    /// Whether credentials go to requests for `uri` (the configured API origin). Takes no lock.
    pub fn is_api_origin(&self, uri: &Uri) -> bool {
        self.gate.admits(uri)
    }

    /// What the session admits to its credentials: make each API request's call with it
    /// ([`Gate::request`]). Takes no lock.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// Records the outcome of a save.
    fn note_store(&self, outcome: Result<(), StoreError>) {
        match outcome {
            Ok(()) => self.lock().store_error = None,
            Err(error) => self.store_failed("save", error),
        }
    }

    /// Records (and tells) that the store operation `operation` failed.
    fn store_failed(&self, operation: &'static str, error: StoreError) {
        tracing::warn!(operation, kind = error.kind(), %error, "session store failed");
        self.lock().store_error = Some(Arc::new(error));
    }
}

/// A copy of `error`, with the same message (an OS error keeps its kind and text, not its
/// code): `StoreError` is not `Clone`, and a failed lock is both kept and returned.
fn copy_of(error: &StoreError) -> StoreError {
    match error {
        StoreError::Io { operation, path, source } => StoreError::Io {
            operation,
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::Corrupt { path, reason } => StoreError::Corrupt { path: path.clone(), reason: reason.clone() },
        StoreError::Busy { path, waited } => StoreError::Busy { path: path.clone(), waited: *waited },
        StoreError::Insecure { path, problem } => StoreError::Insecure { path: path.clone(), problem: *problem },
        StoreError::TooLarge { path, limit } => StoreError::TooLarge { path: path.clone(), limit: *limit },
        StoreError::Fenced { store } => StoreError::Fenced { store: store.clone() },
        StoreError::Unavailable { store, operation, reason } => {
            StoreError::Unavailable { store: store.clone(), operation, reason: reason.clone() }
        }
        other => StoreError::Io {
            operation: "use",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

/// One session shared by every clone of a driver's client: the [`SharedSession`] (the
/// [`Coordinator`] behind one mutex, the clock it is told the time by, the store) and the
/// wake-up primitive `W`.
pub struct Hub<W> {
    session: SharedSession,
    wake: W,
}

impl<W> fmt::Debug for Hub<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.session.fmt(f)
    }
}

impl<W: Wake> Hub<W> {
    /// Shares `coordinator`.
    pub fn new(coordinator: Coordinator, clock: Arc<dyn Clock>, store: Option<Arc<dyn SessionStore>>, wake: W) -> Self {
        let ledger = Arc::clone(coordinator.ledger());
        let gate = coordinator.gate();
        let state = Mutex::new(State { coordinator, store_error: None });
        Hub { session: SharedSession { state, clock, store, ledger, gate }, wake }
    }

    /// The session, as its users see it.
    pub fn session(&self) -> &SharedSession {
        &self.session
    }

    /// The wake-up primitive, to wait on.
    pub fn waker(&self) -> &W {
        &self.wake
    }

    /// Asks the coordinator something (a getter).
    pub fn read<R>(&self, ask: impl FnOnce(&Coordinator, Now) -> R) -> R {
        self.session.read(ask)
    }

    /// Tells the coordinator something, then wakes the waiters if it says so.
    fn tell<R>(&self, input: impl FnOnce(&mut Coordinator, Now) -> R) -> R {
        let now = self.session.now();
        let (out, wake) = {
            let mut state = self.session.lock();
            let out = input(&mut state.coordinator, now);
            (out, state.coordinator.poll_wake())
        };
        if wake {
            self.wake.wake_all();
        }
        out
    }

    /// What `call`'s caller does next. A [`Step::Wait`] must be waited on a wake-up registered
    /// *before* this call (a tokio `Notify`); a `Condvar` uses [`poll_blocking`](Hub::poll_blocking).
    pub fn poll(&self, call: &mut Call) -> Step {
        self.tell(|coordinator, now| coordinator.poll_call(call, now))
    }

    /// Starts an account switch; its call yields the caller's own outcome.
    pub fn switch_account(&self, account: AccountId) -> Result<Call, AuthError> {
        self.tell(|coordinator, now| coordinator.switch_account(account, now))
    }

    /// Reports that the RealTime server refused the token of `generation`.
    pub fn report_realtime_rejection(&self, generation: TokenGeneration) {
        self.tell(|coordinator, now| coordinator.handle_realtime_rejection(generation, now));
    }

    /// Tracks the credential `receipt` until its answer is reported.
    #[inline]
    pub fn outstanding(&self, receipt: Receipt) -> Outstanding<'_, W> {
        Outstanding { hub: self, receipt: Some(receipt) }
    }
}

impl Hub<Condvar> {
    /// [`poll`](Hub::poll) for threads: waits out every [`Step::Wait`] on the condition
    /// variable, under the same lock as the look that decided it, so no wake-up is lost.
    pub fn poll_blocking(&self, call: &mut Call) -> Step {
        let mut state = self.session.lock();
        loop {
            let step = state.coordinator.poll_call(call, self.session.now());
            if state.coordinator.poll_wake() {
                self.wake.notify_all();
            }
            match step {
                Step::Wait(at_most) => {
                    state = self.wake.wait_timeout(state, at_most).unwrap_or_else(PoisonError::into_inner).0;
                }
                step => return step,
            }
        }
    }
}

/// A credential's receipt until its answer is reported; released on drop, so a transport error,
/// a cancelled request or a panic never leaves the session counting a request that is gone.
#[derive(Debug)]
pub struct Outstanding<'a, W: Wake> {
    hub: &'a Hub<W>,
    receipt: Option<Receipt>,
}

impl<W: Wake> Outstanding<'_, W> {
    /// Reports the answer (`redirected`: its final hop went out without our header, so it is not
    /// judged) and asks what the caller does next, in one look at the session: the one resend,
    /// the refresh of a stale token, or done. A plain answer to a fresh token's request is
    /// settled without the session's mutex ([`Ledger::settle`]): the call is then done. A
    /// [`Step::Wait`] must be waited as after [`Hub::poll`].
    #[inline]
    pub fn report(mut self, call: &mut Call, status: StatusCode, redirected: bool) -> Step {
        let Some(receipt) = self.receipt.take() else {
            return self.hub.poll(call);
        };
        let receipt = match self.hub.session.ledger.settle(call, receipt, status, redirected) {
            Ok(settled) => {
                self.hub.settled(settled);
                return Step::Ready(Ready::Response);
            }
            Err(receipt) => receipt,
        };
        self.hub.tell(|coordinator, now| {
            coordinator.handle_api_response(call, receipt, status, redirected, now);
            coordinator.poll_call(call, now)
        })
    }
}

impl<W: Wake> Drop for Outstanding<'_, W> {
    fn drop(&mut self) {
        if let Some(receipt) = self.receipt.take() {
            match self.hub.session.ledger.release(receipt) {
                Ok(settled) => self.hub.settled(settled),
                Err(receipt) => self.hub.tell(|coordinator, _| coordinator.release(receipt)),
            }
        }
    }
}

impl<W: Wake> Hub<W> {
    /// A credential came back without the mutex; if someone may wait for it, the coordinator
    /// hears of it and says whom to wake.
    fn settled(&self, settled: Settled) {
        if settled == Settled::Wake {
            self.tell(|coordinator, _| coordinator.handle_return());
        }
    }
}

/// The driving of one exchange: the [`Drive`] the coordinator handed out, the store's lock
/// while it is held, and the hub. Whatever way the driver stops — done, an error, a panic, a
/// cancelled task — dropping it finishes the job: an unanswered request is reported failed, the
/// new snapshots are saved, then the store is unlocked (in that order: the next process to lock
/// it reads our tokens), and the waiters are woken.
pub struct Driving<W: Wake> {
    hub: Arc<Hub<W>>,
    drive: Option<Drive>,
    lock: Option<StoreGuard>,
}

impl<W: Wake> fmt::Debug for Driving<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driving").field("drive", &self.drive).field("locked", &self.lock.is_some()).finish()
    }
}

impl<W: Wake> Driving<W> {
    /// Drives `drive`, handed out by `hub`'s coordinator.
    pub fn new(hub: Arc<Hub<W>>, drive: Drive) -> Self {
        Driving { hub, drive: Some(drive), lock: None }
    }

    /// The next step, as the coordinator gives it. After [`DriveStep::Done`], always `Done`.
    pub fn step(&mut self) -> DriveStep {
        let Some(drive) = self.drive.as_mut() else {
            return DriveStep::Done;
        };
        let step = self.hub.tell(|coordinator, now| coordinator.poll_drive(drive, now));
        if matches!(step, DriveStep::Done) {
            self.drive = None;
        }
        step
    }

    /// The next request to send, carrying out the store steps before it right here (they
    /// block); `None` once the exchange is over. `Err`: the caller needed this exchange and the
    /// store's lock could not be taken.
    pub fn next_request(&mut self) -> Result<Option<AuthRequest>, StoreError> {
        loop {
            match self.step() {
                DriveStep::Send(request) => return Ok(Some(request)),
                DriveStep::Done => return Ok(None),
                store_step => self.store_step(store_step)?,
            }
        }
    }

    /// Carries out one store step right here (it blocks). `Err`: the caller needed this
    /// exchange and the store's lock could not be taken; the drive is over.
    pub fn store_step(&mut self, step: DriveStep) -> Result<(), StoreError> {
        let (Some(store), Some(drive)) = (self.hub.session.store.clone(), self.drive.as_mut()) else {
            return Ok(());
        };
        match step {
            DriveStep::LockStore(wait) => match store.lock(wait) {
                Ok(lock) => {
                    self.lock = Some(lock);
                    let _ = self.hub.tell(|coordinator, _| coordinator.handle_store_lock(drive, true));
                }
                Err(error) => {
                    // The session keeps a copy: the caller may fail with the error itself.
                    self.hub.session.store_failed("lock", copy_of(&error));
                    if self.hub.tell(|coordinator, _| coordinator.handle_store_lock(drive, false)) {
                        return Err(error);
                    }
                }
            },
            DriveStep::LoadStore => {
                // We hold the lock and a session: carry on; our next save replaces it.
                let loaded = store.load().map_err(|error| self.hub.session.store_failed("load", error));
                self.hub.tell(|coordinator, now| coordinator.handle_store_load(drive, loaded, now));
            }
            DriveStep::Save(snapshot) => {
                let saved = store.save(&snapshot);
                // Refused (another host overtook us), or not recorded where a lease may have
                // lapsed meanwhile: the core decides (an unsent refresh is withdrawn).
                let refusal = match &saved {
                    Err(StoreError::Fenced { .. }) => Some(Refusal::Fenced),
                    Err(StoreError::Unavailable { .. }) => Some(Refusal::Unrecorded),
                    _ => None,
                };
                self.hub.session.note_store(saved);
                if let Some(refusal) = refusal {
                    self.hub.tell(|coordinator, now| coordinator.handle_store_refused(drive, refusal, now));
                }
            }
            DriveStep::UnlockStore => drop(self.lock.take()),
            DriveStep::Send(_) | DriveStep::Done => {}
        }
        Ok(())
    }

    /// Reports the answer to the request sent (`None`: no answer).
    pub fn answer(&mut self, answer: Option<&Response<Vec<u8>>>) {
        if let Some(drive) = self.drive.as_mut() {
            self.hub.tell(|coordinator, now| coordinator.handle_auth_response(drive, answer, now));
        }
    }
}

impl<W: Wake> Drop for Driving<W> {
    fn drop(&mut self) {
        let Some(mut drive) = self.drive.take() else {
            return;
        };
        // The coordinator learns at once that the drive is over (nothing here blocks), and hands
        // out what is left: saves, then the unlock.
        let mut saves = Vec::new();
        self.hub.tell(|coordinator, now| {
            coordinator.handle_drive_dropped(&mut drive, now);
            loop {
                match coordinator.poll_drive(&mut drive, now) {
                    DriveStep::Save(snapshot) => saves.push(snapshot),
                    DriveStep::Done => break,
                    _ => {} // Only the unlock is left, which dropping the guard does.
                }
            }
        });
        let (hub, lock) = (Arc::clone(&self.hub), self.lock.take());
        let Some(store) = hub.session.store.clone().filter(|_| !saves.is_empty() || lock.is_some()) else {
            return;
        };
        // Saving and unlocking may block (a file, a Redis round trip): where the driver allows
        // it, never on an async runtime's thread. Saved first, unlocked second, so the next
        // holder reads our tokens. If the job never runs (a runtime shutting down), the lock is
        // released all the same when it is dropped.
        self.hub.wake.run_blocking(Box::new(move || {
            for snapshot in &saves {
                hub.session.note_store(store.save(snapshot));
            }
            drop(lock);
        }));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use auth_core::{Config, Password, Session};
    use auth_store::MemoryStore;
    use time::OffsetDateTime;

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

    fn hub(store: &MemoryStore) -> Arc<Hub<Count>> {
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let session = Session::new(config, 1, clock.now()).unwrap();
        let store: Arc<dyn SessionStore> = Arc::new(store.clone());
        Arc::new(Hub::new(Coordinator::new(session, true), Arc::new(clock), Some(store), Count::default()))
    }

    fn grant() -> Response<Vec<u8>> {
        let body = r#"{"success":true,"token":"t1","tokenLifetime":3600,"refreshToken":"r1"}"#;
        Response::new(body.as_bytes().to_vec())
    }

    /// A driver that stops after its request left (a panic, a cancelled task): the exchange is
    /// reported failed, the store's lock released, the waiters woken, and the next caller drives.
    #[test]
    fn a_driving_dropped_after_its_send_finishes_the_exchange() {
        let store = MemoryStore::new();
        let hub = hub(&store);
        let mut call = Call::bearer_token();
        let Step::Drive(drive) = hub.poll(&mut call) else { panic!("a login to drive") };
        let mut driving = Driving::new(Arc::clone(&hub), drive);
        let request = driving.next_request().unwrap().expect("the login");
        assert!(hub.read(|c, _| c.is_driving()));
        let woken = hub.waker().0.load(Ordering::SeqCst);
        drop((driving, request));
        assert!(!hub.read(|c, _| c.is_driving()), "the drive is over");
        assert!(hub.waker().0.load(Ordering::SeqCst) > woken, "the waiters were woken");
        assert!(store.lock(Duration::ZERO).is_ok(), "the store's lock was released");
        // The exchange failed as far as anyone knows: the next caller learns it (a backoff).
        assert!(matches!(hub.poll(&mut call), Step::Failed(AuthError::Unavailable { .. })));
    }

    /// The answered exchange saves its tokens before it unlocks, and the call gets its value.
    #[test]
    fn an_answered_exchange_saves_then_unlocks() {
        let store = MemoryStore::new();
        let hub = hub(&store);
        let mut call = Call::bearer_token();
        let Step::Drive(drive) = hub.poll(&mut call) else { panic!("a login to drive") };
        let mut driving = Driving::new(Arc::clone(&hub), drive);
        let _login = driving.next_request().unwrap().expect("the login");
        driving.answer(Some(&grant()));
        assert!(driving.next_request().unwrap().is_none(), "one request per exchange");
        assert!(store.load().unwrap().is_some_and(|s| s.has_refresh_token()), "the new pair was saved");
        assert!(store.lock(Duration::ZERO).is_ok(), "and the lock released");
        assert!(matches!(hub.poll(&mut call), Step::Ready(auth_core::Ready::Token(_))));
        assert!(hub.session().last_store_error().is_none());
    }

    /// A store shared by hosts that refuses saves once `refuse` is set (a server gone, or
    /// another host that overtook this one).
    #[derive(Debug, Default)]
    struct Refusing {
        inner: MemoryStore,
        refuse: std::sync::atomic::AtomicBool,
    }

    impl SessionStore for Refusing {
        fn load(&self) -> Result<Option<Snapshot>, StoreError> {
            self.inner.load()
        }
        fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
            match self.refuse.load(Ordering::SeqCst) {
                true => Err(StoreError::Unavailable {
                    store: "redis://127.0.0.1:6379".into(),
                    operation: "save the session",
                    reason: "timed out".into(),
                }),
                false => self.inner.save(snapshot),
            }
        }
        fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
            self.inner.lock(wait)
        }
    }

    /// A refresh whose spent state the store cannot record is not sent: another host could
    /// not see the spend. The token in memory keeps serving; the failure is an event.
    #[test]
    fn a_refresh_whose_spent_state_cannot_be_recorded_is_not_sent() {
        let store = Arc::new(Refusing::default());
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let session = Session::new(config, 1, clock.now()).unwrap();
        let shared: Arc<dyn SessionStore> = store.clone();
        let hub = Arc::new(Hub::new(
            Coordinator::new(session, true),
            Arc::new(clock.clone()),
            Some(shared),
            Count::default(),
        ));
        let mut login = Call::bearer_token();
        let Step::Drive(drive) = hub.poll(&mut login) else { panic!("a login to drive") };
        let mut driving = Driving::new(Arc::clone(&hub), drive);
        let _login = driving.next_request().unwrap().expect("the login");
        driving.answer(Some(&grant()));
        assert!(driving.next_request().unwrap().is_none());
        drop(driving);

        store.refuse.store(true, Ordering::SeqCst);
        clock.advance(Duration::from_secs(3400)); // stale: a refresh is due, the token still valid
        let events = store_events(|| {
            let mut call = Call::request("http://127.0.0.1:9/reports".parse().unwrap(), true, None);
            let Step::Attach(credential) = hub.poll(&mut call) else { panic!("the valid token serves") };
            let receipt = credential.into_parts().2;
            let step = hub.outstanding(receipt).report(&mut call, http::StatusCode::OK, false);
            let Step::Drive(drive) = step else { panic!("then the refresh, by this caller: {step:?}") };
            let mut driving = Driving::new(Arc::clone(&hub), drive);
            assert!(driving.next_request().unwrap().is_none(), "the refresh must not leave");
        });
        assert_eq!(events.iter().map(|e| e[..2].to_vec()).collect::<Vec<_>>(), [["save", "unavailable"]]);
        assert!(store.inner.load().unwrap().is_some_and(|s| s.has_refresh_token()), "the store still holds the pair");
        let mut next = Call::request("http://127.0.0.1:9/reports".parse().unwrap(), true, None);
        assert!(matches!(hub.poll(&mut next), Step::Attach(_)), "the token in memory still serves");
    }

    /// A store whose loads and saves fail, and whose lock may be held elsewhere.
    #[derive(Debug)]
    struct Broken {
        busy: bool,
    }

    impl SessionStore for Broken {
        fn load(&self) -> Result<Option<Snapshot>, StoreError> {
            Err(StoreError::Corrupt { path: "/s/session.json".into(), reason: "not JSON (line 1, column 1)".into() })
        }
        fn save(&self, _: &Snapshot) -> Result<(), StoreError> {
            let source = std::io::Error::other("disk full");
            Err(StoreError::Io { operation: "write", path: "/s/session.json".into(), source })
        }
        fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
            match self.busy {
                true => Err(StoreError::Busy { path: "/s/session.json.lock".into(), waited: wait }),
                false => Ok(StoreGuard::new(())),
            }
        }
    }

    /// The "session store failed" events of `run`: (operation, kind, error) each.
    fn store_events(run: impl FnOnce()) -> Vec<[String; 3]> {
        use tracing::field::{Field, Visit};
        use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<[String; 3]>>>);
        #[derive(Default)]
        struct Fields(std::collections::BTreeMap<&'static str, String>);
        impl Visit for Fields {
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.insert(field.name(), value.to_owned());
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name(), format!("{value:?}"));
            }
        }
        impl<S: tracing::Subscriber> Layer<S> for Capture {
            fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
                let mut fields = Fields::default();
                event.record(&mut fields);
                if fields.0.get("message").is_some_and(|m| m == "session store failed") {
                    assert_eq!(*event.metadata().level(), tracing::Level::WARN);
                    let field = |name| fields.0.get(name).cloned().unwrap_or_default();
                    self.0.lock().unwrap().push([field("operation"), field("kind"), field("error")]);
                }
            }
        }
        let capture = Capture::default();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(capture.clone()), run);
        std::mem::take(&mut *capture.0.lock().unwrap())
    }

    fn hub_on(store: Broken) -> Arc<Hub<Count>> {
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let session = Session::new(config, 1, clock.now()).unwrap();
        Arc::new(Hub::new(Coordinator::new(session, true), Arc::new(clock), Some(Arc::new(store)), Count::default()))
    }

    /// A failed load and a failed save: the exchange goes on, each failure is an event naming
    /// the operation and the error's kind, and the last one is kept, typed.
    #[test]
    fn store_failures_are_events_and_the_last_is_kept_typed() {
        let hub = hub_on(Broken { busy: false });
        let events = store_events(|| {
            let mut call = Call::bearer_token();
            let Step::Drive(drive) = hub.poll(&mut call) else { panic!("a login to drive") };
            let mut driving = Driving::new(Arc::clone(&hub), drive);
            let _login = driving.next_request().unwrap().expect("the login, despite the load");
            driving.answer(Some(&grant()));
            assert!(driving.next_request().unwrap().is_none());
            assert!(matches!(hub.poll(&mut call), Step::Ready(auth_core::Ready::Token(_))));
        });
        let [load, save] = &events[..] else { panic!("{events:?}") };
        assert_eq!(load[..2], ["load", "corrupt"]);
        assert!(load[2].contains("/s/session.json does not hold a valid session snapshot"), "{load:?}");
        assert_eq!(save[..2], ["save", "io"]);
        assert!(save[2].contains("disk full"), "{save:?}");
        let kept = hub.session().last_store_error().expect("kept");
        assert!(matches!(*kept, StoreError::Io { operation: "write", .. }), "{kept:?}");
    }

    /// A lock held elsewhere fails the caller that needed the exchange, with the error itself;
    /// the session keeps a copy, and the event says so.
    #[test]
    fn a_busy_lock_is_returned_and_kept() {
        let hub = hub_on(Broken { busy: true });
        let events = store_events(|| {
            let mut call = Call::request("http://127.0.0.1:9/reports".parse().unwrap(), true, None);
            let Step::Drive(drive) = hub.poll(&mut call) else { panic!("a login to drive") };
            let error = Driving::new(Arc::clone(&hub), drive).next_request().unwrap_err();
            assert!(matches!(error, StoreError::Busy { .. }), "{error:?}");
        });
        let [lock] = &events[..] else { panic!("{events:?}") };
        assert_eq!(lock[..2], ["lock", "busy"]);
        let kept = hub.session().last_store_error().expect("kept");
        assert!(matches!(*kept, StoreError::Busy { .. }), "{kept:?}");
    }

    /// A store server that is down.
    #[derive(Debug)]
    struct Down;

    impl SessionStore for Down {
        fn load(&self) -> Result<Option<Snapshot>, StoreError> {
            Ok(None)
        }
        fn save(&self, _: &Snapshot) -> Result<(), StoreError> {
            Ok(())
        }
        fn lock(&self, _: Duration) -> Result<StoreGuard, StoreError> {
            Err(StoreError::Unavailable {
                store: "redis://127.0.0.1:6379/".into(),
                operation: "lock the session",
                reason: "connection refused".into(),
            })
        }
    }

    /// A lock that cannot be taken because the store's server is down keeps its kind in the
    /// copy the session keeps and in the event (not an `io` look-alike).
    #[test]
    fn an_unavailable_lock_keeps_its_kind_in_the_event_and_the_copy() {
        let config = Config::bearer("http://127.0.0.1:9", "u", Password::new("p")).build().unwrap();
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let session = Session::new(config, 1, clock.now()).unwrap();
        let hub = Arc::new(Hub::new(
            Coordinator::new(session, true),
            Arc::new(clock),
            Some(Arc::new(Down)),
            Count::default(),
        ));
        let events = store_events(|| {
            let mut call = Call::request("http://127.0.0.1:9/reports".parse().unwrap(), true, None);
            let Step::Drive(drive) = hub.poll(&mut call) else { panic!("a login to drive") };
            let error = Driving::new(Arc::clone(&hub), drive).next_request().unwrap_err();
            assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
        });
        let [lock] = &events[..] else { panic!("{events:?}") };
        assert_eq!(lock[..2], ["lock", "unavailable"]);
        let kept = hub.session().last_store_error().expect("kept");
        assert!(matches!(*kept, StoreError::Unavailable { operation: "lock the session", .. }), "{kept:?}");
    }
}
