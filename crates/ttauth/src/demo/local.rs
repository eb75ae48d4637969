//! The demo against an in-process emulator, each step checked against its journal.

use std::sync::Arc;
use std::time::Duration;

use auth_core::realtime::{ServerMessage, Stream};
use auth_core::{AccountId, AccountSwitch, AuthError, Config, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint, JournalEntry, Outcome};
use auth_ureq::Client;
use http::Request;
use serde_json::json;

use super::{Served, StepResult, Walk, failed};
use crate::Context;
use crate::Interrupt;
use crate::exit::{Failure, Result};
use crate::ws::{RealtimeSocket, Received, json_line};

/// The token lifetime the demo gives the emulator: short, so a refresh is a small clock move.
const LIFETIME: Duration = Duration::from_secs(300);
/// How far both clocks move for the refresh step: past the refresh margin (60 s before expiry,
/// up to 15 s of jitter earlier), before the cutoff (10 s before expiry).
const TO_STALE: Duration = Duration::from_secs(250);
/// The protected endpoint every step calls.
const CALL_DATA: &str = "/reports/call-data";
/// Bounds every network wait of the RealTime steps.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// The payload the demo emits as a user event.
const EVENT_TEXT: &str = "hello from ttauth demo";

/// Runs the walk against a fresh emulator. `ignored`: a base URL the environment set, which
/// the walk does not use (said on its first lines).
pub(super) fn walk(ctx: &mut Context<'_>, ignored: Option<&str>) -> Result<()> {
    let interrupt = ctx.interrupt_handle();
    let emu = Emulator::builder()
        .token_lifetime(LIFETIME)
        .try_start()
        .map_err(|e| Failure::other(format!("cannot start the emulator: {e}")))?;
    let local = Local { emu, clock: ManualClock::starting_now() };
    let mut walk = Walk::new(ctx);
    walk.line(&format!(
        "ttauth demo: against an IN-PROCESS EMULATOR at {} (RealTime {}), not a real server",
        local.emu.url(),
        local.emu.ws_url()
    ))?;
    if let Some(url) = ignored {
        walk.line(&format!(
            "  TELETRACKER_BASE_URL={url} is set but not used: pass --base-url {url} to walk through that server"
        ))?;
    }
    walk.line(&format!(
        "  token lifetime {} s; the demo moves the emulator's clock and the client's together (nobody sleeps)",
        LIFETIME.as_secs()
    ))?;

    let alice = local.client(local.bearer("alice", None, AccountSwitch::Relogin));
    match &alice {
        Ok(alice) => {
            walk.step("login", local.login(alice))?;
            walk.step("API call", local.api_call(alice))?;
            walk.step("refresh", local.refresh(alice))?;
        }
        Err(e) => {
            for name in ["login", "API call", "refresh"] {
                walk.step(name, Err(e.clone()))?;
            }
        }
    }
    walk.step("account switch (relogin)", local.switch_by_relogin())?;
    walk.step("account switch (masquerade)", local.switch_by_masquerade())?;
    walk.step("Basic, no account pinned", local.basic_unpinned())?;
    walk.step("Basic, account pinned", local.basic_pinned())?;
    walk.step("Integrator with account", local.integrator_pinned())?;
    walk.step("Integrator without account", local.integrator_refused())?;
    walk.step("RealTime needs bearer", local.realtime_needs_bearer())?;
    let socket = alice.and_then(|alice| local.realtime_handshake(&alice, &interrupt));
    match socket {
        Ok((socket, detail)) => {
            walk.step("RealTime handshake", Ok(detail))?;
            walk.step("RealTime user event", local.realtime_event(socket, &interrupt))?;
        }
        Err(e) => {
            walk.step("RealTime handshake", Err(e))?;
            walk.step("RealTime user event", Err("no RealTime connection".into()))?;
        }
    }
    walk.line(&format!(
        "next: `ttauth emulator {EMULATOR_HINT_ARGS}` in one terminal, then the `ttauth realtime` line it prints in \
         another, to see RealTime events arrive"
    ))?;
    walk.finish()
}

/// The arguments of the `ttauth emulator` the demo suggests running next.
const EMULATOR_HINT_ARGS: &str = "--port 8080 --event-interval-ms 1000";

/// The emulator and the client clock moved with it.
struct Local {
    emu: Emulator,
    clock: ManualClock,
}

impl Local {
    fn password(user: &str) -> Password {
        Password::new(format!("{user}-password"))
    }

    fn bearer(&self, user: &str, account: Option<u64>, switch: AccountSwitch) -> std::result::Result<Config, String> {
        let mut builder = Config::bearer(&self.emu.url(), user, Self::password(user)).account_switch(switch);
        if let Some(account) = account {
            builder = builder.account(AccountId(account));
        }
        builder.build().map_err(|e| failed("configuration", e))
    }

    fn basic(&self, user: &str, account: Option<u64>) -> std::result::Result<Config, String> {
        let mut builder = Config::basic(&self.emu.url(), user, Self::password(user));
        if let Some(account) = account {
            builder = builder.account(AccountId(account));
        }
        builder.build().map_err(|e| failed("configuration", e))
    }

    fn integrator(&self, account: Option<u64>) -> std::result::Result<Config, String> {
        let builder = Config::integrator(&self.emu.url(), "integrator", Self::password("integrator"));
        let builder = match account {
            Some(account) => builder.account(AccountId(account)),
            None => builder.account_per_request(),
        };
        builder.build().map_err(|e| failed("configuration", e))
    }

    /// A client on the demo's manual clock (a fixed jitter seed keeps the walk reproducible).
    fn client(&self, config: std::result::Result<Config, String>) -> std::result::Result<Client, String> {
        Client::builder(config?).clock(Arc::new(self.clock.clone())).seed(7).build().map_err(|e| failed("client", e))
    }

    /// Moves the client's clock and the emulator's by the same amount.
    fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.emu.advance_clock(by);
    }

    /// The journal position now; [`since`](Self::since) returns what came after it.
    fn mark(&self) -> usize {
        self.emu.journal().len()
    }

    fn since(&self, mark: usize) -> Vec<JournalEntry> {
        self.emu.journal().into_iter().skip(mark).collect()
    }

    fn count(entries: &[JournalEntry], endpoint: Endpoint) -> usize {
        entries.iter().filter(|e| e.endpoint == endpoint && e.outcome == Outcome::Ok).count()
    }

    /// `GET /reports/call-data`, expecting 200.
    fn call(&self, client: &Client) -> std::result::Result<Served, String> {
        let request =
            Request::get(format!("{}{CALL_DATA}", self.emu.url())).body(()).map_err(|e| failed("request", e))?;
        let served = Served::from_response(client.send(request).map_err(|e| failed("GET failed", e))?);
        if served.status == 200 { Ok(served) } else { Err(format!("expected HTTP 200, got {}", served.describe())) }
    }

    fn login(&self, alice: &Client) -> StepResult {
        let mark = self.mark();
        // The token is not printed: only its generation and account, from the journal.
        drop(alice.bearer_token().map_err(|e| failed("login failed", e))?);
        let entries = self.since(mark);
        let logins: Vec<_> = entries.iter().filter(|e| e.endpoint == Endpoint::Login).collect();
        match logins.as_slice() {
            [login] if login.outcome == Outcome::Ok => Ok(format!(
                "alice: POST /auth/login → session on account {}, token generation {}, lifetime {} s",
                show(login.account_id),
                show(login.token_generation),
                LIFETIME.as_secs()
            )),
            other => Err(format!("expected one successful login, the journal shows {}", other.len())),
        }
    }

    fn api_call(&self, alice: &Client) -> StepResult {
        let mark = self.mark();
        let served = self.call(alice)?;
        let entries = self.since(mark);
        expect(served.account == Some(1001), || format!("expected account 1001, got {}", served.describe()))?;
        expect(entries.len() == 1, || {
            format!("expected no auth request, the journal shows {} requests", entries.len())
        })?;
        Ok(format!("GET {CALL_DATA} → {}; no auth request", served.describe()))
    }

    fn refresh(&self, alice: &Client) -> StepResult {
        let before = alice.session().snapshot().map(|s| s.generation().as_u64()).unwrap_or_default();
        self.advance(TO_STALE);
        let mark = self.mark();
        let stale = self.call(alice)?;
        let refreshes = Self::count(&self.since(mark), Endpoint::Refresh);
        let fresh = self.call(alice)?;
        let refreshes_now = Self::count(&self.since(mark), Endpoint::Refresh);
        expect(stale.generation == Some(before), || {
            format!("expected the stale token (generation {before}) to serve the call, got {}", stale.describe())
        })?;
        expect(refreshes == 1 && refreshes_now == 1, || {
            format!("expected exactly one refresh, the journal shows {refreshes_now}")
        })?;
        expect(fresh.generation == Some(before + 1), || {
            format!("expected token generation {} after the refresh, got {}", before + 1, fresh.describe())
        })?;
        Ok(format!(
            "+{} s: the stale token (generation {before}) still served a call while one POST /auth/refresh ran; \
             next call served with generation {}",
            TO_STALE.as_secs(),
            before + 1
        ))
    }

    fn switch_by_relogin(&self) -> StepResult {
        let bob = self.client(self.bearer("bob", None, AccountSwitch::Relogin))?;
        let home = self.call(&bob)?;
        let mark = self.mark();
        bob.switch_account(AccountId(2002)).map_err(|e| failed("switch failed", e))?;
        let moved = self.call(&bob)?;
        let logins: Vec<_> = self
            .since(mark)
            .into_iter()
            .filter(|e| e.endpoint == Endpoint::Login && e.outcome == Outcome::Ok)
            .collect();
        expect(home.account == Some(2001), || format!("expected bob's home account 2001, got {}", home.describe()))?;
        expect(moved.account == Some(2002), || format!("expected account 2002, got {}", moved.describe()))?;
        expect(matches!(logins.as_slice(), [login] if login.account_id == Some(2002)), || {
            format!("expected one login with account_id 2002, the journal shows {} logins", logins.len())
        })?;
        Ok(format!(
            "bob: account 2001 → 2002 by logging in again with account_id; {}",
            moved.describe().replacen("HTTP 200, served bob (bearer) ", "served ", 1)
        ))
    }

    fn switch_by_masquerade(&self) -> StepResult {
        let bob = self.client(self.bearer("bob", None, AccountSwitch::masquerade()))?;
        let home = self.call(&bob)?;
        let mark = self.mark();
        bob.switch_account(AccountId(2003)).map_err(|e| failed("switch failed", e))?;
        let moved = self.call(&bob)?;
        let entries = self.since(mark);
        expect(moved.account == Some(2003), || format!("expected account 2003, got {}", moved.describe()))?;
        expect(
            Self::count(&entries, Endpoint::Masquerade) == 1 && Self::count(&entries, Endpoint::Login) == 0,
            || "expected one masquerade and no login in the journal".to_owned(),
        )?;
        expect(moved.generation == home.generation, || {
            format!("expected the same token to serve the new account, got {}", moved.describe())
        })?;
        Ok(format!(
            "bob: account {} → 2003 by POST /auth/masquerade; the same token (generation {}) now serves account 2003",
            show(home.account),
            show(moved.generation)
        ))
    }

    fn basic_unpinned(&self) -> StepResult {
        let bob = self.client(self.basic("bob", None))?;
        let mark = self.mark();
        let served = self.call(&bob)?;
        let sent_account =
            self.since(mark).iter().any(|e| e.query.as_deref().is_some_and(|q| q.contains("account_id")));
        expect(served.scheme.as_deref() == Some("basic"), || format!("expected Basic, got {}", served.describe()))?;
        expect(!sent_account, || "expected no account_id on the request".to_owned())?;
        let account = served.account.ok_or("the server did not say which account served the call")?;
        let note = if account == 2001 { "" } else { " (not bob's home account 2001!)" };
        Ok(format!(
            "bob sent no account_id: the server silently picked account {account}{note}; pin one with --account"
        ))
    }

    fn basic_pinned(&self) -> StepResult {
        let bob = self.client(self.basic("bob", Some(2002)))?;
        let mark = self.mark();
        let served = self.call(&bob)?;
        let query = self.since(mark).into_iter().find_map(|e| e.query).unwrap_or_default();
        expect(served.account == Some(2002), || format!("expected account 2002, got {}", served.describe()))?;
        expect(query.contains("account_id=2002"), || format!("expected account_id=2002 in the query, got {query:?}"))?;
        Ok("bob pinned to 2002: every request carries ?account_id=2002; served on account 2002".to_owned())
    }

    fn integrator_pinned(&self) -> StepResult {
        let integrator = self.client(self.integrator(Some(1001)))?;
        let served = self.call(&integrator)?;
        expect(served.account == Some(1001) && served.scheme.as_deref() == Some("integrator"), || {
            format!("expected Integrator on account 1001, got {}", served.describe())
        })?;
        Ok(format!("integrator with account 1001: {}", served.describe()))
    }

    fn integrator_refused(&self) -> StepResult {
        let integrator = self.client(self.integrator(None))?;
        let mark = self.mark();
        let request =
            Request::get(format!("{}{CALL_DATA}", self.emu.url())).body(()).map_err(|e| failed("request", e))?;
        let outcome = integrator.send(request);
        let sent = self.since(mark).len();
        match outcome {
            Err(auth_ureq::Error::Auth(error @ AuthError::AccountRequired)) if sent == 0 => {
                Ok(format!("refused before any I/O (\"{error}\"); emulator journal: 0 new requests"))
            }
            Err(error) => Err(format!(
                "expected the library's AccountRequired and no request, got \"{error}\" and {sent} requests"
            )),
            Ok(response) => {
                Err(format!("expected a refusal, the request was sent (HTTP {})", response.status().as_u16()))
            }
        }
    }

    fn realtime_needs_bearer(&self) -> StepResult {
        let bob = self.client(self.basic("bob", None))?;
        let mark = self.mark();
        let outcome = bob.realtime_auth();
        let sent = self.since(mark).len();
        match outcome {
            Err(auth_ureq::Error::Auth(error @ AuthError::RequiresBearer)) if sent == 0 => {
                Ok(format!("Basic asked for a RealTime handshake: refused before any I/O (\"{error}\")"))
            }
            Err(error) => Err(format!("expected RequiresBearer and no request, got \"{error}\" and {sent} requests")),
            Ok(_) => Err("expected a refusal, Basic produced a RealTime handshake".to_owned()),
        }
    }

    fn realtime_handshake(
        &self,
        alice: &Client,
        interrupt: &Interrupt,
    ) -> std::result::Result<(RealtimeSocket, String), String> {
        let url = self.emu.ws_url();
        let auth = alice.realtime_auth().map_err(|e| failed("no token", e))?;
        let mut socket = RealtimeSocket::connect(&url, NETWORK_TIMEOUT, interrupt).map_err(|f| f.message)?;
        socket.authenticate(&auth, interrupt).map_err(|f| f.message)?;
        socket.start_stream(Stream::User, interrupt).map_err(|f| f.message)?;
        let entry = self.emu.journal().into_iter().rev().find(|e| e.endpoint == Endpoint::Realtime);
        let generation = entry.as_ref().and_then(|e| e.token_generation);
        expect(entry.is_some_and(|e| e.outcome == Outcome::Ok), || {
            "the journal shows no accepted handshake".to_owned()
        })?;
        Ok((
            socket,
            format!(
                "{url}: authrequest with token generation {} → authresponse success; user stream started",
                show(generation)
            ),
        ))
    }

    fn realtime_event(&self, mut socket: RealtimeSocket, interrupt: &Interrupt) -> StepResult {
        let sockets = self.emu.emit_user_event("alice", json!({ "message": EVENT_TEXT }));
        expect(sockets == 1, || format!("the emulator found {sockets} sockets with the user stream started"))?;
        socket.set_deadline(Some(NETWORK_TIMEOUT));
        loop {
            let text = match socket.next_text(interrupt).map_err(|f| f.message)? {
                Received::Text(text) => text,
                other => return Err(format!("no event: {other:?}")),
            };
            if let Ok(ServerMessage::Event { stream: Stream::User, message }) =
                auth_core::realtime::parse_server_message(&text)
            {
                socket.close();
                expect(message.get("message").and_then(|m| m.as_str()) == Some(EVENT_TEXT), || {
                    format!("unexpected event {}", json_line(&text))
                })?;
                return Ok(format!("emitted by the emulator, received: {}", json_line(&text)));
            }
        }
    }
}

/// `Ok(())` when `condition` holds, else the detail `otherwise` builds.
fn expect(condition: bool, otherwise: impl FnOnce() -> String) -> std::result::Result<(), String> {
    if condition { Ok(()) } else { Err(otherwise()) }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "?".to_owned(), |v| v.to_string())
}
