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

use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    monotonic: OffsetDateTime,
    wall: OffsetDateTime,
}

impl Now {
    /// A reading of both clocks.
    pub fn new(monotonic: OffsetDateTime, wall: OffsetDateTime) -> Now {
        Now { monotonic, wall }
    }

    /// The monotonic reading.
    pub fn monotonic(&self) -> OffsetDateTime {
        self.monotonic
    }

    /// The wall-clock reading.
    pub fn wall(&self) -> OffsetDateTime {
        self.wall
    }
}

impl From<OffsetDateTime> for Now {
    /// Both clocks at `t`.
    fn from(t: OffsetDateTime) -> Now {
        Now { monotonic: t, wall: t }
    }
}

/// The latest monotonic instant the session has been told about, and how the wall clock
/// related to it then.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    latest: OffsetDateTime,
    /// `latest` as Unix nanoseconds: comparing integers keeps the per-request path cheap.
    latest_nanos: i128,
    /// The latest reading, whose `wall - monotonic` places wall-clock times on the monotonic
    /// timeline. Kept as read: the offset is worked out only when a stamp needs it, not on
    /// every call (the per-request path).
    reading: Now,
}

impl Timeline {
    pub(crate) fn new(now: Now) -> Self {
        Timeline { latest: utc(now.monotonic), latest_nanos: now.monotonic.unix_timestamp_nanos(), reading: now }
    }

    /// Records `now` and returns the monotonic instant to act on: `now`'s, or the latest one
    /// seen if `now`'s is earlier. The wall clock may go anywhere.
    pub(crate) fn observe(&mut self, now: Now) -> OffsetDateTime {
        let nanos = now.monotonic.unix_timestamp_nanos();
        if nanos > self.latest_nanos {
            self.latest = utc(now.monotonic);
            self.latest_nanos = nanos;
        }
        self.reading = now;
        self.latest
    }

    /// The latest monotonic instant.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.latest
    }

    /// [`now`](Self::now) as Unix nanoseconds.
    pub(crate) fn now_nanos(&self) -> i128 {
        self.latest_nanos
    }

    /// The wall-clock time of the monotonic instant `t`, by the latest reading.
    pub(crate) fn wall_time_of(&self, t: OffsetDateTime) -> OffsetDateTime {
        shifted(t, offset_of(self.reading))
    }

    /// The monotonic instant of the wall-clock time `t`, by the latest reading.
    pub(crate) fn monotonic_time_of(&self, t: OffsetDateTime) -> OffsetDateTime {
        shifted(t, -offset_of(self.reading))
    }
}

/// `wall - monotonic`. Cannot overflow: `time::Duration` spans far more than the distance
/// between any two representable dates.
fn offset_of(now: Now) -> time::Duration {
    now.wall - now.monotonic
}

/// Normalises to UTC (snapshots and logs are easier to read that way).
pub(crate) fn utc(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(UtcOffset::UTC).unwrap_or(t)
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
        assert_eq!(clock.observe(later(t0, Duration::from_secs(10)).into()), later(t0, Duration::from_secs(10)));
        assert_eq!(clock.observe(t0.into()), later(t0, Duration::from_secs(10)));
    }

    #[test]
    fn a_wall_clock_step_moves_no_schedule_but_moves_the_stamps() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let year = time::Duration::days(365);
        let mut clock = Timeline::new(t0.into());
        assert_eq!(clock.observe(Now::new(t0, t0 + year)), t0, "the monotonic clock did not move");
        assert_eq!(clock.wall_time_of(t0), t0 + year);
        assert_eq!(clock.monotonic_time_of(t0 + year), t0);
        assert_eq!(clock.observe(Now::new(t0, t0 - year)), t0);
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
        assert_eq!(clock.observe(Now::new(end, start)), end);
        assert_eq!(clock.monotonic_time_of(end), end);
    }
}
