//! Integration tests: the emulator driven over plain HTTP (ureq) and WebSocket (tungstenite).

mod support;

mod api_auth;
#[cfg(feature = "cli")]
mod binary;
mod echo;
mod faults;
mod journal;
mod knobs;
mod lifecycle;
mod login;
mod masquerade;
mod realtime;
mod redirect;
mod refresh;
mod robustness;
mod users;
