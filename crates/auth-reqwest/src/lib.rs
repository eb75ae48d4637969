//! # auth-reqwest: TeleTracker authentication for async reqwest clients
//!
//! An async driver for [`auth_core`], the Sans-IO TeleTracker auth state machine, on
//! [reqwest](https://docs.rs/reqwest) 0.13. It carries out the core's I/O — logins,
//! refreshes, account switches, the store's lock — and shares one session safely between any
//! number of tasks:
//!
//! - [`Client`]: sends your API requests with credentials ([`Client::send`] with `http` types,
//!   [`Client::execute`] with reqwest's), retries a 401/403 once with a fresh token, hands out
//!   bearer tokens and RealTime handshakes, switches accounts.
//! - [`AuthMiddleware`]: the same session as a [`reqwest_middleware::Middleware`], for a
//!   middleware stack you already have ([`Client::middleware`]).
//! - [`http_client_builder`]: the default `reqwest::Client` set-up (rustls on `ring`, a
//!   redirect policy that never redirects an auth request), to tune and hand back.
//!
//! ## Example
//!
//! Everything an application names comes from this crate (see [One dependency](#one-dependency));
//! add Tokio for the runtime.
//!
//! ```
//! use auth_reqwest::{Client, Config, Password, http, reqwest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = auth_emulator::Emulator::start(); // the doc test's own TeleTracker
//! # let api = emulator.url();
//! # let session_file = std::env::temp_dir().join(format!("auth-reqwest-doc-{}/session.json", std::process::id()));
//! // `api` is the production API, "https://api.teletracker.net" (`auth_reqwest::DEFAULT_BASE_URL`),
//! // or a local `auth-emulator` in tests (as here); the password comes from your secret store.
//! let config = Config::bearer(&api, "alice", Password::new("alice-password")).build()?;
//! // Your own tuning of the `reqwest::Client`, on the crate's TLS and redirect set-up.
//! let http_client = auth_reqwest::http_client_builder(&config).timeout(std::time::Duration::from_secs(30)).build()?;
//! let client = Client::builder(config)
//!     .http(http_client)
//!     .store_file(&session_file) // survives restarts, e.g. /var/lib/myapp/session.json
//!     .build()
//!     .await?;
//!
//! // Logs in on first use (or continues the stored session), refreshes when due.
//! let request = http::Request::get(format!("{api}/reports/call-data")).body("")?;
//! let response = client.send(request).await?;
//! println!("{}", response.status()); // every status is a response: you decide
//! let text = reqwest::Response::from(response).text().await?;
//!
//! // reqwest's own types:
//! let request = client.http_client().get(format!("{api}/reports/call-data")).build()?;
//! let response = client.execute(request).await?;
//! assert_eq!(response.status(), 200);
//!
//! // The RealTime handshake's first message, from a currently valid token.
//! let first_message = client.realtime_auth().await?;
//! # let _ = (text, first_message);
//! # assert_eq!(emulator.logins_served(), 1);
//! # drop(client);
//! # std::fs::remove_dir_all(session_file.parent().unwrap())?;
//! # Ok(()) }
//! ```
//!
//! A test-sized example that runs (Basic credentials, no network):
//!
//! ```
//! use auth_reqwest::{AuthError, Client, Config, Error, Password, http};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::basic("https://api.teletracker.net", "alice", Password::new("pw")).build()?;
//! let client = Client::builder(config).build().await?;
//! // Credentials only ever go to the configured origin: refused before any I/O.
//! let foreign = http::Request::get("https://elsewhere.example/").body("")?;
//! assert!(matches!(client.send(foreign).await, Err(Error::Auth(AuthError::ForeignOrigin))));
//! // Basic cannot authenticate a RealTime connection.
//! assert!(matches!(client.realtime_auth().await, Err(Error::Auth(AuthError::RequiresBearer))));
//! # Ok(()) }
//! ```
//!
//! ## One dependency
//!
//! An application depends on this crate (and Tokio) alone: it re-exports, at its root, the
//! `http` and `time` crates, the configuration and secret types ([`Config`], [`Password`],
//! [`AccountId`], [`RefreshPolicy`], ...), the session's state and errors ([`Snapshot`],
//! [`TokenState`], [`AuthError`], [`SharedSession`]), the RealTime first message
//! ([`RealtimeAuthRequest`]), the stores ([`FileStore`], [`MemoryStore`], [`SessionStore`],
//! [`StoreError`]) and the clocks ([`SystemClock`], [`ManualClock`]): the list is
//! [`auth_driver::exports`], which also says how time crosses the API (instants are
//! `time::OffsetDateTime`, durations you pass are `std::time::Duration`). `reqwest` and
//! `reqwest_middleware` are re-exported too, and `auth_core`, `auth_store` and `auth_driver`
//! whole, for drivers and anything rarer.
//!
//! ## Runtime
//!
//! reqwest needs Tokio, and so does this crate: it spawns the auth exchanges with
//! `tokio::spawn`, runs store calls with `tokio::task::spawn_blocking`, and bounds waits with
//! `tokio::time`. Any Tokio runtime flavour works (current-thread or multi-thread), with the
//! time driver enabled (`#[tokio::main]` and `Builder::enable_all()` do that). Nothing in
//! the crate blocks an async thread: no `block_on`, no blocking store call, no mutex held
//! across an `.await`.
//!
//! ## What happens per request
//!
//! 1. **Authorize.** The session is asked for a credential. With a fresh or stale token it is
//!    ready at once. Without a usable token the caller either *drives* the login/refresh (the
//!    core picks exactly one caller: single flight) or waits to be woken when it completes.
//! 2. **Send** with the `Authorization` header (and the pinned `account_id` for Basic or
//!    Integrator), and report the status to the session.
//! 3. **Retry once** on 401/403 (bearer only) with a header rebuilt from the current state, if
//!    the body can be replayed. A second rejection is returned as it is.
//! 4. **Refresh a stale token** after the response arrived, if nobody else is: requests are
//!    never delayed by a refresh while the token is valid.
//!
//! ## Locking, waking, cancellation
//!
//! - One `std::sync::Mutex` guards the session, only for short synchronous calls into the
//!   core; it is never held across an `.await` (`clippy::await_holding_lock` is denied here,
//!   and every public future is `Send`, which a held guard would prevent — a test checks it).
//! - Callers that must wait for someone else's exchange wait on a [`tokio::sync::Notify`]
//!   registered before they look at the session, so no wake-up is lost, with a timeout of the
//!   session's `poll_timeout()` (capped at a minute). They are woken when the exchange
//!   completes or fails; nobody polls in a loop.
//! - An exchange runs on a **task of its own**, which the caller that started it awaits. If
//!   that caller's future is dropped (a `select!`, a timeout), the exchange still completes:
//!   its answer is handled, the rotated tokens are kept and saved, waiters are woken. So a
//!   refresh that reached the server is never lost to a cancellation (a lost rotation would
//!   force a new login). If the task itself panics or is dropped (runtime shutdown), a drop
//!   guard reports the exchange as failed (`handle_failure`), releases the store's lock and
//!   wakes the waiters, so the next caller proceeds.
//! - A credential handed out for a request whose future is dropped before the answer is
//!   released by a drop guard too.
//!
//! ## Store protocol
//!
//! With a store ([`ClientBuilder::store`], or a [`FileStore`] by `.store_file(path)`), the task that
//! drives an exchange takes the store's lock, loads it and adopts a newer snapshot written by
//! another process *before* asking the core for the exchange; it holds the lock until the
//! answer is handled and every new snapshot saved. Only one task per process queues on the
//! lock; the others wait on the `Notify`. Store calls run on the blocking thread pool. A failed
//! save keeps the token in memory and shows in [`SharedSession::last_store_error`](auth_driver::SharedSession::last_store_error) (`client.session()`); a failure to take
//! the lock is returned as [`Error::Store`] (refreshing without it could spend a refresh token
//! another process also holds). Waiting for the lock is bounded by the auth timeout ("store
//! busy"), and a refresh of a token that is still valid does not wait for it at all: the token
//! serves. A store holds one session: a client of another server, user or pinned account
//! refuses it at build time ([`Error::Restore`]) and never sends its tokens anywhere.
//!
//! ## Redirects
//!
//! reqwest removes `Authorization` from a redirect to another origin — it compares scheme, host
//! *and* port — whatever the redirect policy; the tests prove it against a second emulator on
//! another port. The default client follows up to 10 redirects but never redirects an auth
//! request (whose body holds the password or the refresh token). A redirected response's status
//! is not taken as a verdict on the token.
//!
//! ## TLS
//!
//! rustls with the `ring` provider and the platform's root certificates: no cmake, no aws-lc
//! build, no process-wide provider installed. See [`http_client_builder`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::await_holding_lock)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod client;
mod error;
mod http_client;
mod middleware;

pub use client::{Client, ClientBuilder};
pub use error::Error;
pub use http_client::http_client_builder;
pub use middleware::AuthMiddleware;

pub use auth_driver::exports::*;

pub use auth_core;
pub use auth_driver;
pub use auth_store;
pub use reqwest;
pub use reqwest_middleware;

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
