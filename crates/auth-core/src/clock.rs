//! Time as an input: the session never reads a clock, it is told the time.
//!
//! [`Clock`] keeps the latest `now` it was given so that time never moves backwards inside the
//! session (a late timer or a stepped wall clock cannot un-expire a token), and the helpers do
//! saturating arithmetic so that no input, however absurd, can make the session panic.

use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

/// The latest instant the session has been told about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    latest: OffsetDateTime,
    /// `latest` as Unix nanoseconds: comparing integers keeps the per-request path cheap.
    latest_nanos: i128,
}

impl Clock {
    pub(crate) fn new(now: OffsetDateTime) -> Self {
        Clock { latest: utc(now), latest_nanos: now.unix_timestamp_nanos() }
    }

    /// Records `now` and returns it, or the latest instant seen if `now` is earlier.
    pub(crate) fn observe(&mut self, now: OffsetDateTime) -> OffsetDateTime {
        let nanos = now.unix_timestamp_nanos();
        if nanos > self.latest_nanos {
            self.latest = utc(now);
            self.latest_nanos = nanos;
        }
        self.latest
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.latest
    }

    /// [`now`](Self::now) as Unix nanoseconds.
    pub(crate) fn now_nanos(&self) -> i128 {
        self.latest_nanos
    }
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
        let mut clock = Clock::new(t0);
        assert_eq!(clock.observe(later(t0, Duration::from_secs(10))), later(t0, Duration::from_secs(10)));
        assert_eq!(clock.observe(t0), later(t0, Duration::from_secs(10)));
    }

    #[test]
    fn arithmetic_saturates_instead_of_panicking() {
        let end = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(later(end, Duration::from_secs(1)), end);
        assert_eq!(later(end, Duration::MAX), end);
        let start = time::PrimitiveDateTime::MIN.assume_utc();
        assert_eq!(earlier(start, Duration::from_secs(1)), start);
        assert_eq!(shifted(start, time::Duration::MIN), start);
    }
}
