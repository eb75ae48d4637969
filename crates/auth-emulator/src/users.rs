//! The directory of users the emulator knows: members of one or more accounts, and
//! integrators with an allow list (SPEC §1).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// An account number, as in the `account_id` parameter (SPEC §2).
pub type AccountNumber = u64;

/// What kind of user this is (SPEC §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A normal user living in one or more accounts. The first account is the *home* account.
    Member {
        /// The accounts this user may use; never empty, the home account first.
        accounts: Vec<AccountNumber>,
    },
    /// An integrator: belongs to no account and must name an allowed account on every
    /// request. Integrators cannot log in (no bearer sessions) and cannot use Basic.
    Integrator {
        /// The accounts this integrator may act on.
        allowed_accounts: Vec<AccountNumber>,
    },
}

/// One user of the emulated API.
///
/// ```
/// use auth_emulator::User;
/// let bob = User::member("bob", "bob-password", 2001)
///     .with_accounts([2002, 2003])
///     .elevated();
/// assert_eq!(bob.accounts(), &[2001, 2002, 2003]);
/// assert_eq!(bob.home_account(), Some(2001));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    username: String,
    password: String,
    role: Role,
    elevated: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("role", &self.role)
            .field("elevated", &self.elevated)
            .finish()
    }
}

impl User {
    /// A normal user whose home (and so far only) account is `home`.
    pub fn member(username: impl Into<String>, password: impl Into<String>, home: AccountNumber) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            role: Role::Member { accounts: vec![home] },
            elevated: false,
        }
    }

    /// An integrator allowed to act on `allowed_accounts`.
    pub fn integrator(
        username: impl Into<String>,
        password: impl Into<String>,
        allowed_accounts: impl IntoIterator<Item = AccountNumber>,
    ) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            role: Role::Integrator { allowed_accounts: allowed_accounts.into_iter().collect() },
            elevated: false,
        }
    }

    /// Adds more accounts (after the ones already there; duplicates are ignored).
    /// For an integrator, extends the allow list.
    #[must_use]
    pub fn with_accounts(mut self, more: impl IntoIterator<Item = AccountNumber>) -> Self {
        let list = match &mut self.role {
            Role::Member { accounts } => accounts,
            Role::Integrator { allowed_accounts } => allowed_accounts,
        };
        for id in more {
            if !list.contains(&id) {
                list.push(id);
            }
        }
        self
    }

    /// Marks the user as elevated: allowed to start the RealTime account event stream.
    #[must_use]
    pub fn elevated(mut self) -> Self {
        self.elevated = true;
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The user's role.
    pub fn role(&self) -> &Role {
        &self.role
    }

    /// Whether the user may start the RealTime account event stream.
    pub fn is_elevated(&self) -> bool {
        self.elevated
    }

    /// Whether this is an integrator.
    pub fn is_integrator(&self) -> bool {
        matches!(self.role, Role::Integrator { .. })
    }

    /// The accounts of a member (home first), or the allow list of an integrator.
    pub fn accounts(&self) -> &[AccountNumber] {
        match &self.role {
            Role::Member { accounts } => accounts,
            Role::Integrator { allowed_accounts } => allowed_accounts,
        }
    }

    /// The home account of a member; `None` for an integrator.
    pub fn home_account(&self) -> Option<AccountNumber> {
        match &self.role {
            Role::Member { accounts } => accounts.first().copied(),
            Role::Integrator { .. } => None,
        }
    }

    /// A one-line human description for banners: "accounts 2001, 2002 (home 2001), elevated".
    pub fn summary(&self) -> String {
        let join = |ids: &[AccountNumber]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let what = match self.role() {
            Role::Member { accounts } if accounts.len() == 1 => format!("account {}", accounts[0]),
            Role::Member { accounts } => {
                format!("accounts {} (home {})", join(accounts), self.home_account().unwrap_or_default())
            }
            Role::Integrator { allowed_accounts } => format!("integrator, allowed accounts {}", join(allowed_accounts)),
        };
        if self.is_elevated() { format!("{what}, elevated") } else { what }
    }

    /// The account a Basic request without `account_id` runs under: the home account of a
    /// single-account member, and the **last** account of a multi-account member. SPEC §1 says
    /// the server "silently picks one"; picking the last one makes the pick visibly differ from
    /// the home account in tests. `None` for an integrator.
    pub fn silent_pick(&self) -> Option<AccountNumber> {
        match &self.role {
            Role::Member { accounts } => accounts.last().copied(),
            Role::Integrator { .. } => None,
        }
    }

    /// Whether the user may act on `account`.
    pub fn may_use(&self, account: AccountNumber) -> bool {
        self.accounts().contains(&account)
    }

    pub(crate) fn password_matches(&self, password: &str) -> bool {
        self.password == password
    }
}

/// The set of users, keyed by user name.
///
/// [`Directory::default`] is [`Directory::demo`]: the users the demo and the docs rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    users: BTreeMap<String, User>,
}

impl Default for Directory {
    fn default() -> Self {
        Self::demo()
    }
}

impl Directory {
    /// A directory with no users.
    pub fn empty() -> Self {
        Self { users: BTreeMap::new() }
    }

    /// The default users:
    ///
    /// | user | password | kind | accounts |
    /// |---|---|---|---|
    /// | `alice` | `alice-password` | member | 1001 |
    /// | `bob` | `bob-password` | member, elevated | 2001 (home), 2002, 2003 |
    /// | `integrator` | `integrator-password` | integrator | allowed: 1001, 2002 |
    pub fn demo() -> Self {
        Self::empty()
            .with(User::member("alice", "alice-password", 1001))
            .with(User::member("bob", "bob-password", 2001).with_accounts([2002, 2003]).elevated())
            .with(User::integrator("integrator", "integrator-password", [1001, 2002]))
    }

    /// Adds (or replaces) a user, builder style.
    #[must_use]
    pub fn with(mut self, user: User) -> Self {
        self.insert(user);
        self
    }

    /// Adds a user, returning the one it replaced (same user name), if any.
    pub fn insert(&mut self, user: User) -> Option<User> {
        self.users.insert(user.username.clone(), user)
    }

    /// Removes a user by name.
    pub fn remove(&mut self, username: &str) -> Option<User> {
        self.users.remove(username)
    }

    /// Looks a user up by name.
    pub fn get(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }

    /// The users, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Checks a user name and password; `None` for an unknown user or a wrong password.
    pub(crate) fn authenticate(&self, username: &str, password: &str) -> Option<&User> {
        self.get(username).filter(|u| u.password_matches(password))
    }

    /// Reads a directory from JSON text. The format (a bare array is accepted too):
    ///
    /// ```json
    /// {"users": [
    ///   {"username": "alice", "password": "alice-password", "accounts": [1001]},
    ///   {"username": "bob", "password": "bob-password", "accounts": [2001, 2002], "elevated": true},
    ///   {"username": "integrator", "password": "integrator-password",
    ///    "integrator": true, "accounts": [1001, 2002]}
    /// ]}
    /// ```
    ///
    /// For a member, `accounts` must not be empty and its first entry is the home account; for
    /// an integrator it is the allow list. Unknown fields and duplicate user names are errors.
    pub fn from_json(text: &str) -> Result<Self, UsersFileError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum File {
            Wrapped { users: Vec<Entry> },
            Bare(Vec<Entry>),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            username: String,
            password: String,
            #[serde(default)]
            accounts: Vec<AccountNumber>,
            #[serde(default)]
            integrator: bool,
            #[serde(default)]
            elevated: bool,
        }

        let entries = match serde_json::from_str::<File>(text).map_err(UsersFileError::Json)? {
            File::Wrapped { users } | File::Bare(users) => users,
        };
        let mut directory = Self::empty();
        for entry in entries {
            if entry.username.is_empty() {
                return Err(UsersFileError::Invalid("a user has an empty username".into()));
            }
            let mut user = if entry.integrator {
                User::integrator(entry.username, entry.password, entry.accounts)
            } else {
                let mut accounts = entry.accounts.into_iter();
                let Some(home) = accounts.next() else {
                    return Err(UsersFileError::Invalid(format!("member {:?} has no accounts", entry.username)));
                };
                User::member(entry.username, entry.password, home).with_accounts(accounts)
            };
            user.elevated = entry.elevated;
            let name = user.username.clone();
            if directory.insert(user).is_some() {
                return Err(UsersFileError::Invalid(format!("user {name:?} appears twice")));
            }
        }
        Ok(directory)
    }

    /// Reads a directory from a JSON file (see [`from_json`](Self::from_json)).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, UsersFileError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| UsersFileError::Io { path: path.to_owned(), source })?;
        Self::from_json(&text)
    }
}

/// Why a users file could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum UsersFileError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not JSON of the expected shape.
    Json(serde_json::Error),
    /// The JSON is well-formed but describes an impossible directory.
    Invalid(String),
}

impl fmt::Display for UsersFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Json(e) => write!(f, "users file is not valid: {e}"),
            Self::Invalid(why) => write!(f, "users file is not valid: {why}"),
        }
    }
}

impl std::error::Error for UsersFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Json(e) => Some(e),
            Self::Invalid(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_directory_matches_the_documented_users() {
        let d = Directory::demo();
        let alice = d.get("alice").expect("alice");
        assert_eq!(alice.accounts(), &[1001]);
        assert_eq!(alice.silent_pick(), Some(1001));
        let bob = d.get("bob").expect("bob");
        assert_eq!(bob.home_account(), Some(2001));
        assert_eq!(bob.silent_pick(), Some(2003));
        assert!(bob.is_elevated());
        let integrator = d.get("integrator").expect("integrator");
        assert!(integrator.is_integrator());
        assert_eq!(integrator.accounts(), &[1001, 2002]);
        assert_eq!(integrator.home_account(), None);
    }

    #[test]
    fn json_round_trip_of_every_kind() {
        let d = Directory::from_json(
            r#"{"users":[
                {"username":"a","password":"p","accounts":[1]},
                {"username":"m","password":"p","accounts":[5,6],"elevated":true},
                {"username":"i","password":"p","integrator":true,"accounts":[1,6]}]}"#,
        )
        .expect("valid");
        assert_eq!(d.len(), 3);
        assert_eq!(d.get("m").map(User::accounts), Some(&[5, 6][..]));
        assert!(d.get("m").is_some_and(User::is_elevated));
        assert!(d.get("i").is_some_and(User::is_integrator));
        let bare = Directory::from_json(r#"[{"username":"a","password":"p","accounts":[1]}]"#);
        assert_eq!(bare.map(|d| d.len()).ok(), Some(1));
    }

    #[test]
    fn json_rejects_members_without_accounts_duplicates_and_typos() {
        for bad in [
            r#"[{"username":"a","password":"p"}]"#,
            r#"[{"username":"a","password":"p","accounts":[1]},{"username":"a","password":"q","accounts":[2]}]"#,
            r#"[{"username":"a","password":"p","acounts":[1]}]"#,
            r#"[{"username":"","password":"p","accounts":[1]}]"#,
            "not json",
        ] {
            assert!(Directory::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let text = format!("{:?}", User::member("a", "hunter2", 1));
        assert!(!text.contains("hunter2"));
    }
}
