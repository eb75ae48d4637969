//! The test-facing handle: start, configure while running, inspect, stop.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::clock::ServerClock;
use crate::endpoint::Endpoint;
use crate::faults::{FaultPlan, FaultQueues};
use crate::journal::{Journal, JournalEntry, JournalLimits};
use crate::knobs::{BearerAccountParam, ExpiredTokenStatus, Knobs, MasqueradeMode};
use crate::server;
use crate::sessions::{SessionInfo, Sessions};
use crate::state::{Core, Shared};
use crate::users::{AccountNumber, Directory, User};

/// Configures an emulator before it starts. Every setting has a runtime counterpart on
/// [`Emulator`] except the bind address, the masquerade path and the journal's limits.
#[derive(Debug, Clone)]
#[must_use = "call .start() to run the emulator"]
pub struct EmulatorBuilder {
    bind: SocketAddr,
    users: Directory,
    knobs: Knobs,
    clock_offset: i64,
    masquerade_path: String,
    faults: Vec<(Endpoint, FaultPlan)>,
    event_interval: Option<Duration>,
    journal: JournalLimits,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            users: Directory::demo(),
            knobs: Knobs::default(),
            clock_offset: 0,
            masquerade_path: "/auth/masquerade".into(),
            faults: Vec::new(),
            event_interval: None,
            journal: JournalLimits::default(),
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Listens on `127.0.0.1:port`.
    pub fn port(self, port: u16) -> Self {
        self.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// Replaces the user directory (default: [`Directory::demo`]).
    pub fn users(mut self, users: Directory) -> Self {
        self.users = users;
        self
    }

    /// Adds (or replaces) one user.
    pub fn user(mut self, user: User) -> Self {
        self.users.insert(user);
        self
    }

    /// Bearer token lifetime, reported as `tokenLifetime` in whole seconds (default 3600 s).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.knobs.token_lifetime = lifetime;
        self
    }

    /// Refresh-token lifetime (default 29 days). Each rotation issues a refresh token with a
    /// full lifetime (sliding expiry).
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.knobs.refresh_token_lifetime = lifetime;
        self
    }

    /// Shifts the reported `tokenExpiration`/`refreshTokenExpiration` by `seconds` (positive:
    /// the server's clock is ahead). Does not change when tokens actually expire.
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.clock_offset = seconds;
        self
    }

    /// The status for expired, superseded, revoked and unknown bearer tokens (default 401).
    pub fn expired_token_status(mut self, status: ExpiredTokenStatus) -> Self {
        self.knobs.expired_status = status;
        self
    }

    /// A delay added to every request (default none).
    pub fn latency(mut self, delay: Duration) -> Self {
        self.knobs.latency = delay;
        self
    }

    /// A delay for one endpoint, overriding [`latency`](Self::latency) there.
    pub fn endpoint_latency(mut self, endpoint: Endpoint, delay: Duration) -> Self {
        self.knobs.endpoint_latency.insert(endpoint, delay);
        self
    }

    /// The masquerade path (default `/auth/masquerade`).
    pub fn masquerade_path(mut self, path: impl Into<String>) -> Self {
        self.masquerade_path = path.into();
        self
    }

    /// What a successful masquerade answers (default [`MasqueradeMode::Rebind`]).
    pub fn masquerade_mode(mut self, mode: MasqueradeMode) -> Self {
        self.knobs.masquerade_mode = mode;
        self
    }

    /// How a bearer request's `account_id` is treated (default
    /// [`BearerAccountParam::MustMatch`]).
    pub fn bearer_account_param(mut self, rule: BearerAccountParam) -> Self {
        self.knobs.bearer_account_param = rule;
        self
    }

    /// Whether presenting an already-used refresh token revokes the whole session, as some
    /// servers do to contain token theft (default `false`).
    pub fn revoke_session_on_refresh_reuse(mut self, revoke: bool) -> Self {
        self.knobs.revoke_on_refresh_reuse = revoke;
        self
    }

    /// Scripts a fault from the start (see [`Emulator::inject`]).
    pub fn fault(mut self, endpoint: Endpoint, plan: impl Into<FaultPlan>) -> Self {
        self.faults.push((endpoint, plan.into()));
        self
    }

    /// Emits a `userevent`/`accountevent` every `period` to every socket with that stream
    /// started (default off; see [`Emulator::set_event_interval`]).
    pub fn event_interval(mut self, period: Duration) -> Self {
        self.event_interval = Some(period);
        self
    }

    /// Keeps only the newest `entries` journal entries (default: no limit on the number; the
    /// [byte budget](Self::journal_byte_budget) applies either way). The named counters
    /// ([`Emulator::count`], [`Emulator::logins_served`], ...) still count every request;
    /// [`Emulator::count_where`] and [`Emulator::journal`] see only the entries kept.
    pub fn journal_limit(mut self, entries: usize) -> Self {
        self.journal.entries = Some(entries);
        self
    }

    /// Caps what the journal keeps in memory at about `bytes` (default
    /// [`DEFAULT_JOURNAL_BYTE_BUDGET`](crate::DEFAULT_JOURNAL_BYTE_BUDGET), 8 MiB): when an
    /// entry would take it over, the oldest entries are dropped. An entry costs its own size
    /// plus its text, whose fields are cut to
    /// [`JOURNAL_FIELD_MAX_BYTES`](crate::JOURNAL_FIELD_MAX_BYTES) each; the queue's spare
    /// capacity can add up to as much again. `usize::MAX` keeps everything; `0` keeps nothing.
    /// The named counters count every request whatever is kept (see
    /// [`journal_limit`](Self::journal_limit)).
    pub fn journal_byte_budget(mut self, bytes: usize) -> Self {
        self.journal.bytes = bytes;
        self
    }

    /// Starts the emulator.
    ///
    /// # Panics
    ///
    /// If the address cannot be bound or no thread can be started; use
    /// [`try_start`](Self::try_start) to handle that.
    pub fn start(self) -> Emulator {
        self.try_start().unwrap_or_else(|e| panic!("auth-emulator failed to start: {e}"))
    }

    /// Starts the emulator: binds the socket on the calling thread (so the port is known and
    /// errors are reported here), then serves on a background thread with its own runtime.
    pub fn try_start(self) -> io::Result<Emulator> {
        let listener = std::net::TcpListener::bind(self.bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut faults = FaultQueues::default();
        for (endpoint, plan) in self.faults {
            faults.push(endpoint, plan);
        }
        let core = Core {
            users: self.users,
            sessions: Sessions::default(),
            clock: ServerClock::new(self.clock_offset),
            knobs: self.knobs,
            faults,
        };
        let shared = Arc::new(Shared::new(core, Journal::new(self.journal), self.masquerade_path, self.event_interval));
        let (shutdown, shutdown_rx) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name(format!("auth-emulator-{}", addr.port())).spawn(move || {
            runtime.block_on(server::run(listener, server_shared, shutdown_rx));
            // Whatever is still running after the grace period is cancelled here.
            runtime.shutdown_timeout(Duration::from_millis(200));
        })?;
        Ok(Emulator { shared, addr, shutdown: Some(shutdown), thread: Some(thread) })
    }
}

/// A running emulator. Dropping it shuts the server down and joins its thread.
///
/// All methods take `&self`, are cheap and thread-safe, and never block on the network, so
/// they work from plain `#[test]`s, from async tests, and from other threads (share it in an
/// `Arc`). Changes apply to the next request received.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator with the defaults on a free local port.
    ///
    /// # Panics
    ///
    /// If it cannot start (see [`EmulatorBuilder::try_start`]).
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// A builder for a configured emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The RealTime URL, `ws://127.0.0.1:PORT` (the socket is also served at `/realtime`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Shuts down now (same as dropping).
    pub fn shutdown(self) {}

    // ---- knobs -------------------------------------------------------------------------

    /// Sets the bearer token lifetime for tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.core().knobs.token_lifetime = lifetime;
    }

    /// Sets the refresh-token lifetime for refresh tokens issued from now on.
    pub fn set_refresh_token_lifetime(&self, lifetime: Duration) {
        self.shared.core().knobs.refresh_token_lifetime = lifetime;
    }

    /// Sets the reporting clock offset in seconds (see [`EmulatorBuilder::clock_offset`]).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.shared.core().clock.set_offset(seconds);
    }

    /// The reporting clock offset in seconds.
    pub fn clock_offset(&self) -> i64 {
        self.shared.core().clock.offset()
    }

    /// Moves the server's "now" forward: tokens expire as if `by` had passed, without anyone
    /// sleeping. Reported timestamps move too. Time never goes back.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.core().clock.advance(by);
    }

    /// The total amount the clock has been advanced.
    pub fn clock_advanced(&self) -> Duration {
        self.shared.core().clock.advanced()
    }

    /// Sets the status for unusable bearer tokens.
    pub fn set_expired_token_status(&self, status: ExpiredTokenStatus) {
        self.shared.core().knobs.expired_status = status;
    }

    /// Sets the delay added to every request (per-endpoint delays take precedence).
    pub fn set_latency(&self, delay: Duration) {
        self.shared.core().knobs.latency = delay;
    }

    /// Sets (`Some`) or clears (`None`) the delay of one endpoint.
    pub fn set_endpoint_latency(&self, endpoint: Endpoint, delay: Option<Duration>) {
        let mut core = self.shared.core();
        match delay {
            Some(d) => core.knobs.endpoint_latency.insert(endpoint, d),
            None => core.knobs.endpoint_latency.remove(&endpoint),
        };
    }

    /// Sets what a successful masquerade answers.
    pub fn set_masquerade_mode(&self, mode: MasqueradeMode) {
        self.shared.core().knobs.masquerade_mode = mode;
    }

    /// Sets how a bearer request's `account_id` is treated.
    pub fn set_bearer_account_param(&self, rule: BearerAccountParam) {
        self.shared.core().knobs.bearer_account_param = rule;
    }

    /// Sets whether reusing a refresh token revokes its session.
    pub fn set_revoke_session_on_refresh_reuse(&self, revoke: bool) {
        self.shared.core().knobs.revoke_on_refresh_reuse = revoke;
    }

    /// Starts (`Some`) or stops (`None`) the timer that emits RealTime events: every period,
    /// `{"type":"userevent","tick":N}` to each socket with the user stream started and
    /// `{"type":"accountevent","tick":N,"account_id":A}` to each with the account stream started.
    pub fn set_event_interval(&self, period: Option<Duration>) {
        self.shared.event_interval.send_replace(period);
    }

    /// Runs `hook` each time a request to `endpoint` arrives, before it is answered (after
    /// any latency): a test's way to let time pass on a manual clock while a request is on the
    /// wire, e.g. `emu.on_request(Endpoint::Refresh, move || clock.advance(slow))`. Replaces
    /// the endpoint's previous hook. Keep it short: it runs on the server's thread.
    pub fn on_request(&self, endpoint: Endpoint, hook: impl Fn() + Send + Sync + 'static) {
        self.shared.set_hook(endpoint, Some(Arc::new(hook)));
    }

    /// Removes the hook of `endpoint` set by [`on_request`](Self::on_request).
    pub fn clear_request_hook(&self, endpoint: Endpoint) {
        self.shared.set_hook(endpoint, None);
    }

    // ---- faults ------------------------------------------------------------------------

    /// Queues a fault for the next request(s) to `endpoint`; faults are applied in the order
    /// they were queued. `emu.inject(Endpoint::Refresh, Fault::Status(502).times(2))`.
    pub fn inject(&self, endpoint: Endpoint, plan: impl Into<FaultPlan>) {
        self.shared.core().faults.push(endpoint, plan.into());
    }

    /// How many requests to `endpoint` the queued faults will still hit.
    pub fn pending_faults(&self, endpoint: Endpoint) -> usize {
        self.shared.core().faults.pending(endpoint)
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.core().faults.clear();
    }

    /// Revokes every session of `user`: their bearer tokens get the expired-token status and
    /// their refresh tokens are dead. Returns how many sessions were revoked. Open RealTime
    /// sockets stay open (see [`close_realtime_of`](Self::close_realtime_of)).
    pub fn revoke_session_of(&self, user: &str) -> usize {
        self.shared.core().sessions.revoke_user(user)
    }

    /// Revokes every session; returns how many.
    pub fn revoke_all(&self) -> usize {
        self.shared.core().sessions.revoke_all()
    }

    // ---- users and sessions ------------------------------------------------------------

    /// Adds or replaces a user; returns the replaced one.
    pub fn add_user(&self, user: User) -> Option<User> {
        self.shared.core().users.insert(user)
    }

    /// Removes a user (their sessions are not revoked); returns it.
    pub fn remove_user(&self, username: &str) -> Option<User> {
        self.shared.core().users.remove(username)
    }

    /// A copy of the user directory.
    pub fn users(&self) -> Directory {
        self.shared.core().users.clone()
    }

    /// Every session opened so far, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.shared.core().sessions.snapshot()
    }

    // ---- journal -----------------------------------------------------------------------

    /// A copy of the journal entries kept, oldest first (see
    /// [`EmulatorBuilder::journal_byte_budget`]).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal().snapshot()
    }

    /// Empties the journal (so the counters restart from zero) and resets
    /// [`max_concurrent_auth`](Self::max_concurrent_auth) to the number in flight now.
    pub fn clear_journal(&self) {
        self.shared.journal().clear();
        self.shared.gauge.reset();
    }

    /// What the journal entries kept cost now, in bytes; never more than
    /// [`journal_byte_budget`](Self::journal_byte_budget).
    pub fn journal_bytes(&self) -> usize {
        self.shared.journal().bytes()
    }

    /// The journal's byte budget (see [`EmulatorBuilder::journal_byte_budget`]).
    pub fn journal_byte_budget(&self) -> usize {
        self.shared.journal().limits().bytes
    }

    /// How many entries were dropped from the journal to stay within its limits, since start
    /// or the last [`clear_journal`](Self::clear_journal). While it is 0,
    /// [`count_where`](Self::count_where) has seen every request.
    pub fn journal_dropped(&self) -> u64 {
        self.shared.journal().totals().dropped
    }

    /// Requests to `endpoint`, whatever their outcome: a running total since start or the last
    /// [`clear_journal`](Self::clear_journal), dropped entries included.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.journal().totals().per_endpoint.get(&endpoint).copied().unwrap_or(0)
    }

    /// Journal entries matching `pred`, among the entries kept (see
    /// [`journal_dropped`](Self::journal_dropped)).
    pub fn count_where(&self, pred: impl Fn(&JournalEntry) -> bool) -> usize {
        self.shared.journal().count(pred)
    }

    /// Logins that opened a session (including ones whose response a fault then lost); a
    /// running total like [`count`](Self::count).
    pub fn logins_served(&self) -> usize {
        self.shared.journal().totals().logins_served
    }

    /// Refreshes that rotated a session (including ones whose response a fault then lost); a
    /// running total like [`count`](Self::count).
    pub fn refreshes_served(&self) -> usize {
        self.shared.journal().totals().refreshes_served
    }

    /// Refresh requests that presented an already-consumed refresh token (SPEC §3 says a
    /// client never does this; a correct client keeps this at 0); a running total like
    /// [`count`](Self::count).
    pub fn consumed_refresh_token_reuses(&self) -> usize {
        self.shared.journal().totals().consumed_refresh_token_reuses
    }

    /// The most auth requests (login, refresh, masquerade) that were in progress at the same
    /// moment, from arrival (before latency) to response, since start or the last
    /// [`clear_journal`](Self::clear_journal).
    pub fn max_concurrent_auth(&self) -> usize {
        self.shared.gauge.max()
    }

    // ---- realtime ----------------------------------------------------------------------

    /// Sends a `userevent` to every socket of `user` whose user stream is started; returns how
    /// many sockets it was queued for. An object payload gets `"type":"userevent"` added; any
    /// other value is sent as `{"type":"userevent","data":payload}`. A socket whose client has
    /// stopped reading and whose queue is full does not get it and is closed instead (see the
    /// crate docs on RealTime).
    pub fn emit_user_event(&self, user: &str, payload: Value) -> usize {
        self.shared.realtime.emit_user(user, &payload)
    }

    /// Sends an `accountevent` to every socket bound to `account` (the session's account when
    /// the socket authenticated) whose account stream is started; returns how many it was
    /// queued for (a full queue closes the socket, as for
    /// [`emit_user_event`](Self::emit_user_event)).
    pub fn emit_account_event(&self, account: AccountNumber, payload: Value) -> usize {
        self.shared.realtime.emit_account(account, &payload)
    }

    /// The number of authenticated RealTime sockets.
    pub fn realtime_connections(&self) -> usize {
        self.shared.realtime.count()
    }

    /// Closes every authenticated RealTime socket of `user` with a close frame; returns how
    /// many.
    pub fn close_realtime_of(&self, user: &str) -> usize {
        self.shared.realtime.close(Some(user))
    }

    /// Closes every authenticated RealTime socket; returns how many.
    pub fn close_all_realtime(&self) -> usize {
        self.shared.realtime.close(None)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The runtime lives and dies on its own thread, so this is safe inside a tokio
            // runtime too (it only blocks this thread for the grace period at most).
            let _ = thread.join();
        }
    }
}
