//! Scripted faults: what can go wrong, when it is applied, and the per-endpoint queues.
//!
//! Each endpoint has a FIFO queue. Every request to the endpoint takes the next fault off its
//! queue (if any) and suffers it; a plan with `times(n)` stays at the head of the queue for `n`
//! requests.
//!
//! # Before or after the effect
//!
//! A fault is applied either **before** the request has any effect (the server "never processed
//! it": no session created, no rotation), or **after** it (the server did the work and the
//! *response* was lost or mangled). The default follows what is realistic for each kind:
//!
//! | fault | default timing | why |
//! |---|---|---|
//! | [`Fault::Status`], [`Fault::RetryAfter`], [`Fault::SuccessFalse`] | before | a server that refuses does not rotate |
//! | [`Fault::DropConnection`], [`Fault::GarbageBody`], [`Fault::TruncatedBody`], [`Fault::OversizedBody`] | after | the "lost response" case |
//! | [`Fault::EchoCredentials`] | before | a refusal that repeats the credentials |
//!
//! So by default a refresh whose connection drops **has** rotated server-side: the presented
//! refresh token is consumed and a client that retries with it gets `invalid_refresh_token`
//! (SPEC §3 "rotation safety"). Override with [`FaultPlan::before_effect`] /
//! [`FaultPlan::after_effect`].
//!
//! One exception: on [`Endpoint::Refresh`] a fault that answers **429 or 503**
//! ([`Fault::rate_limited`], [`Fault::unavailable`], `Fault::Status(429 | 503)`) is always
//! applied before the effect, even in a plan that says [`FaultPlan::after_effect`]: SPEC §3
//! ("429 and 503 on refresh") says such a refresh was not processed, so its refresh token stays
//! valid and may be sent again. The journal records the timing actually applied.

use std::collections::{HashMap, VecDeque};

use crate::echo::EchoEncoding;
use crate::endpoint::Endpoint;

/// Something that goes wrong with one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (any: 500, 502, 404, ...) and a JSON body
    /// `{"success":false,"error":"injected_status",...}`. An invalid code becomes 500.
    Status(u16),
    /// Answer with `status` (usually 429 or 503), a `Retry-After: <seconds>` header and a JSON
    /// failure body.
    RetryAfter {
        /// The status code.
        status: u16,
        /// The `Retry-After` value, in seconds.
        seconds: u64,
    },
    /// Status 200, `Content-Type: application/json`, and a body of bytes that are not JSON (nor
    /// UTF-8).
    GarbageBody,
    /// Status 200 and the first half of the JSON body the endpoint would have sent, with a
    /// `Content-Length` that matches the cut body (valid HTTP framing, broken JSON).
    TruncatedBody,
    /// Status 200 and the JSON body the endpoint would have sent, padded with an extra field to
    /// 128 KiB: valid JSON, larger than the 64 KiB limit of SPEC §5.
    OversizedBody,
    /// Status 200 with `{"success":false,"error":"injected_failure",...}` (SPEC §5: a 200 can
    /// still be a failure).
    SuccessFalse,
    /// The TCP connection is closed without any HTTP response.
    DropConnection,
    /// Answer with `status` (an invalid code becomes 401) and a JSON failure body whose
    /// `message` repeats the credentials the request presented (password and `user:password`,
    /// refresh token, bearer token, Basic/Integrator header) in `encoding`: a server that echoes
    /// secrets, which a client must scrub from its errors (SPEC §5). On
    /// [`Endpoint::Realtime`] it replaces the `authresponse` with `success:false`, the token
    /// echoed in `error`, and closes the socket.
    EchoCredentials {
        /// The status code.
        status: u16,
        /// How the credentials are written.
        encoding: EchoEncoding,
    },
}

impl Fault {
    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        Self::RetryAfter { status: 429, seconds }
    }

    /// `503 Service Unavailable` with `Retry-After: seconds`.
    pub fn unavailable(seconds: u64) -> Self {
        Self::RetryAfter { status: 503, seconds }
    }

    /// When this fault is applied unless the plan says otherwise (see the module docs).
    pub fn default_timing(&self) -> FaultTiming {
        match self {
            Self::EchoCredentials { .. } => FaultTiming::BeforeEffect,
            Self::Status(_) | Self::RetryAfter { .. } | Self::SuccessFalse => FaultTiming::BeforeEffect,
            Self::GarbageBody | Self::TruncatedBody | Self::OversizedBody | Self::DropConnection => {
                FaultTiming::AfterEffect
            }
        }
    }

    /// Whether the answer is a 429 or a 503 (a `RetryAfter` status that is not a valid code is
    /// sent as 503): a refresh answered so was not processed (SPEC §3).
    fn answers_429_or_503(&self) -> bool {
        match self {
            Self::Status(code) => matches!(code, 429 | 503),
            Self::RetryAfter { status, .. } => matches!(status, 429 | 503) || !(100..=999).contains(status),
            _ => false,
        }
    }

    /// When this fault is applied to a request to `endpoint` under a plan that asked for
    /// `requested` (`None`: the default): see the module docs.
    fn timing_on(&self, endpoint: Endpoint, requested: Option<FaultTiming>) -> FaultTiming {
        if endpoint == Endpoint::Refresh && self.answers_429_or_503() {
            // SPEC §3 "429 and 503 on refresh": the server did not process it, so no rotation.
            return FaultTiming::BeforeEffect;
        }
        requested.unwrap_or_else(|| self.default_timing())
    }

    /// A plan applying this fault to the next `n` requests.
    pub fn times(self, n: u32) -> FaultPlan {
        FaultPlan::from(self).times(n)
    }

    /// A plan applying this fault before the request has any effect.
    pub fn before_effect(self) -> FaultPlan {
        FaultPlan::from(self).before_effect()
    }

    /// A plan applying this fault after the request had its effect (the response is lost).
    pub fn after_effect(self) -> FaultPlan {
        FaultPlan::from(self).after_effect()
    }
}

/// Whether a fault replaces the processing of a request or only its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultTiming {
    /// The request has no effect (no session, no rotation, no rebind).
    BeforeEffect,
    /// The request is processed; only the response is replaced or lost.
    AfterEffect,
}

/// A fault, how many requests it hits, and when it is applied.
///
/// Built from a [`Fault`]: `Fault::DropConnection.times(2).before_effect()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    fault: Fault,
    times: u32,
    timing: Option<FaultTiming>,
}

impl From<Fault> for FaultPlan {
    fn from(fault: Fault) -> Self {
        Self { fault, times: 1, timing: None }
    }
}

impl FaultPlan {
    /// Applies the fault to the next `n` requests (`0` makes the plan a no-op).
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }

    /// Applies the fault before the request has any effect.
    #[must_use]
    pub fn before_effect(mut self) -> Self {
        self.timing = Some(FaultTiming::BeforeEffect);
        self
    }

    /// Applies the fault after the request had its effect. Ignored for a 429 or 503 on
    /// [`Endpoint::Refresh`], which is always applied before it (SPEC §3 "429 and 503 on
    /// refresh": such a refresh was not processed and does not rotate).
    #[must_use]
    pub fn after_effect(mut self) -> Self {
        self.timing = Some(FaultTiming::AfterEffect);
        self
    }
}

/// A fault as it was applied to one request (recorded in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InjectedFault {
    /// The fault.
    pub fault: Fault,
    /// When it was applied.
    pub timing: FaultTiming,
}

/// The per-endpoint fault queues.
#[derive(Debug, Default)]
pub(crate) struct FaultQueues {
    queues: HashMap<Endpoint, VecDeque<FaultPlan>>,
}

impl FaultQueues {
    pub(crate) fn push(&mut self, endpoint: Endpoint, plan: FaultPlan) {
        if plan.times > 0 {
            self.queues.entry(endpoint).or_default().push_back(plan);
        }
    }

    /// Takes the fault for the next request to `endpoint`, if one is scripted.
    pub(crate) fn next(&mut self, endpoint: Endpoint) -> Option<InjectedFault> {
        let queue = self.queues.get_mut(&endpoint)?;
        let head = queue.front_mut()?;
        let injected = InjectedFault { fault: head.fault.clone(), timing: head.fault.timing_on(endpoint, head.timing) };
        head.times -= 1;
        if head.times == 0 {
            queue.pop_front();
        }
        Some(injected)
    }

    /// How many requests to `endpoint` are still going to be hit.
    pub(crate) fn pending(&self, endpoint: Endpoint) -> usize {
        self.queues.get(&endpoint).map_or(0, |q| q.iter().map(|p| usize::try_from(p.times).unwrap_or(usize::MAX)).sum())
    }

    pub(crate) fn clear(&mut self) {
        self.queues.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_per_endpoint() {
        let mut q = FaultQueues::default();
        q.push(Endpoint::Refresh, Fault::Status(500).times(2));
        q.push(Endpoint::Refresh, Fault::DropConnection.before_effect());
        q.push(Endpoint::Login, Fault::GarbageBody.into());
        assert_eq!(q.pending(Endpoint::Refresh), 3);
        let next = |q: &mut FaultQueues| q.next(Endpoint::Refresh).map(|f| (f.fault, f.timing));
        assert_eq!(next(&mut q), Some((Fault::Status(500), FaultTiming::BeforeEffect)));
        assert_eq!(next(&mut q), Some((Fault::Status(500), FaultTiming::BeforeEffect)));
        assert_eq!(next(&mut q), Some((Fault::DropConnection, FaultTiming::BeforeEffect)));
        assert_eq!(next(&mut q), None);
        assert_eq!(q.pending(Endpoint::Login), 1);
        assert_eq!(q.next(Endpoint::Login).map(|f| f.timing), Some(FaultTiming::AfterEffect));
    }

    #[test]
    fn a_429_or_503_on_refresh_is_always_before_effect() {
        let mut q = FaultQueues::default();
        for fault in [Fault::Status(503), Fault::Status(429), Fault::unavailable(1), Fault::rate_limited(1)] {
            q.push(Endpoint::Refresh, fault.clone().after_effect());
            q.push(Endpoint::Login, fault.after_effect());
        }
        q.push(Endpoint::Refresh, Fault::RetryAfter { status: 0, seconds: 1 }.after_effect()); // sent as 503
        q.push(Endpoint::Refresh, Fault::Status(500).after_effect());
        q.push(Endpoint::Refresh, Fault::RetryAfter { status: 502, seconds: 1 }.after_effect());
        let timings = |q: &mut FaultQueues, e| std::iter::from_fn(|| q.next(e).map(|f| f.timing)).collect::<Vec<_>>();
        use FaultTiming::{AfterEffect, BeforeEffect};
        assert_eq!(
            timings(&mut q, Endpoint::Refresh),
            [BeforeEffect, BeforeEffect, BeforeEffect, BeforeEffect, BeforeEffect, AfterEffect, AfterEffect]
        );
        assert_eq!(timings(&mut q, Endpoint::Login), [AfterEffect; 4], "only refresh is special");
    }

    #[test]
    fn zero_times_is_a_no_op() {
        let mut q = FaultQueues::default();
        q.push(Endpoint::Api, Fault::SuccessFalse.times(0));
        assert_eq!(q.next(Endpoint::Api), None);
    }
}
