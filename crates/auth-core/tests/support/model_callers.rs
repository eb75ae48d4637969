//! The callers of the coordinator model: each holds at most one call, polls it one step at a
//! time, holds the credential it was given until its answer is reported (or released), drives
//! when told to, waits until woken, and may vanish at any point. Every step a call is given is
//! checked here (invariants 2, 4, 6, 7, 8, 10 of `model_coordinator.rs`).

use std::sync::Arc;

use auth_core::{AccountId, AuthError, Call, Credential, Drive, MAX_WAIT, Ready, Receipt, Settled, Step};
use http::StatusCode;
use time::OffsetDateTime;

use super::{Shared, span};

/// What a caller asked for.
#[derive(Debug)]
enum Want {
    Request { replayable: bool, expect: Option<AccountId> },
    Token,
    Switch(AccountId),
}

/// A caller waiting for a wake-up.
#[derive(Debug)]
struct Waiting {
    until: OffsetDateTime,
    woken: bool,
}

/// A call under way.
#[derive(Debug)]
pub(super) struct Live {
    call: Call,
    want: Want,
    pub(super) drive: Option<Drive>,
    /// The drive's store lock failed and the call needed it: the call fails once the drive is done.
    pub(super) store_failed: bool,
    /// The credential out: attached and sent, its answer not reported yet.
    receipt: Option<Receipt>,
    waiting: Option<Waiting>,
    /// Attempts sent (the first, and the one resend after a 401/403).
    attempts: u32,
    /// The last answer reported: its status, and whether it was redirected.
    answered: Option<(u16, bool)>,
}

#[derive(Debug, Default)]
pub(super) struct Caller {
    pub(super) live: Option<Live>,
    /// The account this caller was last told the session is on.
    told: Option<AccountId>,
}

impl Caller {
    pub(super) fn is_driving(&self) -> bool {
        self.live.as_ref().is_some_and(|live| live.drive.is_some())
    }

    pub(super) fn drive_mut(&mut self) -> Option<&mut Drive> {
        self.live.as_mut()?.drive.as_mut()
    }

    fn holds_receipt(&self) -> bool {
        self.live.as_ref().is_some_and(|live| live.receipt.is_some())
    }

    /// Whether the caller would poll its call now: it is not busy driving or sending, and it
    /// does not wait, or was woken, or its wait is over.
    pub(super) fn is_pollable(&self, now: OffsetDateTime) -> bool {
        self.live.as_ref().is_some_and(|live| {
            live.drive.is_none()
                && live.receipt.is_none()
                && live.waiting.as_ref().is_none_or(|wait| wait.woken || now >= wait.until)
        })
    }

    pub(super) fn wait_until(&self) -> Option<OffsetDateTime> {
        self.live.as_ref()?.waiting.as_ref().map(|wait| wait.until)
    }

    pub(super) fn wake(&mut self) {
        if let Some(waiting) = self.live.as_mut().and_then(|live| live.waiting.as_mut()) {
            waiting.woken = true;
        }
    }

    /// The call ends with an error of the driver's own (the store's lock), not the coordinator's.
    pub(super) fn end_call(&mut self) {
        let live = self.live.take().unwrap();
        assert!(live.receipt.is_none(), "a call that drives holds no credential");
        if let Want::Switch(_) = live.want {
            self.told = None;
        }
    }

    /// Its process dies: whether a credential died with it.
    pub(super) fn die(&mut self) -> bool {
        self.told = None;
        self.live.take().is_some_and(|live| live.receipt.is_some())
    }
}

impl Shared {
    pub(super) fn held_receipts(&self) -> usize {
        self.callers.iter().filter(|c| c.holds_receipt()).count()
    }

    /// The caller that drives, if any.
    pub(super) fn driver(&self) -> Option<usize> {
        self.callers.iter().position(Caller::is_driving)
    }

    fn begin(&mut self, caller: usize, call: Call, want: Want) {
        let live = Live {
            call,
            want,
            drive: None,
            store_failed: false,
            receipt: None,
            waiting: None,
            attempts: 0,
            answered: None,
        };
        self.callers[caller].live = Some(live);
    }

    /// The drivers make a request's call with the session's gate; the odd callers here use
    /// `Call::request` instead, so that both kinds of call are exercised.
    pub(super) fn start_request(&mut self, caller: usize, replayable: bool, expect: bool) {
        if self.callers[caller].live.is_none() {
            let expect = self.callers[caller].told.filter(|_| expect);
            let call = match caller % 2 {
                0 => self.coordinator.gate().request(&self.uri, replayable, expect).unwrap(),
                _ => Call::request(self.uri.clone(), replayable, expect),
            };
            self.begin(caller, call, Want::Request { replayable, expect });
        }
    }

    pub(super) fn start_token(&mut self, caller: usize) {
        if self.callers[caller].live.is_none() {
            self.begin(caller, Call::bearer_token(), Want::Token);
        }
    }

    pub(super) fn start_switch(&mut self, caller: usize, account: u64) {
        if self.callers[caller].live.is_some() {
            return;
        }
        let account = AccountId(account);
        self.callers[caller].told = None;
        match self.coordinator.switch_account(account, self.clock()) {
            Ok(call) => self.begin(caller, call, Want::Switch(account)),
            Err(error) => {
                assert!(self.rejected_login && matches!(error, AuthError::CredentialsRejected(_)), "{error:?}");
                return;
            }
        }
        // A command: the loop bound starts over.
        self.requests_at_now = (self.now, 0);
        if self.coordinator.session().bearer().unwrap().pending_switch().is_some() {
            self.switch_requested_at = Some(self.now);
        }
    }

    /// The caller polls its call, if it would (it is not driving or sending).
    pub(super) fn poll(&mut self, caller: usize) {
        let clock = self.clock();
        let Some(live) =
            self.callers[caller].live.as_mut().filter(|live| live.drive.is_none() && live.receipt.is_none())
        else {
            return;
        };
        live.waiting = None;
        let step = self.coordinator.poll_call(&mut live.call, clock);
        match step {
            Step::Attach(credential) => self.attach(caller, credential),
            Step::Drive(drive) => {
                assert_eq!(self.driver(), None, "a second drive while one runs"); // invariant 9
                self.live(caller).drive = Some(drive);
            }
            Step::Wait(at_most) => self.wait(caller, at_most),
            Step::Ready(ready) => self.ready(caller, ready),
            Step::Failed(error) => self.failed(caller, error),
        }
    }

    pub(super) fn live(&mut self, caller: usize) -> &mut Live {
        self.callers[caller].live.as_mut().unwrap()
    }

    fn attach(&mut self, caller: usize, credential: Credential) {
        let header = credential.header().to_str().unwrap().to_owned();
        let token = header.strip_prefix("Bearer ").expect("a bearer header").to_owned();
        self.check_token(&token);
        // Invariant 2: the account its token acts on.
        let pair = self.server.pair(&token).unwrap();
        if !self.accounts_off {
            assert_eq!(credential.account(), pair.account, "a credential for another account than its token's");
        }
        let live = self.callers[caller].live.as_mut().unwrap();
        let Want::Request { replayable, expect } = live.want else { panic!("a credential for a {:?}", live.want) };
        // Invariant 6: never a request on an account its caller did not expect.
        if let Some(expected) = expect {
            assert_eq!(credential.account(), Some(expected), "caller {caller}'s request on another account");
        }
        // Invariant 8: the one resend, only after a 401/403 of a replayable first attempt.
        live.attempts += 1;
        let rejected = matches!(live.answered, Some((401 | 403, false)));
        assert!(live.attempts == 1 || (live.attempts == 2 && replayable && rejected), "attempt {}", live.attempts);
        let receipt = credential.attach(&mut http::Request::new(()));
        assert_eq!(receipt.is_retry(), live.attempts == 2);
        live.receipt = Some(receipt);
        self.books.handed += 1;
    }

    /// Invariant 2: a token handed out was issued and is before its cutoff.
    fn check_token(&self, token: &str) {
        assert!(self.server.pair(token).is_some(), "a token the server never issued");
        assert!(
            self.now < self.server.cutoff(token) || self.exempt.contains(token),
            "token {token} handed out past its cutoff"
        );
    }

    fn wait(&mut self, caller: usize, at_most: std::time::Duration) {
        // Invariant 10.
        assert!(at_most <= MAX_WAIT, "a wait of {at_most:?}");
        let bearer = self.coordinator.session().bearer().unwrap();
        // Nobody drives, so no exchange is out either (or nobody will ever answer it).
        if self.driver().is_none() {
            let timeout = self.auth_timeout();
            let for_credentials = self.masquerade
                && bearer.pending_switch().is_some()
                && self.held_receipts() > 0
                && self.switch_requested_at.is_some_and(|at| self.now < at + timeout);
            assert!(for_credentials, "caller {caller} waits {at_most:?} though nobody drives and nothing is out");
        }
        let until = self.now + span(at_most);
        self.live(caller).waiting = Some(Waiting { until, woken: false });
    }

    fn ready(&mut self, caller: usize, ready: Ready) {
        let live = self.callers[caller].live.take().unwrap();
        match (ready, live.want) {
            (Ready::Response, Want::Request { .. }) => {
                assert!(live.answered.is_some(), "a response though no answer was reported");
            }
            (Ready::Token(token), Want::Token) => self.check_token(token.expose_secret()),
            // Invariant 7: done, and true.
            (Ready::Switched(account), Want::Switch(requested)) => {
                assert_eq!(account, requested);
                assert_eq!(self.coordinator.session().account(), Some(account), "switched, but not there");
                // ... and there by the server's books: its token acts on the account.
                let token = self.coordinator.session().snapshot().and_then(|s| super::stored_token(&s));
                if let (Some(pair), false) = (token.and_then(|t| self.server.pair(&t)), self.accounts_off) {
                    assert_eq!(pair.account, Some(account), "switched, but the token acts on another account");
                }
                self.callers[caller].told = Some(account);
            }
            (ready, want) => panic!("{ready:?} for a {want:?}"),
        }
    }

    fn failed(&mut self, caller: usize, error: AuthError) {
        self.check_secret_free(&format!("{error} {error:?}"));
        let live = self.callers[caller].live.take().unwrap();
        let in_force = self.coordinator.session().account();
        if self.rejected_login {
            assert!(matches!(error, AuthError::CredentialsRejected(_)), "{error:?} after a rejected login");
        }
        match (&error, live.want) {
            // Invariant 6: told, naming the account in force.
            (AuthError::AccountChanged { expected, in_force: named }, Want::Request { expect, .. }) => {
                assert_eq!(Some(*expected), expect);
                assert_eq!(*named, in_force, "AccountChanged names another account than the one in force");
                assert_ne!(in_force, Some(*expected));
                self.callers[caller].told = in_force;
            }
            // Invariant 7.
            (AuthError::SwitchSuperseded { requested, in_force: named }, Want::Switch(asked)) => {
                assert_eq!(*requested, asked);
                assert_eq!(*named, in_force, "SwitchSuperseded names another account than the one in force");
                assert_ne!(in_force, Some(asked));
                self.callers[caller].told = in_force;
            }
            (
                AuthError::Unavailable { .. } | AuthError::UnusableTokenLifetime { .. },
                Want::Request { .. } | Want::Token,
            ) => {
                // Invariant 4: never while a token serves and no switch stands in the way.
                let bearer = self.coordinator.session().bearer().unwrap();
                let switch_idle = bearer.pending_switch().is_none() && bearer.switch_refusal().is_none();
                assert!(!(switch_idle && self.usable_token().is_some()), "{error:?} while a token serves");
            }
            (
                AuthError::CredentialsRejected(_)
                | AuthError::SessionExpired
                | AuthError::AccountSwitchRejected(_)
                | AuthError::Unavailable { .. }
                | AuthError::UnusableTokenLifetime { .. },
                want,
            ) => {
                if let Want::Switch(_) = want {
                    self.callers[caller].told = None;
                }
            }
            (error, want) => panic!("{error:?} for a {want:?}"),
        }
    }

    /// The API answers the caller's request. As the drivers do, the caller first settles the
    /// answer without the coordinator (a plain answer to a fresh token's request), and reports
    /// it only when that is refused.
    pub(super) fn api_result(&mut self, caller: usize, status: u16, redirected: bool) {
        let clock = self.clock();
        let Some(live) = self.callers[caller].live.as_mut() else { return };
        let Some(receipt) = live.receipt.take() else { return };
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let ledger = Arc::clone(self.coordinator.ledger());
        match ledger.settle(&mut live.call, receipt, code, redirected) {
            Ok(settled) => {
                // Only an answer the coordinator would have accepted as it is.
                let rejected = matches!((code.as_u16(), redirected), (401 | 403, false));
                assert!(!rejected, "caller {caller}: a rejection settled without the coordinator");
                if settled == Settled::Wake {
                    self.coordinator.handle_return();
                }
            }
            Err(receipt) => self.coordinator.handle_api_response(&mut live.call, receipt, code, redirected, clock),
        }
        live.answered = Some((code.as_u16(), redirected));
        self.books.reported += 1;
    }

    /// Gives a credential back without an answer, as the drivers' drop guard does: without
    /// the coordinator, unless the receipt is not its own.
    fn give_back(&mut self, receipt: Receipt) {
        match Arc::clone(self.coordinator.ledger()).release(receipt) {
            Ok(Settled::Quiet) => {}
            Ok(Settled::Wake) => self.coordinator.handle_return(),
            Err(receipt) => self.coordinator.release(receipt),
        }
    }

    /// The request got no answer: the credential is released and the call is over.
    pub(super) fn api_lost(&mut self, caller: usize) {
        let Some(receipt) = self.callers[caller].live.as_mut().and_then(|live| live.receipt.take()) else { return };
        self.give_back(receipt);
        self.books.released += 1;
        self.callers[caller].live = None;
    }

    /// The caller goes away: its credential is released, its drive abandoned (the rest of it
    /// runs, as a drop guard would run it).
    pub(super) fn vanish(&mut self, caller: usize) {
        if self.callers[caller].is_driving() {
            self.abandon(caller);
        }
        let Some(live) = self.callers[caller].live.take() else { return };
        if let Some(receipt) = live.receipt {
            self.give_back(receipt);
            self.books.released += 1;
        }
        if let Want::Switch(_) = live.want {
            self.callers[caller].told = None;
        }
    }
}
