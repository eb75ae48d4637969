//! Restarting the client from its store: the session continues without a login, and a spent
//! refresh token is never sent again, across restarts too (SPEC.md §3, rotation safety).

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// A restarted client continues the stored session: no second login.
pub fn restart_continues_the_stored_session() -> Scenario {
    Scenario::new(Category::Persistence, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), restart(), get(served_gen(1001, 1)), counts(1, 0, 0, 2)])
        .budget(3)
}

/// After a refresh the store holds the rotated pair, which the restarted client refreshes.
pub fn restart_after_a_refresh_continues_the_rotated_pair() -> Scenario {
    Scenario::new(Category::Persistence, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), get(served_gen(1001, 1)), get(served_gen(1001, 2))])
        .steps([restart(), advance(STALE), get(served_gen(1001, 2)), get(served_gen(1001, 3)), counts(1, 2, 0, 5)])
        .budget(8)
}

/// The refresh token is spent in the store before the refresh leaves: after a lost answer and
/// a restart, the client logs in rather than present it again.
pub fn restart_after_a_lost_refresh_never_resends_the_spent_token() -> Scenario {
    Scenario::new(Category::Persistence, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), inject(Endpoint::Refresh, Fault::DropConnection)])
        .steps([get(served_gen(1001, 1)), restart(), get(served_gen(1001, 1)), counts(2, 1, 0, 4)])
        .budget(7)
        .rejected_tokens(1)
}

/// A masquerade's account is stored with the token.
pub fn restart_after_a_masquerade_keeps_the_account() -> Scenario {
    Scenario::new(Category::Persistence, Setup::bearer(BOB).masquerade())
        .steps([get(served(2001)), switch(2002, ok()), restart(), get(served_gen(2002, 1)), counts(1, 0, 1, 2)])
        .budget(4)
}
