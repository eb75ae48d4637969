//! The bearer session: login, refresh with rotation, account switches (SPEC.md §2–§5a).
//!
//! ```text
//!                 poll_transmit                 handle_response(200)
//!   (no token) ───────────────▶ Login in flight ─────────────────────▶ Fresh ──▶ Stale ──▶ Expired
//!        ▲                          │                                    │  time    │ time     │
//!        │            rejected: fatal│ transient: backoff                 │          │          │
//!        │                          ▼                                    ▼          ▼          ▼
//!        │                   CredentialsRejected              (in service)  Refresh in flight (token still
//!        │                                                                   attached until the cutoff)
//!        └── refresh rejected / refresh token spent or expired: log in again (or SessionExpired) ──┘
//! ```
//!
//! Invariants the code keeps, each relied on by the tests:
//! - at most one auth request is in flight (`in_flight` is an `Option`);
//! - a refresh token is moved into the request that spends it, so it can never be sent twice;
//! - a token is never handed out at or past its cutoff;
//! - a failure never replaces a token that is still in service;
//! - a rejected login is final.
//!
//! The session is split by concept; every file holds `impl` blocks or types of its own:
//! - here: the session's state, its getters (none changes anything) and the commands of API
//!   callers: authorize a request, report its answer (SPEC.md §5a), switch accounts (SPEC.md §4,
//!   with [`crate::switch`]), adopt or install a snapshot (SPEC.md §3a);
//! - [`exchange`]: the auth exchanges — which one is wanted, its request, what its answer
//!   means — and the wake-up time (SPEC.md §3, §4, §5a);
//! - [`realtime`]: the token of a RealTime connection (SPEC.md §6);
//! - [`crate::token`]: the token pair in service and its schedule (SPEC.md §3, §3a);
//! - [`crate::backoff`]: when to try again after failures (SPEC.md §3).

mod exchange;
mod realtime;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use http::{StatusCode, Uri};
use time::OffsetDateTime;

use crate::backoff::Backoff;
use crate::clock::{Now, Timeline, from_unix_nanos};
use crate::config::{AccountId, AccountSwitch, BaseUrl, Config, RefreshPolicy};
use crate::error::AuthError;
use crate::request::{
    ApiVerdict, Authorization, Credential, Event, Issued, Ledger, Receipt, RetryPermit, TokenGeneration,
};
use crate::rng::Rng;
use crate::secret::Password;
use crate::snapshot::{Owner, Snapshot};
use crate::switch::{Standing, SwitchState, SwitchTicket, Switches};
use crate::token::{TokenState, Tokens};
use crate::trace;
use exchange::{InFlight, Wanted};

/// A bearer-token session: the state machine behind [`Session`](crate::Session) for
/// [`Scheme::Bearer`](crate::Scheme::Bearer). Its methods are documented on `Session`.
pub struct BearerSession {
    base: BaseUrl,
    /// Whose session this is; every snapshot says so, and only ours are restored or adopted.
    owner: Owner,
    password: Option<Password>,
    policy: RefreshPolicy,
    switch_strategy: AccountSwitch,
    clock: Timeline,
    rng: Rng,
    /// The token in service, the unspent refresh token, the generation.
    tokens: Tokens,
    /// The account the token is bound to; `None` means the user's default account.
    account: Option<AccountId>,
    /// Account switches: the one under way, a refusal not yet collected, the tickets issued.
    switches: Switches,
    in_flight: Option<InFlight>,
    next_id: u64,
    /// After transient failures, or too many tokens stale on arrival: when to try again.
    backoff: Backoff,
    fatal: Option<AuthError>,
    /// Credentials handed out whose API answer has not come back yet, shared with their
    /// holders so that a plain answer is settled without the session ([`Ledger::settle`]).
    issued: Issued,
    events: VecDeque<Event>,
}

impl fmt::Debug for BearerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = self.clock.now();
        f.debug_struct("BearerSession")
            .field("origin", &self.base.origin())
            .field("username", &self.owner.username)
            .field("has_password", &self.password.is_some())
            .field("account", &self.account)
            .field("generation", &self.tokens.generation())
            .field("token_state", &self.tokens.token().map(|t| (t.schedule.state(now), t.invalidated)))
            .field("has_refresh_token", &self.tokens.refresh().is_some())
            .field("in_flight", &self.in_flight.as_ref().map(|f| (f.id, f.exchange)))
            .field("switching_to", &self.switches.pending().map(|s| s.account))
            .field("backoff", &self.backoff.error())
            .field("fatal", &self.fatal)
            .finish_non_exhaustive()
    }
}

impl BearerSession {
    pub(crate) fn new(config: Config, seed: u64, now: Now) -> Self {
        let owner = Owner { origin: config.base.canonical_origin(), username: config.username, pinned: config.account };
        BearerSession {
            base: config.base,
            owner,
            password: config.password,
            policy: config.policy,
            switch_strategy: config.account_switch,
            clock: Timeline::new(now),
            rng: Rng::new(seed),
            tokens: Tokens::new(),
            account: config.account,
            switches: Switches::new(),
            in_flight: None,
            next_id: 0,
            backoff: Backoff::new(),
            fatal: None,
            issued: Issued::new(),
            events: VecDeque::new(),
        }
    }

    // ----- getters -------------------------------------------------------------------------

    /// The configured base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// Whether `poll_transmit` would emit an auth request at `now`. A getter: it changes
    /// nothing (an exchange past its deadline counts as given up, as `poll_transmit` would find).
    pub fn wants_transmit(&self, now: impl Into<Now>) -> bool {
        let now = from_unix_nanos(now.into().monotonic_nanos().max(self.clock.now_nanos()));
        let given_up = self.in_flight.as_ref().is_some_and(|f| f.deadline <= now);
        !given_up && matches!(self.next_exchange(now), Wanted::Send(_))
    }

    /// The account the current token is bound to (`None`: the user's default account).
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// The generation of the current token (0 before the first login).
    pub fn generation(&self) -> TokenGeneration {
        self.tokens.generation()
    }

    /// The current token's state at `now`, or `None` without a token in service.
    pub fn token_state(&self, now: impl Into<Now>) -> Option<TokenState> {
        let now = now.into().monotonic_nanos().max(self.clock.now_nanos());
        self.tokens.valid().map(|t| t.schedule.state_at(now))
    }

    /// Whether an auth request is in flight.
    pub fn is_exchange_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The account a requested switch is heading for, while it runs.
    pub fn pending_switch(&self) -> Option<AccountId> {
        self.switches.pending().map(|s| s.account)
    }

    /// The refusal of an account switch that its caller has not collected yet
    /// ([`poll_switch`](Self::poll_switch)): until then every request fails with it.
    pub fn switch_refusal(&self) -> Option<&AuthError> {
        self.switches.refusal()
    }

    /// The error that ended this session for good, if any.
    pub fn fatal_error(&self) -> Option<&AuthError> {
        self.fatal.as_ref()
    }

    /// A snapshot of the token state for persistence, if a token is held. Its instants are
    /// in wall-clock time, by the latest reading of the clocks (SPEC.md §3a).
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.tokens.snapshot(&self.owner, self.account, &self.clock)
    }

    /// The refresh policy.
    pub(crate) fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// Whose session this is.
    pub(crate) fn owner(&self) -> &Owner {
        &self.owner
    }

    // ----- commands ------------------------------------------------------------------------

    #[inline]
    pub(crate) fn authorize(&mut self, uri: &Uri, now: Now) -> Result<Authorization, AuthError> {
        if !self.base.same_origin(uri) {
            return Err(AuthError::ForeignOrigin);
        }
        // The fast path of nearly every request, integers only: a token in service, nothing in
        // flight (so no deadline to check), no failure, no switch.
        let now_nanos = self.clock.observe(now);
        if self.in_flight.is_none()
            && self.fatal.is_none()
            && matches!(self.switches.state, SwitchState::Idle)
            && let Some(credential) = self.hand_out(now_nanos)
        {
            return Ok(Authorization::Ready(credential));
        }
        Ok(match self.credential_slow(now)? {
            Some(credential) => Authorization::Ready(credential),
            None => Authorization::Pending,
        })
    }

    /// The fast path of [`authorize`](Self::authorize) alone: the credential when nothing is
    /// going on (`None`: ask `authorize`, which decides the rest).
    #[inline]
    pub(crate) fn ready_credential(&mut self, uri: &Uri, now: Now) -> Option<Credential> {
        if !self.base.same_origin(uri) {
            return None;
        }
        let now_nanos = self.clock.observe(now);
        if self.in_flight.is_none() && self.fatal.is_none() && matches!(self.switches.state, SwitchState::Idle) {
            return self.hand_out(now_nanos);
        }
        None
    }

    /// [`ready_credential`](Self::ready_credential) for a request its gate admitted.
    #[inline]
    pub(crate) fn ready_credential_admitted(&mut self, now: Now) -> Option<Credential> {
        let now_nanos = self.clock.observe(now);
        if self.in_flight.is_none() && self.fatal.is_none() && matches!(self.switches.state, SwitchState::Idle) {
            return self.hand_out(now_nanos);
        }
        None
    }

    /// [`authorize`](Self::authorize) for a request its gate admitted.
    pub(crate) fn authorize_admitted(&mut self, now: Now) -> Result<Authorization, AuthError> {
        Ok(match self.credential(now)? {
            Some(credential) => Authorization::Ready(credential),
            None => Authorization::Pending,
        })
    }

    /// The current credential, or `None` while an exchange must complete first.
    pub(crate) fn credential(&mut self, now: Now) -> Result<Option<Credential>, AuthError> {
        let now_nanos = self.clock.observe(now);
        if self.in_flight.is_none()
            && self.fatal.is_none()
            && matches!(self.switches.state, SwitchState::Idle)
            && let Some(credential) = self.hand_out(now_nanos)
        {
            return Ok(Some(credential));
        }
        self.credential_slow(now)
    }

    /// [`credential`](Self::credential) when something is going on.
    #[inline(never)]
    fn credential_slow(&mut self, now: Now) -> Result<Option<Credential>, AuthError> {
        let now = self.observe(now);
        if let Some(fatal) = &self.fatal {
            return Err(fatal.clone());
        }
        if let Some(refusal) = self.switches.refusal() {
            return Err(refusal.clone());
        }
        if matches!(self.switches.state, SwitchState::Idle)
            && let Some(credential) = self.hand_out(self.clock.now_nanos())
        {
            return Ok(Some(credential));
        }
        if self.in_flight.is_some() {
            return Ok(None);
        }
        if let Some(error) = self.backoff.active_at(now) {
            return Err(error.clone());
        }
        if self.switches.pending().is_some() {
            // The switch exchange runs (or waits for old-account requests to drain) first.
            return Ok(None);
        }
        match self.decide(now) {
            Some(_) => Ok(None),
            None => Err(self.fatal.clone().unwrap_or(AuthError::SessionExpired)),
        }
    }

    /// The token in service as a credential, if it may still be attached at `now_nanos`.
    #[inline]
    fn hand_out(&mut self, now_nanos: i64) -> Option<Credential> {
        // A fresh token's plain answer needs nothing from the session: a stale one's caller
        // drives the refresh after its answer (`Coordinator::poll_call`).
        let (token, quiet) = self.tokens.usable_at(now_nanos)?;
        let receipt = Receipt { generation: token.generation, ledger: self.issued.count_out(), flags: u8::from(quiet) };
        Some(Credential { header: token.header.clone(), account: self.account, account_param: false, receipt })
    }

    /// Starts moving the session to `account` (SPEC.md §4). A later switch supersedes this
    /// one; the ticket's caller learns which happened from [`poll_switch`](Self::poll_switch).
    pub(crate) fn switch_account(&mut self, account: AccountId, now: Now) -> Result<SwitchTicket, AuthError> {
        let now = self.observe(now);
        if let Some(fatal) = &self.fatal {
            return Err(fatal.clone());
        }
        let settled = self.switches.pending().is_none();
        let in_force = trace::account(self.account);
        if settled && self.account == Some(account) && self.tokens.token().is_some() {
            // Already there: done at once (and a refusal not yet collected is acknowledged).
            tracing::info!(account = account.0, in_force, "account switch requested");
            tracing::info!(account = account.0, generation = self.tokens.generation().as_u64(), "account switch done");
            let ticket = self.switches.issue(account, None);
            self.note_switching();
            return Ok(ticket);
        }
        if self.switch_strategy == AccountSwitch::Relogin && self.password.is_none() {
            return Err(AuthError::PasswordRequired);
        }
        tracing::info!(account = account.0, in_force, "account switch requested");
        let ticket = self.switches.issue(account, Some(now));
        self.note_switching();
        Ok(ticket)
    }

    /// How the switch of `ticket` stands: `None` while it (or a later switch that supersedes
    /// it) runs; then done on its account, refused, or superseded, naming the account in force.
    /// While it runs, an error that stops it for now (a backoff) or for good is returned too.
    pub fn poll_switch(&mut self, ticket: &SwitchTicket, now: impl Into<Now>) -> Option<Result<AccountId, AuthError>> {
        let now = self.observe(now.into());
        if let Some(fatal) = &self.fatal {
            return Some(Err(fatal.clone()));
        }
        let requested = ticket.account();
        match self.switches.standing(ticket) {
            Standing::Running => self.backoff.active_at(now).map(|error| Err(error.clone())),
            Standing::Refused(error) => Some(Err(error)),
            // Done, unless the session has moved since (it adopted a session a sharer of its
            // store holds); a later switch may have brought it where this caller wanted anyway.
            Standing::Done | Standing::Superseded if self.account == Some(requested) => Some(Ok(requested)),
            Standing::Done | Standing::Superseded => {
                let in_force = self.account;
                tracing::info!(
                    requested = requested.0,
                    in_force = trace::account(in_force),
                    "account switch superseded"
                );
                Some(Err(AuthError::SwitchSuperseded { requested, in_force }))
            }
        }
    }

    pub(crate) fn handle_api_response(&mut self, receipt: Receipt, status: StatusCode) -> ApiVerdict {
        let _watched = self.issued.ledger.take_back(&receipt);
        // SPEC.md §5a: 401 and 403 both mean "maybe expired"; the resend's answer is final, so
        // it never condemns a token twice.
        let rejected = crate::request::rejects(status);
        if rejected {
            let (generation, resend) = (receipt.generation.as_u64(), receipt.is_retry());
            tracing::info!(status = status.as_u16(), generation, resend, "API rejected the token");
        }
        if receipt.is_retry() || !rejected {
            return ApiVerdict::Accept;
        }
        // Only the current generation is invalidated; a newer token already replaced an older one.
        self.tokens.invalidate(receipt.generation);
        ApiVerdict::RetryOnce(RetryPermit { _private: () })
    }

    pub(crate) fn release(&mut self, receipt: Receipt) {
        let _watched = self.issued.ledger.take_back(&receipt);
    }

    /// The books of the credentials out.
    pub(crate) fn ledger(&self) -> &Arc<Ledger> {
        &self.issued.ledger
    }

    /// Credentials handed out and not back yet.
    pub(crate) fn outstanding(&self) -> u64 {
        self.issued.outstanding()
    }

    /// Tells the books whether a switch is under way, whenever that may have changed: while one
    /// is, a credential settled without the session says so, to wake who waits for it.
    pub(crate) fn note_switching(&self) {
        self.issued.ledger.watch(self.switches.pending().is_some());
    }

    /// Adopts what another session sharing the store wrote: a newer token pair, or the spend of
    /// the refresh token we hold. A snapshot of another owner is never adopted (SPEC.md §3a).
    pub(crate) fn adopt(&mut self, snapshot: Snapshot, now: Now) -> bool {
        let now = self.observe(now);
        if self.in_flight.is_some() || snapshot.owner != self.owner {
            return false;
        }
        if snapshot.generation > self.tokens.generation() || self.tokens.token().is_none() {
            let previous_generation = self.tokens.generation().as_u64();
            if self.install_snapshot(snapshot, now, false) {
                let (generation, account) = (self.tokens.generation().as_u64(), trace::account(self.account));
                tracing::info!(generation, previous_generation, account, "stored session adopted");
            }
            return true;
        }
        // Our very token, stored without its refresh token: another sharer has spent it (and
        // perhaps lost the answer). The spend is a state change every sharer must see: never
        // present that refresh token again (SPEC.md §3, rotation safety).
        let spent = self.tokens.learn_spent(&snapshot);
        if spent {
            let generation = self.tokens.generation().as_u64();
            tracing::info!(generation, "stored session shows our refresh token spent: it will not be sent");
        }
        spent
    }

    /// Makes memory what the store holds, after the store refused a write of ours (fencing):
    /// the store is the truth then, whatever the generations say, and holding on to a pair it
    /// does not have would, at our next exchange, overwrite the pair another host saved under
    /// its lease (the lease model, `model/lease.pml`, shows both). `None`: the store holds no
    /// session, and neither do we then. Only on our account: a session on another would undo,
    /// behind its caller's back, a switch this host has just made; the next exchange's load
    /// settles that. Whether memory changed.
    pub(crate) fn replace_from_store(&mut self, stored: Option<Snapshot>, now: Now) -> bool {
        let now = self.observe(now);
        if self.in_flight.is_some() {
            return false;
        }
        let previous_generation = self.tokens.generation().as_u64();
        match stored {
            Some(snapshot) if snapshot.owner != self.owner => return false,
            Some(snapshot) if snapshot.account != self.account && self.tokens.token().is_some() => return false,
            Some(snapshot) => {
                if !self.install_snapshot(snapshot, now, true) {
                    return false;
                }
            }
            None => self.tokens.forget(),
        }
        let (generation, account) = (self.tokens.generation().as_u64(), trace::account(self.account));
        tracing::info!(
            generation,
            previous_generation,
            account,
            "session replaced by the stored one after a refused write"
        );
        true
    }

    /// Installs a snapshot's state; `now` is the monotonic instant of the latest reading;
    /// `exact`: see [`Tokens::install_snapshot`]. Whether it did (a token that cannot be a
    /// header changes nothing).
    pub(crate) fn install_snapshot(&mut self, snapshot: Snapshot, now: OffsetDateTime, exact: bool) -> bool {
        // The snapshot says which account its token serves (None: the user's default).
        let account = snapshot.account;
        let installed =
            self.tokens.install_snapshot(snapshot, now, &self.clock, &self.policy, &mut self.rng, exact).is_ok();
        if installed {
            self.account = account;
            self.backoff.reset();
        }
        installed
    }
}
