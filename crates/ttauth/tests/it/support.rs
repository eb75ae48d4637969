//! Running `ttauth` in-process (the library's `run`) and as the real binary, against the
//! emulator.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_driver::ManualClock;
use auth_emulator::{Emulator, JournalEntry};
use ttauth::{Context, Exit, Interrupt};

pub const ALICE_PASSWORD: &str = "alice-password";
pub const BOB_PASSWORD: &str = "bob-password";
pub const CALL_DATA: &str = "/reports/call-data";

/// What one invocation produced.
#[derive(Debug)]
pub struct Output {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
}

/// An in-process `ttauth` invocation, built up and then run.
#[derive(Default)]
pub struct Ttauth {
    args: Vec<String>,
    vars: Vec<(String, String)>,
    stdin: Option<String>,
    clock: Option<ManualClock>,
    interrupt: Option<Interrupt>,
}

/// `ttauth <args>`, in-process.
pub fn ttauth(args: &[&str]) -> Ttauth {
    Ttauth { args: args.iter().map(|s| s.to_string()).collect(), ..Ttauth::default() }
}

impl Ttauth {
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.into(), value.into()));
        self
    }

    pub fn password(self, password: &str) -> Self {
        self.var("TELETRACKER_PASSWORD", password)
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.into());
        self
    }

    pub fn clock(mut self, clock: &ManualClock) -> Self {
        self.clock = Some(clock.clone());
        self
    }

    pub fn interrupt(mut self, interrupt: &Interrupt) -> Self {
        self.interrupt = Some(interrupt.clone());
        self
    }

    /// Runs it, capturing stdout and stderr.
    pub fn run(self) -> Output {
        let stdout = SharedBuf::default();
        let stderr = SharedBuf::default();
        let exit = self.run_into(stdout.clone(), stderr.clone());
        Output { exit, stdout: stdout.text(), stderr: stderr.text() }
    }

    /// Runs it with these output buffers (read them from another thread while it runs).
    pub fn run_into(self, stdout: SharedBuf, stderr: SharedBuf) -> Exit {
        let mut ctx = Context::new(stdout, stderr);
        for (name, value) in &self.vars {
            ctx = ctx.var(name, value);
        }
        if let Some(text) = self.stdin {
            ctx = ctx.stdin(io::Cursor::new(text.into_bytes()));
        }
        if let Some(clock) = self.clock {
            ctx = ctx.clock(Arc::new(clock));
        }
        if let Some(interrupt) = self.interrupt {
            ctx = ctx.interrupt(interrupt);
        }
        let mut args = vec!["ttauth".to_owned()];
        args.extend(self.args);
        ttauth::run(args, ctx)
    }
}

/// A `Write` whose bytes another thread can read.
#[derive(Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Waits (polling, in real time) until `done` holds; panics after 10 s. For things that
/// happen on another thread, never for token lifetimes.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A private, empty directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttauth-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The journal entries after the first `mark`.
pub fn since(emu: &Emulator, mark: usize) -> Vec<JournalEntry> {
    emu.journal().into_iter().skip(mark).collect()
}

/// Moves the client's clock and the emulator's together.
pub fn advance(emu: &Emulator, clock: &ManualClock, by: Duration) {
    clock.advance(by);
    emu.advance_clock(by);
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The real binary, with the `TELETRACKER_*` and state variables of the test's own
/// environment removed.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ttauth"));
    for var in [
        "TELETRACKER_BASE_URL",
        "TELETRACKER_USERNAME",
        "TELETRACKER_PASSWORD",
        "TELETRACKER_ACCOUNT_ID",
        "TELETRACKER_SCHEME",
        "XDG_STATE_HOME",
    ] {
        command.env_remove(var);
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// What a finished binary produced.
#[derive(Debug)]
pub struct BinaryOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs the binary to completion, killing it (by its id) after `timeout`.
pub fn run_binary(mut command: Command, timeout: Duration) -> BinaryOutput {
    let started = Instant::now();
    let mut child = command.spawn().expect("start ttauth");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ttauth did not finish within {timeout:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    BinaryOutput {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// Every file directly in `dir`, by name.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Reads the banner `ttauth emulator` prints, up to its last line ("Ctrl-C to stop.").
pub fn read_banner(stdout: &mut impl io::BufRead) -> String {
    let mut banner = String::new();
    while !banner.contains("Ctrl-C to stop.") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
    }
    banner
}

/// Writes `contents` to `path` as a session file must be: readable by its owner only.
pub fn write_private(path: &std::path::Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}
