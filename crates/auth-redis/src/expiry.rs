//! When a stored session expires from Redis (`PEXPIREAT`): when its refresh token does.
//!
//! - An unspent refresh token with a known expiry: at that expiry (never sooner than
//!   [`KEEP_AT_LEAST`] from now, so that a write is never deleted by its own expiry when a clock
//!   or an estimate is behind).
//! - An unspent refresh token whose expiry the server did not give: [`KEEP_UNKNOWN`] from now
//!   (a bound, so an abandoned session does not stay forever).
//! - The spent state (no unspent refresh token: the refresh is under way, or its host died
//!   before the new pair arrived): when its bearer token expires, but never sooner than
//!   [`KEEP_UNKNOWN`] from now. The spent state tells every other host that the refresh token
//!   they may still hold in memory is spent (SPEC.md §3); if it expired with the bearer token
//!   (which is often already past when a refresh starts), a host that loads later would find
//!   nothing, keep its own copy of the spent token and present it again. It must outlive that
//!   refresh token, whose expiry the spent state no longer carries: refresh tokens live about
//!   29 days (SPEC.md §3), hence the bound.

use std::time::Duration;

use auth_core::Snapshot;
use time::OffsetDateTime;

/// The shortest time a written session is kept.
pub(crate) const KEEP_AT_LEAST: Duration = Duration::from_secs(60 * 60);
/// How long a session is kept when the expiry of the refresh token it holds (or held) is not
/// known: a little longer than the refresh tokens seen (about 29 days).
pub(crate) const KEEP_UNKNOWN: Duration = Duration::from_secs(31 * 24 * 60 * 60);

/// The instant (Unix time in ms) at which `snapshot`, written at `now`, expires from Redis.
pub(crate) fn expire_at_ms(snapshot: &Snapshot, now: OffsetDateTime) -> i64 {
    let at = match snapshot.refresh_expires_at() {
        Some(expiry) => expiry.max(later(now, KEEP_AT_LEAST)),
        None if snapshot.has_refresh_token() => later(now, KEEP_UNKNOWN),
        None => snapshot.expires_at().max(later(now, KEEP_UNKNOWN)),
    };
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn later(now: OffsetDateTime, by: Duration) -> OffsetDateTime {
    time::Duration::try_from(by).ok().and_then(|by| now.checked_add(by)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-29 12:00 UTC);

    fn snapshot(refresh: Option<&str>, refresh_expires_at: Option<&str>) -> Snapshot {
        let json = serde_json::json!({
            "version": 2, "origin": "https://api.teletracker.net:443", "scheme": "bearer", "username": "alice",
            "pinned_account_id": null, "token": "tok", "generation": 3, "obtained_at": "2026-11-29T11:30:00Z",
            "lifetime_ms": 3_600_000, "refresh_token": refresh, "refresh_expires_at": refresh_expires_at,
            "account_id": null,
        });
        serde_json::from_value(json).unwrap()
    }

    fn ms(at: OffsetDateTime) -> i64 {
        (at.unix_timestamp_nanos() / 1_000_000) as i64
    }

    #[test]
    fn a_session_expires_with_its_refresh_token() {
        let snapshot = snapshot(Some("r"), Some("2026-12-28T11:30:00Z"));
        assert_eq!(expire_at_ms(&snapshot, NOW), ms(datetime!(2026-12-28 11:30 UTC)));
    }

    #[test]
    fn a_refresh_token_already_past_is_kept_a_little_all_the_same() {
        let snapshot = snapshot(Some("r"), Some("2026-11-29T11:59:00Z"));
        assert_eq!(expire_at_ms(&snapshot, NOW), ms(NOW + time::Duration::hours(1)));
    }

    #[test]
    fn a_refresh_token_of_unknown_expiry_is_kept_for_the_bound() {
        assert_eq!(expire_at_ms(&snapshot(Some("r"), None), NOW), ms(NOW + time::Duration::days(31)));
    }

    #[test]
    fn the_spent_state_outlives_its_bearer_token() {
        // The bearer token expires at 12:30; the spent refresh token may live for weeks.
        let spent = snapshot(None, None);
        assert_eq!(expire_at_ms(&spent, NOW), ms(NOW + time::Duration::days(31)));
    }
}
