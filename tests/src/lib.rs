//! # conformance: one scenario table, both adapters, a fault matrix
//!
//! Every behaviour SPEC.md asks of a client is written down once, as data — a [`Scenario`] —
//! and run through both adapters, `auth-ureq` ([`Ureq`]) and `auth-reqwest` ([`Reqwest`]),
//! against a fresh `auth-emulator` each time. `cargo test -p conformance` (or `cargo nextest
//! run -p conformance`) runs one `#[test]` per scenario and adapter, named
//! `ureq::<scenario>` and `reqwest::<scenario>`.
//!
//! ## A scenario
//!
//! A setup (scheme, user, password, pinned account, switch strategy, emulator knobs: token and
//! refresh lifetimes, 401 or 403 for dead tokens, clock offset, masquerade mode), a list of
//! [`Step`]s, a request budget, and how many requests may carry a token the server killed.
//! Steps move both clocks ([`advance`]: the client's `ManualClock` and the emulator's clock
//! together; nobody sleeps), script faults ([`inject`]), revoke the session, send requests and
//! say what must come back ([`get`], [`post`], [`served`], [`status`], [`fails`]), ask for a
//! token or a RealTime handshake, switch accounts, restart the client from its store, verify
//! credentials with `auth_only`, and assert the emulator's journal ([`counts`]: logins,
//! refreshes, masquerades, API requests).
//!
//! ## Adding one
//!
//! Write a function in the file of its category under `src/table/`, and add its name to the
//! list in [`for_each_scenario!`]. That is all: the list builds [`table()`] and the tests.
//!
//! ```
//! use auth_emulator::{Endpoint, Fault};
//! use conformance::*;
//!
//! /// A 502 on refresh: the still-valid token keeps serving, then the client logs in again.
//! pub fn refresh_502_keeps_the_token_serving() -> Scenario {
//!     Scenario::new(Category::RefreshFault, Setup::bearer(ALICE))
//!         .steps([get(served_gen(1001, 1)), advance(STALE), inject(Endpoint::Refresh, Fault::Status(502))])
//!         .steps([get(served_gen(1001, 1)), advance(BACKOFF), get(served(1001)), counts(2, 1, 0, 3)])
//!         .budget(6)
//! }
//! # assert_eq!(refresh_502_keeps_the_token_serving().steps.len(), 7);
//! ```
//!
//! ## What every run also checks
//!
//! Whatever its steps, each run fails when something happens that must never happen
//! (see [`runner`]):
//!
//! | never | how it is measured |
//! |---|---|
//! | a panic | each step runs under `catch_unwind`; the run on a thread with a 60 s watchdog (a hang is reported with its step) |
//! | a secret printed | the `Display`, `Debug`, `{:#?}` and sources of every error, the `Debug` of every token, RealTime message, snapshot and client, searched for the passwords, their Basic encodings, every token and refresh token found in `client.snapshot()` after each step or handed out, and any UUID-shaped text that is no session `guid` (the emulator's tokens are UUIDs, so tokens the client never saw are caught too) |
//! | a consumed refresh token sent again | `emu.consumed_refresh_token_reuses() == 0` |
//! | two auth requests in flight | `emu.max_concurrent_auth() <= 1` |
//! | more requests than the budget | the journal lengths of both emulators |
//! | a request with a dead token | journal outcomes `ExpiredToken`, `RevokedToken`, `SupersededToken`, `UnknownToken`: exactly the number the scenario declares (0 unless the server kills a token behind the client's back) |
//! | `Authorization` sent to another origin | a second emulator stands for the foreign origin; its journal never shows `authorization_present` |
//! | credentials in a login/refresh header | login and refresh journal entries never show `authorization_present` |
//!
//! ## Drivers
//!
//! [`Driver`] is the small blocking interface the runner drives; [`Adapter`] builds one per
//! client. The async driver owns a current-thread Tokio runtime and `block_on`s each step;
//! bursts of concurrent requests are threads (ureq) or spawned tasks (reqwest).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod driver;
mod realtime;
mod reqwest_driver;
pub mod runner;
mod scenario;
mod secrets;
pub mod table;
mod ureq_driver;

pub use driver::{Adapter, ApiRequest, ApiResponse, Driver, Failure, Issued, auth_kind};
pub use reqwest_driver::Reqwest;
pub use runner::{Summary, run};
pub use scenario::*;
pub use secrets::Secrets;
pub use table::{scenario, table};
pub use ureq_driver::Ureq;

/// The adapters under test.
pub static ADAPTERS: [&dyn Adapter; 2] = [&Ureq, &Reqwest];

/// The project README, whose examples compile here as doc tests (this crate depends on both
/// adapters), so they stay true.
#[doc = include_str!("../../README.md")]
mod readme {}
