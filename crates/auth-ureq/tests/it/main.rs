//! The auth-ureq adapter against the local emulator. Time moves by hand (a `ManualClock` and
//! the emulator's `advance_clock`, together), never by sleeping.

mod account_params;
mod bearer;
mod concurrency;
mod echoed_secrets;
mod middleware;
mod realtime;
mod redirects;
mod schemes;
mod secrets;
mod store;
mod support;
mod switches;

/// The client and its middleware cross threads.
#[test]
fn client_and_middleware_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<auth_ureq::Client>();
    check::<auth_ureq::AuthMiddleware>();
}
