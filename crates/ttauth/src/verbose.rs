//! `-v` / `TTAUTH_LOG`: tracing events on stderr, scrubbed like every other line ttauth writes.
//!
//! ttauth's own events say where a token came from (the stored session, a refresh, a login)
//! and why (see [`crate::observer`]); the libraries' events show through the same subscriber.
//! `-v` shows `info`, `-vv` `debug`, `-vvv` `trace`, for every target; without `-v`,
//! `TTAUTH_LOG` takes a filter (`ttauth=debug,auth_core=trace`); with neither nothing is
//! installed.
//!
//! No event carries a secret: they name endpoints, statuses, generations, accounts and
//! durations. As a second line of defence each event is scrubbed of the secrets the context
//! knows (the password) before it is written, like the one-line failure messages.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::subscriber::DefaultGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::Context;
use crate::exit::{Failure, Result};

/// The environment variable with a filter, used when `-v` is not given.
pub(crate) const LOG_VAR: &str = "TTAUTH_LOG";

/// The secrets nothing on stderr may show, shared by the context and the event sink. The
/// values are zeroed on drop.
#[derive(Clone, Debug, Default)]
pub(crate) struct Secrets(Arc<Mutex<Vec<auth_core::Secret>>>);

impl Secrets {
    /// Adds one (an empty text is no secret).
    pub(crate) fn add(&self, secret: &str) {
        if !secret.is_empty() {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).push(auth_core::Secret::new(secret));
        }
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            text = text.replace(secret.expose_secret(), "[redacted]");
        }
        text
    }
}

/// Where events go: the process's stderr at once, or (for a captured [`Context`]) a buffer
/// the context writes to its stderr before its next line and when the command ends.
#[derive(Clone, Debug)]
pub(crate) struct EventSink {
    secrets: Secrets,
    buffer: Option<Arc<Mutex<Vec<u8>>>>,
}

impl EventSink {
    /// The events buffered so far, taken out.
    pub(crate) fn take_buffered(&self) -> String {
        match &self.buffer {
            Some(buffer) => {
                let bytes = std::mem::take(&mut *buffer.lock().unwrap_or_else(PoisonError::into_inner));
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => String::new(),
        }
    }

    fn write_event(&self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        // One event, one line: a newline or escape sequence inside a field cannot forge lines.
        let line: String = text.trim_end().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let line = format!("{}\n", self.secrets.scrub(&line));
        match &self.buffer {
            Some(buffer) => buffer.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(line.as_bytes()),
            None => {
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }
}

impl<'a> MakeWriter<'a> for EventSink {
    type Writer = EventWriter;

    fn make_writer(&'a self) -> EventWriter {
        EventWriter { sink: self.clone(), bytes: Vec::new() }
    }
}

/// Collects one formatted event and writes it, scrubbed, when dropped: scrubbing needs the
/// whole line, which the formatter may write in pieces.
#[derive(Debug)]
pub(crate) struct EventWriter {
    sink: EventSink,
    bytes: Vec<u8>,
}

impl Write for EventWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.sink.write_event(&self.bytes);
        }
    }
}

/// Installs the subscriber for this thread while the returned guard lives: `-v` count
/// `verbosity`, else `TTAUTH_LOG`, else none. An unreadable `TTAUTH_LOG` is a usage error.
pub(crate) fn install(verbosity: u8, ctx: &mut Context<'_>) -> Result<Option<DefaultGuard>> {
    let filter = match verbosity {
        0 => match ctx.get_var(LOG_VAR) {
            Some(spec) if !spec.trim().is_empty() => EnvFilter::try_new(spec.trim()).map_err(|e| {
                Failure::usage(format!("{LOG_VAR}: not a filter such as `debug` or `ttauth=trace`: {e}"))
            })?,
            _ => return Ok(None),
        },
        1 => EnvFilter::new("info"),
        2 => EnvFilter::new("debug"),
        _ => EnvFilter::new("trace"),
    };
    let buffer = (!ctx.is_process()).then(|| Arc::new(Mutex::new(Vec::new())));
    let sink = EventSink { secrets: ctx.secrets.clone(), buffer };
    ctx.events = Some(sink.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink)
        .with_ansi(false)
        .without_time()
        .with_target(true)
        .finish();
    Ok(Some(tracing::subscriber::set_default(subscriber)))
}
