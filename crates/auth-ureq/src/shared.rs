//! What every clone of a [`Client`](crate::Client) and its middleware share: one
//! [`Coordinator`] (the session behind one mutex, the driver flag, the store), a condition
//! variable for the callers waiting on an auth exchange, and the driver that carries an
//! exchange out.
//!
//! The protocol is `auth_driver::coordinator`'s, shared with the async adapter; this module adds
//! the blocking I/O and the waiting:
//!
//! - Waiters block on the [`Condvar`] that pairs with the coordinator's mutex, with the timeout
//!   the coordinator computes, and are woken by `notify_all`.
//! - The driver calls the store directly (it is on a thread of its own already) and saves new
//!   snapshots *with the state locked*, so that nobody uses a token before it has been offered
//!   to the store.
//! - The driver reports its request on every path, including a panic or an early return: its
//!   drop guard ends the exchange, persists, releases the store's lock, and wakes the waiters.

use std::io::Read;
use std::ops::Deref;
use std::sync::{Condvar, PoisonError};
use std::time::Duration;

use auth_core::{AuthError, MAX_AUTH_BODY, Now, Session};
use auth_driver::Clock;
use auth_driver::coordinator::{Coordinator, Exchange, Next, Obtain};
use auth_store::SessionStore;
use http::{Request, Response};
use std::sync::Arc;
use ureq::Agent;

use crate::error::Error;

pub(crate) use auth_driver::coordinator::StaleToken;

/// A credential handed out and not yet reported; released on drop.
pub(crate) type Outstanding<'a> = auth_driver::coordinator::Outstanding<'a, Condvar>;

/// Marks the requests this crate has already authorized (auth exchanges, `Client::send`, the
/// middleware's retry), so that an [`AuthMiddleware`](crate::AuthMiddleware) installed on the
/// same agent lets them through untouched.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PassThrough;

/// The coordinator plus this adapter's I/O. Derefs to the [`Coordinator`] for everything that
/// is not I/O.
pub(crate) struct Shared {
    core: Coordinator<Condvar>,
    /// Sends the auth exchanges.
    agent: Agent,
    /// The policy's `auth_timeout`, used as the transport timeout of auth requests so that the
    /// driver reports a hung request before the core gives up on it.
    auth_timeout: Duration,
}

impl Deref for Shared {
    type Target = Coordinator<Condvar>;

    fn deref(&self) -> &Coordinator<Condvar> {
        &self.core
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.core.fmt(f)
    }
}

impl Shared {
    pub(crate) fn new(
        session: Session,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn SessionStore>>,
        agent: Agent,
        auth_timeout: Duration,
    ) -> Self {
        Shared { core: Coordinator::new(session, clock, store, Condvar::new()), agent, auth_timeout }
    }

    pub(crate) fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Runs `get` until it yields a value or an error, driving the exchanges the session wants
    /// and waiting while another caller drives one.
    pub(crate) fn obtain<T>(
        &self,
        stale: StaleToken,
        mut get: impl FnMut(&mut Session, Now) -> Result<Option<T>, AuthError>,
    ) -> Result<T, Error> {
        let mut obtain = Obtain::new(stale);
        let mut st = self.lock();
        loop {
            let now = self.now();
            match obtain.next(&mut st, now, &mut get)? {
                Next::Ready(value) => return Ok(value),
                Next::Drive { required } => {
                    drop(st);
                    let outcome = self.drive(required);
                    if required {
                        outcome?;
                    }
                    st = self.lock();
                }
                Next::Wait(timeout) => {
                    (st, _) = self.waker().wait_timeout(st, timeout).unwrap_or_else(PoisonError::into_inner);
                    st.session.handle_timeout(self.now());
                }
                Next::Retry => {}
            }
        }
    }

    /// The driver's job, for a caller that has been made the driver; `required` as in
    /// [`store_lock_wait`](auth_driver::coordinator::store_lock_wait).
    fn drive(&self, required: bool) -> Result<(), Error> {
        let lock_wait = auth_driver::coordinator::store_lock_wait(required, self.auth_timeout);
        let mut driver = Driver { shared: self, exchange: Exchange::new(), lock_wait };
        driver.run()
        // `driver` drops here: it reports, persists, unlocks the store and wakes the waiters.
    }

    /// After a caller's own request: drives the refresh of a *stale* token if nobody else is
    /// doing it.
    pub(crate) fn refresh_if_due(&self) {
        if self.claim_after_request() {
            let _ = self.drive(false);
        }
    }

    /// Sends one auth request and reads its answer with the core's size limit. Redirects are
    /// not followed (a redirected login would carry the password elsewhere); a status is an
    /// answer, not an error.
    fn send_auth(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, ureq::Error> {
        let mut request = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(self.auth_timeout))
            .build();
        request.extensions_mut().insert(PassThrough);
        let mut response = self.agent.run(request)?;
        let mut body = Vec::new();
        let limit = u64::try_from(MAX_AUTH_BODY).unwrap_or(u64::MAX).saturating_add(1);
        response.body_mut().with_config().reader().take(limit).read_to_end(&mut body).map_err(ureq::Error::Io)?;
        let (parts, _) = response.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}

/// The driver of one exchange. Whatever way [`Driver::run`] ends — success, error or panic —
/// dropping it finishes the job.
struct Driver<'a> {
    shared: &'a Shared,
    exchange: Exchange,
    /// How long to wait for the store's lock (SPEC.md §3a: bounded).
    lock_wait: Duration,
}

impl Driver<'_> {
    fn run(&mut self) -> Result<(), Error> {
        let shared = self.shared;
        let loaded = match shared.store() {
            Some(store) => {
                // Waits while another holder (in this process or another) refreshes, at most the auth
                // timeout (SPEC.md §3a).
                let lock = store.lock(self.lock_wait).inspect_err(|e| shared.note_store_error(e))?;
                self.exchange.set_store_lock(Some(lock));
                Some(store.load())
            }
            None => None,
        };
        let mut st = shared.lock();
        let Some(request) = shared.begin_exchange(&mut st, &mut self.exchange, loaded) else {
            return Ok(()); // Adopted a usable token, or someone else's exchange is in flight.
        };
        // The refresh token is spent from here on: saved before the request leaves.
        shared.save_locked(&mut st, &mut self.exchange);
        // The deadline runs from here, as the transport's timeout does, not from before the save.
        if !shared.hand_off(&mut st, &mut self.exchange) {
            return Ok(()); // The save outlasted the auth timeout: the session gave the request up.
        }
        drop(st);

        let answer = shared.send_auth(request.into_request());

        let mut st = shared.lock();
        shared.finish_exchange(&mut st, &mut self.exchange, answer.as_ref().ok());
        shared.save_locked(&mut st, &mut self.exchange);
        Ok(())
    }
}

impl Drop for Driver<'_> {
    fn drop(&mut self) {
        let shared = self.shared;
        let mut st = shared.lock();
        shared.end_exchange(&mut st, &mut self.exchange);
        shared.save_locked(&mut st, &mut self.exchange);
        // Saved first, unlocked second: the next process to lock the store reads our tokens.
        drop(self.exchange.take_store_lock());
        drop(st);
        shared.notify();
    }
}
