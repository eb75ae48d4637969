//! Integration tests of the `ttauth` commands against the emulator: in-process through
//! `ttauth::run` (with a manual clock moved together with the emulator's), and through the
//! real binary where the process boundary matters (exit statuses, environment, signals).
//! No test sleeps for a token lifetime.

mod binary;
mod cli;
mod demo;
mod echoed_secrets;
mod emulator;
mod password;
mod realtime;
#[cfg(feature = "redis")]
mod redis_store;
mod request;
mod secrets;
mod session_commands;
mod stored;
mod support;
mod timeouts;
mod token;
