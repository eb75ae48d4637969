//! The command line, as clap derive types. Parsing only: each command lives in its own file.
//!
//! There is deliberately no `--password` flag: a flag's value shows up in `ps`, shell history
//! and CI logs. The password comes from `TELETRACKER_PASSWORD` or from stdin
//! (`--password-stdin`).

use std::path::PathBuf;

use auth_core::{AccountId, DEFAULT_MASQUERADE_PATH};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Command line for the TeleTracker auth libraries.
///
/// Options may stand before or after the subcommand (`ttauth --state-file S token` is
/// `ttauth token --state-file S`); each subcommand's `--help` lists the ones that act there.
///
/// Exit status: 0 success, 1 other failure (a demo step, the session store, a RealTime protocol
/// error; `status`: no usable session), 2 usage or configuration error, 3 the API answered with
/// a non-2xx status, 4 authentication failed (credentials rejected, session expired, access
/// refused), 5 transport failure, timeout, or auth server temporarily unavailable.
#[derive(Debug, Parser)]
#[command(name = "ttauth", version, about, long_about)]
pub struct Cli {
    /// Options shared by the subcommands (`global`: accepted before or after the subcommand).
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through login, an API call, refresh, account switch, Basic, Integrator and
    /// RealTime against an in-process emulator, or against the server given with --base-url
    /// on the command line.
    Demo(DemoArgs),
    /// Print a currently valid bearer token on stdout, reusing and refreshing a stored session.
    Token(TokenArgs),
    /// Send an authenticated request and print the response body on stdout.
    Request(RequestArgs),
    /// Authenticate a RealTime WebSocket, start a stream and print each message as a JSON line.
    Realtime(RealtimeArgs),
    /// Show the stored session: where, which account, how long its tokens last, whether the
    /// password is needed. Exit 0 when it can continue, 1 when not.
    Status(StatusArgs),
    /// Delete the stored session and its lock file (again is fine: nothing to remove).
    Logout(LogoutArgs),
    /// Run the local TeleTracker auth emulator until Ctrl-C.
    Emulator(EmulatorArgs),
    /// Print a shell completion script on stdout.
    Completions(CompletionsArgs),
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Demo(_) => "demo",
            Command::Token(_) => "token",
            Command::Request(_) => "request",
            Command::Realtime(_) => "realtime",
            Command::Status(_) => "status",
            Command::Logout(_) => "logout",
            Command::Emulator(_) => "emulator",
            Command::Completions(_) => "completions",
        }
    }
}

/// The options every subcommand accepts before or after its name, and the subcommands where
/// each one acts. Elsewhere it is hidden from the subcommand's help and refused on its command
/// line ([`not_acting`]).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Server and credentials.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Session persistence.
    #[command(flatten)]
    pub state: StateArgs,
    /// Show what happens on stderr: -v which token source (stored session, refresh, login)
    /// and why, -vv every request, -vvv everything. TTAUTH_LOG takes a filter
    /// (e.g. `ttauth=debug`) when -v is not given. Secrets are never shown.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which subcommands each global option acts in; `None`: all of them.
const ACTS_IN: &[(&str, Option<&[&str]>)] = &[
    ("base_url", Some(&["demo", "token", "request", "realtime", "status", "logout"])),
    ("scheme", Some(&["demo", "token", "request", "realtime"])),
    ("username", Some(&["demo", "token", "request", "realtime", "status", "logout"])),
    ("password_stdin", Some(&["demo", "token", "request", "realtime", "status"])),
    ("account", Some(&["demo", "token", "request", "realtime", "status", "logout"])),
    // Only where a session can be moved to another account: a stored session on another
    // account than --account (token, request, realtime) and the demo's --switch-account.
    ("account_switch", Some(&["demo", "token", "request", "realtime"])),
    ("masquerade_path", Some(&["demo", "token", "request", "realtime"])),
    ("timeout", Some(&["demo", "token", "request", "realtime", "status"])),
    ("state_file", Some(&["token", "request", "realtime", "status", "logout"])),
    ("no_state", Some(&["token", "request", "realtime"])),
    ("store", Some(&["token", "request", "realtime", "status", "logout"])),
    ("store_prefix", Some(&["token", "request", "realtime", "status", "logout"])),
    ("verbose", Some(&["demo", "token", "request", "realtime", "status", "logout", "emulator"])),
];

/// The global options (by clap id) that do not act in `subcommand`.
pub fn not_acting(subcommand: &str) -> impl Iterator<Item = &'static str> + '_ {
    ACTS_IN.iter().filter(move |(_, acts)| acts.is_some_and(|names| !names.contains(&subcommand))).map(|(id, _)| *id)
}

/// The command line's clap command: [`Cli`] with each subcommand's help limited to the options
/// that act there. Global options are copied into every subcommand when clap builds the
/// command, unless the subcommand already has one with that id: the subcommands where an
/// option does not act get a hidden copy first, and `demo` its own `--base-url`, whose help
/// shows no default (without one it runs the in-process emulator).
pub fn command() -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    let globals: Vec<clap::Arg> = command.get_arguments().filter(|a| a.is_global_set()).cloned().collect();
    let names: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        let hidden: Vec<&str> = not_acting(&name).collect();
        command = command.mut_subcommand(&name, |mut sub| {
            for arg in globals.iter().filter(|a| hidden.contains(&a.get_id().as_str())) {
                sub = sub.arg(arg.clone().hide(true));
            }
            sub = about_in_this_build(&name, sub);
            if name == "demo"
                && let Some(base_url) = globals.iter().find(|a| a.get_id() == "base_url")
            {
                sub = sub.arg(base_url.clone().hide_env(true).help(
                    "Run the walk against this server, with your credentials, instead of the in-process \
                     emulator (only when given on the command line: TELETRACKER_BASE_URL is not used)",
                ));
            }
            sub
        });
    }
    command
}

/// A build without the emulator keeps the two commands that need it, to say that it lacks
/// them; their help says so too.
fn about_in_this_build(name: &str, sub: clap::Command) -> clap::Command {
    let about = match name {
        _ if cfg!(feature = "emulator") => return sub,
        "emulator" => {
            "Not in this build (built without the `emulator` feature): run the local TeleTracker auth emulator"
        }
        "demo" => {
            "Walk through login, an API call, refresh, account switch, Basic, Integrator and RealTime against the \
             server given with --base-url (the in-process emulator is not in this build)"
        }
        _ => return sub,
    };
    sub.about(about).long_about(None)
}

/// The longest `--timeout`: one day, the longest auth timeout the library accepts. Larger
/// values are a usage error rather than a deadline that overflows the clock.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The longest `emulator --token-lifetime`: 365 days, the longest lifetime the library
/// believes (it caps longer ones).
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 365 * 86_400;

/// How to reach the API and who to be: shared by the commands that talk to a server.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Base URL of the REST API (default: [`auth_core::DEFAULT_BASE_URL`]).
    #[arg(
        long,
        global = true,
        env = "TELETRACKER_BASE_URL",
        value_name = "URL",
        help = "Base URL of the REST API [default: https://api.teletracker.net]"
    )]
    pub base_url: Option<String>,

    /// Authentication scheme.
    #[arg(
        long,
        global = true,
        env = "TELETRACKER_SCHEME",
        value_enum,
        default_value_t = SchemeArg::Bearer,
        ignore_case = true
    )]
    pub scheme: SchemeArg,

    /// Username (the password comes from TELETRACKER_PASSWORD or --password-stdin).
    #[arg(long, global = true, env = "TELETRACKER_USERNAME", value_name = "USER")]
    pub username: Option<String>,

    /// Read the password from stdin (all of it, less one trailing newline). Takes precedence
    /// over TELETRACKER_PASSWORD.
    #[arg(long, global = true)]
    pub password_stdin: bool,

    /// Account to work in. Bearer: the session is bound to it. Basic and Integrator: sent as
    /// `account_id` on every request.
    #[arg(long, global = true, env = "TELETRACKER_ACCOUNT_ID", value_name = "ID")]
    pub account: Option<AccountId>,

    /// How a bearer session moves to another account (masquerade is an undocumented
    /// endpoint: an assumption about the server).
    #[arg(long, global = true, value_enum, default_value_t = AccountSwitchArg::Relogin)]
    pub account_switch: AccountSwitchArg,

    /// Path of the masquerade endpoint (with --account-switch masquerade).
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_MASQUERADE_PATH)]
    pub masquerade_path: String,

    /// Time limit in seconds, 1 to 86400. Each HTTP request (login, refresh, API call) gets
    /// SECS. `realtime` gets SECS for the whole set-up of a connection: name lookup, TCP
    /// connect, TLS, the WebSocket handshake, the authrequest/authresponse exchange and
    /// starting the stream, however slowly the server trickles its answers (a reconnect with a
    /// new token after a refused one gets a new SECS). When it runs out the command exits 5.
    #[arg(
        long,
        global = true,
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_SECS)
    )]
    pub timeout: u64,
}

/// Where a bearer session is persisted between runs.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Session file (default: [`default_state_file`](crate::default_state_file)).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help = "Session file [default: in the state directory ($XDG_STATE_HOME/ttauth or ~/.local/state/ttauth \
                on Linux, the platform's local data directory elsewhere), one file per base URL, user and account]"
    )]
    pub state_file: Option<PathBuf>,

    /// Keep the session in memory only: no session file is read or written.
    #[arg(long, global = true, conflicts_with = "state_file")]
    pub no_state: bool,

    /// Where the session is kept (else TELETRACKER_STORE, else the state directory).
    #[arg(
        long,
        global = true,
        value_name = "PATH|URL",
        conflicts_with_all = ["state_file", "no_state"],
        help = "Where the session is kept: a file (as --state-file), or redis://… / rediss://… to share one \
                session with other hosts through Redis (sealed with the base64 key in TELETRACKER_STORE_KEY, if \
                set) [env: TELETRACKER_STORE, used when neither this nor --state-file/--no-state is given; \
                prefer it for a URL with a password, which a flag shows in `ps`]"
    )]
    pub store: Option<String>,

    /// With a Redis store: the prefix of its keys [env: TELETRACKER_STORE_PREFIX; default:
    /// teletracker].
    #[arg(long, global = true, value_name = "PREFIX")]
    pub store_prefix: Option<String>,
}

/// `--scheme` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// `Authorization: Bearer` with a login session (REST and RealTime).
    Bearer,
    /// HTTP Basic on every request (REST only).
    Basic,
    /// `Authorization: Integrator` on every request (REST only; needs an account).
    Integrator,
}

/// `--account-switch` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccountSwitchArg {
    /// Log in again with `account_id` (documented).
    Relogin,
    /// POST `account_id` to the masquerade path with the current token (assumption).
    Masquerade,
}

/// `ttauth demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Against a server: the account the account-switch step moves to (skipped without it).
    #[arg(long, value_name = "ID")]
    pub switch_account: Option<AccountId>,

    /// Against a server: its RealTime URL [default: the base URL with ws:// or wss://].
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
}

/// `ttauth token`: everything it needs is in the global options.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {}

/// `ttauth request`.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// Path relative to the base URL (e.g. /reports/call-data?from=2024-01-01), or an absolute
    /// URL on the API's origin.
    #[arg(value_name = "PATH")]
    pub path: String,

    /// HTTP method [default: GET, or POST with --data].
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_enum, ignore_case = true)]
    pub method: Option<MethodArg>,

    /// Request body (sent as is; Content-Type defaults to application/json).
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,

    /// Extra header, `Name: value` (repeatable). Authorization is set by ttauth.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
}

/// `-X` values: the methods an API request can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum MethodArg {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
}

impl MethodArg {
    /// The HTTP method.
    pub fn method(self) -> http::Method {
        match self {
            MethodArg::Get => http::Method::GET,
            MethodArg::Head => http::Method::HEAD,
            MethodArg::Post => http::Method::POST,
            MethodArg::Put => http::Method::PUT,
            MethodArg::Patch => http::Method::PATCH,
            MethodArg::Delete => http::Method::DELETE,
            MethodArg::Options => http::Method::OPTIONS,
        }
    }
}

/// `ttauth realtime`.
#[derive(Debug, Clone, Args)]
pub struct RealtimeArgs {
    /// Which event stream to start (the account stream needs elevated privileges).
    #[arg(long, value_enum, default_value_t = StreamArg::User)]
    pub stream: StreamArg,

    /// Stop after printing this many messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,

    /// RealTime URL [default: the base URL with ws:// or wss://].
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
}

/// `--stream` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamArg {
    /// `userevent` messages.
    User,
    /// `accountevent` messages (elevated users only).
    Account,
}

/// `ttauth status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also make sure the session can continue, as `token` would: refresh it if it is due, or
    /// log in (with the password) if it cannot be refreshed. A fresh token is not sent
    /// anywhere: the API has no endpoint that only checks a token.
    #[arg(long)]
    pub check: bool,
}

/// `ttauth logout`.
#[derive(Debug, Clone, Args)]
pub struct LogoutArgs {
    /// Remove every session ttauth stored in its state directory, for every server, user and
    /// account (not with --store or TELETRACKER_STORE: a Redis store is cleared one session
    /// at a time).
    #[arg(long, conflicts_with_all = ["state_file", "store"])]
    pub all: bool,
}

/// `ttauth completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The longest `emulator --event-interval-ms`: one day.
pub const MAX_EVENT_INTERVAL_MS: u64 = 86_400_000;

/// `ttauth emulator`.
#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    /// Port to listen on, on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// Bearer token lifetime in seconds, 1 to 31536000 (365 days).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TOKEN_LIFETIME_SECS)
    )]
    pub token_lifetime: u64,

    /// Send every RealTime socket with a started stream an event every MS milliseconds
    /// (`{"type":"userevent","tick":N}`), so `ttauth realtime` has something to show; 0: never.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(0..=MAX_EVENT_INTERVAL_MS)
    )]
    pub event_interval_ms: u64,
}
