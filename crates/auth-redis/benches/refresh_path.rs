//! The store's part of a refresh, timed (run by hand: `cargo bench -p auth-redis --bench
//! refresh_path`; not run by CI).
//!
//! Each iteration is what a driver does with the store around one refresh: lock, load, save
//! (the spent state), save (the new pair), unlock. 2,000 iterations (after 100 to warm up)
//! against a `redis-server` on loopback (plain and sealed), and against a `FileStore` in a
//! temporary directory; prints p50, p99 and the maximum of each. The HTTP exchange itself is
//! not in it: this is the cost a shared store adds to each refresh (the hot path, an API
//! request with a fresh token, never calls the store).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use auth_core::{Config, Password, Snapshot};
use auth_redis::testing::RedisServer;
use auth_redis::{RedisStore, SealKey};
use auth_store::{FileStore, SessionStore};

const ITERATIONS: usize = 2_000;
const WARM_UP: usize = 100;

fn main() {
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().expect("config");
    let redis = RedisServer::start().unwrap_or_else(|error| panic!("{error}"));
    let plain = RedisStore::builder(&redis.url()).prefix("bench-plain").build(&config).expect("store");
    let sealed = RedisStore::builder(&redis.url())
        .prefix("bench-sealed")
        .seal_key(SealKey::from_bytes([9; 32]))
        .build(&config)
        .expect("store");
    let dir = temp_dir();
    let file = FileStore::new(dir.join("session.json"));

    println!("store part of the refresh path (lock, load, save, save, unlock), {ITERATIONS} iterations");
    println!("{:<32} {:>10} {:>10} {:>10}", "store", "p50", "p99", "max");
    report("Redis on loopback", &plain);
    report("Redis on loopback, sealed", &sealed);
    report("FileStore (temp dir)", &file);
    let _ = std::fs::remove_dir_all(dir);
}

fn report(name: &str, store: &dyn SessionStore) {
    let mut times = Vec::with_capacity(ITERATIONS);
    for i in 0..WARM_UP + ITERATIONS {
        let generation = i as u64 * 2;
        let started = Instant::now();
        let guard = store.lock(Duration::from_secs(5)).expect("lock");
        let _ = store.load().expect("load");
        store.save(&snapshot(generation + 1, false)).expect("save the spent state");
        store.save(&snapshot(generation + 2, true)).expect("save the new pair");
        drop(guard);
        if i >= WARM_UP {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!("{name:<32} {:>10} {:>10} {:>10}", micros(at(0.50)), micros(at(0.99)), micros(times[times.len() - 1]));
}

fn micros(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

fn snapshot(generation: u64, with_refresh: bool) -> Snapshot {
    let json = serde_json::json!({
        "version": 2, "origin": "https://api.teletracker.net:443", "scheme": "bearer", "username": "alice",
        "pinned_account_id": null, "token": format!("c04c7ff7-5fa1-48fb-aa2a-{generation:012}"),
        "generation": generation, "obtained_at": "2026-11-29T12:00:00Z", "lifetime_ms": 3_600_000,
        "refresh_token": with_refresh.then(|| format!("dff78899-ed3b-4965-8f44-{generation:012}")),
        "refresh_expires_at": with_refresh.then_some("2026-12-28T12:00:00Z"), "account_id": null,
    });
    serde_json::from_value(json).expect("snapshot")
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("auth-redis-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    #[cfg(unix)]
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).expect("private dir");
    dir
}
