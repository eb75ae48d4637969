//! The default `reqwest::Client`: rustls on the `ring` provider, and a redirect policy that
//! never lets an auth request be redirected.

use std::sync::Arc;

use auth_core::Config;
use http::Uri;
use reqwest::redirect;
use rustls::ClientConfig;

/// How many redirects an API request follows (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// A `reqwest::ClientBuilder` set up the way [`ClientBuilder::build`](crate::ClientBuilder::build)
/// sets up its default client, for callers who want to tune it (timeouts, proxy, pool) and
/// hand it over with [`ClientBuilder::http`](auth_driver::ClientBuilder::http):
///
/// - **TLS**: rustls with the `ring` crypto provider and the platform's root certificates
///   (`rustls-platform-verifier`). This crate enables reqwest's `rustls-no-provider` feature,
///   so it needs neither cmake nor the aws-lc C build, and it never installs a process-wide
///   crypto provider. A `reqwest::Client::builder()` of your own must be given a TLS
///   configuration (`tls_backend_preconfigured`) or a process default provider, or reqwest
///   panics when it is built; starting from this function avoids that. If the system has no
///   root certificates, the client still builds: plain-`http` requests work and `https`
///   requests fail with a transport error that says why.
/// - **Redirects**: followed up to 10 times, except for auth requests (login, refresh,
///   masquerade on the configured API origin), which are never redirected: their bodies carry
///   the password or the refresh token, and their answers must come from the API itself.
///   reqwest removes `Authorization` (and cookies) from a redirect to another origin (scheme,
///   host or port) whatever the policy.
///
/// It borrows the [`Config`] that [`Client::builder`](crate::Client::builder) then takes:
/// build the `reqwest::Client` first.
///
/// ```
/// use std::time::Duration;
/// use auth_reqwest::{Client, Config, Password};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret")).build()?;
/// let http = auth_reqwest::http_client_builder(&config).timeout(Duration::from_secs(30)).build()?;
/// let client = Client::builder(config).http(http).build().await?;
/// # let _ = client;
/// # Ok(()) }
/// ```
pub fn http_client_builder(config: &Config) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().redirect(redirect_policy(config));
    match tls_config() {
        Ok(tls) => builder.tls_backend_preconfigured(tls),
        // `ring` supports every default protocol version, so this does not happen; if it
        // did, reqwest's `build()` reports an error instead of panicking for want of a
        // provider.
        Err(_) => builder.tls_backend_preconfigured(()),
    }
}

/// Follows up to [`MAX_REDIRECTS`] redirects, but none of an auth request.
fn redirect_policy(config: &Config) -> redirect::Policy {
    let auth = config.auth_endpoints();
    redirect::Policy::custom(move |attempt| {
        let original = attempt.previous().first().and_then(|url| Uri::try_from(url.as_str()).ok());
        if original.is_some_and(|uri| auth.contains(&uri)) {
            attempt.stop()
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// rustls on `ring`, verifying with the platform's roots (none when they cannot be loaded:
/// every `https` request then fails with an unknown-issuer error, plain `http` still works),
/// offering HTTP/2 and HTTP/1.1.
fn tls_config() -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let mut config = match rustls_platform_verifier::Verifier::new(provider) {
        Ok(verifier) => builder.dangerous().with_custom_certificate_verifier(Arc::new(verifier)),
        Err(_) => builder.with_root_certificates(rustls::RootCertStore::empty()),
    }
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{AccountSwitch, Password};

    fn config(switch: AccountSwitch) -> Config {
        Config::bearer("https://api.example:8443/v1", "u", Password::new("p")).account_switch(switch).build().unwrap()
    }

    #[test]
    fn tls_config_uses_ring_and_offers_h2_and_http1() {
        let tls = tls_config().unwrap();
        assert_eq!(tls.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(http_client_builder(&config(AccountSwitch::Relogin)).build().is_ok());
    }

    #[test]
    fn auth_urls_are_recognised_on_the_api_origin_only() {
        let auth = config(AccountSwitch::masquerade()).auth_endpoints();
        let is_auth = |url: &str| auth.contains(&url.parse().unwrap());
        assert!(is_auth("https://api.example:8443/v1/auth/login"));
        assert!(is_auth("https://api.example:8443/v1/auth/refresh"));
        assert!(is_auth("https://api.example:8443/v1/auth/masquerade"));
        assert!(!is_auth("https://api.example:8443/v1/reports/call-data"));
        assert!(!is_auth("https://api.example:9443/v1/auth/login"));
        assert!(!is_auth("http://api.example:8443/v1/auth/login"));
        let relogin = config(AccountSwitch::Relogin).auth_endpoints();
        assert!(!relogin.contains(&"https://api.example:8443/v1/auth/masquerade".parse().unwrap()));
    }
}
