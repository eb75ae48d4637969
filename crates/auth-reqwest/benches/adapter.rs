//! Adapter benchmarks against the local emulator (run by hand: `cargo bench -p auth-reqwest`).
//!
//! 1. End-to-end overhead: 10,000 GETs through `auth_reqwest::Client` against 10,000 through a
//!    raw `reqwest::Client` with a static `Authorization` header, interleaved in rounds in the
//!    same run.
//! 2. Refresh storm: 1,000 tasks hammering across a token's refresh window: requests per
//!    second, the refreshes the emulator served (must be 1), and the p99 latency of callers
//!    during the stale window against a steady period.
//! 3. Sharing: 2 tasks (on the runtime's 2 worker threads) sending through one
//!    `auth_reqwest::Client` against 2 tasks with a raw `reqwest::Client` each, interleaved in
//!    rounds in the same run: the shared client's requests per second as a share of the raw
//!    pair's (goal: at least 95 %).

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{Config, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint};
use auth_reqwest::Client;

const REQUESTS: usize = 10_000;
const ROUNDS: usize = 10;
const TASKS: usize = 1_000;
const PER_TASK: usize = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let emu = Emulator::start();
    runtime.block_on(overhead(&emu));
    runtime.block_on(storm(&emu));
    runtime.block_on(shared(&emu));
}

fn config(emu: &Emulator) -> Config {
    Config::bearer(&emu.url(), "alice", Password::new("alice-password")).build().expect("config")
}

async fn overhead(emu: &Emulator) {
    let client = Client::builder(config(emu)).build().await.expect("client");
    let token = client.bearer_token().await.expect("token");
    let header = format!("Bearer {}", token.expose_secret());
    let raw_client = auth_reqwest::http_client_builder(&config(emu)).build().expect("raw client");
    let url = format!("{}/reports/call-data", emu.url());

    let raw = |n: usize| {
        let (raw_client, header, url) = (raw_client.clone(), header.clone(), url.clone());
        async move {
            let start = Instant::now();
            for _ in 0..n {
                let response = raw_client.get(&url).header("Authorization", &header).send().await.expect("raw");
                let _ = response.bytes().await.expect("body");
            }
            start.elapsed()
        }
    };
    let adapter = |n: usize| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let start = Instant::now();
            for _ in 0..n {
                let request = http::Request::get(&url).body(Vec::new()).expect("request");
                let response = reqwest::Response::from(client.send(request).await.expect("adapter"));
                let _ = response.bytes().await.expect("body");
            }
            start.elapsed()
        }
    };
    raw(200).await;
    adapter(200).await;
    let (mut raw_total, mut adapter_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        raw_total += raw(REQUESTS / ROUNDS).await;
        adapter_total += adapter(REQUESTS / ROUNDS).await;
        emu.clear_journal();
    }
    let ratio = adapter_total.as_secs_f64() / raw_total.as_secs_f64();
    println!(
        "e2e/reqwest: {REQUESTS} requests: raw {raw_total:.2?}, adapter {adapter_total:.2?}, adapter/raw = {ratio:.3}"
    );
}

async fn storm(emu: &Emulator) {
    let clock = ManualClock::starting_now();
    let client = Client::builder(config(emu)).clock(Arc::new(clock.clone())).build().await.expect("client");
    client.bearer_token().await.expect("login");
    emu.set_endpoint_latency(Endpoint::Refresh, Some(Duration::from_millis(5)));
    let url = format!("{}/reports/call-data", emu.url());

    let phase = |label: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let start = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..TASKS {
                let (client, url) = (client.clone(), url.clone());
                tasks.spawn(async move {
                    let mut latencies = Vec::with_capacity(PER_TASK);
                    for _ in 0..PER_TASK {
                        let t = Instant::now();
                        let request = http::Request::get(&url).body(Vec::new()).expect("request");
                        let response = reqwest::Response::from(client.send(request).await.expect("send"));
                        let _ = response.bytes().await.expect("body");
                        latencies.push(t.elapsed());
                    }
                    latencies
                });
            }
            let mut latencies: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
            let elapsed = start.elapsed();
            latencies.sort();
            let p99 = latencies[latencies.len() * 99 / 100];
            let rate = latencies.len() as f64 / elapsed.as_secs_f64();
            println!("storm/reqwest/{label}: {} requests, {rate:.0} req/s, p99 {p99:.2?}", latencies.len());
            p99
        }
    };
    phase("warm-up").await; // opens the connections both measured phases reuse
    let steady = phase("steady").await;
    emu.clear_journal();
    clock.advance(Duration::from_secs(3300)); // into the refresh window: stale but valid
    let stale = phase("stale-window").await;
    // The emulator kills the old token when it rotates the pair: requests in flight with it
    // at that moment get a 401 and are resent once with the new token.
    let rejected_in_flight = emu.count_where(|e| e.endpoint == Endpoint::Api && e.status == Some(401));
    println!(
        "storm/reqwest: refreshes during the stale window = {}, requests resent after the rotation = \
         {rejected_in_flight}, p99 stale/steady = {:.2}",
        emu.refreshes_served(),
        stale.as_secs_f64() / steady.as_secs_f64()
    );
}

/// Requests each of the two tasks sends per round of `shared`.
const SHARED_PER_TASK: usize = 1_000;

async fn shared(emu: &Emulator) {
    let client = Client::builder(config(emu)).build().await.expect("client");
    let token = client.bearer_token().await.expect("token");
    let header = format!("Bearer {}", token.expose_secret());
    let url = format!("{}/reports/call-data", emu.url());
    let raw_clients: Vec<reqwest::Client> =
        (0..2).map(|_| auth_reqwest::http_client_builder(&config(emu)).build().expect("raw client")).collect();

    // Two tasks start together and send `n` requests each; the round lasts until both are done.
    async fn round<F: Future<Output = ()> + Send + 'static>(tasks: [F; 2]) -> Duration {
        let start = Instant::now();
        let [a, b] = tasks.map(tokio::spawn);
        a.await.expect("task");
        b.await.expect("task");
        start.elapsed()
    }
    let raw = |n: usize| {
        std::array::from_fn::<_, 2, _>(|task| {
            let (raw_client, header, url) = (raw_clients[task].clone(), header.clone(), url.clone());
            async move {
                for _ in 0..n {
                    let response = raw_client.get(&url).header("Authorization", &header).send().await.expect("raw");
                    let _ = response.bytes().await.expect("body");
                }
            }
        })
    };
    let shared = |n: usize| {
        std::array::from_fn::<_, 2, _>(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                for _ in 0..n {
                    let request = http::Request::get(&url).body(Vec::new()).expect("request");
                    let response = reqwest::Response::from(client.send(request).await.expect("shared"));
                    let _ = response.bytes().await.expect("body");
                }
            }
        })
    };
    round(raw(200)).await; // warm both: connections, caches
    round(shared(200)).await;
    let (mut raw_total, mut shared_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        raw_total += round(raw(SHARED_PER_TASK)).await;
        shared_total += round(shared(SHARED_PER_TASK)).await;
        emu.clear_journal();
    }
    let requests = (2 * SHARED_PER_TASK * ROUNDS) as f64;
    let (raw_rate, shared_rate) = (requests / raw_total.as_secs_f64(), requests / shared_total.as_secs_f64());
    println!(
        "shared/reqwest: 2 tasks x {} requests: two raw clients {raw_rate:.0} req/s, one shared client \
         {shared_rate:.0} req/s = {:.1} % (goal >= 95 %)",
        SHARED_PER_TASK * ROUNDS,
        100.0 * shared_rate / raw_rate
    );
}
