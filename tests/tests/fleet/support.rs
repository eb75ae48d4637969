//! The fleet test's machinery: the worker processes and their control directory, bounded
//! waits, the emulator's journal sliced by time, and the summary table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use auth_emulator::{Emulator, Endpoint, JournalEntry, Outcome};
use serde_json::Value;

/// Polls `check` every 10 ms until it returns `Some`, for at most `limit`; then fails the test
/// with `what`, and what `check` last said.
pub fn wait_until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => panic!("timed out after {limit:?} waiting for {what}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// One worker process.
#[derive(Debug)]
pub struct Worker {
    pub child: Child,
    pub pid: u32,
    pub adapter: &'static str,
    /// The name it goes by in the summary ("w3", "w9 (replaces w3)").
    pub name: String,
    pub alive: bool,
}

/// The counters a worker reported, by name (missing: 0).
#[derive(Clone, Debug, Default)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    pub fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }

    /// The sum of every counter whose key starts with `prefix`.
    pub fn sum(&self, prefix: &str) -> u64 {
        self.0.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
    }

    /// What changed since `before`, the counters that did not change left out.
    pub fn since(&self, before: &Counters) -> Counters {
        let diff = self.0.iter().map(|(k, v)| (k.clone(), v - before.get(k).min(*v))).filter(|(_, v)| *v > 0);
        Counters(diff.collect())
    }

    /// Adds `other` into this one.
    pub fn merge(&mut self, other: &Counters) {
        for (k, v) in &other.0 {
            *self.0.entry(k.clone()).or_default() += v;
        }
    }

    fn parse(json: &Value) -> Counters {
        let map = json["counters"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))));
        Counters(map.into_iter().flatten().collect())
    }
}

/// The fleet: its workers, their control directory, and how to start one more. Dropping it
/// kills every worker still running (SIGKILL works on a stopped process too) and removes the
/// control directory — or, when the test failed, keeps it for its stderr and status files.
#[derive(Debug)]
pub struct Fleet {
    pub control: PathBuf,
    pub workers: Vec<Worker>,
    env: Vec<(String, String)>,
}

impl Fleet {
    pub fn new(control: PathBuf, env: Vec<(String, String)>) -> Fleet {
        std::fs::create_dir_all(&control).expect("create the control directory");
        Fleet { control, workers: Vec::new(), env }
    }

    /// Starts one worker with `adapter`; its stderr goes to `<name>.stderr` in the control
    /// directory (the test prints it when the worker fails).
    pub fn spawn(&mut self, adapter: &'static str, name: String) -> u32 {
        let stderr = std::fs::File::create(self.control.join(format!("{name}.stderr"))).expect("stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_fleet-worker"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("FLEET_ADAPTER", adapter)
            .env("FLEET_CONTROL", &self.control)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start fleet-worker");
        let pid = child.id();
        self.workers.push(Worker { child, pid, adapter, name, alive: true });
        pid
    }

    pub fn worker(&mut self, pid: u32) -> &mut Worker {
        self.workers.iter_mut().find(|w| w.pid == pid).unwrap_or_else(|| panic!("no worker has pid {pid}"))
    }

    pub fn live_pids(&self) -> Vec<u32> {
        self.workers.iter().filter(|w| w.alive).map(|w| w.pid).collect()
    }

    /// A worker's counters from its status file (empty before it wrote one).
    pub fn status(&self, pid: u32) -> Counters {
        let path = self.control.join(format!("status-{pid}.json"));
        match std::fs::read_to_string(path) {
            Ok(text) => Counters::parse(&serde_json::from_str(&text).expect("a status file is JSON")),
            Err(_) => Counters::default(),
        }
    }

    /// Every live worker's counters.
    pub fn statuses(&self) -> BTreeMap<u32, Counters> {
        self.live_pids().into_iter().map(|pid| (pid, self.status(pid))).collect()
    }

    /// Every live worker's counters, from status files written after `after` (waits for them).
    pub fn statuses_after(&self, after: SystemTime) -> BTreeMap<u32, Counters> {
        wait_until("every worker to write its status", Duration::from_secs(5), || {
            for pid in self.live_pids() {
                let path = self.control.join(format!("status-{pid}.json"));
                let written = std::fs::metadata(&path).and_then(|m| m.modified()).map_err(|e| e.to_string())?;
                if written <= after {
                    return Err(format!("worker {pid}'s status is older"));
                }
            }
            Ok(())
        });
        self.statuses()
    }

    /// The oldest token generation a worker's clients hold, from its status file.
    pub fn generation(&self, pid: u32) -> Option<u64> {
        let path = self.control.join(format!("status-{pid}.json"));
        let json: Value = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok())?;
        json["generation"].as_u64()
    }

    /// The first message a worker saw under each key (store and caller errors).
    pub fn samples(&self, pid: u32) -> BTreeMap<String, String> {
        let path = self.control.join(format!("status-{pid}.json"));
        let json: Value =
            std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let samples = json["samples"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())));
        samples.into_iter().flatten().collect()
    }

    /// The stderr a worker wrote, for a failure message.
    pub fn stderr_of(&self, name: &str) -> String {
        std::fs::read_to_string(self.control.join(format!("{name}.stderr"))).unwrap_or_default()
    }

    /// Arms the fault `name`; returns the pid of the worker that claimed it.
    pub fn arm_and_claim(&self, name: &str, limit: Duration) -> (u32, SystemTime) {
        std::fs::write(self.control.join(name), b"").expect("arm a fault");
        let prefix = format!("{name}.claimed-");
        wait_until(&format!("a worker to claim the fault {name}"), limit, || {
            for entry in std::fs::read_dir(&self.control).map_err(|e| e.to_string())? {
                let file = entry.map_err(|e| e.to_string())?.file_name();
                if let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) {
                    return Ok((pid.parse().expect("a pid"), SystemTime::now()));
                }
            }
            Err("not claimed yet".to_owned())
        })
    }

    /// Waits for the worker `pid` to die of SIGKILL.
    pub fn wait_killed(&mut self, pid: u32, limit: Duration) {
        use std::os::unix::process::ExitStatusExt;
        let worker = self.worker(pid);
        let status = wait_until(&format!("worker {pid} to die"), limit, || {
            worker.child.try_wait().map_err(|e| e.to_string())?.ok_or_else(|| "still running".to_owned())
        });
        worker.alive = false;
        assert_eq!(status.signal(), Some(9), "worker {pid} should have died of SIGKILL: {status:?}");
    }

    /// Tells every worker to stop and collects their final counters (the JSON line each prints).
    pub fn stop(&mut self, limit: Duration) -> BTreeMap<u32, Counters> {
        use std::io::Read;
        std::fs::write(self.control.join("stop"), b"").expect("write the stop file");
        let mut finals = BTreeMap::new();
        let deadline = Instant::now() + limit;
        for worker in self.workers.iter_mut().filter(|w| w.alive) {
            let left = deadline.saturating_duration_since(Instant::now());
            let status = wait_until(&format!("{} (pid {}) to stop", worker.name, worker.pid), left, || {
                worker.child.try_wait().map_err(|e| e.to_string())?.ok_or_else(|| "still running".to_owned())
            });
            worker.alive = false;
            let mut stdout = String::new();
            worker.child.stdout.take().expect("piped stdout").read_to_string(&mut stdout).expect("read stdout");
            let stderr = std::fs::read_to_string(self.control.join(format!("{}.stderr", worker.name)));
            assert!(status.success(), "{} failed: {status:?}; stderr: {stderr:?}", worker.name);
            let line = stdout.lines().last().unwrap_or_else(|| panic!("{} printed nothing", worker.name));
            let json: Value = serde_json::from_str(line).expect("the final line is JSON");
            assert_eq!(json["done"], true);
            finals.insert(worker.pid, Counters::parse(&json));
        }
        finals
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for worker in self.workers.iter_mut().filter(|w| w.alive) {
            let _ = worker.child.kill();
            let _ = worker.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("the workers' stderr and status files are kept in {}", self.control.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.control);
        }
    }
}

/// A new control directory named `name`: on tmpfs (`/dev/shm`) where there is one, else in the
/// temporary directory.
///
/// The status files in it are the test's only view of the workers, rewritten every 100 ms (a
/// new file renamed over the old). On a disk file system a rename can wait for the journal's
/// commit, and when Redis stops (`SHUTDOWN` syncs its append-only file to the same disk) on a
/// busy machine that commit took seconds: a worker's status then stayed seconds old while its
/// callers ran on, and phase 3 waited 10 s for counters that had long moved. On tmpfs nothing
/// waits for a disk.
pub fn control_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm").join(name);
    if std::fs::create_dir(&shm).is_ok() {
        return shm;
    }
    std::env::temp_dir().join(name)
}

/// Sends `signal` (`-STOP`, `-CONT`) to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill {signal} {pid}: {status:?}");
}

/// The state letter of process `pid` (`T`: stopped), from /proc.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The journal's entries from `from` (inclusive) to `to` (exclusive), by arrival time.
pub fn slice(journal: &[JournalEntry], from: SystemTime, to: SystemTime) -> Vec<JournalEntry> {
    journal.iter().filter(|e| e.at >= from && e.at < to).cloned().collect()
}

/// Successful logins and refreshes, the instants they arrived.
pub fn auth_served(entries: &[JournalEntry]) -> Vec<(SystemTime, Endpoint)> {
    entries
        .iter()
        .filter(|e| matches!(e.endpoint, Endpoint::Login | Endpoint::Refresh) && e.outcome == Outcome::Ok)
        .map(|e| (e.at, e.endpoint))
        .collect()
}

/// Waits for the first login or refresh the emulator served at or after `since` (for at most
/// `limit`), and returns when it came and which it was.
///
/// It reads the journal only when the emulator's totals say a login or refresh was served
/// since its last look. A copy of the journal (hundreds of thousands of entries by the later
/// phases) holds the journal's lock, which every request the emulator answers takes to record
/// itself: copied every 10 ms, it stalls the server for most of the wait, and requests sent
/// with a token the client rightly deems valid reach it only after the token's expiry.
pub fn first_auth_served(emu: &Emulator, since: SystemTime, what: &str, limit: Duration) -> (SystemTime, Endpoint) {
    let mut looked_at = None;
    wait_until(what, limit, || {
        let served = emu.logins_served() + emu.refreshes_served();
        if looked_at == Some(served) {
            return Err("no login or refresh yet".to_owned());
        }
        looked_at = Some(served);
        let entries = slice(&emu.journal(), since, SystemTime::now() + Duration::from_secs(60));
        auth_served(&entries).first().copied().ok_or_else(|| "no login or refresh yet".to_owned())
    })
}

/// How many entries of `entries` match.
pub fn count(entries: &[JournalEntry], pred: impl Fn(&JournalEntry) -> bool) -> usize {
    entries.iter().filter(|e| pred(e)).count()
}

/// The outcomes of the API requests among `entries`, by name, with their counts.
pub fn api_outcomes(entries: &[JournalEntry]) -> BTreeMap<String, usize> {
    let mut outcomes = BTreeMap::new();
    for entry in entries.iter().filter(|e| e.endpoint == Endpoint::Api) {
        *outcomes.entry(format!("{:?}", entry.outcome)).or_default() += 1;
    }
    outcomes
}

/// The emulator's running totals that every phase asserts on.
#[derive(Clone, Copy, Debug)]
pub struct Totals {
    pub logins: usize,
    pub refreshes: usize,
    pub reuses: usize,
}

impl Totals {
    pub fn of(emu: &Emulator) -> Totals {
        Totals {
            logins: emu.logins_served(),
            refreshes: emu.refreshes_served(),
            reuses: emu.consumed_refresh_token_reuses(),
        }
    }
}

/// The summary: rows of (phase, what, figure), printed as a table.
#[derive(Debug, Default)]
pub struct Summary(Vec<(String, String, String)>);

impl Summary {
    pub fn row(&mut self, phase: &str, what: &str, figure: impl std::fmt::Display) {
        self.0.push((phase.to_owned(), what.to_owned(), figure.to_string()));
    }

    pub fn table(&self) -> String {
        let width = |f: fn(&(String, String, String)) -> &String| self.0.iter().map(|r| f(r).len()).max().unwrap_or(0);
        let (a, b) = (width(|r| &r.0).max(5), width(|r| &r.1).max(4));
        let mut out =
            format!("| {:a$} | {:b$} | figure |\n|{}|{}|---|\n", "phase", "what", "-".repeat(a + 2), "-".repeat(b + 2));
        for (phase, what, figure) in &self.0 {
            let _ = writeln!(out, "| {phase:a$} | {what:b$} | {figure} |");
        }
        out
    }

    /// Prints the table to stderr and writes it to `path`.
    pub fn publish(&self, path: &Path) {
        let table = self.table();
        eprintln!("{table}");
        let _ = std::fs::write(path, table);
    }
}

/// Milliseconds between two instants (negative: `b` before `a`).
pub fn millis(a: SystemTime, b: SystemTime) -> i64 {
    match b.duration_since(a) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

impl Drop for Summary {
    /// A failing test still shows what it measured up to the failure.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("fleet summary up to the failure:\n{}", self.table());
        }
    }
}
