//! What a worker counts, and how the test reads it: a map of named counters, written to a
//! status file in the control directory while the worker runs and printed as one JSON line when
//! it stops.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

/// Named counters ("requests", "status.200", "store.save.fenced", ...), shared by every thread.
#[derive(Debug, Default)]
pub struct Counters {
    map: Mutex<BTreeMap<String, u64>>,
    /// The first message seen under a key (an error's `Display`: never a secret), so that the
    /// test can check what a user would read.
    samples: Mutex<BTreeMap<String, String>>,
    /// Whether the process's last store call found the store unavailable (the next call that
    /// gets an answer, even a refusal, clears it).
    store_down: AtomicBool,
}

impl Counters {
    /// Adds one to `key`.
    pub fn add(&self, key: impl Into<String>) {
        *self.map.lock().unwrap_or_else(PoisonError::into_inner).entry(key.into()).or_default() += 1;
    }

    /// Records how a store call ended: `true` when the store was unavailable.
    pub fn note_store(&self, unavailable: bool) {
        self.store_down.store(unavailable, Ordering::SeqCst);
    }

    /// Whether the process's last store call found the store unavailable.
    pub fn store_down(&self) -> bool {
        self.store_down.load(Ordering::SeqCst)
    }

    /// Adds one to each of `keys`, in one look.
    pub fn add_all<const N: usize>(&self, keys: [&str; N]) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            *map.entry(key.to_owned()).or_default() += 1;
        }
    }

    /// Adds one to `key` and keeps `message` if it is the first under `key`.
    pub fn add_with_sample(&self, key: String, message: impl FnOnce() -> String) {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples.entry(key.clone()).or_insert_with(message);
        drop(samples);
        self.add(key);
    }

    /// The counters now, as the JSON the test reads: `{"pid":..,"adapter":..,"done":..,
    /// "generation":..,"counters":{..},"samples":{..}}`, where `generation` is the oldest token
    /// generation the process's clients hold.
    pub fn to_json(&self, adapter: &str, done: bool, generation: Option<u64>) -> String {
        let counters = self.map.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let pid = std::process::id();
        let json = serde_json::json!({
            "pid": pid, "adapter": adapter, "done": done, "generation": generation,
            "counters": counters, "samples": samples,
        });
        json.to_string()
    }

    /// Writes [`to_json`](Self::to_json) to `status-<pid>.json` in `control`, atomically (a
    /// temporary file renamed over it), so that the test never reads half a file.
    pub fn write_status(
        &self,
        control: &Path,
        adapter: &str,
        done: bool,
        generation: Option<u64>,
    ) -> std::io::Result<()> {
        let pid = std::process::id();
        let temporary = control.join(format!(".status-{pid}.tmp"));
        std::fs::write(&temporary, self.to_json(adapter, done, generation))?;
        std::fs::rename(temporary, control.join(format!("status-{pid}.json")))
    }
}

/// The leading identifier of a `Debug` text (an enum's variant name), never what follows it.
pub fn variant_name(debug: &str) -> String {
    debug.chars().take_while(char::is_ascii_alphanumeric).collect()
}

/// A tracing layer counting the libraries' events: `event.<message>` for each, and
/// `event.store_failed.<operation>.<kind>` for the driver's "session store failed" warnings.
/// Messages are the libraries' fixed words; no field value but `operation` and `kind` is kept.
#[derive(Debug)]
pub struct EventCounter(pub std::sync::Arc<Counters>);

#[derive(Default)]
struct Fields {
    message: String,
    operation: String,
    kind: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "operation" => self.operation = value.to_owned(),
            "kind" => self.kind = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "operation" => self.operation = format!("{value:?}"),
            "kind" => self.kind = format!("{value:?}"),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for EventCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.message == "session store failed" {
            self.0.add(format!("event.store_failed.{}.{}", fields.operation, fields.kind));
        }
        self.0.add(format!("event.{}", fields.message));
    }
}
