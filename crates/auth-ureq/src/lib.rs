//! # auth-ureq: TeleTracker authentication for blocking code, on ureq 3
//!
//! A [`Client`] sends your requests to the TeleTracker REST API with the right
//! `Authorization` header, from any number of threads, and keeps the bearer session alive:
//! it logs in, refreshes before the token expires (one refresh, however many threads), retries
//! a request once when the API says its token has expired, and can persist the session so a
//! restarted process — or another process — continues it without logging in again.
//!
//! All the decisions (when to refresh, what an answer means, which header a request gets) are
//! made by [`auth_core::Session`], a Sans-IO state machine; this crate only carries out its
//! I/O with [`ureq`] and shares it between threads. Basic and Integrator work through the same
//! client (stateless headers, the pinned `account_id` added to every request).
//!
//! ## Example
//!
//! Everything an application names comes from this crate (see [One dependency](#one-dependency)):
//!
//! ```
//! use auth_ureq::{Client, Config, Password, http};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = auth_emulator::Emulator::start(); // the doc test's own TeleTracker
//! # let api = emulator.url();
//! # let session_file = std::env::temp_dir().join(format!("auth-ureq-doc-{}/session.json", std::process::id()));
//! // `api` is the production API, "https://api.teletracker.net" (`auth_ureq::DEFAULT_BASE_URL`),
//! // or a local `auth-emulator` in tests (as here); the password comes from your secret store.
//! let config = Config::bearer(&api, "alice", Password::new("alice-password")).build()?;
//! let client = Client::builder(config)
//!     .store_file(&session_file) // survives restarts, e.g. /var/lib/myapp/session.json
//!     .build()?;
//!
//! // Any status is a response; `Error` is for transport, auth and store failures.
//! let request = http::Request::get(format!("{api}/reports/call-data")).body(())?;
//! let mut response = client.send(request)?;
//! println!("{} {}", response.status(), response.body_mut().read_to_string()?);
//!
//! // The same session from many threads: clones share it (one login for all of them).
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let (client, api) = (client.clone(), api.clone());
//!         std::thread::spawn(move || {
//!             let body = r#"{"to":"+15550100"}"#;
//!             let request = http::Request::post(format!("{api}/calls"))
//!                 .header("content-type", "application/json")
//!                 .body(body)?;
//!             client.send(request).map(|r| r.status())
//!                 .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
//!         })
//!     })
//!     .collect();
//! for worker in workers {
//!     assert_eq!(worker.join().expect("worker panicked").map_err(|e| e.to_string())?, 200);
//! }
//!
//! // The RealTime handshake's first message, from a currently valid token.
//! let first_message = client.realtime_auth()?;
//! assert!(first_message.as_text().starts_with(r#"{"type":"authrequest""#));
//! # assert_eq!(emulator.logins_served(), 1);
//! # drop(client);
//! # std::fs::remove_dir_all(session_file.parent().unwrap())?;
//! # Ok(()) }
//! ```
//!
//! ## One dependency
//!
//! An application depends on this crate alone: it re-exports, at its root, the `http` and
//! `time` crates, the configuration and secret types ([`Config`], [`Password`],
//! [`AccountId`], [`RefreshPolicy`], ...), the session's state and errors ([`Snapshot`],
//! [`TokenState`], [`AuthError`], [`SharedSession`]), the RealTime first message
//! ([`RealtimeAuthRequest`]), the stores ([`FileStore`], [`MemoryStore`], [`SessionStore`],
//! [`StoreError`]) and the clocks ([`SystemClock`], [`ManualClock`]): the list is
//! [`auth_driver::exports`], which also says how time crosses the API (instants are
//! `time::OffsetDateTime`, durations you pass are `std::time::Duration`). The crates
//! `auth_core`, `auth_store` and `auth_driver` are re-exported whole too, for drivers and
//! anything rarer.
//!
//! ## What a request goes through
//!
//! [`Client::send`] authorizes the request (waiting for, or driving, a login or refresh when
//! no usable token is held), sends it, reports the status to the session, and on a 401/403 of
//! a bearer request retries it once with a freshly authorized header — for bodies that can be
//! replayed ([`ReplayBody`]: `()`, bytes, strings). A second rejection is returned as it is.
//! Streams go through [`Client::send_once`], which never retries. Requests to another origin
//! than the configured API are refused before any I/O ([`AuthError::ForeignOrigin`]).
//!
//! A token in its refresh window ("stale") is still attached: the request is never delayed.
//! The caller that finds it stale, after its own response has arrived, drives the one refresh
//! (unless another caller already is) before returning. [`Client::bearer_token`] and
//! [`Client::realtime_auth`], whose token leaves the library, refresh first instead.
//!
//! ## Threads: one lock, one driver, everyone else waits
//!
//! All clones share one [`auth_core::Session`] behind a `std::sync::Mutex`, which is never held
//! during network I/O. When the session needs a login or refresh, exactly one caller becomes
//! its driver; the others wait on a `Condvar` — no spinning, no sleep loops — with a timeout
//! of the session's next deadline (`poll_timeout`) at most, and are woken by `notify_all` when
//! the exchange completes or fails. The driver reports the exchange on every path: a drop guard
//! reports an unanswered request as failed if the driver returns early or panics. A token past
//! its cutoff is never attached; callers wait for the new one rather than fail.
//!
//! ## Persistence and other processes
//!
//! With a [`SessionStore`] (e.g. a [`FileStore`]: `.store_file(path)` on the builder), the
//! client loads the stored session when it is built, and around every login or refresh
//! follows the store's protocol: take the store's lock, load, adopt a newer snapshot written
//! by another process (then no request is needed), send, save each new snapshot, unlock. Two
//! processes sharing a file therefore never refresh the same session twice, and never present
//! a spent refresh token. A failed save keeps the token in memory and is reported by
//! [`SharedSession::last_store_error`](auth_driver::SharedSession::last_store_error) (`client.session()`); it is never an error of the request. A store holds one
//! session: a client of another server, user or pinned account refuses it at build time
//! ([`Error::Restore`]) and never sends its tokens anywhere. Waiting for the store's lock (another
//! process refreshing) is bounded by the auth timeout: then the request fails with a "store busy"
//! [`Error::Store`], unless the token is still valid, which is used.
//!
//! ## Redirects
//!
//! Every request the client sends (whatever agent you give it) follows redirects with
//! ureq's `RedirectAuthHeaders::Never`: the `Authorization` header is dropped on any redirect,
//! so it never reaches another origin. (ureq's alternative, `SameHost`, ignores the port, so it
//! is not used.) The status of a redirected response is not judged as a verdict on the token.
//! Auth requests follow no redirect at all.
//!
//! ## Your own agent
//!
//! [`ClientBuilder::http`](auth_driver::ClientBuilder::http) sends through an agent you configured. To add authentication to an
//! agent whose requests you send yourself, install [`Client::middleware`] in it
//! ([`AuthMiddleware`]; read its limits).
//!
//! ## Features
//!
//! `rustls` (default) or `native-tls` select ureq's TLS; the production API is HTTPS only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod body;
mod client;
mod error;
mod middleware;

pub use body::ReplayBody;
pub use client::{Client, ClientBuilder};
pub use error::Error;
pub use middleware::{AuthMiddleware, DEFAULT_REPLAY_LIMIT};

pub use auth_driver::exports::*;

pub use auth_core;
pub use auth_driver;
pub use auth_store;
pub use ureq;

/// The README's example, compiled as a doc test so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
