//! What every test needs: a Redis of its own, stores on it, snapshots, raw Redis access.

use std::sync::LazyLock;
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
