//! The fake auth server of the model tests, shared by every process the models run: it issues
//! token pairs (`tok-<n>-secret`, `ref-<n>-secret`), knows when each was asked for and which
//! account it serves, and records every refresh token presented to it, whoever presents it.
//!
//! A request changes the server's state (rotates a pair, rebinds an account) only when its
//! answer reaches a client that still waits for it: an answer that is lost, or that comes
//! after the client gave the request up, is one the client cannot know about either way.
#![allow(dead_code)]

use std::collections::HashSet;

use auth_core::{AccountId, AuthRequest, Exchange};
use http::{Response, StatusCode};
use time::{Duration, OffsetDateTime};

/// How the server answers an auth request.
#[derive(Clone, Debug)]
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
pub enum Answer {
    Grant {
        lifetime: u64,
        server_offset_h: i64,
    },
    MasqueradeOk,
    Status(u16),
    RetryAfter(u16, u64),
    SuccessFalse,
    Garbage,
    Truncated,
    Oversized,
    /// Transport failure, reported.
    Lost,
    /// Never reported: the client must give it up by itself.
    Vanished,
}

impl Answer {
    /// A failure that may pass: the token in service must survive it.
    pub fn is_transient(&self) -> bool {
        match self {
            Answer::Status(s) | Answer::RetryAfter(s, _) => *s >= 500 || *s == 429 || *s == 408,
            Answer::Garbage | Answer::Truncated | Answer::Oversized | Answer::Lost => true,
            _ => false,
        }
    }

    /// A rejection: of a login, final.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Answer::Status(400 | 401 | 403) | Answer::SuccessFalse)
    }

    /// 429 and 503 say the request was not processed (SPEC.md §3).
    fn unprocessed(&self) -> bool {
        matches!(self, Answer::Status(429 | 503) | Answer::RetryAfter(429 | 503, _))
    }
}

/// What the server knows of a pair it issued.
#[derive(Debug)]
pub struct Pair {
    /// When the client sent the request that obtained it.
    pub sent_at: OffsetDateTime,
    pub lifetime: u64,
    /// The account it acts on (`None`: the user's default).
    pub account: Option<AccountId>,
}

#[derive(Debug, Default)]
pub struct Server {
    /// Pair `n` at index `n - 1`.
    pairs: Vec<Pair>,
    /// Every refresh token presented, as far as anyone can know consumed.
    consumed: HashSet<String>,
    /// Masquerades answered without tokens: each moves a client's generation on too.
    pub masquerades: u32,
    /// Every secret issued, to look for in `Debug` output.
    pub secrets: Vec<String>,
}

/// The number of the pair a token or refresh token belongs to.
fn number(secret: &str) -> Option<usize> {
    secret.strip_suffix("-secret")?.split('-').nth(1)?.parse().ok()
}

pub fn body(request: &AuthRequest) -> serde_json::Value {
    serde_json::from_slice(request.request().body()).unwrap()
}

impl Server {
    /// How many pairs the server issued.
    pub fn grants(&self) -> u32 {
        self.pairs.len() as u32
    }

    /// The pair `token` belongs to, if the server issued it.
    pub fn pair(&self, token: &str) -> Option<&Pair> {
        self.pairs.get(number(token)?.checked_sub(1)?)
    }

    /// The instant from which the client must no longer send `token` (its cutoff).
    pub fn cutoff(&self, token: &str) -> OffsetDateTime {
        let pair = self.pair(token).expect("a token the server issued");
        let lifetime = pair.lifetime as f64;
        let margin = (10.0f64).min(lifetime * 0.10);
        pair.sent_at + Duration::seconds_f64(lifetime - margin)
    }

    /// The request reaches the server. A refresh token is good for one refresh: presenting
    /// one already presented is the violation of rotation safety (SPEC.md §3), by any client.
    pub fn receive(&mut self, request: &AuthRequest) {
        if request.exchange() == Exchange::Refresh {
            let token = body(request)["refresh_token"].as_str().unwrap().to_owned();
            assert!(self.consumed.insert(token.clone()), "refresh token {token} presented twice");
        }
    }

    /// The answer to `request`, sent at `sent_at`, arriving at `now`; `heard`: the client still
    /// waits for it. `None`: no answer (lost, or never coming).
    pub fn respond(
        &mut self,
        request: &AuthRequest,
        answer: &Answer,
        sent_at: OffsetDateTime,
        now: OffsetDateTime,
        heard: bool,
    ) -> Option<Response<Vec<u8>>> {
        // A refresh answered 429 or 503 was not processed: its token is still good (SPEC.md §3).
        if answer.unprocessed() && request.exchange() == Exchange::Refresh {
            self.consumed.remove(body(request)["refresh_token"].as_str().unwrap());
        }
        Some(match answer {
            Answer::Lost | Answer::Vanished => return None,
            Answer::Grant { lifetime, server_offset_h } => {
                let account = self.account_granted(request);
                self.grant(sent_at, now, *lifetime, *server_offset_h, account)
            }
            Answer::MasqueradeOk => {
                if let (Exchange::Masquerade(account), true) = (request.exchange(), heard) {
                    self.masquerades += 1;
                    // The token is kept, and now acts on the account (with its refresh token).
                    if let Some(pair) = bearer(request).and_then(|token| number(&token)) {
                        self.pairs[pair - 1].account = Some(account);
                    }
                }
                ok(r#"{"success":true}"#.to_owned())
            }
            Answer::Status(status) => status_response(*status, r#"{"success":false,"error":"nope"}"#, None),
            Answer::RetryAfter(status, secs) => status_response(*status, "", Some(*secs)),
            Answer::SuccessFalse => ok(r#"{"success":false,"message":"no"}"#.to_owned()),
            Answer::Garbage => ok("\u{1}garbage<html>".to_owned()),
            Answer::Truncated => ok(r#"{"success":true,"token":"tok-x","tokenLif"#.to_owned()),
            Answer::Oversized => ok(format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024))),
        })
    }

    /// The account a new pair for `request` acts on.
    fn account_granted(&self, request: &AuthRequest) -> Option<AccountId> {
        let body = body(request);
        match request.exchange() {
            Exchange::Login => body["account_id"].as_u64().map(AccountId),
            Exchange::Masquerade(account) => Some(account),
            Exchange::Refresh => {
                let refresh = body["refresh_token"].as_str().unwrap();
                self.pair(refresh).and_then(|pair| pair.account)
            }
        }
    }

    fn grant(
        &mut self,
        sent_at: OffsetDateTime,
        now: OffsetDateTime,
        lifetime: u64,
        server_offset_h: i64,
        account: Option<AccountId>,
    ) -> Response<Vec<u8>> {
        // Mirror the core's one-year clamp, and keep server clocks within two days.
        let lifetime = lifetime.min(365 * 86_400);
        let server_offset_h = server_offset_h.clamp(-48, 48);
        self.pairs.push(Pair { sent_at, lifetime, account });
        let n = self.pairs.len();
        let token = format!("tok-{n}-secret");
        let refresh = format!("ref-{n}-secret");
        self.secrets.extend([token.clone(), refresh.clone()]);
        let server_now = now + Duration::hours(server_offset_h);
        let rfc = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
        let body = serde_json::json!({
            "success": true, "token": token, "tokenLifetime": lifetime,
            "tokenExpiration": rfc(server_now + Duration::seconds(lifetime as i64)),
            "refreshToken": refresh, "refreshTokenExpiration": rfc(server_now + Duration::days(29)),
        });
        ok(body.to_string())
    }
}

/// The bearer token a request carries (a masquerade's).
fn bearer(request: &AuthRequest) -> Option<String> {
    let header = request.request().headers().get(http::header::AUTHORIZATION)?;
    Some(header.to_str().ok()?.strip_prefix("Bearer ")?.to_owned())
}

fn ok(body: String) -> Response<Vec<u8>> {
    Response::new(body.into_bytes())
}

fn status_response(status: u16, body: &str, retry_after: Option<u64>) -> Response<Vec<u8>> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder().status(status);
    if let Some(secs) = retry_after {
        builder = builder.header("retry-after", secs.to_string());
    }
    builder.body(body.as_bytes().to_vec()).unwrap()
}

/// Counts an auth request sent at `now` and checks invariant 6: at most 8 at one instant.
/// Every request must be answered for the next one to go out, so a loop needs the server's
/// help; what is bounded is the run between two tokens that arrive fresh (or two commands):
/// tokens stale on arrival and rejected refreshes end in a backoff.
pub fn count_request_at(counter: &mut (OffsetDateTime, u32), now: OffsetDateTime) {
    if counter.0 == now {
        counter.1 += 1;
    } else {
        *counter = (now, 1);
    }
    assert!(counter.1 <= 8, "auth request loop at one instant");
}
