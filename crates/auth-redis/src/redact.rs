//! What a message may say about Redis: the URL without its password, and an error's text
//! without the password or any value.

use std::time::Duration;

use redis::{ErrorKind, RedisError};

/// How messages and `Debug` name the store: `url` with its password replaced by `***` (in
/// `user:password@` and in a `pass=`/`password=` query parameter, the form of `redis+unix:`
/// URLs).
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "<a Redis URL>".to_owned();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => format!("{user}:***{host}"),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{}", redact_query(tail))
}

/// `tail` (path, query, fragment) with the values of `pass` and `password` replaced.
fn redact_query(tail: &str) -> String {
    let Some(query_start) = tail.find('?') else {
        return tail.to_owned();
    };
    let (path, rest) = tail.split_at(query_start + 1);
    let query_end = rest.find('#').unwrap_or(rest.len());
    let (query, fragment) = rest.split_at(query_end);
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password") => {
                format!("{name}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}{}{fragment}", query.join("&"))
}

/// The longest error text passed on (a server's message is one line; anything longer is cut).
const MAX_REASON: usize = 200;

/// What went wrong, for [`StoreError::Unavailable`](auth_store::StoreError::Unavailable): the
/// redis error's text, except where it could hold a value, and never a secret in `secrets`.
///
/// - A timeout says so, with the bound (the OS's "resource temporarily unavailable" says
///   nothing to a reader).
/// - A reply the client could not decode is named, not quoted: redis-rs quotes the reply, which
///   may be a stored value.
/// - A server's error is kept up to "with args beginning with", after which Redis quotes the
///   command's arguments (a stored value among them), and cut at [`MAX_REASON`].
pub(crate) fn describe(error: &RedisError, timeout: Duration, secrets: &[String]) -> String {
    let text = if error.is_timeout() {
        format!("Redis did not answer within {} ms", timeout.as_millis())
    } else if matches!(error.kind(), ErrorKind::Parse | ErrorKind::UnexpectedReturnType) {
        "Redis sent a reply this client cannot read (is it a Redis server?)".to_owned()
    } else if error.kind() == ErrorKind::AuthenticationFailed {
        "Redis refused the user name or password of the URL (authentication failed)".to_owned()
    } else {
        let text = error.to_string();
        let text = text.split("with args beginning with").next().unwrap_or_default().trim_end().to_owned();
        cut(text, MAX_REASON)
    };
    scrub(text, secrets)
}

/// `text` with every occurrence of each secret replaced by `***`.
pub(crate) fn scrub(mut text: String, secrets: &[String]) -> String {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The forms in which `url`'s password may show up in a message: as written in the URL
/// (percent-encoded) and decoded (as the server or redis-rs would say it).
pub(crate) fn secrets_of(url: &str, decoded_password: Option<&str>) -> Vec<String> {
    let mut secrets: Vec<String> = decoded_password.into_iter().map(str::to_owned).collect();
    if let Some(raw) = raw_password(url) {
        secrets.push(raw);
    }
    // Longest first, so that a password containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// The password as written in `url` (`user:password@` or `pass=`).
fn raw_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@') {
        return authority[..at].split_once(':').map(|(_, password)| password.to_owned());
    }
    let query = rest.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.eq_ignore_ascii_case("pass") || name.eq_ignore_ascii_case("password")).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_keeps_everything_but_its_password() {
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_url("redis://:s3cret@127.0.0.1:6379/2"), "redis://:***@127.0.0.1:6379/2");
        assert_eq!(
            redact_url("rediss://app:p%40ss:w@cache.internal/0#insecure"),
            "rediss://app:***@cache.internal/0#insecure"
        );
        assert_eq!(redact_url("redis://user@host"), "redis://user@host");
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&pass=s3cret&x=y"),
            "redis+unix:///run/redis.sock?db=1&pass=***&x=y"
        );
        assert_eq!(redact_url("redis://h/?protocol=resp3"), "redis://h/?protocol=resp3");
        assert_eq!(redact_url("not a url s3cret"), "<a Redis URL>");
    }

    #[test]
    fn a_password_with_an_at_sign_is_hidden_whole() {
        let url = "redis://:p@ss@host:1";
        assert_eq!(redact_url(url), "redis://:***@host:1");
        assert_eq!(secrets_of(url, None), vec!["p@ss".to_owned()]);
    }

    #[test]
    fn both_spellings_of_a_password_are_secrets() {
        let secrets = secrets_of("redis://:p%40ss@host", Some("p@ss"));
        assert_eq!(secrets, vec!["p%40ss".to_owned(), "p@ss".to_owned()]);
        assert_eq!(secrets_of("redis+unix:///s?pass=abc", Some("abc")), vec!["abc".to_owned()]);
        assert!(secrets_of("redis://host", None).is_empty());
    }

    #[test]
    fn scrubbing_replaces_every_occurrence() {
        let secrets = vec!["hunter2".to_owned()];
        assert_eq!(scrub("a hunter2 b hunter2".to_owned(), &secrets), "a *** b ***");
        assert_eq!(scrub("nothing here".to_owned(), &[String::new()]), "nothing here");
    }

    #[test]
    fn a_server_error_loses_the_arguments_redis_quotes() {
        let error = redis::make_extension_error(
            "ERR".to_owned(),
            Some("unknown command 'EVALSHA', with args beginning with: 'abc' '{\"token\":\"tok-1\"}'".to_owned()),
        );
        let text = describe(&error, Duration::from_secs(2), &[]);
        assert!(!text.contains("tok-1"), "{text}");
        assert!(text.contains("unknown command"), "{text}");
    }

    #[test]
    fn an_unreadable_reply_is_named_not_quoted() {
        let error = RedisError::from((
            ErrorKind::UnexpectedReturnType,
            "Response was of incompatible type",
            "tok-1".to_owned(),
        ));
        let text = describe(&error, Duration::from_secs(2), &[]);
        assert!(!text.contains("tok-1"), "{text}");
        assert!(text.contains("cannot read"), "{text}");
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let text = cut("é".repeat(150), 201);
        assert!(text.len() <= 204 && text.ends_with('…'), "{text}");
    }
}
