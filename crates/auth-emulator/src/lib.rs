//! A local emulator of the TeleTracker auth API, for tests and demos.
//!
//! `auth-emulator` is a real HTTP/WebSocket server on `127.0.0.1` that speaks the auth surface
//! described in the project's SPEC.md: `POST /auth/login`, `POST /auth/refresh`, an account
//! masquerade, protected REST endpoints under Bearer, Basic and Integrator credentials, and the
//! RealTime WebSocket handshake. Tests start one in a line, drive it with any HTTP client,
//! bend it with knobs and scripted faults, and read back a journal of every request.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use auth_emulator::{Emulator, Endpoint, Fault, Outcome};
//! use serde_json::{Value, json};
//!
//! let emu = Emulator::start(); // background thread + runtime; works in #[test] and #[tokio::test]
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .http_status_as_error(false)
//!     .build()
//!     .into();
//! let login = |agent: &ureq::Agent| -> Value {
//!     agent.post(format!("{}/auth/login", emu.url()))
//!         .send_json(json!({"username": "bob", "password": "bob-password", "account_id": 2002}))
//!         .expect("login").body_mut().read_json().expect("JSON")
//! };
//! let tokens = login(&agent);
//! assert_eq!(tokens["tokenLifetime"], 3600);
//!
//! // Make the token expire without sleeping, then see the API refuse it.
//! emu.advance_clock(Duration::from_secs(3600));
//! let resp = agent.get(format!("{}/reports/call-data", emu.url()))
//!     .header("Authorization", format!("Bearer {}", tokens["token"].as_str().expect("token")))
//!     .call().expect("exchange");
//! assert_eq!(resp.status(), 401);
//! assert_eq!(emu.journal().pop().map(|e| e.outcome), Some(Outcome::ExpiredToken));
//!
//! // Script a 503 with Retry-After on the next login.
//! emu.inject(Endpoint::Login, Fault::unavailable(2));
//! let resp = agent.post(format!("{}/auth/login", emu.url()))
//!     .send_json(json!({"username": "bob", "password": "bob-password"}))
//!     .expect("exchange");
//! assert_eq!(resp.status(), 503);
//! assert_eq!(resp.headers()["retry-after"], "2");
//! assert_eq!(emu.logins_served(), 1);
//! ```
//!
//! [`Emulator::start`] binds `127.0.0.1:0`; [`Emulator::url`] and [`Emulator::ws_url`] give
//! the addresses. Dropping the [`Emulator`] stops the server gracefully (in-flight requests get
//! up to 2 s), closes open WebSockets and joins the thread; it is safe to drop inside a tokio
//! runtime. [`Emulator::builder`] configures everything that is also adjustable at runtime,
//! plus the bind address and the masquerade path.
//!
//! # Users
//!
//! The default [`Directory`] ([`Directory::demo`]) holds the users the demo relies on:
//!
//! | user | password | kind | accounts |
//! |---|---|---|---|
//! | `alice` | `alice-password` | member | 1001 |
//! | `bob` | `bob-password` | member, elevated | 2001 (home), 2002, 2003 |
//! | `integrator` | `integrator-password` | integrator | allowed: 1001, 2002 |
//!
//! Any other password is wrong. Build others with [`User::member`], [`User::integrator`],
//! [`User::with_accounts`] and [`User::elevated`], or load JSON with
//! [`Directory::from_json_file`] (the binary's `--users FILE`; format on
//! [`Directory::from_json`]).
//!
//! # Endpoints
//!
//! Bodies may be JSON or `application/x-www-form-urlencoded` (sniffed when the content type
//! is missing); query-string parameters are read too, the body winning on a clash. Every
//! failure is a JSON body with `"success": false` and an `error` code (or `errors`, the list of
//! bad parameters, for a 400). Malformed bodies get 400, multipart 415, bodies over 1 MiB 413,
//! unusable `Authorization` headers 401: bad input never panics.
//!
//! | endpoint | behaviour |
//! |---|---|
//! | `POST /auth/login` | `username`, `password`, optional `account_id` (number or numeric string), optional `auth_only` (`1`: `{"success":true}`, no session). Success: the SPEC §2 fields in the vendor's order. Wrong password 401 `invalid_credentials`; account not allowed 403; integrators 403 (bearer sessions are for members); missing parameters 400. Without `account_id` the session is bound to the home account. |
//! | `POST /auth/refresh` | `refresh_token`. Rotates **both** tokens; the old bearer token and the old refresh token die (one live pair per session), the session keeps its account and `guid`. Used token 401 `invalid_refresh_token`, expired 401 `refresh_token_expired`, unknown/revoked 401 `invalid_refresh_token`. Each new refresh token gets a full lifetime (sliding). |
//! | `POST /auth/masquerade` | path configurable ([`EmulatorBuilder::masquerade_path`]). `Authorization: Bearer`, body `account_id`. Rebinds the session; answers `{"success":true,"account_id":N}`, or with [`MasqueradeMode::IssueTokens`] a fresh pair (login fields plus `account_id`) that kills the old pair. Not allowed 403; unusable token: the expired-token status. |
//! | `GET /reports/call-data`, `POST /calls` | protected; accept Bearer, Basic and Integrator (see below). Answer `{"success":true,"data":[...],"served":{"user","scheme","account_id","token_generation"}}` so tests can see who was served how. `POST /calls` echoes its parameters in `data[0].request`. |
//! | `GET /redirect?to=<absolute-url>` | 302 to `to`. Start a second emulator as the foreign origin and read its journal to see whether a client carried `Authorization` across origins. |
//! | `GET /`, `GET /realtime` | the RealTime WebSocket (below); a plain GET gets 426. |
//!
//! Unknown paths get 404 and wrong methods 405, journaled like everything else.
//!
//! ## Account resolution (SPEC §1)
//!
//! | credentials | account served |
//! |---|---|
//! | Bearer | the session's bound account. An `account_id` parameter must equal it or the request gets 403 `account_mismatch` ([`BearerAccountParam::MustMatch`], the default, which makes a request racing an account switch visible); [`BearerAccountParam::Ignore`] ignores it. |
//! | Basic (member) | `account_id` from the query or body if present and allowed (else 403); without it the home account of a single-account user, and the **last** account of a multi-account user ([`User::silent_pick`]): SPEC §1's "silent pick", chosen so it visibly differs from the home account. |
//! | Integrator | `account_id` required (400 `errors:["account_id"]`) and in the allow list (403). |
//! | Basic with integrator credentials, Integrator with member credentials | 403 `wrong_scheme`. |
//!
//! Missing credentials and wrong passwords get 401. Expired, superseded, revoked and unknown
//! bearer tokens all get the **expired-token status**: 401 by default, 403 with
//! [`ExpiredTokenStatus::Forbidden`] (SPEC §2 names both). The `error` field says
//! `token_expired` or `invalid_token`; the journal tells the cases apart.
//!
//! # Time
//!
//! - [`Emulator::advance_clock`] moves the server's "now" forward. Tokens expire on real time
//!   plus the advances, so tests never sleep for an expiry. Reported timestamps move with it
//!   (the server's clock really is ahead then).
//! - [`EmulatorBuilder::clock_offset`] / [`Emulator::set_clock_offset`] shift only the reported
//!   `tokenExpiration`/`refreshTokenExpiration` (RFC 3339, `+00:00`), so they disagree with
//!   `tokenLifetime` the way a server with a wrong clock would (SPEC §3's clock rule). Actual
//!   validity does not change.
//! - Lifetimes: [`EmulatorBuilder::token_lifetime`] (default 3600 s) and
//!   [`EmulatorBuilder::refresh_token_lifetime`] (default 29 days); runtime setters apply to
//!   tokens issued afterwards. `tokenLifetime` is reported in whole seconds.
//! - Latency: [`Emulator::set_latency`] for every request, [`Emulator::set_endpoint_latency`]
//!   per [`Endpoint`] (which wins where set).
//! - Time on the wire in a test's own clock: [`Emulator::on_request`] runs a hook when a
//!   request to an endpoint arrives, e.g. to advance a manual clock while a refresh is "in
//!   flight" (how the conformance suite makes an answer arrive late without sleeping).
//!
//! # Faults
//!
//! [`Emulator::inject`] queues a [`Fault`] for the next request(s) to an [`Endpoint`]; each
//! endpoint's queue is consumed in order and `fault.times(n)` repeats one. A fault is applied
//! either **before** the request has any effect, or **after** it (the server did the work, the
//! response is lost or mangled). Defaults:
//!
//! | fault | response | default timing |
//! |---|---|---|
//! | [`Fault::Status`] | that status, JSON failure body | before |
//! | [`Fault::RetryAfter`], [`Fault::rate_limited`], [`Fault::unavailable`] | 429/503 with `Retry-After` | before (always, on refresh) |
//! | [`Fault::SuccessFalse`] | 200 with `{"success":false,...}` | before |
//! | [`Fault::GarbageBody`] | 200, bytes that are neither JSON nor UTF-8 | after |
//! | [`Fault::TruncatedBody`] | 200, the real JSON body cut in half (correct `Content-Length`) | after |
//! | [`Fault::OversizedBody`] | 200, the real JSON body padded to 128 KiB (valid JSON, over SPEC §5's 64 KiB) | after |
//! | [`Fault::DropConnection`] | the TCP connection is closed with no HTTP response | after |
//! | [`Fault::EchoCredentials`] | that status, a JSON failure body whose `message` repeats the presented credentials in one [`EchoEncoding`] (raw, JSON-escaped, URL-encoded, base64) | before |
//!
//! So a refresh whose response is lost has **rotated** server-side: its refresh token is
//! consumed and reusing it fails, which is the case SPEC §3's rotation-safety rule is about.
//! A refused refresh (`Status`, `RetryAfter`, `SuccessFalse`) does not rotate by default.
//! Override per plan with [`FaultPlan::before_effect`] and [`FaultPlan::after_effect`], with
//! one exception: a fault that answers **429 or 503 on [`Endpoint::Refresh`]**
//! (`Fault::rate_limited`, `Fault::unavailable`, `Fault::Status(429)`, `Fault::Status(503)`,
//! any `RetryAfter` with those codes) is always applied before the effect, even under
//! `after_effect()`: SPEC §3 ("429 and 503 on refresh") says the server did not process such a
//! refresh, so the presented refresh token stays valid and may be sent again. The journal's
//! [`InjectedFault::timing`] records the timing actually applied.
//!
//! On [`Endpoint::Realtime`], `Status`, `RetryAfter` and `DropConnection` hit the HTTP upgrade;
//! the body faults replace the `authresponse` message (the socket is authenticated anyway and
//! stays open, except after `SuccessFalse` and `EchoCredentials`, which close it).
//! `EchoCredentials` answers `success:false` with the presented token echoed in `error`.
//!
//! [`Fault::EchoCredentials`] plays a server that repeats secrets in its errors, the case SPEC
//! §5's redaction rule is about: `Fault::EchoCredentials { status: 401, encoding:
//! EchoEncoding::Json }` on [`Endpoint::Login`] answers `"message":"auth-emulator echoes
//! password <the password JSON-escaped>; credentials <user:password JSON-escaped>"`. Text
//! encodings echo every credential (password, `user:password`, refresh token, bearer token);
//! the base64 ones only the password and `user:password`. Try [`EchoEncoding::ALL`].
//!
//! Server-side revocation: [`Emulator::revoke_session_of`] and [`Emulator::revoke_all`] make
//! the sessions' bearer tokens get the expired-token status and kill their refresh tokens.
//! [`EmulatorBuilder::revoke_session_on_refresh_reuse`] makes a reused refresh token revoke its
//! whole session, as some servers do.
//!
//! # Journal
//!
//! [`Emulator::journal`] returns a [`JournalEntry`] per request: time, method, path, query,
//! whether an `Authorization` header was present, the [`AuthScheme`], user, account, token
//! generation (1 for the login token, +1 per rotation), the [`Outcome`], the injected fault,
//! the status (`None` for a dropped connection) and, for refreshes, whether the presented
//! refresh token had already been consumed.
//!
//! Its memory is bounded whatever clients send, so a long-running emulator (the binary,
//! `ttauth emulator`) cannot be made to grow without end: text fields of client-chosen length
//! (method, path, query, user) are cut to [`JOURNAL_FIELD_MAX_BYTES`] (256) on a character
//! boundary, end in `…` and set [`JournalEntry::truncated`]; and the entries kept are capped at
//! [`DEFAULT_JOURNAL_BYTE_BUDGET`] (8 MiB), oldest dropped first. Change the cap with
//! [`EmulatorBuilder::journal_byte_budget`] (and the number of entries with
//! [`EmulatorBuilder::journal_limit`]); [`Emulator::journal_bytes`] and
//! [`Emulator::journal_dropped`] show where it stands.
//!
//! The counters [`Emulator::count`], [`Emulator::logins_served`],
//! [`Emulator::refreshes_served`] and [`Emulator::consumed_refresh_token_reuses`] are running
//! totals over every request, so dropped entries never change them;
//! [`Emulator::count_where`] counts the entries kept. [`Emulator::max_concurrent_auth`] is the
//! highest number of login/refresh/masquerade requests in progress at once (add latency to
//! widen the window). [`Emulator::clear_journal`] resets all of these.
//!
//! # RealTime
//!
//! Connect to [`Emulator::ws_url`] (or `/realtime`). The first message must be
//! `{"type":"authrequest","token":"<bearer>"}`; the answer is
//! `{"type":"authresponse","success":true}`, or `success:false` with `error`
//! (`invalid_token`, `token_expired`, `expected_authrequest`) followed by a close. Then:
//!
//! | request | response |
//! |---|---|
//! | `startusereventrequest` / `stopusereventrequest` | `startusereventresponse` / `stopusereventresponse` |
//! | `startaccounteventrequest` / `stopaccounteventrequest` | `startaccounteventresponse` (`success:false`, `not_elevated`, unless the user is elevated) / `stopaccounteventresponse` |
//!
//! Events: [`Emulator::emit_user_event`] and [`Emulator::emit_account_event`] send
//! `userevent`/`accountevent` messages to sockets with the stream started (an object payload
//! gets its `type` set; anything else is wrapped as `data`), and [`Emulator::set_event_interval`]
//! emits them on a timer. A socket stays authenticated until it closes even if its token
//! expires or is revoked (SPEC §6 leaves this open); [`Emulator::close_realtime_of`] closes
//! sockets so a test can exercise reconnects. One journal entry is written per socket, when
//! its first message has been judged.
//!
//! A socket's memory is bounded. Incoming messages over 1 MiB end the connection. Events and
//! closes wait in a queue of at most 1,024 messages per socket; a client that stops reading
//! fills it, and then the socket is **closed**, not left open with events silently dropped:
//! the event that did not fit is not counted by [`Emulator::emit_user_event`], the socket is
//! unregistered, and after what the client had not read yet comes a close frame with code
//! 1008 and the reason `outgoing queue full: the client stopped reading` (if the client reads
//! again within 5 s; otherwise the connection is dropped).
//!
//! # The binary
//!
//! `cargo run -p auth-emulator -- --port 8080` prints the REST and WebSocket URLs and the
//! users, and runs until Ctrl-C. `--help` lists the flags: `--users FILE`,
//! `--token-lifetime SECS`, `--refresh-token-lifetime SECS`, `--expired-status 401|403`,
//! `--clock-offset SECS`, `--latency-ms MS`, `--masquerade-path PATH`,
//! `--masquerade-issues-tokens`, `--ignore-bearer-account-id`, `--event-interval-ms MS`,
//! `--journal-limit N` (default 10,000 entries), `--journal-bytes BYTES` (default
//! [`DEFAULT_JOURNAL_BYTE_BUDGET`]). Library users who do not want clap can turn off the
//! default `cli` feature.
//!
//! # Assumptions
//!
//! Where the vendor's documentation is silent the emulator makes a choice, and a knob where
//! tests might need the other one. None of these is a claim about the real server:
//! masquerade's path, body and response; the reused-refresh-token status and body (401
//! `invalid_refresh_token`); the Basic silent pick (last account); Bearer `account_id`
//! handling; integrators being unable to log in; the `guid` being the session id; sliding
//! refresh-token expiry; error codes in failure bodies; RealTime behaviour on token expiry;
//! the event message shapes.
//!
//! Limits: plain HTTP/1.1 and `ws://` only (no TLS, no HTTP/2), no multipart bodies, and the
//! journal keeps only its newest entries (see [Journal](#journal)).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
mod clock;
mod echo;
mod endpoint;
mod faults;
mod handle;
mod journal;
mod knobs;
mod login;
mod masquerade;
mod realtime;
mod refresh;
mod reply;
mod request;
mod server;
mod sessions;
mod state;
mod users;

pub use echo::EchoEncoding;
pub use endpoint::Endpoint;
pub use faults::{Fault, FaultPlan, FaultTiming, InjectedFault};
pub use handle::{Emulator, EmulatorBuilder};
pub use journal::{AuthScheme, DEFAULT_JOURNAL_BYTE_BUDGET, JOURNAL_FIELD_MAX_BYTES, JournalEntry, Outcome};
pub use knobs::{
    BearerAccountParam, DEFAULT_REFRESH_TOKEN_LIFETIME, DEFAULT_TOKEN_LIFETIME, ExpiredTokenStatus, MasqueradeMode,
};
pub use sessions::SessionInfo;
pub use users::{AccountNumber, Directory, Role, User, UsersFileError};

/// The README's examples, compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
