//! # ttauth: the TeleTracker auth libraries on the command line
//!
//! `ttauth` is the command-line face of [`auth_ureq`] (and, through it, of `auth-core`'s
//! Sans-IO session). It shows what the libraries do, and gives scripts a token, an
//! authenticated `curl`, a RealTime event stream and a local server to try them on.
//!
//! | command | what it does |
//! |---|---|
//! | `ttauth demo` | starts the [`auth_emulator`] in-process and walks through login, an API call, a refresh, account switches (relogin and masquerade), Basic with and without a pinned account, Integrator with an account and the request refused without one, and the RealTime handshake plus one event — one line per step, exit 0 when every step behaved as expected. With `--base-url` on the command line the same walk runs against that server with your credentials, skipping the steps that need the emulator's knobs (an exported `TELETRACKER_BASE_URL` is named and ignored); an unreachable server exits 5. |
//! | `ttauth token` | prints a currently valid bearer token (and nothing else) on stdout, reusing and refreshing the session stored in the state file |
//! | `ttauth request [-X METHOD] PATH [-d BODY] [-H 'K: V']...` | sends an authenticated request to the base URL + `PATH` and prints the response body on stdout |
//! | `ttauth realtime [--stream user\|account] [--max-messages N]` | authenticates a RealTime WebSocket, starts the stream, prints each message as one JSON line until Ctrl-C or the server closes |
//! | `ttauth status [--json] [--check]` | says whether a session is stored and where, its account, how long its token and refresh token last (client's estimate), whether the password is needed; sends nothing unless `--check`; exit 0 when the session can continue, 1 when not |
//! | `ttauth logout [--all]` | deletes the stored session and its lock file (idempotent); `--all`: every session in the state directory; with a Redis store, the session's key (every host sharing it logs in again; `--all` is refused there) |
//! | `ttauth emulator [--port N] [--event-interval-ms MS]` | runs the emulator, prints its URLs, demo users and ready-to-paste lines, until Ctrl-C; a RealTime user event every 2 s by default |
//! | `ttauth completions bash\|zsh\|fish\|powershell` | prints a shell completion script |
//!
//! The emulator is built in through the default `emulator` feature. A build without it
//! (`--no-default-features`) has every command but `emulator` and `demo` without `--base-url`,
//! which say that this build lacks them (exit 2).
//!
//! Options go before or after the subcommand (`ttauth --state-file S token` is `ttauth token
//! --state-file S`); each subcommand's `--help` lists the ones that act there, and refuses
//! the others (exit 2).
//!
//! ## Configuration
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--base-url URL` | `TELETRACKER_BASE_URL` | `https://api.teletracker.net` |
//! | `--scheme bearer\|basic\|integrator` | `TELETRACKER_SCHEME` | `bearer` |
//! | `--username USER` | `TELETRACKER_USERNAME` | — (required) |
//! | `--password-stdin` (stdin less one trailing newline) | `TELETRACKER_PASSWORD` | — |
//! | `--account ID` | `TELETRACKER_ACCOUNT_ID` | none: the user's default account |
//! | `--account-switch relogin\|masquerade`, `--masquerade-path PATH` | | `relogin`, `/auth/masquerade` |
//! | `--timeout SECS` (1 to 86400): each HTTP request, login and refresh included; for `realtime`, the whole set-up of a connection (lookup, connect, TLS, WebSocket handshake, authentication, stream start) | | 30 |
//! | `--state-file PATH` / `--no-state` | `XDG_STATE_HOME`, `HOME` | see below |
//! | `--store PATH\|URL`: a session file (as `--state-file`), or `redis://…` / `rediss://…` to share one session with other hosts through Redis (when none of `--store`, `--state-file`, `--no-state` is given, the variable names it) | `TELETRACKER_STORE` | the state directory |
//! | `--store-prefix PREFIX`: the Redis store's key prefix | `TELETRACKER_STORE_PREFIX` | `teletracker` |
//! | — (never a flag): the base64 32-byte key that seals the Redis store's values | `TELETRACKER_STORE_KEY` | not sealed |
//! | `-v` (info), `-vv` (debug), `-vvv` (trace): which token source (stored session, refresh, login) and why, on stderr, never a secret | `TTAUTH_LOG` (a filter, when `-v` is not given) | off |
//!
//! There is no `--password` flag, on purpose: a flag's value ends up in `ps`, shell history
//! and CI logs. A bearer command without a password still works while the stored session can
//! be refreshed.
//!
//! Bearer sessions are stored in the platform's state directory: `$XDG_STATE_HOME/ttauth/` (or
//! `~/.local/state/ttauth/`) on Linux, `~/Library/Application Support/ttauth/` on macOS,
//! `%LOCALAPPDATA%\ttauth\` on Windows (the `directories` crate), one file per base URL,
//! username and account — `session-<user>@<host>-<hash>.json`, owner-only,
//! written atomically and locked around each login or refresh by [`auth_store::FileStore`] —
//! so two users, servers or accounts never share a session, and concurrent `ttauth`
//! processes never spend the same refresh token twice. With `--store redis://…` (the default
//! `redis` feature, the `auth-redis` crate) the session lives in Redis instead, shared by every host
//! that names the same Redis and prefix, under the same lease-and-fencing protocol.
//!
//! ## Exit status
//!
//! See [`Exit`]: 0 success, 1 other failure (`status`: no usable session), 2 usage or
//! configuration error (out-of-range values included), 3 non-2xx HTTP status, 4
//! authentication failure, 5 transport failure, timeout, or auth server temporarily
//! unavailable. Failures print one line on stderr, `ttauth: <what went wrong>`, built from the
//! libraries' secret-free messages; the password is additionally scrubbed from anything
//! written to stderr.
//!
//! ## Embedding and testing
//!
//! Every command is a library function: [`run`] parses the arguments and runs the command
//! against a [`Context`] — its standard streams, environment variables (for the password and
//! the state directory), clock and Ctrl-C signal. `main.rs` only calls
//! `run(std::env::args_os(), Context::process())`. Tests pass captured buffers, a fixed
//! environment, an [`auth_driver::ManualClock`] moved together with the emulator's
//! `advance_clock`, and an [`Interrupt`] they trigger themselves.
//!
//! ```
//! use std::sync::Arc;
//! use auth_driver::ManualClock;
//! use ttauth::{Context, Exit, run};
//!
//! let emulator = auth_emulator::Emulator::start();
//! let base_url = emulator.url();
//! # let dir = std::env::temp_dir().join(format!("ttauth-doc-{}", std::process::id()));
//! # let state_file = dir.join("s.json");
//! # let state_file = state_file.to_str().expect("UTF-8");
//! let clock = ManualClock::starting_now();
//! let mut stdout = Vec::new();
//! let mut stderr = Vec::new();
//! let exit = run(
//!     ["ttauth", "token", "--base-url", &base_url, "--username", "alice", "--state-file", state_file],
//!     Context::new(&mut stdout, &mut stderr).var("TELETRACKER_PASSWORD", "alice-password").clock(Arc::new(clock)),
//! );
//! assert_eq!(exit, Exit::Success);
//! assert_eq!(emulator.logins_served(), 1);
//! # std::fs::remove_dir_all(dir).expect("clean up");
//! ```
//!
//! Flags fall back to `TELETRACKER_*` through clap, which reads the process environment;
//! the context's variables are used for the password, `TTAUTH_LOG`, `XDG_STATE_HOME`,
//! `HOME` and the `TELETRACKER_STORE*` variables (a captured context applies the XDG rule to its own variables instead of asking the
//! platform, so tests never touch the real state directory). `-v` events of a captured
//! context are written to its stderr in order with its other lines.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod cli;
mod connection;
pub mod demo;
#[cfg(feature = "emulator")]
mod emulator;
mod exit;
mod interrupt;
mod logout;
mod observer;
mod realtime;
mod request;
mod state;
mod status;
mod store;
mod token;
mod verbose;
mod ws;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use auth_driver::{Clock, SystemClock};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches};

pub use exit::{Exit, Failure};
pub use interrupt::Interrupt;
pub use state::{default_state_dir, default_state_file};

use crate::cli::{Cli, Command};
use crate::verbose::{EventSink, Secrets};

/// Where a command reads and writes, and what it takes from its surroundings.
///
/// [`Context::process`] is the real thing; [`Context::new`] starts from captured streams, an
/// empty stdin, no environment variables, the system clock and an untriggered [`Interrupt`].
pub struct Context<'a> {
    stdin: Box<dyn Read + Send + 'a>,
    stdout: Box<dyn Write + Send + 'a>,
    stderr: Box<dyn Write + Send + 'a>,
    vars: Vars,
    clock: Arc<dyn Clock>,
    interrupt: Interrupt,
    ctrl_c: bool,
    /// Secrets to scrub from stderr (the password, once read); zeroed on drop. Shared with
    /// the event sink, which scrubs events too.
    secrets: Secrets,
    /// Events of `-v` not yet written (a captured context's; a process writes them at once).
    events: Option<EventSink>,
}

enum Vars {
    Process,
    Fixed(BTreeMap<String, String>),
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field(
                "vars",
                &match &self.vars {
                    Vars::Process => "process",
                    Vars::Fixed(_) => "fixed",
                },
            )
            .field("clock", &self.clock)
            .field("interrupt", &self.interrupt)
            .finish_non_exhaustive()
    }
}

impl Context<'static> {
    /// The process's stdin, stdout, stderr and environment, the system clock, and Ctrl-C
    /// wired to the [`Interrupt`] (installed when a long-running command starts).
    pub fn process() -> Self {
        Context {
            stdin: Box::new(io::stdin()),
            stdout: Box::new(io::stdout()),
            stderr: Box::new(io::stderr()),
            vars: Vars::Process,
            clock: Arc::new(SystemClock),
            interrupt: Interrupt::new(),
            ctrl_c: true,
            secrets: Secrets::default(),
            events: None,
        }
    }
}

impl<'a> Context<'a> {
    /// Captured streams, nothing on stdin, no environment variables, the system clock.
    pub fn new(stdout: impl Write + Send + 'a, stderr: impl Write + Send + 'a) -> Self {
        Context {
            stdin: Box::new(io::empty()),
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            vars: Vars::Fixed(BTreeMap::new()),
            clock: Arc::new(SystemClock),
            interrupt: Interrupt::new(),
            ctrl_c: false,
            secrets: Secrets::default(),
            events: None,
        }
    }

    /// Replaces stdin (for `--password-stdin`).
    pub fn stdin(mut self, stdin: impl Read + Send + 'a) -> Self {
        self.stdin = Box::new(stdin);
        self
    }

    /// Sets an environment variable as the command sees it (`TELETRACKER_PASSWORD`,
    /// `XDG_STATE_HOME`, `HOME`). Ignored by a [`Context::process`].
    pub fn var(mut self, name: &str, value: &str) -> Self {
        if let Vars::Fixed(vars) = &mut self.vars {
            vars.insert(name.to_owned(), value.to_owned());
        }
        self
    }

    /// The clock the session reads (e.g. an [`auth_driver::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The signal that stops `realtime` and `emulator` (trigger it from another thread).
    pub fn interrupt(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    pub(crate) fn get_var(&self, name: &str) -> Option<String> {
        match &self.vars {
            Vars::Process => std::env::var(name).ok(),
            Vars::Fixed(vars) => vars.get(name).cloned(),
        }
    }

    pub(crate) fn read_stdin(&mut self) -> io::Result<String> {
        let mut text = String::new();
        self.stdin.read_to_string(&mut text)?;
        Ok(text)
    }

    pub(crate) fn out(&mut self) -> &mut dyn Write {
        &mut *self.stdout
    }

    /// Remembers a secret so that nothing written to stderr can contain it.
    pub(crate) fn add_secret(&mut self, secret: &str) {
        self.secrets.add(secret);
    }

    /// Writes one line to stderr, with every known secret scrubbed and control characters
    /// flattened so the message stays on one line. Errors writing stderr are ignored: there is
    /// nowhere left to report them.
    pub(crate) fn status(&mut self, line: &str) {
        self.flush_events();
        let text: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let text = self.scrub(&text);
        let _ = writeln!(self.stderr, "{text}");
    }

    /// `text` with every known secret replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.secrets.scrub(text)
    }

    /// Whether this is the real process (its environment, stdio and the platform's state
    /// directory), not a captured context.
    pub(crate) fn is_process(&self) -> bool {
        matches!(self.vars, Vars::Process)
    }

    /// Writes the `-v` events a captured context has buffered to its stderr, in order.
    pub(crate) fn flush_events(&mut self) {
        if let Some(events) = &self.events {
            let text = events.take_buffered();
            if !text.is_empty() {
                let _ = self.stderr.write_all(text.as_bytes());
            }
        }
    }

    /// The stop signal, without installing a Ctrl-C handler.
    pub(crate) fn interrupt_handle(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// The clock.
    pub(crate) fn clock_handle(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The stop signal, with the Ctrl-C handler installed for a process context.
    pub(crate) fn stop_signal(&mut self) -> io::Result<Interrupt> {
        if std::mem::take(&mut self.ctrl_c) {
            self.interrupt.trigger_on_ctrl_c()?;
        }
        Ok(self.interrupt.clone())
    }
}

/// Where the options that can come from the environment came from, for the commands whose
/// behaviour depends on it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Given {
    /// `--base-url` was typed on the command line (not taken from `TELETRACKER_BASE_URL`).
    pub base_url_on_command_line: bool,
    /// `TELETRACKER_BASE_URL` set the base URL.
    pub base_url_from_environment: bool,
}

/// Parses `args` (the first one is the program name) and runs the command.
///
/// `--help` and `--version` print on stdout and succeed; a usage error prints clap's message
/// on stderr and returns [`Exit::Usage`], as does an option given to a subcommand it does not
/// act in. A failing command prints `ttauth: <message>` on stderr.
pub fn run<I, T>(args: I, mut ctx: Context<'_>) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = match cli::command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(error) => {
            let text = error.render().to_string();
            return match error.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = ctx.out().write_all(text.as_bytes());
                    Exit::Success
                }
                _ => {
                    let _ = ctx.stderr.write_all(text.as_bytes());
                    Exit::Usage
                }
            };
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = ctx.stderr.write_all(error.render().to_string().as_bytes());
            return Exit::Usage;
        }
    };
    let name = cli.command.name();
    if let Some(id) = cli::not_acting(name).find(|id| source_of(&matches, id) == Some(ValueSource::CommandLine)) {
        let option = format!("--{}", id.replace('_', "-"));
        let failure =
            Failure::usage(format!("{option} does not apply to `ttauth {name}` (see `ttauth {name} --help`)"));
        return finish(&mut ctx, Err(failure));
    }
    let given = Given {
        base_url_on_command_line: source_of(&matches, "base_url") == Some(ValueSource::CommandLine),
        base_url_from_environment: source_of(&matches, "base_url") == Some(ValueSource::EnvVariable),
    };
    let _events = match verbose::install(cli.global.verbose, &mut ctx) {
        Ok(guard) => guard,
        Err(failure) => return finish(&mut ctx, Err(failure)),
    };
    let global = &cli.global;
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args, global, given, &mut ctx),
        Command::Token(_) => token::run(global, &mut ctx),
        Command::Request(args) => request::run(args, global, &mut ctx),
        Command::Realtime(args) => realtime::run(args, global, &mut ctx),
        Command::Status(args) => status::run(args, global, &mut ctx),
        Command::Logout(args) => logout::run(args, global, &mut ctx),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator::run(args, &mut ctx),
        #[cfg(not(feature = "emulator"))]
        Command::Emulator(_) => Err(without_emulator("`ttauth emulator`")),
        Command::Completions(args) => completions(args, &mut ctx),
    };
    finish(&mut ctx, result)
}

/// The failure of a command that needs the in-process emulator, in a build without it
/// (`--no-default-features`): a usage error (2), like any command line this binary cannot
/// run; nothing was started or sent.
#[cfg(not(feature = "emulator"))]
pub(crate) fn without_emulator(what: &str) -> Failure {
    Failure::usage(format!(
        "{what} needs the in-process emulator, which this build of ttauth leaves out (built without its \
         `emulator` feature, which the default build has)"
    ))
}

/// Where the value of the global option `id` came from: the subcommand's matches know about
/// options typed after the subcommand, the top level's about those typed before it.
fn source_of(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    let sub = matches.subcommand().and_then(|(_, sub)| sub.value_source(id));
    let top = matches.value_source(id);
    match (top, sub) {
        (Some(ValueSource::CommandLine), _) | (_, Some(ValueSource::CommandLine)) => Some(ValueSource::CommandLine),
        (top, sub) => top.max(sub),
    }
}

/// `ttauth completions SHELL`: the completion script for the command line as parsed (the
/// options each subcommand does not act in are left out, like from its help).
fn completions(args: &cli::CompletionsArgs, ctx: &mut Context<'_>) -> exit::Result<()> {
    let mut command = cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "ttauth", &mut script);
    write_out(ctx, &script)
}

/// Flushes stdout and turns a command's result into its exit status, printing the failure's
/// one-line message on stderr.
pub(crate) fn finish(ctx: &mut Context<'_>, result: exit::Result<()>) -> Exit {
    let _ = ctx.stdout.flush();
    ctx.flush_events();
    match result {
        Ok(()) => Exit::Success,
        Err(failure) => {
            if !failure.message.is_empty() {
                ctx.status(&format!("ttauth: {}", failure.message));
            }
            failure.exit
        }
    }
}

/// Writes to stdout, turning an I/O error (a closed pipe) into a [`Failure`].
pub(crate) fn write_out(ctx: &mut Context<'_>, bytes: &[u8]) -> exit::Result<()> {
    ctx.out().write_all(bytes).map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

/// A build without the emulator (`cargo test -p ttauth --no-default-features --lib`).
#[cfg(all(test, not(feature = "emulator")))]
mod without_emulator {
    use super::*;

    #[test]
    fn the_commands_that_need_it_say_that_this_build_lacks_it() {
        for args in [&["ttauth", "emulator", "--port", "0"][..], &["ttauth", "demo"]] {
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            let exit = run(args, Context::new(&mut stdout, &mut stderr));
            let stderr = String::from_utf8(stderr).unwrap();
            assert_eq!(exit, Exit::Usage, "{args:?}: {stderr}");
            assert!(stderr.contains("this build of ttauth leaves out"), "{args:?}: {stderr}");
            assert!(stdout.is_empty(), "{args:?}");
        }
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        assert_eq!(run(["ttauth", "--help"], Context::new(&mut stdout, &mut stderr)), Exit::Success);
        assert!(String::from_utf8(stdout).unwrap().contains("Not in this build"));
    }
}
