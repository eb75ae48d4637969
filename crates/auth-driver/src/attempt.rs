//! The attempts of one API request, as a driver carries them out: the first, and the one
//! resend a 401/403 may earn (SPEC.md §5a). The session decides whether there is a resend; this
//! is what a driver keeps for it, and how it tells, cheaply, whether an answer came through a
//! redirect (an answer that did is not judged).

use std::cell::Cell;

use auth_core::Credential;
use http::{Extensions, HeaderMap, Method, Request, Uri, Version};

/// The request of each attempt: the first one as given, then the resend, rebuilt from what was
/// kept of the first — kept only while a resend may follow (a bearer credential's first
/// attempt, for a body that can be sent again), so that a request that will not be resent costs
/// no copy.
#[derive(Debug)]
pub struct Attempts<R, K> {
    first: Option<R>,
    kept: Option<K>,
}

impl<R, K> Attempts<R, K> {
    /// The attempts of `first`.
    pub fn new(first: R) -> Self {
        Attempts { first: Some(first), kept: None }
    }

    /// The request to attach `credential` to: the first (keeping what a resend needs, with
    /// `keep`, if the credential may earn one), or the resend (made with `rebuild` from what was
    /// kept). `None`: no request to send (the session allowed more attempts than were kept).
    #[inline]
    pub fn next(
        &mut self,
        credential: &Credential,
        keep: impl FnOnce(&R) -> Option<K>,
        rebuild: impl FnOnce(K) -> Option<R>,
    ) -> Option<R> {
        match self.first.take() {
            Some(first) => {
                if credential.may_retry() {
                    self.kept = keep(&first);
                }
                Some(first)
            }
            None => rebuild(self.kept.take()?),
        }
    }
}

/// What the resend of a body-less `http` request needs besides its URI (which the answer to
/// the first attempt gives back): method and version, and headers and extensions if it has
/// any (an empty map is made anew, not cloned).
#[derive(Debug)]
pub struct ResendParts {
    method: Method,
    version: Version,
    rest: Option<(HeaderMap, Extensions)>,
}

impl ResendParts {
    /// What a resend of `request` needs.
    #[inline]
    pub fn of(request: &Request<()>) -> Self {
        let (headers, extensions) = (request.headers(), request.extensions());
        let rest = (!headers.is_empty() || !extensions.is_empty()).then(|| (headers.clone(), extensions.clone()));
        ResendParts { method: request.method().clone(), version: request.version(), rest }
    }

    /// The resend, to `uri`.
    pub fn to(self, uri: Uri) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.version_mut() = self.version;
        if let Some((headers, extensions)) = self.rest {
            *request.headers_mut() = headers;
            *request.extensions_mut() = extensions;
        }
        request
    }
}

/// Which `http::Uri` this is: where it keeps its path. An HTTP stack that answers with the very
/// URI it was given (its buffers shared, as ureq does) gives the same identity back; after a
/// redirect it answers with a URI parsed from the `Location` header, which lives elsewhere even
/// if it reads the same. So a redirect is told without a copy of the URI or a redirect history.
/// `0` for a URI without a path.
#[inline]
pub fn uri_identity(uri: &Uri) -> usize {
    uri.path_and_query().map_or(0, |path| path.as_str().as_ptr() as usize)
}

/// A fingerprint of a URL's text (64-bit FNV-1a, a word at a time), for an HTTP stack that
/// answers with a copy of the URL it was given (reqwest): an answer whose URL has another
/// fingerprint came through a redirect. Cheaper than keeping a copy of the URL.
pub fn fingerprint(text: &str) -> u64 {
    let mix = |hash: u64, word: u64| (hash ^ word).wrapping_mul(0x0000_0100_0000_01b3);
    let bytes = text.as_bytes();
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ bytes.len() as u64;
    // Whole words are loaded as such, and the tail is shifted in byte by byte: copying a
    // piece of unknown length into a word would call `memcpy` for every word.
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        hash = mix(hash, u64::from_le_bytes(*word.first_chunk().unwrap_or(&[0; 8])));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        hash = mix(hash, tail.iter().rev().fold(0, |word, &byte| word << 8 | u64::from(byte)));
    }
    hash
}

/// Runs `use_text` on the text of an absolute `uri` (`scheme://authority/path?query`), put
/// together without formatting machinery and, when short (as API URLs are), without allocating:
/// for an HTTP stack that parses its own URL type from text.
pub fn with_uri_text<T>(uri: &Uri, use_text: impl FnOnce(&str) -> T) -> T {
    let scheme = uri.scheme_str().unwrap_or_default();
    let authority = uri.authority().map_or("", http::uri::Authority::as_str);
    let parts = [scheme, "://", authority, uri.path_and_query().map_or("/", http::uri::PathAndQuery::as_str)];
    let mut buffer = [0u8; 256];
    let mut len = 0;
    for part in parts {
        let Some(room) = buffer.get_mut(len..len + part.len()) else {
            return use_text(&parts.concat());
        };
        room.copy_from_slice(part.as_bytes());
        len += part.len();
    }
    // Whole `&str`s put together: always UTF-8.
    match std::str::from_utf8(&buffer[..len]) {
        Ok(text) => use_text(text),
        Err(_) => use_text(&parts.concat()),
    }
}

thread_local! {
    /// The identity of the request this thread is sending for a driver (0: none).
    static SENDING: Cell<usize> = const { Cell::new(0) };
}

/// Marks, on this thread, the request a blocking driver is sending, so that its own middleware
/// installed on the same HTTP client (which runs on the calling thread) lets it through: it is
/// authorized already. The mark names the request (an identity such as [`uri_identity`]), so a
/// request that another middleware sends meanwhile is not taken for it. A thread-local costs a
/// few instructions where marking the request itself (an extension) costs a map insert.
#[derive(Debug)]
pub struct Sending;

impl Sending {
    /// Runs `send` with the request `id` marked.
    #[inline]
    pub fn run<T>(id: usize, send: impl FnOnce() -> T) -> T {
        /// Puts the previous mark back however `send` ends.
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                SENDING.set(self.0);
            }
        }
        let _restore = Restore(SENDING.replace(id));
        send()
    }

    /// Whether `id` is the request this thread is sending, marked.
    #[inline]
    pub fn is(id: usize) -> bool {
        id != 0 && SENDING.get() == id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_and_its_clone_share_an_identity_that_a_parsed_copy_does_not() {
        let uri: Uri = "http://127.0.0.1:9/reports?x=1".parse().unwrap();
        assert_eq!(uri_identity(&uri), uri_identity(&uri.clone()));
        let same_text: Uri = uri.to_string().parse().unwrap();
        assert_ne!(uri_identity(&uri), uri_identity(&same_text));
    }

    #[test]
    fn fingerprints_differ_for_different_text() {
        let a = "http://127.0.0.1:9/v1/reports/call-data";
        assert_eq!(fingerprint(a), fingerprint(&String::from(a)), "the text, not where it lives");
        for b in ["http://127.0.0.1:9/v2/reports/call-data", "http://127.0.0.1:9/v1/reports/call-dat", ""] {
            assert_ne!(fingerprint(a), fingerprint(b), "{b}");
        }
    }

    #[test]
    fn the_mark_names_one_request_and_is_lifted_after() {
        assert!(!Sending::is(7));
        Sending::run(7, || {
            assert!(Sending::is(7) && !Sending::is(8) && !Sending::is(0));
            Sending::run(8, || assert!(Sending::is(8)));
            assert!(Sending::is(7), "an inner send puts the outer mark back");
        });
        assert!(!Sending::is(7));
    }

    #[test]
    fn a_uri_reads_as_its_text_short_or_long() {
        for text in
            ["http://127.0.0.1:9/reports?x=1", "https://api.example/", &format!("https://h/{}", "a".repeat(300))]
        {
            let uri: Uri = text.parse().unwrap();
            assert_eq!(with_uri_text(&uri, str::to_owned), text);
        }
    }

    #[test]
    fn a_resend_has_the_first_requests_parts() {
        let first = Request::post("http://h/x").header("content-type", "text/plain").body(()).unwrap();
        let resend = ResendParts::of(&first).to("http://h/x".parse().unwrap());
        assert_eq!((resend.method(), resend.uri(), resend.headers()), (first.method(), first.uri(), first.headers()));
    }
}
