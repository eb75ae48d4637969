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

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use http::{Response, StatusCode, Uri};
use time::OffsetDateTime;

use crate::backoff::Backoff;
use crate::clock::{Clock, Now, later};
use crate::config::{AccountId, AccountSwitch, BaseUrl, Config, RefreshPolicy};
use crate::error::{AuthError, TransientCause};
use crate::request::{
    ApiVerdict, AuthRequest, Authorization, Credential, Event, Exchange, Receipt, RequestId, RetryAuthorization,
    RetryPermit, TokenGeneration,
};
use crate::rng::Rng;
use crate::secret::{Password, RefreshToken};
use crate::snapshot::{Owner, Snapshot};
use crate::switch::{Standing, SwitchState, SwitchTicket, Switches};
use crate::token::{Refresh, TokenState, Tokens};
use crate::wire::{self, Failure, Grant};

mod realtime;

struct InFlight {
    id: RequestId,
    exchange: Exchange,
    /// When the request was prepared, then when it was handed to the transport: expiry is
    /// measured from here (SPEC.md §3, "from the moment the request was sent").
    sent_at: OffsetDateTime,
    /// `auth_timeout` after `sent_at`: the deadline runs from the hand-off to the transport,
    /// so time spent saving the spent state before sending never eats into it (SPEC.md §3a).
    deadline: OffsetDateTime,
    /// Whether the driver reported the hand-off ([`BearerSession::handle_handoff`]).
    handed_off: bool,
    /// For a login: the account it asked for.
    account: Option<AccountId>,
    /// For a refresh: the refresh token it carries. Spent as far as anyone else knows, but
    /// kept here to scrub it from the answer, and to put back in service when the server says
    /// it did not process the request (429, 503: SPEC.md §3). Never sent again from here.
    spent: Option<Refresh>,
}

/// What the session wants to send next, as [`BearerSession::next_exchange`] finds it.
enum Next {
    Send(Exchange),
    Nothing,
    /// No token can ever be had again: no refresh token, no password (SPEC.md §3).
    Over,
}

/// A bearer-token session: the state machine behind [`Session`](crate::Session) for
/// [`Scheme::Bearer`](crate::Scheme::Bearer). Its methods are documented on `Session`.
pub struct BearerSession {
    base: BaseUrl,
    /// Whose session this is; every snapshot says so, and only ours are restored or adopted.
    owner: Owner,
    password: Option<Password>,
    policy: RefreshPolicy,
    switch_strategy: AccountSwitch,
    clock: Clock,
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
    /// Credentials handed out whose API answer has not been reported yet.
    outstanding: u64,
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
            clock: Clock::new(now),
            rng: Rng::new(seed),
            tokens: Tokens::new(),
            account: config.account,
            switches: Switches::new(),
            in_flight: None,
            next_id: 0,
            backoff: Backoff::new(),
            fatal: None,
            outstanding: 0,
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
        let now = now.into().monotonic().max(self.clock.now());
        let given_up = self.in_flight.as_ref().is_some_and(|f| f.deadline <= now);
        !given_up && matches!(self.next_exchange(now), Next::Send(_))
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
        let now = now.into().monotonic().max(self.clock.now());
        self.tokens.valid().map(|t| t.schedule.state(now))
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

    pub(crate) fn authorize(&mut self, uri: &Uri, now: Now) -> Result<Authorization, AuthError> {
        if !self.base.same_origin(uri) {
            return Err(AuthError::ForeignOrigin);
        }
        self.credential(now).map(|ready| match ready {
            Some(credential) => Authorization::Ready(credential),
            None => Authorization::Pending,
        })
    }

    /// The current credential, or `None` while an exchange must complete first.
    pub(crate) fn credential(&mut self, now: Now) -> Result<Option<Credential>, AuthError> {
        let now = self.observe(now);
        if let Some(fatal) = &self.fatal {
            return Err(fatal.clone());
        }
        if let Some(refusal) = self.switches.refusal() {
            return Err(refusal.clone());
        }
        let now_nanos = self.clock.now_nanos();
        if matches!(self.switches.state, SwitchState::Idle)
            && let Some(token) = self.tokens.usable_at(now_nanos)
        {
            self.outstanding += 1;
            let receipt = Receipt { generation: token.generation, account: self.account, retry: false };
            return Ok(Some(Credential { header: token.header.clone(), account_param: None, receipt }));
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

    /// A credential for the one resend after a 401/403, spending `permit`: its answer is final.
    pub(crate) fn authorize_retry(
        &mut self,
        uri: &Uri,
        permit: RetryPermit,
        now: Now,
    ) -> Result<RetryAuthorization, AuthError> {
        Ok(match self.authorize(uri, now)? {
            Authorization::Ready(mut credential) => {
                credential.receipt.retry = true;
                RetryAuthorization::Ready(credential)
            }
            Authorization::Pending => RetryAuthorization::Pending(permit),
        })
    }

    /// Starts moving the session to `account` (SPEC.md §4). A later switch supersedes this
    /// one; the ticket's caller learns which happened from [`poll_switch`](Self::poll_switch).
    pub(crate) fn switch_account(&mut self, account: AccountId, now: Now) -> Result<SwitchTicket, AuthError> {
        let now = self.observe(now);
        if let Some(fatal) = &self.fatal {
            return Err(fatal.clone());
        }
        let settled = self.switches.pending().is_none();
        if settled && self.account == Some(account) && self.tokens.token().is_some() {
            // Already there: done at once (and a refusal not yet collected is acknowledged).
            return Ok(self.switches.issue(account, None));
        }
        if self.switch_strategy == AccountSwitch::Relogin && self.password.is_none() {
            return Err(AuthError::PasswordRequired);
        }
        Ok(self.switches.issue(account, Some(now)))
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
            Standing::Done => Some(Ok(requested)),
            Standing::Refused(error) => Some(Err(error)),
            // A later switch may have brought the session where this caller wanted it anyway.
            Standing::Superseded if self.account == Some(requested) => Some(Ok(requested)),
            Standing::Superseded => Some(Err(AuthError::SwitchSuperseded { requested, in_force: self.account })),
        }
    }

    pub(crate) fn handle_api_response(&mut self, receipt: Receipt, status: StatusCode) -> ApiVerdict {
        self.outstanding = self.outstanding.saturating_sub(1);
        // SPEC.md §5a: 401 and 403 both mean "maybe expired"; the resend's answer is final, so
        // it never condemns a token twice.
        if receipt.retry || (status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN) {
            return ApiVerdict::Accept;
        }
        // Only the current generation is invalidated; a newer token already replaced an older one.
        self.tokens.invalidate(receipt.generation);
        ApiVerdict::RetryOnce(RetryPermit { _private: () })
    }

    pub(crate) fn release(&mut self, receipt: Receipt) {
        let Receipt { .. } = receipt;
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    /// Adopts what another session sharing the store wrote: a newer token pair, or the spend of
    /// the refresh token we hold. A snapshot of another owner is never adopted (SPEC.md §3a).
    pub(crate) fn adopt(&mut self, snapshot: Snapshot, now: Now) -> bool {
        let now = self.observe(now);
        if self.in_flight.is_some() || snapshot.owner != self.owner {
            return false;
        }
        if snapshot.generation > self.tokens.generation() || self.tokens.token().is_none() {
            self.install_snapshot(snapshot, now);
            return true;
        }
        // Our very token, stored without its refresh token: another sharer has spent it (and
        // perhaps lost the answer). The spend is a state change every sharer must see: never
        // present that refresh token again (SPEC.md §3, rotation safety).
        self.tokens.learn_spent(&snapshot)
    }

    /// Installs a snapshot's state; `now` is the monotonic instant of the latest reading.
    pub(crate) fn install_snapshot(&mut self, snapshot: Snapshot, now: OffsetDateTime) {
        // The snapshot says which account its token serves (None: the user's default).
        let account = snapshot.account;
        if self.tokens.install_snapshot(snapshot, now, &self.clock, &self.policy, &mut self.rng).is_ok() {
            self.account = account;
            self.backoff.reset();
        }
    }

    // ----- auth exchanges ------------------------------------------------------------------

    pub(crate) fn poll_transmit(&mut self, now: Now) -> Option<AuthRequest> {
        let now = self.observe(now);
        let exchange = self.decide(now)?;
        let id = RequestId(self.next_id);
        self.next_id += 1;
        let mut login_account = None;
        let mut spent = None;
        let request = match exchange {
            Exchange::Login => {
                let password = self.password.as_ref()?;
                login_account = self.switches.pending().map(|s| s.account).or(self.account);
                wire::login_request(self.base.join("/auth/login"), &self.owner.username, password, login_account, false)
            }
            Exchange::Refresh => {
                // The refresh token is moved into the request: it is spent from here on
                // (SPEC.md §3, rotation safety), and the store learns that at once.
                let refresh = self.tokens.spend()?;
                let request = wire::refresh_request(self.base.join("/auth/refresh"), refresh.token.clone());
                spent = Some(refresh);
                if let Some(snapshot) = self.snapshot() {
                    self.events.push_back(Event::TokensUpdated(snapshot));
                }
                request
            }
            Exchange::Masquerade(account) => {
                let AccountSwitch::Masquerade { path } = &self.switch_strategy else {
                    return None;
                };
                let header = &self.tokens.token()?.header;
                wire::masquerade_request(self.base.join(path), header, account)
            }
        };
        self.in_flight = Some(InFlight {
            id,
            exchange,
            sent_at: now,
            deadline: later(now, self.policy.auth_timeout),
            handed_off: false,
            account: login_account,
            spent,
        });
        Some(AuthRequest { id, exchange, request })
    }

    /// The driver is handing the auth request `id` to its transport now. Its deadline starts
    /// over from here, and so does the expiry estimate of the token it brings (SPEC.md §3a).
    /// `false`: the request was given up meanwhile (its deadline passed before the hand-off,
    /// or it is unknown): do not send it.
    pub(crate) fn handle_handoff(&mut self, id: RequestId, now: Now) -> bool {
        let now = self.observe(now);
        let timeout = self.policy.auth_timeout;
        match self.in_flight.as_mut().filter(|f| f.id == id && !f.handed_off) {
            Some(flight) => {
                flight.handed_off = true;
                flight.sent_at = now;
                flight.deadline = later(now, timeout);
                true
            }
            None => self.in_flight.as_ref().is_some_and(|f| f.id == id),
        }
    }

    pub(crate) fn handle_response<B: AsRef<[u8]>>(&mut self, id: RequestId, response: &Response<B>, now: Now) {
        let now = self.observe(now);
        let Some(mut flight) = self.in_flight.take_if(|f| f.id == id) else {
            return; // An answer to a request we gave up on: ignore it.
        };
        let scrub = |text: &str| self.scrub(text, flight.spent.as_ref().map(|spent| &spent.token));
        let status = response.status();
        // A `Retry-After` date is a wall-clock time: judged by the wall clock.
        let wall_now = self.clock.wall_time_of(now);
        let outcome = wire::classify(status, response.headers(), response.body().as_ref(), wall_now, &scrub);
        // SPEC.md §3: a refresh answered 429 or 503 was not processed: its token is not spent.
        if (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE)
            && let Some(refresh) = flight.spent.take()
        {
            self.unspend(refresh);
        }
        match (outcome, flight.exchange) {
            (Ok(map), Exchange::Masquerade(account)) if !wire::has_token(&map) => {
                self.masquerade_kept_token(account);
            }
            (Ok(map), _) => match wire::parse_grant(&map) {
                Ok(grant) => self.install(grant, &flight, now),
                Err(malformed) => self.transient(TransientCause::Malformed(malformed), None, now),
            },
            (Err(Failure::Rejected(error)), exchange) => self.rejected(error, exchange, &flight),
            (Err(Failure::Server(error)), _) => self.transient(TransientCause::Server(error), None, now),
            (Err(Failure::RateLimited { error, retry_after }), _) => {
                self.transient(TransientCause::RateLimited(error), retry_after, now)
            }
            (Err(Failure::Malformed(malformed)), _) => self.transient(TransientCause::Malformed(malformed), None, now),
        }
    }

    pub(crate) fn handle_failure(&mut self, id: RequestId, now: Now) {
        let now = self.observe(now);
        if self.in_flight.take_if(|f| f.id == id).is_some() {
            self.transient(TransientCause::Transport, None, now);
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Now) {
        self.observe(now);
    }

    pub(crate) fn poll_timeout(&self) -> Option<OffsetDateTime> {
        if self.fatal.is_some() {
            return None;
        }
        if let Some(flight) = &self.in_flight {
            return Some(flight.deadline);
        }
        let now = self.clock.now();
        let mut next: Option<OffsetDateTime> = None;
        // Something already due is due now, never in the past.
        let mut consider = |t: OffsetDateTime| {
            let t = t.max(now);
            next = Some(next.map_or(t, |n| n.min(t)));
        };
        if let Some(retry_at) = self.backoff.retry_at() {
            consider(retry_at);
        }
        if let Some(switch) = self.switches.pending()
            && self.outstanding > 0
        {
            consider(later(switch.requested_at, self.policy.auth_timeout));
        }
        if let Some(token) = self.tokens.valid() {
            match token.schedule.state(now) {
                TokenState::Fresh => consider(token.schedule.stale_at),
                TokenState::Stale => consider(token.schedule.cutoff_at),
                TokenState::Expired => {}
            }
        }
        next
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- internals -----------------------------------------------------------------------

    /// Records `now` and gives up on an auth request that outlived its deadline. Returns the
    /// monotonic instant every schedule is judged by.
    fn observe(&mut self, now: Now) -> OffsetDateTime {
        let now = self.clock.observe(now);
        if self.in_flight.as_ref().is_some_and(|f| f.deadline <= now) {
            self.in_flight = None;
            self.transient(TransientCause::Timeout, None, now);
        }
        now
    }

    /// The exchange the session wants at `now`, if any; records that the session is over when
    /// it finds it can never get a token again (SPEC.md §3: no refresh token, no password).
    fn decide(&mut self, now: OffsetDateTime) -> Option<Exchange> {
        match self.next_exchange(now) {
            Next::Send(exchange) => Some(exchange),
            Next::Nothing => None,
            Next::Over => {
                self.fatal = Some(AuthError::SessionExpired);
                None
            }
        }
    }

    /// What the session wants at `now`, without changing anything.
    fn next_exchange(&self, now: OffsetDateTime) -> Next {
        if self.fatal.is_some() || self.in_flight.is_some() {
            return Next::Nothing;
        }
        if self.backoff.active_at(now).is_some() {
            return Next::Nothing;
        }
        let usable = self.tokens.usable(now);
        let refresh_usable = self.tokens.refresh_usable(now);
        if let Some(switch) = self.switches.pending() {
            match (&self.switch_strategy, usable) {
                (AccountSwitch::Masquerade { .. }, Some(_)) => {
                    // Wait for the requests that carry the old account to come back, so none
                    // of them runs on the new one (SPEC.md §4), but not forever.
                    let drained = self.outstanding == 0 || now >= later(switch.requested_at, self.policy.auth_timeout);
                    return if drained { Next::Send(Exchange::Masquerade(switch.account)) } else { Next::Nothing };
                }
                // Relogin, or no token to masquerade with: a login can name the account.
                _ if self.password.is_some() => return Next::Send(Exchange::Login),
                _ => {} // Masquerade without a token or password: refresh first.
            }
        }
        let wanted = match usable {
            Some(token) => token.schedule.state(now) == TokenState::Stale,
            None => true,
        };
        if !wanted {
            Next::Nothing
        } else if refresh_usable {
            Next::Send(Exchange::Refresh)
        } else if self.password.is_some() {
            Next::Send(Exchange::Login)
        } else if usable.is_none() {
            Next::Over
        } else {
            Next::Nothing
        }
    }

    fn install(&mut self, grant: Grant, flight: &InFlight, now: OffsetDateTime) {
        let schedule = match self.tokens.install_grant(grant, flight.sent_at, &self.policy, &mut self.rng) {
            Ok(schedule) => schedule,
            Err(malformed) => return self.transient(TransientCause::Malformed(malformed), None, now),
        };
        self.backoff.reset();
        let account = match flight.exchange {
            Exchange::Login => flight.account,
            Exchange::Refresh => self.account,
            Exchange::Masquerade(account) => Some(account),
        };
        self.set_account(account);
        // SPEC.md §3, no refresh loops: count tokens that arrive already stale.
        let fresh = schedule.state(now) == TokenState::Fresh;
        self.backoff.token_arrived(fresh, schedule.lifetime, now, &self.policy, &self.clock);
        if let Some(snapshot) = self.snapshot() {
            self.events.push_back(Event::TokensUpdated(snapshot));
        }
    }

    /// The server did not process a refresh (429, 503): its token was never spent after all.
    /// It goes back in service, the store learns that, and it is sent again after the backoff
    /// (SPEC.md §3). Only if nothing replaced it meanwhile.
    fn unspend(&mut self, refresh: Refresh) {
        if !self.tokens.unspend(refresh) {
            return;
        }
        if let Some(snapshot) = self.snapshot() {
            self.events.push_back(Event::TokensUpdated(snapshot));
        }
    }

    /// Masquerade without new tokens: same token, new account, new generation (so a 401 for
    /// a request of the old account cannot invalidate the new binding).
    fn masquerade_kept_token(&mut self, account: AccountId) {
        self.backoff.reset();
        self.tokens.next_generation();
        self.set_account(Some(account));
        if let Some(snapshot) = self.snapshot() {
            self.events.push_back(Event::TokensUpdated(snapshot));
        }
    }

    fn set_account(&mut self, account: Option<AccountId>) {
        let changed = account != self.account;
        self.account = account;
        if let Some(account) = account {
            self.switches.arrived(account);
        }
        if let (true, Some(account)) = (changed, account) {
            self.events.push_back(Event::AccountSwitched(account));
        }
    }

    fn rejected(&mut self, error: crate::error::ServerError, exchange: Exchange, flight: &InFlight) {
        let switching_to = self.switches.pending().map(|s| s.account);
        match exchange {
            Exchange::Login if switching_to.is_some() && flight.account == switching_to => {
                // The account was refused; the session stays where it was (SPEC.md §4), and
                // says so until someone acknowledges it.
                self.refuse_switch(error);
            }
            // SPEC.md §5a: a rejected login is final.
            Exchange::Login => self.fatal = Some(AuthError::CredentialsRejected(error)),
            // SPEC.md §3: the refresh token is dead. The next exchange logs in again if we hold
            // the password; otherwise the current token serves until its cutoff, then
            // SessionExpired.
            Exchange::Refresh => {}
            Exchange::Masquerade(_) => {
                let status = error.status();
                let first = self.switches.pending().is_some_and(|s| !s.masquerade_rejected);
                if first && status == StatusCode::UNAUTHORIZED {
                    // 401 says the token died (a lost answer that rotated it, a revocation), not
                    // that the account is refused (403): drop the token and keep the switch
                    // pending, once. A login can then name the account directly.
                    if let Some(switch) = self.switches.pending_mut() {
                        switch.masquerade_rejected = true;
                    }
                    self.tokens.invalidate_current();
                } else {
                    self.refuse_switch(error);
                }
            }
        }
    }

    fn refuse_switch(&mut self, error: crate::error::ServerError) {
        self.switches.refuse(AuthError::AccountSwitchRejected(error));
    }

    /// A failure that may pass: keep whatever token is in service, back off, try again
    /// (SPEC.md §3, transient failures).
    fn transient(&mut self, cause: TransientCause, retry_after: Option<Duration>, now: OffsetDateTime) {
        self.backoff.fail(cause, retry_after, now, &self.policy, &mut self.rng, &self.clock);
    }

    /// Removes our own secrets, and a spent refresh token, from text the server sent back, in
    /// every form they can come back in (SPEC.md §5).
    fn scrub(&self, text: &str, spent: Option<&RefreshToken>) -> String {
        crate::scrub::Scrubber::new()
            .credentials(&self.owner.username, self.password.as_ref().map(Password::expose_secret))
            .secret(self.tokens.token().map(|t| t.value.expose_secret()))
            .secret(self.tokens.refresh().map(|r| r.token.expose_secret()))
            .secret(spent.map(RefreshToken::expose_secret))
            .scrub(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Retry-After` date is judged by the wall clock, whatever the monotonic one says.
    #[test]
    fn a_retry_after_date_is_judged_by_the_wall_clock() {
        let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
        let monotonic = OffsetDateTime::UNIX_EPOCH;
        let wall = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap(); // Sun, 06 Nov 1994 08:49:37 GMT
        let now = Now::new(monotonic, wall);
        let mut session = BearerSession::new(config, 1, now);
        let login = session.poll_transmit(now).expect("a login");
        let answer = Response::builder()
            .status(503)
            .header("retry-after", "Sun, 06 Nov 1994 08:51:37 GMT")
            .body(Vec::<u8>::new())
            .unwrap();
        session.handle_response(login.id(), &answer, now);
        // Two minutes on the monotonic timeline, not the 25 years between the two clocks.
        assert_eq!(session.poll_timeout(), Some(monotonic + time::Duration::minutes(2)));
    }
}
