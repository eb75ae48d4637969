//! Validated configuration: where the API is, how to authenticate, and the refresh policy.
//!
//! A [`Config`] can only be built through [`ConfigBuilder::build`], which rejects everything the
//! server could never accept or that would be unsafe to send (SPEC.md §1): a `:` in a Basic or
//! Integrator user-id, control characters that could inject headers, a URL that is not
//! `http`/`https`, or an Integrator that has no way to name an account.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::Uri;
use http::uri::{Authority, Scheme as UriScheme};
use serde::{Deserialize, Serialize};

use crate::secret::Password;

/// The default base URL of the REST API (SPEC.md: documented, HTTPS only).
pub const DEFAULT_BASE_URL: &str = "https://api.teletracker.net";

/// The default path of the masquerade endpoint. Not documented by the vendor: an assumption
/// (SPEC.md §4), hence configurable.
pub const DEFAULT_MASQUERADE_PATH: &str = "/auth/masquerade";

/// A TeleTracker account id (an integer in the vendor's docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub u64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AccountId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse().map(AccountId)
    }
}

/// How requests are authenticated (SPEC.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: Bearer <token>` from a login session that is refreshed over time.
    Bearer,
    /// `Authorization: Basic base64(user:password)` on every request. REST only.
    Basic,
    /// `Authorization: Integrator base64(user:password)`. REST only; every request needs an
    /// `account_id`.
    Integrator,
}

impl Scheme {
    /// The scheme word used in the `Authorization` header.
    pub fn word(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Basic => "Basic",
            Scheme::Integrator => "Integrator",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// How a bearer session moves to another account (SPEC.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountSwitch {
    /// Log in again with `account_id` (documented; the default).
    Relogin,
    /// `POST` `account_id` to this path with the current bearer token (undocumented; an
    /// assumption about the server).
    Masquerade {
        /// Absolute path of the masquerade endpoint, e.g. [`DEFAULT_MASQUERADE_PATH`].
        path: String,
    },
}

impl AccountSwitch {
    /// Masquerade at [`DEFAULT_MASQUERADE_PATH`].
    pub fn masquerade() -> Self {
        AccountSwitch::Masquerade { path: DEFAULT_MASQUERADE_PATH.to_owned() }
    }
}

/// When a bearer token is refreshed, and how failures are retried (SPEC.md §3).
///
/// The defaults are the project's decisions. With `L` the token's lifetime:
/// the token is *stale* (refreshed while still in use) once less than
/// `max(stale_margin_min, stale_margin_fraction·L)` remains, minus a random early jitter drawn
/// once per token in `[0, min(jitter_max, jitter_fraction·L))`; tokens of `short_lifetime` or
/// less turn stale at half-life. With less than `min(cutoff_margin_max, cutoff_margin_fraction·L)`
/// left it is *expired*: it is never attached again.
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshPolicy {
    /// Lower bound of the stale margin (default 60 s).
    pub stale_margin_min: Duration,
    /// Stale margin as a fraction of the lifetime (default 0.10).
    pub stale_margin_fraction: f64,
    /// Upper bound of the early jitter (default 30 s).
    pub jitter_max: Duration,
    /// Early jitter as a fraction of the lifetime (default 0.05).
    pub jitter_fraction: f64,
    /// Upper bound of the hard cutoff margin (default 10 s).
    pub cutoff_margin_max: Duration,
    /// Hard cutoff margin as a fraction of the lifetime (default 0.10).
    pub cutoff_margin_fraction: f64,
    /// Tokens living this long or less turn stale at half-life (default 120 s).
    pub short_lifetime: Duration,
    /// First delay after a transient failure (default 1 s); doubles per failure.
    pub backoff_initial: Duration,
    /// Longest delay between retries after transient failures (default 60 s).
    pub backoff_max: Duration,
    /// Longest `Retry-After` honoured; longer values are capped (default 10 min).
    pub retry_after_max: Duration,
    /// An auth request with no answer after this long is treated as lost (default 30 s).
    pub auth_timeout: Duration,
    /// How many tokens in a row may arrive already stale before the session reports
    /// [`AuthError::UnusableTokenLifetime`](crate::AuthError::UnusableTokenLifetime) (default 3).
    pub max_unusable_tokens: u32,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            stale_margin_min: Duration::from_secs(60),
            stale_margin_fraction: 0.10,
            jitter_max: Duration::from_secs(30),
            jitter_fraction: 0.05,
            cutoff_margin_max: Duration::from_secs(10),
            cutoff_margin_fraction: 0.10,
            short_lifetime: Duration::from_secs(120),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(600),
            auth_timeout: Duration::from_secs(30),
            max_unusable_tokens: 3,
        }
    }
}

impl RefreshPolicy {
    fn validate(&self) -> Result<(), ConfigError> {
        let fractions = [
            ("stale_margin_fraction", self.stale_margin_fraction),
            ("jitter_fraction", self.jitter_fraction),
            ("cutoff_margin_fraction", self.cutoff_margin_fraction),
        ];
        for (name, value) in fractions {
            if !(0.0..0.5).contains(&value) {
                return Err(ConfigError::InvalidRefreshPolicy { field: name, reason: "must be in [0, 0.5)" });
            }
        }
        let day = Duration::from_secs(86_400);
        let durations = [
            ("stale_margin_min", self.stale_margin_min),
            ("jitter_max", self.jitter_max),
            ("cutoff_margin_max", self.cutoff_margin_max),
            ("short_lifetime", self.short_lifetime),
            ("backoff_max", self.backoff_max),
            ("retry_after_max", self.retry_after_max),
        ];
        for (name, value) in durations {
            if value > day {
                return Err(ConfigError::InvalidRefreshPolicy { field: name, reason: "must be at most one day" });
            }
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return Err(ConfigError::InvalidRefreshPolicy {
                field: "backoff_initial",
                reason: "must be positive and at most backoff_max",
            });
        }
        if self.auth_timeout.is_zero() || self.auth_timeout > day {
            return Err(ConfigError::InvalidRefreshPolicy { field: "auth_timeout", reason: "must be in (0, 1 day]" });
        }
        if self.max_unusable_tokens == 0 {
            return Err(ConfigError::InvalidRefreshPolicy {
                field: "max_unusable_tokens",
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

/// A configuration that cannot be used, found at construction time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL does not parse as an absolute `http`/`https` URL without query or fragment.
    #[error("invalid base URL: {reason}")]
    InvalidBaseUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The username is empty.
    #[error("the username is empty")]
    EmptyUsername,
    /// RFC 7617: a Basic or Integrator user-id cannot contain `:`.
    #[error("a {scheme} user-id cannot contain ':' (RFC 7617); use bearer authentication for this user")]
    ColonInUserId {
        /// The scheme that was asked for.
        scheme: Scheme,
    },
    /// A credential contains a control character (CR, LF, NUL, ...), which is never valid and
    /// could inject headers.
    #[error("the {field} contains a control character")]
    ControlCharacter {
        /// `"username"` or `"password"`.
        field: &'static str,
    },
    /// Integrator requests need an account (SPEC.md §1): pin one with
    /// [`ConfigBuilder::account`] or opt in to per-request accounts with
    /// [`ConfigBuilder::account_per_request`].
    #[error("an Integrator must name an account: pin one, or opt in to putting account_id on every request yourself")]
    IntegratorNeedsAccount,
    /// The masquerade path is not an absolute path.
    #[error("the masquerade path must be an absolute path such as /auth/masquerade")]
    InvalidMasqueradePath,
    /// A refresh policy field is out of range.
    #[error("refresh policy: {field} {reason}")]
    InvalidRefreshPolicy {
        /// The field's name.
        field: &'static str,
        /// The allowed range.
        reason: &'static str,
    },
    /// A bearer session without a password can only start from a snapshot.
    #[error("a bearer session without a password must be restored from a snapshot")]
    NoPasswordToLogIn,
}

/// The API's base URL, split into what origin checks and endpoint URLs need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: UriScheme,
    /// Where `http` keeps its spelling of `scheme` (`http` or `https`, static text), for the
    /// per-request check: a URI of that scheme hands out the very same text.
    scheme_text: usize,
    /// The length of that text.
    scheme_len: usize,
    authority: Authority,
    /// Path prefix without a trailing slash ("" for the root).
    prefix: String,
}

impl BaseUrl {
    /// Parses and validates a base URL such as `https://api.teletracker.net`.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let uri: Uri = url.parse().map_err(|_| ConfigError::InvalidBaseUrl { reason: "not a URL" })?;
        let scheme = uri.scheme().cloned().ok_or(ConfigError::InvalidBaseUrl { reason: "no scheme" })?;
        if scheme != UriScheme::HTTP && scheme != UriScheme::HTTPS {
            return Err(ConfigError::InvalidBaseUrl { reason: "the scheme must be http or https" });
        }
        let authority = uri.authority().cloned().ok_or(ConfigError::InvalidBaseUrl { reason: "no host" })?;
        if authority.host().is_empty() {
            return Err(ConfigError::InvalidBaseUrl { reason: "no host" });
        }
        if authority.as_str().contains('@') {
            return Err(ConfigError::InvalidBaseUrl { reason: "credentials in the URL are not allowed" });
        }
        if uri.query().is_some() {
            return Err(ConfigError::InvalidBaseUrl { reason: "a query string is not allowed" });
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let (scheme_text, scheme_len) = (scheme.as_str().as_ptr() as usize, scheme.as_str().len());
        Ok(BaseUrl { scheme, scheme_text, scheme_len, authority, prefix })
    }

    /// The absolute URL of `path` (which starts with `/`) under this base.
    pub fn join(&self, path: &str) -> Uri {
        let text = format!("{}://{}{}{}", self.scheme, self.authority, self.prefix, path);
        // Scheme and authority were validated and paths are checked by the callers, so this
        // cannot fail; fall back to the base rather than panic all the same.
        text.parse().unwrap_or_else(|_| Uri::from(self.clone()))
    }

    /// Whether `uri` points at this API's origin (scheme, host and port; RFC 6454). Credentials
    /// are only ever attached to such requests.
    #[inline]
    pub fn same_origin(&self, uri: &Uri) -> bool {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return false;
        };
        // This runs on every request: URIs built from the base URL have the very same scheme
        // and authority text, so compare that first (inline, without a call into `memcmp`),
        // and parse host and port only otherwise.
        self.spelled_alike(scheme, authority) || self.same_origin_slow(scheme, authority)
    }

    /// The path and query of `uri` if `uri` spells this API's origin exactly as the base URL
    /// does ([`origin`](Self::origin)) and its path is path-absolute: one slash first, not two
    /// (`//x` names a host, and so does `/\x` to a URL parser). Resolved against the origin,
    /// they make the URL the whole of `uri` makes, without its host parsed again: for an HTTP
    /// stack with a URL type of its own. `None`: parse the whole of `uri`.
    pub fn path_on_origin<'a>(&self, uri: &'a Uri) -> Option<&'a str> {
        let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) else {
            return None;
        };
        let path = uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str);
        match path.as_bytes() {
            [b'/', b'/' | b'\\', ..] => None,
            [b'/', ..] if self.spelled_alike(scheme, authority) => Some(path),
            _ => None,
        }
    }

    /// Whether `scheme` and `authority` are the base URL's very text. `http` spells the two
    /// schemes it knows in static text (in lower case, whatever the URI said), so the same
    /// scheme comes with the same address and length; any other address is another spelling,
    /// or another scheme.
    #[inline]
    fn spelled_alike(&self, scheme: &UriScheme, authority: &Authority) -> bool {
        let text = scheme.as_str();
        text.as_ptr() as usize == self.scheme_text
            && text.len() == self.scheme_len
            && same_bytes(authority.as_str().as_bytes(), self.authority.as_str().as_bytes())
    }

    #[inline(never)]
    fn same_origin_slow(&self, scheme: &UriScheme, authority: &Authority) -> bool {
        scheme == &self.scheme
            && (authority.as_str().eq_ignore_ascii_case(self.authority.as_str())
                || (authority.host().eq_ignore_ascii_case(self.authority.host())
                    && effective_port(scheme, authority) == effective_port(&self.scheme, &self.authority)))
    }

    /// Whether `target` points at this API's origin, like [`same_origin`](Self::same_origin)
    /// for a URL of any type ([`Target`](crate::Target)).
    #[inline]
    pub fn admits<T: crate::gate::Target + ?Sized>(&self, target: &T) -> bool {
        let (Some(scheme), Some(authority)) = (target.scheme(), target.authority()) else {
            return false;
        };
        // The same text is the usual case (URLs built from the base URL): compared inline.
        let base = self.authority.as_str();
        (same_scheme(scheme.as_bytes(), self.scheme.as_str().as_bytes())
            && same_bytes(authority.as_bytes(), base.as_bytes()))
            || self.admits_slow(scheme, authority)
    }

    /// [`admits`](Self::admits) for text that differs: letter case, an explicit default port.
    #[inline(never)]
    fn admits_slow(&self, scheme: &str, authority: &str) -> bool {
        if !scheme.eq_ignore_ascii_case(self.scheme.as_str()) {
            return false;
        }
        if authority.eq_ignore_ascii_case(self.authority.as_str()) {
            return true;
        }
        let (host, port) = split_authority(authority);
        host.eq_ignore_ascii_case(self.authority.host())
            && port.or_else(|| default_port(&self.scheme)) == effective_port(&self.scheme, &self.authority)
    }

    /// `scheme://host[:port]`, for messages.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The origin in one canonical spelling, `scheme://host:port` with the host in lower case
    /// and the port always written out: two base URLs have the same origin exactly when these
    /// are equal. A stored session records it, so it is never continued against another server
    /// (SPEC.md §3a).
    pub fn canonical_origin(&self) -> String {
        let port = effective_port(&self.scheme, &self.authority).unwrap_or_default();
        format!("{}://{}:{port}", self.scheme, self.authority.host().to_ascii_lowercase())
    }
}

impl From<BaseUrl> for Uri {
    fn from(base: BaseUrl) -> Uri {
        Uri::builder().scheme(base.scheme).authority(base.authority).path_and_query("/").build().unwrap_or_default()
    }
}

/// `a == b`, eight bytes at a time: an authority is short, and comparing it word by word
/// costs less than the call into `memcmp` that `==` on slices makes (the words may overlap).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| s.get(at..).and_then(<[u8]>::first_chunk::<8>).map(|w| u64::from_ne_bytes(*w));
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=24 => word(a, 0) == word(b, 0) && word(a, 8) == word(b, 8) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The host and port of an authority's text (`userinfo@` dropped; an IPv6 host keeps its
/// brackets, as `http::uri::Authority::host` gives it). A port that is not a number is no port:
/// the host then never matches.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, rest)| rest);
    let split_at = match host_port.rfind(']') {
        Some(end) => host_port[end..].find(':').map(|at| end + at),
        None => host_port.rfind(':'),
    };
    match split_at {
        Some(at) if at + 1 == host_port.len() => (&host_port[..at], None),
        Some(at) => match host_port[at + 1..].parse() {
            Ok(port) => (&host_port[..at], Some(port)),
            Err(_) => (host_port, None),
        },
        None => (host_port, None),
    }
}

/// The port a URL of `scheme` means when it names none.
fn default_port(scheme: &UriScheme) -> Option<u16> {
    if scheme == &UriScheme::HTTPS {
        Some(443)
    } else if scheme == &UriScheme::HTTP {
        Some(80)
    } else {
        None
    }
}

/// [`same_bytes`] for a scheme (`http`, `https`): four bytes at a time.
#[inline]
fn same_scheme(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    let half = |s: &[u8], at: usize| s.get(at..).and_then(<[u8]>::first_chunk::<4>).map(|w| u32::from_ne_bytes(*w));
    match n {
        4..=7 if n == b.len() => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

fn effective_port(scheme: &UriScheme, authority: &Authority) -> Option<u16> {
    authority.port_u16().or(if scheme == &UriScheme::HTTPS {
        Some(443)
    } else if scheme == &UriScheme::HTTP {
        Some(80)
    } else {
        None
    })
}

/// How an Integrator names its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AccountSource {
    /// Only the pinned account, if any.
    Pinned,
    /// The caller puts `account_id` in each request's query string.
    PerRequest,
}

/// A validated configuration. Build it with [`Config::bearer`], [`Config::basic`] or
/// [`Config::integrator`], then [`ConfigBuilder::build`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) base: BaseUrl,
    pub(crate) scheme: Scheme,
    pub(crate) username: String,
    pub(crate) password: Option<Password>,
    pub(crate) account: Option<AccountId>,
    pub(crate) policy: RefreshPolicy,
    pub(crate) account_switch: AccountSwitch,
}

impl Config {
    /// A bearer-token session for `username` (SPEC.md §2–3).
    pub fn bearer(base_url: &str, username: &str, password: Password) -> ConfigBuilder {
        ConfigBuilder::new(base_url, Scheme::Bearer, username, Some(password))
    }

    /// A bearer-token session that holds no password: it can only continue a session restored
    /// from a [`Snapshot`](crate::Snapshot), and ends with
    /// [`AuthError::SessionExpired`](crate::AuthError::SessionExpired) when its refresh token dies.
    pub fn bearer_without_password(base_url: &str, username: &str) -> ConfigBuilder {
        ConfigBuilder::new(base_url, Scheme::Bearer, username, None)
    }

    /// HTTP Basic authentication (SPEC.md §1).
    pub fn basic(base_url: &str, username: &str, password: Password) -> ConfigBuilder {
        ConfigBuilder::new(base_url, Scheme::Basic, username, Some(password))
    }

    /// Integrator authentication (SPEC.md §1).
    pub fn integrator(base_url: &str, username: &str, password: Password) -> ConfigBuilder {
        ConfigBuilder::new(base_url, Scheme::Integrator, username, Some(password))
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The authentication scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The username (not a secret).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The pinned account, if any.
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// The refresh policy.
    pub fn refresh_policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// The auth endpoints of this configuration (login, refresh, and the masquerade path if
    /// switches go that way): requests whose bodies carry the password or a refresh token, so
    /// an HTTP client must never follow a redirect of one (SPEC.md §2).
    pub fn auth_endpoints(&self) -> AuthEndpoints {
        let mut paths: Vec<String> =
            ["/auth/login", "/auth/refresh"].iter().map(|path| self.base.join(path).path().to_owned()).collect();
        if let AccountSwitch::Masquerade { path } = &self.account_switch {
            paths.push(self.base.join(path).path().to_owned());
        }
        AuthEndpoints { base: self.base.clone(), paths }
    }

    /// The account-switch strategy.
    pub fn account_switch(&self) -> &AccountSwitch {
        &self.account_switch
    }

    /// Whether this configuration holds a password.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

/// Collects the parts of a [`Config`]; nothing is checked until [`ConfigBuilder::build`].
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct ConfigBuilder {
    base_url: String,
    scheme: Scheme,
    username: String,
    password: Option<Password>,
    account: Option<AccountId>,
    account_source: AccountSource,
    policy: RefreshPolicy,
    account_switch: AccountSwitch,
}

impl ConfigBuilder {
    fn new(base_url: &str, scheme: Scheme, username: &str, password: Option<Password>) -> Self {
        ConfigBuilder {
            base_url: base_url.to_owned(),
            scheme,
            username: username.to_owned(),
            password,
            account: None,
            account_source: AccountSource::Pinned,
            policy: RefreshPolicy::default(),
            account_switch: AccountSwitch::Relogin,
        }
    }

    /// Pins an account. Bearer: login binds the session to it. Basic and Integrator: every
    /// request that does not name an account gets `account_id` added to its query string.
    pub fn account(mut self, account: AccountId) -> Self {
        self.account = Some(account);
        self
    }

    /// Integrator only: the caller promises to put `account_id` in each request's query string
    /// (requests without one are still refused before any I/O).
    pub fn account_per_request(mut self) -> Self {
        self.account_source = AccountSource::PerRequest;
        self
    }

    /// Replaces the refresh policy.
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Chooses how [`Session::switch_account`](crate::Session::switch_account) works.
    pub fn account_switch(mut self, strategy: AccountSwitch) -> Self {
        self.account_switch = strategy;
        self
    }

    /// Validates everything and returns the configuration.
    pub fn build(self) -> Result<Config, ConfigError> {
        let base = BaseUrl::parse(&self.base_url)?;
        if self.username.is_empty() {
            return Err(ConfigError::EmptyUsername);
        }
        if self.username.chars().any(char::is_control) {
            return Err(ConfigError::ControlCharacter { field: "username" });
        }
        if let Some(password) = &self.password
            && password.expose_secret().chars().any(char::is_control)
        {
            return Err(ConfigError::ControlCharacter { field: "password" });
        }
        match self.scheme {
            Scheme::Basic | Scheme::Integrator if self.username.contains(':') => {
                return Err(ConfigError::ColonInUserId { scheme: self.scheme });
            }
            Scheme::Integrator if self.account.is_none() && self.account_source == AccountSource::Pinned => {
                return Err(ConfigError::IntegratorNeedsAccount);
            }
            _ => {}
        }
        if let AccountSwitch::Masquerade { path } = &self.account_switch {
            let valid =
                path.starts_with('/') && !path.contains(['?', '#']) && path.parse::<http::uri::PathAndQuery>().is_ok();
            if !valid {
                return Err(ConfigError::InvalidMasqueradePath);
            }
        }
        self.policy.validate()?;
        Ok(Config {
            base,
            scheme: self.scheme,
            username: self.username,
            password: self.password,
            account: self.account,
            policy: self.policy,
            account_switch: self.account_switch,
        })
    }
}

/// The URLs of a configuration's auth requests ([`Config::auth_endpoints`]); no secret inside.
#[derive(Clone, Debug)]
pub struct AuthEndpoints {
    base: BaseUrl,
    paths: Vec<String>,
}

impl AuthEndpoints {
    /// Whether `uri` is one of them (same origin, same path).
    pub fn contains(&self, uri: &Uri) -> bool {
        self.base.same_origin(uri) && self.paths.iter().any(|path| path == uri.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw() -> Password {
        Password::new("pw")
    }

    #[test]
    fn accepts_the_documented_base_url_and_a_local_one() {
        assert!(Config::bearer(DEFAULT_BASE_URL, "alice", pw()).build().is_ok());
        assert!(Config::bearer("http://127.0.0.1:8080/", "alice", pw()).build().is_ok());
    }

    #[test]
    fn rejects_non_http_urls() {
        for url in ["ftp://example.com", "example.com", "", "https://", "https://u:p@host", "https://h/?q=1"] {
            let err = Config::bearer(url, "alice", pw()).build().unwrap_err();
            assert!(matches!(err, ConfigError::InvalidBaseUrl { .. }), "{url}: {err:?}");
        }
    }

    #[test]
    fn colon_in_basic_or_integrator_user_id_is_a_config_error() {
        let err = Config::basic(DEFAULT_BASE_URL, "a:b", pw()).build().unwrap_err();
        assert_eq!(err, ConfigError::ColonInUserId { scheme: Scheme::Basic });
        let err = Config::integrator(DEFAULT_BASE_URL, "a:b", pw()).account(AccountId(1)).build().unwrap_err();
        assert_eq!(err, ConfigError::ColonInUserId { scheme: Scheme::Integrator });
        // Bearer sends the username in a JSON body, where ':' is fine.
        assert!(Config::bearer(DEFAULT_BASE_URL, "a:b", pw()).build().is_ok());
    }

    #[test]
    fn control_characters_are_rejected() {
        let err = Config::basic(DEFAULT_BASE_URL, "alice\r\nX-Evil: 1", pw()).build().unwrap_err();
        assert_eq!(err, ConfigError::ControlCharacter { field: "username" });
        let err = Config::bearer(DEFAULT_BASE_URL, "alice", Password::new("a\nb")).build().unwrap_err();
        assert_eq!(err, ConfigError::ControlCharacter { field: "password" });
    }

    #[test]
    fn integrator_needs_a_way_to_name_an_account() {
        let err = Config::integrator(DEFAULT_BASE_URL, "int", pw()).build().unwrap_err();
        assert_eq!(err, ConfigError::IntegratorNeedsAccount);
        assert!(Config::integrator(DEFAULT_BASE_URL, "int", pw()).account(AccountId(7)).build().is_ok());
        assert!(Config::integrator(DEFAULT_BASE_URL, "int", pw()).account_per_request().build().is_ok());
    }

    #[test]
    fn masquerade_path_must_be_absolute() {
        let bad = AccountSwitch::Masquerade { path: "auth/masq".into() };
        let err = Config::bearer(DEFAULT_BASE_URL, "a", pw()).account_switch(bad).build().unwrap_err();
        assert_eq!(err, ConfigError::InvalidMasqueradePath);
        assert!(
            Config::bearer(DEFAULT_BASE_URL, "a", pw()).account_switch(AccountSwitch::masquerade()).build().is_ok()
        );
    }

    #[test]
    fn refresh_policy_is_validated() {
        let policy = RefreshPolicy { stale_margin_fraction: 0.9, ..RefreshPolicy::default() };
        let err = Config::bearer(DEFAULT_BASE_URL, "a", pw()).refresh_policy(policy).build().unwrap_err();
        assert!(matches!(err, ConfigError::InvalidRefreshPolicy { field: "stale_margin_fraction", .. }));
        let policy = RefreshPolicy { backoff_initial: Duration::ZERO, ..RefreshPolicy::default() };
        assert!(Config::bearer(DEFAULT_BASE_URL, "a", pw()).refresh_policy(policy).build().is_err());
    }

    #[test]
    fn only_a_path_absolute_uri_on_the_origin_as_spelled_has_a_path_on_it() {
        let base = BaseUrl::parse("https://api.example.com").unwrap();
        let path = |uri: &str| base.path_on_origin(&uri.parse().unwrap()).map(str::to_owned);
        assert_eq!(path("https://api.example.com/reports?x=1").as_deref(), Some("/reports?x=1"));
        assert_eq!(path("https://api.example.com").as_deref(), Some("/"));
        for other in [
            "https://api.example.com//evil.example/x",
            "https://api.example.com/\\evil.example/x",
            "https://API.example.com/x",
            "https://api.example.com:443/x",
            "http://api.example.com/x",
            "https://evil.example/x",
            "/x",
        ] {
            assert_eq!(path(other), None, "{other}");
        }
    }

    #[test]
    fn same_origin_compares_scheme_host_and_effective_port() {
        let base = BaseUrl::parse("https://api.teletracker.net").unwrap();
        let yes = ["https://api.teletracker.net/x", "https://API.teletracker.net:443/reports?a=1"];
        let no = [
            "http://api.teletracker.net/x",
            "https://api.teletracker.net:8443/x",
            "https://evil.example/x",
            "https://api.teletracker.net.evil.example/x",
            "/relative",
        ];
        for uri in yes {
            assert!(base.same_origin(&uri.parse().unwrap()), "{uri}");
        }
        for uri in no {
            assert!(!base.same_origin(&uri.parse().unwrap()), "{uri}");
        }
    }

    #[test]
    fn an_authority_splits_into_host_and_port() {
        assert_eq!(split_authority("api.example:8443"), ("api.example", Some(8443)));
        assert_eq!(split_authority("api.example"), ("api.example", None));
        assert_eq!(split_authority("api.example:"), ("api.example", None));
        assert_eq!(split_authority("u:p@api.example:1"), ("api.example", Some(1)));
        assert_eq!(split_authority("[::1]:8080"), ("[::1]", Some(8080)));
        assert_eq!(split_authority("[::1]"), ("[::1]", None));
        assert_eq!(split_authority("api.example:x"), ("api.example:x", None));
    }

    #[test]
    fn same_bytes_finds_a_difference_anywhere_at_any_length() {
        let text = b"api.teletracker.net:8443.example.org";
        for len in 0..=text.len() {
            let a = &text[..len];
            assert!(same_bytes(a, a), "{len}");
            assert!(!same_bytes(a, &text[..len.saturating_sub(1)]) || len == 0, "{len}: lengths differ");
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{len}: byte {at} differs");
            }
        }
    }

    #[test]
    fn canonical_origin_is_equal_exactly_for_the_same_origin() {
        let canonical = |url: &str| BaseUrl::parse(url).unwrap().canonical_origin();
        assert_eq!(canonical("https://API.teletracker.net"), "https://api.teletracker.net:443");
        assert_eq!(canonical("https://api.teletracker.net:443/v1/"), canonical("https://api.teletracker.net"));
        assert_ne!(canonical("http://api.teletracker.net"), canonical("https://api.teletracker.net"));
        assert_ne!(canonical("https://api.teletracker.net:8443"), canonical("https://api.teletracker.net"));
        assert_eq!(canonical("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }

    #[test]
    fn join_keeps_a_path_prefix() {
        let base = BaseUrl::parse("http://127.0.0.1:9/api/").unwrap();
        assert_eq!(base.join("/auth/login").to_string(), "http://127.0.0.1:9/api/auth/login");
    }
}
