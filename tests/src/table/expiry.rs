//! A token the API rejects with 401 or 403 (SPEC.md §2, §5a), and the clock rule (§3): expiry
//! comes from our clock and `tokenLifetime`, whatever the server's clock says.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// The server's clock runs ahead; the token it issued expires before our estimate.
fn server_expires_the_token_early(setup: Setup) -> Scenario {
    Scenario::new(Category::ExpiredStatus, setup)
        .steps([get(served_gen(1001, 1)), advance_server(3600), get(served_gen(1001, 2)), counts(1, 1, 0, 3)])
        .budget(5)
        .rejected_tokens(1)
}

/// 401 on an API call: one refresh, one retry with the new token.
pub fn server_expired_token_401_is_refreshed_and_retried_once() -> Scenario {
    server_expires_the_token_early(Setup::bearer(ALICE))
}

/// 403 on an API call means the same as 401 (the docs name both).
pub fn server_expired_token_403_is_refreshed_and_retried_once() -> Scenario {
    server_expires_the_token_early(Setup::bearer(ALICE).expired_status_403())
}

/// A revoked token answered with 403: the refresh is rejected too, the password logs in.
pub fn revoked_token_403_means_relogin() -> Scenario {
    Scenario::new(Category::ExpiredStatus, Setup::bearer(ALICE).expired_status_403())
        .steps([get(served_gen(1001, 1)), revoke(), get(served_gen(1001, 1)), counts(2, 1, 0, 3)])
        .budget(6)
        .rejected_tokens(1)
}

/// The retry of a POST carries its body again.
pub fn post_is_replayed_with_its_body_after_a_403() -> Scenario {
    Scenario::new(Category::ExpiredStatus, Setup::bearer(ALICE).expired_status_403())
        .steps([get(served_gen(1001, 1)), advance_server(3600), post(served_gen(1001, 2)), counts(1, 1, 0, 3)])
        .budget(5)
        .rejected_tokens(1)
}

/// A 403 that is not about the token (a bearer request naming another account) comes back
/// after exactly one retry.
pub fn second_rejection_is_returned_as_it_is() -> Scenario {
    Scenario::new(Category::ExpiredStatus, Setup::bearer(BOB).account(2002))
        .steps([get(served_gen(2002, 1)), get_for(2003, status(403)), counts(1, 1, 0, 3)])
        .steps([get(served(2002))])
        .budget(6)
}

/// A stale token that the server already considers expired: refreshed, and the request retried.
pub fn stale_token_expired_server_side_is_refreshed_and_retried() -> Scenario {
    Scenario::new(Category::ExpiredStatus, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), advance_server(400), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 3)])
        .budget(5)
        .rejected_tokens(1)
}

/// A day either way in `tokenExpiration` changes nothing: one login, one refresh in the window.
fn server_clock_off_by(seconds: i64) -> Scenario {
    Scenario::new(Category::ClockOffset, Setup::bearer(ALICE).clock_offset(seconds))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 3)])
        .budget(5)
}

/// The server's clock a day ahead.
pub fn server_clock_a_day_ahead_changes_nothing() -> Scenario {
    server_clock_off_by(86_400)
}

/// The server's clock a day behind (its `tokenExpiration` is 23 h in the past).
pub fn server_clock_a_day_behind_changes_nothing() -> Scenario {
    server_clock_off_by(-86_400)
}

/// `refreshTokenExpiration` is corrected by the offset: a refresh token of 50 min is known dead
/// at 55 min although the server's clock says it has a day left, so the client logs in instead
/// of sending a doomed refresh.
pub fn server_clock_a_day_ahead_does_not_extend_the_refresh_token() -> Scenario {
    Scenario::new(Category::ClockOffset, Setup::bearer(ALICE).clock_offset(86_400).refresh_lifetime(3000))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 1))])
        .steps([counts(2, 0, 0, 3)])
        .budget(5)
}

/// The corrected expiries survive a restart from the store.
pub fn server_clock_a_day_behind_survives_a_restart() -> Scenario {
    Scenario::new(Category::ClockOffset, Setup::bearer(ALICE).clock_offset(-86_400))
        .steps([get(served_gen(1001, 1)), restart(), advance(STALE), get(served_gen(1001, 1))])
        .steps([get(served_gen(1001, 2)), counts(1, 1, 0, 3)])
        .budget(5)
}

/// A 500 from the API is the caller's response: no refresh, no retry.
pub fn api_500_is_a_response_not_an_auth_event() -> Scenario {
    Scenario::new(Category::ApiFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Api, Fault::Status(500)), get(status(500)), get(served_gen(1001, 1))])
        .steps([counts(1, 0, 0, 2)])
        .budget(3)
}

/// A 429 from the API is the caller's response too (Retry-After is honoured on auth endpoints).
pub fn api_429_is_a_response_not_an_auth_event() -> Scenario {
    Scenario::new(Category::ApiFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Api, Fault::rate_limited(30)), get(status(429)), get(served_gen(1001, 1))])
        .steps([counts(1, 0, 0, 2)])
        .budget(3)
}

/// A dropped API connection is a transport error; the token is not judged by it.
pub fn api_dropped_connection_is_a_transport_error() -> Scenario {
    Scenario::new(Category::ApiFault, Setup::bearer(ALICE))
        .steps([
            get(served_gen(1001, 1)),
            inject(Endpoint::Api, Fault::DropConnection),
            get(fails(ErrorKind::Transport)),
        ])
        .steps([get(served_gen(1001, 1)), counts(1, 0, 0, 3)])
        .budget(4)
}

/// A dropped API connection on a stale token: the caller gets the transport error, the token
/// keeps serving, and exactly one refresh follows.
pub fn api_dropped_connection_on_a_stale_token_still_refreshes_once() -> Scenario {
    Scenario::new(Category::ApiFault, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), inject(Endpoint::Api, Fault::DropConnection)])
        .steps([get(fails(ErrorKind::Transport)), get(served(1001)), get(served_gen(1001, 2)), counts(1, 1, 0, 4)])
        .budget(6)
}
