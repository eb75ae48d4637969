//! Where a bearer session is kept: a session file (`--state-file`, `--store PATH`, or the
//! state directory's default), a Redis shared with other hosts (`--store redis://…`), or
//! nowhere (`--no-state`).
//!
//! `--store` falls back to `TELETRACKER_STORE` when none of `--store`, `--state-file` and
//! `--no-state` is on the command line. With Redis, `--store-prefix` (else
//! `TELETRACKER_STORE_PREFIX`) sets the key prefix, and `TELETRACKER_STORE_KEY` (base64, 32
//! bytes) seals the stored values — never a flag: a flag's value shows in `ps`.

use std::path::PathBuf;
use std::sync::Arc;

use auth_store::{FileStore, SessionStore};

use crate::Context;
use crate::cli::StateArgs;
use crate::exit::{Failure, Result};

/// `--store`'s fallback.
pub(crate) const STORE_VAR: &str = "TELETRACKER_STORE";
/// `--store-prefix`'s fallback.
pub(crate) const STORE_PREFIX_VAR: &str = "TELETRACKER_STORE_PREFIX";
/// The seal key of a Redis store (standard base64 of 32 bytes).
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) const STORE_KEY_VAR: &str = "TELETRACKER_STORE_KEY";

/// Where the session is kept, as the command line and the environment say.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `--no-state`: in memory only.
    Memory,
    /// The state directory's default session file.
    Default,
    /// A session file.
    File(PathBuf),
    /// A Redis URL (it may hold a password: never print it; see [`Target::resolve`]).
    Redis { url: String, prefix: Option<String> },
}

impl Target {
    /// From the flags and, failing them, `TELETRACKER_STORE`. The password of a Redis URL is
    /// registered with `ctx`, so that stderr never shows it.
    pub(crate) fn resolve(state: &StateArgs, ctx: &mut Context<'_>) -> Result<Target> {
        if state.no_state {
            return Ok(Target::Memory);
        }
        if let Some(path) = &state.state_file {
            return Ok(Target::File(path.clone()));
        }
        let (value, source) = match &state.store {
            Some(value) => (value.clone(), "--store"),
            None => match ctx.get_var(STORE_VAR) {
                Some(value) if !value.is_empty() => (value, STORE_VAR),
                _ => return Ok(Target::Default),
            },
        };
        let Some((scheme, _)) = value.split_once("://") else {
            return Ok(Target::File(PathBuf::from(value)));
        };
        if !["redis", "rediss", "redis+unix", "valkey", "valkeys"].iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return Err(Failure::usage(format!(
                "{source}: a session file's path or a redis://, rediss:// or redis+unix:// URL, not a {scheme}:// URL"
            )));
        }
        if let Some(password) = url_password(&value) {
            ctx.add_secret(&password);
        }
        let prefix = state.store_prefix.clone().or_else(|| ctx.get_var(STORE_PREFIX_VAR)).filter(|p| !p.is_empty());
        Ok(Target::Redis { url: value, prefix })
    }
}

/// A store opened for one session.
pub(crate) struct Opened {
    pub store: Arc<dyn SessionStore>,
    /// How messages name it: a file's path, or the Redis URL without its password and the key.
    pub location: String,
    kind: Kind,
}

enum Kind {
    File(PathBuf),
    #[cfg(feature = "redis")]
    Redis(auth_redis::RedisStore),
}

impl Opened {
    /// The session file at `path`.
    pub(crate) fn file(path: PathBuf) -> Opened {
        Opened { store: Arc::new(FileStore::new(&path)), location: path.display().to_string(), kind: Kind::File(path) }
    }

    /// The Redis store at `url` for `config`'s session (its keys: server, user, account).
    #[cfg(feature = "redis")]
    pub(crate) fn redis(
        url: &str,
        prefix: Option<&str>,
        config: &auth_core::Config,
        ctx: &mut Context<'_>,
    ) -> Result<Opened> {
        let mut builder = auth_redis::RedisStore::builder(url);
        if let Some(prefix) = prefix {
            builder = builder.prefix(prefix);
        }
        if let Some(key) = ctx.get_var(STORE_KEY_VAR).filter(|k| !k.is_empty()) {
            ctx.add_secret(&key);
            let key =
                auth_redis::SealKey::from_base64(&key).map_err(|e| Failure::usage(format!("{STORE_KEY_VAR}: {e}")))?;
            builder = builder.seal_key(key);
        }
        let store = builder.build(config).map_err(|e| Failure::usage(e.to_string()))?;
        Ok(Opened {
            location: format!("{} key {}", store.name(), store.session_key()),
            store: Arc::new(store.clone()),
            kind: Kind::Redis(store),
        })
    }

    /// Without Redis support, a Redis URL is a usage error that says so.
    #[cfg(not(feature = "redis"))]
    pub(crate) fn redis(
        _url: &str,
        _prefix: Option<&str>,
        _config: &auth_core::Config,
        _ctx: &mut Context<'_>,
    ) -> Result<Opened> {
        Err(Failure::usage(
            "a Redis store needs the `redis` feature, which this build of ttauth lacks (build it with the default \
             features)",
        ))
    }

    /// The session file, for a file store.
    pub(crate) fn path(&self) -> Option<&std::path::Path> {
        match &self.kind {
            Kind::File(path) => Some(path),
            #[cfg(feature = "redis")]
            Kind::Redis(_) => None,
        }
    }

    /// Deletes the stored session (`logout`): a file with its lock file, or the Redis key.
    /// Returns what was removed (empty: nothing was stored).
    pub(crate) fn remove(&self) -> Result<Vec<String>> {
        match &self.kind {
            Kind::File(_) => Ok(Vec::new()), // `logout` removes files itself.
            #[cfg(feature = "redis")]
            Kind::Redis(store) => {
                let failed = |e: auth_store::StoreError| Failure::other(e.to_string());
                // Whether anything is there: a session this host cannot read is removed too.
                let stored = match store.load() {
                    Ok(stored) => stored.is_some(),
                    Err(auth_store::StoreError::Corrupt { .. }) => true,
                    Err(e) => return Err(failed(e)),
                };
                store.clear().map_err(failed)?;
                Ok(if stored { vec![self.location.clone()] } else { Vec::new() })
            }
        }
    }
}

/// The password in a Redis URL (`…://user:password@host`, or `pass=` in a `redis+unix:` URL's
/// query), to scrub from stderr.
fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@') {
        return authority[..at].split_once(':').map(|(_, p)| p.to_owned()).filter(|p| !p.is_empty());
    }
    let query = rest.split_once('?')?.1;
    query.split(['&', '#']).find_map(|pair| pair.strip_prefix("pass=").map(str::to_owned)).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_of_a_redis_url_is_found_to_be_scrubbed() {
        assert_eq!(url_password("redis://:s3cret@host:6379/0").as_deref(), Some("s3cret"));
        assert_eq!(url_password("rediss://app:p@ss@host").as_deref(), Some("p@ss"));
        assert_eq!(url_password("redis+unix:///run/r.sock?db=1&pass=pw").as_deref(), Some("pw"));
        assert_eq!(url_password("redis://host:6379"), None);
        assert_eq!(url_password("redis://user@host"), None);
    }
}
