//! The `auth-emulator` binary.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::support::post_json;

/// Kills the child on drop so a failing assertion does not leak the process.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Running, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-emulator"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the binary");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let done = line.starts_with("Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    let url = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("REST:"))
        .map(|u| u.trim().to_owned())
        .expect("a REST URL line");
    (running, url, lines)
}

#[test]
fn the_binary_prints_its_urls_and_users_and_serves() {
    let (_running, url, lines) = start(&["--port", "0", "--token-lifetime", "120", "--expired-status", "403"]);
    let text = lines.join("\n");
    assert!(text.contains("ws://127.0.0.1:"), "{text}");
    for user in ["alice", "bob", "integrator"] {
        assert!(text.contains(user), "{text}");
    }
    let login =
        post_json(&format!("{url}/auth/login"), None, &json!({"username": "alice", "password": "alice-password"}));
    assert_eq!(login.json()["tokenLifetime"], 120);
    let resp = crate::support::get(&format!("{url}/reports/call-data"), Some("Bearer nope"));
    assert_eq!(resp.status, 403);
}

#[test]
fn the_binary_loads_a_users_file() {
    let path = std::env::temp_dir().join(format!("auth-emulator-bin-users-{}.json", std::process::id()));
    std::fs::write(&path, r#"[{"username":"zoe","password":"pw","accounts":[42]}]"#).expect("write");
    let (_running, url, lines) = start(&["--port", "0", "--users", path.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_file(&path);
    assert!(lines.iter().any(|l| l.contains("zoe")));
    let emu_like = format!("{url}/reports/call-data");
    let resp = crate::support::get(&emu_like, Some(&crate::support::basic("zoe", "pw")));
    assert_eq!(resp.json()["served"]["account_id"], 42);
}

#[test]
fn a_bad_users_file_is_a_clean_error() {
    let status = Command::new(env!("CARGO_BIN_EXE_auth-emulator"))
        .args(["--port", "0", "--users", "/definitely/not/here.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert!(!status.success());
}

/// The resident set size of a process, from `/proc/<pid>/status`.
#[cfg(target_os = "linux")]
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

#[cfg(target_os = "linux")]
#[test]
fn the_binary_stays_under_64_mb_after_huge_queries_and_usernames() {
    const LIMIT: u64 = 64 * 1024 * 1024;
    let (running, url, _) = start(&["--port", "0"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let pid = running.0.id();
    let before = rss_bytes(pid);
    let agent = crate::support::agent();
    let started = std::time::Instant::now();
    let in_time = || started.elapsed() < std::time::Duration::from_secs(120);

    // 3,000 GETs, each with a 60 KB query: every one is journaled (401, no credentials).
    let query = format!("q={}", "x".repeat(60_000));
    for _ in 0..3_000 {
        let resp = agent.get(format!("{url}/reports/call-data?{query}")).call().expect("GET");
        assert_eq!(resp.status(), 401);
        assert!(in_time(), "the load took over 2 minutes");
    }
    let after_queries = rss_bytes(pid);

    // 150 logins whose username is as large as the 1 MiB body limit allows.
    let username = "u".repeat(1024 * 1024 - 64);
    let body = json!({"username": username, "password": "pw"}).to_string();
    for _ in 0..150 {
        let resp = agent
            .post(format!("{url}/auth/login"))
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .expect("login");
        assert_eq!(resp.status(), 401);
        assert!(in_time(), "the load took over 2 minutes");
    }
    let after_logins = rss_bytes(pid);
    eprintln!(
        "auth-emulator RSS: {} KiB at start, {} KiB after the queries, {} KiB after the logins",
        before / 1024,
        after_queries / 1024,
        after_logins / 1024
    );
    assert!(after_queries < LIMIT, "RSS {after_queries} bytes after the queries");
    assert!(after_logins < LIMIT, "RSS {after_logins} bytes after the logins");
}
