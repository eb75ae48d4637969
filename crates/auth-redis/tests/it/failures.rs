//! Redis down, slow or refusing us: bounded, clear errors that never show a secret; and back
//! in service without rebuilding the store.

use std::time::{Duration, Instant};

use auth_redis::testing::RedisServer;
use auth_redis::{RedisStore, SealKey};
use auth_store::{SessionStore, StoreError};

use crate::support::*;

const PASSWORD: &str = "pw-S3cret-xyz";
const TIMEOUT: Duration = Duration::from_millis(500);

fn with_password() -> RedisServer {
    RedisServer::start_with_password(PASSWORD).unwrap_or_else(|error| panic!("{error}"))
}

fn assert_no_secret(text: &str) {
    for secret in [PASSWORD, "wrong-pw", "tok-secret", "refresh-tok-secret"] {
        assert!(!text.contains(secret), "{secret} shows in: {text}");
    }
}

#[test]
fn the_store_names_its_redis_without_the_password() {
    let redis = with_password();
    let store = builder(&redis).prefix("app").seal_key(SealKey::from_bytes([0x5A; 32])).build(&config()).unwrap();
    let debug = format!("{store:?}");
    assert_no_secret(&debug);
    assert!(debug.contains(&format!("redis://:***@127.0.0.1:{}/", redis.port())), "{debug}");
    assert!(debug.contains("prefix: \"app\"") && debug.contains("sealed: true"), "{debug}");
    assert!(debug.contains(&store.session_key()["app:".len()..64 + 4]), "the namespace: {debug}");
    let builder_debug = format!("{:?}", RedisStore::builder(&redis.url()).seal_key(SealKey::from_bytes([0x5A; 32])));
    assert_no_secret(&builder_debug);
    assert!(!debug.contains("5a5a") && !debug.contains("90, 90"), "{debug}");
}

#[test]
fn the_right_password_works_and_a_wrong_one_is_a_clear_error_without_either() {
    let redis = with_password();
    let store = host(&redis);
    let guard = store.lock(LEASE).unwrap();
    store.load().unwrap();
    store.save(&snapshot(1, "tok-secret")).unwrap();
    drop(guard);

    let url = redis.url().replace(PASSWORD, "wrong-pw");
    let wrong = RedisStore::builder(&url).timeout(TIMEOUT).build(&config()).unwrap();
    let error = wrong.load().unwrap_err();
    let StoreError::Unavailable { store, operation, reason } = &error else { panic!("{error:?}") };
    assert_eq!(*operation, "load the session");
    assert!(store.contains(":***@"), "{store}");
    assert!(reason.contains("authentication failed"), "{reason}");
    assert_no_secret(&format!("{error} {error:?} {wrong:?}"));

    let none = RedisStore::builder(&format!("redis://127.0.0.1:{}/", redis.port())).build(&config()).unwrap();
    let error = none.lock(LEASE).unwrap_err();
    assert!(error.to_string().contains("NOAUTH"), "{error}");
    assert_no_secret(&format!("{error} {error:?}"));
}

#[test]
fn a_url_that_is_not_a_redis_url_is_refused_at_build_without_its_password() {
    let error = RedisStore::builder("http://:hunter2@host/").build(&config()).unwrap_err();
    let message = format!("{error} {error:?}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert!(message.contains("cannot use the Redis URL http://:***@host/"), "{message}");
    assert!(message.contains("the URL must be redis://"), "{message}");
}

#[test]
fn a_stopped_redis_is_unavailable_within_the_timeout_and_a_restarted_one_serves_again() {
    let mut redis = with_password();
    let store = builder(&redis).timeout(TIMEOUT).build(&config()).unwrap();
    let guard = store.lock(LEASE).unwrap();
    store.load().unwrap();
    store.save(&snapshot(1, "tok-secret")).unwrap();
    drop(guard);

    redis.stop();
    for (operation, outcome) in [
        ("lock the session", store.lock(LEASE).map(drop)),
        ("load the session", store.load().map(drop)),
        ("clear the session", store.clear()),
    ] {
        let started = Instant::now();
        let error = outcome.unwrap_err();
        assert!(started.elapsed() < TIMEOUT * 2, "{:?}", started.elapsed());
        let StoreError::Unavailable { operation: said, .. } = &error else { panic!("{error:?}") };
        assert_eq!(*said, operation);
        assert!(error.to_string().contains("tokens in memory keep serving"), "{error}");
        assert_no_secret(&format!("{error} {error:?}"));
    }

    redis.restart().unwrap();
    // The same store object, no rebuild: it reconnects, and the data survived.
    assert_eq!(store.load().unwrap(), Some(snapshot(1, "tok-secret")));
    let guard = store.lock(LEASE).unwrap();
    store.load().unwrap();
    store.save(&snapshot(2, "tok-2")).unwrap();
    drop(guard);
}

#[test]
fn a_redis_that_does_not_answer_is_unavailable_within_the_timeout() {
    let redis = server();
    let store = builder(&redis).timeout(TIMEOUT).build(&config()).unwrap();
    assert_eq!(store.load().unwrap(), None, "connected once: an idle connection waits in the pool");
    redis.pause().unwrap();
    let started = Instant::now();
    let pooled = store.load().unwrap_err();
    let fresh = store.lock(LEASE).map(drop).unwrap_err();
    let elapsed = started.elapsed();
    redis.resume().unwrap();
    assert!(elapsed >= TIMEOUT && elapsed < TIMEOUT * 4, "{elapsed:?}");
    for error in [pooled, fresh] {
        assert!(matches!(error, StoreError::Unavailable { .. }), "{error:?}");
        assert!(error.to_string().contains("did not answer within 500 ms"), "{error}");
    }
    assert_eq!(store.load().unwrap(), None, "back once Redis answers");
}
