//! Benchmarks of the core (run by hand: `cargo bench -p auth-core`; figures in the README).
//!
//! - `authorize/core` vs `authorize/bearer_auth_baseline`: attaching the header for a fresh
//!   token through the session, against building it per request the way reqwest's
//!   `RequestBuilder::bearer_auth` does (`format!("Bearer {token}")`, `HeaderValue::try_from`,
//!   `set_sensitive`), in the same run. `authorize/core_with_report` adds what an adapter
//!   also does per request: report the response's status to the session.
//! - `parse/login_response`: feeding the documented login answer to a session.
//! - `cycle/login_refresh`: a whole login, authorize, refresh, authorize cycle.

use std::hint::black_box;

use auth_core::{Authorization, Config, Exchange, Password, Session};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use time::{Duration, OffsetDateTime};

const LOGIN: &str = r#"{"success": true, "guid": "71067212-8141-4887-b48e-ccabcfb07196",
 "token": "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79", "tokenExpiration": "2018-04-01T21:39:12+00:00",
 "tokenLifetime": 3600, "refreshToken": "dff78899-ed3b-4965-8f44-474ac2bf7354",
 "refreshTokenExpiration": "2018-04-30T21:39:12+00:00"}"#;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn logged_in() -> Session {
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
    let mut session = Session::new(config, 1, now()).unwrap();
    let login = session.poll_transmit(now()).unwrap();
    session.handle_response(login.id(), &Response::new(LOGIN.as_bytes()), now());
    while session.poll_event().is_some() {}
    session
}

fn authorize(c: &mut Criterion) {
    let mut group = c.benchmark_group("authorize");
    let mut session = logged_in();
    let mut request = Request::get("https://api.teletracker.net/reports/call-data").body(()).unwrap();
    group.bench_function("core", |b| {
        b.iter(|| {
            let Ok(Authorization::Ready(credential)) = session.authorize(request.uri(), now()) else { panic!() };
            black_box(credential.attach(&mut request))
        })
    });
    let mut request = Request::get("https://api.teletracker.net/reports/call-data").body(()).unwrap();
    group.bench_function("core_with_report", |b| {
        b.iter(|| {
            let Ok(Authorization::Ready(credential)) = session.authorize(request.uri(), now()) else { panic!() };
            let generation = credential.attach(&mut request);
            session.handle_api_response(generation, StatusCode::OK, now())
        })
    });
    let token = "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79".to_owned();
    let mut request = Request::get("https://api.teletracker.net/reports/call-data").body(()).unwrap();
    group.bench_function("bearer_auth_baseline", |b| {
        b.iter(|| {
            // What reqwest's RequestBuilder::bearer_auth does on every request.
            let mut value = HeaderValue::try_from(format!("Bearer {}", black_box(&token))).unwrap();
            value.set_sensitive(true);
            request.headers_mut().insert(AUTHORIZATION, value);
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    c.bench_function("parse/login_response", |b| {
        let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
        let response = Response::new(LOGIN.as_bytes());
        b.iter_batched(
            || {
                let mut session = Session::new(config.clone(), 1, now()).unwrap();
                let login = session.poll_transmit(now()).unwrap();
                (session, login.id())
            },
            |(mut session, id)| {
                session.handle_response(id, &response, now());
                session
            },
            BatchSize::SmallInput,
        )
    });
}

fn cycle(c: &mut Criterion) {
    let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("pw")).build().unwrap();
    let uri: http::Uri = "https://api.teletracker.net/reports/call-data".parse().unwrap();
    c.bench_function("cycle/login_refresh", |b| {
        b.iter(|| {
            let mut now = now();
            let mut session = Session::new(config.clone(), 1, now).unwrap();
            let login = session.poll_transmit(now).unwrap();
            session.handle_response(login.id(), &Response::new(LOGIN.as_bytes()), now);
            let _ = black_box(session.authorize(&uri, now));
            now += Duration::minutes(58);
            let refresh = session.poll_transmit(now).unwrap();
            assert_eq!(refresh.exchange(), Exchange::Refresh);
            session.handle_response(refresh.id(), &Response::new(LOGIN.as_bytes()), now);
            while session.poll_event().is_some() {}
            black_box(session.authorize(&uri, now).is_ok())
        })
    });
}

criterion_group!(benches, authorize, parse, cycle);
criterion_main!(benches);
