//! The exchanges of the coordinator model: the store (a snapshot and a lock, which another
//! process shares), the drive that runs one step per model step, the server's answer to its
//! request, and the other process, which refreshes the stored session under the store's lock
//! (invariants 1, 3, 4, 9 of `model_coordinator.rs`).

use auth_core::{AuthError, AuthRequest, Authorization, DriveStep, Event, Exchange, Session, Snapshot};
use http::StatusCode;

use super::{Out, Shared, span, stored_token};
use crate::model_server::Answer;

/// Who holds the store's lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Holder {
    Us,
    Other,
}

#[derive(Debug)]
pub(super) struct Store {
    pub(super) persisted: bool,
    snapshot: Option<Snapshot>,
    lock: Option<Holder>,
    /// Counts the writes (the fencing version of a store shared by hosts).
    version: u64,
    /// The version our drive loaded or last wrote.
    ours: Option<u64>,
    /// Our lease ran out during our drive.
    lapsed: bool,
}

impl Store {
    pub(super) fn new(persisted: bool) -> Store {
        Store { persisted, snapshot: None, lock: None, version: 0, ours: None, lapsed: false }
    }

    /// Invariant 9: every save under the lock, by its holder.
    fn save(&mut self, snapshot: Snapshot, by: Holder) {
        assert_eq!(self.lock, Some(by), "a save without the store's lock");
        self.write(snapshot);
    }

    fn write(&mut self, snapshot: Snapshot) {
        self.snapshot = Some(snapshot);
        self.version += 1;
    }

    /// A save of ours, fenced: it lands if nobody wrote since our load and no other process
    /// holds the lock (a lapsed lease nobody took is no reason to refuse). Whether it landed.
    fn fenced_save(&mut self, snapshot: Snapshot) -> bool {
        let landed = self.ours == Some(self.version) && self.lock != Some(Holder::Other);
        assert!(landed || self.lapsed, "a save refused under our own lease");
        if landed {
            self.write(snapshot);
            self.ours = Some(self.version);
        }
        landed
    }

    pub(super) fn snapshot(&self) -> Option<Snapshot> {
        self.snapshot.clone()
    }

    /// Our process died: the operating system releases its lock.
    pub(super) fn release_ours(&mut self) {
        if self.lock == Some(Holder::Us) {
            self.lock = None;
        }
        (self.ours, self.lapsed) = (None, false);
    }

    pub(super) fn check(&self, driving: bool) {
        if self.lock == Some(Holder::Us) {
            assert!(driving, "the store's lock held by no drive");
        }
        if !self.persisted {
            assert!(self.lock.is_none() && self.snapshot.is_none(), "a store used without one");
        }
    }
}

impl Shared {
    /// The driving caller runs its next drive step, unless it waits for its request's answer.
    pub(super) fn drive_step(&mut self, lock_fails: bool) {
        let Some(caller) = self.driver() else { return };
        if self.out.as_ref().is_some_and(|out| out.caller == caller) {
            return;
        }
        let clock = self.clock();
        let step = self.coordinator.poll_drive(self.callers[caller].drive_mut().unwrap(), clock);
        self.on_drive_step(caller, step, lock_fails);
    }

    /// The driver of `caller` goes away: the drive is dropped, and the rest of it runs.
    pub(super) fn abandon(&mut self, caller: usize) {
        if self.out.as_ref().is_some_and(|out| out.caller == caller) {
            self.out = None; // nobody will hear the answer
        }
        let clock = self.clock();
        self.coordinator.handle_drive_dropped(self.callers[caller].drive_mut().unwrap(), clock);
        while let Some(drive) = self.callers[caller].drive_mut() {
            let step = self.coordinator.poll_drive(drive, clock);
            // Invariant 9: what is left of a dropped drive is saving and unlocking.
            assert!(
                matches!(step, DriveStep::Save(_) | DriveStep::UnlockStore | DriveStep::Done),
                "a dropped drive goes on with {step:?}"
            );
            match step {
                // Saved on the way out, as a driver's drop does: a refusal goes unheard.
                DriveStep::Save(snapshot) => {
                    self.check_secret_free(&format!("{snapshot:?}"));
                    let _landed = self.store.fenced_save(snapshot);
                }
                step => self.on_drive_step(caller, step, false),
            }
        }
    }

    fn on_drive_step(&mut self, caller: usize, step: DriveStep, lock_fails: bool) {
        let clock = self.clock();
        match step {
            DriveStep::LockStore(wait) => {
                assert!(self.store.persisted, "a store step without a store");
                assert!(wait <= self.config.refresh_policy().auth_timeout, "a lock wait of {wait:?}");
                assert_ne!(self.store.lock, Some(Holder::Us), "our own lock taken twice");
                let locked = self.store.lock.is_none() && !lock_fails;
                if locked {
                    self.store.lock = Some(Holder::Us);
                    (self.store.ours, self.store.lapsed) = (None, false);
                } else {
                    self.now += span(wait); // waited for it in vain
                }
                let live = self.callers[caller].live.as_mut().unwrap();
                live.store_failed = self.coordinator.handle_store_lock(live.drive.as_mut().unwrap(), locked);
            }
            DriveStep::LoadStore => {
                let held = self.store.lock == Some(Holder::Us);
                assert!(held || self.store.lapsed, "a load without the store's lock");
                let before = self.current_token();
                let loaded = self.store.snapshot();
                self.store.ours = Some(self.store.version);
                self.coordinator.handle_store_load(
                    self.callers[caller].drive_mut().unwrap(),
                    Ok(loaded.clone()),
                    clock,
                );
                if self.current_token() != before {
                    self.note_loaded(loaded.as_ref());
                }
            }
            DriveStep::Save(snapshot) => {
                self.check_secret_free(&format!("{snapshot:?}"));
                if !self.store.fenced_save(snapshot) {
                    let drive = self.callers[caller].drive_mut().unwrap();
                    self.coordinator.handle_store_refused(drive, auth_core::Refusal::Fenced, clock);
                }
            }
            DriveStep::Send(request) => self.send(caller, request),
            DriveStep::UnlockStore => {
                // Compare-and-delete: a lapsed lease is not ours to release.
                if self.store.lock == Some(Holder::Us) {
                    self.store.lock = None;
                } else {
                    assert!(self.store.lapsed, "an unlock of a lock we never held");
                }
            }
            DriveStep::Done => {
                (self.store.ours, self.store.lapsed) = (None, false);
                let live = self.live(caller);
                live.drive = None;
                if live.store_failed {
                    self.callers[caller].end_call(); // the store's error is the caller's
                }
            }
        }
    }

    /// The drive's auth request goes out.
    fn send(&mut self, caller: usize, request: AuthRequest) {
        // Invariant 1.
        assert!(self.out.is_none(), "a second auth request out: {request:?}");
        assert!(!self.rejected_login, "an auth request after a rejected login: {request:?}");
        crate::model_server::count_request_at(&mut self.requests_at_now, self.now);
        // Invariant 8: the session counts the credentials of the old account right.
        if let Exchange::Masquerade(_) = request.exchange() {
            let waited = self.switch_requested_at.is_some_and(|at| self.now >= at + self.auth_timeout());
            assert!(self.held_receipts() == 0 || waited, "a masquerade while credentials of the old account are out");
        }
        self.server.receive(&request); // invariant 3
        self.out = Some(Out { caller, request, sent_at: self.now });
    }

    /// The server answers the auth request out (`Vanished`: the driver stops waiting without
    /// a word, and its next step tells the coordinator so).
    pub(super) fn answer(&mut self, answer: Answer) {
        let Some(out) = self.out.take() else { return };
        if let Answer::Vanished = answer {
            return;
        }
        let before = self.usable_token();
        let heard = self.now < out.sent_at + self.auth_timeout();
        let response = self.server.respond(&out.request, &answer, out.sent_at, self.now, heard);
        let clock = self.clock();
        let drive = self.callers[out.caller].drive_mut().unwrap();
        self.coordinator.handle_auth_response(drive, response.as_ref(), clock);
        let bearer = self.coordinator.session().bearer().unwrap();
        if bearer.token_state(clock) == Some(auth_core::TokenState::Fresh) {
            self.requests_at_now = (self.now, 0);
        }
        let rejected = matches!(bearer.fatal_error(), Some(AuthError::CredentialsRejected(_)));
        if answer.is_rejection() && out.request.exchange() == Exchange::Login && rejected {
            self.rejected_login = true;
        }
        if answer.is_transient() {
            // Invariant 4.
            assert_eq!(self.usable_token(), before, "a transient failure changed the token in service");
        }
    }

    /// The bearer token the session holds, usable or not.
    fn current_token(&self) -> Option<String> {
        stored_token(&self.coordinator.session().snapshot()?)
    }

    /// Another process, restored from the store under its lock, needs a new token (its API
    /// request was refused): it saves the spent state, sends, saves what it got.
    pub(super) fn other_process(&mut self, answer: Answer, hold: bool) {
        if !self.store.persisted || self.store.lock.is_some() {
            return;
        }
        self.store.lock = Some(Holder::Other);
        self.seed += 1;
        let clock = self.clock();
        let stored = self.store.snapshot();
        self.note_loaded(stored.as_ref());
        let mut session = match stored {
            Some(snapshot) => Session::restore(self.config.clone(), snapshot, self.seed, clock).unwrap(),
            None => Session::new(self.config.clone(), self.seed, clock).unwrap(),
        };
        if let Ok(Authorization::Ready(credential)) = session.authorize(&self.uri, clock) {
            let receipt = credential.attach(&mut http::Request::new(()));
            let _ = session.handle_api_response(receipt, StatusCode::UNAUTHORIZED, clock);
        }
        if let Some(request) = session.poll_transmit(clock) {
            self.save_from(&mut session); // the spent state, before the request leaves
            assert!(session.handle_handoff(request.id(), clock));
            self.server.receive(&request); // invariant 3, across processes
            match self.server.respond(&request, &answer, self.now, self.now, true) {
                Some(response) => session.handle_response(request.id(), &response, clock),
                None => session.handle_failure(request.id(), clock),
            }
            self.save_from(&mut session);
        }
        self.check_secret_free(&format!("{session:?}"));
        if !hold {
            self.store.lock = None;
        }
    }

    fn save_from(&mut self, session: &mut Session) {
        while let Some(event) = session.poll_event() {
            if let Event::TokensUpdated(snapshot) = event {
                self.store.save(snapshot, Holder::Other);
            }
        }
    }

    /// Our lease runs out while our drive holds the lock.
    pub(super) fn lease_lapses(&mut self) {
        if self.store.lock == Some(Holder::Us) {
            (self.store.lock, self.store.lapsed) = (None, true);
        }
    }

    pub(super) fn other_unlock(&mut self) {
        if self.store.lock == Some(Holder::Other) {
            self.store.lock = None;
        }
    }
}
