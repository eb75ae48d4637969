//! # auth-driver: what every driver of the auth state machine needs besides the core
//!
//! [`auth_core::Session`] decides everything but does no I/O, and never reads a clock. A
//! *driver* — `auth-ureq`, `auth-reqwest`, a test harness — carries out its I/O with some HTTP
//! stack, and needs two more things that belong to neither the core nor the HTTP stack:
//!
//! - the [`Clock`] it reads for every call's `now`: [`SystemClock`] in production,
//!   [`ManualClock`] in tests, moved by hand instead of sleeping;
//! - [`coordinator`]: how one session is shared among many callers of one driver.
//!
//! Sessions are persisted through `auth-store`'s [`SessionStore`](auth_store::SessionStore).
//!
//! ```
//! use std::time::Duration;
//!
//! use auth_core::{Config, Password, Session};
//! use auth_driver::{Clock, ManualClock};
//!
//! let clock = ManualClock::starting_now();
//! let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret")).build()?;
//! let mut session = Session::new(config, 42, clock.now())?;
//! assert!(session.wants_transmit(clock.now()), "a new session logs in first");
//!
//! // Time passes only when the test says so.
//! let before = clock.now();
//! clock.advance(Duration::from_secs(90));
//! assert_eq!(clock.now().monotonic() - before.monotonic(), time::Duration::seconds(90));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod clock;
pub mod coordinator;

pub use clock::{Clock, ManualClock, SystemClock, WALL_TOLERANCE};
