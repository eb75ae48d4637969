//! Model tests (proptest-state-machine), two systems against one fake server:
//!
//! - the bare session (`support/model_system.rs`): random sequences of time steps, API demand
//!   from several callers, every kind of server answer, lost answers, restarts through
//!   snapshot/restore, account switches, and a wall clock stepped by up to a year either way;
//! - the coordinator (`support/model_coordinator.rs`): callers polling their calls step by
//!   step, one of them driving with a store, callers vanishing, a second process refreshing
//!   the stored session, concurrent account switches; then every live call must end.
//!
//! The invariants are listed in those files. `PROPTEST_CASES` sets the number of cases of each
//! (default 2,000 each).

#[path = "support/model_coordinator.rs"]
mod model_coordinator;
#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/model_system.rs"]
mod model_system;

use model_coordinator::{ACCOUNTS, Op, Shared};
use model_server::Answer;
use model_system::{CALLERS, Step, System};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

/// Every kind of answer the fake server gives to an auth request: a grant `grants` times to
/// every 10 other answers, living from no time at all to an hour (the two longest lifetimes
/// `long` times to every 4 of the short ones).
fn answers(grants: u32, long: u32) -> BoxedStrategy<Answer> {
    let short = prop_oneof![Just(0u64), Just(1), Just(4), Just(30)];
    let lifetime = prop_oneof![4 => short, long => prop_oneof![Just(121u64), Just(3600)]];
    prop_oneof![
        grants => (lifetime, -24i64..=24)
            .prop_map(|(lifetime, server_offset_h)| Answer::Grant { lifetime, server_offset_h }),
        1 => Just(Answer::MasqueradeOk),
        1 => prop_oneof![Just(400u16), Just(401), Just(403), Just(408), Just(429), Just(500), Just(502), Just(503)]
            .prop_map(Answer::Status),
        1 => (prop_oneof![Just(429u16), Just(503)], 0u64..700).prop_map(|(s, secs)| Answer::RetryAfter(s, secs)),
        1 => Just(Answer::SuccessFalse),
        1 => Just(Answer::Garbage),
        1 => Just(Answer::Truncated),
        1 => Just(Answer::Oversized),
        1 => Just(Answer::Lost),
        1 => Just(Answer::Vanished),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
pub struct Reference {
    masquerade: bool,
}

impl ReferenceStateMachine for Reference {
    type State = Reference;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Self::State> {
        any::<bool>().prop_map(|masquerade| Reference { masquerade }).boxed()
    }

    fn transitions(_state: &Self::State) -> BoxedStrategy<Self::Transition> {
        let answer = answers(6, 2);
        prop_oneof![
            4 => prop_oneof![0u32..5, 0u32..120, 0u32..4000].prop_map(|seconds| Step::Tick { seconds }),
            1 => prop_oneof![-31_536_000i64..=31_536_000, -4000i64..=4000].prop_map(|seconds| Step::WallClockJump { seconds }),
            6 => (0..CALLERS).prop_map(|caller| Step::Demand { caller }),
            4 => Just(Step::Transmit),
            5 => answer.prop_map(Step::Answer),
            4 => (0..CALLERS, prop_oneof![Just(200u16), Just(401), Just(403), Just(500)])
                .prop_map(|(caller, status)| Step::ApiResult { caller, status }),
            1 => (0..CALLERS).prop_map(|caller| Step::ApiLost { caller }),
            1 => Just(Step::Restart),
            1 => (2001u64..=2003).prop_map(|account| Step::Switch { account }),
        ]
        .boxed()
    }

    fn apply(state: Self::State, _transition: &Self::Transition) -> Self::State {
        state
    }
}

impl StateMachineTest for System {
    type SystemUnderTest = System;
    type Reference = Reference;

    fn init_test(reference: &Reference) -> System {
        System::new(reference.masquerade)
    }

    fn apply(mut state: System, _reference: &Reference, step: Step) -> System {
        state.apply(step);
        state
    }

    fn check_invariants(state: &System, _reference: &Reference) {
        state.check_invariants();
    }
}

/// The coordinator's reference: its configuration (switches by masquerade or relogin, a
/// store or none); the steps are any, at any time.
#[derive(Clone, Debug)]
pub struct SharedReference {
    masquerade: bool,
    persisted: bool,
}

impl ReferenceStateMachine for SharedReference {
    type State = SharedReference;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Self::State> {
        (any::<bool>(), prop::bool::weighted(0.8))
            .prop_map(|(masquerade, persisted)| SharedReference { masquerade, persisted })
            .boxed()
    }

    fn transitions(_state: &Self::State) -> BoxedStrategy<Self::Transition> {
        let caller = || 0..CALLERS;
        prop_oneof![
            3 => prop_oneof![0u32..5, 0u32..120, 0u32..4000].prop_map(|seconds| Op::Tick { seconds }),
            1 => prop_oneof![-31_536_000i64..=31_536_000, -4000i64..=4000]
                .prop_map(|seconds| Op::WallClockJump { seconds }),
            4 => (caller(), any::<bool>(), prop::bool::weighted(0.8))
                .prop_map(|(caller, replayable, expect)| Op::Request { caller, replayable, expect }),
            1 => caller().prop_map(|caller| Op::Token { caller }),
            3 => (caller(), 0..ACCOUNTS.len()).prop_map(|(caller, account)| Op::Switch { caller, account }),
            10 => caller().prop_map(|caller| Op::Poll { caller }),
            8 => prop::bool::weighted(0.15).prop_map(|lock_fails| Op::Drive { lock_fails }),
            4 => answers(14, 8).prop_map(Op::Answer),
            4 => (caller(), prop_oneof![Just(200u16), Just(401), Just(403), Just(500)], prop::bool::weighted(0.1))
                .prop_map(|(caller, status, redirected)| Op::ApiResult { caller, status, redirected }),
            1 => caller().prop_map(|caller| Op::ApiLost { caller }),
            1 => caller().prop_map(|caller| Op::Vanish { caller }),
            1 => (answers(14, 8), prop::bool::weighted(0.3)).prop_map(|(answer, hold)| Op::OtherProcess { answer, hold }),
            1 => Just(Op::OtherUnlock),
            1 => Just(Op::LeaseLapses),
            1 => Just(Op::Restart),
        ]
        .boxed()
    }

    fn apply(state: Self::State, _transition: &Self::Transition) -> Self::State {
        state
    }
}

impl StateMachineTest for Shared {
    type SystemUnderTest = Shared;
    type Reference = SharedReference;

    fn init_test(reference: &SharedReference) -> Shared {
        Shared::new(reference.masquerade, reference.persisted)
    }

    fn apply(mut state: Shared, _reference: &SharedReference, op: Op) -> Shared {
        state.apply(op);
        state
    }

    fn check_invariants(state: &Shared, _reference: &SharedReference) {
        state.check_invariants();
    }

    fn teardown(mut state: Shared, _reference: SharedReference) {
        state.settle();
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(2000),
        max_shrink_iters: 4096,
        .. ProptestConfig::default()
    })]

    #[test]
    fn session_keeps_its_invariants(sequential 1..80 => System);
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(2000),
        max_shrink_iters: 8192,
        .. ProptestConfig::default()
    })]

    #[test]
    fn coordinator_keeps_its_invariants(sequential 1..150 => Shared);
}
