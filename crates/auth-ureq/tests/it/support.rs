//! A scenario harness: an emulator, a manual clock moved together with the emulator's, and
//! clients built against them.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AccountId, Config, Password};
use auth_driver::ManualClock;
use auth_emulator::{Emulator, Endpoint, JournalEntry};
use auth_store::SessionStore;
use auth_ureq::{Client, ClientBuilder};
use http::{Request, Response};
use serde_json::Value;

pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password";
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob-password";
pub const INTEGRATOR: &str = "integrator";
pub const INTEGRATOR_PASSWORD: &str = "integrator-password";

/// The lifetime the scenarios use: an hour, like the vendor's example. With the default policy
/// the token turns stale at 54 min (minus at most 30 s of jitter) and is cut off at 59:50.
pub const LIFETIME: Duration = Duration::from_secs(3600);
/// Into the refresh window, well before the cutoff.
pub const TO_STALE: Duration = Duration::from_secs(3300);
/// Past the client's cutoff and the server's expiry.
pub const TO_EXPIRED: Duration = Duration::from_secs(3700);

pub struct Scenario {
    pub emu: Emulator,
    pub clock: ManualClock,
}

impl Scenario {
    pub fn new() -> Self {
        Self::with(Emulator::builder().token_lifetime(LIFETIME).start())
    }

    pub fn with(emu: Emulator) -> Self {
        Scenario { emu, clock: ManualClock::starting_now() }
    }

    /// Moves the client's clock and the server's by the same amount.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        self.emu.advance_clock(by);
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.emu.url())
    }

    pub fn bearer(&self, user: &str, password: &str) -> Config {
        Config::bearer(&self.emu.url(), user, Password::new(password)).build().unwrap()
    }

    pub fn alice(&self) -> Config {
        self.bearer(ALICE, ALICE_PASSWORD)
    }

    pub fn builder(&self, config: Config) -> ClientBuilder {
        Client::builder(config).clock(Arc::new(self.clock.clone())).seed(7)
    }

    pub fn client(&self, config: Config) -> Client {
        self.builder(config).build().unwrap()
    }

    pub fn client_with_store(&self, config: Config, store: Arc<dyn SessionStore>) -> Client {
        self.builder(config).store(store).build().unwrap()
    }

    pub fn get(&self, path: &str) -> Request<()> {
        Request::get(self.url(path)).body(()).unwrap()
    }

    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.emu.count(endpoint)
    }

    pub fn api_entries(&self) -> Vec<JournalEntry> {
        self.entries(Endpoint::Api)
    }

    pub fn entries(&self, endpoint: Endpoint) -> Vec<JournalEntry> {
        self.emu.journal().into_iter().filter(|e| e.endpoint == endpoint).collect()
    }
}

pub const CALL_DATA: &str = "/reports/call-data";
pub const CALLS: &str = "/calls";

/// The JSON body of a response (reads it).
pub fn json(response: Response<ureq::Body>) -> Value {
    let mut response = response;
    let text = response.body_mut().read_to_string().unwrap_or_default();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The account the emulator says it served.
pub fn served_account(response: Response<ureq::Body>) -> Option<AccountId> {
    json(response)["served"]["account_id"].as_u64().map(AccountId)
}

/// A private directory for one test's files.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("auth-ureq-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `contents` to `path` as a session file must be: readable by its owner only.
pub fn write_private(path: &std::path::Path, contents: impl AsRef<[u8]>) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}
