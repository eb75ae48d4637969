//! The lease: taking the lock, keeping it alive while it is held, and releasing it.
//!
//! A lease is a lock key holding a random 128-bit token with an expiry of one lease time. While
//! its [`StoreGuard`] lives, a renewer thread of its own (a plain `std` thread: it never runs
//! on, or blocks, an async runtime) extends it every third of the lease time, with a script
//! that extends it only while it still holds our token. If it does not, the lease was lost —
//! paused past its lease time, Redis restarted without it — and the renewer says so (a `warn`
//! event) and stops; the fenced write decides what that means for the next save. Dropping the
//! guard stops the renewer and deletes the lock only if it still holds our token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use auth_store::{StoreError, StoreGuard};

use crate::scripts::{LOCK, RELEASE, RENEW};
use crate::store::{Expected, HeldLease, Inner, locked};

/// The first pause between two attempts to take a held lock; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
/// The longest pause between two attempts (a waiter notices a release within about this).
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Numbers the leases of a process, so a guard only ever clears its own.
static NEXT_LEASE: AtomicU64 = AtomicU64::new(1);

/// Takes the lease of `inner`'s session, waiting at most `wait` for another holder (in this
/// process or on another host).
pub(crate) fn lock(inner: &Arc<Inner>, wait: Duration) -> Result<StoreGuard, StoreError> {
    // No deadline when `wait` does not fit after now: wait for as long as it takes.
    let deadline = Instant::now().checked_add(wait);
    if !inner.take_turn(deadline) {
        return Err(inner.busy(wait));
    }
    let turn = Turn(Arc::clone(inner));
    let token = random_token().map_err(|error| StoreError::Unavailable {
        store: inner.name.clone(),
        operation: "lock the session",
        reason: format!("no random lock token from the operating system: {error}"),
    })?;
    let lease_ms = millis(inner.lease);
    let mut pause = FIRST_PAUSE;
    let mut jitter = Jitter::from(&token);
    loop {
        let ours: i64 =
            inner.run("lock the session", |c| LOCK.key(&inner.keys.lock).arg(&token).arg(lease_ms).invoke(c))?;
        if ours == 1 {
            break;
        }
        let remaining = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if remaining.is_some_and(|remaining| remaining.is_zero()) {
            return Err(inner.busy(wait));
        }
        // Jittered, so that hosts waiting for one release do not all come back at once.
        let nap = jitter.within(pause);
        std::thread::sleep(remaining.map_or(nap, |remaining| nap.min(remaining)));
        pause = (pause * 2).min(MAX_PAUSE);
    }
    let id = NEXT_LEASE.fetch_add(1, Ordering::Relaxed);
    *locked(&inner.held) = Some(HeldLease { id, token: token.clone(), expected: Expected::NotLoaded });
    let lease = Lease { inner: Arc::clone(inner), id, token, renewer: Arc::default(), _turn: turn };
    if let Err(error) = lease.start_renewer() {
        // Dropping the lease releases the lock at once.
        return Err(StoreError::Unavailable {
            store: inner.name.clone(),
            operation: "lock the session",
            reason: format!("cannot start the thread that renews the lease: {error}"),
        });
    }
    Ok(StoreGuard::new(lease))
}

/// A held lease; dropping it releases the lock.
struct Lease {
    inner: Arc<Inner>,
    id: u64,
    token: String,
    renewer: Arc<Stop>,
    /// Dropped last: this process's next holder goes only once the release is done.
    _turn: Turn,
}

/// This store object's turn, ended on drop.
struct Turn(Arc<Inner>);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.end_turn();
    }
}

/// Tells the renewer to stop.
#[derive(Default)]
struct Stop {
    stopped: Mutex<bool>,
    woken: Condvar,
}

impl Lease {
    fn start_renewer(&self) -> std::io::Result<()> {
        let (inner, id, token, stop) =
            (Arc::clone(&self.inner), self.id, self.token.clone(), Arc::clone(&self.renewer));
        std::thread::Builder::new()
            .name("auth-redis lease".to_owned())
            .spawn(move || renew_until_stopped(&inner, id, &token, &stop))
            .map(drop)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *locked(&self.renewer.stopped) = true;
        self.renewer.woken.notify_all();
        {
            let mut held = locked(&self.inner.held);
            if held.as_ref().is_some_and(|held| held.id == self.id) {
                *held = None;
            }
        }
        let inner = &self.inner;
        let released =
            inner.run("release the lock", |c| RELEASE.key(&inner.keys.lock).arg(&self.token).invoke::<i64>(c));
        if let Err(error) = released {
            tracing::warn!(store = %inner.name, %error, "session store lock not released; it expires after the lease");
        }
    }
}

/// The renewer's loop: every third of the lease, extend it while it is ours.
fn renew_until_stopped(inner: &Inner, id: u64, token: &str, stop: &Stop) {
    let every = inner.lease / 3;
    let lease_ms = millis(inner.lease);
    let mut stopped = locked(&stop.stopped);
    loop {
        let deadline = Instant::now() + every;
        while !*stopped {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            stopped = stop.woken.wait_timeout(stopped, remaining).unwrap_or_else(|e| e.into_inner()).0;
        }
        if *stopped {
            return;
        }
        drop(stopped);
        let renewed =
            inner.run("renew the lease", |c| RENEW.key(&inner.keys.lock).arg(token).arg(lease_ms).invoke::<i64>(c));
        stopped = locked(&stop.stopped);
        match renewed {
            Ok(1) => {}
            // Released meanwhile (the guard was dropped): nothing was lost.
            _ if *stopped => return,
            Ok(_) => {
                let still_held = locked(&inner.held).as_ref().is_some_and(|held| held.id == id);
                if still_held {
                    tracing::warn!(
                        store = %inner.name,
                        lease_ms,
                        "session store lease lost while held (paused or slow past the lease, or Redis lost the lock \
                         key): another host may take over; this host's next write is fenced if it did"
                    );
                }
                return;
            }
            // Redis down or slow: try again at the next tick. Should the lease run out meanwhile,
            // the fenced write refuses what another host has overtaken.
            Err(error) => tracing::debug!(store = %inner.name, %error, "session store lease not renewed"),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// 128 random bits from the operating system, in hex.
fn random_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A small xorshift, seeded from the lock token: jitter needs no more.
struct Jitter(u64);

impl Jitter {
    fn from(token: &str) -> Jitter {
        let seed = token.bytes().fold(0x9E37_79B9_7F4A_7C15_u64, |acc, b| (acc ^ u64::from(b)).rotate_left(7));
        Jitter(seed | 1)
    }

    /// A duration between half of `at_most` and `at_most`.
    fn within(&mut self, at_most: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let half = at_most / 2;
        half + half.mul_f64((self.0 % 1000) as f64 / 1000.0)
    }
}
