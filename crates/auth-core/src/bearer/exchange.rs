//! The auth exchanges of a bearer session (SPEC.md §3, §4, §5a): which one the session wants
//! and when, the request that carries it, and what its answer means — a grant to install, a
//! rejection, or a failure that may pass (the backoff: [`crate::backoff`]).
//!
//! At most one exchange is in flight ([`InFlight`]); it is given up after `auth_timeout`, counted
//! from its hand-off to the transport (SPEC.md §3a).

use std::time::Duration;

use http::{Response, StatusCode};
use time::OffsetDateTime;

use super::BearerSession;
use crate::clock::{Now, later};
use crate::config::{AccountId, AccountSwitch};
use crate::error::{AuthError, ServerError, TransientCause};
use crate::request::{AuthRequest, Event, Exchange, RequestId};
use crate::secret::{Password, RefreshToken};
use crate::token::{Refresh, TokenState};
use crate::trace;
use crate::wire::{self, Failure, Grant};

/// The one auth request in flight.
pub(super) struct InFlight {
    pub(super) id: RequestId,
    pub(super) exchange: Exchange,
    /// When the request was prepared, then when it was handed to the transport: expiry is
    /// measured from here (SPEC.md §3, "from the moment the request was sent").
    sent_at: OffsetDateTime,
    /// `auth_timeout` after `sent_at`: the deadline runs from the hand-off to the transport,
    /// so time spent saving the spent state before sending never eats into it (SPEC.md §3a).
    pub(super) deadline: OffsetDateTime,
    /// Whether the driver reported the hand-off ([`BearerSession::handle_handoff`]).
    handed_off: bool,
    /// For a login: the account it asked for.
    account: Option<AccountId>,
    /// For a refresh: the refresh token it carries. Spent as far as anyone else knows, but
    /// kept here to scrub it from the answer, and to put back in service when the server says
    /// it did not process the request (429, 503: SPEC.md §3). Never sent again from here.
    spent: Option<Refresh>,
    /// What the events call it: `login`, `relogin`, `refresh` or `masquerade`.
    label: &'static str,
    /// `auth_exchange{exchange, id}`, entered while the session handles the exchange; it
    /// closes with the exchange (a disabled span unless a subscriber wants it).
    span: tracing::Span,
}

/// What the session wants to send next, as [`BearerSession::next_exchange`] finds it.
pub(super) enum Wanted {
    Send(Exchange),
    Nothing,
    /// No token can ever be had again: no refresh token, no password (SPEC.md §3).
    Over,
}

impl BearerSession {
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
        let label = self.label(exchange);
        let span = tracing::debug_span!("auth_exchange", exchange = label, id = id.0);
        span.in_scope(|| {
            let target = match exchange {
                Exchange::Login => login_account,
                Exchange::Refresh => self.account,
                Exchange::Masquerade(account) => Some(account),
            };
            let generation = self.tokens.generation().as_u64();
            tracing::debug!(exchange = label, generation, account = trace::account(target), "auth request emitted");
        });
        self.in_flight = Some(InFlight {
            id,
            exchange,
            sent_at: now,
            deadline: later(now, self.policy.auth_timeout),
            handed_off: false,
            account: login_account,
            spent,
            label,
            span,
        });
        Some(AuthRequest { id, exchange, request, timeout: self.policy.auth_timeout })
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
        let span = flight.span.clone();
        let _entered = span.enter();
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
                self.masquerade_kept_token(account, &flight, now);
            }
            (Ok(map), _) => match wire::parse_grant(&map) {
                Ok(grant) => self.install(grant, &flight, now),
                Err(malformed) => self.transient(&flight, TransientCause::Malformed(malformed), None, now),
            },
            (Err(Failure::Rejected(error)), exchange) => self.rejected(error, exchange, &flight),
            (Err(Failure::Server(error)), _) => self.transient(&flight, TransientCause::Server(error), None, now),
            (Err(Failure::RateLimited { error, retry_after }), _) => {
                self.transient(&flight, TransientCause::RateLimited(error), retry_after, now)
            }
            (Err(Failure::Malformed(malformed)), _) => {
                self.transient(&flight, TransientCause::Malformed(malformed), None, now)
            }
        }
    }

    pub(crate) fn handle_failure(&mut self, id: RequestId, now: Now) {
        let now = self.observe(now);
        if let Some(flight) = self.in_flight.take_if(|f| f.id == id) {
            let _entered = flight.span.enter();
            self.transient(&flight, TransientCause::Transport, None, now);
        }
    }

    /// The driver will not send the auth request `id`: the store refused to record its spent
    /// state (another host took the session over) or could not be reached, so the spend could
    /// not be made visible to every sharer first (SPEC.md §3). The request never left: a refresh
    /// token it carried goes back in memory (not to the store: what the store holds now wins,
    /// and the driver re-loads it next), with no failure and no backoff.
    pub(crate) fn withdraw(&mut self, id: RequestId, now: Now) {
        self.observe(now);
        if let Some(flight) = self.in_flight.take_if(|f| f.id == id) {
            let _entered = flight.span.enter();
            tracing::warn!(
                exchange = flight.label,
                "auth request withdrawn before sending: the store did not record its spent state"
            );
            if let Some(refresh) = flight.spent {
                let _restored = self.tokens.unspend(refresh);
            }
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
            && self.outstanding() > 0
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
    pub(super) fn observe(&mut self, now: Now) -> OffsetDateTime {
        self.clock.observe(now);
        let now = self.clock.now();
        if let Some(flight) = self.in_flight.take_if(|f| f.deadline <= now) {
            let _entered = flight.span.enter();
            self.transient(&flight, TransientCause::Timeout, None, now);
        }
        now
    }

    /// The exchange the session wants at `now`, if any; records that the session is over when
    /// it finds it can never get a token again (SPEC.md §3: no refresh token, no password).
    pub(super) fn decide(&mut self, now: OffsetDateTime) -> Option<Exchange> {
        match self.next_exchange(now) {
            Wanted::Send(exchange) => Some(exchange),
            Wanted::Nothing => None,
            Wanted::Over => {
                tracing::warn!(
                    generation = self.tokens.generation().as_u64(),
                    "session expired: no usable refresh token and no password to log in again"
                );
                self.fatal = Some(AuthError::SessionExpired);
                None
            }
        }
    }

    /// What the session wants at `now`, without changing anything.
    pub(super) fn next_exchange(&self, now: OffsetDateTime) -> Wanted {
        if self.fatal.is_some() || self.in_flight.is_some() {
            return Wanted::Nothing;
        }
        if self.backoff.active_at(now).is_some() {
            return Wanted::Nothing;
        }
        let usable = self.tokens.usable(now);
        let refresh_usable = self.tokens.refresh_usable(now);
        if let Some(switch) = self.switches.pending() {
            match (&self.switch_strategy, usable) {
                (AccountSwitch::Masquerade { .. }, Some(_)) => {
                    // Wait for the requests that carry the old account to come back, so none
                    // of them runs on the new one (SPEC.md §4), but not forever.
                    let drained =
                        self.outstanding() == 0 || now >= later(switch.requested_at, self.policy.auth_timeout);
                    return if drained { Wanted::Send(Exchange::Masquerade(switch.account)) } else { Wanted::Nothing };
                }
                // Relogin, or no token to masquerade with: a login can name the account.
                _ if self.password.is_some() => return Wanted::Send(Exchange::Login),
                _ => {} // Masquerade without a token or password: refresh first.
            }
        }
        let wanted = match usable {
            Some(token) => token.schedule.state(now) == TokenState::Stale,
            None => true,
        };
        if !wanted {
            Wanted::Nothing
        } else if refresh_usable {
            Wanted::Send(Exchange::Refresh)
        } else if self.password.is_some() {
            Wanted::Send(Exchange::Login)
        } else if usable.is_none() {
            Wanted::Over
        } else {
            Wanted::Nothing
        }
    }

    fn install(&mut self, grant: Grant, flight: &InFlight, now: OffsetDateTime) {
        let schedule = match self.tokens.install_grant(grant, flight.sent_at, &self.policy, &mut self.rng) {
            Ok(schedule) => schedule,
            Err(malformed) => return self.transient(flight, TransientCause::Malformed(malformed), None, now),
        };
        self.backoff.reset();
        let account = match flight.exchange {
            Exchange::Login => flight.account,
            Exchange::Refresh => self.account,
            Exchange::Masquerade(account) => Some(account),
        };
        let generation = self.tokens.generation().as_u64();
        let lifetime_secs = schedule.lifetime.as_secs();
        tracing::info!(
            exchange = flight.label,
            generation,
            account = trace::account(account),
            lifetime_secs,
            duration_ms = trace::elapsed_ms(flight.sent_at, now),
            "auth exchange succeeded"
        );
        self.set_account(account);
        // SPEC.md §3, no refresh loops: count tokens that arrive already stale.
        let fresh = schedule.state(now) == TokenState::Fresh;
        let count = self.backoff.token_arrived(fresh, schedule.lifetime, now, &self.policy, &self.clock);
        if !fresh {
            tracing::warn!(generation, lifetime_secs, count, "token arrived already stale");
        }
        if let Some(AuthError::UnusableTokenLifetime { retry_at, .. }) = self.backoff.active_at(now) {
            let retry_at = trace::instant(*retry_at);
            tracing::warn!(lifetime_secs, count, retry_at, "tokens keep arriving unusable: backing off");
        }
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
    fn masquerade_kept_token(&mut self, account: AccountId, flight: &InFlight, now: OffsetDateTime) {
        self.backoff.reset();
        self.tokens.next_generation();
        tracing::info!(
            exchange = flight.label,
            generation = self.tokens.generation().as_u64(),
            account = account.0,
            lifetime_secs = self.tokens.token().map(|t| t.schedule.lifetime.as_secs()),
            duration_ms = trace::elapsed_ms(flight.sent_at, now),
            "auth exchange succeeded"
        );
        self.set_account(Some(account));
        if let Some(snapshot) = self.snapshot() {
            self.events.push_back(Event::TokensUpdated(snapshot));
        }
    }

    fn set_account(&mut self, account: Option<AccountId>) {
        let changed = account != self.account;
        self.account = account;
        if let Some(account) = account {
            let switched = self.switches.pending().is_some_and(|s| s.account == account);
            self.switches.arrived(account);
            self.note_switching();
            if switched {
                tracing::info!(
                    account = account.0,
                    generation = self.tokens.generation().as_u64(),
                    "account switch done"
                );
            }
        }
        if let (true, Some(account)) = (changed, account) {
            self.events.push_back(Event::AccountSwitched(account));
        }
    }

    fn rejected(&mut self, error: ServerError, exchange: Exchange, flight: &InFlight) {
        let switching_to = self.switches.pending().map(|s| s.account);
        // A rejected login is final, unless it asked for the account of a switch.
        let fatal = exchange == Exchange::Login && !(switching_to.is_some() && flight.account == switching_to);
        tracing::warn!(
            exchange = flight.label,
            cause = "rejected",
            status = error.status().as_u16(),
            code = error.code(),
            duration_ms = trace::elapsed_ms(flight.sent_at, self.clock.now()),
            generation = self.tokens.generation().as_u64(),
            fatal,
            "auth exchange failed"
        );
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

    fn refuse_switch(&mut self, error: ServerError) {
        tracing::warn!(
            account = trace::account(self.switches.pending().map(|s| s.account)),
            in_force = trace::account(self.account),
            status = error.status().as_u16(),
            code = error.code(),
            "account switch refused"
        );
        self.switches.refuse(AuthError::AccountSwitchRejected(error));
        self.note_switching();
    }

    /// A failure that may pass: keep whatever token is in service, back off, try again
    /// (SPEC.md §3, transient failures).
    pub(super) fn transient(
        &mut self,
        flight: &InFlight,
        cause: TransientCause,
        retry_after: Option<Duration>,
        now: OffsetDateTime,
    ) {
        let label = trace::cause(&cause);
        let answer = trace::server_error(&cause);
        let retry_after_secs = retry_after.map(|d| d.as_secs());
        tracing::warn!(
            exchange = flight.label,
            cause = label,
            status = trace::status(answer),
            code = trace::code(answer),
            detail = trace::malformed(&cause).map(tracing::field::display),
            retry_after_secs,
            duration_ms = trace::elapsed_ms(flight.sent_at, now),
            generation = self.tokens.generation().as_u64(),
            "auth exchange failed"
        );
        self.backoff.fail(cause, retry_after, now, &self.policy, &mut self.rng, &self.clock);
        tracing::warn!(
            exchange = flight.label,
            cause = label,
            attempt = self.backoff.failures_in_a_row(),
            retry_at = self.backoff.error().and_then(AuthError::retry_at).map(trace::instant),
            delay_ms = self.backoff.retry_at().map(|at| trace::elapsed_ms(now, at)),
            retry_after_secs,
            "auth backoff started"
        );
    }

    /// What the events call `exchange`: a login after the session had tokens, and not to switch
    /// accounts, is a `relogin` (its refresh token was dead, spent or absent).
    fn label(&self, exchange: Exchange) -> &'static str {
        match exchange {
            Exchange::Login if self.switches.pending().is_none() && self.tokens.generation().as_u64() > 0 => "relogin",
            Exchange::Login => "login",
            Exchange::Refresh => "refresh",
            Exchange::Masquerade(_) => "masquerade",
        }
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
    use crate::config::Config;

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
