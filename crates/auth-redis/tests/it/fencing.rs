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
    let lock: Option<String> = redis::cmd("GET").arg(a.lock_key()).query(&mut raw(&redis)).unwrap();
    assert_eq!(lock, None, "no lock key at all");

    let refused = a.save(&snapshot(1, "tok-a")).unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
    drop(a_guard);
    assert_eq!(b.load().unwrap(), Some(snapshot(1, "tok-b")), "B's write stands");
}
