//! Backing off after failures (SPEC.md §3, "transient failures" and "no refresh loops").
//!
//! A failure that may pass (a timeout, a transport error, a 5xx, a 429, an answer that cannot
//! be used) keeps whatever token is in service and holds the next auth exchange back:
//! exponentially longer with each failure in a row, up to `backoff_max`, with equal jitter (half
//! fixed, half random) so that a fleet does not retry in lockstep. A server's `Retry-After` is
//! honoured, up to `retry_after_max`. Tokens that keep arriving already stale are a failure
//! too: after `max_unusable_tokens` of them in a row the session waits `backoff_max` instead of
//! refreshing in a loop. Success ends the backoff and the count of failures.
//!
//! While the backoff runs, callers get its error. The schedule follows the monotonic clock; the
//! error tells the wall-clock time of the retry (SPEC.md §3a).

use std::time::Duration;

use time::OffsetDateTime;

use crate::clock::{Timeline, later};
use crate::config::RefreshPolicy;
use crate::error::{AuthError, TransientCause};
use crate::rng::Rng;

/// How long the session holds back its auth exchanges, and why.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// The latest failure and the monotonic instant until which it holds exchanges back. Kept
    /// once that instant has passed, until a success [resets](Self::reset) it.
    current: Option<Pause>,
    failures_in_a_row: u32,
    /// Tokens in a row that arrived already stale (SPEC.md §3, no refresh loops).
    unusable_in_a_row: u32,
}

#[derive(Debug)]
struct Pause {
    error: AuthError,
    retry_at: OffsetDateTime,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff::default()
    }

    /// The error callers get at `now`, while the backoff runs. A getter.
    pub(crate) fn active_at(&self, now: OffsetDateTime) -> Option<&AuthError> {
        self.current.as_ref().filter(|p| p.retry_at > now).map(|p| &p.error)
    }

    /// When the latest backoff ends (or ended): the monotonic instant of the next attempt.
    pub(crate) fn retry_at(&self) -> Option<OffsetDateTime> {
        self.current.as_ref().map(|p| p.retry_at)
    }

    /// The latest failure's error, whether or not its backoff still runs.
    pub(crate) fn error(&self) -> Option<&AuthError> {
        self.current.as_ref().map(|p| &p.error)
    }

    /// How many failures in a row the current backoff follows: the number of the attempt that
    /// failed last.
    pub(crate) fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row
    }

    /// A success (tokens installed, an account switch done): no backoff, no failure in a row.
    /// The count of unusable tokens is [`token_arrived`](Self::token_arrived)'s to keep.
    pub(crate) fn reset(&mut self) {
        self.current = None;
        self.failures_in_a_row = 0;
    }

    /// A failure that may pass, at `now`: back off, exponentially with the failures in a row
    /// and with equal jitter, or for the server's `retry_after` (capped) if that is longer.
    pub(crate) fn fail(
        &mut self,
        cause: TransientCause,
        retry_after: Option<Duration>,
        now: OffsetDateTime,
        policy: &RefreshPolicy,
        rng: &mut Rng,
        clock: &Timeline,
    ) {
        self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        let delay = delay(self.failures_in_a_row, policy, rng.unit(), retry_after);
        let retry_at = later(now, delay);
        // The error tells the caller a wall-clock time; the schedule keeps the monotonic one.
        let error = AuthError::Unavailable { cause, retry_at: clock.wall_time_of(retry_at) };
        self.current = Some(Pause { error, retry_at });
    }

    /// A token was installed at `now`, `fresh` or already stale on arrival. Too many stale ones
    /// in a row back off for `backoff_max` (SPEC.md §3, no refresh loops), and the count starts
    /// over. Returns how many arrived stale in a row, this one included (0 if it is fresh).
    pub(crate) fn token_arrived(
        &mut self,
        fresh: bool,
        lifetime: Duration,
        now: OffsetDateTime,
        policy: &RefreshPolicy,
        clock: &Timeline,
    ) -> u32 {
        if fresh {
            self.unusable_in_a_row = 0;
            return 0;
        }
        self.unusable_in_a_row += 1;
        let count = self.unusable_in_a_row;
        if self.unusable_in_a_row >= policy.max_unusable_tokens {
            let retry_at = later(now, policy.backoff_max);
            let error = AuthError::UnusableTokenLifetime {
                count: self.unusable_in_a_row,
                lifetime_secs: lifetime.as_secs(),
                retry_at: clock.wall_time_of(retry_at),
            };
            self.unusable_in_a_row = 0;
            self.current = Some(Pause { error, retry_at });
        }
        count
    }
}

/// The delay after the `failures_in_a_row`-th failure (from 1): `backoff_initial` doubled per
/// failure up to `backoff_max`, of which half is fixed and half scaled by `unit` (a uniform draw
/// in `[0, 1)`); at least the server's `retry_after`, capped at `retry_after_max`.
fn delay(failures_in_a_row: u32, policy: &RefreshPolicy, unit: f64, retry_after: Option<Duration>) -> Duration {
    let exponent = failures_in_a_row.saturating_sub(1).min(16);
    let base = policy.backoff_initial.saturating_mul(1 << exponent).min(policy.backoff_max);
    // Equal jitter: half fixed, half random, so a fleet does not retry in lockstep.
    let delay = base / 2 + (base / 2).mul_f64(unit);
    match retry_after {
        Some(asked) => delay.max(asked.min(policy.retry_after_max)),
        None => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Now;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn fail(backoff: &mut Backoff, retry_after: Option<Duration>, rng: &mut Rng) -> Duration {
        let policy = RefreshPolicy::default();
        backoff.fail(TransientCause::Transport, retry_after, T0, &policy, rng, &Timeline::new(T0.into()));
        (backoff.retry_at().expect("a backoff") - T0).try_into().expect("in the future")
    }

    #[test]
    fn grows_exponentially_up_to_backoff_max() {
        let policy = RefreshPolicy::default(); // 1 s, doubling, at most 60 s
        let lowest: Vec<_> = (1..=9).map(|n| delay(n, &policy, 0.0, None)).collect();
        let halves = [1, 2, 4, 8, 16, 32, 60, 60, 60].map(|s| secs(s) / 2);
        assert_eq!(lowest, halves);
        assert_eq!(delay(u32::MAX, &policy, 0.0, None), secs(30), "no overflow, however many failures");
    }

    #[test]
    fn equal_jitter_keeps_half_the_delay_fixed() {
        let policy = RefreshPolicy::default();
        for n in 1..=8 {
            let base = policy.backoff_initial.saturating_mul(1 << (n - 1)).min(policy.backoff_max);
            assert_eq!(delay(n, &policy, 0.0, None), base / 2);
            assert!(delay(n, &policy, 0.999_999, None) < base);
            assert!(delay(n, &policy, 0.999_999, None) > base / 2);
        }
        let mut rng = Rng::new(3);
        let mut backoff = Backoff::new();
        let spread: Vec<_> = (0..4).map(|_| fail(&mut Backoff::new(), None, &mut rng)).collect();
        assert!(spread.iter().all(|d| (secs(1) / 2..secs(1)).contains(d)), "{spread:?}");
        assert!(spread.windows(2).any(|w| w[0] != w[1]), "the draws differ: {spread:?}");
        let third = (0..3).map(|_| fail(&mut backoff, None, &mut rng)).last();
        assert!(third.is_some_and(|d| (secs(2)..secs(4)).contains(&d)), "{third:?}");
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let policy = RefreshPolicy::default(); // retry_after_max: 10 min
        assert_eq!(delay(1, &policy, 0.0, Some(secs(120))), secs(120), "longer than backoff_max");
        assert_eq!(delay(1, &policy, 0.0, Some(secs(3600))), secs(600), "capped by retry_after_max");
        assert_eq!(delay(7, &policy, 0.0, Some(secs(1))), secs(30), "never shorter than the backoff");
        assert_eq!(fail(&mut Backoff::new(), Some(secs(3600)), &mut Rng::new(1)), secs(600));
    }

    #[test]
    fn it_holds_exchanges_back_until_retry_at_and_says_when_in_wall_time() {
        let wall = T0 + time::Duration::days(365);
        let clock = Timeline::new(Now::new(T0, wall));
        let mut backoff = Backoff::new();
        assert!(backoff.active_at(T0).is_none());
        backoff.fail(TransientCause::Timeout, Some(secs(10)), T0, &RefreshPolicy::default(), &mut Rng::new(1), &clock);
        let retry_at = backoff.retry_at().expect("a backoff");
        assert_eq!(retry_at, T0 + time::Duration::seconds(10));
        let Some(AuthError::Unavailable { retry_at: wall_retry, .. }) = backoff.active_at(T0) else {
            panic!("unavailable: {backoff:?}")
        };
        assert_eq!(*wall_retry, wall + time::Duration::seconds(10));
        assert!(backoff.active_at(retry_at).is_none(), "over at retry_at");
        assert!(backoff.error().is_some(), "still remembered");
    }

    #[test]
    fn success_resets_the_backoff_and_the_count() {
        let mut rng = Rng::new(5);
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            fail(&mut backoff, None, &mut rng);
        }
        backoff.reset();
        assert!(backoff.active_at(T0).is_none() && backoff.retry_at().is_none());
        assert!(fail(&mut backoff, None, &mut rng) < secs(1), "counted from the first failure again");
    }

    #[test]
    fn tokens_stale_on_arrival_back_off_after_max_unusable_tokens() {
        let policy = RefreshPolicy::default(); // max_unusable_tokens: 3, backoff_max: 60 s
        let clock = Timeline::new(T0.into());
        let mut backoff = Backoff::new();
        let arrive = |backoff: &mut Backoff, fresh| backoff.token_arrived(fresh, secs(1), T0, &policy, &clock);
        arrive(&mut backoff, false);
        arrive(&mut backoff, false);
        arrive(&mut backoff, true); // a fresh one starts the count over
        arrive(&mut backoff, false);
        arrive(&mut backoff, false);
        assert!(backoff.active_at(T0).is_none());
        arrive(&mut backoff, false);
        let Some(AuthError::UnusableTokenLifetime { count: 3, lifetime_secs: 1, .. }) = backoff.active_at(T0) else {
            panic!("unusable: {backoff:?}")
        };
        assert_eq!(backoff.retry_at(), Some(T0 + time::Duration::seconds(60)));
        arrive(&mut backoff, false);
        arrive(&mut backoff, false);
        assert!(
            matches!(backoff.error(), Some(AuthError::UnusableTokenLifetime { count: 3, .. })),
            "the count started over"
        );
    }
}
