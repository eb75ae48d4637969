//! The coordinator's decisions, one behaviour each: who drives and who waits, the account
//! switch race, stale-or-fresh, the one resend after a 401, the store lock, a dropped drive.
//! Callers are interleaved by hand, against a fake server and a store that is a variable.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;

use auth_core::{
    AccountId, AccountSwitch, AuthError, Call, ConfigBuilder, Coordinator, Drive, DriveStep, Exchange, Ledger,
    MAX_WAIT, Ready, Receipt, Refusal, STORE_RETRY, Session, Settled, Snapshot, Step, TransientCause,
};
use http::{Response, StatusCode, Uri};
use support::{BASE, bearer_config, start};
use time::{Duration, OffsetDateTime};

/// A coordinator, the clock, a store and the fake server's books.
struct Shared {
    coordinator: Coordinator,
    now: OffsetDateTime,
    store: Option<Snapshot>,
    uri: Uri,
    /// Answers for the next auth requests, in order; a one-hour grant when empty.
    script: VecDeque<Response<Vec<u8>>>,
    /// Every auth exchange sent.
    sent: Vec<Exchange>,
    issued: u32,
}

impl Shared {
    fn new(builder: ConfigBuilder) -> Shared {
        let session = Session::new(builder.build().unwrap(), 7, start()).unwrap();
        Shared {
            coordinator: Coordinator::new(session, true),
            now: start(),
            store: None,
            uri: format!("{BASE}/reports/call-data").parse().unwrap(),
            script: VecDeque::new(),
            sent: Vec::new(),
            issued: 0,
        }
    }

    /// Logged in by one request (a one-hour token, `tok-1-secret`).
    fn logged_in(builder: ConfigBuilder) -> Shared {
        let mut shared = Shared::new(builder);
        let mut call = shared.request(None);
        assert!(matches!(shared.finish(&mut call), Ok(Ready::Response)));
        shared
    }

    fn request(&self, expect: Option<u64>) -> Call {
        Call::request(self.uri.clone(), true, expect.map(AccountId))
    }

    fn poll(&mut self, call: &mut Call) -> Step {
        self.coordinator.poll_call(call, self.now)
    }

    fn advance(&mut self, seconds: i64) {
        self.now += Duration::seconds(seconds);
    }

    /// The next answer of the fake server.
    fn answer(&mut self) -> Response<Vec<u8>> {
        self.script.pop_front().unwrap_or_else(|| {
            self.issued += 1;
            let n = self.issued;
            let body = format!(
                r#"{{"success":true,"token":"tok-{n}-secret","tokenLifetime":3600,"refreshToken":"ref-{n}-secret"}}"#
            );
            Response::new(body.into_bytes())
        })
    }

    /// Runs a drive to its end, the store always lockable, the server answering from the script.
    fn run(&mut self, mut drive: Drive) {
        if self.send(&mut drive).is_some() {
            self.land(drive);
        }
    }

    /// Answers a drive's request, sent by [`send`](Self::send), and runs the drive to its end.
    fn land(&mut self, mut drive: Drive) {
        let answer = self.answer();
        self.coordinator.handle_auth_response(&mut drive, Some(&answer), self.now);
        assert!(self.send(&mut drive).is_none(), "one exchange per drive");
    }

    /// The drive's next step, with the store's lock taken and the store loaded on the way.
    fn next_step(&mut self, drive: &mut Drive) -> DriveStep {
        loop {
            match self.coordinator.poll_drive(drive, self.now) {
                DriveStep::LockStore(_) => assert!(!self.coordinator.handle_store_lock(drive, true)),
                DriveStep::LoadStore => self.coordinator.handle_store_load(drive, Ok(self.store.clone()), self.now),
                step => return step,
            }
        }
    }

    /// Runs a drive up to its auth request, sent and not answered yet (`None`: the drive ended
    /// without one).
    fn send(&mut self, drive: &mut Drive) -> Option<Exchange> {
        loop {
            match self.next_step(drive) {
                DriveStep::LockStore(_) | DriveStep::LoadStore => {}
                DriveStep::Save(snapshot) => self.store = Some(snapshot),
                DriveStep::Send(request) => {
                    self.sent.push(request.exchange());
                    return Some(request.exchange());
                }
                DriveStep::UnlockStore => {}
                DriveStep::Done => return None,
            }
        }
    }

    /// Polls `call` to its end: requests are answered 200, drives are run, waits pass.
    fn finish(&mut self, call: &mut Call) -> Result<Ready, AuthError> {
        for _ in 0..20 {
            match self.poll(call) {
                Step::Attach(credential) => {
                    let receipt = credential.attach(&mut http::Request::new(()));
                    self.coordinator.handle_api_response(call, receipt, StatusCode::OK, false, self.now);
                }
                Step::Drive(drive) => self.run(drive),
                Step::Wait(at_most) => self.now += at_most,
                Step::Ready(ready) => return Ok(ready),
                Step::Failed(error) => return Err(error),
            }
        }
        panic!("the call did not finish");
    }

    /// The header of the credential `call` gets now, reported answered with `status`.
    fn attach(&mut self, call: &mut Call, status: StatusCode) -> (String, bool) {
        let Step::Attach(credential) = self.poll(call) else { panic!("expected a credential") };
        let header = credential.header().to_str().unwrap().to_owned();
        let receipt = credential.attach(&mut http::Request::new(()));
        let retry = receipt.is_retry();
        self.coordinator.handle_api_response(call, receipt, status, false, self.now);
        (header, retry)
    }
}

fn masquerade() -> ConfigBuilder {
    bearer_config().account_switch(AccountSwitch::masquerade())
}

/// A masquerade answered without tokens: the token is kept, bound to the new account.
fn masquerade_ok() -> Response<Vec<u8>> {
    Response::new(br#"{"success":true}"#.to_vec())
}

// ----- the account switch race (SPEC.md §4) ------------------------------------------------

#[test]
fn of_two_concurrent_switches_the_later_wins_and_the_earlier_caller_is_told() {
    for (builder, answer) in [(bearer_config(), None), (masquerade(), Some(masquerade_ok()))] {
        let mut shared = Shared::logged_in(builder);
        shared.script.extend(answer);
        let mut a = shared.coordinator.switch_account(AccountId(2002), shared.now).unwrap();
        let mut b = shared.coordinator.switch_account(AccountId(2003), shared.now).unwrap();
        let Step::Drive(drive) = shared.poll(&mut a) else { panic!("A drives the switch") };
        assert!(matches!(shared.poll(&mut b), Step::Wait(_)), "B waits while A drives");
        shared.run(drive);
        assert!(shared.coordinator.poll_wake(), "the waiters are woken");

        let superseded = AuthError::SwitchSuperseded { requested: AccountId(2002), in_force: Some(AccountId(2003)) };
        assert!(matches!(shared.poll(&mut a), Step::Failed(error) if error == superseded));
        assert!(matches!(shared.poll(&mut b), Step::Ready(Ready::Switched(AccountId(2003)))));
        assert_eq!(shared.sent.len(), 2, "one exchange, straight to the later account: {:?}", shared.sent);

        // A was told; a request A still means for 2002 does not run on 2003.
        let mut next = shared.request(Some(2002));
        let changed = AuthError::AccountChanged { expected: AccountId(2002), in_force: Some(AccountId(2003)) };
        assert!(matches!(shared.poll(&mut next), Step::Failed(error) if error == changed));
        let mut on_2003 = shared.request(Some(2003));
        assert!(matches!(shared.finish(&mut on_2003), Ok(Ready::Response)));
    }
}

#[test]
fn a_switch_that_lands_while_another_runs_supersedes_it() {
    let mut shared = Shared::logged_in(bearer_config());
    let mut a = shared.coordinator.switch_account(AccountId(2002), shared.now).unwrap();
    let Step::Drive(mut drive) = shared.poll(&mut a) else { panic!("A drives its switch") };
    assert_eq!(shared.send(&mut drive), Some(Exchange::Login)); // the login for 2002 is out
    let mut b = shared.coordinator.switch_account(AccountId(2003), shared.now).unwrap();
    shared.land(drive); // the session is on 2002, heading for 2003
    assert_eq!(shared.coordinator.session().account(), Some(AccountId(2002)));
    let Step::Drive(drive) = shared.poll(&mut a) else { panic!("A drives on: the later switch is pending") };
    assert!(matches!(shared.poll(&mut b), Step::Wait(_)));
    shared.run(drive);
    assert!(matches!(
        shared.poll(&mut a),
        Step::Failed(AuthError::SwitchSuperseded { requested: AccountId(2002), in_force: Some(AccountId(2003)) })
    ));
    assert!(matches!(shared.poll(&mut b), Step::Ready(Ready::Switched(AccountId(2003)))));
}

// ----- who drives, who waits ---------------------------------------------------------------

#[test]
fn one_caller_drives_the_login_and_the_others_wait_until_woken() {
    let mut shared = Shared::new(bearer_config());
    let mut calls: Vec<Call> = (0..3).map(|_| shared.request(None)).collect();
    let Step::Drive(drive) = shared.poll(&mut calls[0]) else { panic!("the first caller drives") };
    for call in &mut calls[1..] {
        assert!(matches!(shared.poll(call), Step::Wait(at_most) if at_most <= MAX_WAIT));
    }
    assert!(!shared.coordinator.poll_wake(), "nothing happened yet");
    shared.run(drive);
    assert!(shared.coordinator.poll_wake());
    for call in &mut calls {
        assert_eq!(shared.attach(call, StatusCode::OK).0, "Bearer tok-1-secret");
    }
    assert_eq!(shared.sent, [Exchange::Login]);
}

#[test]
fn a_stale_token_is_used_now_and_refreshed_after_the_request_by_its_caller() {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3300); // in the refresh window, before the cutoff
    let (mut a, mut b) = (shared.request(None), shared.request(None));
    assert_eq!(shared.attach(&mut a, StatusCode::OK).0, "Bearer tok-1-secret", "used as it is");
    assert_eq!(shared.attach(&mut b, StatusCode::OK).0, "Bearer tok-1-secret");
    let Step::Drive(drive) = shared.poll(&mut a) else { panic!("A refreshes after its request") };
    assert!(matches!(shared.poll(&mut b), Step::Ready(Ready::Response)), "B does not wait for it");
    shared.run(drive);
    assert!(matches!(shared.poll(&mut a), Step::Ready(Ready::Response)));
    assert_eq!(shared.sent, [Exchange::Login, Exchange::Refresh]);
}

#[test]
fn a_bearer_token_that_leaves_the_library_is_refreshed_first() {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3300);
    let mut call = Call::bearer_token();
    let Step::Drive(drive) = shared.poll(&mut call) else { panic!("refresh first") };
    shared.run(drive);
    let Step::Ready(Ready::Token(token)) = shared.poll(&mut call) else { panic!("a token") };
    assert_eq!(token.expose_secret(), "tok-2-secret");
}

// ----- the one resend after a 401/403 (SPEC.md §5a) ----------------------------------------

#[test]
fn a_rejected_replayable_request_is_resent_once_with_a_new_token() {
    let mut shared = Shared::logged_in(bearer_config());
    let mut call = shared.request(None);
    assert_eq!(shared.attach(&mut call, StatusCode::UNAUTHORIZED), ("Bearer tok-1-secret".to_owned(), false));
    let Step::Drive(drive) = shared.poll(&mut call) else { panic!("the rejected token is replaced") };
    shared.run(drive);
    assert_eq!(shared.attach(&mut call, StatusCode::UNAUTHORIZED), ("Bearer tok-2-secret".to_owned(), true));
    assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)), "the resend's answer is final");
    assert_eq!(shared.sent, [Exchange::Login, Exchange::Refresh]);
}

#[test]
fn a_rejected_request_that_cannot_be_replayed_is_not_resent() {
    let mut shared = Shared::logged_in(bearer_config());
    let mut call = Call::request(shared.uri.clone(), false, None);
    shared.attach(&mut call, StatusCode::FORBIDDEN);
    assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)));
    let mut next = shared.request(None);
    assert!(matches!(shared.poll(&mut next), Step::Drive(_)), "the next caller replaces the token");
}

// ----- the store's lock (SPEC.md §3a) ------------------------------------------------------

#[test]
fn a_required_drive_whose_store_lock_fails_fails_its_caller() {
    let mut shared = Shared::new(bearer_config());
    let mut call = shared.request(None);
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a login to drive") };
    let wait = shared.coordinator.session().auth_timeout();
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::LockStore(w) if w == wait));
    assert!(shared.coordinator.handle_store_lock(&mut drive, false), "the caller needed it: it fails");
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::Done));
    assert!(!shared.coordinator.is_driving());
}

#[test]
fn a_refresh_of_a_valid_token_whose_store_lock_fails_is_simply_over() {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3300);
    let mut call = shared.request(None);
    shared.attach(&mut call, StatusCode::OK);
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::LockStore(w) if w.is_zero()));
    assert!(!shared.coordinator.handle_store_lock(&mut drive, false), "someone else refreshes: no failure");
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::Done));
    assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)));
    assert_eq!(shared.sent, [Exchange::Login], "nothing was sent");
}

#[test]
fn after_a_failed_store_lock_a_refresh_nobody_needs_leaves_the_store_alone_for_a_while() {
    // A Redis that is down: without a pause, every answered request would try it again (and
    // wait for it, when it hangs).
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3300);
    let mut call = shared.request(None);
    shared.attach(&mut call, StatusCode::OK);
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::LockStore(_)));
    assert!(!shared.coordinator.handle_store_lock(&mut drive, false));
    assert!(matches!(shared.coordinator.poll_drive(&mut drive, shared.now), DriveStep::Done));
    assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)));
    let mut next = shared.request(None);
    shared.attach(&mut next, StatusCode::OK);
    assert!(matches!(shared.poll(&mut next), Step::Ready(Ready::Response)), "no second attempt at once");
    shared.now += time::Duration::try_from(STORE_RETRY).unwrap();
    let mut later = shared.request(None);
    shared.attach(&mut later, StatusCode::OK);
    assert!(matches!(shared.poll(&mut later), Step::Drive(_)), "then the store is tried again");
}

#[test]
fn a_drive_dropped_after_its_send_fails_the_exchange_and_still_unlocks() {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3300);
    let mut call = Call::bearer_token();
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    let mut steps = Vec::new();
    loop {
        match shared.next_step(&mut drive) {
            DriveStep::Save(snapshot) => {
                assert!(!snapshot.has_refresh_token(), "the spent state is saved before the send");
                shared.store = Some(snapshot);
                steps.push("save");
            }
            DriveStep::Send(_) => {
                steps.push("send");
                shared.coordinator.handle_drive_dropped(&mut drive, shared.now); // the driver is gone
            }
            DriveStep::UnlockStore => steps.push("unlock"),
            DriveStep::Done => break,
            step => panic!("unexpected {step:?}"),
        }
    }
    assert_eq!(steps, ["save", "send", "unlock"]);
    assert!(shared.coordinator.poll_wake() && !shared.coordinator.is_driving());
    // The exchange failed as far as anyone knows: a backoff, and the token still serves.
    let mut next = shared.request(None);
    assert_eq!(shared.attach(&mut next, StatusCode::OK).0, "Bearer tok-1-secret");
    let Step::Ready(Ready::Token(token)) = shared.poll(&mut call) else { panic!("the valid token") };
    assert_eq!(token.expose_secret(), "tok-1-secret");
    // The spent refresh token is never sent again: after the backoff, a login.
    shared.advance(60);
    let mut later = Call::bearer_token();
    assert!(matches!(shared.finish(&mut later), Ok(Ready::Token(_))));
    assert_eq!(shared.sent, [Exchange::Login, Exchange::Login]);
}

#[test]
fn a_drive_dropped_before_its_send_gives_its_request_up_at_once() {
    // Found by the model: the request was prepared and its spent state handed out to save,
    // then the driver went away. Nobody will ever send it, so nobody may wait for its answer.
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3600); // expired: callers need the refresh
    let mut a = shared.request(None);
    let Step::Drive(mut drive) = shared.poll(&mut a) else { panic!("A drives the refresh") };
    let mut steps = Vec::new();
    loop {
        match shared.next_step(&mut drive) {
            DriveStep::Save(snapshot) if steps.is_empty() => {
                shared.store = Some(snapshot);
                steps.push("save");
                shared.coordinator.handle_drive_dropped(&mut drive, shared.now); // before the send
            }
            DriveStep::Send(request) => panic!("a dropped drive sends {request:?}"),
            DriveStep::UnlockStore => steps.push("unlock"),
            DriveStep::Done => break,
            step => panic!("unexpected {step:?}"),
        }
    }
    assert_eq!(steps, ["save", "unlock"]);
    assert!(!shared.store.as_ref().unwrap().has_refresh_token(), "the spent state is what the store holds");
    let mut b = shared.request(None);
    match shared.poll(&mut b) {
        Step::Failed(AuthError::Unavailable { cause: TransientCause::Transport, .. }) => {}
        other => panic!("B must learn the exchange failed, not wait for it: {other:?}"),
    }
    shared.advance(2); // past the backoff
    let mut c = shared.request(None);
    assert!(matches!(shared.finish(&mut c), Ok(Ready::Response)));
    assert_eq!(shared.sent, [Exchange::Login, Exchange::Login], "the spent refresh token is never sent");
}

// ----- a store shared by hosts: fencing (a save refused because another host overtook) ------

/// Logged in (`tok-1`), an hour later: the caller asking for a bearer token drives the refresh,
/// which is out (its spent state saved).
fn refresh_out() -> (Shared, Call, Drive) {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3600);
    let mut call = Call::bearer_token();
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    assert_eq!(shared.send(&mut drive), Some(Exchange::Refresh));
    (shared, call, drive)
}

impl Shared {
    /// The server answers the drive's refresh; the new pair is handed out to save (not saved).
    fn answered_until_save(&mut self, drive: &mut Drive) -> Snapshot {
        let answer = self.answer();
        self.coordinator.handle_auth_response(drive, Some(&answer), self.now);
        let DriveStep::Save(pair) = self.next_step(drive) else { panic!("the new pair to save") };
        pair
    }
}

/// Another host sharing `store`, whose server issues `tok-11`, `tok-12`, ... at `now`.
fn other_host(store: Option<Snapshot>, now: OffsetDateTime) -> Shared {
    let mut other = Shared::new(bearer_config());
    (other.store, other.now, other.issued) = (store, now, 10);
    other
}

#[test]
fn a_refresh_whose_spent_state_the_store_refuses_is_never_sent_and_the_store_wins() {
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3600); // expired: the caller needs the refresh
    let mut call = shared.request(None);
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    let DriveStep::Save(spent) = shared.next_step(&mut drive) else { panic!("the spent state first") };
    assert!(!spent.has_refresh_token());
    // Our lease ran out before that save landed: another host took the lock, refreshed with
    // the same refresh token and stored its new pair. The store refuses our save.
    let mut other = other_host(shared.store.clone(), shared.now);
    let mut its_call = other.request(None);
    assert!(matches!(other.finish(&mut its_call), Ok(Ready::Response)));
    assert_eq!(other.sent, [Exchange::Refresh]);
    shared.store = other.store.clone();
    shared.coordinator.handle_store_refused(&mut drive, Refusal::Fenced, shared.now);
    assert_eq!(withdrawn(&mut shared, &mut drive), ["unlock"]);
    assert_eq!(shared.sent, [Exchange::Login], "the refresh token was presented once, by the other host");
    assert_eq!(shared.attach(&mut call, StatusCode::OK).0, "Bearer tok-11-secret", "the stored pair is adopted");
}

/// The rest of a drive whose spent state the store refused or did not record: the refresh is
/// withdrawn unsent and nothing of ours overwrites the store. The steps taken, by name.
fn withdrawn(shared: &mut Shared, drive: &mut Drive) -> Vec<&'static str> {
    let mut steps = Vec::new();
    loop {
        match shared.next_step(drive) {
            DriveStep::Send(request) => panic!("a refresh whose spend may not be recorded is sent: {request:?}"),
            DriveStep::Save(_) => panic!("nothing of ours may overwrite what the store holds"),
            DriveStep::UnlockStore => steps.push("unlock"),
            DriveStep::Done => return steps,
            step => panic!("unexpected {step:?}"),
        }
    }
}

#[test]
fn a_spent_state_saved_with_its_answer_lost_is_never_sent_and_the_store_wins() {
    // Paused in the middle of the spent state's save (the fleet test's SIGSTOP): the write
    // landed, its answer was lost (a socket read with a timeout fails with EINTR after
    // SIGCONT). The store cannot say whether it recorded the spend: the request is withdrawn.
    let mut shared = Shared::logged_in(bearer_config());
    shared.advance(3600);
    let mut call = shared.request(None);
    let Step::Drive(mut drive) = shared.poll(&mut call) else { panic!("a refresh to drive") };
    let DriveStep::Save(spent) = shared.next_step(&mut drive) else { panic!("the spent state first") };
    shared.store = Some(spent);
    // Meanwhile our lease ran out; another host found the spend recorded and, as nobody can
    // tell whether that refresh left, logged in.
    let mut other = other_host(shared.store.clone(), shared.now);
    let mut its_call = other.request(None);
    assert!(matches!(other.finish(&mut its_call), Ok(Ready::Response)));
    assert_eq!(other.sent, [Exchange::Login]);
    shared.store = other.store.clone();
    shared.coordinator.handle_store_refused(&mut drive, Refusal::Unrecorded, shared.now);
    assert_eq!(withdrawn(&mut shared, &mut drive), ["unlock"]);
    assert_eq!(shared.sent, [Exchange::Login], "the spent refresh token never left");
    assert_eq!(shared.attach(&mut call, StatusCode::OK).0, "Bearer tok-11-secret", "the stored session is adopted");
}

#[test]
fn new_tokens_the_store_refuses_give_way_to_the_session_it_holds() {
    let (mut shared, mut call, mut drive) = refresh_out();
    // Paused past our lease while the refresh was out: another host found the refresh token
    // spent with no answer recorded, judged the pair lost and logged in (the same generation).
    let mut other = other_host(shared.store.clone(), shared.now);
    let mut its_call = other.request(None);
    assert!(matches!(other.finish(&mut its_call), Ok(Ready::Response)));
    assert_eq!(other.sent, [Exchange::Login]);
    let ours = shared.answered_until_save(&mut drive);
    assert_eq!(ours.generation(), other.store.as_ref().unwrap().generation(), "a tie");
    shared.store = other.store.clone();
    shared.coordinator.handle_store_refused(&mut drive, Refusal::Fenced, shared.now);
    assert!(matches!(shared.next_step(&mut drive), DriveStep::UnlockStore));
    assert!(matches!(shared.next_step(&mut drive), DriveStep::Done));
    let Step::Ready(Ready::Token(token)) = shared.poll(&mut call) else { panic!("a token") };
    assert_eq!(token.expose_secret(), "tok-11-secret", "the fleet converges on the stored session");
}

#[test]
fn new_tokens_the_store_could_not_record_stay_in_memory() {
    let (mut shared, mut call, mut drive) = refresh_out();
    shared.answered_until_save(&mut drive);
    // The store did not answer: the pair that arrived is all there is, and it is kept.
    shared.coordinator.handle_store_refused(&mut drive, Refusal::Unrecorded, shared.now);
    assert!(matches!(shared.next_step(&mut drive), DriveStep::UnlockStore), "no re-load: nothing to learn");
    assert!(matches!(shared.next_step(&mut drive), DriveStep::Done));
    let Step::Ready(Ready::Token(token)) = shared.poll(&mut call) else { panic!("a token") };
    assert_eq!(token.expose_secret(), "tok-2-secret");
}

#[test]
fn after_a_refused_write_a_store_that_holds_no_session_leaves_none_in_memory() {
    // Another host took the lock after our lease ran out and has not written yet (or the
    // session was logged out): the pair we got is not the fleet's, and holding on to it would
    // later overwrite the one that host saves.
    let (mut shared, mut call, mut drive) = refresh_out();
    shared.answered_until_save(&mut drive);
    shared.store = None;
    shared.coordinator.handle_store_refused(&mut drive, Refusal::Fenced, shared.now);
    assert!(matches!(shared.next_step(&mut drive), DriveStep::UnlockStore));
    assert!(matches!(shared.next_step(&mut drive), DriveStep::Done));
    assert!(shared.coordinator.session().snapshot().is_none(), "memory is what the store holds");
    // The caller's token comes from the next exchange: a login, the fleet's new session.
    assert!(matches!(shared.finish(&mut call), Ok(Ready::Token(_))));
    assert_eq!(shared.sent, [Exchange::Login, Exchange::Refresh, Exchange::Login]);
}

// ----- answers settled without the coordinator (its lock) ----------------------------------

impl Shared {
    /// The credential `call` gets now, attached; its receipt.
    fn sent_receipt(&mut self, call: &mut Call) -> Receipt {
        let Step::Attach(credential) = self.poll(call) else { panic!("expected a credential") };
        credential.attach(&mut http::Request::new(()))
    }

    fn ledger(&self) -> Arc<Ledger> {
        Arc::clone(self.coordinator.ledger())
    }
}

#[test]
fn a_plain_answer_to_a_fresh_tokens_request_needs_no_coordinator() {
    let mut shared = Shared::logged_in(bearer_config());
    let _ = shared.coordinator.poll_wake(); // the login's end
    let ledger = shared.ledger();
    for (status, redirected) in [(StatusCode::OK, false), (StatusCode::NOT_FOUND, false), (StatusCode::FORBIDDEN, true)]
    {
        let mut call = shared.request(None);
        let receipt = shared.sent_receipt(&mut call);
        assert_eq!(ledger.settle(&mut call, receipt, status, redirected), Ok(Settled::Quiet), "{status}");
        assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)), "the call is done");
    }
    assert!(!shared.coordinator.poll_wake(), "nobody to wake");
}

#[test]
fn a_rejection_or_a_stale_tokens_answer_goes_to_the_coordinator() {
    let mut shared = Shared::logged_in(bearer_config());
    let ledger = shared.ledger();
    let mut call = shared.request(None);
    let receipt = shared.sent_receipt(&mut call);
    let Err(receipt) = ledger.settle(&mut call, receipt, StatusCode::UNAUTHORIZED, false) else {
        panic!("a 401 may earn the resend: the coordinator must hear it")
    };
    shared.coordinator.handle_api_response(&mut call, receipt, StatusCode::UNAUTHORIZED, false, shared.now);
    assert!(matches!(shared.poll(&mut call), Step::Drive(_)), "the rejected token is replaced first");

    let mut shared = Shared::logged_in(bearer_config());
    let ledger = shared.ledger();
    shared.advance(3300); // stale: the caller drives the refresh after its answer
    let mut call = shared.request(None);
    let receipt = shared.sent_receipt(&mut call);
    let Err(receipt) = ledger.settle(&mut call, receipt, StatusCode::OK, false) else {
        panic!("a stale token's caller drives its refresh: the coordinator must hear the answer")
    };
    shared.coordinator.handle_api_response(&mut call, receipt, StatusCode::OK, false, shared.now);
    assert!(matches!(shared.poll(&mut call), Step::Drive(_)));
}

#[test]
fn a_receipt_is_settled_only_in_its_own_sessions_books() {
    let mut shared = Shared::logged_in(bearer_config());
    let other = Shared::logged_in(bearer_config());
    let mut call = shared.request(None);
    let receipt = shared.sent_receipt(&mut call);
    let Err(receipt) = other.ledger().settle(&mut call, receipt, StatusCode::OK, false) else {
        panic!("settled in another session's books")
    };
    let Err(receipt) = other.ledger().release(receipt) else { panic!("released in another session's books") };
    assert_eq!(shared.ledger().settle(&mut call, receipt, StatusCode::OK, false), Ok(Settled::Quiet));
}

#[test]
fn a_masquerade_waits_for_settled_credentials_and_their_return_wakes_it() {
    let mut shared = Shared::logged_in(masquerade());
    let ledger = shared.ledger();
    let mut request = shared.request(None);
    let receipt = shared.sent_receipt(&mut request); // out, on the old account
    let mut switch = shared.coordinator.switch_account(AccountId(2002), shared.now).unwrap();
    assert!(shared.coordinator.poll_wake());
    assert!(matches!(shared.poll(&mut switch), Step::Wait(_)), "the masquerade waits for the request");
    // Its plain answer comes back without the coordinator, and says someone may wait for it.
    assert_eq!(ledger.settle(&mut request, receipt, StatusCode::OK, false), Ok(Settled::Wake));
    shared.coordinator.handle_return();
    assert!(shared.coordinator.poll_wake(), "the waiters are woken");
    shared.script.push_back(masquerade_ok());
    let Step::Drive(drive) = shared.poll(&mut switch) else { panic!("the masquerade goes now") };
    shared.run(drive);
    assert!(matches!(shared.poll(&mut switch), Step::Ready(Ready::Switched(AccountId(2002)))));
    // Switched: settling is quiet again.
    let mut next = shared.request(Some(2002));
    let receipt = shared.sent_receipt(&mut next);
    assert_eq!(ledger.release(receipt), Ok(Settled::Quiet));
}

#[test]
fn a_basic_answer_is_always_settled_and_its_retry_is_never_asked() {
    let config = auth_core::Config::basic(BASE, "u", auth_core::Password::new("p"));
    let session = Session::new(config.build().unwrap(), 1, start()).unwrap();
    let mut coordinator = Coordinator::new(session, false);
    let ledger = Arc::clone(coordinator.ledger());
    let mut call = Call::request(format!("{BASE}/reports").parse().unwrap(), true, None);
    let Step::Attach(credential) = coordinator.poll_call(&mut call, start()) else { panic!("a credential") };
    let receipt = credential.attach(&mut http::Request::new(()));
    assert!(!receipt.may_retry(), "Basic: no resend, so no copy to keep");
    assert_eq!(ledger.settle(&mut call, receipt, StatusCode::UNAUTHORIZED, false), Ok(Settled::Quiet));
    assert!(matches!(coordinator.poll_call(&mut call, start()), Step::Ready(Ready::Response)));
}

// ----- calls made by the session's gate ----------------------------------------------------

#[test]
fn a_call_made_by_the_gate_is_served_like_any_request_and_resent_once() {
    let mut shared = Shared::logged_in(bearer_config());
    let gate = shared.coordinator.gate();
    let mut call = gate.request(&shared.uri, true, None).unwrap();
    assert!(call.uri().is_none(), "the call keeps no URL");
    assert_eq!(shared.attach(&mut call, StatusCode::UNAUTHORIZED), ("Bearer tok-1-secret".to_owned(), false));
    let Step::Drive(drive) = shared.poll(&mut call) else { panic!("the rejected token is replaced") };
    shared.run(drive);
    assert_eq!(shared.attach(&mut call, StatusCode::OK), ("Bearer tok-2-secret".to_owned(), true));
    assert!(matches!(shared.poll(&mut call), Step::Ready(Ready::Response)));
}

#[test]
fn a_call_made_by_another_sessions_gate_gets_no_credential() {
    let mut shared = Shared::logged_in(bearer_config());
    let other = Shared::logged_in(bearer_config());
    let mut call = other.coordinator.gate().request(&shared.uri, true, None).unwrap();
    assert!(matches!(shared.poll(&mut call), Step::Failed(AuthError::ForeignOrigin)));
    let foreign: Uri = "https://evil.example/reports".parse().unwrap();
    assert!(matches!(shared.coordinator.gate().request(&foreign, true, None), Err(AuthError::ForeignOrigin)));
}
