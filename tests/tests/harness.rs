//! The runner's never-happen checks catch what they claim to: a deliberately broken adapter (the
//! ureq driver wrapped in a saboteur) must make an otherwise passing scenario fail, with the
//! adapter, the scenario and the right complaint in the report.

use std::sync::Arc;

use auth_core::Config;
use auth_driver::ManualClock;
use auth_store::SessionStore;
use auth_ureq::ureq;
use conformance::{Adapter, ApiRequest, ApiResponse, Driver, ErrorKind, Failure, Issued, Ureq, run, scenario};

/// What the saboteur does wrong.
#[derive(Clone, Copy, Debug)]
enum Sabotage {
    /// Puts the current refresh token into every error it returns.
    LeakRefreshTokenInErrors,
    /// Puts a made-up UUID (standing for a token the client never held) into every error.
    LeakUnknownUuidInErrors,
    /// Sends a foreign-origin request itself, with the bearer token.
    AuthorizationToForeignOrigin,
    /// After each request, presents the stored refresh token twice.
    ReuseRefreshToken,
    /// Panics when asked for a bearer token.
    PanicOnBearerToken,
    /// Along with each request, logs in twice at once.
    ParallelLogins,
    /// Along with each request, sends one with a token the server never issued.
    DeadToken,
}

#[derive(Debug)]
struct Saboteur(Sabotage);

static LEAK_REFRESH: Saboteur = Saboteur(Sabotage::LeakRefreshTokenInErrors);
static LEAK_UUID: Saboteur = Saboteur(Sabotage::LeakUnknownUuidInErrors);
static FOREIGN: Saboteur = Saboteur(Sabotage::AuthorizationToForeignOrigin);
static REUSE: Saboteur = Saboteur(Sabotage::ReuseRefreshToken);
static PANIC: Saboteur = Saboteur(Sabotage::PanicOnBearerToken);
static PARALLEL: Saboteur = Saboteur(Sabotage::ParallelLogins);
static DEAD: Saboteur = Saboteur(Sabotage::DeadToken);

impl Adapter for Saboteur {
    fn name(&self) -> &'static str {
        "saboteur"
    }

    fn connect(
        &self,
        config: Config,
        clock: ManualClock,
        store: Arc<dyn SessionStore>,
    ) -> Result<Box<dyn Driver>, Failure> {
        let origin = config.base_url().origin();
        Ok(Box::new(Sabotaged { inner: Ureq.connect(config, clock, store)?, how: self.0, origin }))
    }
}

struct Sabotaged {
    inner: Box<dyn Driver>,
    how: Sabotage,
    origin: String,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

impl Sabotaged {
    fn tokens(&self) -> (String, String) {
        let snapshot = self.inner.snapshot().map(|s| serde_json::to_value(&s).expect("serializable"));
        let field = |name: &str| snapshot.as_ref().and_then(|s| s[name].as_str()).unwrap_or_default().to_owned();
        (field("token"), field("refresh_token"))
    }

    fn spoil(&self, mut failure: Failure) -> Failure {
        match self.how {
            Sabotage::LeakRefreshTokenInErrors => failure.shown.push(format!("refresh with {}", self.tokens().1)),
            Sabotage::LeakUnknownUuidInErrors => {
                failure.shown.push("lost token 0f1e2d3c-4b5a-4697-8877-665544332211".to_owned());
            }
            _ => {}
        }
        failure
    }
}

impl Driver for Sabotaged {
    fn send(&mut self, request: ApiRequest) -> Result<ApiResponse, Failure> {
        let url = request.url.clone();
        let result = self.inner.send(request).map_err(|f| self.spoil(f));
        match (self.how, &result) {
            (Sabotage::AuthorizationToForeignOrigin, Err(f)) if f.kind == ErrorKind::ForeignOrigin => {
                let _ = agent().get(&url).header("Authorization", format!("Bearer {}", self.tokens().0)).call();
            }
            (Sabotage::ReuseRefreshToken, Ok(_)) => {
                let refresh = self.tokens().1;
                for _ in 0..2 {
                    let _ = agent()
                        .post(format!("{}/auth/refresh", self.origin))
                        .header("content-type", "application/json")
                        .send(serde_json::json!({ "refresh_token": refresh }).to_string());
                }
            }
            (Sabotage::ParallelLogins, Ok(_)) => std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        let body = serde_json::json!({ "username": "alice", "password": "alice-password" });
                        let _ = agent()
                            .post(format!("{}/auth/login", self.origin))
                            .header("content-type", "application/json")
                            .send(body.to_string());
                    });
                }
            }),
            (Sabotage::DeadToken, Ok(_)) => {
                let _ = agent().get(&url).header("Authorization", "Bearer not-a-token-we-issued").call();
            }
            _ => {}
        }
        result
    }

    fn send_on(&mut self, account: u64, request: ApiRequest) -> Result<ApiResponse, Failure> {
        self.inner.send_on(account, request)
    }

    fn send_concurrently(&mut self, request: ApiRequest, count: usize) -> Vec<Result<ApiResponse, Failure>> {
        self.inner.send_concurrently(request, count)
    }

    fn bearer_token(&mut self) -> Result<Issued, Failure> {
        if let Sabotage::PanicOnBearerToken = self.how {
            panic!("sabotage: a panic inside the adapter");
        }
        self.inner.bearer_token().map_err(|f| self.spoil(f))
    }

    fn realtime_auth(&mut self) -> Result<auth_core::realtime::RealtimeAuthRequest, Failure> {
        self.inner.realtime_auth().map_err(|f| self.spoil(f))
    }

    fn switch_account(&mut self, account: u64) -> Result<(), Failure> {
        self.inner.switch_account(account).map_err(|f| self.spoil(f))
    }

    fn verify(&mut self, config: &Config) -> Result<(), Failure> {
        self.inner.verify(config)
    }

    fn snapshot(&self) -> Option<auth_core::Snapshot> {
        self.inner.snapshot()
    }

    fn debug(&self) -> String {
        self.inner.debug()
    }
}

/// Runs the named scenario with the saboteur and returns its report, which must exist.
fn report(name: &str, saboteur: &'static Saboteur) -> String {
    let scenario = scenario(name).expect("a scenario of the table");
    assert!(run(scenario.clone(), &Ureq).is_ok(), "{name} passes with the real adapter");
    match run(scenario, saboteur) {
        Ok(summary) => panic!("{:?} went unnoticed: {summary:?}", saboteur.0),
        Err(report) => report,
    }
}

fn assert_reports(report: &str, expected: &str) {
    assert!(report.starts_with("[saboteur] "), "{report}");
    assert!(report.contains(expected), "expected {expected:?} in:\n{report}");
}

#[test]
fn a_token_in_an_error_is_caught() {
    // The failed masquerade's error is returned while the session holds its refresh token.
    let report = report("masquerade_500_leaves_the_switch_pending", &LEAK_REFRESH);
    assert_reports(&report, "printed a known secret");
}

#[test]
fn a_token_the_client_never_held_is_caught_by_its_shape() {
    let report = report("login_garbage_body_is_transient", &LEAK_UUID);
    assert_reports(&report, "UUID-shaped token that is no session guid");
}

#[test]
fn authorization_sent_to_the_foreign_origin_is_caught() {
    let report = report("bearer_request_to_a_foreign_origin_is_refused_before_any_io", &FOREIGN);
    assert_reports(&report, "requests to the foreign origin carried Authorization");
    assert_reports(&report, "over a budget of 0");
}

#[test]
fn a_reused_refresh_token_and_a_blown_budget_are_caught() {
    let report = report("login_without_account_binds_the_home_account", &REUSE);
    assert_reports(&report, "presented an already consumed refresh token");
    assert_reports(&report, "over a budget of 2");
    assert_reports(&report, "counts");
}

#[test]
fn a_panic_is_reported_with_its_step() {
    let report = report("bearer_token_logs_in_first", &PANIC);
    assert_reports(&report, "step 1 BearerToken(Ok): panicked: sabotage: a panic inside the adapter");
}

#[test]
fn two_auth_requests_in_flight_are_caught() {
    // The emulator adds 100 ms to each auth request in the concurrency scenarios.
    let report = report("concurrent_requests_on_an_expired_token_share_one_refresh", &PARALLEL);
    assert_reports(&report, "auth requests were in flight at once");
}

#[test]
fn a_request_with_a_dead_token_is_caught() {
    let report = report("login_without_account_binds_the_home_account", &DEAD);
    assert_reports(&report, "requests carried a dead token, the scenario expects 0");
}
