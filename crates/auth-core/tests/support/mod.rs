//! A simulated TeleTracker auth server and a hand-moved clock, for scenario tests.
//!
//! `Sim` owns a session, the current time, and a fake server that answers the session's auth
//! requests: by default with a fresh token pair, or with whatever a test scripts. It records
//! every request it saw, so tests assert what was sent, not just what was returned.
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};

use auth_core::{
    AccountId, ApiVerdict, AuthError, AuthRequest, Authorization, Config, ConfigBuilder, Credential, Event, Exchange,
    Password, Receipt, Session, Snapshot, SwitchTicket,
};
use http::{Response, StatusCode, Uri};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

pub const BASE: &str = "https://api.teletracker.net";
pub const PASSWORD: &str = "pw-secret-1234";

/// How the fake server answers one auth request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with a new token pair living this many seconds.
    Grant { lifetime: u64 },
    /// 200 with a new pair, and these server-side expirations relative to the server's now.
    GrantWithServerClock { lifetime: u64, server_offset: Duration, refresh_valid_for: Duration },
    /// Any status and body.
    Status(u16, &'static str),
    /// 429 (or 503) with `Retry-After: secs`.
    RetryAfter(u16, u64),
    /// The transport failed: `handle_failure`.
    Lost,
}

/// One auth request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub exchange: Exchange,
    pub at: OffsetDateTime,
    pub body: Value,
    pub bearer: Option<String>,
    pub uri: Uri,
}

pub struct Sim {
    pub session: Session,
    pub config: Config,
    pub now: OffsetDateTime,
    pub uri: Uri,
    pub script: VecDeque<Reply>,
    pub seen: Vec<Seen>,
    pub events: Vec<Event>,
    pub spent_refresh_tokens: HashSet<String>,
    issued: u32,
}

pub fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

pub fn bearer_config() -> ConfigBuilder {
    Config::bearer(BASE, "alice", Password::new(PASSWORD))
}

impl Sim {
    pub fn bearer() -> Sim {
        Sim::with(bearer_config())
    }

    pub fn with(builder: ConfigBuilder) -> Sim {
        let config = builder.build().unwrap();
        let session = Session::new(config.clone(), 7, start()).unwrap();
        Sim::around(session, config, start())
    }

    pub fn around(session: Session, config: Config, now: OffsetDateTime) -> Sim {
        Sim {
            session,
            config,
            now,
            uri: format!("{BASE}/reports/call-data").parse().unwrap(),
            script: VecDeque::new(),
            seen: Vec::new(),
            events: Vec::new(),
            spent_refresh_tokens: HashSet::new(),
            issued: 0,
        }
    }

    /// A session logged in once (one login answered with a one-hour token).
    pub fn logged_in() -> Sim {
        let mut sim = Sim::bearer();
        sim.login();
        sim
    }

    pub fn login(&mut self) {
        assert!(matches!(self.authorize(), Ok(Authorization::Pending)));
        assert_eq!(self.drive(), Some(Exchange::Login));
    }

    pub fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
        self.session.handle_timeout(self.now);
    }

    pub fn authorize(&mut self) -> Result<Authorization, AuthError> {
        let uri = self.uri.clone();
        self.session.authorize(&uri, self.now)
    }

    /// The credential for the next API request; panics if none is ready.
    pub fn ready(&mut self) -> Credential {
        match self.authorize() {
            Ok(Authorization::Ready(credential)) => credential,
            other => panic!("expected a ready credential, got {other:?}"),
        }
    }

    pub fn header(&mut self) -> String {
        let credential = self.ready();
        // These tests look at the header; report the call as done so no lease leaks.
        let header = credential.header().to_str().unwrap().to_owned();
        self.session.release(receipt(credential));
        header
    }

    /// Reports `credential`'s request answered with `status`.
    pub fn api_answer(&mut self, credential: Credential, status: StatusCode) -> ApiVerdict {
        self.session.handle_api_response(receipt(credential), status, self.now)
    }

    pub fn is_pending(&mut self) -> bool {
        matches!(self.authorize(), Ok(Authorization::Pending))
    }

    pub fn script(&mut self, replies: impl IntoIterator<Item = Reply>) {
        self.script.extend(replies);
    }

    /// Lets the session emit one auth request and answers it (scripted reply or a one-hour
    /// grant). Returns which exchange it was, or `None` if the session wanted none.
    pub fn drive(&mut self) -> Option<Exchange> {
        let request = self.emit()?;
        let exchange = request.exchange();
        let reply = self.script.pop_front().unwrap_or(Reply::Grant { lifetime: 3600 });
        self.answer(request, reply);
        Some(exchange)
    }

    /// Emits one auth request without answering it.
    pub fn emit(&mut self) -> Option<AuthRequest> {
        let request = self.session.poll_transmit(self.now)?;
        self.record(&request);
        Some(request)
    }

    /// Answers a request obtained from `emit`.
    pub fn answer(&mut self, request: AuthRequest, reply: Reply) {
        let id = request.id();
        let response = match reply {
            Reply::Lost => {
                self.session.handle_failure(id, self.now);
                self.drain_events();
                return;
            }
            Reply::Grant { lifetime } => self.grant(lifetime, Duration::ZERO, Duration::days(29)),
            Reply::GrantWithServerClock { lifetime, server_offset, refresh_valid_for } => {
                self.grant(lifetime, server_offset, refresh_valid_for)
            }
            Reply::Status(status, body) => Response::builder().status(status).body(body.as_bytes().to_vec()).unwrap(),
            Reply::RetryAfter(status, secs) => {
                Response::builder().status(status).header("retry-after", secs.to_string()).body(Vec::new()).unwrap()
            }
        };
        // SPEC.md §3: a refresh answered 429 or 503 was not processed; its token is still good.
        let status = response.status().as_u16();
        if request.exchange() == Exchange::Refresh && (status == 429 || status == 503) {
            self.spent_refresh_tokens.remove(body_of(&request)["refresh_token"].as_str().unwrap());
        }
        self.session.handle_response(id, &response, self.now);
        self.drain_events();
    }

    fn record(&mut self, request: &AuthRequest) {
        let body = body_of(request);
        if request.exchange() == Exchange::Refresh {
            let token = body["refresh_token"].as_str().unwrap().to_owned();
            assert!(self.spent_refresh_tokens.insert(token), "a consumed refresh token was sent again");
        }
        let bearer =
            request.request().headers().get(http::header::AUTHORIZATION).map(|v| v.to_str().unwrap().to_owned());
        self.seen.push(Seen {
            exchange: request.exchange(),
            at: self.now,
            body,
            bearer,
            uri: request.request().uri().clone(),
        });
    }

    fn grant(&mut self, lifetime: u64, server_offset: Duration, refresh_valid_for: Duration) -> Response<Vec<u8>> {
        self.issued += 1;
        let n = self.issued;
        let server_now = self.now + server_offset;
        let fmt = |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
        let body = serde_json::json!({
            "success": true,
            "guid": format!("guid-{n}"),
            "token": format!("tok-{n}-secret"),
            "tokenExpiration": fmt(server_now + Duration::seconds(lifetime as i64)),
            "tokenLifetime": lifetime,
            "refreshToken": format!("ref-{n}-secret"),
            "refreshTokenExpiration": fmt(server_now + refresh_valid_for),
        });
        Response::new(body.to_string().into_bytes())
    }

    pub fn drain_events(&mut self) {
        while let Some(event) = self.session.poll_event() {
            self.events.push(event);
        }
    }

    /// The last snapshot offered for persistence.
    pub fn persisted(&self) -> Option<Snapshot> {
        self.events.iter().rev().find_map(|e| match e {
            Event::TokensUpdated(s) => Some(s.clone()),
            _ => None,
        })
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.seen.iter().map(|s| s.exchange).collect()
    }

    pub fn switch(&mut self, account: u64) -> SwitchTicket {
        self.session.switch_account(AccountId(account), self.now).unwrap()
    }
}

pub fn body_of(request: &AuthRequest) -> Value {
    serde_json::from_slice(request.request().body()).unwrap()
}

pub fn ok() -> StatusCode {
    StatusCode::OK
}

/// The receipt of a credential attached to a request that goes nowhere.
pub fn receipt(credential: Credential) -> Receipt {
    credential.attach(&mut http::Request::new(()))
}
