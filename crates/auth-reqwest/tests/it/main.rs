//! Integration tests of auth-reqwest against the local TeleTracker emulator. One binary, one
//! module per concern; time moves by hand (a manual clock and the emulator's clock together),
//! never by sleeping.

mod bearer;
mod cancel;
mod errors;
mod middleware;
mod realtime;
mod redirect;
mod static_auth;
mod store;
mod support;
mod switch;
mod types;
