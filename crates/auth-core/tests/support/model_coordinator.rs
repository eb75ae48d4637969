//! The system under test of the coordinator's model test and of the op-sequence fuzz target:
//! one [`Coordinator`] shared by [`CALLERS`] callers, each polling at most one call step by
//! step; the caller that drives runs one drive step per model step; a store (a snapshot and a
//! lock) that a second process refreshes too; the fake server of `model_server.rs`; a
//! hand-moved clock. Callers report or release their credentials, or vanish at any point.
//!
//! Checked after every step, or as it happens:
//!
//! 1. one auth request out at a time, never after a rejected login, and never a loop at one
//!    instant (the bare session's invariants 1, 5, 6);
//! 2. no credential or bearer token for a token at or past its cutoff; a credential names the
//!    account its token acts on, by the server's books;
//! 3. a refresh token is presented once, by any process: the server sees every refresh (429 and
//!    503 were not processed, SPEC.md §3);
//! 4. a transient failure never discards a valid token, nor fails a caller while one serves;
//! 5. no `Debug` output and no error contains a secret;
//! 6. no request runs on an account its caller did not expect: a call meant for account `a`
//!    gets a credential for `a` or fails with `AccountChanged` naming the account in force;
//! 7. each switch caller gets one outcome, and a true one: `Switched(a)` when the session is
//!    on `a`; `SwitchSuperseded` names the account in force;
//! 8. the books: every credential handed out is reported or released once (or dies with its
//!    process), a request's response is its last answer, a resend comes only after a 401/403
//!    of a replayable first attempt, and a masquerade never goes while credentials of the old
//!    account are out, unless it waited the auth timeout for them;
//! 9. at most one drive at a time (and the coordinator agrees who drives); every store step
//!    under the store's lock, held by one process, or, once our lease lapsed (a store shared
//!    by hosts), fenced: a save lands only if nobody wrote since our load, and a refused one
//!    sends nothing more; a dropped drive only saves and unlocks;
//! 10. waits are at most `MAX_WAIT`, and a caller waits only while another caller drives (its
//!     exchange perhaps out), or while a masquerade waits for credentials of the old account:
//!     never idle, and never for an exchange that nobody will send or answer;
//! 11. liveness: at the end, with every credential reported, every drive run and every auth
//!     request answered with a grant, every live call ends (Ready or Failed) in a bounded
//!     number of rounds, each waiter polled only once woken (`poll_wake`) or its wait over;
//!     and no time needs to pass for that (no waiter is left without its wake-up).
//!
//! A token adopted or restored across a wall-clock step is exempt from the cutoff rule (see
//! `model_system.rs`). And a process that dies between a masquerade's answer (the server moved
//! the token to another account) and the save of it leaves a store that names the old account
//! for that token: the account half of invariant 2 is off for the rest of such a sequence.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use auth_core::{
    AccountSwitch, AuthRequest, Config, Coordinator, Now, Password, RefreshPolicy, Session, Snapshot, TokenState,
};
use http::Uri;
use time::{Duration, OffsetDateTime};

use crate::model_server::{Answer, Server};

#[path = "model_callers.rs"]
mod callers;
#[path = "model_store.rs"]
mod store;

use callers::Caller;
use store::Store;

const BASE: &str = "https://api.teletracker.net";
const PASSWORD: &str = "pw-model-secret";
/// The farthest the wall clock strays from true time, either way.
const MAX_WALL_OFFSET: i64 = 2 * 365 * 86_400;
/// How many callers share the coordinator.
pub const CALLERS: usize = 4;
/// The accounts callers switch to.
pub const ACCOUNTS: [u64; 3] = [2001, 2002, 2003];
/// Rounds the final settling may take (each polls every caller once).
const ROUNDS: usize = 60;

/// One step of the model.
#[derive(Clone, Debug)]
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
pub enum Op {
    Tick {
        seconds: u32,
    },
    /// The wall clock alone is stepped (NTP, a resumed VM, a user), by up to a year.
    WallClockJump {
        seconds: i64,
    },
    /// A caller without a call starts an API request, meant for the account it was last told
    /// of when `expect`.
    Request {
        caller: usize,
        replayable: bool,
        expect: bool,
    },
    /// A caller without a call asks for a bearer token (refreshed first when due).
    Token {
        caller: usize,
    },
    /// A caller without a call switches the session to one of [`ACCOUNTS`].
    Switch {
        caller: usize,
        account: usize,
    },
    /// A caller polls its call: woken, its wait over, or spuriously.
    Poll {
        caller: usize,
    },
    /// The driving caller runs its next drive step; `lock_fails`: the store's lock is not had
    /// in time.
    Drive {
        lock_fails: bool,
    },
    /// The server answers the auth request out.
    Answer(Answer),
    /// The API answers a caller's request.
    ApiResult {
        caller: usize,
        status: u16,
        redirected: bool,
    },
    /// A caller's request got no answer: it releases the credential, and its call is over.
    ApiLost {
        caller: usize,
    },
    /// A caller goes away, whatever it was doing.
    Vanish {
        caller: usize,
    },
    /// Another process refreshes the stored session, if the store's lock is free; `hold`: it
    /// keeps the lock until `OtherUnlock`.
    OtherProcess {
        answer: Answer,
        hold: bool,
    },
    OtherUnlock,
    /// Our lease on the store's lock runs out while we hold it (a host paused or slow past its
    /// lease, on a store shared by hosts): the lock is free for another process, and our
    /// later saves are fenced.
    LeaseLapses,
    /// This process dies; a new one restores the stored session.
    Restart,
}

/// The auth request out, sent by the driving caller.
#[derive(Debug)]
struct Out {
    caller: usize,
    request: AuthRequest,
    sent_at: OffsetDateTime,
}

/// Credentials handed out, and what became of them.
#[derive(Debug, Default)]
struct Books {
    handed: u64,
    reported: u64,
    released: u64,
    /// Gone with their process.
    died: u64,
}

pub struct Shared {
    config: Config,
    masquerade: bool,
    coordinator: Coordinator,
    /// True time, which the coordinator's monotonic clock follows.
    now: OffsetDateTime,
    /// How far the wall clock is from true time now.
    wall_offset: Duration,
    uri: Uri,
    server: Server,
    store: Store,
    callers: Vec<Caller>,
    out: Option<Out>,
    books: Books,
    /// Tokens adopted or restored across a wall-clock step: exempt from the cutoff rule.
    exempt: HashSet<String>,
    /// A snapshot that names another account than its token's was loaded (see the module docs).
    accounts_off: bool,
    rejected_login: bool,
    requests_at_now: (OffsetDateTime, u32),
    /// When the switch under way was asked for.
    switch_requested_at: Option<OffsetDateTime>,
    seed: u64,
}

fn config(masquerade: bool) -> Config {
    let mut builder = Config::bearer(BASE, "alice", Password::new(PASSWORD)).refresh_policy(RefreshPolicy::default());
    if masquerade {
        builder = builder.account_switch(AccountSwitch::masquerade());
    }
    builder.build().unwrap()
}

impl Shared {
    /// A coordinator with no token yet (relogin or masquerade switches; a store or none).
    pub fn new(masquerade: bool, persisted: bool) -> Shared {
        let config = config(masquerade);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let session = Session::new(config.clone(), 0, now).unwrap();
        Shared {
            coordinator: Coordinator::new(session, persisted),
            config,
            masquerade,
            now,
            wall_offset: Duration::ZERO,
            uri: format!("{BASE}/reports/call-data").parse().unwrap(),
            server: Server::default(),
            store: Store::new(persisted),
            callers: (0..CALLERS).map(|_| Caller::default()).collect(),
            out: None,
            books: Books::default(),
            exempt: HashSet::new(),
            accounts_off: false,
            rejected_login: false,
            requests_at_now: (now, 0),
            switch_requested_at: None,
            seed: 0,
        }
    }

    /// Applies one step, checking the step's own invariants as it goes.
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Tick { seconds } => {
                let seconds = i64::from(seconds % 100_000);
                self.now = self.now.checked_add(Duration::seconds(seconds)).unwrap_or(self.now);
            }
            Op::WallClockJump { seconds } => {
                let step = Duration::seconds(seconds % (365 * 86_400 + 1));
                let bound = Duration::seconds(MAX_WALL_OFFSET);
                self.wall_offset = (self.wall_offset + step).clamp(-bound, bound);
            }
            Op::Request { caller, replayable, expect } => self.start_request(caller % CALLERS, replayable, expect),
            Op::Token { caller } => self.start_token(caller % CALLERS),
            Op::Switch { caller, account } => self.start_switch(caller % CALLERS, ACCOUNTS[account % ACCOUNTS.len()]),
            Op::Poll { caller } => self.poll(caller % CALLERS),
            Op::Drive { lock_fails } => self.drive_step(lock_fails),
            Op::Answer(answer) => self.answer(answer),
            Op::ApiResult { caller, status, redirected } => self.api_result(caller % CALLERS, status, redirected),
            Op::ApiLost { caller } => self.api_lost(caller % CALLERS),
            Op::Vanish { caller } => self.vanish(caller % CALLERS),
            Op::OtherProcess { answer, hold } => self.other_process(answer, hold),
            Op::OtherUnlock => self.other_unlock(),
            Op::LeaseLapses => self.lease_lapses(),
            Op::Restart => self.restart(),
        }
        self.wake();
    }

    /// The invariants that hold between any two steps.
    pub fn check_invariants(&self) {
        // Invariant 5.
        self.check_secret_free(&format!("{:?}", self.coordinator));
        self.check_secret_free(&format!("{:?} {:?} {:?}", self.store, self.callers, self.out));
        // The generation only moves with what the server granted.
        let generation = self.coordinator.session().bearer().unwrap().generation();
        assert!(generation.as_u64() <= u64::from(self.server.grants() + self.server.masquerades));
        // Invariant 9: one drive, and the coordinator agrees.
        let drives = self.callers.iter().filter(|c| c.is_driving()).count();
        assert!(drives <= 1, "{drives} drives at once");
        assert_eq!(self.coordinator.is_driving(), drives == 1, "the coordinator disagrees on who drives");
        if let Some(out) = &self.out {
            assert!(self.callers[out.caller].is_driving(), "an auth request out without its driver");
        }
        self.store.check(drives == 1);
        // Invariant 8: the books balance.
        let books = &self.books;
        let held = self.held_receipts() as u64;
        assert_eq!(books.handed, books.reported + books.released + books.died + held, "{books:?}, {held} held");
    }

    /// The end of a sequence: the other process lets go of the store; every credential is
    /// reported, every drive run, every auth request answered with a grant; every live call
    /// must then end within a bounded number of rounds (invariant 11).
    pub fn settle(&mut self) {
        self.other_unlock();
        let grant = Answer::Grant { lifetime: 3600, server_offset_h: 0 };
        for _ in 0..ROUNDS {
            for caller in 0..CALLERS {
                self.api_result(caller, 200, false);
                self.wake();
            }
            while self.callers.iter().any(Caller::is_driving) {
                match self.out {
                    Some(_) => self.answer(grant.clone()),
                    None => self.drive_step(false),
                }
                self.wake();
            }
            let pollable: Vec<usize> = (0..CALLERS).filter(|&c| self.callers[c].is_pollable(self.now)).collect();
            for &caller in &pollable {
                self.poll(caller);
                self.wake();
            }
            self.check_invariants();
            if self.callers.iter().all(|c| c.live.is_none()) {
                return;
            }
            // Every credential is back and every drive done: whoever still waits was woken.
            // Waiting for the clock here would be a lost wake-up.
            assert!(!pollable.is_empty(), "callers wait with nothing to wait for: {:?}", self.callers);
        }
        panic!("calls still live after {ROUNDS} rounds: {:?}", self.callers);
    }

    /// The clocks the coordinator is told: true time on the monotonic one, the wall clock off.
    fn clock(&self) -> Now {
        Now::new(self.now, self.now.checked_add(self.wall_offset).unwrap_or(self.now))
    }

    fn auth_timeout(&self) -> Duration {
        Duration::try_from(self.config.refresh_policy().auth_timeout).unwrap()
    }

    /// Wakes the waiters when the coordinator says so.
    fn wake(&mut self) {
        if self.coordinator.poll_wake() {
            self.callers.iter_mut().for_each(Caller::wake);
        }
    }

    /// The token in service, if the session reports one as usable.
    fn usable_token(&self) -> Option<String> {
        let bearer = self.coordinator.session().bearer()?;
        match bearer.token_state(self.clock()) {
            Some(TokenState::Fresh | TokenState::Stale) => stored_token(&bearer.snapshot()?),
            _ => None,
        }
    }

    /// A new process, restored from the store: callers, credentials and the request out die
    /// with the old one, and its store lock with them.
    fn restart(&mut self) {
        for caller in &mut self.callers {
            self.books.died += u64::from(caller.die());
        }
        self.out = None;
        self.store.release_ours();
        self.seed += 1;
        let stored = self.store.snapshot();
        self.note_loaded(stored.as_ref());
        let session = match stored {
            Some(snapshot) => Session::restore(self.config.clone(), snapshot, self.seed, self.clock()).unwrap(),
            None => Session::new(self.config.clone(), self.seed, self.clock()).unwrap(),
        };
        self.coordinator = Coordinator::new(session, self.store.persisted);
        self.rejected_login = false;
        self.requests_at_now = (self.now, 0);
        self.switch_requested_at = None;
    }

    /// What a process learns from a snapshot it loads may be off (see the module docs). Its
    /// instants are wall-clock times: loaded after the wall clock stepped, its token's life is
    /// placed elsewhere than it is; a token taken for younger than it is is exempt from the
    /// cutoff rule, in every later copy too. Its account may not be its token's any more.
    fn note_loaded(&mut self, loaded: Option<&Snapshot>) {
        let Some(snapshot) = loaded else { return };
        let token = stored_token(snapshot).unwrap();
        let Some(pair) = self.server.pair(&token) else { return };
        if snapshot.obtained_at() - self.wall_offset > pair.sent_at {
            self.exempt.insert(token);
        }
        self.accounts_off |= snapshot.account() != pair.account;
    }

    fn check_secret_free(&self, text: &str) {
        for secret in self.server.secrets.iter().map(String::as_str).chain([PASSWORD]) {
            assert!(!text.contains(secret), "secret {secret} in {text}");
        }
    }
}

/// The bearer token a snapshot holds.
fn stored_token(snapshot: &Snapshot) -> Option<String> {
    let json = serde_json::to_value(snapshot).unwrap();
    json["token"].as_str().map(str::to_owned)
}

/// A std duration as a `time` one.
fn span(duration: StdDuration) -> Duration {
    Duration::try_from(duration).unwrap()
}
