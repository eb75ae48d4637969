//! `ttauth emulator [--port N] [--event-interval-ms MS]`: run the local TeleTracker auth
//! emulator until Ctrl-C.
//!
//! The server is [`auth_emulator`]'s (the same one `ttauth demo` starts); this command prints
//! where it listens and who can log in, with ready-to-paste `ttauth` lines, then waits. It
//! emits a RealTime user event every `--event-interval-ms` (2 s by default), so the
//! `ttauth realtime` line it suggests prints something.

use std::time::Duration;

use auth_emulator::{Directory, Emulator};

use crate::cli::EmulatorArgs;
use crate::exit::{Failure, Result};
use crate::{Context, write_out};

/// Runs `ttauth emulator`.
pub(crate) fn run(args: &EmulatorArgs, ctx: &mut Context<'_>) -> Result<()> {
    let interrupt = ctx.stop_signal().map_err(|e| Failure::other(format!("cannot watch for Ctrl-C: {e}")))?;
    let users = Directory::demo();
    let mut builder = Emulator::builder()
        .port(args.port)
        .users(users.clone())
        .token_lifetime(Duration::from_secs(args.token_lifetime));
    if args.event_interval_ms > 0 {
        builder = builder.event_interval(Duration::from_millis(args.event_interval_ms));
    }
    let emulator = builder
        .try_start()
        .map_err(|e| Failure::other(format!("cannot start the emulator on 127.0.0.1:{}: {e}", args.port)))?;

    let mut text = String::new();
    text.push_str("TeleTracker auth emulator listening\n");
    text.push_str(&format!("  REST:      {}\n", emulator.url()));
    text.push_str(&format!("  RealTime:  {}  (also {}/realtime)\n", emulator.ws_url(), emulator.ws_url()));
    text.push_str(&format!("  token lifetime: {} s; masquerade: POST /auth/masquerade\n", args.token_lifetime));
    text.push_str("users:\n");
    for user in users.iter() {
        text.push_str(&format!("  {:<12} {}\n", user.username(), user.summary()));
    }
    text.push_str("  (passwords: <user>-password, e.g. alice / alice-password)\n");
    match args.event_interval_ms {
        0 => text.push_str("RealTime events: none (--event-interval-ms 0)\n"),
        ms => text.push_str(&format!("RealTime events: a userevent every {ms} ms to each started stream\n")),
    }
    text.push_str("try:\n");
    text.push_str(&format!(
        "  TELETRACKER_PASSWORD=alice-password ttauth request --base-url {} --username alice /reports/call-data\n",
        emulator.url()
    ));
    if args.event_interval_ms > 0 {
        text.push_str(&format!("  {}\n", realtime_hint(&emulator.url())));
    }
    text.push_str("Ctrl-C to stop.\n");
    write_out(ctx, text.as_bytes())?;
    ctx.out().flush().map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;

    interrupt.wait();
    drop(emulator);
    write_out(ctx, b"emulator stopped\n")
}

/// The `ttauth realtime` line the banner suggests: alice's user stream, three events.
pub(crate) fn realtime_hint(url: &str) -> String {
    format!("TELETRACKER_PASSWORD=alice-password ttauth realtime --base-url {url} --username alice --max-messages 3")
}
