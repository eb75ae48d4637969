//! Custom users from code and from a JSON file.

use auth_emulator::{Directory, Emulator, User};
use serde_json::json;

use crate::support::{basic, call_data, post_json};

#[test]
fn users_can_be_configured_in_code() {
    let emu = Emulator::builder()
        .users(Directory::empty())
        .user(User::member("carol", "pw", 7).with_accounts([8, 9]))
        .start();
    let resp = call_data(&emu, Some(&basic("carol", "pw")), "?account_id=8");
    assert_eq!(resp.json()["served"]["account_id"], 8);
    assert_eq!(call_data(&emu, Some(&basic("alice", "alice-password")), "").status, 401);

    assert!(emu.add_user(User::member("dave", "pw", 1)).is_none());
    assert_eq!(call_data(&emu, Some(&basic("dave", "pw")), "").status, 200);
    assert!(emu.remove_user("dave").is_some());
    assert_eq!(call_data(&emu, Some(&basic("dave", "pw")), "").status, 401);
    assert_eq!(emu.users().len(), 1);
}

#[test]
fn users_can_be_loaded_from_a_json_file() {
    let path = std::env::temp_dir().join(format!("auth-emulator-users-{}.json", std::process::id()));
    let text = json!({"users": [
        {"username": "erin", "password": "pw", "accounts": [5, 6], "elevated": true},
        {"username": "partner", "password": "pw", "integrator": true, "accounts": [6]}
    ]});
    std::fs::write(&path, text.to_string()).expect("write users file");
    let users = Directory::from_json_file(&path).expect("valid users file");
    let _ = std::fs::remove_file(&path);

    let emu = Emulator::builder().users(users).start();
    let login = post_json(
        &format!("{}/auth/login", emu.url()),
        None,
        &json!({"username": "erin", "password": "pw", "account_id": 6}),
    );
    assert_eq!(login.status, 200);
    let resp = call_data(&emu, Some(&crate::support::integrator("partner", "pw")), "?account_id=6");
    assert_eq!(resp.status, 200);

    assert!(Directory::from_json_file("/definitely/not/here.json").is_err());
}
