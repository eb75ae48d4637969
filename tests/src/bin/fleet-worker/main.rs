//! `fleet-worker`: one host of the fleet test (`tests/tests/fleet.rs`, issue 16).
//!
//! It shares one TeleTracker session with the other workers through a store (Redis, or a file
//! while the harness is debugged), and sends authenticated API requests from many threads or
//! tasks until told to stop. It counts what happens (statuses, errors, store calls by outcome,
//! the libraries' tracing events) and can be made to crash or pause at a chosen step of the
//! store protocol ([`fault`]).
//!
//! Configured by environment variables:
//!
//! | variable | meaning |
//! |---|---|
//! | `FLEET_API` | the emulator's base URL |
//! | `FLEET_USER`, `FLEET_PASSWORD` | the user |
//! | `FLEET_STORE` | `redis://…` (with `FLEET_PREFIX`, `FLEET_LEASE_MS`, `FLEET_STORE_TIMEOUT_MS`), or a file path |
//! | `FLEET_ADAPTER` | `ureq`, `reqwest`, or `mixed` (half ureq threads, half reqwest tasks) |
//! | `FLEET_THREADS` | threads + tasks (default 16) |
//! | `FLEET_PACE_MS` | pause between two requests of one thread or task (default 0) |
//! | `FLEET_CONTROL` | the control directory: `stop`, the fault files, the status files |
//! | `FLEET_TRACE` | optional: `1` writes the libraries' `debug` events to stderr, timed (the test keeps each worker's stderr; the events carry no secret) |
//!
//! While it runs it writes `status-<pid>.json` in the control directory every 100 ms; when the
//! file `stop` appears there it stops its threads, prints the final counters as one JSON line
//! on stdout and exits 0.
#![forbid(unsafe_code)]

mod counters;
mod fault;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::{Config, Password, TokenState};
use auth_store::{FileStore, SessionStore};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Layer, SubscriberExt};

use crate::counters::{Counters, EventCounter, variant_name};
use crate::fault::Faulty;

/// What the environment says.
struct Settings {
    api: String,
    user: String,
    password: String,
    store: String,
    prefix: String,
    lease: Duration,
    store_timeout: Duration,
    adapter: String,
    threads: usize,
    pace: Duration,
    control: PathBuf,
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(text) => text.parse().map_err(|_| format!("{name} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        Ok(Settings {
            api: var("FLEET_API")?,
            user: var("FLEET_USER")?,
            password: var("FLEET_PASSWORD")?,
            store: var("FLEET_STORE")?,
            prefix: std::env::var("FLEET_PREFIX").unwrap_or_else(|_| "teletracker".to_owned()),
            lease: Duration::from_millis(number("FLEET_LEASE_MS", 1000)?),
            store_timeout: Duration::from_millis(number("FLEET_STORE_TIMEOUT_MS", 1000)?),
            adapter: var("FLEET_ADAPTER")?,
            threads: usize::try_from(number("FLEET_THREADS", 16)?).map_err(|_| "FLEET_THREADS too large")?,
            pace: Duration::from_millis(number("FLEET_PACE_MS", 0)?),
            control: var("FLEET_CONTROL")?.into(),
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fleet-worker {}: {error}", std::process::id());
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let counters = Arc::new(Counters::default());
    let events = EventCounter(Arc::clone(&counters)).with_filter(tracing::level_filters::LevelFilter::INFO);
    // Opt-in, to find out after a failed run who did what when: the test keeps the stderr. Our
    // libraries' events only, which never carry a secret (an HTTP stack's may quote a request).
    let trace = (std::env::var("FLEET_TRACE").as_deref() == Ok("1")).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_thread_ids(true)
            .with_filter(
                Targets::new().with_targets(
                    ["auth_core", "auth_driver", "auth_store", "auth_redis", "auth_ureq", "auth_reqwest"]
                        .map(|library| (library, tracing::Level::DEBUG)),
                ),
            )
    });
    let subscriber = tracing_subscriber::registry().with(events).with(trace);
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;

    let config = Config::bearer(&settings.api, &settings.user, Password::new(&settings.password))
        .build()
        .map_err(|e| format!("configuration: {e}"))?;
    let store = open_store(&settings, &config)?;
    let faulty = || -> Arc<dyn SessionStore> {
        Arc::new(Faulty::new(Arc::clone(&store), settings.control.clone(), Arc::clone(&counters)))
    };
    let (ureq_threads, reqwest_tasks) = match settings.adapter.as_str() {
        "ureq" => (settings.threads, 0),
        "reqwest" => (0, settings.threads),
        "mixed" => (settings.threads / 2, settings.threads - settings.threads / 2),
        other => return Err(format!("FLEET_ADAPTER: unknown adapter {other:?}")),
    };
    let url = format!("{}/reports/call-data", settings.api.trim_end_matches('/'));
    let stop = Arc::new(AtomicBool::new(false));

    let mut threads = Vec::new();
    let mut sessions: Vec<Arc<dyn Fn() -> Option<u64> + Send + Sync>> = Vec::new();
    if ureq_threads > 0 {
        let client = auth_ureq::Client::builder(config.clone())
            .store(faulty())
            .build()
            .map_err(|e| format!("ureq client: {e}"))?;
        let session = client.clone();
        sessions.push(Arc::new(move || session.session().snapshot().map(|s| s.generation().as_u64())));
        for _ in 0..ureq_threads {
            let (client, counters, stop, url) = (client.clone(), Arc::clone(&counters), Arc::clone(&stop), url.clone());
            let pace = settings.pace;
            threads.push(std::thread::spawn(move || ureq_loop(&client, &url, &counters, &stop, pace)));
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut tasks = Vec::new();
    if reqwest_tasks > 0 {
        let client = runtime
            .block_on(auth_reqwest::Client::builder(config.clone()).store(faulty()).build())
            .map_err(|e| format!("reqwest client: {e}"))?;
        let session = client.clone();
        sessions.push(Arc::new(move || session.session().snapshot().map(|s| s.generation().as_u64())));
        for _ in 0..reqwest_tasks {
            let (client, counters, stop, url) = (client.clone(), Arc::clone(&counters), Arc::clone(&stop), url.clone());
            let pace = settings.pace;
            tasks.push(runtime.spawn(async move { reqwest_loop(&client, &url, &counters, &stop, pace).await }));
        }
    }

    let generation = || sessions.iter().map(|s| s()).min().flatten();
    monitor(&settings.control, &settings.adapter, &counters, &stop, &generation);
    for thread in threads {
        thread.join().map_err(|_| "a ureq thread panicked")?;
    }
    for task in tasks {
        runtime.block_on(task).map_err(|e| format!("a reqwest task failed: {e}"))?;
    }
    let generation = generation();
    counters
        .write_status(&settings.control, &settings.adapter, true, generation)
        .map_err(|e| format!("status file: {e}"))?;
    println!("{}", counters.to_json(&settings.adapter, true, generation));
    Ok(())
}

/// The store every client of this process shares (each through its own [`Faulty`]).
fn open_store(settings: &Settings, config: &Config) -> Result<Arc<dyn SessionStore>, String> {
    if settings.store.starts_with("redis://") || settings.store.starts_with("rediss://") {
        let store = auth_redis::RedisStore::builder(&settings.store)
            .prefix(settings.prefix.as_str())
            .lease(settings.lease)
            .timeout(settings.store_timeout)
            .build(config)
            .map_err(|e| format!("redis store: {e}"))?;
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(FileStore::new(&settings.store)))
    }
}

/// Writes the status file every 100 ms until `stop` appears in the control directory.
fn monitor(
    control: &Path,
    adapter: &str,
    counters: &Counters,
    stop: &AtomicBool,
    generation: &dyn Fn() -> Option<u64>,
) {
    loop {
        if let Err(error) = counters.write_status(control, adapter, false, generation()) {
            eprintln!("fleet-worker {}: status file: {error}", std::process::id());
        }
        if control.join("stop").exists() {
            stop.store(true, Ordering::SeqCst);
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// After a failed request, a thread pauses this long before the next (a store that is down
/// fails at once: no busy loop).
const AFTER_ERROR: Duration = Duration::from_millis(20);

fn ureq_loop(client: &auth_ureq::Client, url: &str, counters: &Counters, stop: &AtomicBool, pace: Duration) {
    while !stop.load(Ordering::SeqCst) {
        let request = match http::Request::get(url).body(()) {
            Ok(request) => request,
            Err(_) => return counters.add("error.request"),
        };
        let store_down = counters.store_down();
        match client.send(request) {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.into_body().read_to_vec();
                count_status(counters, status, store_down);
            }
            Err(error) => {
                count_error(counters, &error, client.session().token_state());
                std::thread::sleep(AFTER_ERROR);
            }
        }
        std::thread::sleep(pace);
    }
}

async fn reqwest_loop(
    client: &auth_reqwest::Client,
    url: &str,
    counters: &Counters,
    stop: &AtomicBool,
    pace: Duration,
) {
    while !stop.load(Ordering::SeqCst) {
        let request = match client.http_client().get(url).build() {
            Ok(request) => request,
            Err(_) => return counters.add("error.request"),
        };
        let store_down = counters.store_down();
        match client.execute(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                count_status(counters, status, store_down);
            }
            Err(error) => {
                count_error(counters, &error, client.session().token_state());
                tokio::time::sleep(AFTER_ERROR).await;
            }
        }
        tokio::time::sleep(pace).await;
    }
}

/// Counts a response; a 200 to a request sent once the process's last store call had found
/// the store unavailable also counts as `served.store_down` (served with the token in memory).
fn count_status(counters: &Counters, status: u16, store_down: bool) {
    counters.add_all(["requests", &format!("status.{status}")]);
    if store_down && status == 200 {
        counters.add("served.store_down");
    }
}

/// Counts a caller's error. A store error while the token in memory is still in service
/// (`token`, read after the error: a token only ages) also counts as
/// `error.store.<kind>.token_valid`: the caller could have been served without the store.
fn count_error<T: std::error::Error + 'static>(
    counters: &Counters,
    error: &auth_driver::Error<T>,
    token: Option<TokenState>,
) {
    counters.add("requests");
    let key = error_key(error);
    if matches!(error, auth_driver::Error::Store(_)) && matches!(token, Some(TokenState::Fresh | TokenState::Stale)) {
        counters.add(format!("{key}.token_valid"));
    }
    counters.add_with_sample(key, || error.to_string());
}

/// `error.<kind>` for a client error: its variant, and the store error's kind.
fn error_key<T>(error: &auth_driver::Error<T>) -> String {
    match error {
        auth_driver::Error::Transport(_) => "error.transport".to_owned(),
        auth_driver::Error::Auth(auth) => format!("error.auth.{}", variant_name(&format!("{auth:?}"))),
        auth_driver::Error::Store(store) => format!("error.store.{}", store.kind()),
        auth_driver::Error::Config(_) => "error.config".to_owned(),
        auth_driver::Error::Restore(_) => "error.restore".to_owned(),
        _ => "error.other".to_owned(),
    }
}
