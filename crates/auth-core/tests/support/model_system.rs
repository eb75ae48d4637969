//! The system under test of the model test and of the op-sequence fuzz target: a session,
//! a fake server, a hand-moved clock, and the invariants checked after every step:
//!
//! 1. at most one auth request is in flight;
//! 2. no header is ever handed out for a token at or past its hard cutoff;
//! 3. a consumed refresh token is never sent again (across restarts too); a refresh answered
//!    429 or 503 was not processed, so its token was not consumed (SPEC.md §3);
//! 4. a transient failure never discards a valid token;
//! 5. a rejected login is final;
//! 6. auth requests are bounded (no loops at one instant);
//! 7. no `Debug` output of a public type, and no error, contains a secret;
//! 8. a credential names the account its token acts on, by the server's books.
//!
//! The model's `now` is true time, which the session's monotonic clock follows; the wall clock
//! the session is also given is stepped by up to a year either way, at any moment, and every
//! invariant must hold regardless (SPEC.md §3a). The one exception is a token restored from a
//! snapshot after the wall clock stepped since it was saved: a new process has only the wall
//! clock to judge a snapshot by, so invariant 2 cannot hold for that token.
//!
//! Shared by `tests/model.rs` and `fuzz/fuzz_targets/session_ops.rs` (which include it, and
//! the fake server of `model_server.rs`, by path), so both check exactly the same rules.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};

use auth_core::{
    AccountId, AccountSwitch, AuthError, AuthRequest, Authorization, Config, Credential, Event, Exchange, Now,
    Password, RefreshPolicy, Session, Snapshot, TokenState,
};
use http::{StatusCode, Uri};
use time::{Duration, OffsetDateTime};

use crate::model_server::{Answer, Server};

const BASE: &str = "https://api.teletracker.net";
const PASSWORD: &str = "pw-model-secret";
/// The farthest the wall clock strays from true time, either way.
const MAX_WALL_OFFSET: i64 = 2 * 365 * 86_400;
/// How many independent API callers share the session.
pub const CALLERS: usize = 4;

#[derive(Clone, Debug)]
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
pub enum Step {
    Tick {
        seconds: u32,
    },
    /// The wall clock alone is stepped (NTP, a resumed VM, a user), by up to a year.
    WallClockJump {
        seconds: i64,
    },
    Demand {
        caller: usize,
    },
    Transmit,
    Answer(Answer),
    ApiResult {
        caller: usize,
        status: u16,
    },
    ApiLost {
        caller: usize,
    },
    Restart,
    Switch {
        account: u64,
    },
}

pub struct System {
    config: Config,
    session: Session,
    now: OffsetDateTime,
    /// How far the wall clock is from true time now.
    wall_offset: Duration,
    /// ... and was when the persisted snapshot was saved.
    offset_at_persist: Duration,
    /// Tokens restored across a wall-clock step (see the module docs): exempt from invariant 2.
    restored_across_a_step: HashSet<String>,
    uri: Uri,
    /// Emitted auth requests not reported yet, with their emission time.
    in_flight: Vec<(AuthRequest, OffsetDateTime)>,
    held: HashMap<usize, Vec<Credential>>,
    server: Server,
    persisted: Option<Snapshot>,
    rejected_login: bool,
    requests_at_now: (OffsetDateTime, u32),
    seed: u64,
}

fn config(masquerade: bool) -> Config {
    let policy = RefreshPolicy::default();
    let mut builder = Config::bearer(BASE, "alice", Password::new(PASSWORD)).refresh_policy(policy);
    if masquerade {
        builder = builder.account_switch(AccountSwitch::masquerade());
    }
    builder.build().unwrap()
}

impl System {
    /// A fresh session (relogin or masquerade switches) at a fixed start time.
    pub fn new(masquerade: bool) -> System {
        let config = config(masquerade);
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        System {
            session: Session::new(config.clone(), 0, now).unwrap(),
            config,
            now,
            wall_offset: Duration::ZERO,
            offset_at_persist: Duration::ZERO,
            restored_across_a_step: HashSet::new(),
            uri: format!("{BASE}/reports/call-data").parse().unwrap(),
            in_flight: Vec::new(),
            held: HashMap::new(),
            server: Server::default(),
            persisted: None,
            rejected_login: false,
            requests_at_now: (now, 0),
            seed: 0,
        }
    }

    /// Applies one step, checking the step's own invariants as it goes.
    pub fn apply(&mut self, step: Step) {
        match step {
            Step::Tick { seconds } => {
                // Bounded so that any fuzzer input stays inside representable time.
                let seconds = i64::from(seconds % 100_000);
                self.now = self.now.checked_add(Duration::seconds(seconds)).unwrap_or(self.now);
                self.session.handle_timeout(self.clock());
            }
            Step::WallClockJump { seconds } => {
                let step = Duration::seconds(seconds % (365 * 86_400 + 1));
                let bound = Duration::seconds(MAX_WALL_OFFSET);
                self.wall_offset = (self.wall_offset + step).clamp(-bound, bound);
                self.session.handle_timeout(self.clock());
            }
            Step::Demand { caller } => self.demand(caller % CALLERS),
            Step::Transmit => self.transmit(),
            Step::Answer(answer) => self.answer(answer),
            Step::ApiResult { caller, status } => self.api_result(caller % CALLERS, status),
            Step::ApiLost { caller } => self.api_lost(caller % CALLERS),
            Step::Restart => self.restart(),
            Step::Switch { account } => {
                let _ = self.session.switch_account(AccountId(2001 + account % 3), self.clock());
                self.requests_at_now = (self.now, 0);
            }
        }
    }

    /// The invariants that hold between any two steps.
    pub fn check_invariants(&self) {
        // Invariant 7: Debug output of the session and of what it handed out is secret-free.
        self.check_secret_free(&format!("{:?}", self.session));
        self.check_secret_free(&format!("{:?}", self.persisted));
        self.check_secret_free(&format!("{:?}", self.held));
        self.check_secret_free(&format!("{:?}", self.in_flight));
        // The generation only moves with what the server granted.
        let generation = self.session.bearer().unwrap().generation();
        assert!(generation.as_u64() <= u64::from(self.server.grants() + self.server.masquerades));
        // poll_timeout never points into the past.
        if let Some(at) = self.session.poll_timeout() {
            assert!(at >= self.now, "poll_timeout {at} is before now {}", self.now);
        }
    }

    /// The clocks the session is told: true time on the monotonic one, the wall clock off.
    fn clock(&self) -> Now {
        Now::new(self.now, self.now.checked_add(self.wall_offset).unwrap_or(self.now))
    }

    fn auth_timeout(&self) -> Duration {
        Duration::try_from(self.config.refresh_policy().auth_timeout).unwrap()
    }

    fn drain(&mut self) {
        while let Some(event) = self.session.poll_event() {
            if let Event::TokensUpdated(snapshot) = event {
                self.persisted = Some(snapshot);
                self.offset_at_persist = self.wall_offset;
            }
        }
    }

    /// The token currently in service, if the session reports one as usable.
    fn usable_token(&self) -> Option<String> {
        let bearer = self.session.bearer()?;
        match bearer.token_state(self.clock()) {
            Some(TokenState::Fresh | TokenState::Stale) => {
                let snapshot = bearer.snapshot()?;
                let json = serde_json::to_value(&snapshot).unwrap();
                Some(json["token"].as_str().unwrap().to_owned())
            }
            _ => None,
        }
    }

    fn transmit(&mut self) {
        let Some(request) = self.session.poll_transmit(self.clock()) else {
            return;
        };
        // Saving the spent state takes no time here; the hand-off is now.
        assert!(self.session.handle_handoff(request.id(), self.clock()), "a request given up before its hand-off");
        // Invariant 1: at most one auth request in flight (abandoned ones are those past the
        // session's own timeout).
        let timeout = self.auth_timeout();
        let live = self.in_flight.iter().filter(|(_, at)| self.now < *at + timeout).count();
        assert_eq!(live, 0, "a second auth request while one is in flight: {request:?}");
        // Invariant 5.
        assert!(!self.rejected_login, "an auth request after a rejected login: {request:?}");
        // Invariant 6: bounded requests at one instant.
        crate::model_server::count_request_at(&mut self.requests_at_now, self.now);
        // Invariant 3.
        self.server.receive(&request);
        self.drain();
        self.in_flight.push((request, self.now));
    }

    fn answer(&mut self, answer: Answer) {
        let Some((request, sent_at)) = self.in_flight.pop() else {
            return;
        };
        let id = request.id();
        let before = self.usable_token();
        if let Answer::Vanished = answer {
            return;
        }
        let heard = self.now < sent_at + self.auth_timeout();
        let Some(response) = self.server.respond(&request, &answer, sent_at, self.now, heard) else {
            self.session.handle_failure(id, self.clock());
            self.after_answer(&answer, &request, before);
            return;
        };
        self.session.handle_response(id, &response, self.clock());
        self.after_answer(&answer, &request, before);
    }

    fn after_answer(&mut self, answer: &Answer, request: &AuthRequest, before: Option<String>) {
        self.drain();
        if self.session.bearer().is_some_and(|b| b.token_state(self.clock()) == Some(TokenState::Fresh)) {
            self.requests_at_now = (self.now, 0);
        }
        if answer.is_transient() {
            // Invariant 4: a valid token survives a transient failure.
            assert_eq!(self.usable_token(), before, "a transient failure changed the token in service");
        }
        if answer.is_rejection()
            && request.exchange() == Exchange::Login
            && matches!(self.session.bearer().unwrap().fatal_error(), Some(AuthError::CredentialsRejected(_)))
        {
            self.rejected_login = true;
        }
    }

    fn demand(&mut self, caller: usize) {
        let uri = self.uri.clone();
        match self.session.authorize(&uri, self.clock()) {
            Ok(Authorization::Ready(credential)) => {
                let header = credential.header().to_str().unwrap().to_owned();
                let token = header.strip_prefix("Bearer ").expect("a bearer header").to_owned();
                // Invariant 2: never a token at or past its cutoff.
                let pair = self.server.pair(&token).expect("a header for a token the server never issued");
                assert!(
                    self.now < self.server.cutoff(&token) || self.restored_across_a_step.contains(&token),
                    "a header for a token past its cutoff"
                );
                // Invariant 8.
                assert_eq!(credential.account(), pair.account, "a credential for another account than its token's");
                self.held.entry(caller).or_default().push(credential);
                // A ready caller also performs a due refresh, as the adapters do.
                self.transmit();
            }
            Ok(Authorization::Pending) => self.transmit(),
            Err(err) => {
                if self.rejected_login {
                    assert!(matches!(err, AuthError::CredentialsRejected(_)));
                }
                self.check_secret_free(&format!("{err} {err:?}"));
            }
        }
    }

    fn api_result(&mut self, caller: usize, status: u16) {
        let Some(credential) = self.held.get_mut(&caller).and_then(Vec::pop) else {
            return;
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let receipt = credential.attach(&mut http::Request::new(()));
        let _ = self.session.handle_api_response(receipt, status, self.clock());
    }

    fn api_lost(&mut self, caller: usize) {
        if let Some(credential) = self.held.get_mut(&caller).and_then(Vec::pop) {
            self.session.release(credential.attach(&mut http::Request::new(())));
        }
    }

    fn restart(&mut self) {
        // A new process: in-memory state and held credentials are gone; the store remains.
        self.in_flight.clear();
        self.held.clear();
        self.seed += 1;
        if self.wall_offset != self.offset_at_persist
            && let Some(snapshot) = &self.persisted
        {
            let json = serde_json::to_value(snapshot).unwrap();
            self.restored_across_a_step.insert(json["token"].as_str().unwrap().to_owned());
        }
        self.session = match self.persisted.clone() {
            Some(snapshot) => Session::restore(self.config.clone(), snapshot, self.seed, self.clock()).unwrap(),
            None => Session::new(self.config.clone(), self.seed, self.clock()).unwrap(),
        };
        self.rejected_login = false;
        // The loop bound is per process: a restart takes time in real life.
        self.requests_at_now = (self.now, 0);
    }

    fn check_secret_free(&self, text: &str) {
        for secret in self.server.secrets.iter().map(String::as_str).chain([PASSWORD]) {
            assert!(!text.contains(secret), "secret {secret} in {text}");
        }
    }
}
