//! Scenario tests: the session against a simulated server, time moved by hand. Each test
//! states one behaviour of SPEC.md (section in the comment).

mod support;

use auth_core::{
    AccountId, AccountSwitch, ApiVerdict, AuthError, Authorization, Config, Event, Exchange, Now, Password,
    RefreshPolicy, Session, TokenState, TransientCause,
};
use http::StatusCode;
use support::{BASE, Reply, Sim, bearer_config, start};
use time::Duration;

// ----- §2 login ----------------------------------------------------------------------------

#[test]
fn first_request_waits_for_one_login() {
    let mut sim = Sim::bearer();
    assert!(sim.is_pending());
    let login = sim.emit().expect("a login");
    assert_eq!(login.exchange(), Exchange::Login);
    assert!(sim.is_pending(), "callers wait while the login runs");
    assert!(sim.session.poll_transmit(sim.now).is_none(), "single flight: no second login");
    sim.answer(login, Reply::Grant { lifetime: 3600 });
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn login_sends_json_credentials_to_the_login_endpoint() {
    let mut sim = Sim::logged_in();
    let seen = &sim.seen[0];
    assert_eq!(seen.uri.to_string(), format!("{BASE}/auth/login"));
    assert_eq!(seen.body, serde_json::json!({"username": "alice", "password": support::PASSWORD}));
    assert!(sim.header().starts_with("Bearer "));
}

#[test]
fn a_pinned_account_is_sent_with_login() {
    let mut sim = Sim::with(bearer_config().account(AccountId(2002)));
    sim.login();
    assert_eq!(sim.seen[0].body["account_id"], 2002);
    assert_eq!(sim.session.account(), Some(AccountId(2002)));
}

#[test]
fn a_rejected_login_is_final() {
    let mut sim = Sim::bearer();
    sim.script([Reply::Status(401, r#"{"success":false,"error":"invalid_credentials"}"#)]);
    assert!(sim.is_pending());
    assert_eq!(sim.drive(), Some(Exchange::Login));
    let err = sim.authorize().unwrap_err();
    assert!(matches!(err, AuthError::CredentialsRejected(ref e) if e.code() == Some("invalid_credentials")));
    assert!(!err.is_transient());
    sim.advance(86_400);
    assert_eq!(sim.drive(), None, "a rejected login is never retried automatically");
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn success_false_with_status_200_is_a_rejection() {
    let mut sim = Sim::bearer();
    sim.script([Reply::Status(200, r#"{"success":false,"message":"nope"}"#)]);
    let _ = sim.authorize();
    sim.drive();
    assert!(matches!(sim.authorize(), Err(AuthError::CredentialsRejected(_))));
}

#[test]
fn auth_only_verifies_credentials_without_a_session() {
    let config = bearer_config().build().unwrap();
    let request = auth_core::verify::request(&config).unwrap();
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["auth_only"], 1);
    let ok = http::Response::new(br#"{"success":true}"#.to_vec());
    assert_eq!(auth_core::verify::handle_response(&config, &ok, start()), Ok(()));
    let no = http::Response::builder().status(401).body(br#"{"success":false}"#.to_vec()).unwrap();
    assert!(matches!(
        auth_core::verify::handle_response(&config, &no, start()),
        Err(AuthError::CredentialsRejected(_))
    ));
    let down = http::Response::builder().status(503).body(Vec::new()).unwrap();
    assert!(auth_core::verify::handle_response(&config, &down, start()).unwrap_err().is_transient());
}

// ----- §3 refresh --------------------------------------------------------------------------

#[test]
fn stale_token_is_still_attached_while_refresh_runs() {
    let mut sim = Sim::logged_in();
    sim.advance(3600 - 300);
    assert_eq!(sim.session.bearer().unwrap().token_state(sim.now), Some(TokenState::Stale));
    assert_eq!(sim.header(), "Bearer tok-1-secret");
    let refresh = sim.emit().expect("a refresh");
    assert_eq!(refresh.exchange(), Exchange::Refresh);
    assert_eq!(sim.seen[1].body, serde_json::json!({"refresh_token": "ref-1-secret"}));
    assert_eq!(sim.header(), "Bearer tok-1-secret", "still served while the refresh runs");
    assert!(sim.session.poll_transmit(sim.now).is_none(), "one refresh at a time");
    sim.answer(refresh, Reply::Grant { lifetime: 3600 });
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn fresh_token_triggers_no_refresh() {
    let mut sim = Sim::logged_in();
    sim.advance(3000);
    assert_eq!(sim.header(), "Bearer tok-1-secret");
    assert_eq!(sim.drive(), None);
}

#[test]
fn expired_token_is_never_attached() {
    let mut sim = Sim::logged_in();
    sim.advance(3591);
    assert!(sim.is_pending(), "past the cutoff callers wait");
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn expiry_is_measured_from_when_the_request_was_sent() {
    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    let login = sim.emit().unwrap();
    sim.advance(20); // the answer takes 20 s to arrive
    sim.answer(login, Reply::Grant { lifetime: 3600 });
    // Stale 360 s before send + 3600 s, minus jitter: never later than send + 3240 s.
    let stale_in = sim.session.poll_timeout().unwrap() - support::start();
    assert!(stale_in <= Duration::seconds(3240) && stale_in > Duration::seconds(3210), "{stale_in}");
}

#[test]
fn server_token_expiration_is_not_trusted() {
    let mut sim = Sim::bearer();
    sim.script([Reply::GrantWithServerClock {
        lifetime: 3600,
        server_offset: Duration::hours(-24),
        refresh_valid_for: Duration::days(29),
    }]);
    sim.login();
    // The server claims the token expired a day ago; our own clock says it is fresh.
    assert_eq!(sim.session.bearer().unwrap().token_state(sim.now), Some(TokenState::Fresh));
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn refresh_token_expiry_is_corrected_by_the_server_clock_offset() {
    // The server runs 24 h ahead. Its refresh token lives 30 min by its own clock, which reads
    // as "tomorrow" if taken at face value.
    let mut sim = Sim::bearer();
    sim.script([Reply::GrantWithServerClock {
        lifetime: 3600,
        server_offset: Duration::hours(24),
        refresh_valid_for: Duration::minutes(30),
    }]);
    sim.login();
    sim.advance(3300);
    assert_eq!(sim.drive(), Some(Exchange::Login), "the refresh token is dead by our estimate: log in");
}

#[test]
fn jitter_comes_from_the_injected_seed() {
    let stale_at = |seed: u64| {
        let config = bearer_config().build().unwrap();
        let mut sim = Sim::around(Session::new(config.clone(), seed, start()).unwrap(), config, start());
        sim.login();
        sim.session.poll_timeout().unwrap()
    };
    assert_eq!(stale_at(1), stale_at(1), "same seed, same instant");
    assert_ne!(stale_at(1), stale_at(2), "different seeds spread clients out");
}

#[test]
fn rotation_replaces_both_tokens_and_is_offered_for_persistence_first() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    let snapshot = sim.persisted().unwrap();
    assert_eq!(snapshot.generation().as_u64(), 2);
    assert!(snapshot.has_refresh_token());
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["token"], "tok-2-secret");
    assert_eq!(json["refresh_token"], "ref-2-secret");
}

#[test]
fn emitting_a_refresh_spends_its_token_in_the_persisted_state() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    let _refresh = sim.emit().unwrap();
    sim.drain_events();
    let snapshot = sim.persisted().unwrap();
    assert!(!snapshot.has_refresh_token(), "a crash now must not resend the spent token");
}

#[test]
fn a_lost_refresh_never_resends_its_token_and_logs_in_instead() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    sim.script([Reply::Lost]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert_eq!(sim.header(), "Bearer tok-1-secret", "the valid token stays in service");
    sim.advance(120);
    assert_eq!(sim.drive(), Some(Exchange::Login), "the spent refresh token is not sent again");
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn rejected_refresh_logs_in_again_with_the_password() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    sim.script([Reply::Status(401, r#"{"success":false,"error":"invalid_refresh_token"}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert_eq!(sim.drive(), Some(Exchange::Login), "at once, no backoff");
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn rejected_refresh_without_password_serves_until_cutoff_then_expires() {
    let sim = Sim::logged_in();
    let snapshot = sim.persisted().unwrap();
    let config = Config::bearer_without_password(BASE, "alice").build().unwrap();
    let session = Session::restore(config.clone(), snapshot, 3, sim.now).unwrap();
    let mut sim = Sim::around(session, config, sim.now);
    sim.advance(3400);
    sim.script([Reply::Status(400, r#"{"success":false}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert_eq!(sim.header(), "Bearer tok-1-secret");
    assert_eq!(sim.drive(), None);
    sim.advance(200);
    assert_eq!(sim.authorize().unwrap_err(), AuthError::SessionExpired);
}

#[test]
fn a_transient_refresh_failure_keeps_the_token_and_backs_off() {
    for reply in [
        Reply::Status(500, "oops"),
        Reply::Status(502, "<html>bad gateway</html>"),
        Reply::Status(200, "garbage"),
        Reply::Status(200, r#"{"success":true,"token":"tok"#),
        Reply::Lost,
    ] {
        let mut sim = Sim::logged_in();
        sim.advance(3400);
        sim.script([reply.clone()]);
        assert_eq!(sim.drive(), Some(Exchange::Refresh), "{reply:?}");
        assert_eq!(sim.header(), "Bearer tok-1-secret", "{reply:?}: a valid token is never discarded");
        assert_eq!(sim.drive(), None, "{reply:?}: backing off");
        let retry_at = sim.session.poll_timeout().unwrap();
        assert!(retry_at > sim.now && retry_at <= sim.now + Duration::seconds(1), "{reply:?}");
        sim.now = retry_at;
        assert_eq!(sim.drive(), Some(Exchange::Login), "{reply:?}");
    }
}

#[test]
fn oversized_body_is_rejected_unparsed_and_keeps_the_token() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    let big: &'static str = Box::leak(format!("{{\"pad\":\"{}\"}}", "x".repeat(70_000)).into_boxed_str());
    sim.script([Reply::Status(200, big)]);
    sim.drive();
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_is_capped() {
    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    let mut delays = Vec::new();
    for _ in 0..10 {
        sim.script([Reply::Status(503, "")]);
        assert_eq!(sim.drive(), Some(Exchange::Login));
        let retry_at = sim.session.poll_timeout().unwrap();
        delays.push((retry_at - sim.now).whole_milliseconds());
        let err = sim.authorize().unwrap_err();
        assert!(matches!(err, AuthError::Unavailable { cause: TransientCause::Server(_), .. }));
        sim.now = retry_at;
    }
    for (i, delay) in delays.iter().enumerate() {
        let base = (1000i128 << i).min(60_000);
        assert!(*delay >= base / 2 && *delay <= base, "attempt {i}: {delay} ms not in [{}, {base}]", base / 2);
    }
}

#[test]
fn retry_after_is_honoured_on_auth_endpoints() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    sim.script([Reply::RetryAfter(429, 120)]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    sim.advance(119);
    assert_eq!(sim.drive(), None, "not before Retry-After");
    sim.advance(1);
    assert!(sim.drive().is_some());

    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    sim.script([Reply::RetryAfter(503, 30)]);
    sim.drive();
    let err = sim.authorize().unwrap_err();
    assert!(matches!(err, AuthError::Unavailable { cause: TransientCause::RateLimited(_), .. }));
    assert_eq!(err.retry_at(), Some(sim.now + Duration::seconds(30)));
}

#[test]
fn tokens_stale_on_arrival_end_in_an_error_not_a_loop() {
    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    sim.script(std::iter::repeat_n(Reply::Grant { lifetime: 0 }, 10));
    let mut requests = 0;
    while sim.drive().is_some() {
        requests += 1;
        assert!(requests <= 3, "bounded");
    }
    assert_eq!(requests, 3);
    let err = sim.authorize().unwrap_err();
    assert!(matches!(err, AuthError::UnusableTokenLifetime { count: 3, lifetime_secs: 0, .. }), "{err:?}");
}

#[test]
fn tiny_lifetimes_refresh_no_more_than_once_per_half_life() {
    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    sim.script(std::iter::repeat_n(Reply::Grant { lifetime: 4 }, 100));
    sim.drive();
    let mut refreshes = 0;
    for _ in 0..40 {
        sim.advance(1);
        while sim.drive().is_some() {
            refreshes += 1;
        }
    }
    assert!(refreshes <= 20, "40 s of 4 s tokens: at most one refresh per 2 s, got {refreshes}");
    assert!(refreshes >= 10, "but the session keeps going: {refreshes}");
}

#[test]
fn an_unanswered_auth_request_is_given_up_after_the_timeout() {
    let mut sim = Sim::bearer();
    let _ = sim.authorize();
    let lost = sim.emit().unwrap();
    sim.advance(29);
    assert!(sim.session.poll_transmit(sim.now).is_none());
    sim.advance(1);
    assert!(matches!(sim.authorize(), Err(AuthError::Unavailable { cause: TransientCause::Timeout, .. })));
    sim.now = sim.session.poll_timeout().unwrap();
    assert_eq!(sim.drive(), Some(Exchange::Login));
    // The late answer to the abandoned request is ignored.
    sim.answer(lost, Reply::Grant { lifetime: 3600 });
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn time_never_moves_backwards() {
    let mut sim = Sim::logged_in();
    sim.advance(3595);
    assert!(sim.is_pending());
    sim.now -= Duration::hours(1);
    assert!(sim.is_pending(), "an earlier clock does not un-expire the token");
}

// ----- §4 account switch -------------------------------------------------------------------

#[test]
fn relogin_switch_logs_in_with_the_new_account() {
    let mut sim = Sim::logged_in();
    let _ticket = sim.switch(2003);
    assert!(sim.is_pending(), "new requests wait for the new account");
    assert_eq!(sim.drive(), Some(Exchange::Login));
    assert_eq!(sim.seen[1].body["account_id"], 2003);
    assert_eq!(sim.session.account(), Some(AccountId(2003)));
    assert!(sim.events.contains(&Event::AccountSwitched(AccountId(2003))));
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn masquerade_switch_waits_for_requests_of_the_old_account() {
    let mut sim = Sim::with(bearer_config().account_switch(AccountSwitch::masquerade()));
    sim.login();
    let in_flight = sim.ready();
    let old_generation = in_flight.generation();
    let _ticket = sim.switch(2002);
    assert!(sim.is_pending());
    assert!(sim.session.poll_transmit(sim.now).is_none(), "an old-account request is still out");
    assert_eq!(sim.api_answer(in_flight, StatusCode::OK), ApiVerdict::Accept);
    sim.script([Reply::Status(200, r#"{"success":true,"account_id":2002}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Masquerade(AccountId(2002))));
    let seen = sim.seen.last().unwrap();
    assert_eq!(seen.uri.path(), "/auth/masquerade");
    assert_eq!(seen.bearer.as_deref(), Some("Bearer tok-1-secret"));
    assert_eq!(seen.body, serde_json::json!({"account_id": 2002}));
    let after = sim.ready();
    assert_eq!(after.header(), "Bearer tok-1-secret", "the token is kept");
    assert!(after.generation() > old_generation, "but a 401 of the old account cannot touch it");
    assert_eq!(sim.session.account(), Some(AccountId(2002)));
}

#[test]
fn masquerade_switch_stops_waiting_after_the_timeout() {
    let mut sim = Sim::with(bearer_config().account_switch(AccountSwitch::masquerade()));
    sim.login();
    let _leaked = sim.ready();
    let _ticket = sim.switch(2002);
    sim.advance(29);
    assert!(sim.session.poll_transmit(sim.now).is_none());
    sim.advance(1);
    assert!(matches!(sim.emit().map(|r| r.exchange()), Some(Exchange::Masquerade(_))));
}

#[test]
fn masquerade_that_returns_tokens_adopts_them() {
    let mut sim = Sim::with(bearer_config().account_switch(AccountSwitch::masquerade()));
    sim.login();
    let _ticket = sim.switch(2002);
    assert_eq!(sim.drive(), Some(Exchange::Masquerade(AccountId(2002))));
    assert_eq!(sim.header(), "Bearer tok-2-secret");
    assert_eq!(sim.session.account(), Some(AccountId(2002)));
}

#[test]
fn a_refused_switch_keeps_the_old_account() {
    let mut sim = Sim::with(bearer_config().account(AccountId(2001)));
    sim.login();
    let ticket = sim.switch(9999);
    sim.script([Reply::Status(403, r#"{"success":false,"error":"account_not_allowed"}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Login));
    let bearer = sim.session.bearer().unwrap();
    assert!(matches!(bearer.switch_refusal(), Some(AuthError::AccountSwitchRejected(_))));
    assert_eq!(bearer.pending_switch(), None);
    assert_eq!(sim.session.account(), Some(AccountId(2001)));
    // Explicit, not silent: requests fail with the refusal until its caller collects it.
    assert!(matches!(sim.authorize(), Err(AuthError::AccountSwitchRejected(_))));
    let outcome = sim.session.poll_switch(&ticket, sim.now);
    assert!(matches!(outcome, Some(Err(AuthError::AccountSwitchRejected(_)))), "{outcome:?}");
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn a_masquerade_answered_401_drops_the_token_once_then_logs_in_to_the_account() {
    let mut sim = Sim::with(bearer_config().account_switch(AccountSwitch::masquerade()));
    sim.login();
    let _ticket = sim.switch(2002);
    // The token died behind our back (e.g. a lost masquerade answer that rotated it).
    sim.script([Reply::Status(401, r#"{"success":false,"error":"invalid_token"}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Masquerade(AccountId(2002))));
    assert_eq!(sim.drive(), Some(Exchange::Login), "a login can name the account");
    assert_eq!(sim.seen.last().unwrap().body["account_id"], 2002);
    assert_eq!(sim.session.account(), Some(AccountId(2002)));
    assert_eq!(sim.header(), "Bearer tok-2-secret");
}

#[test]
fn a_second_masquerade_401_refuses_the_switch() {
    let config = Config::bearer_without_password(BASE, "alice").account_switch(AccountSwitch::masquerade());
    let first = Sim::logged_in();
    let session = Session::restore(config.build().unwrap(), first.persisted().unwrap(), 1, first.now).unwrap();
    let mut sim = Sim::around(session, bearer_config().build().unwrap(), first.now);
    let _ticket = sim.switch(2002);
    sim.script([Reply::Status(401, r#"{"success":false}"#), Reply::Grant { lifetime: 3600 }]);
    sim.script([Reply::Status(401, r#"{"success":false,"error":"invalid_token"}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Masquerade(AccountId(2002))));
    assert_eq!(sim.drive(), Some(Exchange::Refresh), "no password: refresh, then try again");
    assert_eq!(sim.drive(), Some(Exchange::Masquerade(AccountId(2002))));
    assert!(matches!(sim.authorize(), Err(AuthError::AccountSwitchRejected(_))));
    assert_eq!(sim.drive(), None);
}

#[test]
fn switching_needs_a_bearer_session_and_relogin_needs_the_password() {
    let config = Config::basic(BASE, "alice", Password::new("pw")).build().unwrap();
    let mut session = Session::new(config, 1, start()).unwrap();
    assert_eq!(session.switch_account(AccountId(1), start()).unwrap_err(), AuthError::SwitchRequiresBearer);

    let sim = Sim::logged_in();
    let config = Config::bearer_without_password(BASE, "alice").build().unwrap();
    let mut session = Session::restore(config, sim.persisted().unwrap(), 1, sim.now).unwrap();
    assert_eq!(session.switch_account(AccountId(5), sim.now).unwrap_err(), AuthError::PasswordRequired);
}

// ----- §5a API rejections ------------------------------------------------------------------

#[test]
fn a_401_on_the_current_token_refreshes_once_and_asks_for_one_retry() {
    for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
        let mut sim = Sim::logged_in();
        let credential = sim.ready();
        assert!(sim.api_answer(credential, status).is_retry());
        assert!(sim.is_pending(), "{status}: the rejected token is not handed out again");
        assert_eq!(sim.drive(), Some(Exchange::Refresh));
        assert_eq!(sim.header(), "Bearer tok-2-secret");
    }
}

#[test]
fn a_rejected_retry_is_final_and_costs_no_second_refresh() {
    let mut sim = Sim::logged_in();
    let first = sim.ready();
    let ApiVerdict::RetryOnce(permit) = sim.api_answer(first, StatusCode::FORBIDDEN) else { panic!("a retry") };
    let uri: http::Uri = format!("{BASE}/reports/call-data").parse().unwrap();
    let permit = match sim.session.authorize_retry(&uri, permit, sim.now).unwrap() {
        auth_core::RetryAuthorization::Pending(permit) => permit,
        ready => panic!("the rejected token is not handed out again: {ready:?}"),
    };
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    let Ok(auth_core::RetryAuthorization::Ready(retry)) = sim.session.authorize_retry(&uri, permit, sim.now) else {
        panic!("the resend's credential")
    };
    assert_eq!(sim.api_answer(retry, StatusCode::FORBIDDEN), ApiVerdict::Accept, "the resend's answer is final");
    assert_eq!(sim.header(), "Bearer tok-2-secret", "the new token stays in service");
    assert_eq!(sim.drive(), None);
}

#[test]
fn a_401_on_an_old_token_makes_no_refresh() {
    let mut sim = Sim::logged_in();
    let old = sim.ready();
    sim.advance(3400);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert!(sim.api_answer(old, StatusCode::UNAUTHORIZED).is_retry(), "retry with the newer token");
    assert_eq!(sim.header(), "Bearer tok-2-secret");
    assert_eq!(sim.drive(), None, "no refresh for a token already replaced");
}

#[test]
fn many_401s_for_one_generation_cause_one_refresh() {
    let mut sim = Sim::logged_in();
    let credentials: Vec<_> = (0..10).map(|_| sim.ready()).collect();
    for credential in credentials {
        let _ = sim.api_answer(credential, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    assert_eq!(sim.drive(), None);
}

#[test]
fn other_statuses_are_accepted_as_they_are() {
    let mut sim = Sim::logged_in();
    for status in [200, 204, 400, 404, 429, 500] {
        let credential = sim.ready();
        let status = StatusCode::from_u16(status).unwrap();
        assert_eq!(sim.api_answer(credential, status), ApiVerdict::Accept);
    }
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn basic_and_integrator_rejections_are_final() {
    let uri: http::Uri = format!("{BASE}/reports/call-data?account_id=5").parse().unwrap();
    for config in [
        Config::basic(BASE, "alice", Password::new("pw")).build().unwrap(),
        Config::integrator(BASE, "int", Password::new("pw")).account_per_request().build().unwrap(),
    ] {
        let mut session = Session::new(config, 1, start()).unwrap();
        let Ok(Authorization::Ready(credential)) = session.authorize(&uri, start()) else { panic!() };
        let verdict = session.handle_api_response(support::receipt(credential), StatusCode::UNAUTHORIZED, start());
        assert_eq!(verdict, ApiVerdict::Accept);
        assert!(session.poll_transmit(start()).is_none());
        assert!(session.snapshot().is_none());
    }
}

#[test]
fn no_credentials_for_another_origin() {
    let mut sim = Sim::logged_in();
    for uri in ["https://evil.example/steal", "http://api.teletracker.net/plain", "https://api.teletracker.net:444/"] {
        let uri: http::Uri = uri.parse().unwrap();
        assert_eq!(sim.session.authorize(&uri, sim.now).unwrap_err(), AuthError::ForeignOrigin, "{uri}");
        assert!(!sim.session.is_api_origin(&uri));
    }
}

// ----- §6 RealTime -------------------------------------------------------------------------

#[test]
fn realtime_handshake_uses_a_currently_valid_token() {
    let mut sim = Sim::bearer();
    assert!(sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().is_none(), "log in first");
    sim.drive();
    let message = sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().unwrap();
    assert_eq!(message.as_text(), r#"{"type":"authrequest","token":"tok-1-secret"}"#);
    sim.advance(3595);
    assert!(sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().is_none(), "refresh first");
}

#[test]
fn a_refused_realtime_token_is_replaced_before_the_reconnect() {
    let mut sim = Sim::logged_in();
    let first = sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().unwrap();
    sim.session.bearer_mut().unwrap().handle_realtime_rejection(first.generation(), sim.now);
    assert!(sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().is_none(), "refresh first");
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    let second = sim.session.bearer_mut().unwrap().realtime_auth(sim.now).unwrap().unwrap();
    assert!(second.generation() > first.generation());
    assert!(second.as_text().contains("tok-2-secret"));
}

#[test]
fn basic_and_integrator_cannot_make_a_realtime_handshake() {
    let config = Config::basic(BASE, "alice", Password::new("pw")).build().unwrap();
    let mut session = Session::new(config, 1, start()).unwrap();
    // The handshake lives on BearerSession only: there is none to ask.
    assert!(session.bearer_mut().is_none());
}

// ----- persistence -------------------------------------------------------------------------

#[test]
fn a_restored_session_continues_without_logging_in() {
    let mut first = Sim::logged_in();
    first.advance(600);
    let snapshot = first.persisted().unwrap();
    let restored = Session::restore(first.config.clone(), snapshot, 9, first.now).unwrap();
    let mut sim = Sim::around(restored, first.config.clone(), first.now);
    assert_eq!(sim.header(), "Bearer tok-1-secret");
    assert_eq!(sim.drive(), None, "no login");
    sim.advance(3000);
    assert_eq!(sim.drive(), Some(Exchange::Refresh), "and refreshes with the stored refresh token");
    assert_eq!(sim.seen[0].body["refresh_token"], "ref-1-secret");
}

#[test]
fn a_newer_snapshot_from_another_process_is_adopted_instead_of_refreshing() {
    let mut a = Sim::logged_in();
    let mut b = Sim::around(
        Session::restore(a.config.clone(), a.persisted().unwrap(), 5, a.now).unwrap(),
        a.config.clone(),
        a.now,
    );
    a.advance(3400);
    b.advance(3400);
    assert_eq!(a.drive(), Some(Exchange::Refresh));
    assert!(b.session.wants_transmit(b.now));
    assert!(b.session.adopt(a.persisted().unwrap(), b.now));
    assert!(!b.session.wants_transmit(b.now), "b need not refresh the same session again");
    assert!(b.header().starts_with("Bearer tok-"));
    assert!(!b.session.adopt(a.persisted().unwrap(), b.now), "not newer any more");
}

#[test]
fn restore_refuses_another_users_snapshot_and_static_schemes() {
    let sim = Sim::logged_in();
    let snapshot = sim.persisted().unwrap();
    let bob = Config::bearer(BASE, "bob", Password::new("pw")).build().unwrap();
    assert_eq!(Session::restore(bob, snapshot.clone(), 1, sim.now).unwrap_err(), auth_core::RestoreError::OtherUser);
    let basic = Config::basic(BASE, "alice", Password::new("pw")).build().unwrap();
    assert_eq!(Session::restore(basic, snapshot, 1, sim.now).unwrap_err(), auth_core::RestoreError::NotBearer);
}

#[test]
fn a_snapshot_bound_elsewhere_is_moved_back_to_the_pinned_account() {
    let pinned = bearer_config().account(AccountId(2002)).build().unwrap();
    let mut first = Sim::with(bearer_config().account(AccountId(2002)));
    first.login();
    let _ticket = first.switch(2003);
    assert_eq!(first.drive(), Some(Exchange::Login));
    assert_eq!(first.persisted().unwrap().account(), Some(AccountId(2003)));
    let session = Session::restore(pinned.clone(), first.persisted().unwrap(), 1, first.now).unwrap();
    let mut sim = Sim::around(session, pinned, first.now);
    assert!(sim.is_pending(), "the stored token does not serve the pinned account");
    assert_eq!(sim.drive(), Some(Exchange::Login));
    assert_eq!(sim.seen[0].body["account_id"], 2002);

    let no_password = Config::bearer_without_password(BASE, "alice").account(AccountId(2002)).build().unwrap();
    let err = Session::restore(no_password, first.persisted().unwrap(), 1, first.now).unwrap_err();
    assert_eq!(err, auth_core::RestoreError::AccountMismatch);
}

#[test]
fn a_snapshot_of_another_server_user_or_pinned_account_is_refused() {
    let first = Sim::logged_in(); // alice on BASE, no pinned account
    let snapshot = first.persisted().unwrap();
    let refuse = |builder: auth_core::ConfigBuilder| {
        Session::restore(builder.build().unwrap(), snapshot.clone(), 1, first.now).unwrap_err()
    };
    let other_server = refuse(Config::bearer("https://other.example", "alice", Password::new(support::PASSWORD)));
    assert!(matches!(other_server, auth_core::RestoreError::OtherOrigin { .. }), "{other_server}");
    assert!(other_server.to_string().contains("https://other.example:443"), "{other_server}");
    let other_port =
        refuse(Config::bearer("https://api.teletracker.net:8443", "alice", Password::new(support::PASSWORD)));
    assert!(matches!(other_port, auth_core::RestoreError::OtherOrigin { .. }));
    let other_user = refuse(Config::bearer(BASE, "bob", Password::new(support::PASSWORD)));
    assert_eq!(other_user, auth_core::RestoreError::OtherUser);
    let pinned = refuse(bearer_config().account(AccountId(1001)));
    assert_eq!(pinned, auth_core::RestoreError::OtherAccount { stored: None, configured: Some(AccountId(1001)) });
    let basic = refuse(Config::basic(BASE, "alice", Password::new(support::PASSWORD)));
    assert_eq!(basic, auth_core::RestoreError::NotBearer);
    // The same origin spelled differently is the same origin.
    let same =
        Config::bearer("HTTPS://API.teletracker.net:443/", "alice", Password::new(support::PASSWORD)).build().unwrap();
    assert!(Session::restore(same, snapshot, 1, first.now).is_ok());
}

#[test]
fn a_snapshot_of_another_owner_is_never_adopted() {
    let mut sim = Sim::logged_in();
    // Another user of the same server, and alice pinned to an account: both other owners.
    let mut other = Sim::with(Config::bearer(BASE, "bob", Password::new(support::PASSWORD)));
    other.login();
    other.advance(3400);
    assert_eq!(other.drive(), Some(Exchange::Refresh));
    let foreign = other.persisted().unwrap();
    assert!(foreign.generation() > sim.persisted().unwrap().generation());
    assert!(!sim.session.adopt(foreign, sim.now));
    let mut pinned = Sim::with(bearer_config().account(AccountId(1001)));
    pinned.login();
    pinned.advance(3400);
    assert_eq!(pinned.drive(), Some(Exchange::Refresh));
    assert!(!sim.session.adopt(pinned.persisted().unwrap(), sim.now));
    assert_eq!(sim.header(), "Bearer tok-1-secret");
}

#[test]
fn a_bearer_session_without_password_must_be_restored() {
    let config = Config::bearer_without_password(BASE, "alice").build().unwrap();
    assert_eq!(Session::new(config, 1, start()).unwrap_err(), auth_core::ConfigError::NoPasswordToLogIn);
}

// ----- secrets -----------------------------------------------------------------------------

#[test]
fn no_debug_output_or_error_contains_a_secret() {
    let mut sim = Sim::logged_in();
    let mut shown = Vec::new();
    shown.push(format!("{:?}", sim.session));
    shown.push(format!("{:#?}", sim.config));
    shown.push(format!("{:?}", bearer_config()));
    shown.push(format!("{:?}", sim.ready()));
    shown.push(format!("{:?}", sim.persisted()));
    shown.push(format!("{:?}", sim.events));
    sim.advance(3400);
    let refresh = sim.emit().unwrap();
    shown.push(format!("{refresh:?}"));
    shown.push(format!("{:?}", sim.session.bearer_mut().unwrap().realtime_auth(sim.now)));
    sim.answer(refresh, Reply::Status(401, r#"{"success":false,"message":"token ref-1-secret pw-secret-1234 bad"}"#));
    sim.script([Reply::Status(401, r#"{"error":"pw-secret-1234 is wrong for tok-1-secret"}"#)]);
    sim.drive();
    let err = sim.authorize().unwrap_err();
    shown.push(format!("{err:?}"));
    shown.push(err.to_string());
    for text in shown {
        for secret in ["tok-1-secret", "tok-2-secret", "ref-1-secret", "ref-2-secret", support::PASSWORD] {
            assert!(!text.contains(secret), "{secret} leaked in: {text}");
        }
    }
}

#[test]
fn a_spent_refresh_token_echoed_by_the_server_is_redacted() {
    let mut sim = Sim::logged_in();
    sim.advance(3595); // expired: the refresh's failure reaches callers
    sim.script([Reply::Status(500, r#"{"message":"cannot refresh ref-1-secret now"}"#)]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    let err = sim.authorize().unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("cannot refresh [redacted] now"), "{shown}");
    assert!(!shown.contains("ref-1-secret"), "{shown}");
}

#[test]
fn a_policy_can_be_tuned() {
    let policy = RefreshPolicy { stale_margin_min: std::time::Duration::from_secs(600), ..RefreshPolicy::default() };
    let mut sim = Sim::with(bearer_config().refresh_policy(policy));
    sim.login();
    sim.advance(3000);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
}

// ----- clocks, hand-off and sharing (SPEC.md §3, §3a) ----------------------------------------

#[test]
fn a_wall_clock_step_moves_no_schedule() {
    let mut sim = Sim::logged_in();
    let year = Duration::days(365);
    // A year ahead: the token neither expires nor is refreshed.
    let ahead = Now::new(sim.now, sim.now + year);
    assert!(matches!(sim.session.authorize(&sim.uri, ahead), Ok(Authorization::Ready(_))));
    assert!(sim.session.poll_transmit(ahead).is_none(), "no refresh for a wall-clock jump");
    // Back again, after a 503 on the refresh: the backoff is a second or two, not a year.
    sim.advance(3700);
    let back = Now::new(sim.now, sim.now - year);
    let refresh = sim.session.poll_transmit(back).expect("a refresh of the expired token");
    sim.session.handle_response(refresh.id(), &http::Response::builder().status(503).body(Vec::new()).unwrap(), back);
    let retry = sim.session.poll_timeout().expect("a backoff");
    assert!(retry <= sim.now + Duration::seconds(2), "backoff until {retry}");
    // The error tells the caller a wall-clock instant: the one of the clock it was given.
    let Err(error) = sim.session.authorize(&sim.uri, back) else { panic!("an expired token is never handed out") };
    assert!(error.retry_at().unwrap() < sim.now - year + Duration::seconds(3), "{error}");
    // Snapshots are stamped in wall-clock time.
    let snapshot = sim.session.snapshot().unwrap();
    assert_eq!(snapshot.obtained_at(), sim.seen[0].at - year);
}

#[test]
fn the_deadline_of_an_auth_request_runs_from_its_handoff() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    let refresh = sim.emit().expect("a refresh");
    // Saving the spent state took 25 s of the 30 s auth timeout; the answer comes 20 s after
    // the hand-off: it is kept.
    sim.advance(25);
    assert!(sim.session.handle_handoff(refresh.id(), sim.now));
    sim.advance(20);
    sim.session.handle_timeout(sim.now);
    assert!(sim.session.bearer().unwrap().is_exchange_in_flight(), "not given up 20 s after the hand-off");
    sim.answer(refresh, Reply::Grant { lifetime: 3600 });
    assert_eq!(sim.header(), "Bearer tok-2-secret");
    // Expiry is measured from the hand-off.
    assert_eq!(sim.persisted().unwrap().obtained_at(), sim.now - Duration::seconds(20));
}

#[test]
fn a_request_whose_deadline_passed_before_its_handoff_is_not_sent() {
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    let refresh = sim.emit().expect("a refresh");
    sim.advance(31);
    assert!(!sim.session.handle_handoff(refresh.id(), sim.now), "given up: do not send it");
}

#[test]
fn a_refresh_answered_429_or_503_keeps_its_refresh_token_for_the_retry() {
    for status in [429, 503] {
        let mut sim = Sim::logged_in();
        sim.advance(3400);
        let refresh = sim.emit().expect("a refresh");
        sim.drain_events();
        let token = support::body_of(&refresh)["refresh_token"].as_str().unwrap().to_owned();
        assert!(!sim.persisted().unwrap().has_refresh_token(), "spent in the store before it leaves");
        sim.answer(refresh, Reply::RetryAfter(status, 5));
        assert!(sim.persisted().unwrap().has_refresh_token(), "{status}: the store learns it is unspent");
        sim.advance(5);
        assert_eq!(sim.drive(), Some(Exchange::Refresh), "{status}: retried after Retry-After");
        assert_eq!(sim.seen[2].body["refresh_token"], token.as_str(), "{status}: the same refresh token");
    }
    // Any other failure whose effect is unknown consumes it: the next exchange is a login.
    let mut sim = Sim::logged_in();
    sim.advance(3400);
    sim.script([Reply::Status(502, "")]);
    assert_eq!(sim.drive(), Some(Exchange::Refresh));
    sim.advance(5);
    assert_eq!(sim.drive(), Some(Exchange::Login));
}

#[test]
fn a_spend_stored_by_another_sharer_is_adopted() {
    let mut a = Sim::logged_in();
    let shared = a.persisted().unwrap();
    let mut b = Sim::with(bearer_config());
    assert!(b.session.adopt(shared, b.now));
    // A spends the refresh token (and its answer is lost); B adopts the spend from the store.
    a.advance(3400);
    b.advance(3400);
    let lost = a.emit().expect("a refresh");
    a.drain_events();
    let spent = a.persisted().unwrap();
    assert!(!spent.has_refresh_token());
    a.answer(lost, Reply::Lost);
    assert!(b.session.adopt(spent.clone(), b.now), "the spend is adopted at the same generation");
    assert_eq!(b.drive(), Some(Exchange::Login), "B logs in rather than present the spent token");
    // A snapshot that still holds a token we spent ourselves never brings it back.
    let mut c = Sim::logged_in();
    let before = c.persisted().unwrap();
    c.advance(3400);
    c.script([Reply::Lost]);
    assert_eq!(c.drive(), Some(Exchange::Refresh));
    assert!(!c.session.adopt(before, c.now));
    c.advance(5);
    assert_eq!(c.drive(), Some(Exchange::Login));
}
