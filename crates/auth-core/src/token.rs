//! When a token is fresh, stale or expired (SPEC.md §3, "refresh policy").
//!
//! All instants are in the client's clock and anchored at the moment the login or refresh
//! request was *sent*: network latency can then only make our estimate earlier, never later.

use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::{earlier, later};
use crate::config::RefreshPolicy;

/// Where a token stands at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// In service; no refresh wanted yet.
    Fresh,
    /// Still attached to requests, while exactly one refresh runs.
    Stale,
    /// Past the hard cutoff: never attached again; callers wait for a new token.
    Expired,
}

/// The instants that govern one token's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) sent_at: OffsetDateTime,
    pub(crate) lifetime: Duration,
    /// `sent_at + lifetime`: our estimate of the server's expiry.
    pub(crate) expires_at: OffsetDateTime,
    /// From here on the token is stale.
    pub(crate) stale_at: OffsetDateTime,
    /// From here on the token is expired (never attached).
    pub(crate) cutoff_at: OffsetDateTime,
    /// `cutoff_at` as Unix nanoseconds, for the per-request check.
    pub(crate) cutoff_nanos: i128,
}

impl Schedule {
    /// Computes a token's schedule. `jitter_unit` is a uniform draw in `[0, 1)`, made once per
    /// token.
    pub(crate) fn new(policy: &RefreshPolicy, sent_at: OffsetDateTime, lifetime: Duration, jitter_unit: f64) -> Self {
        let expires_at = later(sent_at, lifetime);
        let half = lifetime / 2;
        let stale_margin = if lifetime <= policy.short_lifetime {
            half
        } else {
            policy.stale_margin_min.max(lifetime.mul_f64(policy.stale_margin_fraction))
        };
        let jitter = policy.jitter_max.min(lifetime.mul_f64(policy.jitter_fraction)).mul_f64(jitter_unit);
        // Never refresh more often than once per half-lifetime, whatever the margins say
        // (SPEC.md §3, "no refresh loops").
        let stale_at = earlier(expires_at, stale_margin.saturating_add(jitter)).max(later(sent_at, half));
        let cutoff_margin = policy.cutoff_margin_max.min(lifetime.mul_f64(policy.cutoff_margin_fraction));
        let cutoff_at = earlier(expires_at, cutoff_margin);
        Schedule {
            sent_at,
            lifetime,
            expires_at,
            stale_at: stale_at.min(cutoff_at),
            cutoff_at,
            cutoff_nanos: cutoff_at.unix_timestamp_nanos(),
        }
    }

    pub(crate) fn state(&self, now: OffsetDateTime) -> TokenState {
        if now >= self.cutoff_at {
            TokenState::Expired
        } else if now >= self.stale_at {
            TokenState::Stale
        } else {
            TokenState::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> OffsetDateTime {
        later(OffsetDateTime::UNIX_EPOCH, Duration::from_secs(secs))
    }

    fn schedule(lifetime: u64, jitter: f64) -> Schedule {
        Schedule::new(&RefreshPolicy::default(), at(0), Duration::from_secs(lifetime), jitter)
    }

    #[test]
    fn an_hour_token_is_stale_six_minutes_early_and_cut_off_ten_seconds_early() {
        let s = schedule(3600, 0.0);
        assert_eq!(s.stale_at, at(3600 - 360));
        assert_eq!(s.cutoff_at, at(3590));
        assert_eq!(s.state(at(3239)), TokenState::Fresh);
        assert_eq!(s.state(at(3240)), TokenState::Stale);
        assert_eq!(s.state(at(3590)), TokenState::Expired);
    }

    #[test]
    fn jitter_moves_staleness_earlier_by_at_most_thirty_seconds() {
        let s = schedule(3600, 0.999_999);
        assert!(s.stale_at > at(3240 - 30) && s.stale_at <= at(3240));
        // 5 % of a 200 s lifetime is 10 s: less than the 30 s cap.
        let s = schedule(200, 0.5);
        assert_eq!(s.stale_at, at(200 - 60 - 5));
    }

    #[test]
    fn short_tokens_turn_stale_at_half_life() {
        let s = schedule(120, 0.9);
        assert_eq!(s.stale_at, at(60));
        assert_eq!(s.cutoff_at, at(110));
        let s = schedule(10, 0.0);
        assert_eq!(s.stale_at, at(5));
        assert_eq!(s.cutoff_at, at(9));
    }

    #[test]
    fn never_stale_before_half_life() {
        // Just above the short threshold the 60 s margin plus jitter would pass half-life.
        let s = schedule(121, 0.99);
        assert!(s.stale_at >= later(at(0), Duration::from_millis(60_500)));
    }

    #[test]
    fn a_zero_lifetime_token_is_expired_at_once() {
        let s = schedule(0, 0.5);
        assert_eq!(s.state(at(0)), TokenState::Expired);
    }
}
