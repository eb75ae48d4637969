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

    /// Applies the fault after the request had its effect.
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
        let injected = InjectedFault {
            fault: head.fault.clone(),
            timing: head.timing.unwrap_or_else(|| head.fault.default_timing()),
        };
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
    fn zero_times_is_a_no_op() {
        let mut q = FaultQueues::default();
        q.push(Endpoint::Api, Fault::SuccessFalse.times(0));
        assert_eq!(q.next(Endpoint::Api), None);
    }
}
