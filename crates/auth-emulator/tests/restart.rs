//! Many starts and stops in one process leave no threads or ports behind.
//!
//! This file holds a single test so that the thread count it reads is not disturbed by other
//! tests running in parallel in the same process.

use std::io::{Read, Write};
use std::net::TcpStream;

use auth_emulator::Emulator;

fn threads() -> Option<usize> {
    std::fs::read_dir("/proc/self/task").ok().map(Iterator::count)
}

#[test]
fn fifty_starts_and_stops_are_clean() {
    let before = threads();
    let mut ports = Vec::new();
    for _ in 0..50 {
        let emu = Emulator::start();
        let mut stream = TcpStream::connect(emu.addr()).expect("connect");
        stream.write_all(b"GET /reports/call-data HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("read");
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        ports.push(emu.addr());
        // A connection still open at shutdown must not hold it up.
        let _idle = TcpStream::connect(emu.addr()).expect("connect");
        drop(emu);
    }
    for addr in ports {
        assert!(TcpStream::connect(addr).is_err(), "{addr} still open");
    }
    assert_eq!(threads(), before, "threads leaked");
}
