//! A token's life (SPEC.md §3): when it is fresh, stale or expired, and the token pair a bearer
//! session holds.
//!
//! - [`Schedule`] says when a token is fresh, stale or expired ("refresh policy"). All instants
//!   are in the client's clock and anchored at the moment the login or refresh request was
//!   *sent*: network latency can then only make our estimate earlier, never later.
//! - [`Tokens`] holds the [`Token`] in service and the unspent [`Refresh`] token, and installs
//!   them from a grant (the clock rule of SPEC.md §3) or a snapshot (SPEC.md §3a). A refresh
//!   token is spent when it is moved into its request, and a spent one never comes back into
//!   service from a snapshot (rotation safety). A token is never handed out at or past its
//!   cutoff, nor after an API call rejected it (SPEC.md §5a).

use std::time::Duration;

use http::HeaderValue;
use time::OffsetDateTime;

use crate::clock::{Timeline, earlier, later, nanos_of, shifted};
use crate::config::{AccountId, RefreshPolicy};
use crate::error::Malformed;
use crate::request::TokenGeneration;
use crate::rng::Rng;
use crate::secret::{BearerToken, RefreshToken, Secret};
use crate::snapshot::{Owner, Snapshot};
use crate::wire::Grant;

/// Where a token stands at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// In service; no refresh wanted yet.
    Fresh,
    /// Still attached to requests, while exactly one refresh runs.
    Stale,
    /// Past the hard cutoff: never attached again; callers wait for a new token.
    Expired,
}

/// The instants that govern one token's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) sent_at: OffsetDateTime,
    pub(crate) lifetime: Duration,
    /// `sent_at + lifetime`: our estimate of the server's expiry.
    pub(crate) expires_at: OffsetDateTime,
    /// From here on the token is stale.
    pub(crate) stale_at: OffsetDateTime,
    /// From here on the token is expired (never attached).
    pub(crate) cutoff_at: OffsetDateTime,
    /// `stale_at` as Unix nanoseconds, for the per-request check.
    pub(crate) stale_nanos: i64,
    /// `cutoff_at` as Unix nanoseconds, for the per-request check.
    pub(crate) cutoff_nanos: i64,
}

impl Schedule {
    /// Computes a token's schedule. `jitter_unit` is a uniform draw in `[0, 1)`, made once per
    /// token.
    pub(crate) fn new(policy: &RefreshPolicy, sent_at: OffsetDateTime, lifetime: Duration, jitter_unit: f64) -> Self {
        let expires_at = later(sent_at, lifetime);
        let half = lifetime / 2;
        let stale_margin = if lifetime <= policy.short_lifetime {
            half
        } else {
            policy.stale_margin_min.max(lifetime.mul_f64(policy.stale_margin_fraction))
        };
        let jitter = policy.jitter_max.min(lifetime.mul_f64(policy.jitter_fraction)).mul_f64(jitter_unit);
        // Never refresh more often than once per half-lifetime, whatever the margins say
        // (SPEC.md §3, "no refresh loops").
        let stale_at = earlier(expires_at, stale_margin.saturating_add(jitter)).max(later(sent_at, half));
        let cutoff_margin = policy.cutoff_margin_max.min(lifetime.mul_f64(policy.cutoff_margin_fraction));
        let cutoff_at = earlier(expires_at, cutoff_margin);
        let stale_at = stale_at.min(cutoff_at);
        Schedule {
            sent_at,
            lifetime,
            expires_at,
            stale_at,
            cutoff_at,
            stale_nanos: nanos_of(stale_at),
            cutoff_nanos: nanos_of(cutoff_at),
        }
    }

    pub(crate) fn state(&self, now: OffsetDateTime) -> TokenState {
        self.state_at(nanos_of(now))
    }

    /// [`state`](Self::state) for an instant in Unix nanoseconds (the per-request path).
    pub(crate) fn state_at(&self, now_nanos: i64) -> TokenState {
        if now_nanos >= self.cutoff_nanos {
            TokenState::Expired
        } else if now_nanos >= self.stale_nanos {
            TokenState::Stale
        } else {
            TokenState::Fresh
        }
    }
}

/// The token in service.
pub(crate) struct Token {
    pub(crate) value: BearerToken,
    pub(crate) header: HeaderValue,
    pub(crate) generation: TokenGeneration,
    pub(crate) schedule: Schedule,
    /// An API call with this generation came back 401/403: never hand it out again.
    pub(crate) invalidated: bool,
    /// Until when it may be attached, in Unix nanoseconds: its cutoff, or never once
    /// invalidated (one comparison on the per-request path).
    usable_until: i64,
    /// Until when it is fresh, likewise: when it turns stale, or never once invalidated.
    fresh_until: i64,
}

impl Token {
    fn new(value: BearerToken, header: HeaderValue, generation: TokenGeneration, schedule: Schedule) -> Token {
        let (usable_until, fresh_until) = (schedule.cutoff_nanos, schedule.stale_nanos);
        Token { value, header, generation, schedule, invalidated: false, usable_until, fresh_until }
    }

    /// Never hands it out again.
    fn invalidate(&mut self) {
        self.invalidated = true;
        self.usable_until = i64::MIN;
        self.fresh_until = i64::MIN;
    }

    fn usable(&self, now: OffsetDateTime) -> bool {
        !self.invalidated && self.schedule.state(now) != TokenState::Expired
    }

    /// [`usable`](Self::usable) for an instant in Unix nanoseconds (the per-request path):
    /// `Some(fresh)`, or `None` when it may not be attached.
    #[inline]
    fn usable_at(&self, now_nanos: i64) -> Option<bool> {
        // Fresh is the common case: one comparison.
        if now_nanos < self.fresh_until {
            Some(true)
        } else if now_nanos < self.usable_until {
            Some(false)
        } else {
            None
        }
    }
}

/// The unspent refresh token.
pub(crate) struct Refresh {
    pub(crate) token: RefreshToken,
    /// Estimated expiry in the client's clock (server value corrected by the clock offset).
    pub(crate) expires_at: Option<OffsetDateTime>,
}

/// The token pair of a bearer session, and the generation of its token.
pub(crate) struct Tokens {
    token: Option<Token>,
    refresh: Option<Refresh>,
    generation: TokenGeneration,
    /// The last refresh token this session spent (its text only): a snapshot that still holds
    /// it, an older copy whose save was lost, never brings it back into service.
    last_spent: Option<Secret>,
}

impl Tokens {
    pub(crate) fn new() -> Self {
        Tokens { token: None, refresh: None, generation: TokenGeneration(0), last_spent: None }
    }

    // ----- getters -------------------------------------------------------------------------

    /// The generation of the current token (0 before the first one).
    pub(crate) fn generation(&self) -> TokenGeneration {
        self.generation
    }

    /// The token in service, even one an API call rejected.
    pub(crate) fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// The unspent refresh token.
    pub(crate) fn refresh(&self) -> Option<&Refresh> {
        self.refresh.as_ref()
    }

    /// The token in service unless an API call rejected it, whatever its state.
    pub(crate) fn valid(&self) -> Option<&Token> {
        self.token.as_ref().filter(|t| !t.invalidated)
    }

    /// The token in service if it may still be attached at `now`.
    pub(crate) fn usable(&self, now: OffsetDateTime) -> Option<&Token> {
        self.token.as_ref().filter(|t| t.usable(now))
    }

    /// [`usable`](Self::usable) for an instant in Unix nanoseconds (the per-request path),
    /// and whether it is still fresh then.
    #[inline]
    pub(crate) fn usable_at(&self, now_nanos: i64) -> Option<(&Token, bool)> {
        let token = self.token.as_ref()?;
        Some((token, token.usable_at(now_nanos)?))
    }

    /// The token in service if it is the one of `generation`.
    pub(crate) fn of_generation(&self, generation: TokenGeneration) -> Option<&Token> {
        self.token.as_ref().filter(|t| t.generation == generation)
    }

    /// Whether an unspent refresh token is held that has not expired at `now`.
    pub(crate) fn refresh_usable(&self, now: OffsetDateTime) -> bool {
        self.refresh.as_ref().is_some_and(|r| r.expires_at.is_none_or(|at| now < at))
    }

    /// The pair as a snapshot of `owner`'s session, the token bound to `account`, its instants
    /// in wall-clock time by the latest reading of `clock` (SPEC.md §3a); `None` without a token.
    pub(crate) fn snapshot(&self, owner: &Owner, account: Option<AccountId>, clock: &Timeline) -> Option<Snapshot> {
        let token = self.token.as_ref()?;
        Some(Snapshot {
            owner: owner.clone(),
            token: token.value.clone(),
            generation: token.generation,
            sent_at: clock.wall_time_of(token.schedule.sent_at),
            lifetime: token.schedule.lifetime,
            refresh_token: self.refresh.as_ref().map(|r| r.token.clone()),
            refresh_expires_at: self.refresh.as_ref().and_then(|r| r.expires_at).map(|t| clock.wall_time_of(t)),
            account,
        })
    }

    // ----- changes -------------------------------------------------------------------------

    /// Puts a grant in service: a new token of the next generation and the refresh token that
    /// came with it (or none). `sent_at` is when its request was sent, in our clock. Returns the
    /// new token's schedule; a token that cannot be a header changes nothing.
    pub(crate) fn install_grant(
        &mut self,
        grant: Grant,
        sent_at: OffsetDateTime,
        policy: &RefreshPolicy,
        rng: &mut Rng,
    ) -> Result<Schedule, Malformed> {
        let header = bearer_header(&grant.token)?;
        // SPEC.md §3 clock rule: expiry = send time + tokenLifetime, in our clock. The server's
        // tokenExpiration only tells us its clock offset, applied to refreshTokenExpiration.
        let schedule = Schedule::new(policy, sent_at, grant.lifetime, rng.unit());
        let offset = grant.token_expiration.map(|server| server - schedule.expires_at);
        let refresh_expires_at =
            grant.refresh_expiration.map(|server| offset.map_or(server, |offset| shifted(server, -offset)));
        self.generation = self.generation.next();
        self.token = Some(Token::new(grant.token, header, self.generation, schedule));
        self.refresh = grant.refresh_token.map(|token| Refresh { token, expires_at: refresh_expires_at });
        Ok(schedule)
    }

    /// Puts a snapshot's pair in service, without the refresh token this session last spent;
    /// `now` is the monotonic instant of the latest reading of `clock`. A token that cannot be
    /// a header changes nothing. `exact`: the generation becomes the snapshot's, even if ours
    /// was higher (memory is made what the store holds); otherwise it never goes back.
    pub(crate) fn install_snapshot(
        &mut self,
        snapshot: Snapshot,
        now: OffsetDateTime,
        clock: &Timeline,
        policy: &RefreshPolicy,
        rng: &mut Rng,
        exact: bool,
    ) -> Result<(), Malformed> {
        // Its instants are wall-clock times: placed on our monotonic timeline by the latest
        // reading of both clocks. A snapshot from the future (a clock was stepped back) is
        // treated as obtained now.
        let sent_at = clock.monotonic_time_of(snapshot.sent_at).min(now);
        let header = bearer_header(&snapshot.token)?;
        let schedule = Schedule::new(policy, sent_at, snapshot.lifetime, rng.unit());
        self.generation = if exact { snapshot.generation } else { snapshot.generation.max(self.generation) };
        self.token = Some(Token::new(snapshot.token, header, self.generation, schedule));
        let spent_here =
            |t: &RefreshToken| self.last_spent.as_ref().is_some_and(|s| s.expose_secret() == t.expose_secret());
        let refresh_expires_at = snapshot.refresh_expires_at.map(|t| clock.monotonic_time_of(t));
        self.refresh = snapshot
            .refresh_token
            .filter(|t| !spent_here(t))
            .map(|token| Refresh { token, expires_at: refresh_expires_at });
        Ok(())
    }

    /// Drops the pair (the store it was shared through holds none any more); the generation
    /// and the last spent refresh token are kept.
    pub(crate) fn forget(&mut self) {
        (self.token, self.refresh) = (None, None);
    }

    /// Learns from `snapshot` that another sharer spent our refresh token: our very token,
    /// stored without its refresh token. Never presents that refresh token again (SPEC.md §3,
    /// rotation safety). Whether it dropped it.
    pub(crate) fn learn_spent(&mut self, snapshot: &Snapshot) -> bool {
        let same_token = snapshot.generation == self.generation
            && self.token.as_ref().is_some_and(|t| t.value.expose_secret() == snapshot.token.expose_secret());
        if same_token && snapshot.refresh_token.is_none() && self.refresh.is_some() {
            self.refresh = None;
            return true;
        }
        false
    }

    /// Takes the refresh token out of service to be moved into its request: spent from here on
    /// (SPEC.md §3, rotation safety).
    pub(crate) fn spend(&mut self) -> Option<Refresh> {
        let refresh = self.refresh.take()?;
        self.last_spent = Some(Secret::new(refresh.token.expose_secret()));
        Some(refresh)
    }

    /// Puts a refresh token the server did not process back in service, unless another one
    /// replaced it meanwhile. Whether it did.
    pub(crate) fn unspend(&mut self, refresh: Refresh) -> bool {
        if self.refresh.is_some() {
            return false;
        }
        self.last_spent = None;
        self.refresh = Some(refresh);
        true
    }

    /// The token in service gets the next generation (same token, new account binding).
    pub(crate) fn next_generation(&mut self) {
        if let Some(token) = self.token.as_mut() {
            self.generation = self.generation.next();
            token.generation = self.generation;
        }
    }

    /// Never hands out the token of `generation` again, if it is still the one in service.
    pub(crate) fn invalidate(&mut self, generation: TokenGeneration) {
        if let Some(token) = self.token.as_mut().filter(|t| t.generation == generation) {
            token.invalidate();
        }
    }

    /// Never hands out the token in service again.
    pub(crate) fn invalidate_current(&mut self) {
        if let Some(token) = self.token.as_mut() {
            token.invalidate();
        }
    }
}

/// The `Authorization` value of `token`, marked sensitive.
fn bearer_header(token: &BearerToken) -> Result<HeaderValue, Malformed> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
        .map_err(|_| Malformed::InvalidField("token"))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> OffsetDateTime {
        later(OffsetDateTime::UNIX_EPOCH, Duration::from_secs(secs))
    }

    fn schedule(lifetime: u64, jitter: f64) -> Schedule {
        Schedule::new(&RefreshPolicy::default(), at(0), Duration::from_secs(lifetime), jitter)
    }

    #[test]
    fn an_hour_token_is_stale_six_minutes_early_and_cut_off_ten_seconds_early() {
        let s = schedule(3600, 0.0);
        assert_eq!(s.stale_at, at(3600 - 360));
        assert_eq!(s.cutoff_at, at(3590));
        assert_eq!(s.state(at(3239)), TokenState::Fresh);
        assert_eq!(s.state(at(3240)), TokenState::Stale);
        assert_eq!(s.state(at(3590)), TokenState::Expired);
    }

    #[test]
    fn jitter_moves_staleness_earlier_by_at_most_thirty_seconds() {
        let s = schedule(3600, 0.999_999);
        assert!(s.stale_at > at(3240 - 30) && s.stale_at <= at(3240));
        // 5 % of a 200 s lifetime is 10 s: less than the 30 s cap.
        let s = schedule(200, 0.5);
        assert_eq!(s.stale_at, at(200 - 60 - 5));
    }

    #[test]
    fn short_tokens_turn_stale_at_half_life() {
        let s = schedule(120, 0.9);
        assert_eq!(s.stale_at, at(60));
        assert_eq!(s.cutoff_at, at(110));
        let s = schedule(10, 0.0);
        assert_eq!(s.stale_at, at(5));
        assert_eq!(s.cutoff_at, at(9));
    }

    #[test]
    fn never_stale_before_half_life() {
        // Just above the short threshold the 60 s margin plus jitter would pass half-life.
        let s = schedule(121, 0.99);
        assert!(s.stale_at >= later(at(0), Duration::from_millis(60_500)));
    }

    #[test]
    fn a_zero_lifetime_token_is_expired_at_once() {
        let s = schedule(0, 0.5);
        assert_eq!(s.state(at(0)), TokenState::Expired);
    }

    fn pair(token: &str, refresh: &str) -> Grant {
        Grant {
            token: BearerToken::new(token),
            lifetime: Duration::from_secs(3600),
            refresh_token: Some(RefreshToken::new(refresh)),
            token_expiration: None,
            refresh_expiration: None,
        }
    }

    fn install(tokens: &mut Tokens, grant: Grant) -> Result<Schedule, Malformed> {
        tokens.install_grant(grant, at(0), &RefreshPolicy::default(), &mut Rng::new(1))
    }

    #[test]
    fn a_grant_is_a_new_generation_whose_refresh_expiry_follows_our_clock() {
        let mut tokens = Tokens::new();
        // The server's clock runs 100 s ahead of ours.
        let ahead = |t: OffsetDateTime| t + time::Duration::seconds(100);
        let grant = Grant {
            token_expiration: Some(ahead(at(3600))),
            refresh_expiration: Some(ahead(at(7200))),
            ..pair("t1", "r1")
        };
        let schedule = install(&mut tokens, grant).expect("installed");
        assert_eq!(schedule.expires_at, at(3600));
        assert_eq!(tokens.generation(), TokenGeneration(1));
        assert_eq!(tokens.refresh().and_then(|r| r.expires_at), Some(at(7200)));
        assert_eq!(tokens.usable_at(nanos_of(at(3589))).map(|(t, _)| t.header.to_str().ok()), Some(Some("Bearer t1")));
        assert!(tokens.usable_at(nanos_of(at(3590))).is_none(), "never at or past its cutoff");

        assert_eq!(install(&mut tokens, pair("bad\ntoken", "r2")), Err(Malformed::InvalidField("token")));
        assert_eq!(tokens.generation(), TokenGeneration(1), "an unusable grant changes nothing");
        assert_eq!(tokens.refresh().map(|r| r.token.expose_secret()), Some("r1"));
    }

    #[test]
    fn only_the_rejected_generation_is_invalidated() {
        let mut tokens = Tokens::new();
        install(&mut tokens, pair("t1", "r1")).expect("installed");
        tokens.invalidate(TokenGeneration(0));
        assert!(tokens.valid().is_some(), "an older generation's rejection");
        tokens.invalidate(TokenGeneration(1));
        assert!(tokens.valid().is_none() && tokens.usable(at(0)).is_none());
        assert!(tokens.token().is_some(), "still there to scrub and to masquerade with");
    }

    #[test]
    fn a_spent_refresh_token_never_comes_back_from_a_snapshot() {
        let clock = Timeline::new(at(0).into());
        let owner = Owner { origin: "https://api.teletracker.net".into(), username: "alice".into(), pinned: None };
        let mut tokens = Tokens::new();
        install(&mut tokens, pair("t1", "r1")).expect("installed");
        let stored = tokens.snapshot(&owner, None, &clock).expect("a token");
        let spent = tokens.spend().expect("a refresh token");
        assert!(tokens.refresh().is_none() && tokens.spend().is_none(), "spent once");

        let policy = RefreshPolicy::default();
        tokens.install_snapshot(stored.clone(), at(1), &clock, &policy, &mut Rng::new(1), false).expect("installed");
        assert!(tokens.refresh().is_none(), "the stale copy does not bring r1 back");

        assert!(tokens.unspend(spent), "not processed: back in service");
        let Some(again) = tokens.spend() else { panic!("r1 again") };
        tokens.unspend(Refresh { token: RefreshToken::new("r2"), expires_at: None });
        assert!(!tokens.unspend(again), "r2 replaced it meanwhile");
        assert!(tokens.learn_spent(&Snapshot { refresh_token: None, ..stored }), "another sharer spent r2");
        assert!(tokens.refresh().is_none());
    }
}
