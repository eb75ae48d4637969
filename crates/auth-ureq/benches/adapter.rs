//! Adapter benchmarks against the local emulator (run by hand: `cargo bench -p auth-ureq`).
//!
//! 1. End-to-end overhead: 10,000 GETs through `auth_ureq::Client` against 10,000 through a raw
//!    `ureq::Agent` with a static `Authorization` header, interleaved in rounds in the same run.
//! 2. Refresh storm: 32 threads hammering across a token's refresh window: requests per second,
//!    the refreshes the emulator served (must be 1), and the p99 latency of callers during the
//!    stale window against a steady period.
//! 3. Sharing: 2 threads sending through one shared client, against 2 with a raw `ureq::Agent`
//!    each (and, for reference, 2 sharing one raw client), interleaved in rounds in the same
//!    run: requests per second as a share of the raw pair's, the median over the rounds (goal
//!    for the shared client: at least 95 %).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use auth_core::{Config, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint};
use auth_ureq::Client;

const REQUESTS: usize = 10_000;
const ROUNDS: usize = 10;
const THREADS: usize = 32;
const PER_THREAD: usize = 100;

fn main() {
    let emu = Emulator::start();
    overhead(&emu);
    storm(&emu);
    shared(&emu);
}

fn config(emu: &Emulator) -> Config {
    Config::bearer(&emu.url(), "alice", Password::new("alice-password")).build().expect("config")
}

fn overhead(emu: &Emulator) {
    let client = Client::builder(config(emu)).build().expect("client");
    let token = client.bearer_token().expect("token");
    let header = format!("Bearer {}", token.expose_secret());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{}/reports/call-data", emu.url());

    let raw = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            let mut response = agent.get(&url).header("Authorization", &header).call().expect("raw");
            let _ = response.body_mut().read_to_vec().expect("body");
        }
        start.elapsed()
    };
    let adapter = |n: usize| {
        let start = Instant::now();
        for _ in 0..n {
            let request = http::Request::get(&url).body(()).expect("request");
            let mut response = client.send(request).expect("adapter");
            let _ = response.body_mut().read_to_vec().expect("body");
        }
        start.elapsed()
    };
    // Warm both paths (connections, caches), then interleave rounds so drift hits both alike.
    raw(200);
    adapter(200);
    let (mut raw_total, mut adapter_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        raw_total += raw(REQUESTS / ROUNDS);
        adapter_total += adapter(REQUESTS / ROUNDS);
        emu.clear_journal(); // keep the emulator's own bookkeeping flat across rounds
    }
    let ratio = adapter_total.as_secs_f64() / raw_total.as_secs_f64();
    println!(
        "e2e/ureq: {REQUESTS} requests: raw {raw_total:.2?}, adapter {adapter_total:.2?}, adapter/raw = {ratio:.3}"
    );
}

fn storm(emu: &Emulator) {
    let clock = ManualClock::starting_now();
    let client = Client::builder(config(emu)).clock(Arc::new(clock.clone())).build().expect("client");
    client.bearer_token().expect("login");
    // A refresh takes a realistic few milliseconds.
    emu.set_endpoint_latency(Endpoint::Refresh, Some(Duration::from_millis(5)));
    let url = format!("{}/reports/call-data", emu.url());

    let phase = |label: &str| {
        let barrier = Arc::new(Barrier::new(THREADS));
        let start = Instant::now();
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (client, barrier, url) = (client.clone(), Arc::clone(&barrier), url.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut latencies = Vec::with_capacity(PER_THREAD);
                    for _ in 0..PER_THREAD {
                        let t = Instant::now();
                        let request = http::Request::get(&url).body(()).expect("request");
                        let mut response = client.send(request).expect("send");
                        let _ = response.body_mut().read_to_vec().expect("body");
                        latencies.push(t.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies: Vec<Duration> = workers.into_iter().flat_map(|w| w.join().expect("worker")).collect();
        let elapsed = start.elapsed();
        latencies.sort();
        let p99 = latencies[latencies.len() * 99 / 100];
        let rate = latencies.len() as f64 / elapsed.as_secs_f64();
        println!("storm/ureq/{label}: {} requests, {rate:.0} req/s, p99 {p99:.2?}", latencies.len());
        p99
    };
    phase("warm-up"); // opens the connections both measured phases reuse
    let steady = phase("steady");
    // Counters are computed from the journal: start the stale window with an empty one.
    emu.clear_journal();
    clock.advance(Duration::from_secs(3300)); // into the refresh window: stale but valid
    let stale = phase("stale-window");
    let refreshes = emu.refreshes_served();
    // The emulator kills the old token when it rotates the pair: requests in flight with it
    // at that moment get a 401 and are resent once with the new token.
    let rejected_in_flight = emu.count_where(|e| e.endpoint == Endpoint::Api && e.status == Some(401));
    println!(
        "storm/ureq: refreshes during the stale window = {refreshes}, requests resent after the rotation = \
         {rejected_in_flight}, p99 stale/steady = {:.2}",
        stale.as_secs_f64() / steady.as_secs_f64()
    );
}

/// Requests each of the two threads sends per round of `shared`, and its rounds.
const SHARED_PER_THREAD: usize = 500;
const SHARED_ROUNDS: usize = 30;

fn shared(emu: &Emulator) {
    let client = Client::builder(config(emu)).build().expect("client");
    let token = client.bearer_token().expect("token");
    let header = format!("Bearer {}", token.expose_secret());
    let url = format!("{}/reports/call-data", emu.url());
    let agents: [ureq::Agent; 2] =
        std::array::from_fn(|_| ureq::Agent::config_builder().http_status_as_error(false).build().into());

    // Two threads start together and send `n` requests each; the round lasts until both are done.
    let round = |send: &(dyn Fn(usize) + Sync), n: usize| {
        let barrier = Barrier::new(2);
        let start = Instant::now();
        std::thread::scope(|scope| {
            for thread in 0..2 {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..n {
                        send(thread);
                    }
                });
            }
        });
        start.elapsed()
    };
    let raw = |agent: &ureq::Agent| {
        let mut response = agent.get(&url).header("Authorization", &header).call().expect("raw");
        let _ = response.body_mut().read_to_vec().expect("body");
    };
    let two_raw = |thread: usize| raw(&agents[thread]);
    let one_raw = |_thread: usize| raw(&agents[0]);
    let one_client = |_thread: usize| {
        let request = http::Request::get(&url).body(()).expect("request");
        let mut response = client.send(request).expect("shared");
        let _ = response.body_mut().read_to_vec().expect("body");
    };
    let variants: [&(dyn Fn(usize) + Sync); 3] = [&two_raw, &one_raw, &one_client];
    for variant in variants {
        round(variant, 200); // warm all: connections, caches
    }
    // Each round runs the three in turn; the shares are medians over the rounds, so that a
    // round the machine was busy in counts for little.
    let mut shares: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..SHARED_ROUNDS {
        let [two, one, shared] = variants.map(|variant| round(variant, SHARED_PER_THREAD).as_secs_f64());
        shares[0].push(two / one);
        shares[1].push(two / shared);
        emu.clear_journal();
    }
    let [raw_share, client_share] = shares.map(|mut share| {
        share.sort_by(f64::total_cmp);
        100.0 * share[share.len() / 2]
    });
    println!(
        "shared/ureq: 2 threads, {SHARED_ROUNDS} rounds of 2 x {SHARED_PER_THREAD} requests, requests per second \
         against two raw agents (median): one shared raw agent {raw_share:.1} %, one shared client \
         {client_share:.1} % (goal >= 95 %)"
    );
}
