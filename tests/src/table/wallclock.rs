//! SPEC §3a: the client's schedules follow its monotonic clock. Its wall clock may be stepped
//! either way (NTP, a resumed VM, a user) without freezing the session, refreshing early, or
//! pushing a retry into the far future; and a slow store never makes it discard a good answer.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// A year ahead, then back, then a 503 on the refresh: the client retries after the real
/// backoff, not a year later, and serves again.
pub fn wall_clock_a_year_ahead_and_back_never_wedges_the_session() -> Scenario {
    Scenario::new(Category::WallClock, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), step_wall(YEAR), get(served_gen(1001, 1)), step_wall(-YEAR)])
        .steps([advance(EXPIRED), inject(Endpoint::Refresh, Fault::Status(503)), get(unavailable(Cause::Server))])
        .steps([advance(BACKOFF), get(served_gen(1001, 2)), counts(1, 2, 0, 3)])
        .budget(6)
}

/// A year ahead: the token neither expires nor turns stale early; no auth traffic at all.
pub fn wall_clock_a_year_ahead_neither_expires_nor_refreshes_the_token() -> Scenario {
    Scenario::new(Category::WallClock, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), step_wall(YEAR), get(served_gen(1001, 1))])
        .steps([advance(1800), get(served_gen(1001, 1)), counts(1, 0, 0, 3)])
        .budget(4)
}

/// A year behind: the token still expires on time and is refreshed before a request would
/// carry it dead.
pub fn wall_clock_a_year_behind_never_sends_an_expired_token() -> Scenario {
    Scenario::new(Category::WallClock, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), step_wall(-YEAR), advance(EXPIRED), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 2)])
        .budget(4)
}

/// Saving the spent refresh token takes 15 s of a 20 s auth timeout, and the answer comes
/// 10 s after the request left: the deadline runs from the hand-off to the transport, so the
/// rotated pair is kept (no relogin, no lost session).
pub fn a_slow_save_never_discards_a_good_refresh_answer() -> Scenario {
    Scenario::new(Category::WallClock, Setup::bearer(ALICE).auth_timeout(20).save_takes(15).auth_answer_takes(10))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 3)])
        .budget(5)
}
