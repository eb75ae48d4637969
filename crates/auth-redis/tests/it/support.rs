//! What every test needs: a Redis of its own, stores on it, snapshots, raw Redis access.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use auth_core::{Config, Password, Snapshot};
use auth_redis::testing::RedisServer;
use auth_redis::{RedisStore, RedisStoreBuilder};
use time::OffsetDateTime;

pub const LEASE: Duration = Duration::from_millis(1000);

pub fn config() -> Config {
    Config::bearer("https://api.teletracker.net", "alice", Password::new("alice-password")).build().unwrap()
}

pub fn server() -> RedisServer {
    RedisServer::start().unwrap_or_else(|error| panic!("{error}"))
}

pub fn builder(server: &RedisServer) -> RedisStoreBuilder {
    RedisStore::builder(&server.url()).lease(LEASE).timeout(Duration::from_millis(500))
}

/// A store, standing for one host.
pub fn host(server: &RedisServer) -> RedisStore {
    builder(server).build(&config()).unwrap()
}

/// A snapshot of alice's session with the given generation and token text; its refresh token
/// is `refresh-{token}` (none when `spent`), expiring in `refresh_days`.
pub fn snapshot(generation: u64, token: &str) -> Snapshot {
    snapshot_with(generation, token, Some(29))
}

pub fn spent(generation: u64, token: &str) -> Snapshot {
    snapshot_with(generation, token, None)
}

/// When the test snapshots were obtained: one instant per test process, so that two snapshots
/// made alike are equal.
static OBTAINED: LazyLock<OffsetDateTime> = LazyLock::new(OffsetDateTime::now_utc);

pub fn snapshot_with(generation: u64, token: &str, refresh_days: Option<i64>) -> Snapshot {
    let now = *OBTAINED;
    let rfc = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let json = serde_json::json!({
        "version": 2, "origin": "https://api.teletracker.net:443", "scheme": "bearer", "username": "alice",
        "pinned_account_id": null, "token": token, "generation": generation, "obtained_at": rfc(now),
        "lifetime_ms": 3_600_000,
        "refresh_token": refresh_days.map(|_| format!("refresh-{token}")),
        "refresh_expires_at": refresh_days.map(|days| rfc(now + time::Duration::days(days))),
        "account_id": null,
    });
    serde_json::from_value(json).unwrap()
}

/// A plain connection to the test's Redis, to look at (or tamper with) what the store wrote.
pub fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).unwrap().get_connection().unwrap()
}

/// The `warn` events of auth-redis seen so far in this test process, as (message, store);
/// pick a test's own by its Redis port. Installed as the global subscriber on first use (the
/// renewer runs on threads of its own).
pub fn warnings() -> Vec<(String, String)> {
    use std::sync::{Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    type Seen = Arc<Mutex<Vec<(String, String)>>>;
    static SEEN: OnceLock<Seen> = OnceLock::new();

    #[derive(Default)]
    struct Fields(std::collections::BTreeMap<&'static str, String>);
    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name(), value.to_owned());
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name(), format!("{value:?}"));
        }
    }
    struct Capture(Seen);
    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if *event.metadata().level() != tracing::Level::WARN {
                return;
            }
            let mut fields = Fields::default();
            event.record(&mut fields);
            let field = |name| fields.0.get(name).cloned().unwrap_or_default();
            self.0.lock().unwrap().push((field("message"), field("store")));
        }
    }
    let seen = SEEN.get_or_init(|| {
        let seen = Arc::default();
        let _ =
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture(Arc::clone(&seen))));
        seen
    });
    seen.lock().unwrap().clone()
}

/// Installs the capture of [`warnings`] before a test's events.
pub fn capture_warnings() {
    let _ = warnings();
}

/// The warnings about the store on `server` whose message starts with `message`.
pub fn warnings_about(server: &RedisServer, message: &str) -> usize {
    let port = format!(":{}", server.port());
    warnings().iter().filter(|(m, store)| m.starts_with(message) && store.contains(&port)).count()
}

/// Polls `condition` every 10 ms until it holds or `within` has passed.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The raw value of `key` (a string key), if any.
pub fn get(server: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(&mut raw(server)).unwrap()
}

/// The time to live of `key` in ms (-2: no key; -1: no expiry).
pub fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query(&mut raw(server)).unwrap()
}
