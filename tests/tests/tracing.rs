//! The libraries' `tracing` events, as a subscriber sees them, over whole scenarios against the
//! emulator: each kind of event appears, at its level, with its fields, and no event or span
//! ever holds a secret.
//!
//! A layer installed as the global default (the runner drives each scenario on a thread of its
//! own) records every event and span of the process. The scenarios run through the conformance
//! runner, which checks everything it always checks; a recording adapter around the one under
//! test collects the secrets the runner would search for: every token and refresh token in the
//! client's snapshots, every bearer token handed out, the passwords. Any UUID-shaped text is a
//! leak too (the emulator's tokens are UUIDs; the events never name a session guid).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use auth_core::Config;
use auth_core::realtime::RealtimeAuthRequest;
use auth_driver::ManualClock;
use auth_emulator::{Endpoint, Fault};
use auth_store::{SessionStore, Snapshot};
use conformance::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event or span, as recorded.
#[derive(Clone, Debug)]
struct Seen {
    /// `span` for a span (its name is the message).
    kind: &'static str,
    level: Level,
    target: String,
    message: String,
    fields: BTreeMap<String, String>,
    /// The names of the spans the event happened in, innermost first.
    scope: Vec<String>,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Everything a log line of it could show.
    fn text(&self) -> String {
        format!("{} {} {:?}", self.target, self.message, self.fields)
    }
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// Records every span and event of the process into [`SEEN`].
struct Capture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let meta = attrs.metadata();
        let seen = Seen {
            kind: "span",
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: meta.name().to_owned(),
            fields: fields.0,
            scope: Vec::new(),
        };
        SEEN.lock().unwrap_or_else(PoisonError::into_inner).push(seen);
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let scope = ctx.event_scope(event).map(|scope| scope.map(|span| span.name().to_owned()).collect());
        let seen = Seen {
            kind: "event",
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: fields.0.remove("message").unwrap_or_default(),
            fields: fields.0,
            scope: scope.unwrap_or_default(),
        };
        SEEN.lock().unwrap_or_else(PoisonError::into_inner).push(seen);
    }
}

/// Installs the capture once, and runs one test at a time (they share it).
fn exclusive() -> MutexGuard<'static, ()> {
    static INSTALL: Once = Once::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("no other global subscriber in this test binary");
    });
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What was recorded since the last call.
fn take_seen() -> Vec<Seen> {
    std::mem::take(&mut *SEEN.lock().unwrap_or_else(PoisonError::into_inner))
}

/// An adapter that records the secrets its clients hold or hand out.
struct Recording {
    inner: &'static dyn Adapter,
    secrets: Arc<Mutex<Secrets>>,
}

impl Adapter for Recording {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn connect(
        &self,
        config: Config,
        clock: ManualClock,
        store: Arc<dyn SessionStore>,
    ) -> Result<Box<dyn Driver>, Failure> {
        let inner = self.inner.connect(config, clock, store)?;
        Ok(Box::new(Recorded { inner, secrets: Arc::clone(&self.secrets) }))
    }
}

struct Recorded {
    inner: Box<dyn Driver>,
    secrets: Arc<Mutex<Secrets>>,
}

impl Recorded {
    fn secrets(&self) -> MutexGuard<'_, Secrets> {
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Driver for Recorded {
    fn send(&mut self, request: ApiRequest) -> Result<ApiResponse, Failure> {
        self.inner.send(request)
    }

    fn send_on(&mut self, account: u64, request: ApiRequest) -> Result<ApiResponse, Failure> {
        self.inner.send_on(account, request)
    }

    fn send_concurrently(&mut self, request: ApiRequest, count: usize) -> Vec<Result<ApiResponse, Failure>> {
        self.inner.send_concurrently(request, count)
    }

    fn bearer_token(&mut self) -> Result<Issued, Failure> {
        let issued = self.inner.bearer_token()?;
        self.secrets().add(issued.text.clone());
        Ok(issued)
    }

    fn realtime_auth(&mut self) -> Result<RealtimeAuthRequest, Failure> {
        self.inner.realtime_auth()
    }

    fn switch_account(&mut self, account: u64) -> Result<(), Failure> {
        self.inner.switch_account(account)
    }

    fn verify(&mut self, config: &Config) -> Result<(), Failure> {
        self.inner.verify(config)
    }

    /// The runner reads the snapshot after every step: its tokens are secrets from then on.
    fn snapshot(&self) -> Option<Snapshot> {
        let snapshot = self.inner.snapshot();
        if let Some(value) = snapshot.as_ref().and_then(|s| serde_json::to_value(s).ok()) {
            self.secrets().add_snapshot(&value);
        }
        snapshot
    }

    fn debug(&self) -> String {
        self.inner.debug()
    }
}

/// The whole life of a client, in one scenario: a login, a second client on the same store
/// that adopts the first one's refresh after a 401 and its one resend, a revocation (401, the
/// refresh refused, a relogin), two refreshes that fail (503, then 503 with `Retry-After`) and
/// back off, a refresh that succeeds, an account switch, a refused one, and a request refused
/// because its account changed.
fn life_of_a_client() -> Scenario {
    Scenario::new(Category::Sharing, Setup::bearer(BOB))
        .steps([get(served_gen(2001, 1)), second_client(), advance(STALE)])
        .steps([get(served_gen(2001, 1)), get(served_gen(2001, 2)), swap_clients(), get(served_gen(2001, 2))])
        .steps([revoke(), get(served(2001)), counts(2, 2, 0, 7)])
        .steps([inject(Endpoint::Refresh, Fault::Status(503)), advance(STALE), get(served(2001))])
        .steps([advance(BACKOFF), inject(Endpoint::Refresh, Fault::unavailable(30)), get(served(2001))])
        .steps([advance(35), get(served(2001)), counts(2, 5, 0, 10)])
        .steps([switch(2002, ok()), get_on(2002, served(2002)), switch(1001, fails(ErrorKind::AccountSwitchRejected))])
        .steps([get(served(2002)), switch(2003, ok()), get_on(2002, fails(ErrorKind::AccountChanged))])
        .steps([get(served(2003)), counts(5, 5, 0, 13)])
        .budget(24)
        .rejected_tokens(2)
        .named("life_of_a_client")
}

/// Runs `scenarios` through `adapter` and returns what was recorded, after checking that
/// nothing recorded holds a secret.
fn run_recorded(adapter: &'static dyn Adapter, scenarios: Vec<Scenario>) -> Vec<Seen> {
    let secrets = Arc::new(Mutex::new(Secrets::default()));
    let recording: &'static Recording =
        Box::leak(Box::new(Recording { inner: adapter, secrets: Arc::clone(&secrets) }));
    let passwords = {
        let mut secrets = secrets.lock().unwrap_or_else(PoisonError::into_inner);
        for setup in scenarios.iter().map(|s| &s.setup) {
            secrets.add_password(setup.user, &setup.password_text());
            secrets.add_password(setup.user, &format!("{}-password", setup.user));
            secrets.add_password(setup.user, WRONG_PASSWORD);
        }
        secrets.len()
    };
    let _ = take_seen();
    for scenario in scenarios {
        if let Err(report) = run(scenario, recording) {
            panic!("\n{report}\n");
        }
    }
    let seen = take_seen();
    let secrets = secrets.lock().unwrap_or_else(PoisonError::into_inner);
    assert!(secrets.len() >= passwords + 10, "tokens were collected: {} secrets", secrets.len());
    for entry in &seen {
        let text = entry.text();
        if let Some(leak) = secrets.leak_in(&text, &[]) {
            panic!("a {} holds {leak}: {}", entry.kind, secrets.mask(&text, &[]));
        }
        for shown in ["Bearer ", "Basic ", "refreshToken"] {
            assert!(!text.contains(shown), "{shown:?} in {text}");
        }
    }
    seen
}

/// The events with `message`, at `level`, each with at least `fields`.
fn events<'a>(seen: &'a [Seen], message: &str, level: Level, fields: &[&str]) -> Vec<&'a Seen> {
    let found: Vec<&Seen> = seen.iter().filter(|e| e.kind == "event" && e.message == message).collect();
    assert!(!found.is_empty(), "no event {message:?}; recorded: {:#?}", messages(seen));
    for event in &found {
        assert_eq!(event.level, level, "{event:?}");
        assert!(event.target.starts_with("auth_"), "{event:?}");
        for field in fields {
            assert!(event.fields.contains_key(*field), "{message:?} without {field}: {event:?}");
        }
    }
    found
}

/// Whether one of `found` has `field` = `value`.
fn some_has(found: &[&Seen], field: &str, value: &str) -> bool {
    found.iter().any(|e| e.field(field) == Some(value))
}

fn messages(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(|e| format!("{} {} {}: {:?}", e.kind, e.level, e.message, e.fields)).collect()
}

fn check(adapter: &'static dyn Adapter) {
    let _one = exclusive();
    let scenarios = vec![
        life_of_a_client(),
        table::zero_token_lifetime_ends_in_an_error_not_a_loop().named("zero_token_lifetime"),
        table::switch_by_masquerade_keeps_the_token().named("switch_by_masquerade"),
        table::login_success_false_is_final().named("login_success_false_is_final"),
        table::session_without_password_expires_with_a_typed_error().named("session_without_password_expires"),
    ];
    let seen = run_recorded(adapter, scenarios);
    let kinds: std::collections::BTreeSet<&str> = seen.iter().map(|e| e.message.as_str()).collect();
    println!("[{}] {} events and spans of {} kinds, none with a secret", adapter.name(), seen.len(), kinds.len());

    // Each exchange: its request (debug), its outcome (info or warn), in its span.
    let emitted = events(&seen, "auth request emitted", Level::DEBUG, &["exchange", "generation"]);
    for exchange in ["login", "refresh", "relogin", "masquerade"] {
        assert!(some_has(&emitted, "exchange", exchange), "no {exchange} emitted: {emitted:#?}");
    }
    let fields = ["exchange", "generation", "lifetime_secs", "duration_ms"];
    let succeeded = events(&seen, "auth exchange succeeded", Level::INFO, &fields);
    for exchange in ["login", "refresh", "relogin", "masquerade"] {
        assert!(some_has(&succeeded, "exchange", exchange), "no {exchange} succeeded: {succeeded:#?}");
    }
    assert!(some_has(&succeeded, "account", "2002"), "the switch's login names its account");
    let failed = events(&seen, "auth exchange failed", Level::WARN, &["exchange", "cause", "duration_ms"]);
    for cause in ["rejected", "server", "rate_limited"] {
        assert!(some_has(&failed, "cause", cause), "no failure for {cause}: {failed:#?}");
    }
    assert!(
        failed.iter().any(|e| e.field("cause") == Some("rate_limited") && e.field("retry_after_secs") == Some("30"))
    );
    assert!(failed.iter().any(|e| e.field("cause") == Some("rejected") && e.field("fatal") == Some("true")));
    for exchange_event in emitted.iter().chain(&succeeded).chain(&failed) {
        assert_eq!(exchange_event.scope.first().map(String::as_str), Some("auth_exchange"), "{exchange_event:?}");
    }
    let spans: Vec<&Seen> = seen.iter().filter(|e| e.kind == "span" && e.message == "auth_exchange").collect();
    assert!(spans.iter().all(|s| s.fields.contains_key("exchange") && s.fields.contains_key("id")), "{spans:?}");

    // The backoff, the rate limit, tokens that arrive unusable.
    let backoff = events(&seen, "auth backoff started", Level::WARN, &["cause", "attempt", "retry_at", "delay_ms"]);
    assert!(backoff.iter().any(|e| e.field("cause") == Some("rate_limited") && e.field("attempt") == Some("2")));
    events(&seen, "token arrived already stale", Level::WARN, &["generation", "lifetime_secs", "count"]);
    events(&seen, "tokens keep arriving unusable: backing off", Level::WARN, &["lifetime_secs", "count", "retry_at"]);
    events(&seen, "session expired: no usable refresh token and no password to log in again", Level::WARN, &[]);

    // Sharing a store; the API's 401 and the one resend.
    let adopted = events(&seen, "stored session adopted", Level::INFO, &["generation", "previous_generation"]);
    assert!(some_has(&adopted, "generation", "2"), "{adopted:?}");
    let rejected = events(&seen, "API rejected the token", Level::INFO, &["status", "generation", "resend"]);
    assert!(rejected.iter().all(|e| e.field("status") == Some("401") && e.field("resend") == Some("false")));
    assert!(rejected.len() >= 2, "the superseded token and the revoked one: {rejected:?}");
    events(&seen, "resend permit used", Level::DEBUG, &["generation"]);

    // Account switches.
    let requested = events(&seen, "account switch requested", Level::INFO, &["account"]);
    assert!(some_has(&requested, "account", "1001") && some_has(&requested, "account", "2003"));
    let done = events(&seen, "account switch done", Level::INFO, &["account", "generation"]);
    assert!(some_has(&done, "account", "2002") && some_has(&done, "account", "2003"), "{done:?}");
    let refused = events(&seen, "account switch refused", Level::WARN, &["account", "in_force", "status"]);
    assert!(some_has(&refused, "account", "1001") && some_has(&refused, "in_force", "2002"), "{refused:?}");
    let changed = events(&seen, "request refused: the account changed", Level::WARN, &["expected", "in_force"]);
    assert!(some_has(&changed, "expected", "2002") && some_has(&changed, "in_force", "2003"), "{changed:?}");
}

#[test]
fn ureq_events_tell_the_story_and_hold_no_secret() {
    check(&Ureq);
}

#[test]
fn reqwest_events_tell_the_story_and_hold_no_secret() {
    check(&Reqwest);
}
