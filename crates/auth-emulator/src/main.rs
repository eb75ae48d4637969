//! `auth-emulator`: runs the TeleTracker auth emulator until Ctrl-C.
//!
//! ```text
//! cargo run -p auth-emulator -- --port 8080
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use auth_emulator::{
    BearerAccountParam, DEFAULT_JOURNAL_BYTE_BUDGET, Directory, Emulator, ExpiredTokenStatus, MasqueradeMode,
};
use clap::Parser;

/// A local emulator of the TeleTracker auth API (REST + RealTime), for tests and demos.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,

    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,

    /// Users file (JSON; see the crate docs). Default: the demo users.
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,

    /// Bearer token lifetime in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    token_lifetime: u64,

    /// Refresh-token lifetime in seconds (default 29 days).
    #[arg(long, value_name = "SECS", default_value_t = 29 * 24 * 3600)]
    refresh_token_lifetime: u64,

    /// Status for expired or otherwise unusable bearer tokens.
    #[arg(long, value_enum, default_value = "401")]
    expired_status: ExpiredStatus,

    /// Shift of the reported token expirations, in signed seconds.
    #[arg(long, value_name = "SECS", default_value_t = 0, allow_negative_numbers = true)]
    clock_offset: i64,

    /// Delay added to every request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,

    /// Path of the masquerade endpoint.
    #[arg(long, value_name = "PATH", default_value = "/auth/masquerade")]
    masquerade_path: String,

    /// Make masquerade issue a fresh token pair instead of only rebinding the session.
    #[arg(long)]
    masquerade_issues_tokens: bool,

    /// Ignore a bearer request's account_id instead of requiring it to match the session.
    #[arg(long)]
    ignore_bearer_account_id: bool,

    /// Emit a RealTime event to every started stream every MS milliseconds.
    #[arg(long, value_name = "MS")]
    event_interval_ms: Option<u64>,

    /// Keep only this many journal entries in memory.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    journal_limit: usize,

    /// Keep at most about this many bytes of journal in memory (oldest entries dropped first).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_JOURNAL_BYTE_BUDGET)]
    journal_bytes: usize,
}

/// `--expired-status` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExpiredStatus {
    #[value(name = "401")]
    Unauthorized,
    #[value(name = "403")]
    Forbidden,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let users = match &args.users {
        Some(path) => match Directory::from_json_file(path) {
            Ok(users) => users,
            Err(e) => {
                eprintln!("auth-emulator: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Directory::demo(),
    };
    let mut builder = Emulator::builder()
        .bind(SocketAddr::new(args.host, args.port))
        .users(users.clone())
        .token_lifetime(Duration::from_secs(args.token_lifetime))
        .refresh_token_lifetime(Duration::from_secs(args.refresh_token_lifetime))
        .expired_token_status(match args.expired_status {
            ExpiredStatus::Unauthorized => ExpiredTokenStatus::Unauthorized,
            ExpiredStatus::Forbidden => ExpiredTokenStatus::Forbidden,
        })
        .clock_offset(args.clock_offset)
        .latency(Duration::from_millis(args.latency_ms))
        .masquerade_path(args.masquerade_path.clone())
        .masquerade_mode(if args.masquerade_issues_tokens {
            MasqueradeMode::IssueTokens
        } else {
            MasqueradeMode::Rebind
        })
        .bearer_account_param(if args.ignore_bearer_account_id {
            BearerAccountParam::Ignore
        } else {
            BearerAccountParam::MustMatch
        })
        .journal_limit(args.journal_limit)
        .journal_byte_budget(args.journal_bytes);
    if let Some(ms) = args.event_interval_ms {
        builder = builder.event_interval(Duration::from_millis(ms));
    }
    let emulator = match builder.try_start() {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("auth-emulator: cannot listen on {}:{}: {e}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };

    println!("auth-emulator listening");
    println!("  REST:      {}", emulator.url());
    println!("  RealTime:  {}  (also {}/realtime)", emulator.ws_url(), emulator.ws_url());
    println!("  masquerade: POST {}", args.masquerade_path);
    println!("users:");
    for user in users.iter() {
        println!("  {:<12} {}", user.username(), user.summary());
    }
    if args.users.is_none() {
        println!("  (passwords: <user>-password, e.g. alice / alice-password)");
    }
    println!("Ctrl-C to stop.");

    let waited = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(tokio::signal::ctrl_c()));
    if let Ok(Err(e)) | Err(e) = waited {
        eprintln!("auth-emulator: cannot wait for Ctrl-C: {e}");
    }
    drop(emulator);
    println!("auth-emulator stopped");
    ExitCode::SUCCESS
}
