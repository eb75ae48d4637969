//! The driving of one auth exchange: the store protocol and the auth request, as the steps
//! [`Coordinator::poll_drive`] hands out one at a time (SPEC.md §3, rotation safety; §3a, the
//! bounded store lock and the hand-off).
//!
//! ```text
//!   Start ─▶ LockStore ─▶ LoadStore (adopt) ─▶ Transmit ─▶ Save* (spent state) ─▶ Send ─▶ Finish
//!     │        │ refused: Finish               │ nothing to send: Finish            │
//!     └ no store ──────────────────────────────┘                                    ▼
//!                                                   Finish: Save* (new tokens) ─▶ UnlockStore ─▶ Done
//! ```
//!
//! A save the store did not take ([`Coordinator::handle_store_refused`]) turns the drive to
//! `Reload` when it was the spent state's (the request is withdrawn unsent) or when another
//! host overtook this one: the store is loaded again and memory becomes what it holds, then
//! `Finish`, with nothing of ours left to save.
//!
//! Polling again after `Done`, or reporting a drop after it, is harmless: it says `Done` again.

use std::collections::VecDeque;
use std::time::Duration;

use http::Response;
use time::OffsetDateTime;

#[cfg(doc)]
use super::Step;
use super::{Coordinator, STORE_RETRY};
use crate::clock::{Now, later};
use crate::request::{AuthRequest, Event, RequestId};
use crate::snapshot::Snapshot;

/// The driving of one auth exchange, handed to one caller by [`Step::Drive`]. Not `Clone`.
/// Run [`Coordinator::poll_drive`] until [`DriveStep::Done`]; if the driver must stop early
/// (an error, a panic, a cancelled task), report [`Coordinator::handle_drive_dropped`] and run
/// the remaining steps, which are then only saves and the unlock.
#[derive(Debug)]
#[must_use = "run the drive with `Coordinator::poll_drive` until `DriveStep::Done`"]
pub struct Drive {
    serial: u64,
    /// The caller has no usable token without this exchange: its failures are the caller's.
    required: bool,
    stage: Stage,
    /// The store's lock is held.
    locked: bool,
    /// When (monotonic) the lock was asked for.
    lock_asked_at: Option<OffsetDateTime>,
    /// New snapshots, oldest first, not yet handed out to save.
    unsaved: VecDeque<Snapshot>,
}

impl Drive {
    pub(super) fn new(serial: u64, required: bool) -> Drive {
        Drive { serial, required, stage: Stage::Start, locked: false, lock_asked_at: None, unsaved: VecDeque::new() }
    }
}

#[derive(Debug)]
enum Stage {
    Start,
    Locking,
    Load,
    Loading,
    Transmit,
    /// The request is ready; its spent state is saved first.
    Spent(Box<AuthRequest>),
    Answering(RequestId),
    /// A save was refused: load the store again (its state wins ties), then finish.
    Reload,
    Reloading,
    Finish,
    Done,
}

/// Why a store did not take a save ([`Coordinator::handle_store_refused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another host has taken the session over since this one loaded it (its lease ran out):
    /// the store refused the write (fencing).
    Fenced,
    /// The store could not be reached or did not answer in time: the write may or may not have
    /// landed, and a lease may have run out meanwhile.
    Unrecorded,
}

/// What the driver of an exchange does next ([`Coordinator::poll_drive`]).
#[derive(Debug)]
#[must_use]
pub enum DriveStep {
    /// Take the store's lock, waiting at most this long (SPEC.md §3a: bounded), and report
    /// [`Coordinator::handle_store_lock`]. Keep the lock until [`UnlockStore`](Self::UnlockStore).
    LockStore(Duration),
    /// Load the store and report [`Coordinator::handle_store_load`].
    LoadStore,
    /// Save this snapshot. A failed save keeps the tokens in memory: note it and go on; but a
    /// save the store refuses, or cannot record where its lock may not hold, is reported with
    /// [`Coordinator::handle_store_refused`].
    Save(Snapshot),
    /// Send this auth request now (its deadline runs from here) and report the answer with
    /// [`Coordinator::handle_auth_response`].
    Send(AuthRequest),
    /// Release the store's lock (after every save: the next process to lock it reads ours).
    UnlockStore,
    /// The exchange is over.
    Done,
}

impl Coordinator {
    /// What the driver of `drive` does next.
    pub fn poll_drive(&mut self, drive: &mut Drive, now: impl Into<Now>) -> DriveStep {
        let now = now.into();
        loop {
            match std::mem::replace(&mut drive.stage, Stage::Finish) {
                Stage::Start if self.persisted => {
                    drive.stage = Stage::Locking;
                    drive.lock_asked_at = Some(now.monotonic());
                    let wait = if drive.required { self.session.auth_timeout() } else { Duration::ZERO };
                    return DriveStep::LockStore(wait);
                }
                Stage::Start | Stage::Loading => drive.stage = Stage::Transmit,
                Stage::Reload => {
                    drive.stage = Stage::Reloading;
                    return DriveStep::LoadStore;
                }
                // Polled without a report: nothing was loaded.
                Stage::Reloading => {}
                // Polled without a report: the lock was not taken.
                Stage::Locking => {}
                Stage::Load => {
                    drive.stage = Stage::Loading;
                    return DriveStep::LoadStore;
                }
                Stage::Transmit => {
                    if let Some(request) = self.session.poll_transmit(now) {
                        self.collect(drive);
                        drive.stage = Stage::Spent(Box::new(request));
                    }
                }
                Stage::Spent(request) => {
                    // The refresh token is spent from here on: saved before the request leaves
                    // (SPEC.md §3, rotation safety).
                    if let Some(snapshot) = drive.unsaved.pop_front() {
                        drive.stage = Stage::Spent(request);
                        return DriveStep::Save(snapshot);
                    }
                    // The deadline runs from the hand-off, not from before the save (SPEC.md
                    // §3a). If the save outlasted it, the request is given up, not sent.
                    if self.session.handle_handoff(request.id(), now) {
                        drive.stage = Stage::Answering(request.id());
                        return DriveStep::Send(*request);
                    }
                }
                // Polled without an answer: there is none.
                Stage::Answering(id) => self.session.handle_failure(id, now),
                Stage::Finish => {
                    self.collect(drive);
                    if let Some(snapshot) = drive.unsaved.pop_front() {
                        return DriveStep::Save(snapshot);
                    }
                    if std::mem::take(&mut drive.locked) {
                        return DriveStep::UnlockStore;
                    }
                    drive.stage = Stage::Done;
                    if self.driving == Some(drive.serial) {
                        self.driving = None;
                    }
                    self.wake = true;
                    return DriveStep::Done;
                }
                Stage::Done => {
                    drive.stage = Stage::Done;
                    return DriveStep::Done;
                }
            }
        }
    }

    /// Reports whether the store's lock was taken. `true` back: the caller fails with the
    /// store's error (it needed this exchange); `false`: the exchange is simply over (a refresh
    /// of a still-valid token: whoever holds the lock is refreshing, the token serves).
    #[must_use]
    pub fn handle_store_lock(&mut self, drive: &mut Drive, locked: bool) -> bool {
        if !matches!(drive.stage, Stage::Locking) {
            return false;
        }
        drive.locked = locked;
        drive.stage = if locked { Stage::Load } else { Stage::Finish };
        if locked {
            self.store_retry_at = None;
        } else if !drive.required {
            // Whoever holds the lock is refreshing, or the store is failing: either way the
            // token serves, and the next answered request need not try again at once.
            self.store_retry_at = drive.lock_asked_at.map(|at| later(at, STORE_RETRY));
        }
        !locked && drive.required
    }

    /// Reports what the store held (`Err(())`: it could not be read; the exchange goes on, and
    /// its save replaces what could not be read). A newer snapshot written by another session
    /// or process is adopted before the session decides (SPEC.md §3: a spend is seen by every
    /// sharer).
    pub fn handle_store_load(&mut self, drive: &mut Drive, loaded: Result<Option<Snapshot>, ()>, now: impl Into<Now>) {
        let now = now.into();
        match (&drive.stage, loaded) {
            (Stage::Loading, Ok(Some(snapshot))) => {
                let _adopted = self.session.adopt(snapshot, now);
            }
            (Stage::Reloading, Ok(stored)) => {
                let _replaced = self.session.replace_from_store(stored, now);
            }
            (Stage::Loading | Stage::Reloading, _) => {}
            _ => return,
        }
        drive.stage = if matches!(drive.stage, Stage::Reloading) { Stage::Finish } else { Stage::Transmit };
    }

    /// Reports that the store did not take the last [`DriveStep::Save`], and why (a plain
    /// failure of a local store, such as a full disk, is not reported: the drive goes on).
    ///
    /// If it was the spent state, saved before the request leaves, the request is withdrawn
    /// and never sent: a spend every sharer cannot see must not happen (SPEC.md §3); its
    /// refresh token goes back in memory. Then, and whenever the store refused a write
    /// because another host overtook this one, nothing of this drive is saved any more: the
    /// store is loaded again and memory becomes what it holds, on this session's account
    /// (the sharers converge on one session). New tokens the store could merely not record
    /// ([`Refusal::Unrecorded`]) stay in memory. Those who waited for the exchange look again.
    pub fn handle_store_refused(&mut self, drive: &mut Drive, refusal: Refusal, now: impl Into<Now>) {
        let now = now.into();
        if refusal == Refusal::Unrecorded {
            self.store_retry_at = Some(later(now.monotonic(), STORE_RETRY));
        }
        match (&drive.stage, refusal) {
            (Stage::Spent(request), _) => self.session.withdraw(request.id(), now),
            (Stage::Finish, Refusal::Fenced) => {}
            _ => return,
        }
        // Our own later states would overwrite what the store holds now.
        drive.unsaved.clear();
        while self.session.poll_event().is_some() {}
        drive.stage = Stage::Reload;
    }

    /// Reports the answer to the drive's auth request (`None`: no answer, a transport failure).
    pub fn handle_auth_response<B: AsRef<[u8]>>(
        &mut self,
        drive: &mut Drive,
        answer: Option<&Response<B>>,
        now: impl Into<Now>,
    ) {
        let Stage::Answering(id) = drive.stage else {
            return;
        };
        match answer {
            Some(response) => self.session.handle_response(id, response, now),
            None => self.session.handle_failure(id, now),
        }
        drive.stage = Stage::Finish;
    }

    /// Reports that the drive stops early (its driver failed, panicked or was cancelled): an
    /// unanswered request failed as far as anyone will know. Run `poll_drive` on: what is left
    /// is saving and unlocking.
    pub fn handle_drive_dropped(&mut self, drive: &mut Drive, now: impl Into<Now>) {
        match &drive.stage {
            Stage::Answering(id) => self.session.handle_failure(*id, now),
            // Prepared, its spent state still being saved: it will never be sent, so nobody
            // may wait for its answer until the session's timeout.
            Stage::Spent(request) => self.session.handle_failure(request.id(), now),
            // Re-loading after a refusal: nothing of ours is left to save.
            Stage::Reload | Stage::Reloading => {}
            _ => {}
        }
        if !matches!(drive.stage, Stage::Done) {
            drive.stage = Stage::Finish;
        }
    }

    /// Takes the session's new snapshots into the drive's unsaved list (dropped without a store).
    pub(super) fn collect(&mut self, drive: &mut Drive) {
        while let Some(event) = self.session.poll_event() {
            if let (Event::TokensUpdated(snapshot), true) = (event, self.persisted) {
                drive.unsaved.push_back(snapshot);
            }
        }
    }
}
