//! What an application touches, in one place: each adapter re-exports all of it at its root
//! (`pub use auth_driver::exports::*`), so an application depends on `auth-ureq` or
//! `auth-reqwest` alone (plus Tokio for the async one) and writes `auth_ureq::Config`,
//! `auth_reqwest::FileStore`, `auth_ureq::http::Request`, `auth_reqwest::time::OffsetDateTime`.
//!
//! - the `http` and `time` crates, whose types the API takes and returns;
//! - configuration and secrets: [`Config`], [`ConfigBuilder`], [`ConfigError`], [`Password`],
//!   [`BearerToken`], [`AccountId`], [`AccountSwitch`], [`RefreshPolicy`], [`Scheme`],
//!   [`DEFAULT_BASE_URL`];
//! - the session's state and failures: [`Snapshot`], [`TokenState`], [`AuthError`] (with
//!   [`ServerError`] and [`TransientCause`] inside), [`RestoreError`], [`SharedSession`];
//! - RealTime: [`RealtimeAuthRequest`] (the first message) and the [`realtime`] module (the
//!   server's answers);
//! - stores: [`SessionStore`], [`FileStore`], [`MemoryStore`], [`StoreError`];
//! - clocks: [`Clock`], [`SystemClock`], [`ManualClock`], [`Now`].
//!
//! The core ([`auth_core`]) and this crate stay the guide for writing a driver of your own; an
//! application needs neither by name.
//!
//! # Time in the API
//!
//! One rule, everywhere a time crosses the API:
//!
//! - an **instant** is a [`time::OffsetDateTime`] in UTC: [`AuthError::retry_at`],
//!   [`Snapshot::expires_at`], [`ManualClock::new`], the readings of a [`Now`];
//! - a **duration you pass** is a [`std::time::Duration`], never negative: every
//!   [`RefreshPolicy`] field, [`ManualClock::advance`], [`ManualClock::step_wall_forward`] and
//!   [`step_wall_back`](ManualClock::step_wall_back) (the direction is in the name), and the
//!   waits and timeouts the core hands a driver;
//! - the difference of two instants is what `time` makes of it, a signed [`time::Duration`]
//!   (`retry_at - OffsetDateTime::now_utc()`); `std::time::Duration::try_from` turns a
//!   non-negative one into the other.

#[doc(no_inline)]
pub use auth_core::realtime;
pub use auth_core::realtime::RealtimeAuthRequest;
pub use auth_core::{
    AccountId, AccountSwitch, AuthError, BearerToken, Config, ConfigBuilder, ConfigError, DEFAULT_BASE_URL, Now,
    Password, RefreshPolicy, RestoreError, Scheme, ServerError, Snapshot, TokenState, TransientCause,
};
pub use auth_store::{FileStore, MemoryStore, SessionStore, StoreError};
#[doc(no_inline)]
pub use {http, time};

pub use crate::{Clock, ManualClock, SharedSession, SystemClock};
