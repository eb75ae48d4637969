//! [`Gate`]: what a session admits to its credentials, decided without the session.
//!
//! Credentials go only to the configured API origin, and a Basic or Integrator request must
//! follow SPEC.md §1's account rules. Neither depends on the session's state: both come from
//! its configuration, which never changes. So a driver keeps a [`Gate`] outside its mutex and
//! makes each API request's [`Call`] with it ([`Gate::request`]): a request to another origin is
//! refused before the session is asked, the origin is checked once per request (not once per
//! attempt), and the call need not own a copy of the request's URL. The request's URL can be of
//! any type that shows its parts ([`Target`]): an `http::Uri`, or the URL type of the driver's
//! HTTP stack, which then needs no conversion.

use http::Uri;

use crate::config::{AccountId, BaseUrl};
use crate::coordinator::Call;
use crate::error::AuthError;
use crate::static_auth::AccountRules;

/// Where a request goes, as far as its credentials are concerned: the parts of its URL a
/// session judges, as the URL has them (not decoded).
///
/// Implemented for `http::Uri`. A driver whose HTTP stack has its own URL type implements it for
/// that type (through a wrapper), so that no URL is converted per request.
pub trait Target {
    /// The scheme (`http`, `https`; any letter case).
    fn scheme(&self) -> Option<&str>;
    /// The authority: `host[:port]`, after `userinfo@` if the URL has one.
    fn authority(&self) -> Option<&str>;
    /// The query string, without its `?`.
    fn query(&self) -> Option<&str>;
}

impl Target for Uri {
    #[inline]
    fn scheme(&self) -> Option<&str> {
        self.scheme_str()
    }

    #[inline]
    fn authority(&self) -> Option<&str> {
        Uri::authority(self).map(http::uri::Authority::as_str)
    }

    #[inline]
    fn query(&self) -> Option<&str> {
        Uri::query(self)
    }
}

/// The parts of a URL of another type than `http::Uri`, as a [`Target`]: what a driver passes
/// when its URL type shows them (an empty authority is none).
#[derive(Clone, Copy, Debug)]
pub struct UrlParts<'a> {
    /// The scheme.
    pub scheme: &'a str,
    /// The authority (`host[:port]`, after `userinfo@` if any).
    pub authority: &'a str,
    /// The query string, without its `?`.
    pub query: Option<&'a str>,
}

impl Target for UrlParts<'_> {
    fn scheme(&self) -> Option<&str> {
        Some(self.scheme)
    }

    fn authority(&self) -> Option<&str> {
        Some(self.authority).filter(|authority| !authority.is_empty())
    }

    fn query(&self) -> Option<&str> {
        self.query
    }
}

/// What a session admits to its credentials: the API origin and, for Basic and Integrator,
/// the account rules (SPEC.md §1). Immutable and cheap to clone; from
/// [`Session::gate`](crate::Session::gate) or [`Coordinator::gate`](crate::Coordinator::gate).
#[derive(Clone, Debug)]
pub struct Gate {
    base: BaseUrl,
    /// Basic and Integrator only.
    rules: Option<AccountRules>,
    /// The session's, so that its calls are answered by that session only.
    session: u64,
}

/// What a [`Gate`] found a request to be: admitted, and whether it gets the pinned account in
/// its query string (Basic and Integrator). Kept in the request's [`Call`], issued by the gate
/// only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub(crate) session: u64,
    pub(crate) account_param: bool,
}

impl Gate {
    pub(crate) fn new(base: BaseUrl, rules: Option<AccountRules>, session: u64) -> Gate {
        Gate { base, rules, session }
    }

    /// The API's base URL, which this gate admits requests to.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base
    }

    /// Whether credentials go to a request for `target` (the configured API origin: same
    /// scheme, host and port).
    #[inline]
    pub fn admits<T: Target + ?Sized>(&self, target: &T) -> bool {
        self.base.admits(target)
    }

    /// The [`Call`] of an API request to `target`, for the coordinator of this gate's session:
    /// like [`Call::request`], but the request is judged here, once, and the call keeps no
    /// URL. Fails, before anything is sent, with [`AuthError::ForeignOrigin`] for another
    /// origin, and with the account errors of a Basic or Integrator request that breaks the
    /// account rules ([`AuthError::AccountConflict`], [`AuthError::AccountAmbiguous`],
    /// [`AuthError::AccountRequired`]).
    #[inline]
    pub fn request<T: Target + ?Sized>(
        &self,
        target: &T,
        replayable: bool,
        expect: Option<AccountId>,
    ) -> Result<Call, AuthError> {
        if !self.base.admits(target) {
            return Err(AuthError::ForeignOrigin);
        }
        let account_param = match &self.rules {
            Some(rules) => rules.param(target.query())?.is_some(),
            None => false,
        };
        Ok(Call::admitted(Admitted { session: self.session, account_param }, replayable, expect))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::secret::Password;
    use crate::session::Session;

    fn gate(config: crate::config::ConfigBuilder) -> Gate {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        Session::new(config.build().unwrap(), 1, now).unwrap().gate()
    }

    #[test]
    fn the_gate_admits_what_the_session_would() {
        let gate = gate(Config::bearer("https://api.teletracker.net", "u", Password::new("p")));
        for (url, admitted) in [
            ("https://api.teletracker.net/reports", true),
            ("HTTPS://API.teletracker.NET:443/reports?x=1", true),
            ("https://u@api.teletracker.net/", true),
            ("http://api.teletracker.net/reports", false),
            ("https://api.teletracker.net:8443/reports", false),
            ("https://api.teletracker.net.evil.example/", false),
            ("https://evil.example/?https://api.teletracker.net", false),
            ("/relative", false),
        ] {
            let uri: Uri = url.parse().unwrap();
            assert_eq!(gate.admits(&uri), admitted, "{url}");
            assert_eq!(gate.request(&uri, true, None).is_ok(), admitted, "{url}");
        }
    }

    #[test]
    fn the_gate_applies_the_account_rules_of_basic_and_integrator() {
        let pinned = gate(Config::basic("https://api.teletracker.net", "u", Password::new("p")).account(AccountId(7)));
        let uri = |url: &str| url.parse::<Uri>().unwrap();
        let Ok(call) = pinned.request(&uri("https://api.teletracker.net/r"), true, None) else { panic!("admitted") };
        assert_eq!(call.admitted_as().map(|a| a.account_param), Some(true), "the pin is added");
        let Ok(call) = pinned.request(&uri("https://api.teletracker.net/r?account_id=7"), true, None) else {
            panic!("admitted")
        };
        assert_eq!(call.admitted_as().map(|a| a.account_param), Some(false), "named already");
        let conflict = pinned.request(&uri("https://api.teletracker.net/r?account_id=8"), true, None);
        assert!(matches!(conflict, Err(AuthError::AccountConflict { .. })));
        let integrator =
            gate(Config::integrator("https://api.teletracker.net", "u", Password::new("p")).account_per_request());
        let missing = integrator.request(&uri("https://api.teletracker.net/r"), true, None);
        assert!(matches!(missing, Err(AuthError::AccountRequired)));
    }
}
