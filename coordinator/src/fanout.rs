//! One attempt: send the check to every member of a cohort at once, verify
//! each report as it arrives, and stop the moment BR 3.2.2.9 quorum is
//! certain either way.
//!
//! An attempt signs one request (call format 2: the body names every member
//! of the cohort; one fresh nonce) and sends the same envelope to each
//! member: one Ed25519 signature per attempt instead of one per perspective.
//! Each report binds that request's digest and nonce and names its
//! perspective, and is believed only after [`report::verify`] against that
//! member's configured key, so it counts only for the perspective, attempt
//! and request it answers. The RIR that quorum counts is the configured one.
//!
//! Calls are polled together in one task ([`FuturesUnordered`]); returning
//! drops the ones still running: the decision never waits for them and they
//! never count. Their results are marked [`CANCELLED_DETAIL`]. (The HTTP
//! transport lets such an exchange finish in its own task, bounded by the
//! call's deadline, so that its connection is reused.)

use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use mpic_core::name::DomainName;
use mpic_core::nonce::Nonce;
use mpic_core::quorum::{self, NonCorroboration, Outcome, Policy, Requirements, Tally};
use mpic_core::report::{self, Expectations, ReportBody, SignedReport, Verdict};
use mpic_core::request_auth::{self, RequestEnvelope};
use tokio::time::Instant;

use crate::check_call::{CheckCall, CheckSpec};
use crate::clock;
use crate::config::PerspectiveConfig;
use crate::evidence::{AttemptRecord, CANCELLED_DETAIL, PerspectiveResult, ResultStatus};
use crate::transport::{CallError, PerspectiveTransport};

/// Nonce length: the most `request_auth` allows.
const NONCE_BYTES: usize = Nonce::MAX_LEN;

/// Everything one attempt needs.
pub struct AttemptPlan<'a> {
    pub attempt: u32,
    pub members: Vec<&'a PerspectiveConfig>,
    pub spec: &'a CheckSpec,
    pub signing_key: &'a SigningKey,
    pub caa_issuer_domains: &'a [DomainName],
    pub policy: Policy,
    pub requirements: Requirements,
    /// Per call.
    pub call_timeout: Duration,
    /// The whole check's deadline; no call runs past it.
    pub deadline: Instant,
    pub max_report_age: Duration,
    pub max_future_skew: Duration,
}

/// A request ready to send, with what its report must carry.
struct Prepared {
    envelope: RequestEnvelope,
    nonce: Nonce,
    request_digest: [u8; 32],
}

fn fresh_nonce() -> Result<Nonce, CallError> {
    let mut bytes = vec![0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| CallError::Prepare(format!("no randomness: {e}")))?;
    Nonce::new(bytes).map_err(|e| CallError::Prepare(e.to_string()))
}

/// The attempt's one signed request, naming every member.
fn prepare(plan: &AttemptPlan<'_>) -> Result<Prepared, CallError> {
    let call = CheckCall {
        perspective_ids: plan.members.iter().map(|p| p.id.clone()).collect(),
        attempt: plan.attempt,
        check: plan.spec.for_perspectives(plan.caa_issuer_domains),
    };
    let body = serde_json::to_vec(&call).map_err(|e| CallError::Prepare(e.to_string()))?;
    let nonce = fresh_nonce()?;
    let envelope = request_auth::sign_request(plan.signing_key, &body, &nonce, clock::now_ms())
        .map_err(|e| CallError::Prepare(e.to_string()))?;
    Ok(Prepared {
        envelope,
        nonce,
        request_digest: report::request_digest(&body),
    })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The evidence kept for one perspective.
fn evidence(
    perspective: &PerspectiveConfig,
    status: ResultStatus,
    detail: String,
    elapsed: Option<Duration>,
    report: Option<SignedReport>,
    verified: Option<ReportBody>,
) -> PerspectiveResult {
    PerspectiveResult {
        perspective_id: perspective.id.clone(),
        rir: perspective.rir,
        region: perspective.region.clone(),
        status,
        detail: Some(detail),
        elapsed_ms: elapsed.map(millis),
        report,
        verified,
    }
}

/// A non-corroboration as quorum counts it and as the evidence records it.
fn not_corroborated(reason: NonCorroboration) -> (Outcome, ResultStatus) {
    (
        Outcome::NotCorroborated {
            reason: reason.clone(),
        },
        ResultStatus::NotCorroborated { reason },
    )
}

/// Judges one answer: what quorum counts, and the evidence kept.
fn judge(
    plan: &AttemptPlan<'_>,
    perspective: &PerspectiveConfig,
    prepared: &Prepared,
    answer: Result<SignedReport, CallError>,
    elapsed: Duration,
) -> (Outcome, PerspectiveResult) {
    let signed = match answer {
        Ok(signed) => signed,
        Err(e) => {
            let (outcome, status) = not_corroborated(NonCorroboration::from(&e));
            let result = evidence(
                perspective,
                status,
                e.to_string(),
                Some(elapsed),
                None,
                None,
            );
            return (outcome, result);
        }
    };
    let expect = Expectations {
        perspective_id: &perspective.id,
        key: &perspective.public_key,
        nonce: &prepared.nonce,
        request_digest: &prepared.request_digest,
        now_ms: clock::now_ms(),
        max_age_ms: millis(plan.max_report_age),
        max_future_skew_ms: millis(plan.max_future_skew),
    };
    let body = match report::verify(&signed, &expect) {
        Ok(body) => body,
        Err(e) => {
            let (outcome, status) = not_corroborated(NonCorroboration::from(&e));
            let result = evidence(
                perspective,
                status,
                e.to_string(),
                Some(elapsed),
                Some(signed),
                None,
            );
            return (outcome, result);
        }
    };
    let (outcome, status) = match body.verdict {
        Verdict::Pass => (
            Outcome::Corroborated {
                rir: perspective.rir,
            },
            ResultStatus::Corroborated,
        ),
        Verdict::Fail => not_corroborated(NonCorroboration::Mismatch {
            detail: body.reason.clone(),
        }),
        Verdict::Error => not_corroborated(NonCorroboration::PerspectiveError {
            detail: body.reason.clone(),
        }),
    };
    let detail = body.reason.clone();
    let result = evidence(
        perspective,
        status,
        detail,
        Some(elapsed),
        Some(signed),
        Some(body),
    );
    (outcome, result)
}

/// Runs one attempt to a decision; see the module documentation.
pub async fn run_attempt<T: PerspectiveTransport + ?Sized>(
    transport: &T,
    plan: &AttemptPlan<'_>,
) -> AttemptRecord {
    let members = &plan.members;
    let mut outcomes: Vec<Outcome> = members
        .iter()
        .map(|p| Outcome::Pending { rir: p.rir })
        .collect();
    let mut results: Vec<Option<PerspectiveResult>> = vec![None; members.len()];

    let call_deadline = (Instant::now() + plan.call_timeout).min(plan.deadline);
    let prepared = prepare(plan);
    let mut calls = FuturesUnordered::new();
    for (i, &perspective) in members.iter().enumerate() {
        match &prepared {
            Ok(prepared) => calls.push(async move {
                let sent = Instant::now();
                let call = transport.call(perspective, prepared.envelope.clone(), call_deadline);
                let answer = match tokio::time::timeout_at(call_deadline, call).await {
                    Ok(answer) => answer,
                    Err(_) => Err(CallError::Timeout),
                };
                (i, prepared, answer, sent.elapsed())
            }),
            Err(e) => {
                let (outcome, status) = not_corroborated(NonCorroboration::from(e));
                outcomes[i] = outcome;
                results[i] = Some(evidence(
                    perspective,
                    status,
                    e.to_string(),
                    None,
                    None,
                    None,
                ));
            }
        }
    }

    let mut decision = quorum::decide(plan.policy, plan.requirements, &outcomes);
    while decision == quorum::Decision::Undecided {
        let Some((i, prepared, answer, elapsed)) = calls.next().await else {
            break;
        };
        let (outcome, result) = judge(plan, members[i], prepared, answer, elapsed);
        outcomes[i] = outcome;
        results[i] = Some(result);
        decision = quorum::decide(plan.policy, plan.requirements, &outcomes);
    }
    // Cancels every call still running.
    drop(calls);

    let tally = Tally::of(&outcomes);
    let results = results
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            result.unwrap_or_else(|| {
                let detail = CANCELLED_DETAIL.to_owned();
                evidence(
                    members[i],
                    ResultStatus::Cancelled,
                    detail,
                    None,
                    None,
                    None,
                )
            })
        })
        .collect();
    if decision == quorum::Decision::Undecided {
        // Every call answered, so `decide` cannot be undecided; if it ever
        // were, nothing has been proven: fail closed.
        decision = quorum::Decision::Invalid(quorum::InvalidReason::TooFewCorroborations {
            possible: tally.corroborated,
            required: usize::MAX,
        });
    }
    AttemptRecord {
        attempt: plan.attempt,
        cohort: members.iter().map(|p| p.id.clone()).collect(),
        decision,
        tally,
        required_corroborations: plan.policy.required_corroborations(members.len()).ok(),
        results,
    }
}

#[cfg(test)]
pub(crate) mod tests;
