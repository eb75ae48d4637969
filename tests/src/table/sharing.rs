//! Sessions shared through a store (SPEC §3, §3a): a spend is seen by every sharer, and a
//! stored session is only ever continued against the server, user and account it was made for.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// Two clients share one store. The first spends the refresh token and loses the answer (the
/// server rotated, so the token both hold is superseded); the second, rejected with that token,
/// sees the spend in the store and logs in rather than present the spent refresh token. The
/// first then adopts the second's new session.
pub fn a_second_client_never_presents_a_refresh_token_the_first_spent() -> Scenario {
    Scenario::new(Category::Sharing, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), second_client(), advance(STALE)])
        .steps([inject(Endpoint::Refresh, Fault::DropConnection), get(served_gen(1001, 1)), counts(1, 1, 0, 2)])
        .steps([swap_clients(), get(served(1001)), counts(2, 1, 0, 4)])
        .steps([advance(BACKOFF), swap_clients(), get(served(1001)), counts(2, 1, 0, 6)])
        .budget(9)
        .rejected_tokens(2)
}

/// A session stored for one server is refused by a client of another, which sends it
/// nothing; the store still serves its own server afterwards.
pub fn a_stored_session_never_reaches_another_server() -> Scenario {
    Scenario::new(Category::Sharing, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), restart_against_foreign(fails(ErrorKind::Restore)), foreign_requests(0)])
        .steps([restart(), get(served_gen(1001, 1)), counts(1, 0, 0, 2)])
        .budget(3)
}
