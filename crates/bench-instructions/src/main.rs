//! The probes behind `scripts/bench-instructions`, which runs each path under callgrind with
//! `n` requests and with none, and divides the difference in instructions by `n`.
//!
//! ```text
//! bench-instructions <path> <base-url> <n>
//! ```
//!
//! Every path first does all of its setup — a logged-in session (from a canned login answer
//! for the core paths, from the emulator at `<base-url>` for the adapters), its clients, and
//! one warm-up request, which opens the connection the measured requests reuse — and only
//! then runs its measured step `n` times. So setup, login and connect cancel out of the
//! difference, and what is left is the steady per-request cost. (Hence the loops over
//! `0..=n`: the warm-up, then `n` measured steps.) The core paths use `<base-url>` only as
//! the session's origin; they send nothing.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::process::ExitCode;

use auth_core::{Authorization, Config, Now, Password, Session};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use reqwest::ResponseBuilderExt;
use time::OffsetDateTime;

const USAGE: &str = "usage: bench-instructions <path> <base-url> <n>\n\
    paths: core-floor core ureq-raw ureq-client reqwest-raw reqwest-raw-http reqwest-send reqwest-execute";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, base, n] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let Ok(n) = n.parse::<u64>() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let base = base.trim_end_matches('/');
    let url = format!("{base}/reports/call-data");
    // Every path runs as a multi-threaded process, as an application does: once a process has
    // had a second thread, glibc wraps each blocking syscall (`recv`, `send`) in cancellation
    // bookkeeping, about 60 instructions each. ureq starts one to resolve a host with a timeout
    // (the adapter's auth requests have one), so without this the raw paths alone would skip it.
    std::thread::spawn(|| ()).join().expect("a thread");
    match path.as_str() {
        "core-floor" => core_floor(&url, n),
        "core" => core(base, &url, n),
        "ureq-raw" => ureq_raw(base, &url, n),
        "ureq-client" => ureq_client(base, &url, n),
        "reqwest-raw" => async_main(reqwest_raw(base, &url, n)),
        "reqwest-raw-http" => async_main(reqwest_raw_http(base, &url, n)),
        "reqwest-send" => async_main(reqwest_send(base, &url, n)),
        "reqwest-execute" => async_main(reqwest_execute(base, &url, n)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// `Bearer <token>`, built the way the core builds its header (from a `String`, sensitive).
fn bearer_header(token: &str) -> HeaderValue {
    let mut header = HeaderValue::try_from(format!("Bearer {token}")).expect("header");
    header.set_sensitive(true);
    header
}

/// The emulator's demo user.
fn config(base: &str) -> Config {
    Config::bearer(base, "alice", Password::new("alice-password")).build().expect("config")
}

/// The same user's `POST /auth/login` body, for the raw clients.
const LOGIN_BODY: &str = r#"{"username":"alice","password":"alice-password"}"#;

/// The `token` of a login answer.
fn token_of(login: &str) -> String {
    let answer: serde_json::Value = serde_json::from_str(login).expect("login answer");
    answer["token"].as_str().expect("token").to_owned()
}

// ---- core ----------------------------------------------------------------------------------

/// A login answer to feed the core (the one `crates/auth-core/benches/core.rs` uses).
const LOGIN: &str = r#"{"success": true, "guid": "71067212-8141-4887-b48e-ccabcfb07196",
 "token": "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79", "tokenExpiration": "2018-04-01T21:39:12+00:00",
 "tokenLifetime": 3600, "refreshToken": "dff78899-ed3b-4965-8f44-474ac2bf7354",
 "refreshTokenExpiration": "2018-04-30T21:39:12+00:00"}"#;

/// The token in [`LOGIN`].
const LOGIN_TOKEN: &str = "c04c7ff7-5fa1-48fb-aa2a-bcf97a6b8a79";

/// A fixed instant: the token stays fresh however slowly callgrind runs.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("timestamp")
}

/// The floor: clone a prebuilt header into a request.
fn core_floor(url: &str, n: u64) {
    let header = bearer_header(LOGIN_TOKEN);
    let mut request = Request::get(url).body(()).expect("request");
    for _ in 0..=n {
        floor_step(black_box(&header), &mut request);
    }
}

/// The floor's step, shaped as the core's (a function of its own, called once per request).
#[inline(never)]
fn floor_step(header: &HeaderValue, request: &mut Request<()>) {
    insert_header(request, header.clone());
    black_box(request);
}

/// The header map's insert, which both steps call: whether the compiler inlines it into its
/// caller depends on everything else in the binary, and that alone moved the floor between 158
/// and 196 instructions with neither path changed. One function for both, never inlined, so
/// that the two figures differ by what the core does and nothing else.
#[inline(never)]
fn insert_header(request: &mut Request<()>, header: HeaderValue) {
    request.headers_mut().insert(AUTHORIZATION, header);
}

/// The core path for a logged-in bearer session. The only code that touches the core's
/// per-request API: adapt it here when that API changes. `attach` is `into_parts` plus the
/// header map's insert (and the account parameter, which a bearer credential has not): here the
/// insert goes through the floor's own function.
#[inline(never)]
fn core_step(session: &mut Session, request: &mut Request<()>, now: &Now) {
    let Ok(Authorization::Ready(credential)) = session.authorize(request.uri(), *now) else { panic!("no credential") };
    let (header, _account, receipt) = credential.into_parts();
    insert_header(request, header);
    let _receipt = black_box(receipt);
}

fn core(base: &str, url: &str, n: u64) {
    let mut session = Session::new(config(base), 1, now()).expect("session");
    let login = session.poll_transmit(now()).expect("login request");
    session.handle_response(login.id(), &Response::new(LOGIN.as_bytes()), now());
    while session.poll_event().is_some() {}
    let mut request = Request::get(url).body(()).expect("request");
    // A driver hands the core a reading of its clocks (`auth_driver::Clock::now`), which the
    // adapter paths count; here it is read once.
    let now = Now::from(now());
    for _ in 0..=n {
        core_step(&mut session, &mut request, black_box(&now));
    }
}

// ---- ureq ----------------------------------------------------------------------------------

/// A plain agent sending a static header: the floor of the ureq adapter. It logs in itself,
/// so that no adapter code runs in this process and a change to the adapters leaves it be.
fn ureq_raw(base: &str, url: &str, n: u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let login = agent
        .post(format!("{base}/auth/login"))
        .header(CONTENT_TYPE, "application/json")
        .send(LOGIN_BODY)
        .expect("login")
        .body_mut()
        .read_to_string()
        .expect("login body");
    let header = bearer_header(&token_of(&login));
    for _ in 0..=n {
        let mut response = agent.get(url).header(AUTHORIZATION, header.clone()).call().expect("raw");
        black_box(response.body_mut().read_to_vec().expect("body"));
    }
}

fn ureq_client(base: &str, url: &str, n: u64) {
    let client = auth_ureq::Client::builder(config(base)).build().expect("client");
    client.bearer_token().expect("login");
    for _ in 0..=n {
        let request = Request::get(url).body(()).expect("request");
        let mut response = client.send(request).expect("send");
        black_box(response.body_mut().read_to_vec().expect("body"));
    }
}

// ---- reqwest -------------------------------------------------------------------------------

fn async_main(task: impl Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(task);
}

/// A logged-in `auth_reqwest::Client`.
async fn reqwest_client(base: &str) -> auth_reqwest::Client {
    let client = auth_reqwest::Client::builder(config(base)).build().await.expect("client");
    client.bearer_token().await.expect("login");
    client
}

/// A plain client, built as the adapter builds its own, sending a static header: the floor
/// of the reqwest adapter. Logs in itself, like `ureq_raw`.
async fn reqwest_raw(base: &str, url: &str, n: u64) {
    let raw = auth_reqwest::http_client_builder(&config(base)).build().expect("raw client");
    let login = raw.post(format!("{base}/auth/login")).header(CONTENT_TYPE, "application/json").body(LOGIN_BODY);
    let header = bearer_header(&token_of(&login.send().await.expect("login").text().await.expect("login body")));
    for _ in 0..=n {
        let response = raw.get(url).header(AUTHORIZATION, header.clone()).send().await.expect("raw");
        black_box(response.bytes().await.expect("body"));
    }
}

/// [`reqwest_raw`] with `http` types in and out, and the same response as
/// [`reqwest_send`]'s: what a plain client costs an application written against `http`
/// types. It converts the way reqwest documents (`reqwest::Request::try_from`,
/// `http::Response::from`), and keeps the response's URL, which that conversion drops, the one
/// way reqwest offers (`ResponseBuilderExt::url`).
async fn reqwest_raw_http(base: &str, url: &str, n: u64) {
    let raw = auth_reqwest::http_client_builder(&config(base)).build().expect("raw client");
    let login = raw.post(format!("{base}/auth/login")).header(CONTENT_TYPE, "application/json").body(LOGIN_BODY);
    let header = bearer_header(&token_of(&login.send().await.expect("login").text().await.expect("login body")));
    for _ in 0..=n {
        let request = Request::get(url).header(AUTHORIZATION, header.clone()).body(Vec::new()).expect("request");
        let response = raw.execute(request.try_into().expect("a reqwest request")).await.expect("raw");
        let kept = http::Response::builder().url(response.url().clone()).body(()).expect("the URL");
        let mut response = http::Response::from(response);
        response.extensions_mut().extend(kept.into_parts().0.extensions);
        black_box(response.into_body().collect().await.expect("body").to_bytes());
    }
}

/// `http` types in and out; the body is read as an `http_body::Body`, as `http` users would.
async fn reqwest_send(base: &str, url: &str, n: u64) {
    let client = reqwest_client(base).await;
    for _ in 0..=n {
        let request = Request::get(url).body(Vec::new()).expect("request");
        let response = client.send(request).await.expect("send");
        black_box(response.into_body().collect().await.expect("body").to_bytes());
    }
}

async fn reqwest_execute(base: &str, url: &str, n: u64) {
    let client = reqwest_client(base).await;
    for _ in 0..=n {
        let request = client.http_client().get(url).build().expect("request");
        let response = client.execute(request).await.expect("execute");
        black_box(response.bytes().await.expect("body"));
    }
}
