//! The server's clock.
//!
//! Two separate ideas live here, because tests need to move them independently:
//!
//! - **validity time** ([`ServerInstant`]): real monotonic time since the emulator started plus
//!   whatever a test added with `advance_clock`. Tokens expire on this timeline, so a test can
//!   make a token expire without sleeping.
//! - **reported time**: the wall-clock timestamps the server writes into `tokenExpiration` and
//!   `refreshTokenExpiration`. They are validity time mapped onto the wall clock, shifted by the
//!   clock-offset knob. The offset only changes what the server *says*, never what it *does*
//!   (SPEC §3 "clock rule": clients must not trust these timestamps).

use std::time::{Duration, Instant, SystemTime};

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// RFC 3339 in UTC, whole seconds, written `+00:00` like the vendor's examples (SPEC §2).
const RFC3339_PLUS_ZERO: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");

/// A point on the server's validity timeline (time since start, plus advances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ServerInstant(Duration);

impl ServerInstant {
    /// This instant plus `d`, saturating instead of overflowing.
    pub(crate) fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d))
    }
}

/// The emulator's notion of "now".
#[derive(Debug)]
pub(crate) struct ServerClock {
    origin: Instant,
    origin_wall: SystemTime,
    advanced: Duration,
    offset_secs: i64,
}

impl ServerClock {
    /// A clock starting now, reporting times shifted by `offset_secs`.
    // The emulator plays the server: reading the real clock is its job.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn new(offset_secs: i64) -> Self {
        Self { origin: Instant::now(), origin_wall: SystemTime::now(), advanced: Duration::ZERO, offset_secs }
    }

    /// The current validity instant: real elapsed time plus all advances.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn now(&self) -> ServerInstant {
        ServerInstant(self.origin.elapsed().saturating_add(self.advanced))
    }

    /// Moves "now" forward by `by`.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.advanced = self.advanced.saturating_add(by);
    }

    /// How far the clock has been advanced in total.
    pub(crate) fn advanced(&self) -> Duration {
        self.advanced
    }

    /// Sets the reporting offset (signed seconds).
    pub(crate) fn set_offset(&mut self, secs: i64) {
        self.offset_secs = secs;
    }

    /// The reporting offset (signed seconds).
    pub(crate) fn offset(&self) -> i64 {
        self.offset_secs
    }

    /// The wall-clock time the server reports for `at`: advances and offset included.
    pub(crate) fn reported(&self, at: ServerInstant) -> OffsetDateTime {
        let base = OffsetDateTime::from(self.origin_wall).to_offset(UtcOffset::UTC);
        time::Duration::try_from(at.0)
            .ok()
            .and_then(|since_start| base.checked_add(since_start))
            .and_then(|t| t.checked_add(time::Duration::seconds(self.offset_secs)))
            .unwrap_or_else(|| {
                // Absurd knob values (years of offset) clamp instead of panicking.
                if self.offset_secs < 0 {
                    PrimitiveDateTime::MIN.assume_utc()
                } else {
                    PrimitiveDateTime::MAX.assume_utc()
                }
            })
    }

    /// [`reported`](Self::reported), formatted as the wire format `2018-04-01T21:39:12+00:00`.
    pub(crate) fn reported_rfc3339(&self, at: ServerInstant) -> String {
        self.reported(at).format(RFC3339_PLUS_ZERO).unwrap_or_else(|_| "9999-12-31T23:59:59+00:00".to_owned())
    }
}

/// The real wall clock, for journal timestamps.
#[allow(clippy::disallowed_methods)]
pub(crate) fn wall_now() -> SystemTime {
    SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_validity_time_and_reported_time_together() {
        let mut clock = ServerClock::new(0);
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() >= before.plus(Duration::from_secs(3600)));
        let delta = clock.reported(clock.now()) - clock.reported(before);
        assert!(delta >= time::Duration::seconds(3600));
    }

    #[test]
    fn offset_shifts_reported_time_only() {
        let mut clock = ServerClock::new(0);
        let at = clock.now();
        let plain = clock.reported(at);
        clock.set_offset(-90);
        assert_eq!(plain - clock.reported(at), time::Duration::seconds(90));
        assert!(clock.now() >= at);
    }

    #[test]
    fn rfc3339_uses_plus_zero_and_whole_seconds() {
        let clock = ServerClock::new(0);
        let text = clock.reported_rfc3339(clock.now());
        assert!(text.ends_with("+00:00"), "{text}");
        assert_eq!(text.len(), "2018-04-01T21:39:12+00:00".len(), "{text}");
    }

    #[test]
    fn absurd_offsets_clamp_instead_of_panicking() {
        let clock = ServerClock::new(i64::MAX);
        let text = clock.reported_rfc3339(clock.now());
        assert!(text.starts_with("9999-"), "{text}");
        let clock = ServerClock::new(i64::MIN);
        let _ = clock.reported_rfc3339(clock.now());
    }
}
