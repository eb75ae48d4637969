//! The lease: exclusion, its bound, renewal, compare-and-delete, and a dead holder.

use std::time::{Duration, Instant};

use auth_store::{SessionStore, StoreError};

use crate::support::*;

#[test]
fn a_second_host_waits_for_the_lease_and_is_busy_after_its_wait() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let held = a.lock(LEASE).unwrap();
    let started = Instant::now();
    let busy = b.lock(Duration::from_millis(300)).unwrap_err();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(2), "{waited:?}");
    assert!(matches!(busy, StoreError::Busy { waited, .. } if waited == Duration::from_millis(300)), "{busy:?}");
    let message = busy.to_string();
    assert!(message.contains(a.lock_key()) && message.contains(&redis.url()[..16]), "{message}");

    drop(held);
    assert!(b.lock(Duration::from_secs(2)).is_ok(), "free once released");
}

#[test]
fn a_waiting_host_takes_the_lease_as_soon_as_it_is_released() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let held = a.lock(LEASE).unwrap();
    let waiter = std::thread::spawn(move || b.lock(Duration::from_secs(10)).map(|_| Instant::now()));
    assert!(eventually(Duration::from_secs(2), || get(&redis, a.lock_key()).is_some()));
    let released = Instant::now();
    drop(held);
    let taken = waiter.join().unwrap().unwrap();
    // Long before the lease (1 s) could have expired: it was released, not left to expire.
    assert!(taken.duration_since(released) < Duration::from_millis(500), "{:?}", taken.duration_since(released));
}

#[test]
fn clients_sharing_one_store_object_take_turns() {
    let redis = server();
    let store = host(&redis);
    let twin = store.clone();
    let held = store.lock(LEASE).unwrap();
    assert!(matches!(twin.lock(Duration::from_millis(100)), Err(StoreError::Busy { .. })));
    drop(held);
    assert!(twin.lock(Duration::ZERO).is_ok(), "the release is done when the guard is dropped");
}

#[test]
fn a_holder_whose_lease_was_taken_over_does_not_delete_the_new_holders_lock() {
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let a_guard = a.lock(LEASE).unwrap();
    // A's lease runs out (as if A was paused past it) and B takes the lock.
    let _: () = redis::cmd("DEL").arg(a.lock_key()).query(&mut raw(&redis)).unwrap();
    let _b_guard = b.lock(LEASE).unwrap();
    let b_token = get(&redis, b.lock_key()).expect("B's lock");

    drop(a_guard);
    assert_eq!(get(&redis, b.lock_key()), Some(b_token), "B's lock is still there");
    assert!(matches!(host(&redis).lock(Duration::ZERO), Err(StoreError::Busy { .. })));
}

#[test]
fn a_held_lease_is_renewed_past_its_lease_time() {
    let redis = server();
    let short = builder(&redis).lease(Duration::from_millis(300)).build(&config()).unwrap();
    let _held = short.lock(LEASE).unwrap();
    let token = get(&redis, short.lock_key()).expect("the lock");
    // For more than three lease times the key stays ours, its expiry always ahead.
    let until = Instant::now() + Duration::from_millis(1000);
    while Instant::now() < until {
        assert_eq!(get(&redis, short.lock_key()).as_ref(), Some(&token));
        assert!(pttl(&redis, short.lock_key()) > 0);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(matches!(host(&redis).lock(Duration::ZERO), Err(StoreError::Busy { .. })));
}

#[test]
fn a_dead_holder_blocks_the_others_for_one_lease_at_most() {
    let redis = server();
    let store = host(&redis);
    // A host that took the lease and died: its key expires, nobody renews it.
    let _: () =
        redis::cmd("SET").arg(store.lock_key()).arg("dead-host").arg("PX").arg(300).query(&mut raw(&redis)).unwrap();
    let started = Instant::now();
    let _guard = store.lock(Duration::from_secs(5)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn a_lost_lease_is_a_warning_and_the_next_save_is_fenced() {
    capture_warnings();
    let redis = server();
    let (a, b) = (host(&redis), host(&redis));
    let short = builder(&redis).lease(Duration::from_millis(300)).build(&config()).unwrap();
    let a_guard = short.lock(LEASE).unwrap();
    assert_eq!(short.load().unwrap(), None);
    // Another host takes the session over while A still holds its guard.
    let _: () = redis::cmd("DEL").arg(short.lock_key()).query(&mut raw(&redis)).unwrap();
    let b_guard = b.lock(LEASE).unwrap();
    b.load().unwrap();
    b.save(&snapshot(1, "tok-b")).unwrap();
    assert!(
        eventually(Duration::from_secs(2), || warnings_about(&redis, "session store lease lost while held") == 1),
        "the renewer noticed: {:?}",
        warnings()
    );

    let refused = short.save(&spent(0, "tok-a")).unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused:?}");
    assert_eq!(warnings_about(&redis, "session store write fenced"), 1);
    drop((a_guard, b_guard));
    assert_eq!(a.load().unwrap(), Some(snapshot(1, "tok-b")));
}
