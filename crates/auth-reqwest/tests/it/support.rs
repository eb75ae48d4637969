//! The scenario builder: an emulator and a manual clock that move together, and clients wired
//! to both.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AccountId, Config, ConfigBuilder, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, EmulatorBuilder, Endpoint, JournalEntry};
use auth_reqwest::Client;
use auth_store::SessionStore;
use http::StatusCode;
use serde_json::Value;

pub(crate) const ALICE_PASSWORD: &str = "alice-password";
pub(crate) const BOB_PASSWORD: &str = "bob-password";
pub(crate) const INTEGRATOR_PASSWORD: &str = "integrator-password";

/// With the emulator's default one-hour tokens and the core's default policy: past the stale
/// point (at most 3600 - 360 s) and before the cutoff (3590 s).
pub(crate) const INTO_STALE: u64 = 3300;
/// Past the token's end: the client never attaches it again and the server refuses it.
pub(crate) const PAST_EXPIRY: u64 = 4000;

pub(crate) struct Harness {
    pub(crate) emu: Emulator,
    pub(crate) clock: ManualClock,
}

impl Harness {
    pub(crate) fn new() -> Self {
        Self::with(Emulator::builder())
    }

    pub(crate) fn with(builder: EmulatorBuilder) -> Self {
        Harness {
            emu: builder.start(),
            // Starts at the wall-clock time, so the emulator's reported expiries agree.
            clock: ManualClock::starting_now(),
        }
    }

    /// Moves the client's clock and the emulator's by the same amount: tokens age without
    /// anyone sleeping.
    pub(crate) fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
        self.emu.advance_clock(Duration::from_secs(secs));
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.url())
    }

    pub(crate) fn alice(&self) -> ConfigBuilder {
        Config::bearer(&self.emu.url(), "alice", Password::new(ALICE_PASSWORD))
    }

    pub(crate) fn bob(&self) -> ConfigBuilder {
        Config::bearer(&self.emu.url(), "bob", Password::new(BOB_PASSWORD))
    }

    pub(crate) fn basic_alice(&self) -> ConfigBuilder {
        Config::basic(&self.emu.url(), "alice", Password::new(ALICE_PASSWORD))
    }

    pub(crate) fn integrator(&self, account: Option<u64>) -> ConfigBuilder {
        let builder = Config::integrator(&self.emu.url(), "integrator", Password::new(INTEGRATOR_PASSWORD));
        match account {
            Some(account) => builder.account(AccountId(account)),
            None => builder.account_per_request(),
        }
    }

    pub(crate) fn builder(&self, config: ConfigBuilder) -> auth_reqwest::ClientBuilder {
        Client::builder(config.build().expect("valid config")).clock(Arc::new(self.clock.clone())).seed(7)
    }

    pub(crate) async fn client(&self, config: ConfigBuilder) -> Client {
        self.builder(config).build().await.expect("client")
    }

    pub(crate) async fn client_with_store(&self, config: ConfigBuilder, store: Arc<dyn SessionStore>) -> Client {
        self.builder(config).store(store).build().await.expect("client")
    }

    /// `GET /reports/call-data` through `Client::send`.
    pub(crate) async fn report(&self, client: &Client) -> (StatusCode, Value) {
        self.get(client, "/reports/call-data").await
    }

    pub(crate) async fn get(&self, client: &Client, path: &str) -> (StatusCode, Value) {
        let request = http::Request::get(self.url(path)).body("").expect("request");
        read(client.send(request).await.expect("a response")).await
    }

    /// The API entries of the journal, oldest first.
    pub(crate) fn api_entries(&self) -> Vec<JournalEntry> {
        self.emu.journal().into_iter().filter(|e| e.endpoint == Endpoint::Api).collect()
    }

    /// The token generation each API request presented, oldest first.
    pub(crate) fn api_generations(&self) -> Vec<Option<u64>> {
        self.api_entries().iter().map(|e| e.token_generation).collect()
    }
}

pub(crate) async fn read(response: http::Response<reqwest::Body>) -> (StatusCode, Value) {
    let response = reqwest::Response::from(response);
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A unique, not yet existing path for a file store.
pub(crate) fn store_path(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "auth-reqwest-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir.join("session.json")
}

/// Writes `contents` to `path` as a session file must be: readable by its owner only.
pub(crate) fn write_private(path: &std::path::Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}
