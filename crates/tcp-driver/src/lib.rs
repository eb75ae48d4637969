//! # tcp-driver: the auth core over plain `std::net::TcpStream`
//!
//! This crate exists as a **proof and an example**: a complete, thread-safe driver of
//! [`auth_core::Coordinator`] on a third HTTP stack — a minimal HTTP/1.1 client of its own on
//! [`std::net::TcpStream`] and [`httparse`] — in one short file (under 150 lines of code),
//! reusing the core alone (plus `auth-store`'s [`FileStore`] and `auth-driver`'s [`Clock`]).
//! It is the run loop of the core's crate docs with real I/O: one `Mutex<Coordinator>` and a
//! `Condvar`, a caller's loop over [`Step`], an exchange loop over [`DriveStep`], and a drop
//! guard. It decides nothing itself: every decision is the coordinator's.
//!
//! Limits, on purpose: `http://` to a host name or IPv4 address only, one connection per
//! request (`Connection: close`), no redirects followed, no chunked responses and no `HEAD`,
//! no timeout on API requests (auth requests time out after the policy's `auth_timeout`), and a
//! failed save is not reported (the tokens stay in memory, as the protocol asks). Use
//! `auth-ureq` or `auth-reqwest` for real work.
//!
//! ```
//! use std::sync::Arc;
//! use auth_core::{Config, Password};
//! use auth_driver::SystemClock;
//! use auth_store::FileStore;
//! use tcp_driver::Driver;
//!
//! # let emulator = auth_emulator::Emulator::start(); // the doc test's own TeleTracker
//! # let api = emulator.url(); // http://127.0.0.1:<port>
//! # let dir = std::env::temp_dir().join(format!("tcp-driver-doc-{}", std::process::id()));
//! # let session_file = dir.join("session.json");
//! let config = Config::bearer(&api, "alice", Password::new("alice-password")).build()?;
//! let driver = Driver::new(config, Arc::new(SystemClock), Some(FileStore::new(&session_file)))?;
//! let request = http::Request::get(format!("{api}/reports/call-data")).body(Vec::new())?;
//! let response = driver.send(request)?; // share `&driver` or an `Arc<Driver>` across threads
//! println!("{}: {}", response.status(), String::from_utf8_lossy(response.body()));
//! # assert_eq!(response.status(), 200);
//! # std::fs::remove_dir_all(dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::{self, ErrorKind, Read, Write};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use auth_core::{
    AuthError, Call, Config, ConfigError, Coordinator, Drive, DriveStep, Now, RestoreError, Session, Step,
};
use auth_driver::Clock;
use auth_store::{FileStore, SessionStore, StoreError, StoreGuard};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Request, Response};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session refused or failed the call.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The configuration cannot start a session.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store holds another session.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The store could not be read or locked.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request got no (usable) answer.
    #[error("HTTP transport: {0}")]
    Transport(#[from] io::Error),
}

/// One authenticated session over plain TCP, shared by `&` or `Arc` across threads.
#[derive(Debug)]
pub struct Driver {
    shared: Mutex<Coordinator>,
    changed: Condvar,
    clock: Arc<dyn Clock>,
    store: Option<FileStore>,
}

impl Driver {
    /// A driver for `config`, continuing the session `store` holds if it holds one.
    pub fn new(config: Config, clock: Arc<dyn Clock>, store: Option<FileStore>) -> Result<Driver, Error> {
        let seed = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), std::process::id());
        let session = match store.as_ref().map(FileStore::load).transpose()?.flatten() {
            Some(snapshot) => Session::restore(config, snapshot, seed, clock.now())?,
            None => Session::new(config, seed, clock.now())?,
        };
        let shared = Mutex::new(Coordinator::new(session, store.is_some()));
        Ok(Driver { shared, changed: Condvar::new(), clock, store })
    }

    /// Tells the coordinator something, and wakes the waiters if it says so.
    fn tell<R>(&self, input: impl FnOnce(&mut Coordinator, Now) -> R) -> R {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let out = input(&mut shared, self.clock.now());
        if shared.poll_wake() {
            self.changed.notify_all();
        }
        out
    }

    /// Sends an API request with credentials (once more after a 401/403, as the session says)
    /// and returns the last response, whatever its status.
    pub fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, Error> {
        let mut call = Call::request(request.uri().clone(), true, None);
        let mut answer = None;
        loop {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            let step = shared.poll_call(&mut call, self.clock.now());
            if shared.poll_wake() {
                self.changed.notify_all();
            }
            match step {
                // Under the same lock as the look that decided it: no wake-up is lost.
                Step::Wait(at_most) => drop(self.changed.wait_timeout(shared, at_most)),
                Step::Attach(credential) => {
                    drop(shared); // never held during I/O
                    let mut attempt = request.clone();
                    let receipt = credential.attach(&mut attempt);
                    let sent = exchange(&attempt, None, usize::MAX);
                    self.tell(|c, now| match sent.as_ref().map(Response::status) {
                        Ok(status) => c.handle_api_response(&mut call, receipt, status, false, now),
                        Err(_) => c.release(receipt), // no answer: the credential comes back, the call is over
                    });
                    answer = Some(sent?);
                }
                Step::Drive(drive) => {
                    drop(shared);
                    Driving { driver: self, drive, lock: None }.run()?;
                }
                Step::Ready(_) => return answer.ok_or(Error::Auth(AuthError::SessionExpired)),
                Step::Failed(error) => return Err(error.into()),
            }
        }
    }
}

/// The one caller's driving of an exchange. However it stops, dropping it finishes the job:
/// an unanswered request is reported failed, the saves are run, then the store is unlocked.
struct Driving<'a> {
    driver: &'a Driver,
    drive: Drive,
    lock: Option<StoreGuard>,
}

impl Driving<'_> {
    fn run(&mut self) -> Result<(), Error> {
        loop {
            match (self.driver.tell(|c, now| c.poll_drive(&mut self.drive, now)), &self.driver.store) {
                (DriveStep::Send(auth), _) => {
                    let answer = exchange(auth.request(), Some(auth.timeout()), auth_core::MAX_AUTH_BODY + 1).ok();
                    self.driver.tell(|c, now| c.handle_auth_response(&mut self.drive, answer.as_ref(), now));
                }
                (DriveStep::LockStore(wait), Some(store)) => {
                    let taken = store.lock(wait); // held until `UnlockStore` (or the guard's drop)
                    // Not taken and not needed (a still-valid token's refresh): the exchange is over.
                    // Not taken and needed: `must_fail`, and `taken?` returns the store's error.
                    let must_fail = self.driver.tell(|c, _| c.handle_store_lock(&mut self.drive, taken.is_ok()));
                    self.lock = if must_fail { Some(taken?) } else { taken.ok() };
                }
                (DriveStep::LoadStore, Some(store)) => {
                    let loaded = store.load().map_err(drop); // unreadable: our save replaces it
                    self.driver.tell(|c, now| c.handle_store_load(&mut self.drive, loaded, now));
                }
                // A failed save keeps the tokens in memory; the next save tries again.
                (DriveStep::Save(snapshot), Some(store)) => drop(store.save(&snapshot)),
                (DriveStep::Done, _) => return Ok(()),
                // `UnlockStore` (without a store, the coordinator asks for no store step).
                (_, _) => self.lock = None,
            }
        }
    }
}

impl Drop for Driving<'_> {
    fn drop(&mut self) {
        // After `Done` both are no-ops; after an early return, only saves and the unlock are left.
        self.driver.tell(|c, now| c.handle_drive_dropped(&mut self.drive, now));
        let _rest = self.run();
    }
}

/// One HTTP/1.1 request on a fresh connection (`http://` only, `Connection: close`), and the
/// whole response, read to the end of the stream: its body runs for its `Content-Length` (or
/// to the end), cut at `limit` bytes.
fn exchange(request: &Request<Vec<u8>>, timeout: Option<Duration>, limit: usize) -> io::Result<Response<Vec<u8>>> {
    let uri = request.uri();
    let authority = uri.authority().filter(|_| uri.scheme_str() == Some("http")).ok_or(ErrorKind::InvalidInput)?;
    let mut stream = std::net::TcpStream::connect((authority.host(), authority.port_u16().unwrap_or(80)))?;
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)?;
    let (target, length) = (uri.path_and_query().map_or("/", |p| p.as_str()), request.body().len());
    let mut out = format!("{} {target} HTTP/1.1\r\nHost: {authority}\r\n", request.method()).into_bytes();
    write!(out, "Connection: close\r\nContent-Length: {length}\r\n")?;
    let written = [HOST, CONNECTION, CONTENT_LENGTH];
    for (name, value) in request.headers().iter().filter(|(name, _)| !written.contains(name)) {
        out.extend([name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"].concat());
    }
    stream.write_all(&[&out, &b"\r\n"[..], request.body()].concat())?;
    let mut raw = Vec::new(); // the head, then at most `limit` bytes of body (and the head's room)
    stream.take(limit.saturating_add(1 << 16) as u64).read_to_end(&mut raw)?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(start)) = head.parse(&raw) else { return Err(ErrorKind::InvalidData.into()) };
    let response = Response::builder().status(head.code.unwrap_or_default());
    let response = head.headers.iter().fold(response, |response, h| response.header(h.name, h.value));
    let headers = response.headers_ref().ok_or(ErrorKind::InvalidData)?;
    let length = headers.get(CONTENT_LENGTH).map(|v| v.to_str().ok()?.parse::<usize>().ok());
    let mut body = raw.split_off(start);
    let whole = length.is_none_or(|length| length.is_some_and(|length| body.len() >= length.min(limit)));
    if !whole || headers.contains_key(TRANSFER_ENCODING) {
        return Err(io::Error::new(ErrorKind::InvalidData, "chunked, cut short, or a bad Content-Length"));
    }
    body.truncate(length.flatten().map_or(limit, |length| length.min(limit)));
    response.body(body).map_err(io::Error::other)
}
