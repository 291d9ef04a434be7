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
//! Calls are polled together in one task ([`FuturesUnordered`]). The
//! decision never waits for the ones still running when quorum is certain,
//! and they never count: their results in the attempt are marked
//! [`CANCELLED_DETAIL`]. With a [`LateSink`] they run on in a task of their
//! own until they answer or their deadline passes, and each is judged as any
//! answer is and sent to the sink as a [`LateResult`], so that the evidence
//! store keeps them ("arrived after the decision"). Without one they are
//! dropped. (The HTTP transport lets a dropped exchange finish in its own
//! task too, so that its connection is reused.)

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use mpic_core::name::DomainName;
use mpic_core::nonce::Nonce;
use mpic_core::quorum::{self, NonCorroboration, Policy, Requirements, Standing, Tally};
use mpic_core::report::{self, Expectations, ReportBody, SignedReport, Verdict};
use mpic_core::request_auth::{self, RequestEnvelope};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::check_call::{self, CheckCall};
use crate::clock;
use crate::config::PerspectiveConfig;
use crate::decision::{
    AttemptRecord, CANCELLED_DETAIL, LateResult, PerspectiveResult, ResultStatus,
};
use crate::transport::{CallError, PerspectiveTransport};
use mpic_core::check::CheckRequest;

/// Nonce length: the most `request_auth` allows.
const NONCE_BYTES: usize = Nonce::MAX_LEN;

/// Everything one attempt needs.
pub struct AttemptPlan<'a> {
    pub attempt: u32,
    pub members: Vec<&'a PerspectiveConfig>,
    pub request: &'a CheckRequest,
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

/// Where the results of calls still running at the decision go.
pub type LateSink = mpsc::UnboundedSender<LateResult>;

/// A request ready to send, with what its report must carry.
#[derive(Clone)]
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
        check: check_call::for_perspectives(plan.request, plan.caa_issuer_domains),
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
fn not_corroborated(reason: NonCorroboration) -> (Standing, ResultStatus) {
    (
        Standing::NotCorroborated {
            reason: reason.clone(),
        },
        ResultStatus::NotCorroborated { reason },
    )
}

/// What judging a report needs from the plan, owned, so that late answers
/// are judged exactly as the counted ones.
#[derive(Debug, Clone, Copy)]
struct Judging {
    max_report_age: Duration,
    max_future_skew: Duration,
}

impl Judging {
    fn of(plan: &AttemptPlan<'_>) -> Self {
        Self {
            max_report_age: plan.max_report_age,
            max_future_skew: plan.max_future_skew,
        }
    }
}

/// Judges one answer: what quorum counts, and the evidence kept.
fn judge(
    plan: Judging,
    perspective: &PerspectiveConfig,
    prepared: &Prepared,
    answer: Result<SignedReport, CallError>,
    elapsed: Duration,
) -> (Standing, PerspectiveResult) {
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
            Standing::Corroborated {
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
pub async fn run_attempt<T: PerspectiveTransport + 'static>(
    transport: &Arc<T>,
    plan: &AttemptPlan<'_>,
    late: Option<&LateSink>,
) -> AttemptRecord {
    let members = &plan.members;
    let mut outcomes: Vec<Standing> = members
        .iter()
        .map(|p| Standing::Pending { rir: p.rir })
        .collect();
    let mut results: Vec<Option<PerspectiveResult>> = vec![None; members.len()];

    let call_deadline = (Instant::now() + plan.call_timeout).min(plan.deadline);
    let prepared = prepare(plan);
    let judging = Judging::of(plan);
    let mut calls = FuturesUnordered::new();
    for (i, &perspective) in members.iter().enumerate() {
        match &prepared {
            Ok(prepared) => {
                // Owned, so that a call still running at the decision can
                // run on in a task of its own.
                let transport = Arc::clone(transport);
                let perspective = perspective.clone();
                let envelope = prepared.envelope.clone();
                calls.push(async move {
                    let sent = Instant::now();
                    let call = transport.call(&perspective, envelope, call_deadline);
                    let answer = match tokio::time::timeout_at(call_deadline, call).await {
                        Ok(answer) => answer,
                        Err(_) => Err(CallError::Timeout),
                    };
                    (i, answer, sent.elapsed())
                });
            }
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
    while decision == quorum::Status::Undecided {
        let (Some((i, answer, elapsed)), Ok(prepared)) = (calls.next().await, &prepared) else {
            break;
        };
        let (outcome, result) = judge(judging, members[i], prepared, answer, elapsed);
        outcomes[i] = outcome;
        results[i] = Some(result);
        decision = quorum::decide(plan.policy, plan.requirements, &outcomes);
    }
    match (late, &prepared) {
        (Some(sink), Ok(prepared)) if !calls.is_empty() => {
            let members: Vec<PerspectiveConfig> = members.iter().map(|&p| p.clone()).collect();
            run_on(
                calls,
                members,
                prepared.clone(),
                judging,
                plan.attempt,
                sink.clone(),
            );
        }
        // Cancels every call still running.
        _ => drop(calls),
    }

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
    if decision == quorum::Status::Undecided {
        // Every call answered, so `decide` cannot be undecided; if it ever
        // were, nothing has been proven: fail closed.
        decision = quorum::Status::Invalid(quorum::InvalidReason::TooFewCorroborations {
            possible: tally.corroborated,
            required: usize::MAX,
        });
    }
    AttemptRecord {
        attempt: plan.attempt,
        cohort: members.iter().map(|p| p.id.clone()).collect(),
        status: decision,
        tally,
        required_corroborations: plan.policy.required_corroborations(members.len()).ok(),
        policy: Some(plan.policy),
        request: prepared.ok().map(|p| p.envelope),
        results,
    }
}

/// Lets the calls still running at the decision finish in a task of their
/// own (each is bounded by its call deadline), and sends each judged answer
/// to `sink`. They never count: the attempt has already been decided.
fn run_on<F>(
    mut calls: FuturesUnordered<F>,
    members: Vec<PerspectiveConfig>,
    prepared: Prepared,
    judging: Judging,
    attempt: u32,
    sink: LateSink,
) where
    F: Future<Output = (usize, Result<SignedReport, CallError>, Duration)> + Send + 'static,
{
    tokio::spawn(async move {
        while let Some((i, answer, elapsed)) = calls.next().await {
            let Some(perspective) = members.get(i) else {
                continue;
            };
            let (_, result) = judge(judging, perspective, &prepared, answer, elapsed);
            let late = LateResult {
                attempt,
                arrived_at_ms: clock::now_ms(),
                result,
            };
            if sink.send(late).is_err() {
                // Nobody keeps late results for this check any more.
                return;
            }
        }
    });
}

#[cfg(test)]
pub(crate) mod tests;
