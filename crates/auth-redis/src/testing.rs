//! A throwaway `redis-server` for tests (feature `testing`): on a free loopback port, in a
//! temporary directory of its own, with an append-only file so that its data survives a
//! [`restart`](RedisServer::restart); otherwise Redis's defaults (`appendfsync everysec`).
//! Tests use a real Redis, never a mock.
//!
//! It needs Debian's `redis-server` package (`apt-get install redis-server`) on the `PATH`;
//! without it, [`RedisServer::start`] fails with a message that says so (tests do not skip).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a starting server may take to answer.
const READY_WITHIN: Duration = Duration::from_secs(10);

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A `redis-server` process of a test's own; stopped, and its directory removed, on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port, in a new temporary directory.
    pub fn start() -> io::Result<RedisServer> {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (`--requirepass`); [`url`](Self::url) has it.
    pub fn start_with_password(password: &str) -> io::Result<RedisServer> {
        Self::start_with(Some(password.to_owned()))
    }

    fn start_with(password: Option<String>) -> io::Result<RedisServer> {
        let dir = std::env::temp_dir().join(format!(
            "auth-redis-{}-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
        ));
        std::fs::create_dir_all(&dir)?;
        let mut server = RedisServer { port: 0, dir, password, child: None };
        // A port found free may be taken before the server binds it: try a few.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(error),
                Err(error) => last = Some(error),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("redis-server did not start")))
    }

    /// `redis://[:password@]127.0.0.1:port/`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id (0 once stopped), e.g. to pause it with `kill -STOP`.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its directory (the append-only file, the log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops it, as an operator does (`SHUTDOWN`: what was written is on disk, and comes back
    /// with [`restart`](Self::restart)); if it does not exit within a few seconds (it is
    /// paused, say), kills it. Harmless when it is stopped already.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.resume_pid(child.id());
            let _ = command(self.port, self.password.as_deref(), &["SHUTDOWN"]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it (`SIGKILL`), as a crash does: with Redis's default `appendfsync everysec`,
    /// writes of the last second may be lost, as they would be.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it and starts it again on the same port with the same data.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.spawn()
    }

    /// Pauses it (`SIGSTOP`): connections are accepted by the kernel and nothing is answered,
    /// as with a Redis stuck or cut off.
    pub fn pause(&self) -> io::Result<()> {
        self.signal("-STOP")
    }

    /// Resumes it after [`pause`](Self::pause) (`SIGCONT`).
    pub fn resume(&self) -> io::Result<()> {
        self.signal("-CONT")
    }

    fn resume_pid(&self, pid: u32) -> io::Result<()> {
        Command::new("kill").arg("-CONT").arg(pid.to_string()).stderr(Stdio::null()).status().map(drop)
    }

    fn signal(&self, signal: &str) -> io::Result<()> {
        let pid = self.pid();
        if pid == 0 {
            return Err(io::Error::other("redis-server is not running"));
        }
        let status = Command::new("kill").arg(signal).arg(pid.to_string()).status()?;
        if status.success() { Ok(()) } else { Err(io::Error::other(format!("kill {signal} {pid} failed: {status}"))) }
    }

    fn spawn(&mut self) -> io::Result<()> {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--save", ""])
            .args(["--daemonize", "no", "--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let mut child = command.spawn().map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => io::Error::new(
                io::ErrorKind::NotFound,
                "redis-server is not installed (or not on the PATH): the Redis tests run a real Redis; \
                 install it with `apt-get install redis-server`",
            ),
            _ => error,
        })?;
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if ping(self.port, self.password.as_deref()) {
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(io::Error::other(format!(
                    "redis-server on port {} exited ({status}): {}",
                    self.port,
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::other(format!("redis-server on port {} did not answer in time", self.port)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// Whether the Redis on `port` is ready: it answers `PONG` (after `AUTH` when it has a
/// password), not `-LOADING` (still reading its append-only file).
fn ping(port: u16, password: Option<&str>) -> bool {
    command(port, password, &["PING"]).is_ok_and(|reply| reply.ends_with(b"+PONG\r\n"))
}

/// Sends `args` as one command (after `AUTH` when there is a password) and returns the replies
/// read until the command's own (or an error, or the connection's end).
fn command(port: u16, password: Option<&str>, args: &[&str]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut request = Vec::new();
    let mut push = |args: &[&str]| {
        request.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
    };
    if let Some(password) = password {
        push(&["AUTH", password]);
    }
    push(args);
    stream.write_all(&request)?;
    let replies = if password.is_some() { 2 } else { 1 };
    let mut reply = Vec::new();
    let mut chunk = [0u8; 256];
    while reply.iter().filter(|&&b| b == b'\n').count() < replies && !reply.starts_with(b"-") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    Ok(reply)
}
