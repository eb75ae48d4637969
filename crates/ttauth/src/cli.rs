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
/// Exit status: 0 success, 1 other failure (a demo step, the session store, a RealTime protocol
/// error), 2 usage or configuration error, 3 the API answered with a non-2xx status, 4
/// authentication failed (credentials rejected, session expired, access refused), 5 transport
/// failure or auth server temporarily unavailable.
#[derive(Debug, Parser)]
#[command(name = "ttauth", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through login, an API call, refresh, account switch, Basic, Integrator and
    /// RealTime, against an in-process emulator (or the server given by --base-url or
    /// TELETRACKER_BASE_URL).
    Demo(DemoArgs),
    /// Print a currently valid bearer token on stdout, reusing and refreshing a stored session.
    Token(TokenArgs),
    /// Send an authenticated request and print the response body on stdout.
    Request(RequestArgs),
    /// Authenticate a RealTime WebSocket, start a stream and print each message as a JSON line.
    Realtime(RealtimeArgs),
    /// Run the local TeleTracker auth emulator until Ctrl-C.
    Emulator(EmulatorArgs),
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
        env = "TELETRACKER_BASE_URL",
        value_name = "URL",
        help = "Base URL of the REST API [default: https://api.teletracker.net]"
    )]
    pub base_url: Option<String>,

    /// Authentication scheme.
    #[arg(long, env = "TELETRACKER_SCHEME", value_enum, default_value_t = SchemeArg::Bearer, ignore_case = true)]
    pub scheme: SchemeArg,

    /// Username (the password comes from TELETRACKER_PASSWORD or --password-stdin).
    #[arg(long, env = "TELETRACKER_USERNAME", value_name = "USER")]
    pub username: Option<String>,

    /// Read the password from stdin (all of it, less one trailing newline). Takes precedence
    /// over TELETRACKER_PASSWORD.
    #[arg(long)]
    pub password_stdin: bool,

    /// Account to work in. Bearer: the session is bound to it. Basic and Integrator: sent as
    /// `account_id` on every request.
    #[arg(long, env = "TELETRACKER_ACCOUNT_ID", value_name = "ID")]
    pub account: Option<AccountId>,

    /// How a bearer session moves to another account (masquerade is an undocumented
    /// endpoint: an assumption about the server).
    #[arg(long, value_enum, default_value_t = AccountSwitchArg::Relogin)]
    pub account_switch: AccountSwitchArg,

    /// Path of the masquerade endpoint (with --account-switch masquerade).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_MASQUERADE_PATH)]
    pub masquerade_path: String,

    /// Time limit in seconds, 1 to 86400. Each HTTP request (login, refresh, API call) gets
    /// SECS. `realtime` gets SECS for the whole set-up of a connection: name lookup, TCP
    /// connect, TLS, the WebSocket handshake, the authrequest/authresponse exchange and
    /// starting the stream, however slowly the server trickles its answers (a reconnect with a
    /// new token after a refused one gets a new SECS). When it runs out the command exits 5.
    #[arg(
        long,
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
        value_name = "PATH",
        help = "Session file [default: $XDG_STATE_HOME/ttauth/session-<user>@<host>-<hash>.json, or \
                ~/.local/state/ttauth/...; one file per base URL, user and account]"
    )]
    pub state_file: Option<PathBuf>,

    /// Keep the session in memory only: no session file is read or written.
    #[arg(long, conflicts_with = "state_file")]
    pub no_state: bool,
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
    /// Server, credentials and scheme, for a walk against a running server (with --base-url).
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Against a server: the account the account-switch step moves to (skipped without it).
    #[arg(long, value_name = "ID")]
    pub switch_account: Option<AccountId>,

    /// Against a server: its RealTime URL [default: the base URL with ws:// or wss://].
    #[arg(long, value_name = "URL")]
    pub ws_url: Option<String>,
}

/// `ttauth token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Server and credentials.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Session persistence.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `ttauth request`.
#[derive(Debug, Clone, Args)]
pub struct RequestArgs {
    /// Path relative to the base URL (e.g. /reports/call-data?from=2024-01-01), or an absolute
    /// URL on the API's origin.
    #[arg(value_name = "PATH")]
    pub path: String,

    /// HTTP method [default: GET, or POST with --data].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,

    /// Request body (sent as is; Content-Type defaults to application/json).
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    pub data: Option<String>,

    /// Extra header, `Name: value` (repeatable). Authorization is set by ttauth.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Server and credentials.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Session persistence (bearer).
    #[command(flatten)]
    pub state: StateArgs,
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

    /// Server and credentials (bearer only).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Session persistence.
    #[command(flatten)]
    pub state: StateArgs,
}

/// `--stream` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamArg {
    /// `userevent` messages.
    User,
    /// `accountevent` messages (elevated users only).
    Account,
}

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
}
