//! `ttauth request [-X METHOD] PATH [-d BODY] [-H 'K: V']...`: an authenticated `curl`.
//!
//! The response body goes to stdout as it arrives, whatever the status (like `curl`, and
//! without a newline added). A status other than 2xx also prints one line on stderr and exits
//! with 3. A bearer request that the API rejects with 401/403 is retried once with a fresh
//! token by the library (SPEC.md §5a).

use std::io;

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request};

use crate::Context;
use crate::cli::{GlobalArgs, RequestArgs};
use crate::connection::Connection;
use crate::exit::{Exit, Failure, Result};

/// Runs `ttauth request`.
pub(crate) fn run(args: &RequestArgs, global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<()> {
    // Everything the user typed is checked before the password is read or anything is sent
    // (clap already refused a method outside the list `-X` takes).
    let method = match args.method {
        Some(method) => method.method(),
        None if args.data.is_some() => Method::POST,
        None => Method::GET,
    };
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>>>()?;
    let connection = Connection::resolve(global, ctx)?;
    let uri = connection.url(&args.path)?;

    let mut request = Request::builder().method(method.clone()).uri(uri.clone());
    let has_content_type = headers.iter().any(|(name, _)| name == CONTENT_TYPE);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if args.data.is_some() && !has_content_type {
        request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let request = request
        .body(args.data.clone().unwrap_or_default())
        .map_err(|e| Failure::usage(format!("cannot build the request: {e}")))?;

    let client = connection.client(true, ctx).map_err(|f| connection.explain(f))?;
    let sent = match args.data {
        Some(_) => client.send(request),
        None => client.send(request.map(|_| ())),
    };
    let mut response = sent.map_err(|e| connection.explain(e.into()))?;
    connection.observer.token_in_use(client.session().snapshot().as_ref());
    if let Some(error) = client.session().last_store_error() {
        ctx.status(&format!("ttauth: warning: the session could not be saved: {error}"));
    }

    let status = response.status();
    let copied = io::copy(&mut response.body_mut().as_reader(), ctx.out());
    if let Err(e) = copied {
        return Err(Failure::new(Exit::Transport, format!("transferring the response body failed: {e}")));
    }
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::HttpStatus,
            format!("HTTP {} {} ({method} {})", status.as_u16(), status.canonical_reason().unwrap_or(""), uri.path()),
        ))
    }
}

/// `Name: value` → a header. `Authorization` is refused: ttauth sets it.
fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| Failure::usage(format!("a header must look like 'Name: value': {text:?}")))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| Failure::usage(format!("invalid header name {:?}", name.trim())))?;
    if name == AUTHORIZATION {
        return Err(Failure::usage("ttauth sets the Authorization header itself; do not pass one with -H"));
    }
    // Header values may carry secrets of their own: name the header, never echo the value.
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| Failure::usage(format!("the value of header {name} contains invalid characters")))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_parsed_and_checked() {
        let (name, value) = parse_header("X-Trace:  abc ").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-trace", "abc"));
        assert_eq!(parse_header("no colon").unwrap_err().exit, Exit::Usage);
        assert_eq!(parse_header("Bad Name: x").unwrap_err().exit, Exit::Usage);
        assert_eq!(parse_header("authorization: Bearer x").unwrap_err().exit, Exit::Usage);
        let err = parse_header("X-Secret: a\u{7f}b").unwrap_err();
        assert!(!err.message.contains("a\u{7f}b"));
    }
}
