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
