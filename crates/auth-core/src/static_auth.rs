//! Basic and Integrator: stateless header builders (SPEC.md §1).
//!
//! The header is encoded once at construction; authorizing a request is a clone of it plus the
//! account rules: a pinned account is added to every request that does not name one, and an
//! Integrator request that names no account is refused before any I/O.
//!
//! # Which `account_id` parameters count
//!
//! A request may already carry `account_id` in its query string, even several times. Which one
//! a server acts on is not documented (the first, the last, or any of them), so the rules hold
//! for every one of them, each read as the server's form decoder reads it (percent-decoded, so
//! `account%5Fid` is `account_id`):
//!
//! - with a pinned account, *any* value that is not the pinned account refuses the request
//!   ([`AuthError::AccountConflict`]); names that differ from `account_id` only in letter case
//!   (`ACCOUNT_ID`) count here too, since a server that matches names case-insensitively would
//!   act on them;
//! - without a pin, two values naming different accounts refuse the request
//!   ([`AuthError::AccountAmbiguous`]), with the same reading of names;
//! - the pinned value is added only when no parameter spelled `account_id` (after decoding)
//!   carries it already, so it is never added twice; an `ACCOUNT_ID` alone does not count, as
//!   a server that matches names exactly would not see it;
//! - an Integrator request without a pin needs a non-empty value under the documented name.
//!
//! Values are compared as account numbers (`042` is `42`), or as text when they are none.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Uri};

use crate::config::{AccountId, BaseUrl, Config, Scheme};
use crate::error::AuthError;
use crate::request::{Credential, Ledger, Receipt, TokenGeneration, account_params};

/// The `Authorization` header for Basic or Integrator credentials, with the account rules.
pub(crate) struct StaticAuth {
    base: BaseUrl,
    rules: AccountRules,
    header: HeaderValue,
    /// Never counts anything (Basic and Integrator credentials need no books), but a session
    /// has one whatever its scheme.
    ledger: Arc<Ledger>,
}

impl std::fmt::Debug for StaticAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticAuth")
            .field("origin", &self.base.origin())
            .field("scheme", &self.rules.scheme)
            .field("account", &self.rules.account)
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
        let rules = AccountRules { scheme: config.scheme, account: config.account };
        StaticAuth { base: config.base, rules, header, ledger: Ledger::new() }
    }

    /// The configured base URL.
    pub(crate) fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// The scheme (Basic or Integrator).
    pub(crate) fn scheme(&self) -> Scheme {
        self.rules.scheme
    }

    /// The pinned account, if any.
    pub(crate) fn account(&self) -> Option<AccountId> {
        self.rules.account
    }

    /// The account rules, which never change.
    pub(crate) fn rules(&self) -> &AccountRules {
        &self.rules
    }

    /// The session's books (which count nothing here).
    pub(crate) fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The credential for a request to `uri`, applying SPEC.md §1's account rules to every
    /// `account_id` the request already carries (see the module docs).
    pub(crate) fn authorize(&self, uri: &Uri) -> Result<Credential, AuthError> {
        if !self.base.same_origin(uri) {
            return Err(AuthError::ForeignOrigin);
        }
        Ok(self.credential(self.rules.param(uri.query())?.is_some()))
    }

    /// The credential for a request already admitted ([`crate::Gate`]): `account_param` says
    /// whether it gets the pinned account in its query string.
    pub(crate) fn credential(&self, account_param: bool) -> Credential {
        // Not counted, and always quiet: a Basic or Integrator answer never changes anything.
        let receipt = Receipt { generation: TokenGeneration::default(), ledger: 0, flags: Receipt::QUIET };
        Credential { header: self.header.clone(), account: self.rules.account, account_param, receipt }
    }
}

/// SPEC.md §1's account rules for Basic and Integrator requests (see the module docs): the
/// scheme and the pinned account, which never change.
#[derive(Clone, Debug)]
pub(crate) struct AccountRules {
    scheme: Scheme,
    account: Option<AccountId>,
}

impl AccountRules {
    /// The `account_id` to add to a request with this query string, or why it must not be sent.
    pub(crate) fn param(&self, query: Option<&str>) -> Result<Option<AccountId>, AuthError> {
        let mut first: Option<Cow<'_, str>> = None;
        let mut documented: Option<Cow<'_, str>> = None;
        for param in account_params(query) {
            match (self.account, &first) {
                (Some(pinned), _) if param.value.parse::<AccountId>() != Ok(pinned) => {
                    return Err(AuthError::AccountConflict { requested: shown(&param.value), pinned });
                }
                (None, Some(first)) if !same_account(first, &param.value) => {
                    return Err(AuthError::AccountAmbiguous { first: shown(first), second: shown(&param.value) });
                }
                _ => {}
            }
            if param.documented && documented.is_none() {
                documented = Some(param.value.clone());
            }
            first.get_or_insert(param.value);
        }
        match (documented, self.account) {
            // Every value is the pinned account, and the server sees it under its name.
            (Some(_), Some(_)) => Ok(None),
            (None, Some(pinned)) => Ok(Some(pinned)),
            (Some(value), None) if self.scheme == Scheme::Integrator && value.trim().is_empty() => {
                Err(AuthError::AccountRequired)
            }
            (None, None) if self.scheme == Scheme::Integrator => Err(AuthError::AccountRequired),
            (_, None) => Ok(None),
        }
    }
}

/// Whether two `account_id` values name the same account: as numbers, or else as text.
fn same_account(a: &str, b: &str) -> bool {
    match (a.parse::<AccountId>(), b.parse::<AccountId>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.trim() == b.trim(),
    }
}

/// A value from the caller's own URI, cut short for an error message.
fn shown(value: &str) -> String {
    value.chars().take(32).collect()
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
        let _receipt = cred.attach(&mut request);
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
    fn every_account_id_is_checked_against_the_pin_whatever_its_spelling() {
        for query in [
            "account_id=42&account_id=7",
            "account_id=7&account_id=42",
            "account%5Fid=7",
            "account%5fid=42&ACCOUNT_ID=7",
            "account_id=42&account_id=",
        ] {
            let err = basic(Some(42)).authorize(&uri(&format!("https://api.teletracker.net/r?{query}"))).unwrap_err();
            assert!(matches!(err, AuthError::AccountConflict { pinned: AccountId(42), .. }), "{query}: {err:?}");
        }
    }

    #[test]
    fn two_different_accounts_without_a_pin_are_ambiguous() {
        let integrator = StaticAuth::new(
            Config::integrator(BASE, "int", Password::new("pw")).account_per_request().build().unwrap(),
        );
        for auth in [basic(None), integrator] {
            for query in ["account_id=1&account_id=2", "account_id=1&account%5Fid=2", "account_id=1&ACCOUNT_ID=2"] {
                let err = auth.authorize(&uri(&format!("https://api.teletracker.net/r?{query}"))).unwrap_err();
                assert_eq!(
                    err,
                    AuthError::AccountAmbiguous { first: "1".into(), second: "2".into() },
                    "{query}: {err:?}"
                );
            }
            let same = auth.authorize(&uri("https://api.teletracker.net/r?account_id=5&account%5Fid=05")).unwrap();
            assert_eq!(same.account_param(), None);
        }
    }

    #[test]
    fn the_pinned_account_is_never_added_twice() {
        for query in ["account_id=42", "account_id=42&account_id=42", "account%5Fid=042"] {
            let cred = basic(Some(42)).authorize(&uri(&format!("https://api.teletracker.net/r?{query}"))).unwrap();
            assert_eq!(cred.account_param(), None, "{query}");
        }
        // Under another letter case only, a server that matches names exactly would not see it.
        let cred = basic(Some(42)).authorize(&uri("https://api.teletracker.net/r?ACCOUNT_ID=42")).unwrap();
        assert_eq!(cred.account_param(), Some(AccountId(42)));
    }

    #[test]
    fn an_integrator_account_under_another_letter_case_is_no_account() {
        let config = Config::integrator(BASE, "int", Password::new("pw")).account_per_request().build().unwrap();
        let err = StaticAuth::new(config).authorize(&uri("https://api.teletracker.net/r?ACCOUNT_ID=5")).unwrap_err();
        assert_eq!(err, AuthError::AccountRequired);
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
