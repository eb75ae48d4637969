//! The fenced write: a holder that was overtaken writes nothing.

use auth_store::{SessionStore, StoreError};

use crate::support::*;

#[test]
fn a_host_loads_what_another_saved() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let guard = a.lock(LEASE).unwrap();
    assert_eq!(a.load().unwrap(), None);
    a.save(&snapshot(1, "tok-1")).unwrap();
    drop(guard);
    assert_eq!(b.load().unwrap(), Some(snapshot(1, "tok-1")));
}

#[test]
fn every_save_under_one_lease_goes_through_and_bumps_the_version() {
    let redis = server();
    let store = host(&redis);
    let guard = store.lock(LEASE).unwrap();
    store.load().unwrap();
    store.save(&spent(1, "tok-1")).unwrap();
    store.save(&snapshot(2, "tok-2")).unwrap();
    drop(guard);
    let version: u64 = redis::cmd("HGET").arg(store.session_key()).arg("version").query(&mut raw(&redis)).unwrap();
    assert_eq!(version, 2);
    assert_eq!(store.load().unwrap(), Some(snapshot(2, "tok-2")));
}

#[test]
fn a_stale_writer_is_refused_even_when_the_lock_key_is_gone() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let a_guard = a.lock(LEASE).unwrap();
    assert_eq!(a.load().unwrap(), None);
    // A's lock key vanishes (a failover lost it); B takes the lease, writes, and leaves.
    let _: () = redis::cmd("DEL").arg(a.lock_key()).query(&mut raw(&redis)).unwrap();
    let b_guard = b.lock(LEASE).unwrap();
    assert_eq!(b.load().unwrap(), None);
    b.save(&snapshot(1, "tok-b")).unwrap();
    drop(b_guard);
    assert_eq!(get(&redis, a.lock_key()), None, "no lock key at all");

    let refused = a.save(&spent(0, "tok-a")).unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
    assert!(refused.to_string().contains("refused (fencing)"), "{refused}");
    drop(a_guard);
    assert_eq!(b.load().unwrap(), Some(snapshot(1, "tok-b")), "B's write stands");
}

#[test]
fn a_write_while_another_holds_the_lock_is_refused() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let a_guard = a.lock(LEASE).unwrap();
    a.load().unwrap();
    // The version still matches, but the lock is B's now: the second guard refuses.
    let _: () = redis::cmd("DEL").arg(a.lock_key()).query(&mut raw(&redis)).unwrap();
    let _b_guard = b.lock(LEASE).unwrap();
    assert!(matches!(a.save(&spent(1, "tok-a")), Err(StoreError::Fenced { .. })));
    drop(a_guard);
    assert_eq!(b.load().unwrap(), None);
}

#[test]
fn a_save_without_a_lease_or_before_a_load_is_refused() {
    let redis = server();
    let store = host(&redis);
    assert!(matches!(store.save(&snapshot(1, "x")), Err(StoreError::Fenced { .. })), "no lease");
    let guard = store.lock(LEASE).unwrap();
    assert!(matches!(store.save(&snapshot(1, "x")), Err(StoreError::Fenced { .. })), "nothing loaded");
    drop(guard);
    assert!(matches!(store.save(&snapshot(1, "x")), Err(StoreError::Fenced { .. })), "the lease is over");
    assert_eq!(store.load().unwrap(), None);
}

#[test]
fn a_load_outside_the_lease_does_not_move_the_holders_fence() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let twin = a.clone();
    let a_guard = a.lock(LEASE).unwrap();
    a.load().unwrap();
    let _: () = redis::cmd("DEL").arg(a.lock_key()).query(&mut raw(&redis)).unwrap();
    let b_guard = b.lock(LEASE).unwrap();
    b.load().unwrap();
    b.save(&snapshot(1, "tok-b")).unwrap();
    drop(b_guard);
    // Another client of A's process reads the session (as a client being built does).
    assert_eq!(twin.load().unwrap(), Some(snapshot(1, "tok-b")));
    assert!(matches!(a.save(&spent(0, "tok-a")), Err(StoreError::Fenced { .. })));
    drop(a_guard);
}

#[test]
fn clear_deletes_the_session_and_a_holder_then_cannot_write_over_the_logout() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let guard = a.lock(LEASE).unwrap();
    a.load().unwrap();
    a.save(&snapshot(1, "tok-1")).unwrap();
    b.clear().unwrap();
    assert_eq!(b.load().unwrap(), None);
    assert!(matches!(a.save(&snapshot(2, "tok-2")), Err(StoreError::Fenced { .. })));
    drop(guard);
    assert_eq!(b.load().unwrap(), None);
    b.clear().unwrap();
}
