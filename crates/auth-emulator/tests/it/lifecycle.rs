//! Starting and stopping from sync and async tests.

use std::net::TcpStream;

use auth_emulator::Emulator;

use crate::support::{call_data, login};

#[test]
fn the_port_is_closed_after_drop() {
    let emu = Emulator::start();
    let addr = emu.addr();
    assert!(emu.url().starts_with("http://127.0.0.1:"));
    assert_eq!(emu.ws_url(), emu.url().replacen("http", "ws", 1));
    let _ = login(&emu, "alice", None);
    emu.shutdown();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_closes_open_websockets() {
    let emu = Emulator::start();
    let alice = login(&emu, "alice", None);
    let (mut socket, _) = crate::support::ws_auth(&emu.ws_url(), &alice.token);
    drop(emu);
    assert!(crate::support::ws_closed(&mut socket));
}

#[tokio::test]
async fn works_inside_a_current_thread_runtime() {
    let emu = Emulator::start();
    let url = emu.url();
    let status =
        tokio::task::spawn_blocking(move || crate::support::get(&format!("{url}/reports/call-data"), None).status)
            .await
            .expect("blocking task");
    assert_eq!(status, 401);
    drop(emu); // must not panic inside a runtime
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_runtime() {
    let emu = std::sync::Arc::new(Emulator::start());
    let handle = std::sync::Arc::clone(&emu);
    let status = tokio::task::spawn_blocking(move || {
        let alice = login(&handle, "alice", None);
        call_data(&handle, Some(&alice.bearer()), "").status
    })
    .await
    .expect("blocking task");
    assert_eq!(status, 200);
    assert_eq!(emu.logins_served(), 1);
}
