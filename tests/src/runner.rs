//! Runs one scenario through one adapter and checks, besides the scenario's own expectations,
//! everything that must never happen.
//!
//! Per run: a fresh emulator for the API and a second one standing for a foreign origin, a
//! `ManualClock` moved together with the API emulator's clock, a `MemoryStore` that survives
//! restarts (each save may take client time, [`Setup::save_takes`]), and a driver of the
//! adapter (two, for scenarios of clients sharing a store). Each step runs under `catch_unwind`; the whole run on
//! a thread of its own with a watchdog, so a panic or a hang is reported with the scenario, the
//! adapter and the step.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use auth_core::{AccountId, Config, ConfigBuilder, Password, RefreshPolicy, Scheme, Snapshot};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint, Outcome};
use auth_store::{MemoryStore, SessionStore, StoreError, StoreGuard};
use serde_json::Value;

use crate::driver::{Adapter, ApiRequest, ApiResponse, Driver, Failure};
use crate::realtime;
use crate::scenario::{ApiCall, ErrorKind, Expect, Scenario, Setup, Step, Target, WRONG_PASSWORD};
use crate::secrets::Secrets;

/// The longest a whole run may take before it is reported as hung.
const WATCHDOG: Duration = Duration::from_secs(60);

/// What a passing run used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Requests both emulators received.
    pub requests: usize,
    /// The scenario's budget.
    pub budget: usize,
    /// Secrets searched for.
    pub secrets: usize,
    /// Printed texts searched.
    pub texts: usize,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// Runs `scenario` through `adapter`. `Err` lists every problem, each line prefixed with
/// `[adapter] scenario`.
pub fn run(scenario: Scenario, adapter: &'static dyn Adapter) -> Result<Summary, String> {
    let prefix = format!("[{}] {}", adapter.name(), scenario);
    let progress = Arc::new(Mutex::new(String::from("setting up")));
    let (done, outcome) = mpsc::channel();
    let watched = Arc::clone(&progress);
    let spawned = std::thread::Builder::new().name(format!("{}-{}", adapter.name(), scenario.name)).spawn(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(|| Run::execute(scenario, adapter, &watched)))
            .unwrap_or_else(|panic| Err(vec![format!("panicked outside a step: {}", panic_text(&*panic))]));
        let _ = done.send(result);
    });
    if let Err(error) = spawned {
        return Err(format!("{prefix}: cannot start a thread: {error}"));
    }
    let result = match outcome.recv_timeout(WATCHDOG) {
        Ok(result) => result,
        Err(_) => {
            let at = progress.lock().unwrap_or_else(PoisonError::into_inner).clone();
            Err(vec![format!("hung for {} s at {at}", WATCHDOG.as_secs())])
        }
    };
    result.map_err(|problems| problems.iter().map(|p| format!("{prefix}: {p}")).collect::<Vec<_>>().join("\n"))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic".to_owned())
}

/// Builds the client configuration of `setup` for the API at `base`.
pub fn config(setup: &Setup, base: &str, with_password: bool) -> Result<Config, Failure> {
    let password = Password::new(setup.password_text());
    let mut builder: ConfigBuilder = match (setup.scheme, with_password) {
        (Scheme::Bearer, true) => Config::bearer(base, setup.user, password),
        (Scheme::Bearer, false) => Config::bearer_without_password(base, setup.user),
        (Scheme::Basic, _) => Config::basic(base, setup.user, password),
        (_, _) => Config::integrator(base, setup.user, password),
    };
    if let Some(account) = setup.account {
        builder = builder.account(AccountId(account));
    }
    if setup.account_per_request {
        builder = builder.account_per_request();
    }
    if let Some(seconds) = setup.auth_timeout_secs {
        let policy = RefreshPolicy { auth_timeout: Duration::from_secs(seconds), ..RefreshPolicy::default() };
        builder = builder.refresh_policy(policy);
    }
    builder.account_switch(setup.switch.clone()).build().map_err(|e| Failure::new(&e, ErrorKind::Config))
}

/// The scenario's store: a `MemoryStore` whose saves take `save_takes` of client time.
#[derive(Debug)]
struct TimedStore {
    inner: MemoryStore,
    clock: ManualClock,
    save_takes: Duration,
}

impl SessionStore for TimedStore {
    fn load(&self) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load()
    }

    fn save(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.clock.advance(self.save_takes);
        self.inner.save(snapshot)
    }

    fn lock(&self, wait: Duration) -> Result<StoreGuard, StoreError> {
        self.inner.lock(wait)
    }
}

fn emulator(setup: &Setup, clock: &ManualClock) -> Emulator {
    let knobs = &setup.emulator;
    let mut builder = Emulator::builder()
        .token_lifetime(Duration::from_secs(knobs.token_lifetime))
        .refresh_token_lifetime(Duration::from_secs(knobs.refresh_lifetime))
        .expired_token_status(knobs.expired_status)
        .clock_offset(knobs.clock_offset)
        .masquerade_mode(knobs.masquerade_mode);
    if knobs.auth_latency_ms > 0 {
        let latency = Duration::from_millis(knobs.auth_latency_ms);
        for endpoint in [Endpoint::Login, Endpoint::Refresh, Endpoint::Masquerade] {
            builder = builder.endpoint_latency(endpoint, latency);
        }
    }
    let emulator = builder.start();
    if knobs.auth_answer_takes_secs > 0 {
        let takes = Duration::from_secs(knobs.auth_answer_takes_secs);
        for endpoint in [Endpoint::Login, Endpoint::Refresh, Endpoint::Masquerade] {
            let clock = clock.clone();
            emulator.on_request(endpoint, move || clock.advance(takes));
        }
    }
    emulator
}

/// One run in progress.
struct Run<'a> {
    scenario: &'a Scenario,
    adapter: &'static dyn Adapter,
    // Declared before the emulators: the clients go first, then the servers.
    driver: Option<Box<dyn Driver>>,
    /// A second client on the same store, kept aside ([`Step::SecondClient`]).
    aside: Option<Box<dyn Driver>>,
    emu: Emulator,
    foreign: Emulator,
    clock: ManualClock,
    store: MemoryStore,
    secrets: Secrets,
    /// Everything an error, token or client printed, with the step that printed it.
    shown: Vec<(usize, String)>,
}

impl<'a> Run<'a> {
    fn execute(
        scenario: Scenario,
        adapter: &'static dyn Adapter,
        progress: &Mutex<String>,
    ) -> Result<Summary, Vec<String>> {
        let started = Instant::now();
        let setup = &scenario.setup;
        let clock = ManualClock::starting_now();
        let mut run = Run {
            scenario: &scenario,
            adapter,
            driver: None,
            aside: None,
            emu: emulator(setup, &clock),
            foreign: Emulator::start(),
            clock,
            store: MemoryStore::new(),
            secrets: Secrets::default(),
            shown: Vec::new(),
        };
        run.secrets.add_password(setup.user, &setup.password_text());
        run.secrets.add_password(setup.user, &format!("{}-password", setup.user));
        run.secrets.add_password(setup.user, WRONG_PASSWORD);

        let mut problems = Vec::new();
        let set_progress = |text: String| *progress.lock().unwrap_or_else(PoisonError::into_inner) = text;
        set_progress("building the client".to_owned());
        match run.start() {
            Err(problem) => problems.push(format!("building the client: {problem}")),
            Ok(false) => {} // Refused at build, as expected: no steps.
            Ok(true) => {
                for (index, step) in scenario.steps.iter().enumerate() {
                    let number = index + 1;
                    set_progress(format!("step {number} {step:?}"));
                    let result = panic::catch_unwind(AssertUnwindSafe(|| run.step(number, step)))
                        .unwrap_or_else(|panic| Err(format!("panicked: {}", panic_text(&*panic))));
                    run.collect(number);
                    if let Err(problem) = result {
                        problems.push(format!("step {number} {step:?}: {problem}"));
                        break;
                    }
                }
            }
        }
        set_progress("checking the invariants".to_owned());
        problems.extend(run.never_happened());
        let requests = run.emu.journal().len() + run.foreign.journal().len();
        let summary = Summary {
            requests,
            budget: scenario.budget,
            secrets: run.secrets.len(),
            texts: run.shown.len(),
            elapsed: started.elapsed(),
        };
        // The clients go before the emulators.
        drop(run.driver.take());
        drop(run.aside.take());
        if problems.is_empty() { Ok(summary) } else { Err(problems) }
    }

    /// The store as the clients see it.
    fn store(&self) -> Arc<dyn SessionStore> {
        Arc::new(TimedStore {
            inner: self.store.clone(),
            clock: self.clock.clone(),
            save_takes: Duration::from_secs(self.scenario.setup.save_takes_secs),
        })
    }

    /// Builds a client against `base`.
    fn connect(&self, base: &str, password: bool) -> Result<Box<dyn Driver>, Failure> {
        config(&self.scenario.setup, base, password)
            .and_then(|config| self.adapter.connect(config, self.clock.clone(), self.store()))
    }

    /// Builds the client; `Ok(false)` when the scenario expects the configuration refused.
    fn start(&mut self) -> Result<bool, String> {
        let built = self.connect(&self.emu.url(), true);
        match (built, self.scenario.refused_at_build) {
            (Ok(driver), None) => {
                self.driver = Some(driver);
                Ok(true)
            }
            (Err(failure), Some(kind)) => {
                self.record_failure(0, &failure);
                check_kind(&failure, kind).map(|()| false)
            }
            (Ok(_), Some(kind)) => Err(format!("built, but the scenario expects {kind:?}")),
            (Err(failure), None) => {
                self.record_failure(0, &failure);
                Err(format!("failed: {failure}"))
            }
        }
    }

    fn driver(&mut self) -> Result<&mut Box<dyn Driver>, String> {
        self.driver.as_mut().ok_or_else(|| "no client (a restart failed)".to_owned())
    }

    fn record_failure(&mut self, step: usize, failure: &Failure) {
        self.shown.extend(failure.shown.iter().map(|text| (step, text.clone())));
    }

    /// Collects what a step left behind: the session's tokens (secrets) and the client's
    /// `Debug` (searched for them).
    fn collect(&mut self, step: usize) {
        let Some(driver) = self.driver.as_ref() else { return };
        if let Some(snapshot) = driver.snapshot() {
            self.shown.push((step, format!("{snapshot:?}")));
            if let Ok(value) = serde_json::to_value(&snapshot) {
                self.secrets.add_snapshot(&value);
            }
        }
        self.shown.push((step, driver.debug()));
    }

    fn request(&self, send: &ApiCall) -> ApiRequest {
        let api = self.emu.url();
        let foreign = self.foreign.url();
        let path = if send.post { "/calls" } else { "/reports/call-data" };
        let mut url = match send.target {
            Target::Api => format!("{api}{path}"),
            Target::RedirectToForeign => format!("{api}/redirect?to={foreign}/reports/call-data"),
            Target::Foreign => format!("{foreign}{path}"),
        };
        if let Some(account) = send.account {
            let separator = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{separator}account_id={account}");
        }
        ApiRequest {
            method: if send.post { http::Method::POST } else { http::Method::GET },
            url,
            body: send.post.then(|| r#"{"to":"+15550100","note":"conformance"}"#.to_owned()),
        }
    }

    fn step(&mut self, number: usize, step: &Step) -> Result<(), String> {
        match step {
            Step::Advance(seconds) => {
                self.clock.advance(Duration::from_secs(*seconds));
                self.emu.advance_clock(Duration::from_secs(*seconds));
                Ok(())
            }
            Step::AdvanceServer(seconds) => {
                self.emu.advance_clock(Duration::from_secs(*seconds));
                Ok(())
            }
            Step::StepWall(seconds) => {
                let by = Duration::from_secs(seconds.unsigned_abs());
                if *seconds < 0 {
                    self.clock.step_wall_back(by)
                } else {
                    self.clock.step_wall_forward(by)
                }
                Ok(())
            }
            Step::SecondClient => {
                let built = self.connect(&self.emu.url(), true);
                self.aside = self.judge_done(number, built, &Expect::Ok)?;
                Ok(())
            }
            Step::SwapClients => {
                std::mem::swap(&mut self.driver, &mut self.aside);
                Ok(())
            }
            Step::RestartAgainstForeign(expect) => {
                drop(self.driver.take());
                let built = self.connect(&self.foreign.url(), true);
                self.driver = self.judge_done(number, built, expect)?;
                Ok(())
            }
            Step::ForeignRequests(expected) => match self.foreign.journal().len() {
                n if n == *expected => Ok(()),
                n => Err(format!("the foreign origin received {n} requests, expected {expected}")),
            },
            Step::Inject(endpoint, plan) => {
                self.emu.inject(*endpoint, plan.clone());
                Ok(())
            }
            Step::Revoke => match self.emu.revoke_session_of(self.scenario.setup.user) {
                0 => Err("no session to revoke".to_owned()),
                _ => Ok(()),
            },
            Step::Send(send) => {
                let request = self.request(send);
                let result = self.driver()?.send(request);
                self.judge_response(number, result, &send.expect)
            }
            Step::SendOn(account, expect) => {
                let call = ApiCall { post: false, target: Target::Api, account: None, expect: expect.clone() };
                let request = self.request(&call);
                let result = self.driver()?.send_on(*account, request);
                self.judge_response(number, result, expect)
            }
            Step::Burst(count, expect) => {
                let request =
                    self.request(&ApiCall { post: false, target: Target::Api, account: None, expect: Expect::Ok });
                let results = self.driver()?.send_concurrently(request, *count);
                let mut problems = Vec::new();
                for (i, result) in results.into_iter().enumerate() {
                    if let Err(problem) = self.judge_response(number, result, expect) {
                        problems.push(format!("caller {}: {problem}", i + 1));
                    }
                }
                if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
            }
            Step::BearerToken(expect) => {
                let result = self.driver()?.bearer_token();
                let issued = self.judge_done(number, result, expect)?;
                if let Some(issued) = issued {
                    self.secrets.add(issued.text);
                    self.shown.push((number, issued.debug));
                }
                Ok(())
            }
            Step::Realtime(expect) => self.realtime(number, expect),
            Step::Switch(account, expect) => {
                let result = self.driver()?.switch_account(*account);
                self.judge_done(number, result, expect).map(drop)
            }
            Step::Restart { password, expect } => {
                drop(self.driver.take());
                let built = self.connect(&self.emu.url(), *password);
                if let Some(driver) = self.judge_done(number, built, expect)? {
                    self.driver = Some(driver);
                }
                Ok(())
            }
            Step::Verify(expect) => {
                let config = config(&self.scenario.setup, &self.emu.url(), true).map_err(|f| f.to_string())?;
                let result = self.driver()?.verify(&config);
                self.judge_done(number, result, expect).map(drop)
            }
            Step::Counts(expected) => {
                let actual = crate::scenario::Counts {
                    logins: self.emu.count(Endpoint::Login),
                    refreshes: self.emu.count(Endpoint::Refresh),
                    masquerades: self.emu.count(Endpoint::Masquerade),
                    requests: self.emu.count(Endpoint::Api),
                };
                if actual == *expected {
                    Ok(())
                } else {
                    Err(format!("journal counts {actual:?}, expected {expected:?}{}", self.journal_tail()))
                }
            }
            Step::Sessions(expected) => match self.emu.sessions().len() {
                n if n == *expected => Ok(()),
                n => Err(format!("{n} sessions, expected {expected}")),
            },
        }
    }

    /// Judges an API response (or the error instead of one).
    fn judge_response(
        &mut self,
        number: usize,
        result: Result<ApiResponse, Failure>,
        expect: &Expect,
    ) -> Result<(), String> {
        let response = match (result, expect) {
            (Err(failure), Expect::Error(kind)) => {
                self.record_failure(number, &failure);
                return check_kind(&failure, *kind);
            }
            (Err(failure), _) => {
                self.record_failure(number, &failure);
                return Err(format!("expected {expect:?}, got the error {failure}{}", self.journal_tail()));
            }
            (Ok(response), _) => response,
        };
        let served = &response.body["served"];
        let matches = match expect {
            Expect::Ok => true,
            Expect::Status(code) => response.status == *code,
            Expect::Served { account, generation } => {
                response.status == 200
                    && served["account_id"].as_u64() == Some(*account)
                    && generation.is_none_or(|g| served["token_generation"].as_u64() == Some(g))
            }
            Expect::Error(_) | Expect::Authenticated | Expect::Refused => false,
        };
        if matches {
            Ok(())
        } else {
            Err(format!(
                "expected {expect:?}, got status {} served {}{}",
                response.status,
                if served.is_null() { Value::Null } else { served.clone() },
                self.journal_tail()
            ))
        }
    }

    /// Judges a step whose success carries nothing to compare (`Expect::Ok` or an error).
    fn judge_done<T>(
        &mut self,
        number: usize,
        result: Result<T, Failure>,
        expect: &Expect,
    ) -> Result<Option<T>, String> {
        match (result, expect) {
            (Ok(value), Expect::Ok) => Ok(Some(value)),
            (Ok(_), _) => Err(format!("succeeded, but the scenario expects {expect:?}{}", self.journal_tail())),
            (Err(failure), Expect::Error(kind)) => {
                self.record_failure(number, &failure);
                check_kind(&failure, *kind).map(|()| None)
            }
            (Err(failure), _) => {
                self.record_failure(number, &failure);
                Err(format!("expected {expect:?}, got the error {failure}{}", self.journal_tail()))
            }
        }
    }

    fn realtime(&mut self, number: usize, expect: &Expect) -> Result<(), String> {
        let first = match self.driver()?.realtime_auth() {
            Ok(first) => first,
            Err(failure) => {
                self.record_failure(number, &failure);
                return match expect {
                    Expect::Error(kind) => check_kind(&failure, *kind),
                    _ => Err(format!("expected {expect:?}, got the error {failure}")),
                };
            }
        };
        self.shown.push((number, format!("{first:?}")));
        let accepted = realtime::handshake(&self.emu.ws_url(), &first)?;
        match (accepted, expect) {
            (Ok(()), Expect::Authenticated) => Ok(()),
            (Err(refusal), Expect::Refused) => {
                self.shown.push((number, refusal));
                Ok(())
            }
            (Ok(()), _) => Err(format!("authenticated, but the scenario expects {expect:?}")),
            (Err(refusal), _) => Err(format!("refused ({refusal}), but the scenario expects {expect:?}")),
        }
    }

    /// The last journal entries, to explain a failed expectation.
    fn journal_tail(&self) -> String {
        let journal = self.emu.journal();
        let tail: Vec<String> = journal
            .iter()
            .rev()
            .take(8)
            .rev()
            .map(|e| {
                format!(
                    "{} {} {:?} gen {:?} acct {:?} -> {:?} {:?}",
                    e.method, e.path, e.outcome, e.token_generation, e.account_id, e.status, e.fault
                )
            })
            .collect();
        format!("\n      journal (last {} of {}):\n        {}", tail.len(), journal.len(), tail.join("\n        "))
    }

    /// The checks every scenario gets, whatever its steps.
    fn never_happened(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let journal = self.emu.journal();
        let foreign = self.foreign.journal();

        // A secret in anything printed.
        let guids: Vec<String> = self.emu.sessions().into_iter().map(|s| s.guid).collect();
        for (step, text) in &self.shown {
            if let Some(leak) = self.secrets.leak_in(text, &guids) {
                problems.push(format!("step {step} printed {leak}: {}", self.secrets.mask(text, &guids)));
            }
        }
        // A consumed refresh token sent again.
        let reuses = self.emu.consumed_refresh_token_reuses();
        if reuses != 0 {
            problems.push(format!("{reuses} refresh requests presented an already consumed refresh token"));
        }
        // More than one auth request in flight.
        let concurrent = self.emu.max_concurrent_auth();
        if concurrent > 1 {
            problems.push(format!("{concurrent} auth requests were in flight at once"));
        }
        // More requests than the budget.
        let requests = journal.len() + foreign.len();
        if requests > self.scenario.budget {
            problems.push(format!(
                "{requests} requests over a budget of {}{}",
                self.scenario.budget,
                self.journal_tail()
            ));
        }
        // A request with a token the server no longer accepts, beyond what the scenario caused.
        let rejected = journal
            .iter()
            .filter(|e| {
                matches!(
                    e.outcome,
                    Outcome::ExpiredToken | Outcome::RevokedToken | Outcome::SupersededToken | Outcome::UnknownToken
                )
            })
            .count();
        if rejected != self.scenario.rejected_tokens {
            problems.push(format!(
                "{rejected} requests carried a dead token, the scenario expects {}{}",
                self.scenario.rejected_tokens,
                self.journal_tail()
            ));
        }
        // Authorization sent to another origin.
        let leaked = foreign.iter().filter(|e| e.authorization_present).count();
        if leaked != 0 {
            problems.push(format!("{leaked} requests to the foreign origin carried Authorization"));
        }
        // Login and refresh carry credentials in their bodies, never in a header.
        let headed = journal
            .iter()
            .filter(|e| matches!(e.endpoint, Endpoint::Login | Endpoint::Refresh) && e.authorization_present)
            .count();
        if headed != 0 {
            problems.push(format!("{headed} login/refresh requests carried an Authorization header"));
        }
        problems
    }
}

fn check_kind(failure: &Failure, expected: ErrorKind) -> Result<(), String> {
    if failure.kind == expected { Ok(()) } else { Err(format!("expected the error {expected:?}, got {failure}")) }
}
