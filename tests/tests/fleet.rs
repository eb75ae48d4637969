//! Issue 16, the fleet test: 8 processes × 16 threads/tasks (both adapters) share one session
//! through one store, across 20 token expiries, then through three faults: the lease holder
//! killed mid-refresh, the store down and back, the lease holder paused past its lease.
//!
//! Every outcome is read from the emulator's journal (what the server saw) and from the
//! workers' counters (what the callers saw, what the store said); see `fleet-worker` for the
//! workers and their fault hooks. The test prints a summary table to stderr and writes it to
//! `fleet-summary.txt` in Cargo's target tmp directory.

#[path = "fleet/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use auth_emulator::{Emulator, Endpoint, JournalEntry, Outcome};

use support::{Counters, Fleet, Summary, Totals, api_outcomes, auth_served, count, millis, slice, wait_until};

/// The adapters of the 8 workers: half of them both at once in one process.
const ADAPTERS: [&str; 8] = ["mixed", "mixed", "mixed", "mixed", "ureq", "ureq", "reqwest", "reqwest"];
const THREADS: usize = 16;
/// The emulator's token lifetime: the clients refresh at half-life, so a token generation lasts
/// about a second.
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);
/// The store's lease: a dead or paused holder blocks the others for at most this long.
const LEASE: Duration = Duration::from_millis(1000);
/// How much later than the lease's end the fleet may resume refreshing on a loaded machine.
const LEASE_MARGIN: Duration = Duration::from_millis(1000);
/// Each worker thread pauses this long between two requests (keeps 128 callers within what two
/// cores serve without starving the refreshes).
const PACE_MS: u64 = 10;
const EXPIRIES: u64 = 20;

#[test]
fn a_fleet_shares_one_session_through_the_store_and_survives_three_faults() {
    let started = Instant::now();
    let emu = Emulator::builder()
        .token_lifetime(TOKEN_LIFETIME)
        .revoke_session_on_refresh_reuse(true)
        .journal_byte_budget(512 << 20)
        .start();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let control = std::env::temp_dir().join(format!("fleet-{}-{nanos}", std::process::id()));
    let store = control.join("session.json").display().to_string();
    let env = [
        ("FLEET_API", emu.url()),
        ("FLEET_USER", "alice".to_owned()),
        ("FLEET_PASSWORD", "alice-password".to_owned()),
        ("FLEET_STORE", store),
        ("FLEET_PREFIX", format!("fleet-{nanos}")),
        ("FLEET_LEASE_MS", LEASE.as_millis().to_string()),
        ("FLEET_STORE_TIMEOUT_MS", "500".to_owned()),
        ("FLEET_THREADS", THREADS.to_string()),
        ("FLEET_PACE_MS", PACE_MS.to_string()),
    ];
    let mut fleet = Fleet::new(control, env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    let mut summary = Summary::default();

    for (i, adapter) in ADAPTERS.into_iter().enumerate() {
        fleet.spawn(adapter, format!("w{}", i + 1));
    }
    wait_until("every worker to get 200s", Duration::from_secs(30), || {
        let idle: Vec<_> = fleet.statuses().into_iter().filter(|(_, c)| c.get("status.200") == 0).collect();
        if idle.is_empty() { Ok(()) } else { Err(format!("{} workers without a 200 yet", idle.len())) }
    });
    assert_eq!(emu.logins_served(), 1, "8 processes starting at once log in once");
    summary.row("start", "workers × threads/tasks", format!("{} × {THREADS} ({})", ADAPTERS.len(), ADAPTERS.join(", ")));
    summary.row("start", "logins", emu.logins_served());

    steady(&emu, &fleet, &mut summary);
    let mut next = ADAPTERS.len() + 1;
    for (fault, logins) in [("kill-before-spent-save", 0), ("kill-after-spent-save", 1), ("kill-before-new-pair-save", 1)] {
        kill(&emu, &mut fleet, &mut summary, fault, logins, &mut next);
    }

    let finals = fleet.stop(Duration::from_secs(20));
    let mut total = Counters::default();
    for counters in finals.values() {
        total.merge(counters);
    }
    let totals = Totals::of(&emu);
    assert_eq!(totals.reuses, 0, "a spent refresh token was presented");
    assert!(emu.sessions().iter().all(|s| !s.revoked), "no session was revoked");
    summary.row("end", "requests (callers, survivors)", total.get("requests"));
    summary.row("end", "logins / refreshes (server)", format!("{} / {}", totals.logins, totals.refreshes));
    summary.row("end", "spent refresh tokens presented", totals.reuses);
    summary.row("end", "journal entries dropped", emu.journal_dropped());
    summary.row("end", "run time", format!("{:.1} s", started.elapsed().as_secs_f64()));
    assert_eq!(emu.journal_dropped(), 0, "the journal kept every entry");
    summary.publish(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-summary.txt"));
}

/// The generation of the session's live pair (the newest session's).
fn generation(emu: &Emulator) -> u64 {
    emu.sessions().last().map_or(0, |s| s.generation)
}

/// Phase 1: 20 token expiries with no fault: one refresh per generation, no spent refresh token
/// presented, no dead token presented but those the server killed by rotation, and every
/// caller served.
fn steady(emu: &Emulator, fleet: &Fleet, summary: &mut Summary) {
    let before = fleet.statuses();
    let (t0, api0, gen0) = (SystemTime::now(), emu.count(Endpoint::Api), generation(emu));
    let totals0 = Totals::of(emu);
    wait_until(&format!("{EXPIRIES} token expiries"), Duration::from_secs(90), || {
        let generation = generation(emu);
        if generation >= gen0 + EXPIRIES { Ok(()) } else { Err(format!("at generation {generation}")) }
    });
    let (t1, api) = (SystemTime::now(), emu.count(Endpoint::Api) - api0);
    let after = fleet.statuses();
    let entries = slice(&emu.journal(), t0, t1);
    let totals = Totals::of(emu);

    let refreshes: Vec<&JournalEntry> = entries.iter().filter(|e| e.endpoint == Endpoint::Refresh).collect();
    assert!(refreshes.iter().all(|e| e.outcome == Outcome::Ok), "every refresh succeeded: {refreshes:#?}");
    let generations: Vec<u64> = refreshes.iter().filter_map(|e| e.token_generation).collect();
    assert!(generations.windows(2).all(|w| w[1] == w[0] + 1), "one refresh per generation: {generations:?}");
    assert!(refreshes.len() as u64 >= EXPIRIES, "{} refreshes", refreshes.len());
    assert_eq!(totals.logins, totals0.logins, "no login while the session lives");
    assert_eq!(totals.reuses, 0, "no spent refresh token presented");
    let mut gaps: Vec<i64> = refreshes.windows(2).map(|w| millis(w[0].at, w[1].at)).collect();
    gaps.sort_unstable();
    let min_gap = gaps.first().copied().unwrap_or(0);
    // Two sharers refreshing one generation would be milliseconds apart; one per generation is
    // about half a token lifetime apart.
    assert!(min_gap >= 300, "two refreshes {min_gap} ms apart: {gaps:?}");

    let outcomes = api_outcomes(&entries);
    let dead = outcomes.iter().filter(|(o, _)| *o != "Ok" && *o != "SupersededToken").collect::<Vec<_>>();
    assert!(dead.is_empty(), "API requests with a token that was not killed by rotation: {dead:?}");

    let mut callers = Counters::default();
    for (pid, counters) in &after {
        let delta = counters.since(&before[pid]);
        assert_eq!(delta.sum("error."), 0, "worker {pid}'s callers got errors: {delta:?}");
        assert_eq!(delta.sum("status.") - delta.get("status.200"), 0, "worker {pid}'s callers got non-200s: {delta:?}");
        callers.merge(&delta);
    }

    let phase = "1 steady";
    summary.row(phase, "duration", format!("{:.1} s", millis(t0, t1) as f64 / 1000.0));
    summary.row(phase, "token generations (expiries)", generation(emu) - gen0);
    summary.row(phase, "refreshes (all 200)", refreshes.len());
    summary.row(phase, "logins", totals.logins - totals0.logins);
    summary.row(phase, "spent refresh tokens presented", totals.reuses - totals0.reuses);
    summary.row(phase, "refresh spacing min / median / max", spread(&gaps));
    summary.row(phase, "API requests (server)", api);
    summary.row(phase, "API outcomes (server)", format!("{outcomes:?}"));
    summary.row(phase, "caller requests / 200s / errors", caller_figures(&callers));
    summary.row(phase, "store calls (lock ok/busy, load, save)", store_figures(&callers));
}

/// Phase 2: a worker is killed (SIGKILL) while it holds the lease, at `fault`'s step of a
/// refresh. The others resume within one lease; `logins` logins happen (0 if nothing was
/// spent; 1 once a spend is recorded, since nobody can tell whether it left); then a new worker
/// joins the session without a login.
fn kill(emu: &Emulator, fleet: &mut Fleet, summary: &mut Summary, fault: &str, logins: usize, next: &mut usize) {
    let totals0 = Totals::of(emu);
    let t0 = SystemTime::now();
    let (pid, claimed_at) = fleet.arm_and_claim(fault, Duration::from_secs(15));
    fleet.wait_killed(pid, Duration::from_secs(5));
    let (victim, adapter) = {
        let worker = fleet.worker(pid);
        (worker.name.clone(), worker.adapter)
    };
    let survivors = fleet.statuses();

    let resumed = wait_until("the fleet to log in or refresh after the kill", LEASE + Duration::from_secs(10), || {
        let after = auth_served(&slice(&emu.journal(), claimed_at, SystemTime::now() + Duration::from_secs(60)));
        after.first().copied().ok_or_else(|| "no login or refresh yet".to_owned())
    });
    let gap = millis(claimed_at, resumed.0);
    assert!(
        gap <= (LEASE + LEASE_MARGIN).as_millis() as i64,
        "the fleet resumed {gap} ms after the kill, more than the lease ({LEASE:?}) and {LEASE_MARGIN:?}"
    );
    // Two more refreshes: the fleet is back to its rhythm, and no late login follows.
    let refreshes = emu.refreshes_served();
    wait_until("two refreshes after the recovery", Duration::from_secs(10), || {
        let n = emu.refreshes_served();
        if n >= refreshes + 2 { Ok(()) } else { Err(format!("{} so far", n - refreshes)) }
    });
    let after = fleet.statuses();
    for (pid, counters) in &after {
        let served = counters.get("status.200") - survivors[pid].get("status.200");
        assert!(served > 0, "worker {pid} was not served after the kill");
    }
    let t1 = SystemTime::now();
    let entries = slice(&emu.journal(), t0, t1);
    let totals = Totals::of(emu);
    assert_eq!(totals.reuses, 0, "{fault}: a spent refresh token was presented");
    assert_eq!(totals.logins - totals0.logins, logins, "{fault}: logins");
    assert_eq!(count(&entries, |e| e.endpoint == Endpoint::Refresh && e.outcome != Outcome::Ok), 0);
    let outcomes = api_outcomes(&entries);
    assert_eq!(outcomes.get("ExpiredToken"), None, "{fault}: expired tokens presented: {outcomes:?}");

    let phase = format!("2 kill -9 {fault}");
    summary.row(&phase, "killed", format!("{victim} ({adapter}, pid {pid})"));
    summary.row(&phase, "kill → next login/refresh (lease 1 s)", format!("{gap} ms ({:?})", resumed.1));
    summary.row(&phase, "logins (expected)", format!("{} ({logins})", totals.logins - totals0.logins));
    summary.row(&phase, "refreshes", totals.refreshes - totals0.refreshes);
    summary.row(&phase, "spent refresh tokens presented", totals.reuses - totals0.reuses);
    summary.row(&phase, "longest pause in API 200s", format!("{} ms", longest_pause(&entries)));
    summary.row(&phase, "API outcomes (server)", format!("{outcomes:?}"));

    // A new worker takes the dead one's place: it continues the stored session.
    let name = format!("w{next} (replaces {victim})");
    *next += 1;
    let logins_before = emu.logins_served();
    let new = fleet.spawn(adapter, name.clone());
    wait_until(&format!("{name} to get a 200"), Duration::from_secs(20), || {
        let served = fleet.status(new).get("status.200");
        if served > 0 { Ok(()) } else { Err(format!("stderr: {}", fleet.stderr_of(&name))) }
    });
    assert_eq!(emu.logins_served(), logins_before, "a joining worker continues the stored session");
    summary.row(&phase, "replacement joined, logins", format!("{name}, {}", emu.logins_served() - logins_before));
}

/// The longest time without a successful API request among `entries` (ms).
fn longest_pause(entries: &[JournalEntry]) -> i64 {
    let ok: Vec<SystemTime> =
        entries.iter().filter(|e| e.endpoint == Endpoint::Api && e.outcome == Outcome::Ok).map(|e| e.at).collect();
    ok.windows(2).map(|w| millis(w[0], w[1])).max().unwrap_or(0)
}

fn spread(sorted: &[i64]) -> String {
    match sorted {
        [] => "-".to_owned(),
        _ => format!("{} / {} / {} ms", sorted[0], sorted[sorted.len() / 2], sorted[sorted.len() - 1]),
    }
}

fn caller_figures(c: &Counters) -> String {
    let errors: BTreeMap<_, _> = c.0.iter().filter(|(k, _)| k.starts_with("error.")).collect();
    format!("{} / {} / {errors:?}", c.get("requests"), c.get("status.200"))
}

fn store_figures(c: &Counters) -> String {
    format!(
        "{} / {}, {}, {}",
        c.get("store.lock.ok"),
        c.get("store.lock.busy"),
        c.get("store.load.ok"),
        c.get("store.save.ok")
    )
}
