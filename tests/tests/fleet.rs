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

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use auth_emulator::{Emulator, Endpoint, JournalEntry, Outcome};
use auth_redis::testing::RedisServer;

use support::{
    Counters, Fleet, Summary, Totals, api_outcomes, control_dir, count, first_auth_served, millis, process_state,
    signal, slice, wait_until,
};

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
const PACE_MS: u64 = 20;
const EXPIRIES: u64 = 20;

#[test]
fn a_fleet_shares_one_session_through_the_store_and_survives_three_faults() {
    let started = Instant::now();
    let mut redis = RedisServer::start().expect("start redis-server (Debian's redis-server package)");
    let emu = Emulator::builder()
        .token_lifetime(TOKEN_LIFETIME)
        .revoke_session_on_refresh_reuse(true)
        .journal_byte_budget(512 << 20)
        .start();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let control = control_dir(&format!("fleet-{}-{nanos}", std::process::id()));
    let env = [
        ("FLEET_API", emu.url()),
        ("FLEET_USER", "alice".to_owned()),
        ("FLEET_PASSWORD", "alice-password".to_owned()),
        ("FLEET_STORE", redis.url()),
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
    summary.row(
        "start",
        "workers × threads/tasks",
        format!("{} × {THREADS} ({})", ADAPTERS.len(), ADAPTERS.join(", ")),
    );
    summary.row("start", "logins", emu.logins_served());

    // `FLEET_ONLY=<phase>` (`kill`, `outage`, `pause`) runs one phase alone, to loop it while
    // chasing a flake in it; unset, every phase runs.
    let only = std::env::var("FLEET_ONLY").ok();
    let runs = |phase: &str| only.as_deref().is_none_or(|only| only == phase);
    if only.is_none() {
        steady(&emu, &fleet, &redis.url(), &mut summary);
    }
    if runs("kill") {
        let mut next = ADAPTERS.len() + 1;
        for (fault, logins) in
            [("kill-before-spent-save", 0), ("kill-after-spent-save", 1), ("kill-before-new-pair-save", 1)]
        {
            kill(&emu, &mut fleet, &mut summary, fault, logins, &mut next);
        }
    }
    if runs("outage") {
        outage(&emu, &fleet, &mut redis, &mut summary);
    }
    if runs("pause") {
        pause(&emu, &fleet, &mut summary);
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
///
/// A dead token is one the server no longer accepts when the request arrives; the journal says
/// why: expired, revoked, unknown, or superseded (a refresh replaced it). Only the last is
/// allowed: a request that left with the token of generation g while another host was rotating
/// to g+1 is killed by that rotation, and the client resends it once with the new token (so
/// every caller still gets a 200). Expired, revoked and unknown must be 0.
fn steady(emu: &Emulator, fleet: &Fleet, redis_url: &str, summary: &mut Summary) {
    let mut redis = redis::Client::open(redis_url).and_then(|c| c.get_connection()).expect("connect to Redis");
    redis::cmd("CONFIG").arg("RESETSTAT").exec(&mut redis).expect("CONFIG RESETSTAT");
    let t0 = SystemTime::now();
    let before = fleet.statuses_after(t0);
    let (api0, gen0) = (emu.count(Endpoint::Api), generation(emu));
    let totals0 = Totals::of(emu);
    wait_until(&format!("{EXPIRIES} token expiries"), Duration::from_secs(90), || {
        let generation = generation(emu);
        if generation >= gen0 + EXPIRIES { Ok(()) } else { Err(format!("at generation {generation}")) }
    });
    let (t1, api) = (SystemTime::now(), emu.count(Endpoint::Api) - api0);
    let commands = command_stats(&mut redis);
    let after = fleet.statuses_after(t1);
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

    // The hot path makes no Redis call: commands come with exchanges (the lease, the load, the
    // fenced saves) and lease renewals, never with a request.
    let total: u64 = commands.values().sum();
    let per_request = total as f64 / api as f64;
    summary.row(phase, "Redis commands (incl. inside scripts)", format!("{total} {commands:?}"));
    summary.row(phase, "Redis commands per API request", format!("{per_request:.4}"));
    assert!(per_request < 0.05, "{total} Redis commands for {api} API requests: {commands:?}");
}

/// Redis's calls per command since the last `CONFIG RESETSTAT`, without the test's own
/// (`CONFIG`, `INFO`). A script's own calls count under their names as well as `evalsha`.
fn command_stats(redis: &mut redis::Connection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(redis).expect("INFO commandstats");
    let mut stats = BTreeMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line.strip_prefix("cmdstat_").and_then(|l| l.split_once(':')) else { continue };
        let calls = rest.split(',').find_map(|f| f.strip_prefix("calls=")).and_then(|n| n.parse().ok());
        if !name.starts_with("config") && !name.starts_with("info") {
            stats.insert(name.to_owned(), calls.expect("a call count"));
        }
    }
    stats
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
    let survivors = fleet.statuses_after(SystemTime::now());

    let resumed = first_auth_served(
        emu,
        claimed_at,
        "the fleet to log in or refresh after the kill",
        LEASE + Duration::from_secs(10),
    );
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

/// Phase 3: Redis stops (`SHUTDOWN`, as an operator stops it: its data kept) right after a refresh, while every worker holds a fresh token in
/// memory, and stays down until the tokens have expired; then it starts again on the same port
/// with the same data. While it is down every worker reports it (a clear `Unavailable`, and
/// the driver's event), the tokens in memory keep serving while they are valid, then callers
/// get the store's error (nothing is sent without the lease). Once it is back the fleet
/// refreshes through it again, no worker restarted, no login, no spent token presented.
fn outage(emu: &Emulator, fleet: &Fleet, redis: &mut RedisServer, summary: &mut Summary) {
    let totals0 = Totals::of(emu);
    let refreshes = emu.refreshes_served();
    // Right after a refresh, once every worker holds the new pair (a worker still holding the
    // pair the refresh killed could not learn the new one without Redis). The workers number
    // generations on their own (they keep counting across logins): all equal, after the
    // refresh, is what tells.
    let mut last = (refreshes, SystemTime::now());
    wait_until("a refresh adopted by every worker", Duration::from_secs(15), || {
        let (served, now) = (emu.refreshes_served(), SystemTime::now());
        if served != last.0 {
            last = (served, now);
        }
        if served == refreshes {
            return Err("no refresh yet".to_owned());
        }
        // Status files written after the refresh was seen (they are written every 100 ms).
        for pid in fleet.live_pids() {
            let written =
                std::fs::metadata(fleet.control.join(format!("status-{pid}.json"))).and_then(|m| m.modified());
            if written.map_or(true, |at| at < last.1 + Duration::from_millis(50)) {
                return Err(format!("worker {pid}'s status predates the refresh"));
            }
        }
        let generations: BTreeSet<_> = fleet.live_pids().into_iter().map(|pid| fleet.generation(pid)).collect();
        if generations.len() == 1 { Ok(()) } else { Err(format!("generations {generations:?}")) }
    });
    let refreshes = emu.refreshes_served();
    // The baseline is read while Redis is still up: `stop` can take a second or more on a
    // loaded machine (`SHUTDOWN` writes the append-only file), and every worker may find Redis
    // gone, and even outlive its token, before it returns.
    let before_stop = fleet.statuses();
    let stopping_at = SystemTime::now();
    redis.stop();
    assert_eq!(emu.refreshes_served(), refreshes, "a refresh slipped in before Redis stopped");
    let stopped_at = SystemTime::now();
    let unavailable = |c: &Counters| c.get("store.lock.unavailable");
    wait_until("every worker to find Redis unavailable", Duration::from_secs(10), || {
        let statuses = fleet.statuses();
        let waiting = statuses.iter().filter(|(pid, c)| unavailable(c) <= unavailable(&before_stop[pid])).count();
        if waiting == 0 { Ok(()) } else { Err(format!("{waiting} workers have not tried it yet")) }
    });
    let noticed_at = SystemTime::now();
    // The tokens expire: a caller that needs a new one gets the store's error.
    wait_until("a caller to get the store's error once its token expired", Duration::from_secs(10), || {
        let failed = fleet
            .statuses()
            .iter()
            .any(|(pid, c)| c.get("error.store.unavailable") > before_stop[pid].get("error.store.unavailable"));
        if failed { Ok(()) } else { Err("no caller failed yet".to_owned()) }
    });
    // The workers retry all along: the first may get through before `restart` has seen the
    // server answer, so the recovery is timed from when the restart began.
    // Every worker's counters up to here, while Redis is still down: what a caller was told then
    // came from the tokens in memory or from the store's failure, nothing else.
    let before_restart = fleet.statuses_after(SystemTime::now());
    let restarting_at = SystemTime::now();
    redis.restart().expect("restart redis-server");
    let restarted_at = SystemTime::now();
    let at_restart = fleet.statuses_after(restarted_at);

    let refreshes = emu.refreshes_served();
    let recovered =
        first_auth_served(emu, restarting_at, "a refresh through Redis after its restart", Duration::from_secs(10));
    wait_until("two refreshes after the restart", Duration::from_secs(10), || {
        let n = emu.refreshes_served();
        if n >= refreshes + 2 { Ok(()) } else { Err(format!("{} so far", n - refreshes)) }
    });
    let ended_at = SystemTime::now();
    let after = fleet.statuses_after(ended_at);
    let entries = slice(&emu.journal(), stopping_at, ended_at);
    // Milliseconds: the workers retry all along. Bounded by a lease in any case (a lock whose
    // answer was lost across the restart would be held by nobody until it lapses).
    let back = millis(restarting_at, recovered.0);
    assert!(back <= (LEASE + LEASE_MARGIN).as_millis() as i64, "the fleet refreshed {back} ms after Redis was back");
    let totals = Totals::of(emu);

    let served_down =
        count(&entries, |e| e.endpoint == Endpoint::Api && e.outcome == Outcome::Ok && e.at < restarting_at);
    let mut down = Counters::default();
    for (pid, counters) in &at_restart {
        let delta = counters.since(&before_stop[pid]);
        assert!(delta.get("status.200") > 0, "worker {pid} served nothing while Redis was down: {delta:?}");
        // The guarantee itself, judged by each worker when a caller fails: no caller gets the
        // store's error while the token in memory is still in service. (Whether a worker learns
        // of the outage while its token is valid depends on how long `SHUTDOWN` keeps Redis
        // answering, or hanging, on a loaded machine: a worker told "busy" just before may only
        // learn of it once its token expired.)
        let outage = before_restart[pid].since(&before_stop[pid]);
        let while_valid: Vec<_> = outage.0.keys().filter(|k| k.ends_with(".token_valid")).collect();
        assert!(
            while_valid.is_empty(),
            "worker {pid} failed callers with the store's error while its token was valid: {outage:?}"
        );
        assert!(
            delta.get("event.store_failed.lock.unavailable") > 0,
            "worker {pid} did not report Redis down as an event: {delta:?}"
        );
        let errors: Vec<_> =
            delta.0.keys().filter(|k| k.starts_with("error.") && *k != "error.store.unavailable").collect();
        assert!(errors.is_empty(), "worker {pid}'s callers got other errors than the store's: {delta:?}");
        down.merge(&delta);
    }
    let mut up = Counters::default();
    for (pid, counters) in &after {
        let delta = counters.since(&at_restart[pid]);
        assert!(delta.get("status.200") > 0, "worker {pid} was not served after the restart");
        up.merge(&delta);
    }
    let (pid, _) = at_restart.iter().next().expect("a worker");
    let samples = fleet.samples(*pid);
    let message = samples.get("store.lock.unavailable").expect("the store error's message");
    let redis_url = redis.url();
    assert!(
        message.contains(redis_url.trim_end_matches('/')) && message.contains("tokens in memory keep serving"),
        "an unclear message: {message}"
    );
    assert_eq!(totals.logins, totals0.logins, "no login: Redis kept the session (stopped with SHUTDOWN)");
    assert_eq!(totals.reuses, 0, "no spent refresh token presented");
    assert_eq!(count(&entries, |e| e.endpoint == Endpoint::Refresh && e.outcome != Outcome::Ok), 0);
    let outcomes = api_outcomes(&entries);
    assert_eq!(outcomes.get("ExpiredToken"), None, "expired tokens presented: {outcomes:?}");

    let phase = "3 Redis down, up";
    summary.row(
        phase,
        "down for (+ its start)",
        format!("{} ms (+ {} ms)", millis(stopping_at, restarting_at), millis(restarting_at, restarted_at)),
    );
    summary.row(phase, "SHUTDOWN took", format!("{} ms", millis(stopping_at, stopped_at)));
    summary.row(
        phase,
        "every worker saw Unavailable after (test saw it)",
        format!("{} ms", millis(stopping_at, noticed_at)),
    );
    summary.row(
        phase,
        "API 200s while down (sent once Unavailable was known)",
        format!("{served_down} ({})", down.get("served.store_down")),
    );
    summary.row(phase, "callers while down: requests / 200s / errors", caller_figures(&down));
    summary.row(phase, "store Unavailable (lock, load, save)", unavailable_figures(&down));
    summary.row(phase, "Unavailable events (driver)", down.sum("event.store_failed.lock.unavailable"));
    summary.row(phase, "message", message);
    summary.row(phase, "restart begun → next refresh", format!("{back} ms ({:?})", recovered.1));
    summary.row(phase, "callers after restart: requests / 200s / errors", caller_figures(&up));
    summary.row(phase, "store after restart (lock ok/busy, load, save)", store_figures(&up));
    summary.row(phase, "store Unavailable after restart", unavailable_figures(&up));
    summary.row(
        phase,
        "logins / refreshes",
        format!("{} / {}", totals.logins - totals0.logins, totals.refreshes - totals0.refreshes),
    );
    summary.row(phase, "spent refresh tokens presented", totals.reuses - totals0.reuses);
    summary.row(phase, "API outcomes (server)", format!("{outcomes:?}"));
}

/// Phase 4: a worker stops (SIGSTOP) holding the lease, about to save the spent state of a
/// refresh. Its lease lapses; the others take it and refresh past it. Woken (SIGCONT), its
/// spent-state save is refused (fencing), so its refresh token — spent by another since — is
/// never sent; it adopts the stored session and is served again.
fn pause(emu: &Emulator, fleet: &Fleet, summary: &mut Summary) {
    let totals0 = Totals::of(emu);
    let t0 = SystemTime::now();
    let (pid, _) = fleet.arm_and_claim("stop-before-spent-save", Duration::from_secs(15));
    wait_until(&format!("worker {pid} to stop"), Duration::from_secs(5), || match process_state(pid) {
        Some('T') => Ok(()),
        state => Err(format!("state {state:?}")),
    });
    let stopped_at = SystemTime::now();
    let refreshes = emu.refreshes_served();
    wait_until("the others to refresh past the paused holder", Duration::from_secs(15), || {
        let overtaken = emu.refreshes_served() - refreshes;
        let paused = millis(stopped_at, SystemTime::now());
        if overtaken >= 2 && paused > LEASE.as_millis() as i64 {
            Ok(())
        } else {
            Err(format!("{overtaken} refreshes in {paused} ms"))
        }
    });
    let overtaken = emu.refreshes_served() - refreshes;
    let before = fleet.status(pid);
    // The worker holds the step until this file exists, however late its stop landed.
    std::fs::write(fleet.control.join("stop-before-spent-save.continue"), b"").expect("end the pause");
    signal(pid, "-CONT");
    let woken_at = SystemTime::now();
    let woken = wait_until(&format!("worker {pid}'s late save to be refused"), Duration::from_secs(10), || {
        let status = fleet.status(pid);
        if status.get("store.save.fenced") > before.get("store.save.fenced") {
            Ok(status)
        } else {
            Err("not yet".to_owned())
        }
    });
    wait_until(&format!("worker {pid} to be served again"), Duration::from_secs(10), || {
        let served = fleet.status(pid).get("status.200") - woken.get("status.200");
        if served > 0 { Ok(()) } else { Err("no 200 yet".to_owned()) }
    });
    let refreshes = emu.refreshes_served();
    wait_until("a refresh after the wake-up", Duration::from_secs(10), || {
        if emu.refreshes_served() > refreshes { Ok(()) } else { Err("none yet".to_owned()) }
    });
    let t1 = SystemTime::now();
    let delta = fleet.statuses_after(t1)[&pid].since(&before);
    let entries = slice(&emu.journal(), t0, t1);
    let totals = Totals::of(emu);
    assert!(delta.get("event.store_failed.save.fenced") > 0, "the refusal is an event: {delta:?}");
    let withdrawn = "event.auth request withdrawn before sending: the store did not record its spent state";
    assert!(delta.get(withdrawn) > 0, "the refused save was the spent state's; its refresh never left: {delta:?}");
    assert_eq!(totals.reuses, 0, "the paused worker's spent refresh token was presented");
    assert_eq!(count(&entries, |e| e.endpoint == Endpoint::Refresh && e.outcome != Outcome::Ok), 0);
    assert_eq!(totals.logins, totals0.logins, "no login: the woken worker adopted the stored session");
    assert!(emu.sessions().iter().all(|s| !s.revoked), "the session was not revoked");
    let samples = fleet.samples(pid);
    let message = samples.get("store.save.fenced").expect("the fenced save's message");

    let phase = "4 SIGSTOP, SIGCONT";
    summary.row(phase, "paused for (lease 1 s)", format!("{} ms", millis(stopped_at, woken_at)));
    summary.row(phase, "refreshes by the others meanwhile", overtaken);
    summary.row(phase, "woken worker: saves refused (Fenced)", delta.get("store.save.fenced"));
    summary.row(phase, "woken worker: refreshes sent", "0 (journal: no spent token presented)");
    summary.row(phase, "woken worker: callers requests / 200s / errors", caller_figures(&delta));
    summary.row(phase, "message", message);
    summary.row(
        phase,
        "logins / refreshes",
        format!("{} / {}", totals.logins - totals0.logins, totals.refreshes - totals0.refreshes),
    );
    summary.row(phase, "spent refresh tokens presented", totals.reuses - totals0.reuses);
    summary.row(phase, "API outcomes (server)", format!("{:?}", api_outcomes(&entries)));
}

fn unavailable_figures(c: &Counters) -> String {
    let [lock, load, save] = ["lock", "load", "save"].map(|op| c.get(&format!("store.{op}.unavailable")));
    format!("{lock}, {load}, {save}")
}
