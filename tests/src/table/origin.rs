//! Credentials only ever go to the API's origin: a redirect to another origin drops them, and
//! a request for another origin is refused before any I/O. The foreign origin is a second
//! emulator whose journal must never show an `Authorization` header (checked for every run).

use crate::scenario::*;

/// A bearer request redirected to a foreign origin arrives there without the token; the
/// foreign 401 is not taken as a verdict on the token (no refresh).
pub fn redirect_to_a_foreign_origin_drops_the_bearer_token() -> Scenario {
    Scenario::new(Category::Origin, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), get_via_redirect_to_foreign(status(401)), get(served_gen(1001, 1))])
        .steps([counts(1, 0, 0, 2)])
        .budget(5)
}

/// A bearer request for a foreign origin is refused before any I/O (not even a login).
pub fn bearer_request_to_a_foreign_origin_is_refused_before_any_io() -> Scenario {
    Scenario::new(Category::Origin, Setup::bearer(ALICE))
        .steps([get_foreign(fails(ErrorKind::ForeignOrigin)), counts(0, 0, 0, 0)])
        .budget(0)
}

/// Basic credentials do not follow a redirect to a foreign origin.
pub fn redirect_to_a_foreign_origin_drops_basic_credentials() -> Scenario {
    Scenario::new(Category::Origin, Setup::basic(ALICE))
        .steps([get_via_redirect_to_foreign(status(401)), get(served(1001))])
        .budget(3)
}

/// A Basic request for a foreign origin is refused before any I/O.
pub fn basic_request_to_a_foreign_origin_is_refused_before_any_io() -> Scenario {
    Scenario::new(Category::Origin, Setup::basic(ALICE)).steps([get_foreign(fails(ErrorKind::ForeignOrigin))]).budget(0)
}

/// Integrator credentials do not follow a redirect to a foreign origin.
pub fn redirect_to_a_foreign_origin_drops_integrator_credentials() -> Scenario {
    Scenario::new(Category::Origin, Setup::integrator(INTEGRATOR).account(2002))
        .steps([get_via_redirect_to_foreign(status(401)), get_foreign(fails(ErrorKind::ForeignOrigin))])
        .budget(2)
}
