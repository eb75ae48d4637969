//! Many threads, one session: exactly one refresh across an expiry.

use std::sync::Barrier;
use std::time::Duration;

use auth_emulator::{Emulator, Endpoint};
use http::StatusCode;

use crate::support::*;

const THREADS: usize = 32;

/// Logs in, moves both clocks by `by`, then lets 32 threads send at once. The refresh is
/// slowed down so that the threads really overlap it.
fn thirty_two_threads_after(by: Duration) -> Scenario {
    let s = Scenario::with(
        Emulator::builder()
            .token_lifetime(LIFETIME)
            .endpoint_latency(Endpoint::Refresh, Duration::from_millis(150))
            .start(),
    );
    let client = s.client(s.alice());
    assert_eq!(client.send(s.get(CALL_DATA)).unwrap().status(), StatusCode::OK);
    s.advance(by);

    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let client = client.clone();
                let (s, barrier) = (&s, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    client.send(s.get(CALL_DATA)).map(|r| r.status())
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap().unwrap(), StatusCode::OK);
        }
    });
    assert_eq!(s.count(Endpoint::Refresh), 1, "exactly one refresh");
    assert_eq!(s.count(Endpoint::Login), 1);
    assert_eq!(s.emu.max_concurrent_auth(), 1);
    assert_eq!(s.emu.consumed_refresh_token_reuses(), 0);
    assert_eq!(client.session().snapshot().unwrap().generation().as_u64(), 2);
    s
}

#[test]
fn thirty_two_threads_with_a_stale_token_make_exactly_one_refresh_and_never_wait() {
    let s = thirty_two_threads_after(TO_STALE);
    // Requests carried the stale token while the refresh ran; those the server rejected
    // because the refresh had already superseded their token were retried once with the new one.
    let api = s.api_entries();
    let with_stale = api[1..].iter().filter(|e| e.token_generation == Some(1)).count();
    assert!(with_stale >= 1, "the stale token stayed in service");
    let ok = api.iter().filter(|e| e.status == Some(200)).count();
    assert_eq!(ok, THREADS + 1);
}

#[test]
fn thirty_two_threads_past_the_cutoff_wait_for_one_refresh_and_all_succeed() {
    let s = thirty_two_threads_after(TO_EXPIRED);
    // Nobody used the expired token: every request after the refresh carried the new one.
    let api = s.api_entries();
    assert_eq!(api.len(), THREADS + 1);
    assert!(api[1..].iter().all(|e| e.token_generation == Some(2) && e.status == Some(200)));
}
