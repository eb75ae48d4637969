//! The fault matrix: every fault the emulator injects, on each auth endpoint (SPEC.md §3, §4,
//! §5). Faults that refuse (5xx, 429, `success:false`) hit before the server does anything;
//! faults that lose the answer (garbage, truncated, oversized, dropped) hit after it: a login
//! has opened a session, a refresh has rotated, a masquerade has rebound.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

// ---- login -----------------------------------------------------------------------------------

/// A login fault that may pass: the request fails with `Unavailable(cause)`, a second request
/// inside the backoff sends nothing, and after the backoff the next one logs in and is served.
fn login_recovers(fault: Fault, cause: Cause) -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Login, fault), get(unavailable(cause)), get(unavailable(cause)), counts(1, 0, 0, 0)])
        .steps([advance(BACKOFF), get(served_gen(1001, 1)), counts(2, 0, 0, 1)])
        .budget(3)
}

/// A 500 on login is transient; the client recovers once the clock passes the backoff.
pub fn login_500_is_transient_and_recovers_after_the_backoff() -> Scenario {
    login_recovers(Fault::Status(500), Cause::Server)
}

/// Two 502s in a row: two attempts, each after its backoff, then success.
pub fn login_502_twice_backs_off_and_recovers() -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Login, Fault::Status(502).times(2)), get(unavailable(Cause::Server))])
        .steps([advance(BACKOFF), get(unavailable(Cause::Server)), counts(2, 0, 0, 0)])
        .steps([advance(BACKOFF), get(served(1001)), counts(3, 0, 0, 1)])
        .budget(4)
}

/// A 429 with `Retry-After: 30`: nothing is sent for 30 s, then the login succeeds.
pub fn login_429_honours_retry_after() -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Login, Fault::rate_limited(30)), get(unavailable(Cause::RateLimited))])
        .steps([advance(20), get(unavailable(Cause::RateLimited)), counts(1, 0, 0, 0)])
        .steps([advance(15), get(served(1001)), counts(2, 0, 0, 1)])
        .budget(3)
}

/// A 503 with `Retry-After: 30` is honoured like a 429.
pub fn login_503_with_retry_after_is_honoured() -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Login, Fault::unavailable(30)), get(unavailable(Cause::RateLimited))])
        .steps([advance(20), get(unavailable(Cause::RateLimited)), counts(1, 0, 0, 0)])
        .steps([advance(15), get(served(1001)), counts(2, 0, 0, 1)])
        .budget(3)
}

/// Bytes that are not JSON: transient.
pub fn login_garbage_body_is_transient() -> Scenario {
    login_recovers(Fault::GarbageBody, Cause::Malformed)
}

/// Half a JSON body: transient.
pub fn login_truncated_body_is_transient() -> Scenario {
    login_recovers(Fault::TruncatedBody, Cause::Malformed)
}

/// A body over the 64 KiB limit: rejected unparsed, transient.
pub fn login_oversized_body_is_transient() -> Scenario {
    login_recovers(Fault::OversizedBody, Cause::Malformed)
}

/// SPEC §5: a 200 with `success:false` is a failure, and a rejected login is final.
pub fn login_success_false_is_final() -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(ALICE))
        .steps([inject(Endpoint::Login, Fault::SuccessFalse), get(fails(ErrorKind::CredentialsRejected))])
        .steps([advance(600), get(fails(ErrorKind::CredentialsRejected)), counts(1, 0, 0, 0)])
        .budget(1)
}

/// No answer at all: transient.
pub fn login_dropped_connection_is_transient() -> Scenario {
    login_recovers(Fault::DropConnection, Cause::Transport)
}

// ---- refresh ---------------------------------------------------------------------------------

/// The first refresh (of a stale token, after the request that found it stale) meets `fault`.
fn refresh_meets(fault: impl Into<auth_emulator::FaultPlan>) -> Scenario {
    Scenario::new(Category::RefreshFault, Setup::bearer(ALICE)).steps([
        get(served_gen(1001, 1)),
        advance(STALE),
        inject(Endpoint::Refresh, fault),
        get(served_gen(1001, 1)),
    ])
}

/// The refresh was refused before it rotated: the valid token keeps serving, without auth
/// traffic during the backoff; after it, the client logs in again (the refresh token it sent
/// is spent for the client, SPEC §3 rotation safety) and never resends it.
fn refresh_refused_transiently(fault: Fault) -> Scenario {
    refresh_meets(fault)
        .steps([get(served_gen(1001, 1)), counts(1, 1, 0, 3), advance(BACKOFF)])
        .steps([get(served_gen(1001, 1)), get(served_gen(1001, 1)), counts(2, 1, 0, 5), sessions(2)])
        .budget(8)
}

/// The refresh rotated server-side but its answer was lost: the old token now gets a 401 (the
/// server superseded it, the client could not know), the request is retried once after a
/// relogin, and the spent refresh token is never sent again.
fn refresh_lost_after_rotation(fault: Fault) -> Scenario {
    refresh_meets(fault)
        .steps([advance(BACKOFF), get(served_gen(1001, 1)), counts(2, 1, 0, 4), sessions(2)])
        .budget(7)
        .rejected_tokens(1)
}

/// SPEC §3: a transient refresh failure never replaces a still-valid token with an error.
pub fn refresh_500_keeps_the_valid_token_serving() -> Scenario {
    refresh_refused_transiently(Fault::Status(500))
}

/// `Retry-After: 120` on refresh: the valid token serves; no auth request before 120 s; then
/// the same refresh token, not spent by a refresh the server did not process, rotates.
pub fn refresh_429_honours_retry_after_while_the_token_serves() -> Scenario {
    refresh_meets(Fault::rate_limited(120))
        .steps([advance(100), get(served_gen(1001, 1)), counts(1, 1, 0, 3)])
        .steps([advance(30), get(served_gen(1001, 1)), counts(1, 2, 0, 4), get(served_gen(1001, 2))])
        .budget(8)
}

/// A session continued from a store holds no password. A refresh answered 503 (or 429) was not
/// processed, so its refresh token is not spent: it is sent again after the backoff and the
/// session lives on (SPEC §3), where spending it would have ended the session.
fn refresh_unprocessed_without_a_password(fault: Fault, cause: Cause) -> Scenario {
    Scenario::new(Category::RefreshFault, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), restart_without_password(), advance(EXPIRED)])
        .steps([inject(Endpoint::Refresh, fault), get(unavailable(cause)), counts(1, 1, 0, 1)])
        .steps([advance(BACKOFF), get(served_gen(1001, 2)), counts(1, 2, 0, 2)])
        .budget(5)
}

/// A 503 on refresh leaves the refresh token unspent.
pub fn refresh_503_keeps_the_refresh_token_of_a_session_without_password() -> Scenario {
    refresh_unprocessed_without_a_password(Fault::Status(503), Cause::Server)
}

/// A 429 on refresh leaves the refresh token unspent.
pub fn refresh_429_keeps_the_refresh_token_of_a_session_without_password() -> Scenario {
    refresh_unprocessed_without_a_password(Fault::rate_limited(2), Cause::RateLimited)
}

/// Garbage after the rotation: recovered by relogin.
pub fn refresh_garbage_body_after_rotation_recovers_by_relogin() -> Scenario {
    refresh_lost_after_rotation(Fault::GarbageBody)
}

/// A truncated answer after the rotation: recovered by relogin.
pub fn refresh_truncated_body_after_rotation_recovers_by_relogin() -> Scenario {
    refresh_lost_after_rotation(Fault::TruncatedBody)
}

/// An oversized answer after the rotation: recovered by relogin.
pub fn refresh_oversized_body_after_rotation_recovers_by_relogin() -> Scenario {
    refresh_lost_after_rotation(Fault::OversizedBody)
}

/// A dropped connection after the rotation: recovered by relogin.
pub fn refresh_dropped_connection_after_rotation_recovers_by_relogin() -> Scenario {
    refresh_lost_after_rotation(Fault::DropConnection)
}

/// `success:false` on refresh: the refresh token is dead; the still-valid token serves and
/// the password logs in again.
pub fn refresh_success_false_means_relogin() -> Scenario {
    refresh_meets(Fault::SuccessFalse)
        .steps([get(served_gen(1001, 1)), get(served_gen(1001, 1)), counts(2, 1, 0, 4), sessions(2)])
        .budget(7)
}

/// A revoked session: the API's 401, a rejected refresh, a relogin, one retry.
pub fn refresh_of_a_revoked_session_means_relogin() -> Scenario {
    Scenario::new(Category::RefreshFault, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), revoke(), get(served_gen(1001, 1)), counts(2, 1, 0, 3)])
        .budget(6)
        .rejected_tokens(1)
}

/// With the token already past its cutoff, a failed refresh leaves nothing to serve with: the
/// caller gets the transient error, and the next request after the backoff logs in.
pub fn refresh_500_with_an_expired_token_surfaces_a_transient_error() -> Scenario {
    Scenario::new(Category::RefreshFault, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(EXPIRED), inject(Endpoint::Refresh, Fault::Status(500))])
        .steps([get(unavailable(Cause::Server)), advance(BACKOFF), get(served_gen(1001, 1)), counts(2, 1, 0, 2)])
        .budget(5)
}

// ---- masquerade ------------------------------------------------------------------------------

/// bob, switching by masquerade, served on 2001; the masquerade to 2002 meets `fault`.
fn masquerade_meets(fault: impl Into<auth_emulator::FaultPlan>, expect: Expect) -> Scenario {
    Scenario::new(Category::MasqueradeFault, Setup::bearer(BOB).masquerade()).steps([
        get(served_gen(2001, 1)),
        inject(Endpoint::Masquerade, fault),
        switch(2002, expect),
    ])
}

/// A transient masquerade failure: the switch stays pending (requests wait for it rather than
/// run on the old account), and the next request after the backoff completes it.
fn masquerade_recovers(fault: Fault, cause: Cause) -> Scenario {
    masquerade_meets(fault, unavailable(cause))
        .steps([get(unavailable(cause)), counts(1, 0, 1, 1), advance(BACKOFF), get(served_gen(2002, 1))])
        .steps([counts(1, 0, 2, 2)])
        .budget(5)
}

/// A 500 on masquerade: the switch stays pending and completes after the backoff.
pub fn masquerade_500_leaves_the_switch_pending() -> Scenario {
    masquerade_recovers(Fault::Status(500), Cause::Server)
}

/// `Retry-After: 30` on masquerade is honoured.
pub fn masquerade_429_honours_retry_after() -> Scenario {
    masquerade_meets(Fault::rate_limited(30), unavailable(Cause::RateLimited))
        .steps([advance(20), get(unavailable(Cause::RateLimited)), counts(1, 0, 1, 1)])
        .steps([advance(15), get(served_gen(2002, 1)), counts(1, 0, 2, 2)])
        .budget(5)
}

/// Garbage after the rebind: transient, and the repeated masquerade completes the switch.
pub fn masquerade_garbage_body_is_transient() -> Scenario {
    masquerade_recovers(Fault::GarbageBody, Cause::Malformed)
}

/// A truncated answer after the rebind: transient.
pub fn masquerade_truncated_body_is_transient() -> Scenario {
    masquerade_recovers(Fault::TruncatedBody, Cause::Malformed)
}

/// An oversized answer after the rebind: transient.
pub fn masquerade_oversized_body_is_transient() -> Scenario {
    masquerade_recovers(Fault::OversizedBody, Cause::Malformed)
}

/// `success:false`: the switch is refused and the session stays on 2001 with its token.
pub fn masquerade_success_false_keeps_the_old_account() -> Scenario {
    masquerade_meets(Fault::SuccessFalse, fails(ErrorKind::AccountSwitchRejected))
        .steps([get(served_gen(2001, 1)), counts(1, 0, 1, 2)])
        .budget(4)
}

/// No answer after the rebind: transient.
pub fn masquerade_dropped_connection_is_transient() -> Scenario {
    masquerade_recovers(Fault::DropConnection, Cause::Transport)
}

/// A masquerade with a revoked token is refused (the server's expired-token status); the
/// session stays on 2001 and recovers its token by relogin on the next request.
pub fn masquerade_with_a_revoked_token_logs_in_to_the_account() -> Scenario {
    Scenario::new(Category::MasqueradeFault, Setup::bearer(BOB).masquerade())
        .steps([get(served_gen(2001, 1)), revoke(), switch(2002, ok())])
        .steps([get(served(2002)), counts(2, 0, 1, 2)])
        .budget(5)
        .rejected_tokens(1)
}

/// A masquerade that issued new tokens, answer lost: the server rebound the session to 2002
/// and killed the old pair, so the pending switch's retry is refused (401, superseded token).
/// The 401 says the token died, so the client drops it and finishes the switch by a login that
/// names the account.
pub fn masquerade_issuing_tokens_whose_answer_is_lost() -> Scenario {
    Scenario::new(Category::MasqueradeFault, Setup::bearer(BOB).masquerade().masquerade_issues_tokens())
        .steps([get(served_gen(2001, 1)), inject(Endpoint::Masquerade, Fault::DropConnection)])
        .steps([switch(2002, unavailable(Cause::Transport)), advance(BACKOFF)])
        .steps([get(served(2002)), counts(2, 0, 2, 2)])
        .budget(6)
        .rejected_tokens(1)
}

/// A pending switch whose retry is refused: requests must learn that the switch failed (SPEC §4:
/// the race must be impossible or explicit), not run on the old account, until someone
/// acknowledges it (here: switching back to the account the session stayed on).
pub fn pending_switch_refused_on_its_retry_is_reported() -> Scenario {
    masquerade_meets(Fault::Status(500), unavailable(Cause::Server))
        .steps([inject(Endpoint::Masquerade, Fault::SuccessFalse), advance(BACKOFF)])
        .steps([get(fails(ErrorKind::AccountSwitchRejected)), get(fails(ErrorKind::AccountSwitchRejected))])
        // The session never learned its default account's id, so going back is a real switch.
        .steps([switch(2001, ok()), get(served_gen(2001, 1)), counts(1, 0, 3, 2)])
        .budget(6)
}

/// The same with the relogin strategy: the switch's login fails transiently (pending), its
/// retry is refused; requests fail with the refusal until it is acknowledged.
pub fn login_refused_on_a_pending_switch_retry_is_reported() -> Scenario {
    Scenario::new(Category::LoginFault, Setup::bearer(BOB))
        .steps([get(served_gen(2001, 1)), inject(Endpoint::Login, Fault::Status(500))])
        .steps([
            switch(2002, unavailable(Cause::Server)),
            inject(Endpoint::Login, Fault::SuccessFalse),
            advance(BACKOFF),
        ])
        .steps([get(fails(ErrorKind::AccountSwitchRejected)), get(fails(ErrorKind::AccountSwitchRejected))])
        .steps([switch(2001, ok()), get(served_gen(2001, 1)), counts(4, 0, 0, 2)])
        .budget(6)
}
