//! # auth-core: TeleTracker authentication as a Sans-IO state machine
//!
//! This crate holds all the authentication logic of a TeleTracker REST and RealTime client —
//! when to log in, when to refresh, what an answer means, which `Authorization` header a request
//! gets, what goes first on a RealTime socket — and none of the I/O. It never opens a socket,
//! never reads a clock, never sleeps and never spawns. You feed it the current time and the
//! responses you received; it hands back [`http::Request`]s to send, headers to attach, the next
//! instant it wants to be woken, and its token state. The adapters `auth-ureq` (blocking) and
//! `auth-reqwest` (async) are thin drivers around it; you can write your own for any HTTP stack.
//!
//! **In scope:** Bearer sessions (login, refresh with rotation, relogin, account switch by relogin
//! or masquerade), Basic and Integrator headers with the account rules, the RealTime handshake,
//! token snapshots for persistence. **Out of scope:** sending bytes, timers, locks, storage.
//!
//! The contract it implements is the project's `SPEC.md`; each rule cites its section there.
//!
//! ## The pieces
//!
//! - [`Config`]: validated configuration ([`Config::bearer`], [`Config::basic`],
//!   [`Config::integrator`]); mistakes are a [`ConfigError`] at construction.
//! - [`Session`]: the state machine. Commands ([`Session::authorize`],
//!   [`Session::switch_account`]), inputs (`handle_*`), outputs (`poll_*`).
//! - [`Coordinator`]: one session shared by many callers, with every decision of the sharing
//!   (see the run loop below).
//! - Tickets the session issues and nobody can copy or forge: a [`Credential`] becomes the
//!   [`Receipt`] that reports its request's answer once; a [`RetryPermit`] allows one resend; a
//!   [`SwitchTicket`] tells one caller how its account switch ended; a [`TokenGeneration`]
//!   names a token the session handed out.
//! - [`Secret`], [`Password`], [`BearerToken`], [`RefreshToken`]: values that redact their
//!   `Debug`, have no `Display` and are zeroed on drop.
//! - [`Snapshot`]: serde-persistable token state, which names the origin, user and pinned
//!   account it belongs to; [`Session::restore`] continues from one of its own, and refuses
//!   any other ([`RestoreError`]).
//! - [`Now`]: a reading of the driver's monotonic and wall clocks, the `now` of every call.
//! - [`realtime`]: the RealTime handshake (bearer only, by type: see
//!   [`BearerSession::realtime_auth`]).
//!
//! ## Token life (SPEC.md §3)
//!
//! A token's expiry is estimated from *our* clock: the moment its login/refresh request was
//! sent plus `tokenLifetime`. It is **fresh** until the refresh window, then **stale** — still
//! attached to requests while exactly one refresh runs — and **expired** shortly before its
//! estimated end, after which it is never attached and callers wait for a new one. See
//! [`RefreshPolicy`] for the numbers. Every refresh spends its refresh token for good.
//!
//! ## The run loop
//!
//! One session is usually shared by many callers (threads, tasks). A [`Coordinator`] holds it
//! and makes every decision of the sharing: which caller drives a login or refresh (exactly
//! one), who waits and how long at most, the steps of the store protocol, whether a stale token
//! is used now or refreshed first, the one resend after a 401/403, and how each caller's
//! account switch ended. A driver puts it behind a mutex, runs two small loops and does the
//! I/O they ask for; it never decides anything itself:
//!
//! - **A caller's loop**: [`Coordinator::poll_call`] says [`Step::Attach`] (attach the
//!   credential, send, report the answer), [`Step::Drive`] (run the exchange loop),
//!   [`Step::Wait`] (wait for a wake-up, at most that long), then [`Step::Ready`] or
//!   [`Step::Failed`].
//! - **The exchange loop** of the one caller that drives: [`Coordinator::poll_drive`] says
//!   [`DriveStep::LockStore`], [`LoadStore`](DriveStep::LoadStore), [`Save`](DriveStep::Save),
//!   [`Send`](DriveStep::Send), [`UnlockStore`](DriveStep::UnlockStore), then
//!   [`Done`](DriveStep::Done).
//! - After every input, [`Coordinator::poll_wake`] says whether to wake the waiters.
//!
//! The mutex is held only while the coordinator is asked or told something, never during I/O.
//! `now` is a [`Now`]: the driver's monotonic clock, which every schedule follows, and its wall
//! clock, which stamps snapshots (SPEC.md §3a). A plain `OffsetDateTime` converts into one.
//!
//! A complete thread-safe driver, with a store, over a fake server (a real one sends the
//! requests over HTTP and keeps the store in a file: the workspace's `tcp-driver` example):
//!
//! ```
//! use std::sync::{Condvar, Mutex, MutexGuard};
//! use auth_core::{Call, Config, Coordinator, Drive, DriveStep, Password, Session, Snapshot, Step};
//! use http::{Request, Response, StatusCode};
//! use time::OffsetDateTime;
//!
//! struct Driver {
//!     shared: Mutex<Coordinator>,
//!     changed: Condvar,
//!     store: Mutex<Option<Snapshot>>, // a file, a database: whatever the driver persists to
//! }
//!
//! impl Driver {
//!     fn now(&self) -> OffsetDateTime {
//!         OffsetDateTime::UNIX_EPOCH // a real driver reads its clocks here
//!     }
//!
//!     fn lock(&self) -> MutexGuard<'_, Coordinator> {
//!         self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
//!     }
//!
//!     /// An API request, with credentials: the caller's loop.
//!     fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, auth_core::AuthError> {
//!         let mut call = Call::request(request.uri().clone(), true, None);
//!         let mut answer = None;
//!         let mut shared = self.lock();
//!         loop {
//!             match shared.poll_call(&mut call, self.now()) {
//!                 Step::Attach(credential) => {
//!                     drop(shared); // never held during I/O
//!                     let mut attempt = request.clone();
//!                     let receipt = credential.attach(&mut attempt);
//!                     let response = fake_server(attempt);
//!                     shared = self.lock();
//!                     shared.handle_api_response(&mut call, receipt, response.status(), false, self.now());
//!                     answer = Some(response);
//!                 }
//!                 Step::Drive(drive) => {
//!                     drop(shared);
//!                     self.drive(drive);
//!                     shared = self.lock();
//!                 }
//!                 Step::Wait(at_most) => {
//!                     shared = self.changed.wait_timeout(shared, at_most).unwrap().0;
//!                 }
//!                 Step::Ready(_) => return Ok(answer.expect("a response was reported")),
//!                 Step::Failed(error) => return Err(error),
//!             }
//!             if shared.poll_wake() {
//!                 self.changed.notify_all();
//!             }
//!         }
//!     }
//!
//!     /// A login or refresh, with the store's protocol: the exchange loop.
//!     fn drive(&self, mut drive: Drive) {
//!         loop {
//!             let step = self.lock().poll_drive(&mut drive, self.now());
//!             match step {
//!                 // One process here: nobody else holds the store's lock. A file store would
//!                 // take its OS lock, waiting at most `_wait`.
//!                 DriveStep::LockStore(_wait) => {
//!                     let must_fail = self.lock().handle_store_lock(&mut drive, true);
//!                     assert!(!must_fail);
//!                 }
//!                 DriveStep::LoadStore => {
//!                     let stored = self.store.lock().unwrap().clone();
//!                     self.lock().handle_store_load(&mut drive, Ok(stored), self.now());
//!                 }
//!                 DriveStep::Save(snapshot) => *self.store.lock().unwrap() = Some(snapshot),
//!                 DriveStep::Send(auth) => {
//!                     let answer = fake_server(auth.into_request());
//!                     self.lock().handle_auth_response(&mut drive, Some(&answer), self.now());
//!                 }
//!                 DriveStep::UnlockStore => {}
//!                 DriveStep::Done => break,
//!             }
//!         }
//!         if self.lock().poll_wake() {
//!             self.changed.notify_all();
//!         }
//!     }
//! }
//!
//! /// Grants a token to any login, answers 200 to any API request.
//! fn fake_server(request: Request<Vec<u8>>) -> Response<Vec<u8>> {
//!     let body = match request.uri().path() {
//!         "/auth/login" => r#"{"success":true,"token":"t1","tokenLifetime":3600,"refreshToken":"r1"}"#,
//!         _ => "[]",
//!     };
//!     Response::new(body.as_bytes().to_vec())
//! }
//!
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret"))
//!     .build()?;
//! let session = Session::new(config, 42, OffsetDateTime::UNIX_EPOCH)?;
//! let driver = Driver {
//!     shared: Mutex::new(Coordinator::new(session, true)),
//!     changed: Condvar::new(),
//!     store: Mutex::new(None),
//! };
//! std::thread::scope(|threads| {
//!     for _ in 0..4 {
//!         threads.spawn(|| {
//!             let request = Request::get("https://api.teletracker.net/reports/call-data").body(Vec::new())?;
//!             let response = driver.send(request)?;
//!             assert_eq!(response.status(), StatusCode::OK);
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         });
//!     }
//! });
//! assert!(driver.store.lock().unwrap().is_some(), "the login was saved");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An async driver is the same two loops with a `std` mutex never held across an `.await` and a
//! `Notify` registered before each `poll_call`, in place of the condition variable. A driver
//! that stops driving early (an error, a panic, a cancelled task) reports
//! [`Coordinator::handle_drive_dropped`] from a drop guard and runs the remaining steps (saves
//! and the unlock); a caller that goes away with a credential out reports
//! [`Coordinator::release`]. If it cannot, the session gives an unanswered exchange up after
//! `auth_timeout` on its own.
//!
//! [`Session`] alone, without a coordinator, serves a single caller or a driver that wants to
//! make its own choices: the example below walks through its inputs and outputs.
//!
//! ## A complete example
//!
//! A session logs in, authorizes a request, refreshes when its token turns stale, and handles a
//! 401 — against a fake server, with time moved by hand:
//!
//! ```
//! use auth_core::{ApiVerdict, Authorization, Config, Exchange, Password, RetryAuthorization, Session};
//! use http::{Response, StatusCode};
//! use time::{Duration, OffsetDateTime};
//!
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret"))
//!     .build()?;
//! let mut now = OffsetDateTime::UNIX_EPOCH;
//! let mut session = Session::new(config, 42, now)?;
//! let uri = "https://api.teletracker.net/reports/call-data".parse()?;
//!
//! // The fake server's answer to any login or refresh: a new pair living an hour.
//! let grant = |n: u32| Response::new(format!(
//!     r#"{{"success":true,"token":"token-{n}","tokenLifetime":3600,"refreshToken":"refresh-{n}"}}"#
//! ));
//!
//! // 1. No token yet: the caller must drive a login.
//! assert!(matches!(session.authorize(&uri, now)?, Authorization::Pending));
//! let login = session.poll_transmit(now).expect("a login request");
//! assert_eq!(login.exchange(), Exchange::Login);
//! assert!(session.poll_transmit(now).is_none(), "single flight");
//! session.handle_response(login.id(), &grant(1), now);
//! while let Some(event) = session.poll_event() { /* persist TokensUpdated */ let _ = event; }
//!
//! // 2. Authorize an API request.
//! let Authorization::Ready(credential) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(credential.header(), "Bearer token-1");
//! let mut request = http::Request::get(&uri).body(())?;
//! let receipt = credential.attach(&mut request); // the receipt reports the answer, once
//! let verdict = session.handle_api_response(receipt, StatusCode::OK, now);
//! assert_eq!(verdict, ApiVerdict::Accept);
//!
//! // 3. 55 minutes later the token is stale: still attached, while one refresh runs.
//! now += Duration::minutes(55);
//! let Authorization::Ready(stale) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(stale.header(), "Bearer token-1");
//! let refresh = session.poll_transmit(now).expect("a refresh request");
//! assert_eq!(refresh.exchange(), Exchange::Refresh);
//! session.handle_response(refresh.id(), &grant(2), now);
//! let _ = session.handle_api_response(stale.attach(&mut request), StatusCode::OK, now);
//!
//! // 4. The API rejects the new token with a 401: the session drops it, refreshes, and the
//! //    caller retries once with a rebuilt header.
//! let Authorization::Ready(credential) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(credential.header(), "Bearer token-2");
//! let verdict = session.handle_api_response(credential.attach(&mut request), StatusCode::UNAUTHORIZED, now);
//! let ApiVerdict::RetryOnce(permit) = verdict else { unreachable!() };
//! let RetryAuthorization::Pending(permit) = session.authorize_retry(&uri, permit, now)? else { unreachable!() };
//! let refresh = session.poll_transmit(now).expect("a refresh request");
//! session.handle_response(refresh.id(), &grant(3), now);
//! let RetryAuthorization::Ready(retry) = session.authorize_retry(&uri, permit, now)? else { unreachable!() };
//! assert_eq!(retry.header(), "Bearer token-3");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod backoff;
mod bearer;
mod clock;
mod config;
mod coordinator;
mod error;
mod gate;
pub mod realtime;
mod request;
mod rng;
mod scrub;
mod secret;
mod session;
mod snapshot;
mod static_auth;
mod switch;
mod token;
mod trace;
pub mod verify;
mod wire;

pub use bearer::BearerSession;
pub use clock::Now;
pub use config::{
    AccountId, AccountSwitch, AuthEndpoints, BaseUrl, Config, ConfigBuilder, ConfigError, DEFAULT_BASE_URL,
    DEFAULT_MASQUERADE_PATH, RefreshPolicy, Scheme,
};
pub use coordinator::{Call, Coordinator, Drive, DriveStep, IDLE_WAIT, MAX_WAIT, Ready, Refusal, STORE_RETRY, Step};
pub use error::{AuthError, Malformed, ServerError, TransientCause};
pub use gate::{Gate, Target, UrlParts};
pub use request::{
    ApiVerdict, AuthRequest, Authorization, Credential, Event, Exchange, Ledger, Receipt, RequestId,
    RetryAuthorization, RetryPermit, Settled, TokenGeneration, rejects,
};
pub use secret::{BearerToken, Password, RefreshToken, Secret};
pub use session::{RestoreError, Session};
pub use snapshot::Snapshot;
pub use switch::SwitchTicket;
pub use token::TokenState;
pub use wire::MAX_AUTH_BODY;
