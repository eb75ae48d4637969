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
//! ```no_run
//! use auth_reqwest::Client;
//! use auth_core::{Config, Password};
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret"))
//!     .build()?;
//! let client = Client::builder(config)
//!     .store(Arc::new(auth_store::FileStore::new("/var/lib/myapp/session.json")))
//!     .build()
//!     .await?;
//!
//! // Logs in on first use (or continues the stored session), refreshes when due.
//! let request = http::Request::get("https://api.teletracker.net/reports/call-data").body("")?;
//! let response = client.send(request).await?;
//! println!("{}", response.status()); // every status is a response: you decide
//! let text = reqwest::Response::from(response).text().await?;
//!
//! // reqwest's own types:
//! let request = client.http_client().get("https://api.teletracker.net/reports/call-data").build()?;
//! let response = client.execute(request).await?;
//!
//! // The RealTime handshake's first message, from a currently valid token.
//! let first_message = client.realtime_auth().await?;
//! # let _ = (text, response, first_message); Ok(()) }
//! ```
//!
//! A test-sized example that runs (Basic credentials, no network):
//!
//! ```
//! use auth_reqwest::{Client, Error};
//! use auth_core::{AuthError, Config, Password};
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
//! With a store ([`ClientBuilder::store`], e.g. [`auth_store::FileStore`]), the task that
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
