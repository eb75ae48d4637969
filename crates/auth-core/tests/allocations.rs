//! The hot path allocates nothing: authorizing a request with a fresh token hands out the
//! header built once per token (a reference-count increment), and reporting the answer only
//! updates counters. Counted with dhat's heap profiler in testing mode, in its own test binary
//! so the counting allocator touches no other test.

use auth_core::{Authorization, Config, Password, Session};
use http::{Request, Response, StatusCode};
use time::OffsetDateTime;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn authorizing_with_a_fresh_token_makes_no_heap_allocation() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
    let mut session = Session::new(config, 1, now).unwrap();
    let login = session.poll_transmit(now).unwrap();
    let grant = r#"{"success":true,"token":"tok","tokenLifetime":3600,"refreshToken":"ref"}"#;
    session.handle_response(login.id(), &Response::new(grant.as_bytes()), now);
    while session.poll_event().is_some() {}

    let mut request = Request::get("https://api.teletracker.net/reports/call-data").body(()).unwrap();
    // Warm up: the first clone of a header value shares its buffer (one allocation per token),
    // and the request's header map gets its slot.
    for _ in 0..2 {
        let Ok(Authorization::Ready(credential)) = session.authorize(request.uri(), now) else { panic!() };
        let receipt = credential.attach(&mut request);
        let _ = session.handle_api_response(receipt, StatusCode::OK, now);
    }

    let before = dhat::HeapStats::get();
    for _ in 0..1_000 {
        let Ok(Authorization::Ready(credential)) = session.authorize(request.uri(), now) else { panic!() };
        let receipt = credential.attach(&mut request);
        let _ = session.handle_api_response(receipt, StatusCode::OK, now);
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks - before.total_blocks, 0);
    assert_eq!(request.headers()["authorization"], "Bearer tok");
}
