//! Model test (proptest-state-machine): random sequences of time steps, API demand from several
//! callers, every kind of server answer, lost answers, restarts through snapshot/restore,
//! account switches, and a wall clock stepped by up to a year either way. The invariants are listed in `support/model_system.rs`.
//!
//! `PROPTEST_CASES` sets the number of cases (default 2,000).

#[path = "support/model_server.rs"]
mod model_server;
#[path = "support/model_system.rs"]
mod model_system;

use model_server::Answer;
use model_system::{CALLERS, Step, System};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

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
        let answer = prop_oneof![
            6 => (prop_oneof![Just(0u64), Just(1), Just(4), Just(30), Just(121), Just(3600)], -24i64..=24)
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
        ];
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

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000)
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 4096,
        .. ProptestConfig::default()
    })]

    #[test]
    fn session_keeps_its_invariants(sequential 1..80 => System);
}
