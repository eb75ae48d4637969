//! What the session's `tracing` events record, in the forms every event shares.
//!
//! The events themselves are emitted where the session learns what happened (the exchanges,
//! the backoff, adoption, account switches, API rejections); this module only turns values
//! into fields. No field ever holds a secret: exchanges are named, servers' answers are
//! reduced to their status and (scrubbed) error code, instants are wall-clock times and
//! durations whole milliseconds. The fields and levels are listed in the README
//! ("Observability").

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::AccountId;
use crate::error::{Malformed, ServerError, TransientCause};

/// The `cause` field of a transient failure.
pub(crate) fn cause(cause: &TransientCause) -> &'static str {
    match cause {
        TransientCause::Transport => "transport",
        TransientCause::Timeout => "timeout",
        TransientCause::Server(_) => "server",
        TransientCause::RateLimited(_) => "rate_limited",
        TransientCause::Malformed(_) => "malformed",
    }
}

/// The server's answer behind a transient failure, if there was one.
pub(crate) fn server_error(cause: &TransientCause) -> Option<&ServerError> {
    match cause {
        TransientCause::Server(error) | TransientCause::RateLimited(error) => Some(error),
        _ => None,
    }
}

/// Why an answer could not be used, for the `detail` field: fixed words, a field's name, a
/// status or a length, never a value from the answer.
pub(crate) fn malformed(cause: &TransientCause) -> Option<&Malformed> {
    match cause {
        TransientCause::Malformed(malformed) => Some(malformed),
        _ => None,
    }
}

/// The `status` field: an answer's HTTP status.
pub(crate) fn status(error: Option<&ServerError>) -> Option<u16> {
    error.map(|e| e.status().as_u16())
}

/// The `code` field: the error code the server named, already scrubbed of our secrets.
pub(crate) fn code(error: Option<&ServerError>) -> Option<&str> {
    error.and_then(ServerError::code)
}

/// The `account` field (absent for the user's default account).
pub(crate) fn account(account: Option<AccountId>) -> Option<u64> {
    account.map(|a| a.0)
}

/// Whole milliseconds from `from` to `to` on the monotonic timeline (0 if `to` is earlier).
pub(crate) fn elapsed_ms(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_milliseconds()).unwrap_or(0)
}

/// A wall-clock instant such as `retry_at`, as RFC 3339.
pub(crate) fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use http::Response;
    use time::OffsetDateTime;
    use tracing::field::{Field, Visit};
    use tracing::{Level, Subscriber};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use crate::{AccountId, Config, Password, Session};

    /// One event as a subscriber sees it.
    #[derive(Debug)]
    struct Seen {
        level: Level,
        message: String,
        fields: BTreeMap<String, String>,
    }

    /// A layer that keeps every event.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Seen>>>);

    #[derive(Default)]
    struct Fields(BTreeMap<String, String>);

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }

        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let message = fields.0.remove("message").unwrap_or_default();
            let seen = Seen { level: *event.metadata().level(), message, fields: fields.0 };
            self.0.lock().unwrap().push(seen);
        }
    }

    /// The events `run` emits.
    fn capture(run: impl FnOnce()) -> Vec<Seen> {
        let capture = Capture::default();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(capture.clone()), run);
        std::mem::take(&mut *capture.0.lock().unwrap())
    }

    /// The one event with `message`, or a panic listing them all.
    fn one<'a>(events: &'a [Seen], message: &str) -> &'a Seen {
        let found: Vec<&Seen> = events.iter().filter(|e| e.message == message).collect();
        match found.as_slice() {
            [event] => event,
            _ => panic!("{} events {message:?} in {events:#?}", found.len()),
        }
    }

    /// `event`'s fields, exactly.
    fn fields(event: &Seen, expected: &[(&str, &str)]) {
        let expected: BTreeMap<String, String> =
            expected.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        assert_eq!(event.fields, expected, "{}", event.message);
    }

    fn grant(n: u32, lifetime: u32) -> Response<String> {
        Response::new(format!(
            r#"{{"success":true,"token":"token-{n}","tokenLifetime":{lifetime},"refreshToken":"refresh-{n}"}}"#
        ))
    }

    fn answer(status: u16, body: &str, retry_after: Option<&str>) -> Response<String> {
        let mut response = Response::builder().status(status);
        if let Some(seconds) = retry_after {
            response = response.header("retry-after", seconds);
        }
        response.body(body.to_owned()).unwrap()
    }

    fn session(t0: OffsetDateTime) -> Session {
        let config =
            Config::bearer("https://api.teletracker.net", "alice", Password::new("s3cret-pw")).build().unwrap();
        Session::new(config, 7, t0).unwrap()
    }

    fn ms(n: i64) -> time::Duration {
        time::Duration::milliseconds(n)
    }

    /// Every exchange's request and outcome, with exactly the fields the README lists, and
    /// nothing secret in any of them.
    #[test]
    fn exchanges_tell_what_they_did_with_their_fields() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let uri: http::Uri = "https://api.teletracker.net/reports".parse().unwrap();
        let events = capture(|| {
            let mut s = session(t0);
            // A login answered after 250 ms.
            let login = s.poll_transmit(t0).unwrap();
            s.handle_response(login.id(), &grant(1, 3600), t0 + ms(250));
            // The API refuses the token: one resend, after a refresh the server rate-limits.
            let crate::Authorization::Ready(credential) = s.authorize(&uri, t0 + ms(300)).unwrap() else { panic!() };
            let verdict =
                s.handle_api_response(credential.into_parts().2, http::StatusCode::UNAUTHORIZED, t0 + ms(300));
            let crate::ApiVerdict::RetryOnce(permit) = verdict else { panic!("{verdict:?}") };
            let refresh = s.poll_transmit(t0 + ms(300)).unwrap();
            s.handle_response(refresh.id(), &answer(503, "", Some("30")), t0 + ms(400));
            // After the backoff the refresh goes through, and the permit is used.
            let later = t0 + time::Duration::seconds(31);
            let refresh = s.poll_transmit(later).unwrap();
            s.handle_response(refresh.id(), &grant(2, 3600), later + ms(20));
            let crate::RetryAuthorization::Ready(_) = s.authorize_retry(&uri, permit, later + ms(20)).unwrap() else {
                panic!()
            };
            // A rejected refresh: the next login is a relogin.
            let later = later + time::Duration::seconds(3300);
            let refresh = s.poll_transmit(later).unwrap();
            s.handle_response(refresh.id(), &answer(401, r#"{"success":false,"error":"invalid_grant"}"#, None), later);
            let relogin = s.poll_transmit(later).unwrap();
            s.handle_response(relogin.id(), &grant(3, 3600), later + ms(5));
        });

        let emitted: Vec<&Seen> = events.iter().filter(|e| e.message == "auth request emitted").collect();
        assert_eq!(emitted.len(), 5, "{events:#?}");
        assert!(emitted.iter().all(|e| e.level == Level::DEBUG));
        fields(emitted[0], &[("exchange", "login"), ("generation", "0")]);
        fields(emitted[1], &[("exchange", "refresh"), ("generation", "1")]);
        fields(emitted[4], &[("exchange", "relogin"), ("generation", "2")]);

        let succeeded: Vec<&Seen> = events.iter().filter(|e| e.message == "auth exchange succeeded").collect();
        assert_eq!(succeeded.len(), 3);
        assert!(succeeded.iter().all(|e| e.level == Level::INFO));
        let login = [("exchange", "login"), ("generation", "1"), ("lifetime_secs", "3600"), ("duration_ms", "250")];
        fields(succeeded[0], &login);
        let refresh = [("exchange", "refresh"), ("generation", "2"), ("lifetime_secs", "3600"), ("duration_ms", "20")];
        fields(succeeded[1], &refresh);
        fields(
            succeeded[2],
            &[("exchange", "relogin"), ("generation", "3"), ("lifetime_secs", "3600"), ("duration_ms", "5")],
        );

        let rejected = one(&events, "API rejected the token");
        assert_eq!(rejected.level, Level::INFO);
        fields(rejected, &[("status", "401"), ("generation", "1"), ("resend", "false")]);
        let permit = one(&events, "resend permit used");
        assert_eq!(permit.level, Level::DEBUG);
        fields(permit, &[("generation", "2")]);

        let failed: Vec<&Seen> = events.iter().filter(|e| e.message == "auth exchange failed").collect();
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|e| e.level == Level::WARN));
        let limited = [
            ("exchange", "refresh"),
            ("cause", "rate_limited"),
            ("status", "503"),
            ("retry_after_secs", "30"),
            ("duration_ms", "100"),
            ("generation", "1"),
        ];
        fields(failed[0], &limited);
        let dead = [
            ("exchange", "refresh"),
            ("cause", "rejected"),
            ("status", "401"),
            ("code", "invalid_grant"),
            ("duration_ms", "0"),
            ("generation", "2"),
            ("fatal", "false"),
        ];
        fields(failed[1], &dead);

        let backoff = one(&events, "auth backoff started");
        assert_eq!(backoff.level, Level::WARN);
        let backoff_fields = [
            ("exchange", "refresh"),
            ("cause", "rate_limited"),
            ("attempt", "1"),
            ("retry_at", "1970-01-01T00:00:30.4Z"),
            ("delay_ms", "30000"),
            ("retry_after_secs", "30"),
        ];
        fields(backoff, &backoff_fields);

        for event in &events {
            let text = format!("{} {:?}", event.message, event.fields);
            for secret in ["token-", "refresh-", "s3cret-pw", "Bearer"] {
                assert!(!text.contains(secret), "{secret:?} in {text}");
            }
        }
    }

    /// Switches requested, done, refused and superseded; a newer stored session adopted; a
    /// token that arrives stale.
    #[test]
    fn switches_adoption_and_stale_tokens_are_told() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let events = capture(|| {
            let mut s = session(t0);
            let login = s.poll_transmit(t0).unwrap();
            s.handle_response(login.id(), &grant(1, 3600), t0);
            // Refused: the login for account 7 is answered 403.
            let ticket = s.switch_account(AccountId(7), t0).unwrap();
            let login = s.poll_transmit(t0).unwrap();
            s.handle_response(login.id(), &answer(403, r#"{"success":false,"error":"forbidden"}"#, None), t0);
            assert!(s.poll_switch(&ticket, t0).is_some_and(|outcome| outcome.is_err()));
            // Superseded: 8 asked for, then 9, which is done.
            let first = s.switch_account(AccountId(8), t0).unwrap();
            let second = s.switch_account(AccountId(9), t0).unwrap();
            let login = s.poll_transmit(t0).unwrap();
            s.handle_response(login.id(), &grant(2, 3600), t0);
            assert!(matches!(s.poll_switch(&second, t0), Some(Ok(AccountId(9)))));
            assert!(matches!(s.poll_switch(&first, t0), Some(Err(crate::AuthError::SwitchSuperseded { .. }))));
            // Another session of the same user gets three tokens stale on arrival (the third
            // backs off), then a good one: generation 4, which we adopt from the store.
            let mut other = session(t0);
            for n in 1..=3 {
                let exchange = other.poll_transmit(t0).unwrap();
                other.handle_response(exchange.id(), &grant(10 + n, 0), t0);
            }
            let after_backoff = t0 + time::Duration::seconds(61);
            let refresh = other.poll_transmit(after_backoff).unwrap();
            other.handle_response(refresh.id(), &grant(14, 3600), after_backoff);
            assert!(s.adopt(other.snapshot().unwrap(), after_backoff));
            // The same token stored without its refresh token: spent by another sharer.
            let mut stored = s.snapshot().unwrap();
            stored.refresh_token = None;
            assert!(s.adopt(stored, after_backoff));
        });

        let requested: Vec<&Seen> = events.iter().filter(|e| e.message == "account switch requested").collect();
        assert!(requested.len() >= 3 && requested.iter().all(|e| e.level == Level::INFO), "{events:#?}");
        fields(requested[0], &[("account", "7")]);
        fields(requested[2], &[("account", "9")]);
        let refused = one(&events, "account switch refused");
        assert_eq!(refused.level, Level::WARN);
        fields(refused, &[("account", "7"), ("status", "403"), ("code", "forbidden")]);
        let done = events.iter().find(|e| e.message == "account switch done").unwrap();
        fields(done, &[("account", "9"), ("generation", "2")]);
        let superseded = one(&events, "account switch superseded");
        assert_eq!(superseded.level, Level::INFO);
        fields(superseded, &[("requested", "8"), ("in_force", "9")]);
        let adopted = one(&events, "stored session adopted");
        assert_eq!(adopted.level, Level::INFO);
        fields(adopted, &[("generation", "4"), ("previous_generation", "2")]);
        let spent = one(&events, "stored session shows our refresh token spent: it will not be sent");
        assert_eq!(spent.level, Level::INFO);
        fields(spent, &[("generation", "4")]);
        let stale: Vec<&Seen> = events.iter().filter(|e| e.message == "token arrived already stale").collect();
        assert_eq!(stale.len(), 3);
        assert!(stale.iter().all(|e| e.level == Level::WARN));
        fields(stale[2], &[("generation", "3"), ("lifetime_secs", "0"), ("count", "3")]);
        let unusable = one(&events, "tokens keep arriving unusable: backing off");
        assert_eq!(unusable.level, Level::WARN);
        fields(unusable, &[("lifetime_secs", "0"), ("count", "3"), ("retry_at", "1970-01-01T00:01:00Z")]);
    }
}
