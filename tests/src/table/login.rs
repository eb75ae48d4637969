//! Login (SPEC.md §2): with and without `account_id`, rejected logins are final, `auth_only`.

use crate::scenario::*;

/// A multi-account user logging in without `account_id` is served on the home account.
pub fn login_without_account_binds_the_home_account() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(BOB)).steps([get(served_gen(2001, 1)), counts(1, 0, 0, 1)]).budget(2)
}

/// A pinned account goes in the login; every request is served on it.
pub fn login_with_account_binds_that_account() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(BOB).account(2002))
        .steps([get(served(2002)), post(served(2002)), counts(1, 0, 0, 2)])
        .budget(3)
}

/// A fresh token is reused: one login, whatever the number of requests.
pub fn fresh_token_serves_requests_without_auth_traffic() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE))
        .steps([get(served_gen(1001, 1)), advance(1800), get(served_gen(1001, 1)), post(served(1001))])
        .steps([counts(1, 0, 0, 3)])
        .budget(4)
}

/// SPEC §5a: a rejected login is never retried, even after time passes.
pub fn rejected_password_is_final() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE).wrong_password())
        .steps([get(fails(ErrorKind::CredentialsRejected)), advance(600)])
        .steps([get(fails(ErrorKind::CredentialsRejected)), bearer_token(fails(ErrorKind::CredentialsRejected))])
        .steps([counts(1, 0, 0, 0)])
        .budget(1)
}

/// Pinning an account the user does not have: the login is refused (403), finally.
pub fn login_to_an_account_of_another_user_is_rejected() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE).account(2002))
        .steps([get(fails(ErrorKind::CredentialsRejected)), get(fails(ErrorKind::CredentialsRejected))])
        .steps([counts(1, 0, 0, 0)])
        .budget(1)
}

/// Integrators hold no bearer session: the login is refused, finally.
pub fn integrator_cannot_open_a_bearer_session() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(INTEGRATOR))
        .steps([get(fails(ErrorKind::CredentialsRejected)), counts(1, 0, 0, 0)])
        .budget(1)
}

/// `auth_only=1` through `auth_core::verify`: the credentials are checked, no session opens.
pub fn auth_only_verifies_without_opening_a_session() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE))
        .steps([verify(ok()), sessions(0), counts(1, 0, 0, 0)])
        .budget(1)
}

/// `auth_only=1` with a wrong password: a typed rejection.
pub fn auth_only_reports_a_wrong_password() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE).wrong_password())
        .steps([verify(fails(ErrorKind::CredentialsRejected)), sessions(0), counts(1, 0, 0, 0)])
        .budget(1)
}

/// Asking for the token logs in; the API then accepts the same session.
pub fn bearer_token_logs_in_first() -> Scenario {
    Scenario::new(Category::Login, Setup::bearer(ALICE))
        .steps([bearer_token(ok()), get(served_gen(1001, 1)), counts(1, 0, 0, 1)])
        .budget(2)
}
