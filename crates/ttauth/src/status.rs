//! `ttauth status [--json] [--check]`: what the stored session for the configured server,
//! user and account can still do.
//!
//! It says whether a session is stored and where, the account it is bound to, how long the
//! token and the refresh token have left by the client's estimate (SPEC §3: from the client's
//! clock and `tokenLifetime`, never the server's timestamps), and whether the password would
//! be needed to continue. It prints no secret and sends nothing, unless `--check` asks it to
//! make sure the session can continue (as `token` would: refresh when due, log in when the
//! session cannot be refreshed and the password is known). Exit 0 when the session can
//! continue without the password, 1 when it cannot (or nothing is stored); with `--check`, a
//! failed check exits with its own status (4 refused, 5 unreachable).

use std::sync::Arc;

use auth_core::{AccountId, Scheme, TokenState};
use auth_store::SessionStore;
use auth_ureq::Client;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::connection::Connection;
use crate::exit::{Exit, Failure, Result};
use crate::observer::{RefreshFacts, StoredFacts, describe_left, span};
use crate::store::Opened;
use crate::{Context, write_out};

/// Runs `ttauth status`.
pub(crate) fn run(args: &StatusArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    let connection = Connection::resolve(global, ctx)?;
    if connection.scheme != Scheme::Bearer {
        return Err(Failure::usage(format!(
            "{} authentication keeps no session: `status` is about bearer sessions (use --scheme bearer)",
            connection.scheme
        )));
    }
    let opened = connection
        .open_store(ctx)?
        .ok_or_else(|| Failure::usage("`status` reads a session store: --no-state leaves nothing to look at"))?;
    let check = args.check.then(|| check(&connection, ctx));
    let report = Report::read(&connection, &opened, ctx);
    let check_json = check.as_ref().map(|c| match c {
        Ok(done) => json!({ "ok": true, "result": done }),
        Err(failure) => json!({ "ok": false, "result": ctx.scrub(&failure.message) }),
    });
    if args.json {
        let mut value = report.json();
        value["check"] = check_json.unwrap_or(Value::Null);
        write_out(ctx, format!("{value}\n").as_bytes())?;
    } else {
        let mut text = report.text();
        match &check {
            Some(Ok(done)) => text.push_str(&format!("check:          ok: {done}\n")),
            Some(Err(failure)) => text.push_str(&format!("check:          FAILED: {}\n", ctx.scrub(&failure.message))),
            None => {}
        }
        write_out(ctx, text.as_bytes())?;
    }
    match check {
        Some(Err(failure)) => Err(failure),
        _ if report.usable() => Ok(()),
        _ => Err(Failure::new(
            Exit::Failure,
            format!(
                "no usable session for {} at {}: {}",
                connection.username,
                connection.base_url,
                report.problem.as_deref().unwrap_or("the password is needed to continue")
            ),
        )),
    }
}

/// `--check`: a currently valid token, obtained as `token` would; says where it came from.
fn check(connection: &Connection, ctx: &mut Context<'_>) -> Result<String> {
    let client = connection.client(true, ctx).map_err(|f| connection.explain(f))?;
    let before = client.session().snapshot().map(|s| (s.generation(), s.obtained_at()));
    drop(client.bearer_token().map_err(|e| connection.explain(e.into()))?);
    connection.observer.token_in_use(client.session().snapshot().as_ref());
    let after = client.session().snapshot().map(|s| (s.generation(), s.obtained_at()));
    Ok(if before.is_some() && before == after {
        "the stored token is valid; nothing was sent (no endpoint only checks a token)".to_owned()
    } else {
        "the session was renewed and stored (see -v for how)".to_owned()
    })
}

/// What the session file holds, judged at one instant.
struct Report {
    server: String,
    username: String,
    pinned: Option<AccountId>,
    /// Where the session is: a file's path, or a Redis store and key.
    location: String,
    /// The session file, for a file store.
    file: Option<String>,
    stored: bool,
    account: Option<AccountId>,
    facts: Option<StoredFacts>,
    token_state: Option<TokenState>,
    token_expires_at: Option<OffsetDateTime>,
    refresh_expires_at: Option<OffsetDateTime>,
    /// Why the session cannot continue at all (another user's, unreadable, ...).
    problem: Option<String>,
}

impl Report {
    fn read(connection: &Connection, opened: &Opened, ctx: &Context<'_>) -> Report {
        let mut report = Report {
            server: connection.base_url.clone(),
            username: connection.username.clone(),
            pinned: connection.account,
            location: opened.location.clone(),
            file: opened.path().map(|path| path.display().to_string()),
            stored: false,
            account: None,
            facts: None,
            token_state: None,
            token_expires_at: None,
            refresh_expires_at: None,
            problem: None,
        };
        let now = ctx.clock_handle().now().wall();
        let snapshot = match opened.store.load() {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => {
                report.problem = Some("no session stored".to_owned());
                return report;
            }
            Err(e) => {
                report.problem = Some(format!("the session store cannot be read: {e}"));
                return report;
            }
        };
        report.stored = true;
        report.account = snapshot.account();
        report.facts = Some(StoredFacts::of(&snapshot, now));
        report.token_expires_at = Some(snapshot.expires_at());
        report.refresh_expires_at = snapshot.refresh_expires_at();
        if let (Some(pinned), None) = (connection.account, snapshot.account()) {
            report.problem =
                Some(format!("the session is on the default account, not on account {pinned}; ttauth refuses it"));
            return report;
        }
        // The library's own judgement of the token (fresh, stale, expired by its refresh
        // policy), from a client that restores the session without sending anything.
        let config = connection.store_config();
        let store: Arc<dyn SessionStore> = Arc::clone(&opened.store);
        let client = config.map_err(|e| e.message).and_then(|config| {
            Client::builder(config).clock(ctx.clock_handle()).store(store).build().map_err(|e| e.to_string())
        });
        match client {
            Ok(client) => report.token_state = client.session().token_state(),
            Err(e) => report.problem = Some(format!("this configuration cannot continue the stored session: {e}")),
        }
        report
    }

    /// The session can go on without the password.
    fn usable(&self) -> bool {
        self.problem.is_none() && !self.password_needed()
    }

    /// Neither the token nor the refresh token can carry the session on.
    fn password_needed(&self) -> bool {
        let token_valid = matches!(self.token_state, Some(TokenState::Fresh | TokenState::Stale));
        let refreshable = matches!(self.facts.map(|f| f.refresh), Some(RefreshFacts::Usable { .. }));
        !(token_valid || refreshable)
    }

    fn token_state_word(&self) -> &'static str {
        match self.token_state {
            Some(TokenState::Fresh) => "fresh",
            Some(TokenState::Stale) => "stale",
            Some(TokenState::Expired) => "expired",
            // The library judges no token it cannot restore; the estimate still says something.
            _ if self.facts.is_some_and(|f| f.token_left > 0) => "valid",
            _ => "expired",
        }
    }

    fn json(&self) -> Value {
        let facts = self.facts;
        let refresh = facts.map(|f| match f.refresh {
            RefreshFacts::Absent => json!({ "state": "none", "expires_at": null, "seconds_left": null }),
            RefreshFacts::Expired { seconds } => {
                json!({ "state": "expired", "expires_at": rfc3339(self.refresh_expires_at), "seconds_left": -seconds })
            }
            RefreshFacts::Usable { seconds } => {
                json!({ "state": "valid", "expires_at": rfc3339(self.refresh_expires_at), "seconds_left": seconds })
            }
        });
        json!({
            "server": self.server,
            "username": self.username,
            "pinned_account": self.pinned.map(|a| a.0),
            "state_file": self.file,
            "store": self.location,
            "stored": self.stored,
            "account": self.account.map(|a| a.0),
            "token": facts.map(|f| json!({
                "state": self.token_state_word(),
                "expires_at": rfc3339(self.token_expires_at),
                "seconds_left": f.token_left,
            })),
            "refresh_token": refresh,
            "password_needed": self.password_needed(),
            "usable": self.usable(),
            "problem": self.problem,
        })
    }

    fn text(&self) -> String {
        let mut text = format!("server:         {}\nuser:           {}\n", self.server, self.username);
        let Some(facts) = self.facts else {
            text.push_str(&format!("session:        none stored ({})\n", self.location));
            if let Some(problem) = &self.problem {
                text.push_str(&format!("problem:        {problem}\n"));
            }
            text.push_str("password:       needed: the next command logs in\n");
            return text;
        };
        text.push_str(&format!("session:        stored in {}\n", self.location));
        let account = match (self.account, self.pinned) {
            (Some(a), Some(p)) if a != p => format!("{a} (--account {p}: the next command moves it, one request)"),
            (Some(a), _) => a.to_string(),
            (None, _) => "the user's default account (login named none)".to_owned(),
        };
        text.push_str(&format!("account:        {account}\n"));
        text.push_str(&format!(
            "token:          {}, until {} ({})\n",
            describe_left(facts.token_left),
            human(self.token_expires_at),
            self.token_state_word()
        ));
        let refresh = match facts.refresh {
            RefreshFacts::Absent => "none (spent or never issued)".to_owned(),
            RefreshFacts::Expired { seconds } => {
                format!("expired {} ago, at {}", span(seconds), human(self.refresh_expires_at))
            }
            RefreshFacts::Usable { seconds: Some(seconds) } => {
                format!("valid for {}, until {}", span(seconds), human(self.refresh_expires_at))
            }
            RefreshFacts::Usable { seconds: None } => "valid (the server named no expiry)".to_owned(),
        };
        text.push_str(&format!("refresh token:  {refresh}\n"));
        if let Some(problem) = &self.problem {
            text.push_str(&format!("problem:        {problem}\n"));
        }
        let password = if self.problem.is_some() {
            "needed: this session cannot be continued"
        } else if !self.password_needed() {
            if matches!(self.token_state, Some(TokenState::Fresh | TokenState::Stale)) {
                "not needed: the token is still valid"
            } else {
                "not needed: the refresh token can renew the session"
            }
        } else {
            "needed: the token and the refresh token have run out"
        };
        text.push_str(&format!("password:       {password}\n"));
        text
    }
}

/// `2026-05-01T12:00:00Z`: to the second, in UTC.
fn rfc3339(at: Option<OffsetDateTime>) -> Value {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(format).ok()).map_or(Value::Null, Value::String)
}

/// `2026-05-01 12:00:00 UTC`.
fn human(at: Option<OffsetDateTime>) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    at.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(format).ok()).unwrap_or_else(|| "?".to_owned())
}
