//! `ttauth realtime [--stream user|account] [--max-messages N]`: print a RealTime stream as
//! JSON lines.
//!
//! Connects, sends the `authrequest` built by [`auth_ureq::Client::realtime_auth`] (from a
//! currently valid token, refreshed first if due), starts the stream, then prints every
//! message the server sends as one JSON line on stdout until Ctrl-C, the server closing the
//! connection, or `--max-messages` — each of which ends with exit 0. Progress notes go to
//! stderr, so stdout is pure JSON lines.
//!
//! `--timeout` bounds the set-up of the connection as a whole (see [`crate::ws`]): a server
//! that answers too slowly, even one byte at a time, ends the command with exit 5.

use auth_core::Scheme;
use auth_core::realtime::Stream;

use crate::cli::{GlobalArgs, RealtimeArgs, StreamArg};
use crate::connection::Connection;
use crate::exit::{Exit, Failure, Result};
use crate::ws::{RealtimeSocket, Received, json_line, stream_name};
use crate::{Context, write_out};

/// Runs `ttauth realtime`.
pub(crate) fn run(args: &RealtimeArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    let connection = Connection::resolve(global, ctx)?;
    if connection.scheme != Scheme::Bearer {
        // The library refuses too (RequiresBearer); say it before anything is built.
        return Err(Failure::usage(format!(
            "the RealTime API accepts only bearer tokens; {} cannot authenticate it (use --scheme bearer)",
            connection.scheme
        )));
    }
    let url = connection.ws_url(args.ws_url.as_deref())?;
    let stream = match args.stream {
        StreamArg::User => Stream::User,
        StreamArg::Account => Stream::Account,
    };
    let client = connection.client(true, ctx).map_err(|f| connection.explain(f))?;
    let interrupt = ctx.stop_signal().map_err(|e| Failure::other(format!("cannot watch for Ctrl-C: {e}")))?;

    let mut retried = false;
    let (mut socket, early) = loop {
        let auth = client.realtime_auth().map_err(|e| connection.explain(e.into()))?;
        // `--timeout` bounds the set-up as a whole, from here to the stream's start.
        let mut socket = RealtimeSocket::connect(&url, connection.timeout, &interrupt)?;
        match socket.authenticate(&auth, &interrupt) {
            Ok(early) => {
                connection.observer.token_in_use(client.session().snapshot().as_ref());
                break (socket, early);
            }
            // The server refused a token the session believed valid (revoked, or expired on
            // the server's clock): tell the session, and reconnect once with a new one.
            Err(failure) if failure.exit == Exit::Auth && !retried => {
                tracing::info!(target: "ttauth", "the RealTime server refused the token: reconnecting once with a new one");
                client.report_realtime_rejection(&auth);
                socket.close();
                retried = true;
            }
            Err(failure) => return Err(failure),
        }
    };
    let mut pending: Vec<String> = Vec::new();
    // Messages that came before the answers are printed too, in order (none are dropped).
    for message in early {
        if let auth_core::realtime::ServerMessage::Event { message, .. }
        | auth_core::realtime::ServerMessage::Other { message, .. } = message
        {
            pending.push(serde_json::Value::Object(message).to_string());
        }
    }
    pending.extend(socket.start_stream(stream, &interrupt)?);
    // Streaming has no time limit: it runs until Ctrl-C, the server or --max-messages ends it.
    socket.set_deadline(None);
    ctx.status(&format!("ttauth: authenticated at {url}; {} stream started", stream_name(stream)));

    let mut printed: u64 = 0;
    let limit_reached = |printed: u64| args.max_messages.is_some_and(|max| printed >= max);
    let mut pending = pending.into_iter();
    loop {
        if limit_reached(printed) {
            socket.close();
            return Ok(());
        }
        let text = match pending.next() {
            Some(text) => text,
            None => match socket.next_text(&interrupt)? {
                Received::Text(text) => text,
                Received::Closed => {
                    ctx.status("ttauth: the server closed the connection");
                    return Ok(());
                }
                Received::Interrupted | Received::TimedOut => {
                    socket.close();
                    return Ok(());
                }
            },
        };
        let mut line = json_line(&text);
        line.push('\n');
        write_out(ctx, line.as_bytes())?;
        ctx.out().flush().map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
        printed += 1;
    }
}
