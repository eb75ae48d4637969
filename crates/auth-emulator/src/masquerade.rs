//! `POST /auth/masquerade` (the path is configurable): switch a bearer session to another of
//! the user's accounts (SPEC §4, an undocumented operation the emulator models two ways, see
//! [`MasqueradeMode`]).

use axum::http::StatusCode;
use serde::Serialize;

use crate::api::{identify_credentials, reject_token};
use crate::clock::ServerInstant;
use crate::journal::Outcome;
use crate::knobs::MasqueradeMode;
use crate::reply::{Facts, Handled, Reply};
use crate::request::{Credentials, Incoming, Param};
use crate::sessions::TokenCheck;
use crate::state::Core;
use crate::users::AccountNumber;

#[derive(Serialize)]
struct Rebound {
    success: bool,
    account_id: AccountNumber,
}

/// Rebinds the session of the bearer token to `account_id`.
pub(crate) fn handle(core: &mut Core, req: &Incoming, now: ServerInstant) -> Handled {
    let credentials = req.credentials();
    let facts = identify_credentials(core, &credentials, now);
    let token = match credentials {
        Credentials::Bearer(token) => token,
        Credentials::Absent => {
            return Handled::new(
                Reply::failure(StatusCode::UNAUTHORIZED, "missing_credentials", "masquerade needs a bearer token"),
                facts.outcome(Outcome::MissingCredentials),
            );
        }
        _ => {
            return Handled::new(
                Reply::failure(StatusCode::UNAUTHORIZED, "bearer_required", "masquerade needs a bearer token"),
                facts.outcome(Outcome::WrongScheme),
            );
        }
    };
    let check = core.sessions.check_token(&token, now);
    let TokenCheck::Valid(holder) = check else {
        return reject_token(&check, &core.knobs, facts);
    };
    let params = match req.params() {
        Ok(p) => p,
        Err(e) => return Handled::body_error(e, facts),
    };
    let Param::Present(account) = params.account_id("account_id") else {
        return Handled::new(Reply::bad_params(&["account_id"]), facts.outcome(Outcome::BadRequest));
    };
    if !core.users.get(&holder.user).is_some_and(|u| u.may_use(account)) {
        return Handled::new(
            Reply::failure(StatusCode::FORBIDDEN, "account_not_allowed", "the user may not use this account"),
            facts.account(Some(account)).outcome(Outcome::AccountNotAllowed),
        );
    }
    core.sessions.rebind(&holder.guid, account);
    let facts = facts.account(Some(account)).outcome(Outcome::Ok);
    match core.knobs.masquerade_mode {
        MasqueradeMode::Rebind => {
            Handled::new(Reply::json(StatusCode::OK, &Rebound { success: true, account_id: account }), facts)
        }
        MasqueradeMode::IssueTokens => {
            let lifetimes = core.knobs.lifetimes();
            let pair = core.sessions.reissue(&holder.guid, now, lifetimes);
            Handled::new(Reply::tokens(&pair, &core.clock, Some(account)), facts.generation(Some(pair.generation)))
        }
    }
}

/// What can be told about a masquerade without processing it.
pub(crate) fn identify(core: &Core, req: &Incoming, now: ServerInstant) -> Facts {
    identify_credentials(core, &req.credentials(), now)
}
