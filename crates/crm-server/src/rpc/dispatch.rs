//! Calling a method on behalf of an authenticated caller: the credential-kind and scope
//! checks and the call, timed. The HTTP layer and `batch` both come through here and get
//! back one [`Outcome`] (method, caller, decoded parameters, status, result or error,
//! timings), from which they build their answer and `time` object: the one place where a
//! journal records, faults strike and limits are charged.

use crate::rpc::limits::Operating;
use crate::rpc::{ApiError, Caller, Ctx, MethodSpec, Reply, Services};
use crate::wire::envelope::Time;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use std::sync::Arc;

/// What one call did: who called what with which parameters, and how it ended. Built
/// only by [`call`].
#[derive(Debug)]
pub struct Outcome {
    /// The method's canonical name.
    pub method: &'static str,
    /// Who called.
    pub caller: Arc<Caller>,
    /// The parameters as decoded from the request (or the batch command).
    pub params: Arc<Value>,
    /// Its reply or error.
    pub result: Result<Reply, ApiError>,
    /// The HTTP status this outcome answers with (200, or the error's).
    pub status: u16,
    /// When the call started, by the server's clock.
    pub started: DateTime<Utc>,
    /// When it finished, by the server's clock.
    pub finished: DateTime<Utc>,
    /// Seconds spent in the method (between two steady readings of the server's clock).
    pub processing: f64,
    /// What the emulated operating-time budget says after this call (limits on).
    pub operating: Option<Operating>,
}

impl Outcome {
    /// The envelope's `time` object for this call, counted from `since`: the request's
    /// arrival for a top-level call, the call's own start inside a `batch`.
    pub fn time(&self, since: DateTime<Utc>, tz: FixedOffset) -> Time {
        let mut time = Time::new(since, self.finished, self.processing, tz);
        if let Some(op) = self.operating {
            time.operating = op.spent;
            time.operating_reset_at = op.reset_at;
        }
        time
    }
}

/// Runs `spec` for `caller` with `params`; `parent` is the call this one is made from
/// (a `batch`), if any. The outcome is recorded in the journal when there is one.
pub async fn call(
    services: &Arc<Services>,
    caller: &Arc<Caller>,
    spec: &MethodSpec,
    params: Value,
    parent: Option<u64>,
) -> Outcome {
    let id = services.journal.as_ref().map_or(0, |j| j.next_id());
    let outcome = run(services, caller, spec, params, id, parent.is_none()).await;
    if let Some(journal) = &services.journal {
        journal.record(id, parent, &outcome);
    }
    if let Some(coverage) = &services.coverage {
        coverage.record(spec.name);
    }
    outcome
}

async fn run(
    services: &Arc<Services>,
    caller: &Arc<Caller>,
    spec: &MethodSpec,
    params: Value,
    call_id: u64,
    request: bool,
) -> Outcome {
    let started = services.clock.now();
    let mark = services.clock.monotonic();
    let params = Arc::new(params);
    // An injected fault strikes before anything else, so the call writes nothing.
    let mut fault = None;
    if let Some(strike) = services
        .faults
        .as_ref()
        .and_then(|f| f.strike(spec.name, caller))
    {
        if !strike.delay.is_zero() {
            tokio::time::sleep(strike.delay).await;
        }
        fault = strike.kind.error();
    }
    let limited = if fault.is_none() {
        services
            .limits
            .admit(caller, spec.name, started, request)
            .err()
    } else {
        None
    };
    let ran = fault.is_none() && limited.is_none();
    let result = if let Some(e) = fault.or(limited) {
        Err(e)
    } else if !spec.auth.admits(caller.auth.is_token()) {
        Err(ApiError::WrongAuthType)
    } else if let Some(scope) = spec.scope
        && !scope.granted_by(&caller.scopes)
    {
        Err(ApiError::InsufficientScope {
            token: caller.auth.is_token(),
        })
    } else {
        let ctx = Ctx {
            caller: Arc::clone(caller),
            services: Arc::clone(services),
            call_id,
        };
        spec.invoke(ctx, Arc::clone(&params)).await
    };
    let finished = services.clock.now();
    let processing = services
        .clock
        .monotonic()
        .saturating_sub(mark)
        .as_secs_f64();
    let operating = if ran {
        services
            .limits
            .charge(caller, spec.name, finished, processing)
    } else {
        None
    };
    Outcome {
        method: spec.name,
        caller: Arc::clone(caller),
        params,
        status: result.as_ref().map_or_else(ApiError::status, |_| 200),
        result,
        started,
        finished,
        processing,
        operating,
    }
}
