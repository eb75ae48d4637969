//! `POST /auth/login` (SPEC §2).

use axum::http::StatusCode;
use serde::Serialize;

use crate::clock::ServerInstant;
use crate::journal::Outcome;
use crate::reply::{Facts, Handled, Reply};
use crate::request::{Incoming, Param};
use crate::state::Core;

#[derive(Serialize)]
struct Verified {
    success: bool,
}

/// Logs a member in: verifies the credentials, picks the account (the requested one if the
/// user may use it, else the home account) and opens a session, or with `auth_only=1` only
/// verifies (no session, no tokens).
pub(crate) fn handle(core: &mut Core, req: &Incoming, now: ServerInstant) -> Handled {
    let facts = Facts::new(req.credentials().scheme(), Outcome::BadRequest);
    let params = match req.params() {
        Ok(p) => p,
        Err(e) => return Handled::body_error(e, facts),
    };
    let username = params.text("username");
    let password = params.text("password");
    let account = params.account_id("account_id");
    let auth_only = params.flag("auth_only");
    let facts = facts.user(username.clone().present());

    let mut bad = Vec::new();
    if !matches!(username, Param::Present(_)) {
        bad.push("username");
    }
    if !matches!(password, Param::Present(_)) {
        bad.push("password");
    }
    if account == Param::Invalid {
        bad.push("account_id");
    }
    if auth_only == Param::Invalid {
        bad.push("auth_only");
    }
    let (Param::Present(username), Param::Present(password)) = (username, password) else {
        return Handled::new(Reply::bad_params(&bad), facts);
    };
    if !bad.is_empty() {
        return Handled::new(Reply::bad_params(&bad), facts);
    }

    let Some(user) = core.users.authenticate(&username, &password) else {
        return Handled::new(
            Reply::failure(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password"),
            facts.outcome(Outcome::BadCredentials),
        );
    };
    if user.is_integrator() {
        // Bearer sessions are for members; integrators use the Integrator scheme (SPEC §1).
        return Handled::new(
            Reply::failure(
                StatusCode::FORBIDDEN,
                "integrator_cannot_login",
                "integrator users cannot log in; use the Integrator scheme",
            ),
            facts.outcome(Outcome::IntegratorCannotLogin),
        );
    }
    let account = match account {
        Param::Present(id) if user.may_use(id) => id,
        Param::Present(id) => {
            return Handled::new(
                Reply::failure(StatusCode::FORBIDDEN, "account_not_allowed", "the user may not use this account"),
                facts.account(Some(id)).outcome(Outcome::AccountNotAllowed),
            );
        }
        _ => user.home_account().unwrap_or_default(),
    };
    let facts = facts.account(Some(account));

    if auth_only == Param::Present(true) {
        return Handled::new(
            Reply::json(StatusCode::OK, &Verified { success: true }),
            facts.outcome(Outcome::Verified),
        );
    }

    let lifetimes = core.knobs.lifetimes();
    // The session keeps the directory's name, not the request's copy: what lives on after the
    // request is bounded by the configured users, never by what a client sent.
    let pair = core.sessions.create(user.username(), account, now, lifetimes);
    Handled::new(Reply::tokens(&pair, &core.clock, None), facts.generation(Some(pair.generation)).outcome(Outcome::Ok))
}

/// What can be told about a login without processing it (for faults applied before effect).
pub(crate) fn identify(req: &Incoming) -> Facts {
    let user = req.params().ok().and_then(|p| p.text("username").present());
    Facts::new(req.credentials().scheme(), Outcome::Ok).user(user)
}
