//! `GET /redirect` and cross-origin `Authorization` checks with a second emulator.

use auth_emulator::{Emulator, Endpoint};

use crate::support::{get, login};

#[test]
fn redirect_answers_302_with_the_location() {
    let emu = Emulator::start();
    let target = "https://elsewhere.example/path?x=1";
    let resp = get(&format!("{}/redirect?to={}", emu.url(), urlencode(target)), None);
    assert_eq!(resp.status, 302);
    assert_eq!(resp.header("location"), Some(target));
    assert_eq!(emu.count(Endpoint::Redirect), 1);

    let bad = get(&format!("{}/redirect?to=relative/path", emu.url()), None);
    assert_eq!(bad.status, 400);
    let missing = get(&format!("{}/redirect", emu.url()), None);
    assert_eq!(missing.status, 400);
}

#[test]
fn a_foreign_origin_journals_whether_authorization_arrived() {
    let home = Emulator::start();
    let foreign = Emulator::start();
    let alice = login(&home, "alice", None);
    let target = format!("{}/reports/call-data", foreign.url());
    let start = format!("{}/redirect?to={}", home.url(), urlencode(&target));

    // A client that follows redirects (ureq strips Authorization on redirects by default).
    let following: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let resp = following.get(&start).header("Authorization", alice.bearer()).call().expect("exchange");
    assert_eq!(resp.status(), 401, "the foreign origin saw no credentials");

    let home_entry = home.journal().pop().expect("home entry");
    assert_eq!(home_entry.endpoint, Endpoint::Redirect);
    assert!(home_entry.authorization_present);
    assert_eq!(home_entry.user.as_deref(), Some("alice"));
    let foreign_entry = foreign.journal().pop().expect("foreign entry");
    assert_eq!(foreign_entry.path, "/reports/call-data");
    assert!(!foreign_entry.authorization_present);

    // A leaking client would show up like this:
    let _ = get(&target, Some(&alice.bearer()));
    let leaked = foreign.journal().pop().expect("leaked entry");
    assert!(leaked.authorization_present);
    assert_eq!(leaked.user, None, "the foreign origin does not know the token");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
