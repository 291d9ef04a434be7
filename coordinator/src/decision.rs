//! What a check decided and why: every perspective's result with the signed
//! report it sent, per attempt, so a decision can be audited later (BR 5.4.1).

use std::sync::{Arc, Mutex, PoisonError};

use mpic_core::quorum::{self, NonCorroboration, Policy, Tally};
use mpic_core::report::{Observation, ReportBody, SignedReport, Verdict};
use mpic_core::request_auth::RequestEnvelope;
use mpic_core::rir::Rir;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::check_call::CheckType;
use crate::orchestration::Adjustment;

/// Why a perspective that was asked has no result.
pub const CANCELLED_DETAIL: &str = "cancelled: decision already certain";

/// Where one perspective ended up in one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ResultStatus {
    /// A verified report with verdict `pass`.
    Corroborated,
    /// No report, a report that did not verify, or a verdict other than `pass`.
    NotCorroborated { reason: NonCorroboration },
    /// Still pending when quorum became certain; its call was dropped (the
    /// result's `detail` says [`CANCELLED_DETAIL`]).
    Cancelled,
}

impl ResultStatus {
    /// Short form for log lines: `corroborated`, `not_corroborated:timeout`,
    /// `cancelled`.
    pub fn summary(&self) -> String {
        match self {
            ResultStatus::Corroborated => "corroborated".into(),
            ResultStatus::Cancelled => "cancelled".into(),
            ResultStatus::NotCorroborated { reason } => {
                let kind = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into());
                format!("not_corroborated:{kind}")
            }
        }
    }
}

/// One perspective's part in one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerspectiveResult {
    pub perspective_id: String,
    /// From configuration (what quorum counted), not from the report.
    pub rir: Rir,
    pub region: String,
    #[serde(flatten)]
    pub status: ResultStatus,
    /// Human-readable explanation (the full error, or the report's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Time from sending to the answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
    /// The report as received, verified or not (evidence either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<SignedReport>,
    /// The report's contents, present only when it verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<ReportBody>,
}

/// One attempt: one cohort, one set of nonces, one quorum decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1 for the first.
    pub attempt: u32,
    /// Perspective ids, in the order asked.
    pub cohort: Vec<String>,
    pub decision: quorum::Status,
    /// Counts when the decision was made; `pending` are the cancelled ones.
    pub tally: Tally,
    /// Corroborations this attempt needed, when the policy could apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_corroborations: Option<usize>,
    /// The quorum policy applied, so that the decision can be re-derived
    /// from the reports later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// The signed request every member was sent (absent only when it could
    /// not be built): each report's request digest and nonce are checked
    /// against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestEnvelope>,
    /// In cohort order.
    pub results: Vec<PerspectiveResult>,
}

impl AttemptRecord {
    pub fn is_valid(&self) -> bool {
        self.decision == quorum::Status::Valid
    }

    /// BR 5.4.1 quorum result, e.g. `5/6`.
    pub fn quorum_result(&self) -> String {
        self.tally.to_string()
    }
}

/// The outcome of a whole check, every attempt included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Quorum met in some attempt. Never true without that attempt's verified
    /// reports in `attempts`.
    pub is_valid: bool,
    /// False when the coordinator itself failed (no cohort could be chosen).
    pub mpic_completed: bool,
    pub target: String,
    pub check_type: CheckType,
    /// BR 5.4.1 quorum result of the last attempt, e.g. `5/6`.
    pub quorum: String,
    /// Why the check is not valid; empty when it is.
    pub reasons: Vec<String>,
    /// Perspectives per attempt.
    pub perspective_count: usize,
    /// Corroborations required in the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_count: Option<usize>,
    /// In order; the last one decided.
    pub attempts: Vec<AttemptRecord>,
    /// The primary network perspective's own check, when one ran
    /// (see [`crate::primary`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<PrimaryResult>,
    /// The request's orchestration values used otherwise than sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orchestration_adjustments: Vec<Adjustment>,
    /// Results of the calls still running when the decision was made, as
    /// they arrive; never part of the decision.
    #[serde(skip)]
    pub stragglers: Stragglers,
}

/// A perspective's result that arrived after its attempt was decided: kept
/// as evidence, never counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateResult {
    pub attempt: u32,
    pub arrived_at_ms: u64,
    pub result: PerspectiveResult,
}

/// Where a decision's [`LateResult`]s arrive: the channel closes when the
/// last call still running has answered or timed out. Whoever keeps the
/// evidence takes it once; a copy of the decision shares it.
#[derive(Debug, Clone, Default)]
pub struct Stragglers(Option<Arc<Mutex<Option<mpsc::UnboundedReceiver<LateResult>>>>>);

impl Stragglers {
    pub fn new(receiver: mpsc::UnboundedReceiver<LateResult>) -> Self {
        Self(Some(Arc::new(Mutex::new(Some(receiver)))))
    }

    /// The late results, the first time only.
    pub fn take(&self) -> Option<mpsc::UnboundedReceiver<LateResult>> {
        let shared = self.0.as_ref()?;
        // A poisoned lock still holds a receiver or nothing.
        shared.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Late results are not part of what was decided, so two decisions compare
/// equal whatever arrived after them.
impl PartialEq for Stragglers {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// What the primary network perspective (this host) saw, and whether the
/// remote perspectives corroborate it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrimaryResult {
    pub verdict: Verdict,
    /// One line for people reading logs.
    pub reason: String,
    /// What it observed, in the same form as a report's observation; absent
    /// only when the observation itself could not be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// The resolvers it asked.
    pub resolvers: Vec<String>,
    pub elapsed_ms: u64,
    /// The primary passed and the remote perspectives met quorum.
    pub corroborated_by_remote: bool,
}

impl Decision {
    /// The attempt that decided (Open MPIC `perspectives`).
    pub fn final_attempt(&self) -> Option<&AttemptRecord> {
        self.attempts.last()
    }

    /// The attempts before it (Open MPIC `previous_attempt_results`).
    pub fn previous_attempts(&self) -> &[AttemptRecord] {
        match self.attempts.split_last() {
            Some((_, previous)) => previous,
            None => &[],
        }
    }

    /// Open MPIC `attempt_count`.
    pub fn attempt_count(&self) -> usize {
        self.attempts.len()
    }
}
