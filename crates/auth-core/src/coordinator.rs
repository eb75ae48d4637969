//! [`Coordinator`]: one [`Session`] shared by many callers, with every decision of the sharing
//! made here — still Sans-IO: no lock, no clock, no thread.
//!
//! A driver puts the coordinator behind its mutex and gives each caller a [`Call`]. The
//! coordinator decides, call by call:
//!
//! - **who drives** an auth exchange (exactly one caller at a time: [`Step::Drive`]) and who
//!   waits, and for how long at most ([`Step::Wait`]);
//! - **the store steps** of an exchange, as outputs ([`DriveStep`]): lock, load and adopt, save
//!   the spent state, send, save the new tokens, unlock (SPEC.md §3, §3a);
//! - **stale or fresh**: an API request uses a stale-but-valid token at once and its caller
//!   drives the refresh afterwards; a caller whose token leaves the library (a bearer token, a
//!   RealTime handshake) refreshes first;
//! - **retry once**: a 401/403 on a replayable request earns one resend with a rebuilt header;
//! - **the books**: credentials handed out and not yet reported (their [`Receipt`]s), and
//!   account switches, each caller learning the outcome of its own ([`Coordinator::switch_account`]).
//!
//! The driver reports facts: what the store held, that a request went out, the answer or the
//! failure, that a caller has gone.
//!
//! ```text
//!            poll_call                        poll_drive (the caller that got Step::Drive)
//!   Call ──────────────▶ Attach(credential) ──▶ send, handle_api_response ──▶ poll_call again
//!     │                  Drive(drive) ────────▶ LockStore ▶ LoadStore ▶ Save* ▶ Send ▶ Save* ▶ UnlockStore ▶ Done
//!     │                  Wait(at most)  ──────▶ wait for a wake-up (poll_wake), then poll_call again
//!     └────────────────▶ Ready(..) / Failed(error)
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use http::{StatusCode, Uri};

use crate::clock::Now;
use crate::config::AccountId;
use crate::error::AuthError;
use crate::gate::{Admitted, Gate};
use crate::realtime::RealtimeAuthRequest;
use crate::request::{
    ApiVerdict, Authorization, Credential, Ledger, Receipt, RetryAuthorization, RetryPermit, Settled, TokenGeneration,
};
use crate::secret::BearerToken;
use crate::session::Session;
use crate::switch::SwitchTicket;
use crate::token::TokenState;

mod drive;

pub use drive::{Drive, DriveStep, Refusal};

/// The longest a waiter sleeps before it looks at the session again, even when someone is
/// driving (a driver blocked on another process's store lock keeps everyone waiting; waking
/// once a minute to find that out costs nothing).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A defensive pause for a state the session should never be in: an exchange wanted, nobody
/// driving, nothing scheduled. It bounds what would otherwise be a spin.
pub const IDLE_WAIT: Duration = Duration::from_secs(1);

/// After the store could not be locked or written (a Redis down or slow), how long a refresh
/// that no caller needs yet (the token still serves) leaves the store alone: without it, every
/// answered request would try the store again, and wait for it when it hangs.
pub const STORE_RETRY: Duration = Duration::from_secs(1);

/// One session shared by many callers: the session, who drives its exchange, and whether a
/// store keeps it. Put it behind one mutex; hold the mutex only while asking or telling it
/// something, never during I/O.
///
/// Outputs: [`poll_call`](Self::poll_call) for each caller, [`poll_drive`](Self::poll_drive)
/// for the caller driving an exchange, [`poll_wake`](Self::poll_wake) after every input (wake
/// the waiters when it says so). Inputs: the `handle_*` methods.
pub struct Coordinator {
    session: Session,
    /// A store keeps the session: exchanges lock, load, save and unlock it.
    persisted: bool,
    /// The drive under way, by serial.
    driving: Option<u64>,
    serials: u64,
    /// Something waiters wait for has happened since the last `poll_wake`.
    wake: bool,
    /// Until when (monotonic) a refresh nobody needs yet leaves a failing store alone.
    store_retry_at: Option<OffsetDateTime>,
}

impl fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coordinator")
            .field("session", &self.session)
            .field("persisted", &self.persisted)
            .field("driving", &self.driving.is_some())
            .finish_non_exhaustive()
    }
}

/// The bearer state machine, for what only a bearer session has.
fn bearer(session: &mut Session) -> Result<&mut crate::BearerSession, AuthError> {
    session.bearer_mut().ok_or(AuthError::RequiresBearer)
}

/// What a caller asked for.
#[derive(Debug)]
enum Want {
    Request { target: RequestTarget, replayable: bool, expect: Option<AccountId> },
    Token,
    Realtime,
    Switch(SwitchTicket),
}

/// Where an API request goes.
#[derive(Debug)]
enum RequestTarget {
    /// Judged by the session at each attempt ([`Call::request`]).
    Uri(Uri),
    /// Judged once by the session's [`Gate`] ([`Gate::request`]).
    Admitted(Admitted),
}

/// Where an API request's call stands.
#[derive(Debug)]
enum Phase {
    /// Before its first attempt (or before its value, for the other wants).
    Start,
    /// Its attempt is out; the answer has not been reported.
    Sent,
    /// The first answer was a 401/403 and the body can be replayed: one resend.
    Retry(RetryPermit),
    /// The final answer is in: refresh a stale token if that is due, then done.
    Answered,
    /// Nothing left to do.
    Done,
}

/// One caller's business with the shared session: an API request, a bearer token, a RealTime
/// handshake or an account switch. Poll it with [`Coordinator::poll_call`] until it is
/// [`Ready`](Step::Ready) or [`Failed`](Step::Failed). Not `Clone`: every outcome belongs to
/// the one caller holding it.
#[derive(Debug)]
#[must_use = "poll the call with `Coordinator::poll_call`"]
pub struct Call {
    want: Want,
    phase: Phase,
    /// A bearer token or handshake leaves the library: refresh first when one is due.
    refresh_first: bool,
    idle_rounds: u32,
}

impl Call {
    /// An API request to `uri`. `replayable`: its body can be sent again, so a 401/403 earns
    /// one resend. `expect`: the account the caller means it for; if the session is on another
    /// one (someone switched it), the call fails with [`AuthError::AccountChanged`] and nothing
    /// is sent.
    pub fn request(uri: Uri, replayable: bool, expect: Option<AccountId>) -> Call {
        Call::new(Want::Request { target: RequestTarget::Uri(uri), replayable, expect }, false)
    }

    /// An API request that a [`Gate`] admitted.
    pub(crate) fn admitted(admitted: Admitted, replayable: bool, expect: Option<AccountId>) -> Call {
        Call::new(Want::Request { target: RequestTarget::Admitted(admitted), replayable, expect }, false)
    }

    /// The URI of an API request made with [`Call::request`] (`None` for the other calls, and
    /// for one a [`Gate`] made): a driver may rebuild the one resend from it rather than keep a
    /// copy of its own.
    pub fn uri(&self) -> Option<&Uri> {
        match &self.want {
            Want::Request { target: RequestTarget::Uri(uri), .. } => Some(uri),
            _ => None,
        }
    }

    /// What the gate found, for a call it made.
    #[cfg(test)]
    pub(crate) fn admitted_as(&self) -> Option<Admitted> {
        match &self.want {
            Want::Request { target: RequestTarget::Admitted(admitted), .. } => Some(*admitted),
            _ => None,
        }
    }

    /// A currently valid bearer token (refreshed first when a refresh is due).
    pub fn bearer_token() -> Call {
        Call::new(Want::Token, true)
    }

    /// The first message of a RealTime connection (refreshed first when a refresh is due).
    pub fn realtime_auth() -> Call {
        Call::new(Want::Realtime, true)
    }

    fn new(want: Want, refresh_first: bool) -> Call {
        Call { want, phase: Phase::Start, refresh_first, idle_rounds: 0 }
    }
}

/// What a caller does next ([`Coordinator::poll_call`]).
#[derive(Debug)]
#[must_use]
pub enum Step {
    /// Attach the credential to the request ([`Credential::attach`]), send it, and report the
    /// answer with [`Coordinator::handle_api_response`] (or the failure with
    /// [`Coordinator::release`]). Then poll again: a 401/403 may ask for the one resend, a
    /// stale token for its refresh.
    Attach(Credential),
    /// This caller drives an auth exchange: run [`Coordinator::poll_drive`] until
    /// [`DriveStep::Done`], then poll the call again.
    Drive(Drive),
    /// Wait for a wake-up ([`Coordinator::poll_wake`]), at most this long, then poll again.
    Wait(Duration),
    /// The call is done.
    Ready(Ready),
    /// The call failed; nothing more to do.
    Failed(AuthError),
}

impl Ledger {
    /// Settles, without the coordinator (and so without its lock), the answer to the request
    /// of `call` that carried `receipt`, when the coordinator would accept it as it is and has
    /// nothing more to do for the call: a Basic or Integrator answer, or an answer that is no
    /// 401/403 (or came through a redirect) to a request whose token was fresh when it left.
    /// The call is then [ready](Ready::Response). `Err`: the coordinator must hear this answer
    /// (a rejection may earn the one resend; a stale token's caller drives its refresh):
    /// report it with [`Coordinator::handle_api_response`].
    pub fn settle(
        &self,
        call: &mut Call,
        receipt: Receipt,
        status: StatusCode,
        redirected: bool,
    ) -> Result<Settled, Receipt> {
        let rejected = !redirected && crate::request::rejects(status);
        let plain = receipt.ledger == 0 || (receipt.is_quiet() && !rejected);
        if !plain || !matches!((&call.want, &call.phase), (Want::Request { .. }, Phase::Sent)) {
            return Err(receipt);
        }
        let settled = self.release(receipt)?;
        call.phase = Phase::Done;
        Ok(settled)
    }
}

/// What a finished call yields.
#[derive(Debug)]
pub enum Ready {
    /// An API request: the last answer reported is the response. A request's call is never
    /// ready before an answer was reported with [`Coordinator::handle_api_response`].
    Response,
    /// A bearer token ([`Call::bearer_token`]).
    Token(BearerToken),
    /// A RealTime handshake ([`Call::realtime_auth`]).
    Realtime(RealtimeAuthRequest),
    /// An account switch: the session is on this account ([`Coordinator::switch_account`]).
    Switched(AccountId),
}

impl Ready {
    /// The bearer token of a [`Call::bearer_token`].
    pub fn into_token(self) -> Result<BearerToken, AuthError> {
        match self {
            Ready::Token(token) => Ok(token),
            _ => Err(AuthError::RequiresBearer),
        }
    }

    /// The handshake of a [`Call::realtime_auth`].
    pub fn into_realtime(self) -> Result<RealtimeAuthRequest, AuthError> {
        match self {
            Ready::Realtime(handshake) => Ok(handshake),
            _ => Err(AuthError::RequiresBearer),
        }
    }

    /// The account of a finished [`Coordinator::switch_account`] call.
    pub fn into_account(self) -> Result<AccountId, AuthError> {
        match self {
            Ready::Switched(account) => Ok(account),
            _ => Err(AuthError::SwitchRequiresBearer),
        }
    }
}

impl Coordinator {
    /// Shares `session`; `persisted`: a store keeps it (only a bearer session has anything to
    /// keep, so this is ignored for Basic and Integrator).
    pub fn new(session: Session, persisted: bool) -> Coordinator {
        let persisted = persisted && session.bearer().is_some();
        Coordinator { session, persisted, driving: None, serials: 0, wake: false, store_retry_at: None }
    }

    /// The session (getters only: every change goes through the coordinator).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Whether a store keeps the session.
    pub fn is_persisted(&self) -> bool {
        self.persisted
    }

    /// Whether a caller is driving an exchange.
    pub fn is_driving(&self) -> bool {
        self.driving.is_some()
    }

    /// Where the bearer token stands at `now`.
    pub fn token_state(&self, now: impl Into<Now>) -> Option<TokenState> {
        self.session.bearer().and_then(|b| b.token_state(now))
    }

    /// Whether waiters must be woken: something they wait for happened since the last call
    /// (an exchange ended, a credential came back while a switch waits for it, a switch
    /// started). Call it after every input, with the mutex held, and wake them outside it.
    #[must_use]
    pub fn poll_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake)
    }

    // ----- commands ------------------------------------------------------------------------

    /// Starts moving the session to `account` (SPEC.md §4); the returned call yields
    /// [`Ready::Switched`] once the session is on it, or fails with the server's refusal, with
    /// [`AuthError::SwitchSuperseded`] if another caller's later switch took its place, or with
    /// the error that stops it for now (the switch stays pending, retried by the next caller).
    pub fn switch_account(&mut self, account: AccountId, now: impl Into<Now>) -> Result<Call, AuthError> {
        let ticket = self.session.switch_account(account, now)?;
        self.wake = true;
        Ok(Call::new(Want::Switch(ticket), false))
    }

    /// Reports that the RealTime server refused the token of `generation`: the session drops it,
    /// so the next handshake refreshes first (SPEC.md §6).
    pub fn handle_realtime_rejection(&mut self, generation: TokenGeneration, now: impl Into<Now>) {
        if let Some(bearer) = self.session.bearer_mut() {
            bearer.handle_realtime_rejection(generation, now);
            self.wake = true;
        }
    }

    // ----- a caller's steps ----------------------------------------------------------------

    /// What `call`'s caller does next.
    #[inline]
    pub fn poll_call(&mut self, call: &mut Call, now: impl Into<Now>) -> Step {
        let now = now.into();
        // The fast path of nearly every request: its first attempt, a token in service, nothing
        // going on (what `value` would find, without its detours).
        if let (Phase::Start, Want::Request { target, expect, .. }) = (&call.phase, &call.want)
            && expect.is_none_or(|expected| self.session.account() == Some(expected))
            && let Some(credential) = match target {
                RequestTarget::Admitted(admitted) if admitted.session == self.session.ledger().id => {
                    self.session.ready_credential_admitted(now)
                }
                RequestTarget::Admitted(_) => None,
                RequestTarget::Uri(uri) => self.session.ready_credential(uri, now),
            }
        {
            call.phase = Phase::Sent;
            return Step::Attach(credential);
        }
        self.poll_call_slow(call, now)
    }

    /// [`poll_call`](Self::poll_call) past its fast path.
    #[inline(never)]
    fn poll_call_slow(&mut self, call: &mut Call, now: Now) -> Step {
        if matches!(call.phase, Phase::Answered) {
            call.phase = Phase::Done;
            // A token in its refresh window was used as it was: the caller that just got its
            // answer drives the refresh now, unless someone else is. A rejected or expired
            // token is left to the next caller, who needs it.
            let stale = self.token_state(now) == Some(TokenState::Stale);
            if stale && let Some(drive) = self.claim(false, now) {
                return Step::Drive(drive);
            }
        }
        if matches!(call.phase, Phase::Done) {
            return Step::Ready(Ready::Response);
        }
        if std::mem::take(&mut call.refresh_first)
            && let Some(drive) = self.claim(false, now)
        {
            return Step::Drive(drive);
        }
        match self.value(call, now) {
            Ok(Some(step)) => step,
            Ok(None) => match self.claim(true, now) {
                Some(drive) => {
                    call.idle_rounds = 0;
                    Step::Drive(drive)
                }
                None => self.wait(call, now),
            },
            Err(error) => {
                call.phase = Phase::Done;
                Step::Failed(error)
            }
        }
    }

    /// Reports the answer to the request of `call` that carried `receipt`. A `redirected` answer
    /// is not judged: its final hop may have gone out without the `Authorization` header, so
    /// its status says nothing about the token.
    pub fn handle_api_response(
        &mut self,
        call: &mut Call,
        receipt: Receipt,
        status: StatusCode,
        redirected: bool,
        now: impl Into<Now>,
    ) {
        let verdict = if redirected {
            self.release(receipt);
            ApiVerdict::Accept
        } else {
            self.note_return();
            self.session.handle_api_response(receipt, status, now)
        };
        let replayable = matches!(call.want, Want::Request { replayable: true, .. });
        call.phase = match verdict {
            ApiVerdict::RetryOnce(permit) if replayable && matches!(call.phase, Phase::Sent) => Phase::Retry(permit),
            _ => Phase::Answered,
        };
    }

    /// Reports that the request that carried `receipt` got no answer (a transport error, a
    /// cancelled caller). Its call, if any, is over: the driver returns the failure.
    pub fn release(&mut self, receipt: Receipt) {
        self.note_return();
        self.session.release(receipt);
    }

    /// Reports that a credential came back without the coordinator ([`Ledger::settle`] or
    /// [`Ledger::release`] said [`Settled::Wake`]): a switch may have waited for it.
    pub fn handle_return(&mut self) {
        self.note_return();
    }

    /// What the session admits to its credentials ([`Gate`]): keep it outside the mutex and
    /// make each API request's call with it.
    pub fn gate(&self) -> Gate {
        self.session.gate()
    }

    /// The books of the credentials out (the session's [`Ledger`]): share them with the callers,
    /// outside the mutex, to settle plain answers without it.
    pub fn ledger(&self) -> &Arc<Ledger> {
        self.session.ledger()
    }

    /// A credential came back: a masquerade switch may have waited for it.
    fn note_return(&mut self) {
        if self.session.bearer().is_some_and(|b| b.pending_switch().is_some()) {
            self.wake = true;
        }
    }

    /// The value `call` asks for, if the session has it now; `Ok(None)`: an exchange must
    /// complete first.
    fn value(&mut self, call: &mut Call, now: Now) -> Result<Option<Step>, AuthError> {
        Ok(match &call.want {
            Want::Request { target, expect, .. } => {
                // A gate of another session judged it: its origin is unknown here.
                let admitted = match target {
                    RequestTarget::Admitted(admitted) if admitted.session != self.session.ledger().id => {
                        return Err(AuthError::ForeignOrigin);
                    }
                    RequestTarget::Admitted(admitted) => Some(admitted.account_param),
                    RequestTarget::Uri(_) => None,
                };
                let credential = match (std::mem::replace(&mut call.phase, Phase::Sent), target) {
                    (Phase::Retry(permit), target) => {
                        let authorization = match (admitted, target) {
                            (Some(param), _) => self.session.authorize_retry_admitted(param, permit, now)?,
                            (None, RequestTarget::Uri(uri)) => self.session.authorize_retry(uri, permit, now)?,
                            (None, RequestTarget::Admitted(_)) => return Err(AuthError::ForeignOrigin),
                        };
                        match authorization {
                            RetryAuthorization::Ready(credential) => Some(credential),
                            RetryAuthorization::Pending(permit) => {
                                call.phase = Phase::Retry(permit);
                                None
                            }
                        }
                    }
                    (phase, target) => {
                        let authorization = match (admitted, target) {
                            (Some(param), _) => self.session.authorize_admitted(param, now)?,
                            (None, RequestTarget::Uri(uri)) => self.session.authorize(uri, now)?,
                            (None, RequestTarget::Admitted(_)) => return Err(AuthError::ForeignOrigin),
                        };
                        match authorization {
                            Authorization::Ready(credential) => Some(credential),
                            Authorization::Pending => {
                                call.phase = phase;
                                None
                            }
                        }
                    }
                };
                match (credential, *expect) {
                    (Some(credential), Some(expected)) if credential.account() != Some(expected) => {
                        let in_force = credential.account();
                        self.release(credential.into_parts().2);
                        let account = crate::trace::account(in_force);
                        tracing::warn!(
                            expected = expected.0,
                            in_force = account,
                            "request refused: the account changed"
                        );
                        return Err(AuthError::AccountChanged { expected, in_force });
                    }
                    (credential, _) => credential.map(Step::Attach),
                }
            }
            Want::Token => bearer(&mut self.session)?.current_token(now)?.map(|t| Step::Ready(Ready::Token(t))),
            Want::Realtime => bearer(&mut self.session)?.realtime_auth(now)?.map(|r| Step::Ready(Ready::Realtime(r))),
            Want::Switch(ticket) => match self.session.poll_switch(ticket, now) {
                Some(outcome) => {
                    call.phase = Phase::Done;
                    Some(Step::Ready(Ready::Switched(outcome?)))
                }
                None => None,
            },
        })
    }

    /// Makes the caller the driver of the exchange the session wants, if it wants one and
    /// nobody drives.
    fn claim(&mut self, required: bool, now: Now) -> Option<Drive> {
        if self.driving.is_some() || !self.session.wants_transmit(now) {
            return None;
        }
        if !required && self.store_retry_at.is_some_and(|at| now.monotonic() < at) {
            return None;
        }
        self.serials += 1;
        self.driving = Some(self.serials);
        Some(Drive::new(self.serials, required))
    }

    /// How long to wait for a wake-up: until the session's next deadline, capped by
    /// [`MAX_WAIT`]. The deadline is on the driver's monotonic clock, the wait in real time: a
    /// manual clock only bounds the wait; the wake-up comes from [`poll_wake`](Self::poll_wake).
    fn wait(&mut self, call: &mut Call, now: Now) -> Step {
        let until_deadline = self
            .session
            .poll_timeout()
            .map(|deadline| deadline - now.monotonic())
            .filter(|left| left.is_positive())
            .and_then(|left| Duration::try_from(left).ok());
        let someone_drives = self.driving.is_some() || self.session.bearer().is_some_and(|b| b.is_exchange_in_flight());
        match (until_deadline, someone_drives) {
            (Some(left), _) => Step::Wait(left.min(MAX_WAIT)),
            (None, true) => Step::Wait(MAX_WAIT),
            (None, false) => {
                // Nothing will wake us, but a deadline may just have passed: look again at
                // once (a couple of times), then pause rather than spin.
                call.idle_rounds += 1;
                Step::Wait(if call.idle_rounds <= 2 { Duration::ZERO } else { IDLE_WAIT })
            }
        }
    }
}
