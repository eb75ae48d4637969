//! [`ClientBuilder`]: how every adapter's client is configured and started, written once.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::Arc;

use auth_core::{Config, Coordinator, Scheme, Session, Snapshot};
use auth_store::{FileStore, SessionStore};

use crate::{Clock, Error, Hub, SystemClock, Wake};

/// What an adapter adds to the shared builder: its HTTP client, and how it builds.
pub trait Adapter: Sized {
    /// The HTTP client it sends with (a `ureq::Agent`, a `reqwest::Client`).
    type Http;
    /// What [`ClientBuilder::build`] returns: the client, or a future of it.
    type Built;
    /// Builds the client from what the builder was given.
    fn build(parts: Parts<Self>) -> Self::Built;
}

/// Configures an adapter's client: `auth_ureq::Client::builder(config)` and
/// `auth_reqwest::Client::builder(config)` return one.
pub struct ClientBuilder<A: Adapter> {
    parts: Parts<A>,
}

/// What a [`ClientBuilder`] was given, for the adapter's [`Adapter::build`].
pub struct Parts<A: Adapter> {
    /// The validated configuration.
    pub config: Config,
    /// The clock the session reads.
    pub clock: Arc<dyn Clock>,
    /// The store, for a bearer session (always `None` for Basic and Integrator).
    pub store: Option<Arc<dyn SessionStore>>,
    /// The jitter seed: the one given, or a random one.
    pub seed: u64,
    /// The HTTP client given, if any.
    pub http: Option<A::Http>,
}

impl<A: Adapter> fmt::Debug for ClientBuilder<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder").field("parts", &self.parts).finish()
    }
}

impl<A: Adapter> fmt::Debug for Parts<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("store", &self.store)
            .field("http", &self.http.as_ref().map(|_| "given"))
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> ClientBuilder<A> {
    /// Starts configuring a client for `config`.
    pub fn new(config: Config) -> Self {
        let seed = RandomState::new().hash_one(std::process::id());
        ClientBuilder { parts: Parts { config, clock: Arc::new(SystemClock), store: None, seed, http: None } }
    }

    /// The clock the session reads (default [`SystemClock`]). Tests pass a
    /// [`ManualClock`](crate::ManualClock) and move it by hand.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.parts.clock = clock;
        self
    }

    /// Where the bearer session is persisted and shared with other processes (default: none,
    /// the session lives in memory). [`build`](Self::build) continues from what the store
    /// holds. Ignored for Basic and Integrator, which have no token state.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.parts.store = Some(store);
        self
    }

    /// Persists the bearer session in the file at `path`: the same as
    /// `.store(Arc::new(FileStore::new(path)))` (see [`FileStore`] for what it checks on disk
    /// and how two processes share the file).
    pub fn store_file(self, path: impl Into<PathBuf>) -> Self {
        self.store(Arc::new(FileStore::new(path)))
    }

    /// The seed of the refresh and backoff jitter (default: random). Fix it in tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.parts.seed = seed;
        self
    }

    /// Sends through this HTTP client (a `ureq::Agent` for auth-ureq, a `reqwest::Client` for
    /// auth-reqwest: its pool, TLS, proxy and timeouts) instead of the adapter's default one.
    /// The adapter's `Client::builder` docs say which of its settings the adapter overrides.
    pub fn http(mut self, http: A::Http) -> Self {
        self.parts.http = Some(http);
        self
    }

    /// Builds the client. With a store, loads it first and continues the stored session (no
    /// login while its token is usable).
    ///
    /// Fails with [`Error::Store`] if the store cannot be read (a corrupt file is reported,
    /// not overwritten), [`Error::Restore`] if it holds another session (another server, user
    /// or pinned account), and [`Error::Config`] for a bearer configuration without a password
    /// and nothing stored.
    pub fn build(mut self) -> A::Built {
        if self.parts.config.scheme() != Scheme::Bearer {
            self.parts.store = None;
        }
        A::build(self.parts)
    }
}

impl<A: Adapter> Parts<A> {
    /// Starts the shared session: from `stored` (what the store held) or from scratch. Take
    /// [`http`](Self::http) out first.
    pub fn start<W: Wake, T>(self, stored: Option<Snapshot>, wake: W) -> Result<Hub<W>, Error<T>> {
        let now = self.clock.now();
        let session = match stored {
            Some(snapshot) => Session::restore(self.config, snapshot, self.seed, now)?,
            None => Session::new(self.config, self.seed, now)?,
        };
        let coordinator = Coordinator::new(session, self.store.is_some());
        Ok(Hub::new(coordinator, self.clock, self.store, wake))
    }
}
