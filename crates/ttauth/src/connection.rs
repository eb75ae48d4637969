//! From flags and environment to a configured [`auth_ureq::Client`].

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AccountId, AccountSwitch, Config, DEFAULT_BASE_URL, Password, RefreshPolicy, Scheme};
use auth_store::SessionStore;
use auth_ureq::Client;
use auth_ureq::ureq::Agent;
use http::Uri;

use crate::Context;
use crate::cli::{AccountSwitchArg, GlobalArgs, SchemeArg};
use crate::exit::{Exit, Failure, Result};
use crate::observer::{Observer, StoredFacts};
use crate::state::{default_state_file, state_dir};
use crate::store::{Opened, Target};

/// The environment variable that holds the password.
pub(crate) const PASSWORD_VAR: &str = "TELETRACKER_PASSWORD";

/// Everything needed to talk to one server as one user.
#[derive(Debug)]
pub(crate) struct Connection {
    /// The base URL as given, without a trailing `/`.
    pub base_url: String,
    pub scheme: Scheme,
    pub username: String,
    pub password: Option<Password>,
    pub account: Option<AccountId>,
    pub account_switch: AccountSwitch,
    pub timeout: Duration,
    /// Where the session is kept, as given.
    pub store: Target,
    /// Tells (with `-v`) what the session's requests mean.
    pub observer: Observer,
}

impl Connection {
    /// Resolves the flags (clap already applied the `TELETRACKER_*` fallbacks) and reads the
    /// password: stdin with `--password-stdin`, else `TELETRACKER_PASSWORD`, else none.
    pub fn resolve(global: &GlobalArgs, ctx: &mut Context<'_>) -> Result<Connection> {
        let args = &global.connection;
        let base_url = args.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/').to_owned();
        let username = match args.username.as_deref() {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => return Err(Failure::usage("no username: pass --username or set TELETRACKER_USERNAME")),
        };
        let password = read_password(args.password_stdin, ctx)?;
        let account_switch = match args.account_switch {
            AccountSwitchArg::Relogin => AccountSwitch::Relogin,
            AccountSwitchArg::Masquerade => AccountSwitch::Masquerade { path: args.masquerade_path.clone() },
        };
        let observer = Observer::new(&base_url, &args.masquerade_path);
        let store = Target::resolve(&global.state, ctx)?;
        let connection = Connection {
            base_url,
            scheme: scheme_of(args.scheme),
            username,
            password,
            account: args.account,
            account_switch,
            // clap keeps it in 1..=MAX_TIMEOUT_SECS: every deadline built from it fits the clock.
            timeout: Duration::from_secs(args.timeout),
            store,
            observer,
        };
        tracing::trace!(
            target: "ttauth",
            base_url = %connection.base_url,
            username = %connection.username,
            scheme = %connection.scheme,
            account = ?connection.account.map(|a| a.0),
            password = if connection.password.is_some() { "given" } else { "not given" },
            timeout_s = connection.timeout.as_secs(),
            "configuration"
        );
        Ok(connection)
    }

    /// The store of this connection's session: `--state-file` or `--store` (else
    /// `TELETRACKER_STORE`), else the default file in the state directory. `None` with
    /// `--no-state`; a usage error without a state directory.
    pub fn open_store(&self, ctx: &mut Context<'_>) -> Result<Option<Opened>> {
        match &self.store {
            Target::Memory => Ok(None),
            Target::File(path) => Ok(Some(Opened::file(path.clone()))),
            Target::Default => {
                let dir = state_dir(ctx).ok_or_else(|| {
                    Failure::usage(
                        "no state directory: set XDG_STATE_HOME or HOME, or pass --state-file, --store or --no-state",
                    )
                })?;
                let file = default_state_file(&dir, &self.base_url, &self.username, self.account);
                Ok(Some(Opened::file(file)))
            }
            Target::Redis { url, prefix } => {
                Opened::redis(url, prefix.as_deref(), &self.store_config()?, ctx).map(Some)
            }
        }
    }

    /// The bearer configuration whose session a store keeps: server, user and pinned account
    /// (a Redis store's keys are named after them), without the password.
    pub fn store_config(&self) -> Result<Config> {
        let builder = Config::bearer_without_password(&self.base_url, &self.username);
        let builder = match self.account {
            Some(account) => builder.account(account),
            None => builder,
        };
        builder.build().map_err(|e| Failure::usage(format!("configuration: {e}")))
    }

    /// The validated library configuration. A bearer session without a password can still
    /// continue a stored session; Basic and Integrator need the password.
    pub fn config(&self) -> Result<Config> {
        let password = self.password.clone();
        let builder = match (self.scheme, password) {
            (Scheme::Bearer, Some(password)) => Config::bearer(&self.base_url, &self.username, password),
            (Scheme::Bearer, None) => Config::bearer_without_password(&self.base_url, &self.username),
            (Scheme::Basic, Some(password)) => Config::basic(&self.base_url, &self.username, password),
            (Scheme::Integrator, Some(password)) => Config::integrator(&self.base_url, &self.username, password),
            (_, None) => return Err(no_password()),
        };
        // Login and refresh requests are HTTP requests too: `--timeout` bounds them (the
        // library's auth timeout, which also bounds waiting for another process's refresh).
        let policy = RefreshPolicy { auth_timeout: self.timeout, ..RefreshPolicy::default() };
        let builder = builder.account_switch(self.account_switch.clone()).refresh_policy(policy);
        let builder = match self.account {
            Some(account) => builder.account(account),
            // An Integrator without a pinned account names it in each request's query string;
            // a request without one is refused by the library before any I/O.
            None if self.scheme == Scheme::Integrator => builder.account_per_request(),
            None => builder,
        };
        builder.build().map_err(|e| Failure::usage(format!("configuration: {e}")))
    }

    /// A client for this connection, with the session stored in its state file when
    /// `with_state` (bearer only). A stored session bound to another account than `--account`
    /// is moved to it.
    pub fn client(&self, with_state: bool, ctx: &mut Context<'_>) -> Result<Client> {
        let config = self.config()?;
        let has_password = config.has_password();
        let mut builder = Client::builder(config).clock(ctx.clock_handle()).http(self.agent());
        if self.scheme == Scheme::Bearer
            && with_state
            && let Some(opened) = self.open_store(ctx)?
        {
            let stored = opened.store.load().map_err(|e| Failure::other(e.to_string()))?;
            self.observer
                .stored(&opened.location, stored.as_ref().map(|s| StoredFacts::of(s, ctx.clock_handle().now().wall())));
            if let Some(pinned) = self.account
                && stored.as_ref().is_some_and(|s| s.account().is_none())
            {
                // Nobody knows which account a session on the default account serves (login
                // does not say): restoring it would claim the pinned one.
                return Err(Failure::usage(format!(
                    "{} holds a session on the default account, not on account {pinned}; pass another --state-file \
                     or --store",
                    opened.location
                )));
            }
            let store: Arc<dyn SessionStore> = Arc::clone(&opened.store);
            builder = builder.store(store);
        }
        let client = builder.build().map_err(|e| match e {
            auth_ureq::Error::Config(_) if !has_password => no_password(),
            other => Failure::from(other),
        })?;
        if let Some(account) = self.account
            && self.scheme == Scheme::Bearer
            && client.session().account().is_some_and(|current| current != account)
        {
            self.observer.switching(Some(account));
            let switched = client.switch_account(account);
            self.observer.switching(None);
            switched?;
        }
        Ok(client)
    }

    /// Names the server in a transport failure ("which server could not be reached?").
    pub fn explain(&self, failure: Failure) -> Failure {
        if failure.exit == Exit::Transport && !failure.message.contains(&self.base_url) {
            failure.context(&self.base_url)
        } else {
            failure
        }
    }

    /// A ureq agent whose requests time out after `--timeout`, watched by the observer.
    pub fn agent(&self) -> Agent {
        Agent::config_builder().timeout_global(Some(self.timeout)).middleware(self.observer.clone()).build().into()
    }

    /// The absolute URL of `path`: a path (with an optional query) under the base URL, or an
    /// absolute `http(s)://` URL as is (the library refuses other origins).
    pub fn url(&self, path: &str) -> Result<Uri> {
        let text = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            return Err(Failure::usage(format!("the path must start with / (got {path:?})")));
        };
        text.parse().map_err(|e| Failure::usage(format!("invalid URL {text:?}: {e}")))
    }

    /// The RealTime URL: `override_url`, else the base URL with `ws://` for `http://` and
    /// `wss://` for `https://`.
    pub fn ws_url(&self, override_url: Option<&str>) -> Result<String> {
        if let Some(url) = override_url {
            return Ok(url.to_owned());
        }
        ws_url_for(&self.base_url)
    }
}

/// `http://…` → `ws://…`, `https://…` → `wss://…`.
pub(crate) fn ws_url_for(base_url: &str) -> Result<String> {
    if let Some(rest) = base_url.strip_prefix("https://") {
        Ok(format!("wss://{rest}"))
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else {
        Err(Failure::usage(format!("cannot derive a RealTime URL from {base_url:?}; pass --ws-url")))
    }
}

fn scheme_of(arg: SchemeArg) -> Scheme {
    match arg {
        SchemeArg::Bearer => Scheme::Bearer,
        SchemeArg::Basic => Scheme::Basic,
        SchemeArg::Integrator => Scheme::Integrator,
    }
}

fn no_password() -> Failure {
    Failure::usage(format!("no password: set {PASSWORD_VAR} or pass --password-stdin"))
}

/// The password from stdin (`--password-stdin`: everything up to the end, less one trailing
/// newline) or from the environment. It is registered with the context so that stderr never
/// shows it.
fn read_password(from_stdin: bool, ctx: &mut Context<'_>) -> Result<Option<Password>> {
    let mut text = if from_stdin {
        let text = ctx.read_stdin().map_err(|e| Failure::usage(format!("cannot read the password from stdin: {e}")))?;
        if text.is_empty() {
            return Err(Failure::usage("--password-stdin: stdin is empty"));
        }
        text
    } else {
        match ctx.get_var(PASSWORD_VAR) {
            Some(text) if !text.is_empty() => text,
            _ => return Ok(None),
        }
    };
    if from_stdin {
        if text.ends_with('\n') {
            text.pop();
        }
        if text.ends_with('\r') {
            text.pop();
        }
        if text.is_empty() {
            return Err(Failure::usage("--password-stdin: the password is empty"));
        }
    }
    ctx.add_secret(&text);
    Ok(Some(Password::new(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_url_follows_the_base_url_scheme() {
        assert_eq!(ws_url_for("https://api.teletracker.net").unwrap(), "wss://api.teletracker.net");
        assert_eq!(ws_url_for("http://127.0.0.1:8080").unwrap(), "ws://127.0.0.1:8080");
        assert!(ws_url_for("ftp://x").is_err());
    }
}
