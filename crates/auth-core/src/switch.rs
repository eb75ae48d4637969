//! An account switch (SPEC.md §4): one state, and one outcome for each caller that asked.
//!
//! ```text
//!            switch_account(a)                      the session is on a
//!   Idle ─────────────────────────▶ Pending(a) ─────────────────────────▶ Idle (ticket a: done)
//!    ▲  ▲                              │  │  switch_account(b): Pending(b) (ticket a: superseded)
//!    │  │ its caller collects it       │  ▼
//!    │  └───────────────── Refused ◀───┘ the server refused a (requests fail until collected)
//!    └── switch_account(the account in force) acknowledges a refusal
//! ```
//!
//! Every call of `switch_account` gets a [`SwitchTicket`]; [`Session::poll_switch`] tells that
//! caller, and only that caller, how *its* switch ended: done, refused, or superseded by a later
//! switch (naming the account now in force). A refusal blocks every request until the caller of
//! the refused switch has collected it, so no request runs on the old account unnoticed.
//!
//! [`Session::poll_switch`]: crate::Session::poll_switch

use time::OffsetDateTime;

use crate::config::AccountId;
use crate::error::AuthError;

/// One caller's account switch, from [`Session::switch_account`](crate::Session::switch_account);
/// its outcome comes from [`Session::poll_switch`](crate::Session::poll_switch). Issued by the
/// session only, and not `Clone`: each outcome belongs to one caller.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "poll the switch's outcome with `Session::poll_switch`"]
pub struct SwitchTicket {
    serial: u64,
    account: AccountId,
}

impl SwitchTicket {
    /// The account this caller asked for.
    pub fn account(&self) -> AccountId {
        self.account
    }
}

/// A switch under way.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) serial: u64,
    pub(crate) account: AccountId,
    pub(crate) requested_at: OffsetDateTime,
    /// Whether a masquerade was already answered 401 (taken once as "the token died").
    pub(crate) masquerade_rejected: bool,
}

/// Where the session's account switching stands.
#[derive(Debug)]
pub(crate) enum SwitchState {
    /// No switch under way, no refusal waiting to be collected.
    Idle,
    /// Heading for another account: no credential is handed out until it is done.
    Pending(Pending),
    /// The server refused the switch of `serial`: requests fail with `error` until its caller
    /// collects it, or another switch starts.
    Refused { serial: u64, error: AuthError },
}

/// The state plus the books: tickets issued, and how the latest switch ended.
#[derive(Debug)]
pub(crate) struct Switches {
    pub(crate) state: SwitchState,
    issued: u64,
    /// The latest switch to end well: its ticket's serial.
    last_done: Option<u64>,
}

/// How one ticket's switch stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Its switch (or a later one that supersedes it) is still under way.
    Running,
    /// Done: the session is on the ticket's account.
    Done,
    /// Refused by the server; collecting it acknowledges the refusal.
    Refused(AuthError),
    /// A later switch took its place and has ended.
    Superseded,
}

impl Switches {
    pub(crate) fn new() -> Self {
        Switches { state: SwitchState::Idle, issued: 0, last_done: None }
    }

    /// The switch under way, if any.
    pub(crate) fn pending(&self) -> Option<&Pending> {
        match &self.state {
            SwitchState::Pending(pending) => Some(pending),
            _ => None,
        }
    }

    pub(crate) fn pending_mut(&mut self) -> Option<&mut Pending> {
        match &mut self.state {
            SwitchState::Pending(pending) => Some(pending),
            _ => None,
        }
    }

    /// The refusal that blocks requests, if any.
    pub(crate) fn refusal(&self) -> Option<&AuthError> {
        match &self.state {
            SwitchState::Refused { error, .. } => Some(error),
            _ => None,
        }
    }

    /// A new ticket for `account`; `start` says whether a switch must run (otherwise the session
    /// is on that account already, and the switch is done at once).
    pub(crate) fn issue(&mut self, account: AccountId, start: Option<OffsetDateTime>) -> SwitchTicket {
        self.issued += 1;
        let serial = self.issued;
        self.state = match start {
            Some(requested_at) => {
                SwitchState::Pending(Pending { serial, account, requested_at, masquerade_rejected: false })
            }
            None => {
                self.last_done = Some(serial);
                SwitchState::Idle
            }
        };
        SwitchTicket { serial, account }
    }

    /// The session is now on `account`: a switch heading there is done.
    pub(crate) fn arrived(&mut self, account: AccountId) {
        if let SwitchState::Pending(pending) = &self.state
            && pending.account == account
        {
            self.last_done = Some(pending.serial);
            self.state = SwitchState::Idle;
        }
    }

    /// The server refused the switch under way.
    pub(crate) fn refuse(&mut self, error: AuthError) {
        if let SwitchState::Pending(pending) = &self.state {
            self.state = SwitchState::Refused { serial: pending.serial, error };
        }
    }

    /// How `ticket`'s switch stands; a refusal is collected (acknowledged) by its own caller.
    pub(crate) fn standing(&mut self, ticket: &SwitchTicket) -> Standing {
        match &self.state {
            SwitchState::Pending(_) => Standing::Running,
            SwitchState::Refused { serial, error } if *serial == ticket.serial => {
                let error = error.clone();
                self.state = SwitchState::Idle;
                Standing::Refused(error)
            }
            _ if self.last_done == Some(ticket.serial) => Standing::Done,
            _ => Standing::Superseded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Option<OffsetDateTime> {
        Some(OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn a_switch_superseded_by_a_later_one_is_told_so_after_the_later_one_ends() {
        let mut switches = Switches::new();
        let first = switches.issue(AccountId(2002), at());
        let second = switches.issue(AccountId(2003), at());
        assert_eq!(switches.standing(&first), Standing::Running, "the later switch still runs");
        switches.arrived(AccountId(2002)); // not where the session is heading: changes nothing
        assert_eq!(switches.standing(&second), Standing::Running);
        switches.arrived(AccountId(2003));
        assert_eq!(switches.standing(&first), Standing::Superseded);
        assert_eq!(switches.standing(&second), Standing::Done);
    }

    #[test]
    fn a_refusal_blocks_until_its_own_caller_collects_it() {
        let mut switches = Switches::new();
        let ticket = switches.issue(AccountId(7), at());
        switches.refuse(AuthError::PasswordRequired);
        let other = SwitchTicket { serial: 99, account: AccountId(8) };
        assert_eq!(switches.standing(&other), Standing::Superseded);
        assert!(switches.refusal().is_some(), "another caller does not collect it");
        assert_eq!(switches.standing(&ticket), Standing::Refused(AuthError::PasswordRequired));
        assert!(switches.refusal().is_none());
    }

    #[test]
    fn a_switch_to_the_account_in_force_is_done_at_once() {
        let mut switches = Switches::new();
        let ticket = switches.issue(AccountId(7), None);
        assert_eq!(switches.standing(&ticket), Standing::Done);
    }
}
