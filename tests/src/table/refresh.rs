//! Refresh (SPEC.md §3): rotation, the refresh window, relogin when the refresh token is dead,
//! no refresh loops.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// A stale token still serves the request that finds it stale; one refresh follows, rotating
/// both tokens (the next request carries generation 2, then 3).
pub fn stale_token_is_attached_while_one_refresh_rotates_both_tokens() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 2))])
        .steps([advance(STALE), get(served_gen(1001, 2)), get(served_gen(1001, 3)), counts(1, 2, 0, 5)])
        .budget(8)
}

/// Past the cutoff the token is never attached: the request waits for the refresh.
pub fn expired_token_is_refreshed_before_the_request() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(EXPIRED), get(served_gen(1001, 2)), counts(1, 1, 0, 2)])
        .budget(4)
}

/// A token that leaves the library is the newest: a stale one is refreshed first.
pub fn bearer_token_refreshes_a_stale_token_first() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), bearer_token(ok()), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 2)])
        .budget(4)
}

/// Rotation keeps the session's account.
pub fn refresh_keeps_the_bound_account() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(BOB).account(2002))
        .steps([get(served_gen(2002, 1)), advance(EXPIRED), get(served_gen(2002, 2)), counts(1, 1, 0, 2)])
        .budget(4)
}

/// A refresh token estimated expired is not sent: the client logs in again instead.
pub fn expired_refresh_token_means_relogin_without_a_refresh() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE).refresh_lifetime(1800))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 1))])
        .steps([counts(2, 0, 0, 3), sessions(2)])
        .budget(5)
}

/// A revoked session: the API says 401, the refresh is rejected, the password logs in again.
pub fn revoked_session_means_relogin() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), revoke(), get(served_gen(1001, 1)), counts(2, 1, 0, 3), sessions(2)])
        .budget(6)
        .rejected_tokens(1)
}

/// Without a password, a dead refresh token ends the session with `SessionExpired`.
pub fn session_without_password_expires_with_a_typed_error() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), restart_without_password(), get(served_gen(1001, 1)), revoke()])
        .steps([get(fails(ErrorKind::SessionExpired)), get(fails(ErrorKind::SessionExpired)), counts(1, 1, 0, 3)])
        .budget(5)
        .rejected_tokens(1)
}

/// Tokens that are dead on arrival end in a clear error after a few auth requests, not a loop.
pub fn zero_token_lifetime_ends_in_an_error_not_a_loop() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE).token_lifetime(0))
        .steps([get(fails(ErrorKind::UnusableTokenLifetime)), counts(1, 2, 0, 0)])
        .budget(3)
}

/// A token of two minutes or less turns stale at half-life.
pub fn short_lived_token_is_refreshed_at_half_life() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE).token_lifetime(100))
        .steps([get(served_gen(1001, 1)), advance(60), get(served_gen(1001, 1)), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 3)])
        .budget(5)
}

/// `bearer_token` refreshes a stale token first; when that refresh fails transiently, the still
/// valid token is handed out rather than an error.
pub fn bearer_token_with_a_failing_refresh_hands_out_the_valid_token() -> Scenario {
    Scenario::new(Category::Refresh, Setup::bearer(ALICE))
        .steps([
            get(served_gen(1001, 1)),
            advance(STALE),
            inject(Endpoint::Refresh, Fault::DropConnection.before_effect()),
        ])
        .steps([bearer_token(ok()), get(served_gen(1001, 1)), counts(1, 1, 0, 2)])
        .budget(4)
}
