//! Where a bearer session is stored between runs, and what a stored one says.

use std::path::{Path, PathBuf};

use auth_core::AccountId;

use crate::Context;

/// The directory name under the platform's state directory.
const APP: &str = "ttauth";

/// ttauth's state directory as the real process sees it: the platform's state directory
/// (`$XDG_STATE_HOME`, else `~/.local/state`, on Linux) or, where the platform has none, its
/// local data directory (`~/Library/Application Support` on macOS, `%LOCALAPPDATA%` on
/// Windows), plus `ttauth`. A captured [`Context`] applies the Linux rule to its own
/// variables ([`default_state_dir`]), so tests never touch the real one.
pub(crate) fn state_dir(ctx: &Context<'_>) -> Option<PathBuf> {
    if ctx.is_process() {
        let dirs = directories::BaseDirs::new()?;
        Some(dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).join(APP))
    } else {
        default_state_dir(ctx.get_var("XDG_STATE_HOME").as_deref(), ctx.get_var("HOME").as_deref())
    }
}

/// The XDG rule with explicit values: `$XDG_STATE_HOME/ttauth` if it is an absolute path, else
/// `$HOME/.local/state/ttauth`; `None` when neither gives a usable directory.
pub fn default_state_dir(xdg_state_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let absolute = |dir: Option<&str>| dir.filter(|d| Path::new(d).is_absolute()).map(PathBuf::from);
    let state = absolute(xdg_state_home).or_else(|| absolute(home).map(|h| h.join(".local").join("state")))?;
    Some(state.join(APP))
}

/// The default session file for `username` on `base_url` (and `account`, if pinned) in
/// `state_dir`: `session-<user>@<host>-<hash>.json`.
///
/// The readable part of the name is sanitized; the hash covers the exact base URL, username
/// and account, so two users, servers or accounts never share a file (a session bound to one
/// account must not be continued by a command pinned to another).
pub fn default_state_file(state_dir: &Path, base_url: &str, username: &str, account: Option<AccountId>) -> PathBuf {
    let base_url = base_url.trim_end_matches('/');
    let host = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let host = host.split('/').next().unwrap_or(host);
    let account_text = account.map(|a| a.to_string()).unwrap_or_default();
    let key = fnv1a(&[base_url.as_bytes(), username.as_bytes(), account_text.as_bytes()]);
    let mut name = format!("{SESSION_PREFIX}{}@{}", sanitize(username), sanitize(host));
    if let Some(account) = account {
        name.push_str(&format!("-account{account}"));
    }
    name.push_str(&format!("-{key:016x}.json"));
    state_dir.join(name)
}

/// How every session file ttauth names starts.
const SESSION_PREFIX: &str = "session-";

/// Whether `name` is one of ttauth's files in its state directory: a session file, its lock
/// file, or a temporary file a crashed save left behind (`.<session file>.<…>.tmp`).
pub(crate) fn is_session_file(name: &str) -> bool {
    let session = |n: &str| n.starts_with(SESSION_PREFIX) && (n.ends_with(".json") || n.ends_with(".json.lock"));
    session(name) || name.strip_prefix('.').is_some_and(|n| n.starts_with(SESSION_PREFIX) && n.ends_with(".tmp"))
}

/// The lock file the store keeps beside `file` (`<file>.lock`).
pub(crate) fn lock_file_of(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    file.with_file_name(name)
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
        let dir = default_state_dir(Some("/xdg"), Some("/home/u")).unwrap();
        assert_eq!(dir, Path::new("/xdg/ttauth"));
        let dir = default_state_dir(None, Some("/home/u")).unwrap();
        assert_eq!(dir, Path::new("/home/u/.local/state/ttauth"));
    }

    #[test]
    fn a_relative_xdg_state_home_is_ignored_as_the_spec_says() {
        let dir = default_state_dir(Some("relative"), Some("/home/u")).unwrap();
        assert_eq!(dir, Path::new("/home/u/.local/state/ttauth"));
        assert_eq!(default_state_dir(Some("rel"), None), None);
        assert_eq!(default_state_dir(None, None), None);
    }

    #[test]
    fn users_servers_and_accounts_never_share_a_file() {
        let dir = Path::new("/h");
        let file =
            |url: &str, user: &str, account: Option<u64>| default_state_file(dir, url, user, account.map(AccountId));
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
        assert!(is_session_file(&name));
        assert!(is_session_file(&format!("{name}.lock")));
        assert!(is_session_file(&format!(".{name}.123.4.tmp")));
        assert!(!is_session_file("notes.json") && !is_session_file("session-x.txt"));
    }

    #[test]
    fn odd_usernames_cannot_escape_the_directory() {
        let path = default_state_file(Path::new("/h/ttauth"), API, "../../etc/passwd", None);
        assert_eq!(path.parent(), Some(Path::new("/h/ttauth")));
    }
}
