//! The clock a driver reads, injected so tests move time by hand.
//!
//! `auth-core` never reads a clock; its drivers (the adapters, test harnesses) do, through this
//! trait. A reading is an [`auth_core::Now`]: the **monotonic** clock the session's schedules
//! follow, and the **wall** clock that stamps what is persisted (SPEC.md §3a). Production uses
//! [`SystemClock`]; tests use [`ManualClock`] and advance it instead of sleeping, or step its
//! wall clock alone to play a clock stepped by NTP or a resumed VM.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::Now;
use time::OffsetDateTime;

/// A source of the current time: both readings at once.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Now;
}

/// The operating system's clocks: [`Instant`] for the monotonic reading (expressed as the wall
/// clock at the first reading in this process plus the time elapsed since, so it reads like a
/// date), the system's wall clock for the other.
///
/// A reading costs one read of the monotonic clock and integer arithmetic: the wall reading is
/// the monotonic one plus an offset, and the wall clock itself is looked at only every
/// [`WALL_CHECK`] (of monotonic time). The offset follows it when it has moved more than
/// [`WALL_TOLERANCE`] away (a step, or drift piling up); so a step of the wall clock shows in the
/// readings within `WALL_CHECK`, and the difference of the two readings does not wobble by
/// microseconds from one reading to the next.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// How far the wall clock may drift from the monotonic clock plus the current offset before the
/// offset follows it.
pub const WALL_TOLERANCE: Duration = Duration::from_secs(1);

/// How often (in monotonic time) [`SystemClock`] looks at the wall clock.
pub const WALL_CHECK: Duration = Duration::from_millis(100);

/// The wall clock now, in nanoseconds since the Unix epoch (negative before it), saturating
/// at the ends of an `i64` (the years 1677 and 2262).
fn wall_nanos() -> i64 {
    let saturated = |nanos: u128| i64::try_from(nanos).unwrap_or(i64::MAX);
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => saturated(since.as_nanos()),
        Err(before) => saturated(before.duration().as_nanos()).saturating_neg(),
    }
}

/// Looks at the wall clock: the offset to use from now on (`offset` unless the wall clock moved
/// more than [`WALL_TOLERANCE`] away from `monotonic + offset`), and when to look next.
#[cold]
fn check_wall(elapsed: u64, monotonic: i64, offset: i64) -> i64 {
    let check = u64::try_from(WALL_CHECK.as_nanos()).unwrap_or(u64::MAX);
    NEXT_CHECK.store(elapsed.saturating_add(check), Ordering::Relaxed);
    let adopted = wall_nanos().saturating_sub(monotonic);
    let tolerance = u64::try_from(WALL_TOLERANCE.as_nanos()).unwrap_or(u64::MAX);
    if adopted.abs_diff(offset) <= tolerance {
        return offset;
    }
    OFFSET_NANOS.store(adopted, Ordering::Relaxed);
    adopted
}

/// `wall - monotonic` of [`SystemClock`], in nanoseconds, as last adopted.
static OFFSET_NANOS: AtomicI64 = AtomicI64::new(0);
/// When (monotonic nanoseconds since the first reading) [`SystemClock`] looks at the wall clock
/// next.
static NEXT_CHECK: AtomicU64 = AtomicU64::new(0);

impl Clock for SystemClock {
    fn now(&self) -> Now {
        /// The first reading: the instant, and the wall clock then.
        static ORIGIN: OnceLock<(Instant, i64)> = OnceLock::new();
        let (instant, origin) = *ORIGIN.get_or_init(|| (Instant::now(), wall_nanos()));
        let elapsed = u64::try_from(instant.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let monotonic = origin.saturating_add_unsigned(elapsed);
        let mut offset = OFFSET_NANOS.load(Ordering::Relaxed);
        if elapsed >= NEXT_CHECK.load(Ordering::Relaxed) {
            offset = check_wall(elapsed, monotonic, offset);
        }
        Now::from_offset_nanos(monotonic, offset)
    }
}

/// A clock that only moves when told to. Clones share the same time, and the count of their
/// readings ([`readings`](Self::readings)).
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<Now>>,
    readings: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `start` (both readings).
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock { now: Arc::new(Mutex::new(Now::from(start))), readings: Arc::default() }
    }

    /// How many times this clock and its clones have been read ([`Clock::now`]): a test's way
    /// to check how often a client looks at the time.
    pub fn readings(&self) -> u64 {
        self.readings.load(Ordering::SeqCst)
    }

    /// A clock standing at the current wall-clock time (so that tokens and server clocks
    /// agree at the start of a test).
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Lets time pass: moves both clocks forward by `by` (saturating, as every [`Now`] does).
    pub fn advance(&self, by: Duration) {
        let step = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.update(|now| Now::new(saturating_add(now.monotonic(), step), saturating_add(now.wall(), step)));
    }

    /// Steps the wall clock alone forward by `by`, as NTP, a resumed VM or a user does; the
    /// monotonic clock does not move (saturating, as every [`Now`] does).
    pub fn step_wall_forward(&self, by: Duration) {
        let step = time::Duration::try_from(by).unwrap_or(time::Duration::MAX);
        self.update(|now| Now::new(now.monotonic(), saturating_add(now.wall(), step)));
    }

    /// Steps the wall clock alone back by `by`; the monotonic clock does not move (saturating,
    /// as every [`Now`] does).
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
        self.readings.fetch_add(1, Ordering::SeqCst);
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
        assert_eq!((clock.readings(), other.readings()), (1, 1), "one reading, counted for both");
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
        // Readings saturate at the ends of the session's span (the years 1677 to 2262), and the
        // wall clock's offset from the monotonic one at 292 years either way.
        clock.advance(Duration::MAX);
        assert_eq!(clock.now().monotonic().year(), 2262);
        clock.step_wall_back(Duration::MAX);
        assert_eq!(clock.now().monotonic().year(), 2262);
        assert_eq!(clock.now().wall_nanos() - clock.now().monotonic_nanos(), i64::MIN);
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
