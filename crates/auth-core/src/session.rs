//! [`Session`]: one type, one code path for adapters, whatever the scheme.

use std::sync::Arc;

use http::{Response, StatusCode, Uri};
use time::OffsetDateTime;

use crate::bearer::BearerSession;
use crate::clock::Now;
use crate::config::{AccountId, BaseUrl, Config, ConfigError, Scheme};
use crate::error::AuthError;
use crate::gate::Gate;
use crate::request::{
    ApiVerdict, AuthRequest, Authorization, Credential, Event, Ledger, Receipt, RequestId, RetryAuthorization,
    RetryPermit,
};
use crate::snapshot::Snapshot;
use crate::static_auth::StaticAuth;
use crate::switch::SwitchTicket;

/// The authentication state of one client: a Sans-IO state machine.
///
/// `Session` never performs I/O and never reads a clock. Its methods fall in four groups, in
/// the manner of `quinn-proto`:
///
/// - **Getters** (`&self`): [`scheme`](Self::scheme), [`bearer`](Self::bearer),
///   [`snapshot`](Self::snapshot), [`is_api_origin`](Self::is_api_origin).
/// - **Commands**: [`authorize`](Self::authorize) for each API request,
///   [`switch_account`](Self::switch_account), [`adopt`](Self::adopt).
/// - **Inputs** (`handle_*`): the answer to an auth request
///   ([`handle_response`](Self::handle_response) / [`handle_failure`](Self::handle_failure)),
///   the status of an API response that used a credential
///   ([`handle_api_response`](Self::handle_api_response), or [`release`](Self::release) when no
///   answer came), and timer expiry ([`handle_timeout`](Self::handle_timeout)).
/// - **Outputs** (`poll_*`): after any command or input, drain them in this order:
///   [`poll_transmit`](Self::poll_transmit) (an auth request to send),
///   [`poll_event`](Self::poll_event) until `None` (persist [`Event::TokensUpdated`] before anyone
///   uses the new state), then [`poll_timeout`](Self::poll_timeout) (when to call
///   `handle_timeout`).
///
/// **Time.** Every time-dependent call takes `now`: a [`Now`], a reading of the driver's
/// monotonic clock, which every schedule follows, and of its wall clock, which only stamps
/// snapshots and errors (SPEC.md §3a); a plain `OffsetDateTime` stands for both. Time never
/// moves backwards inside the session: an earlier monotonic `now` than one already seen is
/// treated as the latest one; the wall clock may jump either way without moving any schedule.
/// Instants the session hands back ([`poll_timeout`](Self::poll_timeout)) are on the monotonic
/// timeline; those in errors ([`AuthError::retry_at`]) and snapshots are wall-clock times.
/// Spurious `handle_timeout` calls are harmless.
///
/// **Single flight.** At most one auth request (login, refresh, masquerade) is in flight: while
/// one is, `poll_transmit` returns `None` and `authorize` answers `Pending` to callers that have
/// no usable token. Adapters need only a lock and a wake-up.
///
/// Basic and Integrator sessions are stateless: `authorize` is always `Ready` or an error and
/// the `poll_*` methods have nothing to say.
#[derive(Debug)]
pub struct Session {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Bearer(Box<BearerSession>),
    Static(StaticAuth),
}

/// A snapshot could not be restored into a session: it belongs to another session (SPEC.md
/// §3a), whose tokens must never be sent here. The messages name what differs, never a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Only bearer sessions have token state.
    #[error("only a bearer session can be restored from a snapshot")]
    NotBearer,
    /// The snapshot was made for another server.
    #[error(
        "the stored session belongs to another server ({stored}), not {configured}: use another session file, \
         or remove this one to log in again"
    )]
    OtherOrigin {
        /// The origin the snapshot was made for.
        stored: String,
        /// The origin this session is configured for.
        configured: String,
    },
    /// The snapshot belongs to another user.
    #[error("the stored session belongs to another user: use another session file, or remove this one to log in again")]
    OtherUser,
    /// The snapshot was made for another pinned account (or for none, or this one pins none).
    #[error(
        "the stored session was made for another account setting ({}), not {}: use another session file, \
         or remove this one to log in again",
        pinned_text(*stored), pinned_text(*configured)
    )]
    OtherAccount {
        /// The account the snapshot's configuration pinned.
        stored: Option<AccountId>,
        /// The account this session pins.
        configured: Option<AccountId>,
    },
    /// The snapshot's token serves another account than the pinned one, and the session
    /// cannot switch (relogin without a password).
    #[error(
        "the stored session serves another account than the pinned one, and switching back needs the password: \
         provide it, or remove the session file to log in again"
    )]
    AccountMismatch,
}

fn pinned_text(account: Option<AccountId>) -> String {
    account.map_or_else(|| "no pinned account".to_owned(), |a| format!("account {a}"))
}

impl Session {
    /// A session with no token yet. `seed` feeds the refresh and backoff jitter: pass a random
    /// value in production and a fixed one in tests.
    ///
    /// A bearer configuration without a password cannot start this way (use
    /// [`restore`](Self::restore)).
    pub fn new(config: Config, seed: u64, now: impl Into<Now>) -> Result<Session, ConfigError> {
        let inner = match config.scheme {
            Scheme::Bearer if config.password.is_none() => {
                return Err(ConfigError::NoPasswordToLogIn);
            }
            Scheme::Bearer => Inner::Bearer(Box::new(BearerSession::new(config, seed, now.into()))),
            Scheme::Basic | Scheme::Integrator => Inner::Static(StaticAuth::new(config)),
        };
        Ok(Session { inner })
    }

    /// A bearer session that continues from a persisted [`Snapshot`] — only one made for the
    /// same origin, user and pinned account ([`RestoreError`] otherwise: SPEC.md §3a).
    pub fn restore(
        config: Config,
        snapshot: Snapshot,
        seed: u64,
        now: impl Into<Now>,
    ) -> Result<Session, RestoreError> {
        if config.scheme != Scheme::Bearer {
            return Err(RestoreError::NotBearer);
        }
        let now = now.into();
        let pinned = config.account;
        let mut bearer = BearerSession::new(config, seed, now);
        let (owner, stored) = (bearer.owner(), &snapshot.owner);
        if stored.origin != owner.origin {
            return Err(RestoreError::OtherOrigin { stored: stored.origin.clone(), configured: owner.origin.clone() });
        }
        if stored.username != owner.username {
            return Err(RestoreError::OtherUser);
        }
        if stored.pinned != owner.pinned {
            return Err(RestoreError::OtherAccount { stored: stored.pinned, configured: owner.pinned });
        }
        bearer.install_snapshot(snapshot, now.monotonic(), false);
        // A stored token bound elsewhere than the pinned account must not serve it: move it
        // there first (relogin needs the password; masquerade works with the token).
        if let Some(pinned) = pinned
            && bearer.account() != Some(pinned)
        {
            // Nobody waits for this switch: every request waits for it instead.
            let _ticket = bearer.switch_account(pinned, now).map_err(|_| RestoreError::AccountMismatch)?;
        }
        Ok(Session { inner: Inner::Bearer(Box::new(bearer)) })
    }

    /// The authentication scheme.
    pub fn scheme(&self) -> Scheme {
        match &self.inner {
            Inner::Bearer(_) => Scheme::Bearer,
            Inner::Static(s) => s.scheme(),
        }
    }

    /// How long an auth exchange may take ([`RefreshPolicy::auth_timeout`](crate::RefreshPolicy)):
    /// the bound of an auth request's transport timeout and of a wait for the store's lock.
    pub fn auth_timeout(&self) -> std::time::Duration {
        match &self.inner {
            Inner::Bearer(b) => b.policy().auth_timeout,
            Inner::Static(_) => crate::config::RefreshPolicy::default().auth_timeout,
        }
    }

    /// The bearer state machine, for bearer sessions (RealTime, token state, account).
    pub fn bearer(&self) -> Option<&BearerSession> {
        match &self.inner {
            Inner::Bearer(b) => Some(b),
            Inner::Static(_) => None,
        }
    }

    /// The bearer state machine, mutably; this is how a RealTime handshake is obtained
    /// (SPEC.md §6: bearer only).
    pub fn bearer_mut(&mut self) -> Option<&mut BearerSession> {
        match &mut self.inner {
            Inner::Bearer(b) => Some(b),
            Inner::Static(_) => None,
        }
    }

    /// Whether credentials may be attached to a request for `uri` (same scheme, host and port
    /// as the configured base URL). Middleware uses this to pass other requests through.
    pub fn is_api_origin(&self, uri: &Uri) -> bool {
        self.base_url().same_origin(uri)
    }

    /// What this session admits to its credentials, decided without it: the API origin and the
    /// account rules ([`Gate`]). Keep it outside the session's lock and make each request's
    /// [`Call`](crate::Call) with it.
    pub fn gate(&self) -> Gate {
        let rules = match &self.inner {
            Inner::Bearer(_) => None,
            Inner::Static(s) => Some(s.rules().clone()),
        };
        Gate::new(self.base_url().clone(), rules, self.ledger().id)
    }

    /// The configured base URL: credentials go only to its origin. It never changes, so a
    /// driver may keep a copy to check origins without the session.
    pub fn base_url(&self) -> &BaseUrl {
        match &self.inner {
            Inner::Bearer(b) => b.base_url(),
            Inner::Static(s) => s.base_url(),
        }
    }

    /// The books of the credentials handed out and not back yet, to share with their holders:
    /// an answer the session would accept as it is can be settled there, without the session
    /// ([`Ledger::settle`](crate::Ledger::settle)).
    pub fn ledger(&self) -> &Arc<Ledger> {
        match &self.inner {
            Inner::Bearer(b) => b.ledger(),
            Inner::Static(s) => s.ledger(),
        }
    }

    /// The account in effect: the bearer token's account, or the pinned Basic/Integrator one.
    pub fn account(&self) -> Option<AccountId> {
        match &self.inner {
            Inner::Bearer(b) => b.account(),
            Inner::Static(s) => s.account(),
        }
    }

    /// A snapshot of the bearer token state for persistence (`None` for Basic/Integrator and
    /// before the first login).
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.bearer().and_then(|b| b.snapshot())
    }

    /// The credential for an API request to `uri`.
    ///
    /// - `Ok(Ready(credential))`: attach it ([`Credential::attach`](crate::Credential::attach)),
    ///   send, then report the status with the receipt ([`handle_api_response`](Self::handle_api_response)).
    /// - `Ok(Pending)`: an auth exchange must complete first. Call
    ///   [`poll_transmit`](Self::poll_transmit); if it yields a request, send it and report the
    ///   answer; if not, another caller is doing so: wait for it, then call `authorize` again.
    /// - `Err(_)`: no credential can be had now; [`AuthError::retry_at`] says whether that
    ///   will pass. Nothing was sent.
    ///
    /// Credentials are only ever given for the configured API origin
    /// ([`AuthError::ForeignOrigin`] otherwise), and never for a token at or past its cutoff.
    #[inline]
    pub fn authorize(&mut self, uri: &Uri, now: impl Into<Now>) -> Result<Authorization, AuthError> {
        match &mut self.inner {
            Inner::Bearer(b) => b.authorize(uri, now.into()),
            Inner::Static(s) => s.authorize(uri).map(Authorization::Ready),
        }
    }

    /// [`authorize`](Self::authorize)'s fast path alone: a bearer credential when nothing is
    /// going on, `None` otherwise (then `authorize` decides).
    #[inline]
    pub(crate) fn ready_credential(&mut self, uri: &Uri, now: Now) -> Option<Credential> {
        match &mut self.inner {
            Inner::Bearer(b) => b.ready_credential(uri, now),
            Inner::Static(_) => None,
        }
    }

    /// The credential of a request its [`Gate`] admitted (`account_param`: it gets the pinned
    /// account), like [`authorize`](Self::authorize) without the checks the gate made.
    pub(crate) fn authorize_admitted(&mut self, account_param: bool, now: Now) -> Result<Authorization, AuthError> {
        match &mut self.inner {
            Inner::Bearer(b) => b.authorize_admitted(now),
            Inner::Static(s) => Ok(Authorization::Ready(s.credential(account_param))),
        }
    }

    /// [`authorize_retry`](Self::authorize_retry) for a request its [`Gate`] admitted.
    pub(crate) fn authorize_retry_admitted(
        &mut self,
        account_param: bool,
        permit: RetryPermit,
        now: Now,
    ) -> Result<RetryAuthorization, AuthError> {
        Ok(self.authorize_admitted(account_param, now)?.for_resend(permit))
    }

    /// [`ready_credential`](Self::ready_credential) for a request its [`Gate`] admitted.
    #[inline]
    pub(crate) fn ready_credential_admitted(&mut self, now: Now) -> Option<Credential> {
        match &mut self.inner {
            Inner::Bearer(b) => b.ready_credential_admitted(now),
            Inner::Static(_) => None,
        }
    }

    /// A credential for the one resend of a request the API rejected with 401/403, spending the
    /// [`RetryPermit`] of its [`ApiVerdict::RetryOnce`]. Like [`authorize`](Self::authorize);
    /// `Pending` gives the permit back, to ask again once the exchange has completed. The
    /// resend's answer is final (SPEC.md §5a): reported, it never asks for another retry.
    pub fn authorize_retry(
        &mut self,
        uri: &Uri,
        permit: RetryPermit,
        now: impl Into<Now>,
    ) -> Result<RetryAuthorization, AuthError> {
        Ok(self.authorize(uri, now)?.for_resend(permit))
    }

    /// Reports the status of an API response sent with a credential, by its [`Receipt`], and
    /// says whether to resend it (SPEC.md §5a). The resend's own answer is final: a request
    /// the API keeps refusing costs one refresh, not two.
    pub fn handle_api_response(&mut self, receipt: Receipt, status: StatusCode, now: impl Into<Now>) -> ApiVerdict {
        match &mut self.inner {
            Inner::Bearer(b) => {
                b.handle_timeout(now.into());
                b.handle_api_response(receipt, status)
            }
            Inner::Static(_) => ApiVerdict::Accept,
        }
    }

    /// Reports that an API request sent with a credential got no response we may judge the
    /// token by (transport error, cancelled, redirected). Call it instead of
    /// `handle_api_response`.
    pub fn release(&mut self, receipt: Receipt) {
        if let Inner::Bearer(b) = &mut self.inner {
            b.release(receipt);
        }
    }

    /// Moves a bearer session to another account (SPEC.md §4), by relogin or masquerade as
    /// configured. New `authorize` calls answer `Pending` until the switch completes; with
    /// masquerade, the switch waits until credentials handed out for the old account are
    /// reported back (or `auth_timeout` passed), so no request of the old account runs on the
    /// new one. Drive it like any exchange, and learn its outcome with
    /// [`poll_switch`](Self::poll_switch) and the returned ticket. A refused switch leaves the
    /// session on its old account but fails every request with the refusal until the ticket's
    /// caller has collected it (or another switch starts).
    pub fn switch_account(&mut self, account: AccountId, now: impl Into<Now>) -> Result<SwitchTicket, AuthError> {
        match &mut self.inner {
            Inner::Bearer(b) => b.switch_account(account, now.into()),
            Inner::Static(_) => Err(AuthError::SwitchRequiresBearer),
        }
    }

    /// How the switch of `ticket` ended, for its caller only: `None` while it runs (drive or
    /// wait, then ask again); `Ok(account)` once the session is on the account asked for;
    /// [`AuthError::AccountSwitchRejected`] if the server refused it;
    /// [`AuthError::SwitchSuperseded`] if another caller's later switch took its place (naming
    /// the account in force); or the error that stops it for now (a backoff) or for good.
    pub fn poll_switch(&mut self, ticket: &SwitchTicket, now: impl Into<Now>) -> Option<Result<AccountId, AuthError>> {
        match &mut self.inner {
            Inner::Bearer(b) => b.poll_switch(ticket, now),
            Inner::Static(_) => Some(Err(AuthError::SwitchRequiresBearer)),
        }
    }

    /// Adopts what another session or process sharing the same store wrote, when no exchange
    /// is in flight: a newer token pair (by generation), or the spend of the refresh token we
    /// hold (our very token, stored without it: another sharer has sent it, SPEC.md §3). A
    /// snapshot of another origin, user or pinned account is never adopted (SPEC.md §3a).
    /// Returns whether anything was adopted. Call it, under the store's lock, before
    /// `poll_transmit`, so two processes never refresh the same session twice nor present a
    /// spent refresh token.
    pub fn adopt(&mut self, snapshot: Snapshot, now: impl Into<Now>) -> bool {
        match &mut self.inner {
            Inner::Bearer(b) => b.adopt(snapshot, now.into()),
            Inner::Static(_) => false,
        }
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) would emit an auth request at `now`
    /// (without emitting it). A store-backed driver uses this to take its lock and
    /// [`adopt`](Self::adopt) a newer snapshot first.
    pub fn wants_transmit(&self, now: impl Into<Now>) -> bool {
        match &self.inner {
            Inner::Bearer(b) => b.wants_transmit(now),
            Inner::Static(_) => false,
        }
    }

    /// The next auth request to send, if the session wants one at `now`. Emitting a refresh
    /// spends its refresh token: persist the [`Event::TokensUpdated`] it queues, call
    /// [`handle_handoff`](Self::handle_handoff) as the request goes to the transport, then
    /// report the answer with `handle_response`, or the failure with `handle_failure`. An
    /// unreported request is given up `auth_timeout` after its hand-off (or after it was
    /// emitted, if the hand-off is never reported).
    #[must_use]
    pub fn poll_transmit(&mut self, now: impl Into<Now>) -> Option<AuthRequest> {
        match &mut self.inner {
            Inner::Bearer(b) => b.poll_transmit(now.into()),
            Inner::Static(_) => None,
        }
    }

    /// Reports that the auth request `id` is being handed to the transport now, after whatever
    /// the driver did first (saving the spent state to a store may take a while). The request's
    /// deadline, `auth_timeout`, runs from here, as the transport's own timeout does, so a slow
    /// save never makes the session discard a good answer (SPEC.md §3a); expiry is measured
    /// from here too. `false`: the request was given up meanwhile (the save outlasted its
    /// deadline): do not send it, and report nothing more for it.
    #[must_use]
    pub fn handle_handoff(&mut self, id: RequestId, now: impl Into<Now>) -> bool {
        match &mut self.inner {
            Inner::Bearer(b) => b.handle_handoff(id, now.into()),
            Inner::Static(_) => false,
        }
    }

    /// Feeds the answer to the auth request `id`. The body should be read with a limit of
    /// [`MAX_AUTH_BODY`](crate::MAX_AUTH_BODY)` + 1` bytes; larger bodies are rejected unparsed.
    /// Answers to unknown or abandoned requests are ignored.
    pub fn handle_response<B: AsRef<[u8]>>(&mut self, id: RequestId, response: &Response<B>, now: impl Into<Now>) {
        if let Inner::Bearer(b) = &mut self.inner {
            b.handle_response(id, response, now.into());
        }
    }

    /// The auth request `id` will not be sent (its spent state could not be stored): see
    /// [`Coordinator::handle_store_refused`](crate::Coordinator::handle_store_refused).
    pub(crate) fn withdraw(&mut self, id: RequestId, now: Now) {
        if let Inner::Bearer(b) = &mut self.inner {
            b.withdraw(id, now);
        }
    }

    /// Makes memory what the store holds, re-loaded after it refused a write (fencing).
    pub(crate) fn replace_from_store(&mut self, stored: Option<Snapshot>, now: Now) -> bool {
        match &mut self.inner {
            Inner::Bearer(b) => b.replace_from_store(stored, now),
            Inner::Static(_) => false,
        }
    }

    /// Reports that the auth request `id` failed in transport (no response).
    pub fn handle_failure(&mut self, id: RequestId, now: impl Into<Now>) {
        if let Inner::Bearer(b) = &mut self.inner {
            b.handle_failure(id, now.into());
        }
    }

    /// Tells the session that time has passed (a timer set from `poll_timeout` fired).
    pub fn handle_timeout(&mut self, now: impl Into<Now>) {
        if let Inner::Bearer(b) = &mut self.inner {
            b.handle_timeout(now.into());
        }
    }

    /// When the session next wants attention: a token turning stale or expired, a backoff
    /// ending, an auth request's deadline. An instant on the monotonic timeline of [`Now`].
    /// `None`: nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<OffsetDateTime> {
        match &self.inner {
            Inner::Bearer(b) => b.poll_timeout(),
            Inner::Static(_) => None,
        }
    }

    /// The next event for the driver, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        match &mut self.inner {
            Inner::Bearer(b) => b.poll_event(),
            Inner::Static(_) => None,
        }
    }
}
