//! `--store redis://…` and `TELETRACKER_STORE`: a session kept in a real `redis-server` of the
//! test's own, shared by every ttauth run (on any host) that names it.

use auth_emulator::{Emulator, Endpoint};
use auth_redis::testing::RedisServer;
use auth_store::SessionStore;
use ttauth::Exit;

use crate::support::*;

fn redis() -> RedisServer {
    RedisServer::start().unwrap_or_else(|error| panic!("{error}"))
}

/// `ttauth <command> --base-url … --username alice` with the state directory in a temporary
/// directory of the test's own (so a session file would show up there).
fn alice(emu: &Emulator, command: &str, state_home: &std::path::Path) -> Ttauth {
    ttauth(&[command, "--base-url", &emu.url(), "--username", "alice"])
        .password(ALICE_PASSWORD)
        .var("XDG_STATE_HOME", state_home.to_str().unwrap())
}

/// What the Redis at `url` holds for alice's session on `emu`.
fn stored_in(url: &str, emu: &Emulator, prefix: &str) -> Option<auth_core::Snapshot> {
    let config = auth_core::Config::bearer_without_password(&emu.url(), "alice").build().unwrap();
    let store = auth_redis::RedisStore::builder(url).prefix(prefix).build(&config).unwrap();
    store.load().unwrap()
}

#[test]
fn token_twice_with_a_redis_store_logs_in_once() {
    let (emu, redis) = (Emulator::start(), redis());
    let home = temp_dir("redis-token-twice");
    let first = alice(&emu, "token", &home).args(&["--store", &redis.url()]).run();
    assert_eq!(first.exit, Exit::Success, "{}", first.stderr);
    let second = alice(&emu, "token", &home).args(&["--store", &redis.url()]).run();
    assert_eq!(second.exit, Exit::Success, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout, "the same token, from Redis");
    assert_eq!(emu.count(Endpoint::Login), 1);
    assert_eq!(emu.journal().len(), 1, "the second run sent nothing");

    let stored = stored_in(&redis.url(), &emu, "teletracker").expect("the session is in Redis");
    assert_eq!(format!("{}\n", stored_token(&stored)), first.stdout);
    assert!(!home.join("ttauth").exists(), "no session file was written");
}

#[test]
fn the_environment_names_the_store_when_no_flag_does() {
    let (emu, redis) = (Emulator::start(), redis());
    let home = temp_dir("redis-env");
    let token = |home: &std::path::Path| {
        alice(&emu, "token", home).var("TELETRACKER_STORE", &redis.url()).var("TELETRACKER_STORE_PREFIX", "fleet").run()
    };
    let first = token(&home);
    assert_eq!(first.exit, Exit::Success, "{}", first.stderr);
    // Another "host": another state directory, the same Redis.
    let other_home = temp_dir("redis-env-other-host");
    let second = token(&other_home);
    assert_eq!(second.exit, Exit::Success, "{}", second.stderr);
    assert_eq!(first.stdout, second.stdout);
    assert_eq!(emu.count(Endpoint::Login), 1);
    assert!(stored_in(&redis.url(), &emu, "fleet").is_some(), "under the prefix given");
    assert!(stored_in(&redis.url(), &emu, "teletracker").is_none());

    // A flag wins over the environment.
    let file = home.join("flag.json");
    let flagged = alice(&emu, "token", &home)
        .var("TELETRACKER_STORE", &redis.url())
        .args(&["--state-file", file.to_str().unwrap()])
        .run();
    assert_eq!(flagged.exit, Exit::Success, "{}", flagged.stderr);
    assert!(file.exists(), "--state-file, not TELETRACKER_STORE");
    assert_eq!(emu.count(Endpoint::Login), 2);
}

#[test]
fn a_store_path_is_a_session_file() {
    let emu = Emulator::start();
    let home = temp_dir("redis-store-path");
    let file = home.join("shared.json");
    let out = alice(&emu, "token", &home).args(&["--store", file.to_str().unwrap()]).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    assert!(file.exists());
    let conflict = alice(&emu, "token", &home).args(&["--store", "x.json", "--state-file", "y.json"]).run();
    assert_eq!(conflict.exit, Exit::Usage, "{}", conflict.stderr);
    let not_a_store = alice(&emu, "token", &home).args(&["--store", "https://example.net"]).run();
    assert_eq!(not_a_store.exit, Exit::Usage, "{}", not_a_store.stderr);
    assert!(not_a_store.stderr.contains("not a https:// URL"), "{}", not_a_store.stderr);
}

#[test]
fn status_request_and_logout_use_the_redis_store() {
    let (emu, redis) = (Emulator::start(), redis());
    let home = temp_dir("redis-status-logout");
    let store = ["--store", &redis.url()];
    let request = alice(&emu, "request", &home).args(&store).arg(CALL_DATA).run();
    assert_eq!(request.exit, Exit::Success, "{}", request.stderr);

    let status = alice(&emu, "status", &home).args(&store).run();
    assert_eq!(status.exit, Exit::Success, "{}", status.stderr);
    let expected = format!("stored in redis://127.0.0.1:{}/ key teletracker:", redis.port());
    assert!(status.stdout.contains(&expected), "{}", status.stdout);
    let json = alice(&emu, "status", &home).args(&store).arg("--json").run();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["state_file"], serde_json::Value::Null);
    assert!(json["store"].as_str().unwrap().ends_with(":session"), "{json}");

    let all = alice(&emu, "logout", &home).var("TELETRACKER_STORE", &redis.url()).arg("--all").run();
    assert_eq!(all.exit, Exit::Usage, "{}", all.stderr);
    assert!(all.stderr.contains("drop --all"), "{}", all.stderr);
    let logout = alice(&emu, "logout", &home).args(&store).run();
    assert_eq!(logout.exit, Exit::Success, "{}", logout.stderr);
    assert!(logout.stdout.starts_with("removed the session at redis://"), "{}", logout.stdout);
    assert!(stored_in(&redis.url(), &emu, "teletracker").is_none());
    let again = alice(&emu, "logout", &home).args(&store).run();
    assert!(again.stdout.starts_with("nothing to remove"), "{}", again.stdout);

    let token = alice(&emu, "token", &home).args(&store).run();
    assert_eq!(token.exit, Exit::Success, "{}", token.stderr);
    assert_eq!(emu.count(Endpoint::Login), 2, "logged out: a new login");
}

#[test]
fn a_sealed_store_keeps_no_readable_token_in_redis() {
    let (emu, redis) = (Emulator::start(), redis());
    let home = temp_dir("redis-sealed");
    let key = "Vx1bwzcZ3rXoQfxH4t6bJ3x1Qm7q1UO6YJ1pQ8c0B9s=";
    let out = alice(&emu, "token", &home).args(&["--store", &redis.url()]).var("TELETRACKER_STORE_KEY", key).run();
    assert_eq!(out.exit, Exit::Success, "{}", out.stderr);
    let token = out.stdout.trim();
    let mut raw = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("teletracker:*:session").query(&mut raw).unwrap();
    let value: Vec<u8> = redis::cmd("HGET").arg(&keys[0]).arg("value").query(&mut raw).unwrap();
    assert!(!String::from_utf8_lossy(&value).contains(token), "the token is readable in Redis");

    let unsealed = alice(&emu, "status", &home).args(&["--store", &redis.url()]).run();
    assert_eq!(unsealed.exit, Exit::Failure, "{}", unsealed.stdout);
    assert!(unsealed.stdout.contains("this store has no seal key"), "{}", unsealed.stdout);
    let bad_key =
        alice(&emu, "token", &home).args(&["--store", &redis.url()]).var("TELETRACKER_STORE_KEY", "short").run();
    assert_eq!(bad_key.exit, Exit::Usage, "{}", bad_key.stderr);
    assert!(bad_key.stderr.contains("TELETRACKER_STORE_KEY"), "{}", bad_key.stderr);
    assert!(!bad_key.stderr.contains("short"), "{}", bad_key.stderr);
}

#[test]
fn a_redis_password_never_shows_even_when_redis_is_down() {
    let emu = Emulator::start();
    let mut redis = RedisServer::start_with_password("redis-pw-Z9").unwrap_or_else(|e| panic!("{e}"));
    let home = temp_dir("redis-password");
    let ok = alice(&emu, "token", &home).var("TELETRACKER_STORE", &redis.url()).arg("-vv").run();
    assert_eq!(ok.exit, Exit::Success, "{}", ok.stderr);
    assert!(!ok.stderr.contains("redis-pw-Z9"), "{}", ok.stderr);

    redis.stop();
    let down =
        alice(&emu, "token", &home).var("TELETRACKER_STORE", &redis.url()).args(&["-vv", "--timeout", "2"]).run();
    assert_ne!(down.exit, Exit::Success);
    assert!(down.stderr.contains("cannot load the session"), "{}", down.stderr);
    assert!(down.stderr.contains(":***@127.0.0.1"), "{}", down.stderr);
    assert!(!down.stderr.contains("redis-pw-Z9") && !down.stdout.contains("redis-pw-Z9"), "{}", down.stderr);
}

fn stored_token(snapshot: &auth_core::Snapshot) -> String {
    // The snapshot's JSON is the only public way to its token text.
    serde_json::to_value(snapshot).unwrap()["token"].as_str().unwrap().to_owned()
}
