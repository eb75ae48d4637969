//! Adapter benchmarks against the local emulator (run by hand: `cargo bench -p auth-reqwest`).
//!
//! 1. End-to-end overhead: 10,000 GETs through `auth_reqwest::Client` against 10,000 through a
//!    raw `reqwest::Client` with a static `Authorization` header, interleaved in rounds in the
//!    same run.
//! 2. Refresh storm: 1,000 tasks hammering across a token's refresh window: requests per
//!    second, the refreshes the emulator served (must be 1), and the p99 latency of callers
//!    during the stale window against a steady period.
//! 3. Sharing: 2 tasks sending through one shared client (`execute`, reqwest's types as the raw
//!    clients; and `send`, `http` types), against 2 with a raw `reqwest::Client` each (and, for
//!    reference, 2 sharing one raw client), interleaved in rounds in the same run: requests per
//!    second as a share of the raw pair's, the median over the rounds (goal for the shared
//!    client: at least 95 %).

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

/// Requests each of the two tasks sends per round of `shared`, and its rounds.
const SHARED_PER_TASK: usize = 500;
const SHARED_ROUNDS: usize = 30;

/// Who sends in a round of `shared`.
#[derive(Clone, Copy)]
enum Sender {
    TwoRaw,
    OneRaw,
    /// `Client::execute` (reqwest's types, as the raw clients).
    OneClient,
    /// `Client::send` (`http` types in and out).
    OneClientSend,
}

async fn shared(emu: &Emulator) {
    let client = Client::builder(config(emu)).build().await.expect("client");
    let token = client.bearer_token().await.expect("token");
    let header = format!("Bearer {}", token.expose_secret());
    let url = format!("{}/reports/call-data", emu.url());
    let raw_clients: [reqwest::Client; 2] =
        std::array::from_fn(|_| auth_reqwest::http_client_builder(&config(emu)).build().expect("raw client"));

    // Two tasks start together and send `n` requests each; the round lasts until both are done.
    let round = |sender: Sender, n: usize| {
        let tasks: [_; 2] = std::array::from_fn(|task| {
            let raw = raw_clients[if matches!(sender, Sender::TwoRaw) { task } else { 0 }].clone();
            let (client, header, url) = (client.clone(), header.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..n {
                    let response = match sender {
                        Sender::TwoRaw | Sender::OneRaw => {
                            raw.get(&url).header("Authorization", &header).send().await.expect("raw")
                        }
                        Sender::OneClient => {
                            let request = client.http_client().get(&url).build().expect("request");
                            client.execute(request).await.expect("shared")
                        }
                        Sender::OneClientSend => {
                            let request = http::Request::get(&url).body(Vec::new()).expect("request");
                            reqwest::Response::from(client.send(request).await.expect("shared"))
                        }
                    };
                    let _ = response.bytes().await.expect("body");
                }
            })
        });
        async move {
            let start = Instant::now();
            for task in tasks {
                task.await.expect("task");
            }
            start.elapsed().as_secs_f64()
        }
    };
    let senders = [Sender::TwoRaw, Sender::OneRaw, Sender::OneClient, Sender::OneClientSend];
    for sender in senders {
        round(sender, 200).await; // warm all: connections, caches
    }
    // Each round runs the three in turn; the shares are medians over the rounds, so that a
    // round the machine was busy in counts for little.
    let mut shares: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..SHARED_ROUNDS {
        let two = round(Sender::TwoRaw, SHARED_PER_TASK).await;
        for (share, sender) in shares.iter_mut().zip(&senders[1..]) {
            share.push(two / round(*sender, SHARED_PER_TASK).await);
        }
        emu.clear_journal();
    }
    let [raw_share, client_share, send_share] = shares.map(|mut share| {
        share.sort_by(f64::total_cmp);
        100.0 * share[share.len() / 2]
    });
    println!(
        "shared/reqwest: 2 tasks, {SHARED_ROUNDS} rounds of 2 x {SHARED_PER_TASK} requests, requests per second \
         against two raw clients (median): one shared raw client {raw_share:.1} %, one shared client \
         {client_share:.1} % with execute (goal >= 95 %), {send_share:.1} % with send"
    );
}
