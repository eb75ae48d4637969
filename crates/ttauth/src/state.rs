//! Where a bearer session is stored between runs.

use std::path::{Path, PathBuf};

use auth_core::AccountId;

/// The default session file for `username` on `base_url` (and `account`, if pinned):
/// `<state dir>/ttauth/session-<user>@<host>-<hash>.json`, where the state directory is
/// `$XDG_STATE_HOME` if it is set to an absolute path, else `$HOME/.local/state`.
///
/// The readable part of the name is sanitized; the hash covers the exact base URL, username
/// and account, so two users, servers or accounts never share a file (a session bound to one
/// account must not be continued by a command pinned to another). `None` when neither variable
/// gives a usable directory.
pub fn default_state_file(
    xdg_state_home: Option<&str>,
    home: Option<&str>,
    base_url: &str,
    username: &str,
    account: Option<AccountId>,
) -> Option<PathBuf> {
    let absolute = |dir: Option<&str>| dir.filter(|d| Path::new(d).is_absolute()).map(PathBuf::from);
    let state_dir = absolute(xdg_state_home).or_else(|| absolute(home).map(|h| h.join(".local").join("state")))?;
    let base_url = base_url.trim_end_matches('/');
    let host = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or(host);
    let account_text = account.map(|a| a.to_string()).unwrap_or_default();
    let key = fnv1a(&[base_url.as_bytes(), username.as_bytes(), account_text.as_bytes()]);
    let mut name = format!("session-{}@{}", sanitize(username), sanitize(host));
    if let Some(account) = account {
        name.push_str(&format!("-account{account}"));
    }
    name.push_str(&format!("-{key:016x}.json"));
    Some(state_dir.join("ttauth").join(name))
}

/// Keeps letters, digits, `.`, `-` and `_` (at most 40 of them); everything else becomes `_`.
fn sanitize(text: &str) -> String {
    text.chars()
        .take(40)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect()
}

/// FNV-1a (64 bit) over the parts, each followed by a NUL: stable across Rust versions and
/// platforms, unlike `DefaultHasher`, so the file name never changes under a user.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(&[0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://api.teletracker.net";

    #[test]
    fn xdg_state_home_wins_over_home() {
        let path = default_state_file(Some("/xdg"), Some("/home/u"), API, "alice", None).unwrap();
        assert!(path.starts_with("/xdg/ttauth"), "{path:?}");
        let path = default_state_file(None, Some("/home/u"), API, "alice", None).unwrap();
        assert!(path.starts_with("/home/u/.local/state/ttauth"), "{path:?}");
    }

    #[test]
    fn a_relative_xdg_state_home_is_ignored_as_the_spec_says() {
        let path = default_state_file(Some("relative"), Some("/home/u"), API, "alice", None).unwrap();
        assert!(path.starts_with("/home/u/.local/state/ttauth"), "{path:?}");
        assert_eq!(default_state_file(Some("rel"), None, API, "alice", None), None);
        assert_eq!(default_state_file(None, None, API, "alice", None), None);
    }

    #[test]
    fn users_servers_and_accounts_never_share_a_file() {
        let file = |url: &str, user: &str, account: Option<u64>| {
            default_state_file(None, Some("/h"), url, user, account.map(AccountId)).unwrap()
        };
        let alice = file(API, "alice", None);
        assert_ne!(alice, file(API, "bob", None));
        assert_ne!(alice, file("http://127.0.0.1:8080", "alice", None));
        assert_ne!(alice, file(API, "alice", Some(1001)));
        // Names that sanitize alike still differ by their hash.
        assert_ne!(file(API, "a/b", None), file(API, "a?b", None));
        assert_eq!(alice, file(&format!("{API}/"), "alice", None), "a trailing slash is the same server");
        let name = alice.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("session-alice@api.teletracker.net-"), "{name}");
        assert!(name.ends_with(".json"), "{name}");
    }

    #[test]
    fn odd_usernames_cannot_escape_the_directory() {
        let path = default_state_file(None, Some("/h"), API, "../../etc/passwd", None).unwrap();
        assert_eq!(path.parent(), Some(Path::new("/h/.local/state/ttauth")));
    }
}
