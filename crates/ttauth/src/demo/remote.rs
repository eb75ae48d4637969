//! The demo against a running server (`--base-url`), with the configured credentials and the
//! real clock. What needs the emulator's knobs is skipped, saying so.

use auth_core::realtime::Stream;
use auth_core::{AccountSwitch, AuthError, Config, Password, Scheme};
use auth_ureq::Client;
use http::Request;

use super::{Served, StepResult, Walk, failed};
use crate::Context;
use crate::cli::{DemoArgs, GlobalArgs};
use crate::connection::Connection;
use crate::exit::{Exit, Failure, Result};
use crate::ws::RealtimeSocket;

const CALL_DATA: &str = "/reports/call-data";

/// Runs the walk against `--base-url`. Nothing is stored: the demo never touches the
/// session file the other commands use.
pub(super) fn walk(args: &DemoArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    let interrupt = ctx.interrupt_handle();
    let connection = Connection::resolve(global, ctx)?;
    let Some(password) = connection.password.clone() else {
        return Err(Failure::usage("no password: set TELETRACKER_PASSWORD or pass --password-stdin"));
    };
    let main = connection.client(false, ctx)?;
    let remote = Remote { connection: &connection, password };
    let mut walk = Walk::new(ctx);
    walk.line(&format!(
        "ttauth demo: against the SERVER {} (--base-url) as {} ({}), real clock",
        connection.base_url, connection.username, connection.scheme
    ))?;

    // The first step that talks to the server tells whether there is one: if it cannot be
    // reached, the rest would only repeat that, so the walk ends there with exit 5.
    let first = if connection.scheme == Scheme::Bearer {
        let login = remote.login(&main);
        let unreachable = login.as_ref().err().and_then(|f| (f.exit == Exit::Transport).then(|| f.clone()));
        walk.step("login", login.map_err(|f| f.message))?;
        unreachable
    } else {
        walk.skip("login", &format!("{} authentication has no session", connection.scheme))?;
        None
    };
    if let Some(failure) = first {
        walk.line(&format!("demo: stopped, the server at {} could not be reached", connection.base_url))?;
        return Err(connection.explain(failure));
    }
    walk.step("API call", remote.call(&main).map(|served| format!("GET {CALL_DATA} → {}", served.describe())))?;
    walk.skip("refresh", "needs the emulator's clock (run `ttauth demo` without --base-url)")?;
    let switch_name = match connection.account_switch {
        AccountSwitch::Relogin => "account switch (relogin)",
        _ => "account switch (masquerade)",
    };
    match (connection.scheme, args.switch_account) {
        (Scheme::Bearer, Some(account)) => walk.step(switch_name, remote.switch(&main, account))?,
        (Scheme::Bearer, None) => walk.skip(switch_name, "pass --switch-account ID to move the session")?,
        (scheme, _) => walk.skip(switch_name, &format!("{scheme} names the account per request"))?,
    };
    if connection.scheme == Scheme::Integrator {
        walk.skip("Basic, no account pinned", "an Integrator cannot use Basic")?;
        walk.skip("Basic, account pinned", "an Integrator cannot use Basic")?;
        match connection.account {
            Some(_) => walk.step("Integrator with account", remote.call(&main).map(|s| s.describe()))?,
            None => walk.skip("Integrator with account", "pass --account ID")?,
        }
    } else {
        walk.step("Basic, no account pinned", remote.basic(None))?;
        match connection.account {
            Some(account) => walk.step("Basic, account pinned", remote.basic(Some(account)))?,
            None => walk.skip("Basic, account pinned", "pass --account ID")?,
        };
        walk.skip("Integrator with account", "needs --scheme integrator and integrator credentials")?;
    }
    walk.step("Integrator without account", remote.integrator_refused())?;
    walk.step("RealTime needs bearer", remote.realtime_needs_bearer())?;
    if connection.scheme == Scheme::Bearer {
        let url = connection.ws_url(args.ws_url.as_deref())?;
        walk.step("RealTime handshake", remote.realtime(&main, &url, &interrupt))?;
    } else {
        walk.skip("RealTime handshake", "the RealTime API accepts only bearer tokens")?;
    }
    walk.skip("RealTime user event", "needs a server that emits events (`ttauth emulator` does: see its banner)")?;
    walk.finish()
}

struct Remote<'c> {
    connection: &'c Connection,
    password: Password,
}

impl Remote<'_> {
    fn call(&self, client: &Client) -> std::result::Result<Served, String> {
        let uri = self.connection.url(CALL_DATA).map_err(|f| f.message)?;
        let request = Request::get(uri).body(()).map_err(|e| failed("request", e))?;
        // Through `Failure`: its messages say "try again later", not the library's retry time.
        let sent = client.send(request).map_err(|e| failed("GET failed", Failure::from(e)))?;
        let served = Served::from_response(sent);
        if (200..300).contains(&served.status) {
            Ok(served)
        } else {
            Err(format!("expected 2xx, got {}", served.describe()))
        }
    }

    fn login(&self, client: &Client) -> std::result::Result<String, Failure> {
        drop(client.bearer_token().map_err(|e| Failure::from(e).context("login failed"))?);
        let snapshot = client.session().snapshot();
        let generation = snapshot.as_ref().map_or(0, |s| s.generation().as_u64());
        let account = client.session().account().map(|a| format!(", account {a}")).unwrap_or_default();
        Ok(format!("{}: session with token generation {generation}{account}", self.connection.username))
    }

    fn switch(&self, client: &Client, account: auth_core::AccountId) -> StepResult {
        client.switch_account(account).map_err(|e| failed("switch failed", Failure::from(e)))?;
        let served = self.call(client)?;
        match served.account {
            Some(served_on) if served_on != account.0 => {
                Err(format!("switched, but the call was served on account {served_on}"))
            }
            _ => Ok(format!("now on account {account}; GET {CALL_DATA} → {}", served.describe())),
        }
    }

    fn basic(&self, account: Option<auth_core::AccountId>) -> StepResult {
        let c = self.connection;
        let mut builder = Config::basic(&c.base_url, &c.username, self.password.clone());
        if let Some(account) = account {
            builder = builder.account(account);
        }
        let config = builder.build().map_err(|e| failed("configuration", e))?;
        let client = Client::builder(config).http(self.connection.agent()).build().map_err(|e| failed("client", e))?;
        let served = self.call(&client)?;
        Ok(match (account, served.account) {
            (None, Some(picked)) => {
                format!("no account_id sent: the server picked account {picked}; {}", served.describe())
            }
            (None, None) => format!("no account_id sent: the server picked the account; {}", served.describe()),
            (Some(pinned), _) => format!("account_id={pinned} on the request; {}", served.describe()),
        })
    }

    fn integrator_refused(&self) -> StepResult {
        let c = self.connection;
        // Nothing is sent, so any user-id the Integrator scheme accepts will do.
        let username = if c.username.contains(':') { "integrator" } else { c.username.as_str() };
        let config = Config::integrator(&c.base_url, username, self.password.clone())
            .account_per_request()
            .build()
            .map_err(|e| failed("configuration", e))?;
        let client = Client::builder(config).http(self.connection.agent()).build().map_err(|e| failed("client", e))?;
        let uri = c.url(CALL_DATA).map_err(|f| f.message)?;
        let request = Request::get(uri).body(()).map_err(|e| failed("request", e))?;
        match client.send(request) {
            Err(auth_ureq::Error::Auth(error @ AuthError::AccountRequired)) => {
                Ok(format!("refused by the library before any I/O (\"{error}\"); no journal to show remotely"))
            }
            Err(error) => Err(format!("expected the library's AccountRequired, got \"{error}\"")),
            Ok(response) => {
                Err(format!("expected a refusal, the request was sent (HTTP {})", response.status().as_u16()))
            }
        }
    }

    fn realtime_needs_bearer(&self) -> StepResult {
        let c = self.connection;
        let username = if c.username.contains(':') { "user" } else { c.username.as_str() };
        let config = Config::basic(&c.base_url, username, self.password.clone())
            .build()
            .map_err(|e| failed("configuration", e))?;
        let client = Client::builder(config).http(self.connection.agent()).build().map_err(|e| failed("client", e))?;
        match client.realtime_auth() {
            Err(auth_ureq::Error::Auth(error @ AuthError::RequiresBearer)) => {
                Ok(format!("Basic asked for a RealTime handshake: refused before any I/O (\"{error}\")"))
            }
            Err(error) => Err(format!("expected RequiresBearer, got \"{error}\"")),
            Ok(_) => Err("expected a refusal, Basic produced a RealTime handshake".to_owned()),
        }
    }

    fn realtime(&self, client: &Client, url: &str, interrupt: &crate::Interrupt) -> StepResult {
        let auth = client.realtime_auth().map_err(|e| failed("no token", Failure::from(e)))?;
        let mut socket = RealtimeSocket::connect(url, self.connection.timeout, interrupt).map_err(|f| f.message)?;
        socket.authenticate(&auth, interrupt).map_err(|f| f.message)?;
        socket.start_stream(Stream::User, interrupt).map_err(|f| f.message)?;
        socket.close();
        Ok(format!("{url}: authresponse success; user stream started"))
    }
}
