//! `POST /auth/refresh` (SPEC §3): rotates both tokens; a used refresh token is dead.

use axum::http::StatusCode;

use crate::clock::ServerInstant;
use crate::journal::Outcome;
use crate::reply::{Facts, Handled, Reply};
use crate::request::{Incoming, Param};
use crate::sessions::RefreshCheck;
use crate::state::Core;

/// Rotates the session's pair if the refresh token is the live one.
pub(crate) fn handle(core: &mut Core, req: &Incoming, now: ServerInstant) -> Handled {
    let facts = Facts::new(req.credentials().scheme(), Outcome::BadRequest);
    let params = match req.params() {
        Ok(p) => p,
        Err(e) => return Handled::body_error(e, facts),
    };
    let Param::Present(refresh_token) = params.text("refresh_token") else {
        return Handled::new(Reply::bad_params(&["refresh_token"]), facts);
    };
    let check = core.sessions.check_refresh(&refresh_token, now);
    let facts = describe(&check, facts);
    let invalid = |outcome: Outcome, facts: Facts| {
        Handled::new(
            Reply::failure(StatusCode::UNAUTHORIZED, "invalid_refresh_token", "the refresh token is not valid"),
            facts.outcome(outcome),
        )
    };
    match check {
        RefreshCheck::Fresh(_) => {
            let lifetimes = core.knobs.lifetimes();
            match core.sessions.rotate(&refresh_token, now, lifetimes) {
                Some(pair) => Handled::new(
                    Reply::tokens(&pair, &core.clock, None),
                    facts.account(Some(pair.account)).generation(Some(pair.generation)).outcome(Outcome::Ok),
                ),
                None => invalid(Outcome::RefreshUnknown, facts),
            }
        }
        RefreshCheck::Reused(holder) => {
            if core.knobs.revoke_on_refresh_reuse {
                // Some servers treat reuse as theft and kill the whole session.
                core.sessions.revoke(&holder.guid);
            }
            invalid(Outcome::RefreshReused, facts)
        }
        RefreshCheck::Expired(_) => Handled::new(
            Reply::failure(StatusCode::UNAUTHORIZED, "refresh_token_expired", "the refresh token has expired"),
            facts.outcome(Outcome::RefreshExpired),
        ),
        RefreshCheck::Superseded(_) => invalid(Outcome::RefreshSuperseded, facts),
        RefreshCheck::Revoked(_) => invalid(Outcome::RefreshRevoked, facts),
        RefreshCheck::Unknown => invalid(Outcome::RefreshUnknown, facts),
    }
}

/// What can be told about a refresh without processing it (for faults applied before effect).
pub(crate) fn identify(core: &Core, req: &Incoming, now: ServerInstant) -> Facts {
    let facts = Facts::new(req.credentials().scheme(), Outcome::Ok);
    match req.params().ok().and_then(|p| p.text("refresh_token").present()) {
        Some(token) => describe(&core.sessions.check_refresh(&token, now), facts),
        None => facts,
    }
}

fn describe(check: &RefreshCheck, mut facts: Facts) -> Facts {
    facts.refresh_consumed = Some(matches!(check, RefreshCheck::Reused(_)));
    match check.holder() {
        Some(h) => facts.user(Some(h.user.clone())).account(Some(h.account)).generation(Some(h.generation)),
        None => facts,
    }
}
