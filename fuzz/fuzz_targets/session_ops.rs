//! Op-sequence fuzzing in the style of quinn's `streams.rs`: an arbitrary list of steps (time,
//! demand from several callers, server answers of every kind, lost answers, 401/403 with any
//! generation, account switches, restarts through snapshot/restore) applied to a session, with
//! the model test's invariants checked after every step. The harness is the model test's own
//! (`crates/auth-core/tests/support/model_system.rs`), so both hold the session to one standard.
#![no_main]

#[path = "../../crates/auth-core/tests/support/model_server.rs"]
mod model_server;
#[path = "../../crates/auth-core/tests/support/model_system.rs"]
mod model_system;

use libfuzzer_sys::fuzz_target;
use model_system::{Step, System};

fuzz_target!(|input: (bool, Vec<Step>)| {
    let (masquerade, steps) = input;
    let mut system = System::new(masquerade);
    for step in steps.into_iter().take(400) {
        system.apply(step);
        system.check_invariants();
    }
});
