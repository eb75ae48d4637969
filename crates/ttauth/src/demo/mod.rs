//! `ttauth demo`: a guided walk through what the libraries do, one line per step.
//!
//! Without a base URL it starts [`auth_emulator`] in-process ([`run_with_emulator`]) and
//! checks each step against the emulator's journal: login, an API call, a refresh (the
//! emulator's clock and the client's [`auth_driver::ManualClock`] are moved together — nobody
//! sleeps), account switches by relogin and by masquerade, Basic with and without a pinned
//! account, Integrator with an account and the request the library refuses without one, and
//! the RealTime handshake plus one user event.
//!
//! With `--base-url` on the command line the same walk runs against that server with the
//! configured credentials; the steps that need the emulator's knobs (moving its clock,
//! emitting an event, reading its journal) are skipped, saying so, and the real clock is used.
//! `TELETRACKER_BASE_URL` alone does not send the demo elsewhere (the README has people export
//! it for the other commands): the first line says which server the walk runs against, and
//! that the variable was ignored. A server that cannot be reached ends the walk with exit 5.
//!
//! Each step prints `✓` (behaved as expected), `✗` (did not) or `-` (skipped) with a short
//! detail. The command exits 0 when no step failed, 1 otherwise.

#[cfg(feature = "emulator")]
mod local;
mod remote;

use std::fmt::Display;

use crate::cli::{DemoArgs, GlobalArgs};
use crate::exit::{Exit, Failure, Result};
use crate::{Context, Given, write_out};

/// Runs `ttauth demo`: against the emulator, or against `--base-url` when one is given on the
/// command line.
pub(crate) fn run(args: &DemoArgs, global: &GlobalArgs, given: Given, ctx: &mut Context<'_>) -> Result<()> {
    if given.base_url_on_command_line {
        return remote::walk(args, global, ctx);
    }
    let ignored = match (&global.connection.base_url, given.base_url_from_environment) {
        (Some(url), true) => Some(url.clone()),
        _ => None,
    };
    local_walk(ctx, ignored.as_deref())
}

#[cfg(feature = "emulator")]
use local::walk as local_walk;

/// The walk against the emulator, in a build without it: says so, and how to walk against a
/// server instead.
#[cfg(not(feature = "emulator"))]
fn local_walk(_ctx: &mut Context<'_>, _ignored: Option<&str>) -> Result<()> {
    let failure = crate::without_emulator("`ttauth demo` without --base-url");
    Err(Failure::usage(format!("{}; `ttauth demo --base-url URL` walks against a server instead", failure.message)))
}

/// What `ttauth demo` does without a base URL, whatever the environment says: the walk
/// against an in-process emulator. For tests and embedding.
#[cfg(feature = "emulator")]
pub fn run_with_emulator(mut ctx: Context<'_>) -> Exit {
    let result = local::walk(&mut ctx, None);
    crate::finish(&mut ctx, result)
}

/// The outcome of one step: a detail for the line, success or not.
type StepResult = std::result::Result<String, String>;

/// Prints the steps as they finish and counts them.
struct Walk<'c, 'a> {
    ctx: &'c mut Context<'a>,
    passed: u32,
    failed: u32,
    skipped: u32,
}

impl<'c, 'a> Walk<'c, 'a> {
    fn new(ctx: &'c mut Context<'a>) -> Self {
        Walk { ctx, passed: 0, failed: 0, skipped: 0 }
    }

    /// A free-form line (headers, notes).
    fn line(&mut self, text: &str) -> Result<()> {
        let text = self.ctx.scrub(text);
        write_out(self.ctx, format!("{text}\n").as_bytes())?;
        self.ctx.out().flush().map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
    }

    /// Prints a step's outcome.
    fn step(&mut self, name: &str, result: StepResult) -> Result<()> {
        let (mark, detail, passed) = match result {
            Ok(detail) => ("✓", detail, true),
            Err(detail) => ("✗", detail, false),
        };
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        self.line(&format!("{mark} {name:<30} {detail}"))
    }

    /// Prints a skipped step and why.
    fn skip(&mut self, name: &str, why: &str) -> Result<()> {
        self.skipped += 1;
        self.line(&format!("- {name:<30} skipped: {why}"))
    }

    /// The summary line; a failure (exit 1) when any step failed.
    fn finish(mut self) -> Result<()> {
        let summary = format!("demo: {} steps passed, {} failed, {} skipped", self.passed, self.failed, self.skipped);
        self.line(&summary)?;
        if self.failed == 0 {
            Ok(())
        } else {
            Err(Failure::new(Exit::Failure, format!("{} demo step(s) did not behave as expected", self.failed)))
        }
    }
}

/// An error as a step detail (the libraries' `Display` never holds a secret).
fn failed(what: &str, error: impl Display) -> String {
    format!("{what}: {error}")
}

/// What the emulator's protected endpoints say about who they served (`served`), and what
/// any server said (status). Against a real server the `served` fields are absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Served {
    status: u16,
    user: Option<String>,
    scheme: Option<String>,
    account: Option<u64>,
    generation: Option<u64>,
}

impl Served {
    fn from_response(mut response: http::Response<auth_ureq::ureq::Body>) -> Self {
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1024 * 1024).read_to_string().unwrap_or_default();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let served = &value["served"];
        Served {
            status,
            user: served["user"].as_str().map(str::to_owned),
            scheme: served["scheme"].as_str().map(str::to_owned),
            account: served["account_id"].as_u64(),
            generation: served["token_generation"].as_u64(),
        }
    }

    /// `served alice (bearer) on account 1001 with token generation 2`, as far as known.
    fn describe(&self) -> String {
        let mut text = format!("HTTP {}", self.status);
        if let Some(user) = &self.user {
            text.push_str(&format!(", served {user}"));
        }
        if let Some(scheme) = &self.scheme {
            text.push_str(&format!(" ({scheme})"));
        }
        if let Some(account) = self.account {
            text.push_str(&format!(" on account {account}"));
        }
        if let Some(generation) = self.generation.filter(|g| *g > 0) {
            text.push_str(&format!(" with token generation {generation}"));
        }
        text
    }
}
