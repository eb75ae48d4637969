//! What lands in Redis: when it expires, and what a reader of the data can see.

use auth_redis::SealKey;
use auth_store::{SessionStore, StoreError};

use crate::support::*;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn save_one(store: &auth_redis::RedisStore, snapshot: &auth_core::Snapshot) {
    let guard = store.lock(LEASE).unwrap();
    store.load().unwrap();
    store.save(snapshot).unwrap();
    drop(guard);
}

#[test]
fn the_session_expires_when_its_refresh_token_does() {
    let redis = server();
    let store = host(&redis);
    save_one(&store, &snapshot_with(1, "tok", Some(10)));
    let ttl = pttl(&redis, store.session_key());
    // Ten days from when the snapshot was made (this test's start), give or take the test.
    assert!((10 * DAY_MS - 60_000..=10 * DAY_MS).contains(&ttl), "{ttl}");
}

#[test]
fn the_spent_state_is_kept_as_long_as_a_spent_refresh_token_may_live() {
    let redis = server();
    let store = host(&redis);
    save_one(&store, &spent(1, "tok"));
    let ttl = pttl(&redis, store.session_key());
    assert!((31 * DAY_MS - 60_000..=31 * DAY_MS).contains(&ttl), "{ttl}");
}

#[test]
fn a_refresh_token_past_its_expiry_is_still_kept_for_an_hour() {
    let redis = server();
    let store = host(&redis);
    save_one(&store, &snapshot_with(1, "tok", Some(-1)));
    let ttl = pttl(&redis, store.session_key());
    assert!((3_600_000 - 60_000..=3_600_000).contains(&ttl), "{ttl}");
}

fn key(byte: u8) -> SealKey {
    SealKey::from_bytes([byte; 32])
}

fn sealed_host(redis: &auth_redis::testing::RedisServer, byte: u8) -> auth_redis::RedisStore {
    builder(redis).seal_key(key(byte)).build(&config()).unwrap()
}

#[test]
fn a_sealed_session_read_from_redis_shows_no_token() {
    let redis = server();
    let store = sealed_host(&redis, 1);
    save_one(&store, &snapshot(1, "tok-visible-1"));
    let raw_value: Vec<u8> = redis::cmd("HGET").arg(store.session_key()).arg("value").query(&mut raw(&redis)).unwrap();
    let text = String::from_utf8_lossy(&raw_value);
    assert!(!text.contains("tok-visible-1") && !text.contains("alice") && !text.contains("token"), "{text}");
    assert_eq!(sealed_host(&redis, 1).load().unwrap(), Some(snapshot(1, "tok-visible-1")));
}

#[test]
fn a_plain_session_is_json_a_reader_could_use() {
    // The contrast that makes the test above mean something.
    let redis = server();
    let store = host(&redis);
    save_one(&store, &snapshot(1, "tok-visible-1"));
    let raw_value: Vec<u8> = redis::cmd("HGET").arg(store.session_key()).arg("value").query(&mut raw(&redis)).unwrap();
    assert!(String::from_utf8_lossy(&raw_value).contains("tok-visible-1"));
}

#[test]
fn a_wrong_seal_key_is_a_clear_corrupt_error_that_shows_nothing() {
    let redis = server();
    save_one(&sealed_host(&redis, 1), &snapshot(1, "tok-secret-1"));
    let error = sealed_host(&redis, 2).load().unwrap_err();
    let StoreError::Corrupt { reason, .. } = &error else { panic!("{error:?}") };
    assert!(reason.contains("does not open with this seal key"), "{reason}");
    let message = format!("{error} {error:?}");
    assert!(!message.contains("tok-secret") && !message.contains("ttseal1"), "{message}");

    let unsealed = host(&redis).load().unwrap_err();
    assert!(unsealed.to_string().contains("this store has no seal key"), "{unsealed}");
}

#[test]
fn a_session_stored_in_the_clear_is_refused_by_a_sealing_host() {
    let redis = server();
    save_one(&host(&redis), &snapshot(1, "tok-1"));
    let error = sealed_host(&redis, 1).load().unwrap_err();
    assert!(error.to_string().contains("is not sealed, but this store has a seal key"), "{error}");
}

#[test]
fn a_host_with_another_seal_key_cannot_write_over_the_fleets_session() {
    let redis = server();
    save_one(&sealed_host(&redis, 1), &snapshot(1, "tok-1"));
    let stranger = sealed_host(&redis, 2);
    let guard = stranger.lock(LEASE).unwrap();
    assert!(matches!(stranger.load(), Err(StoreError::Corrupt { .. })));
    assert!(matches!(stranger.save(&snapshot(7, "tok-7")), Err(StoreError::Fenced { .. })));
    drop(guard);
    assert_eq!(sealed_host(&redis, 1).load().unwrap(), Some(snapshot(1, "tok-1")));
}

#[test]
fn a_session_that_is_not_json_is_corrupt_and_replaced_by_the_next_write() {
    let redis = server();
    let store = host(&redis);
    let _: () = redis::cmd("HSET")
        .arg(store.session_key())
        .arg("version")
        .arg(4)
        .arg("value")
        .arg("{\"token\": tok-secret")
        .query(&mut raw(&redis))
        .unwrap();
    let guard = store.lock(LEASE).unwrap();
    let error = store.load().unwrap_err();
    assert!(error.to_string().contains("not JSON (line 1, column"), "{error}");
    assert!(!error.to_string().contains("tok-secret"), "{error}");
    store.save(&snapshot(1, "tok-1")).unwrap();
    drop(guard);
    assert_eq!(store.load().unwrap(), Some(snapshot(1, "tok-1")));
}

#[test]
fn a_session_with_a_field_of_the_wrong_type_is_corrupt_and_never_quoted() {
    // Well-formed JSON whose value serde would quote in its message ("invalid type: string ...").
    let redis = server();
    let store = host(&redis);
    let stored = serde_json::to_value(snapshot(1, "tok-1")).unwrap();
    let mut fields = stored.as_object().unwrap().clone();
    let key = fields.keys().find(|k| fields[k.as_str()].is_number()).unwrap().clone();
    fields.insert(key, serde_json::Value::String("tok-secret-quoted".into()));
    let value = serde_json::to_string(&fields).unwrap();
    let _: () = redis::cmd("HSET")
        .arg(store.session_key())
        .arg("version")
        .arg(1)
        .arg("value")
        .arg(value)
        .query(&mut raw(&redis))
        .unwrap();
    let error = store.load().unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    let message = format!("{error} {error:?}");
    assert!(message.contains("a field has the wrong type"), "{message}");
    assert!(!message.contains("tok-secret-quoted"), "{message}");
}
