//! # auth-driver: what every driver of the auth state machine needs besides the core
//!
//! [`auth_core::Session`] decides everything but does no I/O and never reads a clock. A
//! *driver* — `auth-ureq`, `auth-reqwest`, a test harness — carries out its I/O with some HTTP
//! stack, and needs a few more things that belong to neither the core nor the HTTP stack:
//!
//! - the [`Clock`] it reads for every call's `now`: [`SystemClock`] in production,
//!   [`ManualClock`] in tests, moved by hand instead of sleeping;
//! - the [`Error`] it returns, generic over its HTTP stack's error (`auth_ureq::Error` is
//!   `Error<ureq::Error>`), which wraps the core's errors and `auth-store`'s
//!   [`StoreError`](auth_store::StoreError);
//! - [`Hub`]: one [`auth_core::Coordinator`] behind a mutex, with the clock, the store and a
//!   wake-up primitive — the store's I/O (the same for every driver), the drop guards
//!   ([`Outstanding`], [`Driving`]), and nothing else: every decision is the coordinator's;
//! - [`ClientBuilder`]: how an adapter's client is configured and started (the clock, the
//!   store, the jitter seed, its HTTP client), written once for all adapters ([`Adapter`]);
//! - the attempts of one API request ([`Attempts`], [`ResendParts`]: what the one resend needs,
//!   kept only while one may follow) and what tells, without a copy, whether an answer came
//!   through a redirect ([`uri_identity`], [`fingerprint`]); [`Sending`], the mark by which a
//!   blocking driver's own middleware lets its requests through;
//! - behind the `tokio` feature, what a driver on Tokio needs besides its send: the wake-up
//!   (`Changed`), the blocking pool for the store, and the hub's `wait`, `drive` and `finish`;
//! - [`exports`]: what an application names, which each adapter re-exports at its root, and
//!   the one rule for time in the API (instants are `time::OffsetDateTime`, durations you pass
//!   are `std::time::Duration`).
//!
//! ```
//! use std::time::Duration;
//!
//! use auth_core::{Config, Password, Session};
//! use auth_driver::{Clock, ManualClock};
//!
//! /// A driver on some HTTP stack (here `std::io`) returns this.
//! type Error = auth_driver::Error<std::io::Error>;
//!
//! fn start(clock: &dyn Clock) -> Result<Session, Error> {
//!     let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret")).build()?;
//!     Ok(Session::new(config, 42, clock.now())?)
//! }
//!
//! // A test moves time by hand; production passes `SystemClock`.
//! let clock = ManualClock::starting_now();
//! let mut session = start(&clock)?;
//! assert!(session.wants_transmit(clock.now()), "a new session logs in first");
//! let before = clock.now();
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now().monotonic() - before.monotonic(), time::Duration::seconds(90));
//! # Ok::<(), Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod attempt;
mod builder;
mod clock;
mod error;
pub mod exports;
mod hub;
#[cfg(feature = "tokio")]
mod on_tokio;

pub use attempt::{Attempts, ResendParts, Sending, fingerprint, uri_identity, with_uri_text};
pub use builder::{Adapter, ClientBuilder, Parts};
pub use clock::{Clock, ManualClock, SystemClock, WALL_CHECK, WALL_TOLERANCE};
pub use error::Error;
pub use hub::{Driving, Hub, Outstanding, SharedSession, Wake};
#[cfg(feature = "tokio")]
pub use on_tokio::{Changed, on_blocking_pool};
