//! The RealTime handshake (SPEC.md §6): bearer only, always with a currently valid token.

use auth_emulator::{Endpoint, Fault};

use crate::scenario::*;

/// The `authrequest` the adapter builds authenticates a WebSocket.
pub fn realtime_handshake_authenticates_with_a_fresh_token() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(ALICE))
        .steps([realtime(authenticated()), counts(1, 0, 0, 0)])
        .budget(2)
}

/// The server refuses a revoked token with `success: false`.
pub fn realtime_handshake_with_a_revoked_token_is_refused() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(ALICE))
        .steps([realtime(authenticated()), revoke(), realtime(refused())])
        .budget(3)
        .rejected_tokens(1)
}

/// A reconnect after expiry authenticates with a refreshed token.
pub fn realtime_reconnect_after_expiry_refreshes_first() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(ALICE))
        .steps([realtime(authenticated()), advance(EXPIRED), realtime(authenticated()), counts(1, 1, 0, 0)])
        .budget(4)
}

/// A stale token is refreshed before it goes into an `authrequest`.
pub fn realtime_with_a_stale_token_refreshes_first() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), realtime(authenticated()), counts(1, 1, 0, 1)])
        .budget(4)
}

/// After a masquerade that issued new tokens, the handshake uses the new token.
pub fn realtime_after_a_masquerade_uses_the_current_token() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(BOB).masquerade().masquerade_issues_tokens())
        .steps([realtime(authenticated()), switch(2002, ok()), realtime(authenticated()), counts(1, 0, 1, 0)])
        .budget(4)
}

/// A refresh-first that fails transiently still hands out the valid stale token (SPEC §3: a
/// transient failure never replaces a still-valid token with an error).
pub fn realtime_with_a_stale_token_and_a_failing_refresh_uses_the_valid_token() -> Scenario {
    Scenario::new(Category::RealTime, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(STALE), inject(Endpoint::Refresh, Fault::Status(503))])
        .steps([realtime(authenticated()), counts(1, 1, 0, 1)])
        .budget(4)
}
