//! Request bodies that can be sent twice, so a rejected request can be retried (SPEC.md §5a).

/// A request body [`Client::send`](crate::Client::send) can replay.
///
/// When the API rejects a bearer token with 401 or 403, the request is retried once with a
/// rebuilt `Authorization` header, and that needs the same body a second time. Bodies held in
/// memory can do that; streams (a `File`, a reader) cannot — send those with
/// [`Client::send_once`](crate::Client::send_once), which never retries.
///
/// Implemented for `()` (no body), byte buffers and strings, owned or borrowed. Implement it
/// for your own in-memory type by returning its bytes.
///
/// ```
/// use auth_ureq::ReplayBody;
/// assert_eq!(().replay(), None);
/// assert_eq!(r#"{"a":1}"#.replay(), Some(&b"{\"a\":1}"[..]));
/// ```
pub trait ReplayBody {
    /// The body's bytes, the same on every call; `None` for a request without a body (sent
    /// with neither `Content-Length` nor `Transfer-Encoding`).
    fn replay(&self) -> Option<&[u8]>;
}

impl ReplayBody for () {
    fn replay(&self) -> Option<&[u8]> {
        None
    }
}

impl<T: ReplayBody + ?Sized> ReplayBody for &T {
    fn replay(&self) -> Option<&[u8]> {
        (**self).replay()
    }
}

impl ReplayBody for [u8] {
    fn replay(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl<const N: usize> ReplayBody for [u8; N] {
    fn replay(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl ReplayBody for Vec<u8> {
    fn replay(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl ReplayBody for str {
    fn replay(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}

impl ReplayBody for String {
    fn replay(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}
