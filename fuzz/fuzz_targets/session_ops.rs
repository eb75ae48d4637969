//! Op-sequence fuzzing in the style of quinn's `streams.rs`, over the model tests' own systems
//! (`crates/auth-core/tests/support/`), so the fuzzer and the model tests hold the core to one
//! standard, checking their invariants after every step:
//!
//! - a bare session: time, demand from several callers, server answers of every kind, lost
//!   answers, 401/403 with any generation, account switches, restarts through snapshot/restore;
//! - a coordinator shared by several callers: calls polled step by step, one caller driving
//!   with a store, credentials reported or released, callers vanishing at any point, a second
//!   process refreshing the stored session, concurrent account switches; at the end every
//!   live call must finish.
#![no_main]

#[path = "../../crates/auth-core/tests/support/model_coordinator.rs"]
mod model_coordinator;
#[path = "../../crates/auth-core/tests/support/model_server.rs"]
mod model_server;
#[path = "../../crates/auth-core/tests/support/model_system.rs"]
mod model_system;

use libfuzzer_sys::fuzz_target;

/// Which system an input drives, with its configuration and its steps.
#[derive(Debug, arbitrary::Arbitrary)]
enum Input {
    Session { masquerade: bool, steps: Vec<model_system::Step> },
    Coordinator { masquerade: bool, persisted: bool, ops: Vec<model_coordinator::Op> },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Session { masquerade, steps } => {
            let mut system = model_system::System::new(masquerade);
            for step in steps.into_iter().take(400) {
                system.apply(step);
                system.check_invariants();
            }
        }
        Input::Coordinator { masquerade, persisted, ops } => {
            let mut shared = model_coordinator::Shared::new(masquerade, persisted);
            for op in ops.into_iter().take(400) {
                shared.apply(op);
                shared.check_invariants();
            }
            shared.settle();
        }
    }
});
