//! Time as an input: the session never reads a clock, it is told the time.
//!
//! A driver hands the session a [`Now`]: a reading of its **monotonic** clock, which every
//! schedule follows (refresh window, backoff, deadlines), and of its **wall** clock, which only
//! stamps what is persisted and judges a snapshot read from a store (SPEC.md §3a). A wall clock
//! stepped by NTP, a resumed VM or a user therefore never freezes a session nor pushes a retry
//! into the far future.
//!
//! [`Timeline`] keeps the latest monotonic instant it was given so that time never moves
//! backwards inside the session (a late timer cannot un-expire a token), and the offset between
//! the two clocks at the latest reading. The helpers do saturating arithmetic so that no input,
//! however absurd, can make the session panic.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

/// A reading of the driver's clocks, the `now` of every time-dependent call (SPEC.md §3a).
///
/// - **Monotonic**: a point on a timeline that never jumps. The session's schedules follow it.
///   Its origin is the driver's choice, fixed for the life of the session; the usual one is the
///   wall clock read once, when the driver starts, plus the time elapsed since on a monotonic
///   clock (`std::time::Instant`), so that it reads like a date in logs.
/// - **Wall**: the system's calendar time, which may jump either way. It stamps snapshots (a
///   restarted process only has the wall clock to judge them by) and errors' retry instants.
///
/// A plain [`OffsetDateTime`] converts into a `Now` whose two readings are equal: fine for tests
/// and for drivers whose clock does not jump, but a driver that reads
/// `OffsetDateTime::now_utc()` for both inherits every step of the wall clock.
///
/// Both readings are kept as integers, the monotonic one as Unix nanoseconds and the wall one as
/// its offset from it: a driver that reads its clocks as integers
/// ([`from_unix_nanos`](Self::from_unix_nanos)) hands them over without any calendar
/// arithmetic, and the session compares integers on the per-request path. They become dates
/// only when asked for ([`monotonic`](Self::monotonic), [`wall`](Self::wall)).
///
/// The integers are `i64` nanoseconds, which span the years 1677 to 2262 (as in `chrono`'s
/// `timestamp_nanos`): one machine word, so the per-request comparisons are one instruction
/// each. A reading outside that span saturates at its ends, and so does the wall reading's
/// offset from the monotonic one (292 years either way); a session never panics on either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Now {
    monotonic: i64,
    /// `wall - monotonic`, in nanoseconds.
    offset: i64,
}

impl Now {
    /// A reading of both clocks.
    pub fn new(monotonic: OffsetDateTime, wall: OffsetDateTime) -> Now {
        Now::from_unix_nanos(nanos_of(monotonic), nanos_of(wall))
    }

    /// A reading of both clocks, each in nanoseconds since the Unix epoch: the cheap way for a
    /// driver to hand over its readings.
    pub fn from_unix_nanos(monotonic: i64, wall: i64) -> Now {
        Now { monotonic, offset: wall.saturating_sub(monotonic) }
    }

    /// A reading as the monotonic clock, in nanoseconds since the Unix epoch, and the wall
    /// clock's offset from it (`wall - monotonic`, in nanoseconds): the cheapest way for a
    /// driver that keeps that offset (as `auth_driver::SystemClock` does) to hand a reading over.
    #[inline]
    pub fn from_offset_nanos(monotonic: i64, wall_offset: i64) -> Now {
        Now { monotonic, offset: wall_offset }
    }

    /// The monotonic reading.
    pub fn monotonic(&self) -> OffsetDateTime {
        from_unix_nanos(self.monotonic)
    }

    /// The wall-clock reading.
    pub fn wall(&self) -> OffsetDateTime {
        from_unix_nanos(self.wall_nanos())
    }

    /// The monotonic reading in nanoseconds since the Unix epoch.
    pub fn monotonic_nanos(&self) -> i64 {
        self.monotonic
    }

    /// The wall-clock reading in nanoseconds since the Unix epoch.
    pub fn wall_nanos(&self) -> i64 {
        self.monotonic.saturating_add(self.offset)
    }
}

impl fmt::Debug for Now {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Now").field("monotonic", &self.monotonic()).field("wall", &self.wall()).finish()
    }
}

impl From<OffsetDateTime> for Now {
    /// Both clocks at `t`.
    fn from(t: OffsetDateTime) -> Now {
        Now { monotonic: nanos_of(t), offset: 0 }
    }
}

/// The date `nanos` after the Unix epoch, in UTC.
pub(crate) fn from_unix_nanos(nanos: i64) -> OffsetDateTime {
    // Every `i64` of nanoseconds is a date an `OffsetDateTime` holds.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `t` in nanoseconds since the Unix epoch, saturating at the ends of an `i64` (the years 1677
/// and 2262).
pub(crate) fn nanos_of(t: OffsetDateTime) -> i64 {
    let nanos = t.unix_timestamp_nanos();
    i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX })
}

/// The latest monotonic instant the session has been told about, and how the wall clock
/// related to it then. Kept as integers: observing a reading is a comparison and a store or
/// two, and the dates are worked out only when something asks for them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    /// The latest monotonic instant, in Unix nanoseconds.
    latest: i64,
    /// `wall - monotonic` of the latest reading, which places wall-clock times on the
    /// monotonic timeline.
    offset: i64,
}

impl Timeline {
    pub(crate) fn new(now: Now) -> Self {
        Timeline { latest: now.monotonic, offset: now.offset }
    }

    /// Records `now` and returns the monotonic instant to act on, in Unix nanoseconds: `now`'s,
    /// or the latest one seen if `now`'s is earlier. The wall clock may go anywhere.
    #[inline]
    pub(crate) fn observe(&mut self, now: Now) -> i64 {
        if now.monotonic > self.latest {
            self.latest = now.monotonic;
        }
        self.offset = now.offset;
        self.latest
    }

    /// The latest monotonic instant.
    pub(crate) fn now(&self) -> OffsetDateTime {
        from_unix_nanos(self.latest)
    }

    /// [`now`](Self::now) as Unix nanoseconds.
    pub(crate) fn now_nanos(&self) -> i64 {
        self.latest
    }

    /// The wall-clock time of the monotonic instant `t`, by the latest reading.
    pub(crate) fn wall_time_of(&self, t: OffsetDateTime) -> OffsetDateTime {
        shifted(t, time::Duration::nanoseconds(self.offset))
    }

    /// The monotonic instant of the wall-clock time `t`, by the latest reading.
    pub(crate) fn monotonic_time_of(&self, t: OffsetDateTime) -> OffsetDateTime {
        shifted(t, -time::Duration::nanoseconds(self.offset))
    }
}

/// `t + d`, saturating at the end of representable time.
pub(crate) fn later(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d).ok().and_then(|d| t.checked_add(d)).unwrap_or_else(|| max_time(t))
}

/// `t - d`, saturating at the start of representable time.
pub(crate) fn earlier(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d).ok().and_then(|d| t.checked_sub(d)).unwrap_or_else(|| min_time(t))
}

/// `t + d` for a signed offset, saturating.
pub(crate) fn shifted(t: OffsetDateTime, d: time::Duration) -> OffsetDateTime {
    t.checked_add(d).unwrap_or_else(|| if d.is_negative() { min_time(t) } else { max_time(t) })
}

fn max_time(t: OffsetDateTime) -> OffsetDateTime {
    time::PrimitiveDateTime::MAX.assume_offset(t.offset())
}

fn min_time(t: OffsetDateTime) -> OffsetDateTime {
    time::PrimitiveDateTime::MIN.assume_offset(t.offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_never_moves_backwards() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut clock = Timeline::new(t0.into());
        clock.observe(later(t0, Duration::from_secs(10)).into());
        assert_eq!(clock.now(), later(t0, Duration::from_secs(10)));
        clock.observe(t0.into());
        assert_eq!(clock.now(), later(t0, Duration::from_secs(10)));
    }

    #[test]
    fn a_wall_clock_step_moves_no_schedule_but_moves_the_stamps() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let year = time::Duration::days(365);
        let mut clock = Timeline::new(t0.into());
        clock.observe(Now::new(t0, t0 + year));
        assert_eq!(clock.now(), t0, "the monotonic clock did not move");
        assert_eq!(clock.wall_time_of(t0), t0 + year);
        assert_eq!(clock.monotonic_time_of(t0 + year), t0);
        clock.observe(Now::new(t0, t0 - year));
        assert_eq!(clock.now(), t0);
        assert_eq!(clock.wall_time_of(t0), t0 - year);
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let end = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(later(end, Duration::from_secs(1)), end);
        assert_eq!(later(end, Duration::MAX), end);
        let start = time::PrimitiveDateTime::MIN.assume_utc();
        assert_eq!(earlier(start, Duration::from_secs(1)), start);
        assert_eq!(shifted(start, time::Duration::MIN), start);
        let mut clock = Timeline::new(Now::new(start, end));
        assert_eq!(clock.wall_time_of(end), end);
        clock.observe(Now::new(end, start));
        assert_eq!(clock.now(), from_unix_nanos(i64::MAX), "a reading saturates at the end of the span");
        assert_eq!(clock.monotonic_time_of(end), end);
    }

    #[test]
    fn readings_outside_the_span_saturate_at_its_ends() {
        let (start, end) = (time::PrimitiveDateTime::MIN.assume_utc(), time::PrimitiveDateTime::MAX.assume_utc());
        let last = from_unix_nanos(i64::MAX);
        assert_eq!(last.year(), 2262);
        let first = from_unix_nanos(i64::MIN);
        assert_eq!((Now::from(end).monotonic(), Now::from(end).wall()), (last, last));
        assert_eq!((Now::from(start).monotonic(), Now::from(start).wall()), (first, first));
        // The wall reading is kept as its offset from the monotonic one, which saturates too
        // (292 years either way): clocks that far apart read no further apart than that.
        let apart = Now::new(end, start);
        assert_eq!(apart.monotonic(), last);
        assert_eq!(apart.wall_nanos() - apart.monotonic_nanos(), i64::MIN);
        assert_eq!(nanos_of(start), i64::MIN);
        // Inside the span, nothing is lost.
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_789).unwrap();
        assert_eq!(from_unix_nanos(nanos_of(t)), t);
    }
}
