//! The names of one session's keys: `{prefix}:{ns}:lock` and `{prefix}:{ns}:session`.
//!
//! `{ns}` stands for whose session it is (SPEC.md §3a: one origin, one user, one scheme, one
//! pinned account): the lowercase hex SHA-256 of those four, each written with its length in
//! front. The length prefixes make the encoding unambiguous (no two tuples give the same bytes,
//! whatever characters a username holds: `:`, newlines, anything), the hash makes the key a
//! fixed shape that no username can break out of, and neither the username nor anything secret
//! appears in a key name. The password is never part of it.

use auth_core::Config;
use sha2::{Digest, Sha256};

/// What the namespace is a hash of, in this order; the tag versions the encoding.
const TAG: &str = "teletracker-auth session v1";

/// The keys of one session under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Keys {
    /// The namespace: 64 lowercase hex digits.
    pub(crate) namespace: String,
    /// The lease: `SET NX PX` with a random token.
    pub(crate) lock: String,
    /// The session: a hash with the fields `version` and `value`.
    pub(crate) session: String,
}

impl Keys {
    /// The keys of `config`'s session under `prefix`.
    pub(crate) fn for_config(prefix: &str, config: &Config) -> Keys {
        let pinned = config.account().map(|account| account.0.to_string()).unwrap_or_default();
        let namespace =
            namespace(&[&config.base_url().canonical_origin(), config.username(), config.scheme().word(), &pinned]);
        Keys::new(prefix, namespace)
    }

    fn new(prefix: &str, namespace: String) -> Keys {
        Keys { lock: format!("{prefix}:{namespace}:lock"), session: format!("{prefix}:{namespace}:session"), namespace }
    }
}

/// The hex SHA-256 of the tag and `fields`, each preceded by its length in bytes (8 bytes, big
/// endian).
fn namespace(fields: &[&str]) -> String {
    let mut hash = Sha256::new();
    for field in std::iter::once(&TAG).chain(fields) {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use auth_core::{AccountId, Password};

    use super::*;

    fn config(base: &str, user: &str, account: Option<u64>) -> Config {
        let builder = Config::bearer(base, user, Password::new("pw-secret"));
        match account {
            Some(id) => builder.account(AccountId(id)),
            None => builder,
        }
        .build()
        .unwrap()
    }

    fn keys(base: &str, user: &str, account: Option<u64>) -> Keys {
        Keys::for_config("teletracker", &config(base, user, account))
    }

    #[test]
    fn the_keys_are_the_prefix_the_namespace_and_the_role() {
        let keys = keys("https://api.teletracker.net", "alice", None);
        assert_eq!(keys.namespace.len(), 64);
        assert!(keys.namespace.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(keys.lock, format!("teletracker:{}:lock", keys.namespace));
        assert_eq!(keys.session, format!("teletracker:{}:session", keys.namespace));
    }

    #[test]
    fn one_session_has_one_namespace_however_its_origin_is_spelled() {
        let a = keys("https://api.teletracker.net", "alice", Some(7));
        assert_eq!(a, keys("https://API.teletracker.net:443/", "alice", Some(7)));
    }

    #[test]
    fn every_part_of_whose_session_it_is_changes_the_namespace() {
        let base = keys("https://api.teletracker.net", "alice", None);
        for other in [
            keys("https://api.teletracker.net:8443", "alice", None),
            keys("http://api.teletracker.net", "alice", None),
            keys("https://api.teletracker.net", "Alice", None),
            keys("https://api.teletracker.net", "alice", Some(1)),
        ] {
            assert_ne!(base.namespace, other.namespace);
        }
        assert_ne!(keys("https://a.net", "u", Some(1)).namespace, keys("https://a.net", "u", Some(2)).namespace);
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        // Without the lengths in front, ("ab", "c") and ("a", "bc") would hash alike.
        assert_ne!(namespace(&["ab", "c"]), namespace(&["a", "bc"]));
        assert_ne!(namespace(&["a:b", ""]), namespace(&["a", "b"]));
        assert_ne!(namespace(&["", "x"]), namespace(&["x", ""]));
    }

    #[test]
    fn a_username_cannot_reach_into_the_key_names() {
        let hostile = keys("https://a.net", "alice:x:lock * {}@ FLUSHALL", None);
        for key in [&hostile.lock, &hostile.session] {
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':'), "{key}");
            assert!(!key.contains("alice"), "{key}");
        }
    }

    #[test]
    fn the_prefix_is_the_users_choice() {
        let keys = Keys::for_config("app:prod", &config("https://a.net", "u", None));
        assert!(keys.lock.starts_with("app:prod:"));
        assert!(keys.lock.ends_with(":lock"));
    }

    #[test]
    fn the_password_is_no_part_of_the_namespace() {
        let other_password = Config::bearer("https://a.net", "u", Password::new("another")).build().unwrap();
        assert_eq!(Keys::for_config("p", &config("https://a.net", "u", None)), Keys::for_config("p", &other_password));
    }
}
