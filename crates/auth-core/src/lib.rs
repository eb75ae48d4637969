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
//! For each API request, a driver does this (one lock around the session, one wake-up for
//! waiters):
//!
//! 1. `session.authorize(uri, now)`:
//!    - `Ready(credential)`: `credential.apply(&mut request)`, send it (outside the lock).
//!    - `Pending`: go to step 3, then back to 1.
//!    - `Err(e)`: return the error; nothing was sent.
//! 2. After the API answers: `session.handle_api_response(credential.generation(), status, now)`.
//!    On [`ApiVerdict::RetryOnce`], if this was the first attempt and the body is replayable,
//!    go back to 1 once. A second rejection is returned to the caller as it is.
//! 3. Drive auth: `session.poll_transmit(now)`. If it yields an [`AuthRequest`], drain
//!    `poll_event()` and persist [`Event::TokensUpdated`] (a refresh spends its token from
//!    here on), report `handle_handoff(id, now)` as the request goes to the transport (its
//!    deadline runs from there), send it (outside the lock), then
//!    `handle_response(id, &response, now)` or `handle_failure(id, now)`, drain and persist
//!    again, and wake the waiters. If it yields nothing, another caller is driving: wait
//!    until woken or until `poll_timeout()`.
//!
//! Also call `poll_transmit` after a `Ready` answer: when the token is stale it yields the
//! refresh, which the caller can send after (or beside) its own request.
//!
//! `now` is a [`Now`]: the driver's monotonic clock, which every schedule follows, and its
//! wall clock, which stamps snapshots (SPEC.md §3a). A plain `OffsetDateTime` converts into
//! one (both readings equal), as in the example below.
//!
//! A synchronous driver, sketched:
//!
//! ```text
//! loop {
//!     let mut session = shared.lock();
//!     match session.authorize(request.uri(), clock.now())? {
//!         Authorization::Ready(credential) => { drop(session); return send(credential) }
//!         Authorization::Pending => match session.poll_transmit(clock.now()) {
//!             Some(auth) => { persist_events(&mut session);
//!                             if !session.handle_handoff(auth.id(), clock.now()) { continue }
//!                             drop(session); let answer = http.send(auth.request());
//!                             let mut session = shared.lock();
//!                             match answer { Ok(r) => session.handle_response(auth.id(), &r, clock.now()),
//!                                            Err(_) => session.handle_failure(auth.id(), clock.now()) }
//!                             persist_events(&mut session); condvar.notify_all(); }
//!             None => { condvar.wait_until(session, session.poll_timeout()); }
//!         },
//!     }
//! }
//! ```
//!
//! An async driver is the same loop with an async mutex (or a `std` mutex never held across an
//! `.await`) and a `Notify` in place of the condition variable. A driver that is cancelled while
//! it holds an auth request must report `handle_failure` (a drop guard does it); if it cannot,
//! the session gives the request up after `auth_timeout` on its own.
//!
//! ## A complete example
//!
//! A session logs in, authorizes a request, refreshes when its token turns stale, and handles a
//! 401 — against a fake server, with time moved by hand:
//!
//! ```
//! use auth_core::{ApiVerdict, Authorization, Config, Exchange, Password, Session};
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
//! let verdict = session.handle_api_response(credential.generation(), StatusCode::OK, now);
//! assert_eq!(verdict, ApiVerdict::Accept);
//!
//! // 3. 55 minutes later the token is stale: still attached, while one refresh runs.
//! now += Duration::minutes(55);
//! let Authorization::Ready(stale) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(stale.header(), "Bearer token-1");
//! let refresh = session.poll_transmit(now).expect("a refresh request");
//! assert_eq!(refresh.exchange(), Exchange::Refresh);
//! session.handle_response(refresh.id(), &grant(2), now);
//! let _ = session.handle_api_response(stale.generation(), StatusCode::OK, now);
//!
//! // 4. The API rejects the new token with a 401: the session drops it, refreshes, and the
//! //    caller retries once with a rebuilt header.
//! let Authorization::Ready(credential) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(credential.header(), "Bearer token-2");
//! let verdict = session.handle_api_response(credential.generation(), StatusCode::UNAUTHORIZED, now);
//! assert_eq!(verdict, ApiVerdict::RetryOnce);
//! assert!(matches!(session.authorize(&uri, now)?, Authorization::Pending));
//! let refresh = session.poll_transmit(now).expect("a refresh request");
//! session.handle_response(refresh.id(), &grant(3), now);
//! let Authorization::Ready(retry) = session.authorize(&uri, now)? else { unreachable!() };
//! assert_eq!(retry.header(), "Bearer token-3");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod bearer;
mod clock;
mod config;
mod error;
pub mod realtime;
mod request;
mod rng;
mod scrub;
mod secret;
mod session;
mod snapshot;
mod static_auth;
mod token;
pub mod verify;
mod wire;

pub use bearer::BearerSession;
pub use clock::Now;
pub use config::{
    AccountId, AccountSwitch, BaseUrl, Config, ConfigBuilder, ConfigError, DEFAULT_BASE_URL, DEFAULT_MASQUERADE_PATH,
    RefreshPolicy, Scheme,
};
pub use error::{AuthError, Malformed, ServerError, TransientCause};
pub use request::{ApiVerdict, AuthRequest, Authorization, Credential, Event, Exchange, RequestId, TokenGeneration};
pub use secret::{BearerToken, Password, RefreshToken, Secret};
pub use session::{RestoreError, Session};
pub use snapshot::Snapshot;
pub use static_auth::StaticAuth;
pub use token::TokenState;
pub use wire::MAX_AUTH_BODY;
