//! The protected REST endpoints and how a request's account is resolved (SPEC §1), plus the
//! small unprotected endpoints (`/redirect`, 404).
//!
//! | credentials | account served |
//! |---|---|
//! | Bearer | the session's bound account; an `account_id` parameter must match it (or is ignored, per [`BearerAccountParam`]) |
//! | Basic, member | `account_id` if given and allowed (else 403); without it the home account of a single-account user, the **last** account of a multi-account user |
//! | Basic, integrator | 403 `wrong_scheme` |
//! | Integrator, integrator | `account_id` required (400) and must be allowed (403) |
//! | Integrator, member | 403 `wrong_scheme` |

use axum::http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::ServerInstant;
use crate::endpoint::API_CALLS;
use crate::journal::{AuthScheme, Outcome};
use crate::knobs::{BearerAccountParam, Knobs};
use crate::reply::{Facts, Handled, Reply};
use crate::request::{Credentials, Incoming, Param, UserPass};
use crate::sessions::TokenCheck;
use crate::state::Core;
use crate::users::{AccountNumber, User};

/// Who a protected request was served for; echoed as `served` so tests can assert on it.
#[derive(Debug, Serialize)]
struct Served {
    user: String,
    scheme: &'static str,
    account_id: AccountNumber,
    token_generation: Option<u64>,
}

#[derive(Serialize)]
struct ApiBody {
    success: bool,
    data: Vec<Value>,
    served: Served,
}

/// `GET /reports/call-data` and `POST /calls`.
pub(crate) fn handle(core: &Core, req: &Incoming, now: ServerInstant) -> Handled {
    let credentials = req.credentials();
    let facts = identify_credentials(core, &credentials, now);
    let params = match req.params() {
        Ok(p) => p,
        Err(e) => return Handled::body_error(e, facts),
    };
    let requested = params.account_id("account_id");
    let served = match credentials {
        Credentials::Absent => Err(Box::new(Handled::new(
            Reply::failure(StatusCode::UNAUTHORIZED, "missing_credentials", "send an Authorization header"),
            facts.outcome(Outcome::MissingCredentials),
        ))),
        Credentials::Malformed(_) => Err(Box::new(Handled::new(
            Reply::failure(
                StatusCode::UNAUTHORIZED,
                "invalid_authorization",
                "the Authorization header cannot be used",
            ),
            facts.outcome(Outcome::BadCredentials),
        ))),
        Credentials::Bearer(token) => bearer(core, &token, requested, now, facts),
        Credentials::Basic(up) => basic(core, &up, requested, facts),
        Credentials::Integrator(up) => integrator(core, &up, requested, facts),
    };
    let served = match served {
        Ok(served) => served,
        Err(rejected) => return *rejected,
    };
    let data = if req.path == API_CALLS {
        vec![json!({"call_id": 1, "account_id": served.account_id, "request": params.to_json()})]
    } else {
        vec![
            json!({"call_id": 1, "account_id": served.account_id, "duration_seconds": 42}),
            json!({"call_id": 2, "account_id": served.account_id, "duration_seconds": 7}),
        ]
    };
    let facts = Facts::new(scheme_of(served.scheme), Outcome::Ok)
        .user(Some(served.user.clone()))
        .account(Some(served.account_id))
        .generation(served.token_generation);
    Handled::new(Reply::json(StatusCode::OK, &ApiBody { success: true, data, served }), facts)
}

fn scheme_of(name: &str) -> AuthScheme {
    match name {
        "bearer" => AuthScheme::Bearer,
        "basic" => AuthScheme::Basic,
        _ => AuthScheme::Integrator,
    }
}

/// The response for a bearer token that is not valid (SPEC §2: expired tokens get 401 or 403;
/// the emulator answers every unusable token with the configured status).
pub(crate) fn reject_token(check: &TokenCheck, knobs: &Knobs, facts: Facts) -> Handled {
    let (outcome, error, message) = match check {
        TokenCheck::Expired(_) => (Outcome::ExpiredToken, "token_expired", "the token has expired"),
        TokenCheck::Superseded(_) => (Outcome::SupersededToken, "invalid_token", "the token is no longer valid"),
        TokenCheck::Revoked(_) => (Outcome::RevokedToken, "invalid_token", "the token is no longer valid"),
        TokenCheck::Valid(_) | TokenCheck::Unknown => (Outcome::UnknownToken, "invalid_token", "unknown token"),
    };
    Handled::new(Reply::failure(knobs.expired_status.status(), error, message), facts.outcome(outcome))
}

fn bearer(
    core: &Core,
    token: &str,
    requested: Param<AccountNumber>,
    now: ServerInstant,
    facts: Facts,
) -> Result<Served, Box<Handled>> {
    let check = core.sessions.check_token(token, now);
    let TokenCheck::Valid(holder) = check else {
        return Err(Box::new(reject_token(&check, &core.knobs, facts)));
    };
    if core.knobs.bearer_account_param == BearerAccountParam::MustMatch {
        match requested {
            Param::Present(id) if id != holder.account => {
                return Err(Box::new(Handled::new(
                    Reply::failure(StatusCode::FORBIDDEN, "account_mismatch", "the token is bound to another account"),
                    facts.outcome(Outcome::AccountMismatch),
                )));
            }
            Param::Invalid => {
                return Err(Box::new(Handled::new(Reply::bad_params(&["account_id"]), facts)));
            }
            _ => {}
        }
    }
    Ok(Served {
        user: holder.user,
        scheme: "bearer",
        account_id: holder.account,
        token_generation: Some(holder.generation),
    })
}

fn check_password<'a>(core: &'a Core, up: &UserPass, facts: &Facts) -> Result<&'a User, Box<Handled>> {
    core.users.authenticate(&up.username, &up.password).ok_or_else(|| {
        Box::new(Handled::new(
            Reply::failure(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password"),
            facts.clone().outcome(Outcome::BadCredentials),
        ))
    })
}

fn wrong_scheme(facts: Facts, message: &str) -> Handled {
    Handled::new(Reply::failure(StatusCode::FORBIDDEN, "wrong_scheme", message), facts.outcome(Outcome::WrongScheme))
}

fn not_allowed(facts: Facts, id: AccountNumber) -> Handled {
    Handled::new(
        Reply::failure(StatusCode::FORBIDDEN, "account_not_allowed", "the user may not use this account"),
        facts.account(Some(id)).outcome(Outcome::AccountNotAllowed),
    )
}

fn basic(core: &Core, up: &UserPass, requested: Param<AccountNumber>, facts: Facts) -> Result<Served, Box<Handled>> {
    let user = check_password(core, up, &facts)?;
    if user.is_integrator() {
        return Err(Box::new(wrong_scheme(facts, "integrators must use the Integrator scheme")));
    }
    let account = match requested {
        Param::Present(id) if user.may_use(id) => id,
        Param::Present(id) => return Err(Box::new(not_allowed(facts, id))),
        Param::Invalid => {
            return Err(Box::new(Handled::new(Reply::bad_params(&["account_id"]), facts)));
        }
        // SPEC §1: without account_id the server silently picks one of the user's accounts.
        Param::Missing => user.silent_pick().unwrap_or_default(),
    };
    Ok(Served { user: user.username().to_owned(), scheme: "basic", account_id: account, token_generation: None })
}

fn integrator(
    core: &Core,
    up: &UserPass,
    requested: Param<AccountNumber>,
    facts: Facts,
) -> Result<Served, Box<Handled>> {
    let user = check_password(core, up, &facts)?;
    if !user.is_integrator() {
        return Err(Box::new(wrong_scheme(facts, "only integrator users may use the Integrator scheme")));
    }
    let account = match requested {
        Param::Present(id) if user.may_use(id) => id,
        Param::Present(id) => return Err(Box::new(not_allowed(facts, id))),
        Param::Invalid => {
            return Err(Box::new(Handled::new(Reply::bad_params(&["account_id"]), facts)));
        }
        // SPEC §1: integrators must send account_id on every request.
        Param::Missing => {
            return Err(Box::new(Handled::new(
                Reply::bad_params(&["account_id"]),
                facts.outcome(Outcome::AccountRequired),
            )));
        }
    };
    Ok(Served { user: user.username().to_owned(), scheme: "integrator", account_id: account, token_generation: None })
}

/// What the credentials say about the caller, without judging them (read-only): the token's
/// holder for a bearer token this emulator issued, the claimed user name for Basic/Integrator.
pub(crate) fn identify_credentials(core: &Core, credentials: &Credentials, now: ServerInstant) -> Facts {
    let facts = Facts::new(credentials.scheme(), Outcome::Ok);
    match credentials {
        Credentials::Bearer(token) => match core.sessions.check_token(token, now).holder() {
            Some(h) => facts.user(Some(h.user.clone())).account(Some(h.account)).generation(Some(h.generation)),
            None => facts,
        },
        Credentials::Basic(up) | Credentials::Integrator(up) => facts.user(Some(up.username.clone())),
        Credentials::Absent | Credentials::Malformed(_) => facts,
    }
}

/// `GET /redirect?to=<absolute-url>`: 302 to `to`. Tests use it to check that clients do not
/// carry `Authorization` to another origin (start a second emulator as that origin and read
/// its journal).
pub(crate) fn redirect(core: &Core, req: &Incoming, now: ServerInstant) -> Handled {
    let facts = identify_credentials(core, &req.credentials(), now);
    let target = req.params().ok().and_then(|p| p.text("to").present());
    let location = target
        .filter(|t| t.starts_with("http://") || t.starts_with("https://"))
        .and_then(|t| HeaderValue::from_str(&t).ok());
    match location {
        Some(location) => Handled::new(Reply::empty(StatusCode::FOUND).with_header(header::LOCATION, location), facts),
        None => Handled::new(Reply::bad_params(&["to"]), facts.outcome(Outcome::BadRequest)),
    }
}

/// Any other path: 404.
pub(crate) fn not_found(core: &Core, req: &Incoming, now: ServerInstant) -> Handled {
    let facts = identify_credentials(core, &req.credentials(), now);
    Handled::new(
        Reply::failure(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
        facts.outcome(Outcome::NotFound),
    )
}
