//! Scenarios as data: who logs in how, what the emulator is told to do, what each step expects.
//!
//! A [`Scenario`] is built with a few chained calls and a list of [`Step`]s made by the free
//! functions of this module ([`get`], [`advance`], [`inject`], [`counts`], ...). Nothing here
//! touches an adapter: the runner interprets the data through a [`Driver`](crate::Driver).

use std::fmt;

use auth_core::{AccountSwitch, Scheme};
use auth_emulator::{Endpoint, ExpiredTokenStatus, FaultPlan, MasqueradeMode};

/// The demo member with one account (1001).
pub const ALICE: &str = "alice";
/// The demo member with three accounts: 2001 (home), 2002, 2003; Basic's silent pick is 2003.
pub const BOB: &str = "bob";
/// The demo integrator, allowed on 1001 and 2002.
pub const INTEGRATOR: &str = "integrator";
/// The wrong password the scenarios use; a secret like the right one.
pub const WRONG_PASSWORD: &str = "wrong-s3cret-password";

/// Seconds that take a one-hour token into its refresh window (stale, still attached): the
/// default policy makes it stale at 54 min minus at most 30 s of jitter, cut off at 59:50.
pub const STALE: u64 = 3300;
/// Seconds that take a one-hour token past the client's cutoff and the server's expiry.
pub const EXPIRED: u64 = 3700;
/// Seconds past the backoff after one or two transient failures (at most 1 s, then 2 s).
pub const BACKOFF: u64 = 3;
/// A year, in seconds: how far the client's wall clock is stepped (SPEC §3a).
pub const YEAR: i64 = 365 * 86_400;

/// What part of the contract a scenario exercises; the closing note counts per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// SPEC §2: login with and without `account_id`, rejected logins, `auth_only`.
    Login,
    /// SPEC §3: refresh rotation, relogin after a dead refresh token, no refresh loops.
    Refresh,
    /// SPEC §4: account switch by relogin and by masquerade.
    AccountSwitch,
    /// SPEC §1: Basic, with and without a pinned account.
    Basic,
    /// SPEC §1: Integrator, with and without an account.
    Integrator,
    /// SPEC §6: the RealTime handshake and the bearer-only rule.
    RealTime,
    /// SPEC §3, §5: a fault on `POST /auth/login`.
    LoginFault,
    /// SPEC §3, §5: a fault on `POST /auth/refresh`.
    RefreshFault,
    /// SPEC §4, §5: a fault on the masquerade endpoint.
    MasqueradeFault,
    /// SPEC §2, §5a: a token rejected with 401 or 403.
    ExpiredStatus,
    /// A fault on the API itself: a response or a transport error, never an auth event.
    ApiFault,
    /// SPEC §3's clock rule: the server's clock off by a day either way.
    ClockOffset,
    /// Credentials only ever go to the API's origin: redirects and foreign URLs.
    Origin,
    /// Restarting the client from its store (rotation safety across restarts).
    Persistence,
    /// Many callers at once: single flight.
    Concurrency,
    /// SPEC §3a: the client's wall clock stepped either way; slow stores.
    WallClock,
    /// SPEC §3, §3a: two clients sharing one store; a store that belongs to another server.
    Sharing,
}

impl Category {
    /// Every category, in table order.
    pub const ALL: [Category; 17] = [
        Category::Login,
        Category::Refresh,
        Category::AccountSwitch,
        Category::Basic,
        Category::Integrator,
        Category::RealTime,
        Category::LoginFault,
        Category::RefreshFault,
        Category::MasqueradeFault,
        Category::ExpiredStatus,
        Category::ApiFault,
        Category::ClockOffset,
        Category::Origin,
        Category::Persistence,
        Category::Concurrency,
        Category::WallClock,
        Category::Sharing,
    ];
}

/// Which password the client is configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// The user's real password (`<user>-password` in the demo directory).
    Correct,
    /// [`WRONG_PASSWORD`].
    Wrong,
    /// This exact text (for configuration checks such as header injection).
    Literal(&'static str),
}

/// The emulator's knobs for one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorKnobs {
    /// `tokenLifetime`, seconds (default 3600).
    pub token_lifetime: u64,
    /// Refresh-token lifetime, seconds (default 29 days).
    pub refresh_lifetime: u64,
    /// The status for expired, revoked and superseded tokens (default 401).
    pub expired_status: ExpiredTokenStatus,
    /// How far the server's reported timestamps are off, seconds (default 0).
    pub clock_offset: i64,
    /// What a successful masquerade answers (default: rebind, keep the tokens).
    pub masquerade_mode: MasqueradeMode,
    /// Real latency added to login, refresh and masquerade, milliseconds (default 0); widens
    /// the window in which concurrent callers could race.
    pub auth_latency_ms: u64,
    /// Client time that passes while login, refresh and masquerade are at the server, seconds
    /// (default 0): the runner advances the client's manual clock when such a request arrives.
    pub auth_answer_takes_secs: u64,
}

impl Default for EmulatorKnobs {
    fn default() -> Self {
        EmulatorKnobs {
            token_lifetime: 3600,
            refresh_lifetime: 29 * 86_400,
            expired_status: ExpiredTokenStatus::Unauthorized,
            clock_offset: 0,
            masquerade_mode: MasqueradeMode::Rebind,
            auth_latency_ms: 0,
            auth_answer_takes_secs: 0,
        }
    }
}

/// Who the client is and how it authenticates, and how the emulator behaves.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// Bearer, Basic or Integrator.
    pub scheme: Scheme,
    /// The user name.
    pub user: &'static str,
    /// The password the client holds.
    pub password: PasswordSource,
    /// The pinned account, if any.
    pub account: Option<u64>,
    /// Integrator only: the caller names the account per request instead of pinning one.
    pub account_per_request: bool,
    /// How a bearer session switches accounts.
    pub switch: AccountSwitch,
    /// The emulator's knobs.
    pub emulator: EmulatorKnobs,
    /// The policy's `auth_timeout`, seconds (default: the library's).
    pub auth_timeout_secs: Option<u64>,
    /// Client time each save to the store takes, seconds (default 0): a slow disk.
    pub save_takes_secs: u64,
}

impl Setup {
    fn new(scheme: Scheme, user: &'static str) -> Self {
        Setup {
            scheme,
            user,
            password: PasswordSource::Correct,
            account: None,
            account_per_request: false,
            switch: AccountSwitch::Relogin,
            emulator: EmulatorKnobs::default(),
            auth_timeout_secs: None,
            save_takes_secs: 0,
        }
    }

    /// A bearer session for `user`.
    pub fn bearer(user: &'static str) -> Self {
        Self::new(Scheme::Bearer, user)
    }

    /// HTTP Basic for `user`.
    pub fn basic(user: &'static str) -> Self {
        Self::new(Scheme::Basic, user)
    }

    /// Integrator credentials for `user`.
    pub fn integrator(user: &'static str) -> Self {
        Self::new(Scheme::Integrator, user)
    }

    /// Pins `account`.
    #[must_use]
    pub fn account(mut self, account: u64) -> Self {
        self.account = Some(account);
        self
    }

    /// Integrator: the account goes in each request's query string.
    #[must_use]
    pub fn account_per_request(mut self) -> Self {
        self.account_per_request = true;
        self
    }

    /// Configures [`WRONG_PASSWORD`].
    #[must_use]
    pub fn wrong_password(mut self) -> Self {
        self.password = PasswordSource::Wrong;
        self
    }

    /// Configures this exact password.
    #[must_use]
    pub fn password(mut self, password: &'static str) -> Self {
        self.password = PasswordSource::Literal(password);
        self
    }

    /// Switches accounts by masquerade at the default path (default: relogin).
    #[must_use]
    pub fn masquerade(mut self) -> Self {
        self.switch = AccountSwitch::masquerade();
        self
    }

    /// The emulator's token lifetime, seconds.
    #[must_use]
    pub fn token_lifetime(mut self, seconds: u64) -> Self {
        self.emulator.token_lifetime = seconds;
        self
    }

    /// The emulator's refresh-token lifetime, seconds.
    #[must_use]
    pub fn refresh_lifetime(mut self, seconds: u64) -> Self {
        self.emulator.refresh_lifetime = seconds;
        self
    }

    /// The emulator answers unusable tokens with 403 instead of 401.
    #[must_use]
    pub fn expired_status_403(mut self) -> Self {
        self.emulator.expired_status = ExpiredTokenStatus::Forbidden;
        self
    }

    /// The emulator reports timestamps `seconds` off (positive: its clock is ahead).
    #[must_use]
    pub fn clock_offset(mut self, seconds: i64) -> Self {
        self.emulator.clock_offset = seconds;
        self
    }

    /// A successful masquerade issues a new token pair.
    #[must_use]
    pub fn masquerade_issues_tokens(mut self) -> Self {
        self.emulator.masquerade_mode = MasqueradeMode::IssueTokens;
        self
    }

    /// Real latency on the auth endpoints, milliseconds.
    #[must_use]
    pub fn auth_latency_ms(mut self, ms: u64) -> Self {
        self.emulator.auth_latency_ms = ms;
        self
    }

    /// Client time that passes while an auth request is at the server, seconds.
    #[must_use]
    pub fn auth_answer_takes(mut self, seconds: u64) -> Self {
        self.emulator.auth_answer_takes_secs = seconds;
        self
    }

    /// The client's `auth_timeout`, seconds.
    #[must_use]
    pub fn auth_timeout(mut self, seconds: u64) -> Self {
        self.auth_timeout_secs = Some(seconds);
        self
    }

    /// Client time each save to the store takes, seconds.
    #[must_use]
    pub fn save_takes(mut self, seconds: u64) -> Self {
        self.save_takes_secs = seconds;
        self
    }

    /// The password text the client is configured with.
    pub fn password_text(&self) -> String {
        match self.password {
            PasswordSource::Correct => format!("{}-password", self.user),
            PasswordSource::Wrong => WRONG_PASSWORD.to_owned(),
            PasswordSource::Literal(text) => text.to_owned(),
        }
    }
}

/// What went wrong, as the suite compares it: the adapter's error reduced to its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `AuthError::CredentialsRejected`.
    CredentialsRejected,
    /// `AuthError::SessionExpired`.
    SessionExpired,
    /// `AuthError::Unavailable`, with its cause.
    Unavailable(Cause),
    /// `AuthError::UnusableTokenLifetime`.
    UnusableTokenLifetime,
    /// `AuthError::AccountRequired`.
    AccountRequired,
    /// `AuthError::ForeignOrigin`.
    ForeignOrigin,
    /// `AuthError::AccountConflict`.
    AccountConflict,
    /// `AuthError::AccountSwitchRejected`.
    AccountSwitchRejected,
    /// `AuthError::PasswordRequired`.
    PasswordRequired,
    /// `AuthError::RequiresBearer`.
    RequiresBearer,
    /// `AuthError::SwitchRequiresBearer`.
    SwitchRequiresBearer,
    /// A later switch by another caller took this one's place.
    SwitchSuperseded,
    /// The request was meant for another account than the one in force; nothing was sent.
    AccountChanged,
    /// The adapter's transport error (the API request itself failed).
    Transport,
    /// The adapter's store error.
    Store,
    /// A configuration error (from `ConfigBuilder::build` or the adapter's builder).
    Config,
    /// The store holds a session this configuration cannot continue.
    Restore,
    /// An error variant the suite does not know yet (the enums are `#[non_exhaustive]`).
    Unknown,
}

/// The cause of [`ErrorKind::Unavailable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Connection refused or dropped.
    Transport,
    /// No answer within `auth_timeout`.
    Timeout,
    /// A 5xx.
    Server,
    /// 429, or 503 with `Retry-After`.
    RateLimited,
    /// A body that cannot be used (garbage, truncated, oversized).
    Malformed,
    /// A cause the suite does not know yet.
    Unknown,
}

/// What a step must produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Success: any response, token, switch or verification.
    Ok,
    /// A response with this status.
    Status(u16),
    /// A 200 from the emulator that says it served this account (and token generation, for
    /// bearer requests, when given).
    Served {
        /// `served.account_id`.
        account: u64,
        /// `served.token_generation`, when the scenario cares.
        generation: Option<u64>,
    },
    /// The adapter returns this error.
    Error(ErrorKind),
    /// RealTime: the server answers the handshake with `success: true`.
    Authenticated,
    /// RealTime: the server answers the handshake with `success: false`.
    Refused,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The API's `/reports/call-data` (GET) or `/calls` (POST).
    Api,
    /// The API's `/redirect?to=` the foreign origin's `/reports/call-data`.
    RedirectToForeign,
    /// The foreign origin's `/reports/call-data`, asked of the adapter directly.
    Foreign,
}

/// An API request a step sends through the adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiCall {
    /// `false`: `GET /reports/call-data`; `true`: `POST /calls` with a JSON body.
    pub post: bool,
    /// Where it goes.
    pub target: Target,
    /// An `account_id` in the query string.
    pub account: Option<u64>,
    /// What must come back.
    pub expect: Expect,
}

/// Journal counters: requests received per endpoint of the API's emulator, whatever their
/// outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// `POST /auth/login`.
    pub logins: usize,
    /// `POST /auth/refresh`.
    pub refreshes: usize,
    /// The masquerade endpoint.
    pub masquerades: usize,
    /// The protected API endpoints.
    pub requests: usize,
}

/// One thing a scenario does or checks.
#[derive(Clone, Debug)]
pub enum Step {
    /// Moves the client's `ManualClock` and the emulator's clock forward together.
    Advance(u64),
    /// Moves only the emulator's clock: tokens die server-side before the client expects.
    AdvanceServer(u64),
    /// Steps only the client's wall clock, by this many seconds either way (NTP, a resumed VM);
    /// its monotonic clock and the server's clock do not move.
    StepWall(i64),
    /// Builds a second client on the same store and clock (another process sharing the
    /// session), kept aside until [`Step::SwapClients`].
    SecondClient,
    /// Makes the client kept aside the one the steps use, and the current one the aside.
    SwapClients,
    /// Drops the client and builds one for the same user against the *foreign* origin, on the
    /// same store (a session file reused with another server).
    RestartAgainstForeign(Expect),
    /// Asserts how many requests the foreign origin has received.
    ForeignRequests(usize),
    /// Queues a fault for the next request(s) to an endpoint.
    Inject(Endpoint, FaultPlan),
    /// Revokes every session of the scenario's user.
    Revoke,
    /// Sends an API request through the adapter.
    Send(ApiCall),
    /// `GET /reports/call-data` through a handle meant for this account only
    /// (`Client::on_account`).
    SendOn(u64, Expect),
    /// Sends this many copies of a `GET` at once; each must meet the expectation.
    Burst(usize, Expect),
    /// Asks the adapter for a bearer token.
    BearerToken(Expect),
    /// Asks the adapter for the RealTime `authrequest` and runs the handshake with it.
    Realtime(Expect),
    /// Switches the session to an account.
    Switch(u64, Expect),
    /// Drops the client and builds a new one from the same store (with or without the
    /// password).
    Restart {
        /// Whether the new client holds the password.
        password: bool,
        /// What building it must produce.
        expect: Expect,
    },
    /// Checks the credentials with `auth_only` (`auth_core::verify`), sent by the adapter's
    /// HTTP stack.
    Verify(Expect),
    /// Asserts the emulator's journal counters.
    Counts(Counts),
    /// Asserts how many sessions the emulator has opened.
    Sessions(usize),
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario's name (the table function's name; set by the table).
    pub name: &'static str,
    /// What part of the contract it exercises.
    pub category: Category,
    /// Client and emulator configuration.
    pub setup: Setup,
    /// Expected failure of building the configuration (no steps run then).
    pub refused_at_build: Option<ErrorKind>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The most requests both emulators may receive in total (journal entries).
    pub budget: usize,
    /// How many requests carry a token the server no longer accepts (expired, superseded,
    /// revoked, unknown): 0 unless the scenario makes the server kill a token the client could
    /// not know about.
    pub rejected_tokens: usize,
}

impl Scenario {
    /// A scenario with no steps and a budget of 0 requests (so a forgotten budget fails).
    pub fn new(category: Category, setup: Setup) -> Self {
        Scenario { name: "", category, setup, refused_at_build: None, steps: Vec::new(), budget: 0, rejected_tokens: 0 }
    }

    /// Appends steps.
    #[must_use]
    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.steps.extend(steps);
        self
    }

    /// The most requests the emulators may receive.
    #[must_use]
    pub fn budget(mut self, requests: usize) -> Self {
        self.budget = requests;
        self
    }

    /// Declares how many requests the server will refuse for a dead token.
    #[must_use]
    pub fn rejected_tokens(mut self, requests: usize) -> Self {
        self.rejected_tokens = requests;
        self
    }

    /// The configuration must be refused when it is built.
    #[must_use]
    pub fn refused_at_build(mut self, kind: ErrorKind) -> Self {
        self.refused_at_build = Some(kind);
        self
    }

    /// Sets the name (the table does it).
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:?})", self.name, self.category)
    }
}

// ---- steps ---------------------------------------------------------------------------------

/// Moves both clocks forward by `seconds`.
pub fn advance(seconds: u64) -> Step {
    Step::Advance(seconds)
}

/// Moves only the server's clock forward by `seconds`.
pub fn advance_server(seconds: u64) -> Step {
    Step::AdvanceServer(seconds)
}

/// Steps only the client's wall clock by `seconds` (negative: backwards).
pub fn step_wall(seconds: i64) -> Step {
    Step::StepWall(seconds)
}

/// Builds a second client on the same store, kept aside.
pub fn second_client() -> Step {
    Step::SecondClient
}

/// Swaps the client in use with the one kept aside.
pub fn swap_clients() -> Step {
    Step::SwapClients
}

/// Rebuilds the client against the foreign origin, on the same store.
pub fn restart_against_foreign(expect: Expect) -> Step {
    Step::RestartAgainstForeign(expect)
}

/// Asserts the foreign origin's request count.
pub fn foreign_requests(count: usize) -> Step {
    Step::ForeignRequests(count)
}

/// Queues `plan` (a `Fault`, or `fault.times(n)`) on `endpoint`.
pub fn inject(endpoint: Endpoint, plan: impl Into<FaultPlan>) -> Step {
    Step::Inject(endpoint, plan.into())
}

/// Revokes the user's sessions server-side.
pub fn revoke() -> Step {
    Step::Revoke
}

fn send(post: bool, target: Target, account: Option<u64>, expect: Expect) -> Step {
    Step::Send(ApiCall { post, target, account, expect })
}

/// `GET /reports/call-data`.
pub fn get(expect: Expect) -> Step {
    send(false, Target::Api, None, expect)
}

/// `GET /reports/call-data?account_id=<account>`.
pub fn get_for(account: u64, expect: Expect) -> Step {
    send(false, Target::Api, Some(account), expect)
}

/// `POST /calls` with a JSON body.
pub fn post(expect: Expect) -> Step {
    send(true, Target::Api, None, expect)
}

/// `GET /redirect?to=<foreign origin>/reports/call-data` on the API.
pub fn get_via_redirect_to_foreign(expect: Expect) -> Step {
    send(false, Target::RedirectToForeign, None, expect)
}

/// `GET <foreign origin>/reports/call-data`, asked of the adapter directly.
pub fn get_foreign(expect: Expect) -> Step {
    send(false, Target::Foreign, None, expect)
}

/// `GET /reports/call-data` through a handle meant for `account` only.
pub fn get_on(account: u64, expect: Expect) -> Step {
    Step::SendOn(account, expect)
}

/// `count` concurrent `GET /reports/call-data`.
pub fn burst(count: usize, expect: Expect) -> Step {
    Step::Burst(count, expect)
}

/// Asks for a bearer token.
pub fn bearer_token(expect: Expect) -> Step {
    Step::BearerToken(expect)
}

/// Runs a RealTime handshake with the adapter's `authrequest`.
pub fn realtime(expect: Expect) -> Step {
    Step::Realtime(expect)
}

/// Switches to `account`.
pub fn switch(account: u64, expect: Expect) -> Step {
    Step::Switch(account, expect)
}

/// Restarts the client from its store.
pub fn restart() -> Step {
    Step::Restart { password: true, expect: Expect::Ok }
}

/// Restarts the client from its store with a configuration that holds no password.
pub fn restart_without_password() -> Step {
    Step::Restart { password: false, expect: Expect::Ok }
}

/// Verifies the credentials with `auth_only=1`.
pub fn verify(expect: Expect) -> Step {
    Step::Verify(expect)
}

/// Asserts the journal counters of the API's emulator.
pub fn counts(logins: usize, refreshes: usize, masquerades: usize, requests: usize) -> Step {
    Step::Counts(Counts { logins, refreshes, masquerades, requests })
}

/// Asserts how many sessions the emulator has opened.
pub fn sessions(count: usize) -> Step {
    Step::Sessions(count)
}

// ---- expectations --------------------------------------------------------------------------

/// Any success.
pub fn ok() -> Expect {
    Expect::Ok
}

/// A response with `code`.
pub fn status(code: u16) -> Expect {
    Expect::Status(code)
}

/// A 200 served on `account`.
pub fn served(account: u64) -> Expect {
    Expect::Served { account, generation: None }
}

/// A 200 served on `account` with the token of `generation`.
pub fn served_gen(account: u64, generation: u64) -> Expect {
    Expect::Served { account, generation: Some(generation) }
}

/// The adapter fails with `kind`.
pub fn fails(kind: ErrorKind) -> Expect {
    Expect::Error(kind)
}

/// The adapter fails with `Unavailable` for `cause`.
pub fn unavailable(cause: Cause) -> Expect {
    Expect::Error(ErrorKind::Unavailable(cause))
}

/// The RealTime server accepts the handshake.
pub fn authenticated() -> Expect {
    Expect::Authenticated
}

/// The RealTime server refuses the handshake.
pub fn refused() -> Expect {
    Expect::Refused
}
