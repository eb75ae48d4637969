//! The clock a driver reads, injected so tests move time by hand.
//!
//! `auth-core` never reads a clock; its drivers (the adapters, test harnesses) do, through this
//! trait. A reading is an [`auth_core::Now`]: the **monotonic** clock the session's schedules
//! follow, and the **wall** clock that stamps what is persisted (SPEC.md §3a). Production uses
//! [`SystemClock`]; tests use [`ManualClock`] and advance it instead of sleeping, or step its
//! wall clock alone to play a clock stepped by NTP or a resumed VM.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use auth_core::Now;
use time::OffsetDateTime;

/// A source of the current time: both readings at once.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Now;
}

/// The operating system's clocks: [`Instant`] for the monotonic reading (expressed as the wall
/// clock at the first reading in this process plus the time elapsed since, so it reads like a
/// date), [`OffsetDateTime::now_utc`] for the wall clock.
///
/// The two are read one after the other, so their difference would wobble by microseconds from
/// one reading to the next, and every stamp derived from it with them. The wall reading is
/// therefore the monotonic one plus an offset that only changes when the real wall clock has
/// moved more than [`WALL_TOLERANCE`] away from it (a step, or drift piling up).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// How far the wall clock may drift from the monotonic clock plus the current offset before the
/// offset follows it.
pub const WALL_TOLERANCE: Duration = Duration::from_secs(1);

impl Clock for SystemClock {
    fn now(&self) -> Now {
        static ORIGIN: OnceLock<(Instant, OffsetDateTime)> = OnceLock::new();
        /// `wall - monotonic`, in nanoseconds, as last adopted.
        static OFFSET_NANOS: AtomicI64 = AtomicI64::new(0);
        let (instant, origin) = *ORIGIN.get_or_init(|| (Instant::now(), OffsetDateTime::now_utc()));
        let monotonic = time::Duration::try_from(instant.elapsed())
            .ok()
            .and_then(|elapsed| origin.checked_add(elapsed))
            .unwrap_or(origin);
        let wall = OffsetDateTime::now_utc();
        let mut offset = time::Duration::nanoseconds(OFFSET_NANOS.load(Ordering::Relaxed));
        let drift = (wall - monotonic) - offset;
        if drift.unsigned_abs() > WALL_TOLERANCE {
            offset = wall - monotonic;
            let nanos = i64::try_from(offset.whole_nanoseconds()).unwrap_or(if offset.is_negative() {
                i64::MIN
            } else {
                i64::MAX
            });
            OFFSET_NANOS.store(nanos, Ordering::Relaxed);
        }
        Now::new(monotonic, saturating_add(monotonic, offset))
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<Now>>,
}

impl ManualClock {
    /// A clock standing at `start` (both readings).
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock { now: Arc::new(Mutex::new(Now::from(start))) }
    }

    /// A clock standing at the current wall-clock time (so that tokens and server clocks
    /// agree at the start of a test).
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Lets time pass: moves both clocks forward by `by` (saturating at the end of time).
    pub fn advance(&self, by: Duration) {
        let step = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.update(|now| Now::new(saturating_add(now.monotonic(), step), saturating_add(now.wall(), step)));
    }

    /// Steps the wall clock alone forward by `by`, as NTP, a resumed VM or a user does; the
    /// monotonic clock does not move (saturating at the end of time).
    pub fn step_wall_forward(&self, by: Duration) {
        let step = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.update(|now| Now::new(now.monotonic(), saturating_add(now.wall(), step)));
    }

    /// Steps the wall clock alone back by `by`; the monotonic clock does not move (saturating
    /// at the start of time).
    pub fn step_wall_back(&self, by: Duration) {
        let step = time::Duration::try_from(by).map_or(time::Duration::MIN, |step| -step);
        self.update(|now| Now::new(now.monotonic(), saturating_add(now.wall(), step)));
    }

    /// Sets the wall clock alone to `to` (which may be earlier).
    pub fn set_wall(&self, to: OffsetDateTime) {
        self.update(|now| Now::new(now.monotonic(), to));
    }

    fn update(&self, change: impl FnOnce(Now) -> Now) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = change(*now);
    }
}

fn saturating_add(t: OffsetDateTime, d: time::Duration) -> OffsetDateTime {
    t.checked_add(d).unwrap_or(if d.is_negative() {
        time::PrimitiveDateTime::MIN.assume_utc()
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}

impl Clock for ManualClock {
    fn now(&self) -> Now {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let other = clock.clone();
        clock.advance(Duration::from_secs(90));
        let later = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(90);
        assert_eq!(other.now(), Now::from(later));
    }

    #[test]
    fn a_wall_step_leaves_the_monotonic_clock_alone() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let year = Duration::from_secs(365 * 86_400);
        clock.step_wall_back(year);
        assert_eq!(clock.now().monotonic(), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(clock.now().wall(), OffsetDateTime::UNIX_EPOCH - year);
        clock.step_wall_forward(2 * year);
        assert_eq!(clock.now().wall(), OffsetDateTime::UNIX_EPOCH + year);
        clock.advance(Duration::MAX);
        clock.step_wall_back(Duration::MAX);
        assert_eq!(clock.now().monotonic(), time::PrimitiveDateTime::MAX.assume_utc());
        assert_eq!(clock.now().wall(), time::PrimitiveDateTime::MIN.assume_utc());
    }

    #[test]
    fn the_system_clocks_keep_a_steady_offset_near_the_real_wall_clock() {
        let (a, b) = (SystemClock.now(), SystemClock.now());
        assert!(b.monotonic() >= a.monotonic());
        assert_eq!(a.wall() - a.monotonic(), b.wall() - b.monotonic(), "the offset does not wobble");
        let off = (OffsetDateTime::now_utc() - b.wall()).unsigned_abs();
        assert!(off <= WALL_TOLERANCE + Duration::from_millis(100), "{off:?}");
    }
}
