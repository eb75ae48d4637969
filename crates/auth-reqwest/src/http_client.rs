//! The default `reqwest::Client`: rustls on the `ring` provider, and a redirect policy that
//! never lets an auth request be redirected.

use std::sync::Arc;

use auth_core::{AccountSwitch, BaseUrl, Config};
use http::Uri;
use reqwest::redirect;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// How many redirects an API request follows (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// A `reqwest::ClientBuilder` set up the way [`ClientBuilder::build`](crate::ClientBuilder::build)
/// sets up its default client, for callers who want to tune it (timeouts, proxy, pool) and
/// hand it over with [`ClientBuilder::http_client`](crate::ClientBuilder::http_client):
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
/// ```
/// # let config = auth_core::Config::basic("https://api.teletracker.net", "u", auth_core::Password::new("p")).build().unwrap();
/// let http = auth_reqwest::http_client_builder(&config)
///     .timeout(std::time::Duration::from_secs(30))
///     .build()?;
/// # Ok::<(), reqwest::Error>(())
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
    let base = config.base_url().clone();
    let mut auth_paths: Vec<String> =
        ["/auth/login", "/auth/refresh"].iter().map(|path| base.join(path).path().to_owned()).collect();
    if let AccountSwitch::Masquerade { path } = config.account_switch() {
        auth_paths.push(base.join(path).path().to_owned());
    }
    redirect::Policy::custom(move |attempt| {
        let original = attempt.previous().first();
        if original.is_some_and(|url| is_auth_url(&base, &auth_paths, url)) {
            attempt.stop()
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

fn is_auth_url(base: &BaseUrl, auth_paths: &[String], url: &reqwest::Url) -> bool {
    Uri::try_from(url.as_str()).is_ok_and(|uri| base.same_origin(&uri) && auth_paths.iter().any(|p| p == uri.path()))
}

/// rustls on `ring`, verifying with the platform's roots, offering HTTP/2 and HTTP/1.1.
fn tls_config() -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match rustls_platform_verifier::Verifier::new(provider.clone()) {
        Ok(verifier) => Arc::new(verifier),
        Err(error) => Arc::new(NoRoots { reason: error.to_string(), provider: provider.clone() }),
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The verifier used when the platform's roots cannot be loaded: it refuses every
/// certificate with the reason, so `https` fails per request while plain `http` still works.
#[derive(Debug)]
struct NoRoots {
    reason: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoRoots {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(format!("no root certificates to verify the server with: {}", self.reason)))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::Password;

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
        let config = config(AccountSwitch::masquerade());
        let base = config.base_url().clone();
        let paths = ["/v1/auth/login", "/v1/auth/refresh", "/v1/auth/masquerade"].map(String::from);
        let is_auth = |url: &str| is_auth_url(&base, &paths, &reqwest::Url::parse(url).unwrap());
        assert!(is_auth("https://api.example:8443/v1/auth/login"));
        assert!(is_auth("https://api.example:8443/v1/auth/refresh"));
        assert!(is_auth("https://api.example:8443/v1/auth/masquerade"));
        assert!(!is_auth("https://api.example:8443/v1/reports/call-data"));
        assert!(!is_auth("https://api.example:9443/v1/auth/login"));
        assert!(!is_auth("http://api.example:8443/v1/auth/login"));
    }
}
