//! Basic and Integrator: stateless header builders (SPEC.md §1).
//!
//! The header is encoded once at construction; authorizing a request is a clone of it plus the
//! account rules: a pinned account is added to every request that does not name one, and an
//! Integrator request that names no account is refused before any I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Uri};

use crate::config::{AccountId, BaseUrl, Config, Scheme};
use crate::error::AuthError;
use crate::request::{Credential, TokenGeneration, account_param_of};

/// The `Authorization` header for Basic or Integrator credentials, with the account rules.
pub struct StaticAuth {
    base: BaseUrl,
    scheme: Scheme,
    header: HeaderValue,
    account: Option<AccountId>,
}

impl std::fmt::Debug for StaticAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticAuth")
            .field("origin", &self.base.origin())
            .field("scheme", &self.scheme)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl StaticAuth {
    /// Builds the header from a validated config (whose user-id has no `:` and whose
    /// credentials hold no control characters).
    pub(crate) fn new(config: Config) -> Self {
        let password = config.password.as_ref().map(|p| p.expose_secret()).unwrap_or_default();
        // The plain `user:password` only lives in this zeroized buffer while it is encoded.
        let plain = zeroize::Zeroizing::new(format!("{}:{}", config.username, password));
        let encoded =
            zeroize::Zeroizing::new(format!("{} {}", config.scheme.word(), STANDARD.encode(plain.as_bytes())));
        // Base64 output and a scheme word are always valid header text.
        let mut header = HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static(""));
        header.set_sensitive(true);
        StaticAuth { base: config.base, scheme: config.scheme, header, account: config.account }
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The scheme (Basic or Integrator).
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The pinned account, if any.
    pub fn account(&self) -> Option<AccountId> {
        self.account
    }

    /// The credential for a request to `uri`, applying SPEC.md §1's account rules.
    pub fn authorize(&self, uri: &Uri) -> Result<Credential, AuthError> {
        if !self.base.same_origin(uri) {
            return Err(AuthError::ForeignOrigin);
        }
        let account_param = match (account_param_of(uri), self.account) {
            (Some(requested), Some(pinned)) if requested.parse::<AccountId>() != Ok(pinned) => {
                return Err(AuthError::AccountConflict { requested: requested.chars().take(32).collect(), pinned });
            }
            (Some(requested), None) if self.scheme == Scheme::Integrator && requested.trim().is_empty() => {
                return Err(AuthError::AccountRequired);
            }
            (Some(_), _) => None,
            (None, Some(pinned)) => Some(pinned),
            (None, None) if self.scheme == Scheme::Integrator => {
                return Err(AuthError::AccountRequired);
            }
            (None, None) => None,
        };
        Ok(Credential { header: self.header.clone(), generation: TokenGeneration(0), account_param })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Password;

    const BASE: &str = "https://api.teletracker.net";

    fn basic(account: Option<u64>) -> StaticAuth {
        let mut builder = Config::basic(BASE, "test@user.com", Password::new("testpassword"));
        if let Some(a) = account {
            builder = builder.account(AccountId(a));
        }
        StaticAuth::new(builder.build().unwrap())
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn basic_header_matches_the_vendor_example() {
        let cred = basic(None).authorize(&uri("https://api.teletracker.net/reports/call-data")).unwrap();
        assert_eq!(cred.header(), "Basic dGVzdEB1c2VyLmNvbTp0ZXN0cGFzc3dvcmQ=");
        assert!(cred.header().is_sensitive());
        assert_eq!(cred.account_param(), None);
    }

    #[test]
    fn integrator_uses_its_own_scheme_word() {
        let config =
            Config::integrator(BASE, "test@user.com", Password::new("testpassword")).account(AccountId(12345)).build();
        let auth = StaticAuth::new(config.unwrap());
        let cred = auth.authorize(&uri("https://api.teletracker.net/reports/call-data")).unwrap();
        assert_eq!(cred.header(), "Integrator dGVzdEB1c2VyLmNvbTp0ZXN0cGFzc3dvcmQ=");
        assert_eq!(cred.account_param(), Some(AccountId(12345)));
    }

    #[test]
    fn integrator_without_account_is_refused_before_io() {
        let config = Config::integrator(BASE, "int", Password::new("pw")).account_per_request().build().unwrap();
        let auth = StaticAuth::new(config);
        assert_eq!(
            auth.authorize(&uri("https://api.teletracker.net/reports")).unwrap_err(),
            AuthError::AccountRequired
        );
        assert_eq!(
            auth.authorize(&uri("https://api.teletracker.net/reports?account_id=")).unwrap_err(),
            AuthError::AccountRequired
        );
        let cred = auth.authorize(&uri("https://api.teletracker.net/reports?account_id=5")).unwrap();
        assert_eq!(cred.account_param(), None, "the request already names its account");
    }

    #[test]
    fn pinned_basic_account_goes_on_every_request() {
        let mut request = http::Request::new(());
        *request.uri_mut() = uri("https://api.teletracker.net/reports/call-data?start_date=2022-10-01");
        let cred = basic(Some(42)).authorize(request.uri()).unwrap();
        cred.apply(&mut request);
        assert_eq!(request.uri().query(), Some("start_date=2022-10-01&account_id=42"));
        assert!(request.headers().contains_key(http::header::AUTHORIZATION));
    }

    #[test]
    fn a_conflicting_account_is_refused() {
        let err = basic(Some(42)).authorize(&uri("https://api.teletracker.net/r?account_id=7")).unwrap_err();
        assert!(matches!(err, AuthError::AccountConflict { pinned: AccountId(42), .. }));
        assert!(basic(Some(42)).authorize(&uri("https://api.teletracker.net/r?account_id=42")).is_ok());
    }

    #[test]
    fn no_credentials_for_another_origin() {
        let err = basic(None).authorize(&uri("https://evil.example/reports")).unwrap_err();
        assert_eq!(err, AuthError::ForeignOrigin);
    }

    #[test]
    fn debug_shows_no_credentials() {
        let shown = format!("{:?} {:?}", basic(None), basic(None).authorize(&uri("https://api.teletracker.net/")));
        assert!(!shown.contains("dGVzd") && !shown.contains("testpassword"), "{shown}");
    }
}
