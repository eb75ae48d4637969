//! Basic and Integrator (SPEC.md §1): stateless headers, the account rules, REST only, and
//! what the configuration refuses before anything is sent.

use crate::scenario::*;

/// A single-account user needs no pinned account under Basic.
pub fn basic_single_account_user_is_served_on_her_account() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(ALICE))
        .steps([get(served(1001)), post(served(1001)), counts(0, 0, 0, 2)])
        .budget(2)
}

/// The risk SPEC §1 documents: without `account_id` the server silently picks one of bob's
/// accounts (the emulator picks the last, 2003, not his home account 2001).
pub fn basic_multi_account_user_without_pin_gets_the_silent_pick() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(BOB)).steps([get(served(2003)), post(served(2003))]).budget(2)
}

/// A pinned account is added to every request.
pub fn basic_pinned_account_goes_on_every_request() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(BOB).account(2002))
        .steps([get(served(2002)), post(served(2002)), get_for(2002, served(2002))])
        .budget(3)
}

/// Without a pin, a request may name its account itself.
pub fn basic_request_may_name_its_account() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(BOB))
        .steps([get_for(2001, served(2001)), get_for(2002, served(2002))])
        .budget(2)
}

/// A request naming an account other than the pinned one is refused before any I/O.
pub fn basic_request_naming_another_account_than_the_pinned_one_is_refused() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(BOB).account(2002))
        .steps([get_for(2003, fails(ErrorKind::AccountConflict)), counts(0, 0, 0, 0)])
        .budget(0)
}

/// SPEC §5a: under Basic a 401 is final; nothing is retried.
pub fn basic_401_is_final() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(ALICE).wrong_password())
        .steps([get(status(401)), get(status(401)), counts(0, 0, 0, 2)])
        .budget(2)
}

/// RealTime, bearer tokens and account switches need a bearer session.
pub fn basic_is_rest_only() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(ALICE))
        .steps([realtime(fails(ErrorKind::RequiresBearer)), bearer_token(fails(ErrorKind::RequiresBearer))])
        .steps([switch(1001, fails(ErrorKind::SwitchRequiresBearer))])
        .budget(0)
}

/// CR/LF in a credential could inject headers: refused when the configuration is built.
pub fn header_injection_in_the_password_is_refused_at_construction() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic(ALICE).password("pw\r\nX-Injected: yes"))
        .refused_at_build(ErrorKind::Config)
}

/// RFC 7617: a user-id with `:` cannot be encoded; refused when the configuration is built.
pub fn colon_in_a_basic_user_id_is_refused_at_construction() -> Scenario {
    Scenario::new(Category::Basic, Setup::basic("ali:ce")).refused_at_build(ErrorKind::Config)
}

/// A pinned account is added to every Integrator request.
pub fn integrator_pinned_account_goes_on_every_request() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR).account(2002))
        .steps([get(served(2002)), post(served(2002)), counts(0, 0, 0, 2)])
        .budget(2)
}

/// An Integrator may name the account in each request instead.
pub fn integrator_may_name_the_account_per_request() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR).account_per_request())
        .steps([get_for(1001, served(1001)), get_for(2002, served(2002))])
        .budget(2)
}

/// SPEC §1 decision: an Integrator request without `account_id` is refused before any I/O.
pub fn integrator_without_an_account_is_refused_before_any_io() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR).account_per_request())
        .steps([get(fails(ErrorKind::AccountRequired)), post(fails(ErrorKind::AccountRequired))])
        .steps([counts(0, 0, 0, 0)])
        .budget(0)
}

/// An Integrator that neither pins an account nor promises one per request is a
/// configuration error.
pub fn integrator_configuration_without_an_account_is_refused() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR)).refused_at_build(ErrorKind::Config)
}

/// An account outside the allow list: the server's 403 is final (no retry, no refresh).
pub fn integrator_account_outside_the_allow_list_gets_a_final_403() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR).account(2001))
        .steps([get(status(403)), counts(0, 0, 0, 1)])
        .budget(1)
}

/// RealTime, bearer tokens and account switches need a bearer session.
pub fn integrator_is_rest_only() -> Scenario {
    Scenario::new(Category::Integrator, Setup::integrator(INTEGRATOR).account(2002))
        .steps([realtime(fails(ErrorKind::RequiresBearer)), bearer_token(fails(ErrorKind::RequiresBearer))])
        .steps([switch(1001, fails(ErrorKind::SwitchRequiresBearer))])
        .budget(0)
}
