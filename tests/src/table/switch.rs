//! Account switches (SPEC.md §4): relogin (the default) and masquerade.

use crate::scenario::*;

/// Relogin with `account_id`: the next request is served on the new account.
pub fn switch_by_relogin_binds_the_new_account() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB))
        .steps([get(served(2001)), switch(2002, ok()), get(served(2002)), counts(2, 0, 0, 2)])
        .budget(4)
}

/// Masquerade rebinds the session and keeps the token (same generation server-side).
pub fn switch_by_masquerade_keeps_the_token() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB).masquerade())
        .steps([get(served_gen(2001, 1)), switch(2002, ok()), get(served_gen(2002, 1)), counts(1, 0, 1, 2)])
        .budget(4)
}

/// A masquerade answer with token fields: they are adopted.
pub fn switch_by_masquerade_adopts_issued_tokens() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB).masquerade().masquerade_issues_tokens())
        .steps([get(served_gen(2001, 1)), switch(2002, ok()), get(served_gen(2002, 2)), counts(1, 0, 1, 2)])
        .budget(4)
}

/// A refused relogin switch is reported; the session stays on its account.
pub fn refused_switch_by_relogin_keeps_the_old_account() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB))
        .steps([get(served(2001)), switch(1001, fails(ErrorKind::AccountSwitchRejected)), get(served(2001))])
        .steps([counts(2, 0, 0, 2)])
        .budget(4)
}

/// A refused masquerade is reported; the session stays on its account, with its token.
pub fn refused_switch_by_masquerade_keeps_the_old_account() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB).masquerade())
        .steps([get(served(2001)), switch(1001, fails(ErrorKind::AccountSwitchRejected)), get(served_gen(2001, 1))])
        .steps([counts(1, 0, 1, 2)])
        .budget(4)
}

/// Switching to the account already bound sends nothing.
pub fn switch_to_the_current_account_sends_nothing() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB).account(2002))
        .steps([get(served(2002)), switch(2002, ok()), get(served(2002)), counts(1, 0, 0, 2)])
        .budget(3)
}

/// A switch before any login: the first login already names the account.
pub fn switch_before_the_first_login_logs_in_there() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB))
        .steps([switch(2003, ok()), get(served_gen(2003, 1)), counts(1, 0, 0, 1)])
        .budget(2)
}

/// After a masquerade, the refreshed token is still on the new account.
pub fn masquerade_switch_survives_a_refresh() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB).masquerade())
        .steps([get(served(2001)), switch(2002, ok()), advance(EXPIRED), get(served_gen(2002, 2))])
        .steps([counts(1, 1, 1, 2)])
        .budget(5)
}

/// After a relogin switch and a revocation, the new login names the switched-to account.
pub fn relogin_switch_survives_a_revocation() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB))
        .steps([get(served(2001)), switch(2003, ok()), revoke(), get(served_gen(2003, 1)), counts(3, 1, 0, 3)])
        .budget(7)
        .rejected_tokens(1)
}

/// A caller holds a handle for 2002 (its switch's outcome); another caller then switches the
/// session to 2003. The first caller's next request is refused before any I/O rather than run
/// on an account it was not told about (SPEC.md §4, "impossible or explicit").
pub fn a_handle_for_one_account_never_runs_on_another() -> Scenario {
    Scenario::new(Category::AccountSwitch, Setup::bearer(BOB))
        .steps([switch(2002, ok()), get_on(2002, served(2002)), switch(2003, ok()), get(served(2003))])
        .steps([get_on(2002, fails(ErrorKind::AccountChanged)), counts(2, 0, 0, 2)])
        .budget(5)
}
