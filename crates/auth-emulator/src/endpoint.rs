//! The endpoints the emulator serves, as seen by knobs, faults and the journal.

use axum::http::Method;

/// A group of routes that share knobs (latency, faults) and journal counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /auth/login` (SPEC §2).
    Login,
    /// `POST /auth/refresh` (SPEC §3).
    Refresh,
    /// `POST /auth/masquerade`, or the configured path (SPEC §4).
    Masquerade,
    /// The protected REST endpoints: `GET /reports/call-data` and `POST /calls`.
    Api,
    /// The RealTime WebSocket at `/` and `/realtime` (SPEC §6).
    Realtime,
    /// `GET /redirect?to=<absolute-url>`.
    Redirect,
    /// Anything else (answered 404).
    Other,
}

impl Endpoint {
    /// Whether this is an auth endpoint (login, refresh, masquerade): those count towards
    /// [`Emulator::max_concurrent_auth`](crate::Emulator::max_concurrent_auth).
    pub fn is_auth(self) -> bool {
        matches!(self, Self::Login | Self::Refresh | Self::Masquerade)
    }

    /// The endpoint a path belongs to.
    pub(crate) fn classify(path: &str, masquerade_path: &str) -> Self {
        match path {
            "/auth/login" => Self::Login,
            "/auth/refresh" => Self::Refresh,
            p if p == masquerade_path => Self::Masquerade,
            API_CALL_DATA | API_CALLS => Self::Api,
            "/" | "/realtime" => Self::Realtime,
            "/redirect" => Self::Redirect,
            _ => Self::Other,
        }
    }

    /// The one method this path accepts, if the endpoint restricts it.
    pub(crate) fn allowed_method(self, path: &str) -> Option<Method> {
        match self {
            Self::Login | Self::Refresh | Self::Masquerade => Some(Method::POST),
            Self::Api if path == API_CALLS => Some(Method::POST),
            Self::Api | Self::Realtime | Self::Redirect => Some(Method::GET),
            Self::Other => None,
        }
    }
}

/// The protected report endpoint.
pub(crate) const API_CALL_DATA: &str = "/reports/call-data";
/// The protected "create a call" endpoint.
pub(crate) const API_CALLS: &str = "/calls";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_endpoints() {
        let m = "/auth/masquerade";
        assert_eq!(Endpoint::classify("/auth/login", m), Endpoint::Login);
        assert_eq!(Endpoint::classify("/auth/refresh", m), Endpoint::Refresh);
        assert_eq!(Endpoint::classify(m, m), Endpoint::Masquerade);
        assert_eq!(Endpoint::classify("/x/switch", "/x/switch"), Endpoint::Masquerade);
        assert_eq!(Endpoint::classify("/reports/call-data", m), Endpoint::Api);
        assert_eq!(Endpoint::classify("/calls", m), Endpoint::Api);
        assert_eq!(Endpoint::classify("/", m), Endpoint::Realtime);
        assert_eq!(Endpoint::classify("/realtime", m), Endpoint::Realtime);
        assert_eq!(Endpoint::classify("/redirect", m), Endpoint::Redirect);
        assert_eq!(Endpoint::classify("/nope", m), Endpoint::Other);
    }
}
