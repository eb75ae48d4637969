//! Many callers at once share one auth exchange (single flight). The emulator adds 100 ms to
//! every auth request so the callers overlap it; the runner checks for every scenario that no
//! two auth requests were ever in flight together.

use crate::scenario::*;

/// Eight first requests at once: one login serves them all.
pub fn concurrent_first_requests_share_one_login() -> Scenario {
    Scenario::new(Category::Concurrency, Setup::bearer(ALICE).auth_latency_ms(100))
        .steps([burst(8, served_gen(1001, 1)), counts(1, 0, 0, 8)])
        .budget(9)
}

/// Eight requests on an expired token: one refresh serves them all.
pub fn concurrent_requests_on_an_expired_token_share_one_refresh() -> Scenario {
    Scenario::new(Category::Concurrency, Setup::bearer(ALICE).auth_latency_ms(100))
        .steps([get(served_gen(1001, 1)), advance(EXPIRED), burst(8, served_gen(1001, 2)), counts(1, 1, 0, 9)])
        .budget(11)
}

/// Eight requests on a stale token: all served at once with it, one refresh afterwards.
pub fn concurrent_requests_on_a_stale_token_refresh_once() -> Scenario {
    Scenario::new(Category::Concurrency, Setup::bearer(ALICE).auth_latency_ms(100))
        .steps([get(served_gen(1001, 1)), advance(STALE), burst(8, served(1001)), get(served_gen(1001, 2))])
        .steps([counts(1, 1, 0, 10)])
        .budget(12)
}
