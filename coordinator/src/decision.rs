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
#[non_exhaustive]
pub enum ResultStatus {
    /// A verified report with verdict `pass`.
    Corroborated,
    /// No report, a report that did not verify, or a verdict other than `pass`.
    NotCorroborated {
        /// The typed reason (timeout, transport error, bad signature, other
        /// verdict, ...).
        reason: NonCorroboration,
    },
    /// Still pending when quorum became certain; its call was dropped (the
    /// result's `detail` says `cancelled: decision already certain`).
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
    /// The perspective's configured id.
    pub perspective_id: String,
    /// From configuration (what quorum counted), not from the report.
    pub rir: Rir,
    /// The free-text region label from configuration (empty when none).
    pub region: String,
    /// Whether it corroborated, and why not when it did not.
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
    /// Where this attempt's quorum ended up (`decision` on the wire, as
    /// responses and records have always written it).
    #[serde(rename = "decision")]
    pub status: quorum::Status,
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
    /// Whether this attempt met quorum ([`quorum::Status::Valid`]).
    pub fn is_valid(&self) -> bool {
        self.status == quorum::Status::Valid
    }

    /// BR 5.4.1 quorum result, e.g. `5/6`.
    pub fn quorum_result(&self) -> String {
        self.tally.to_string()
    }
}

/// What a whole check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The remote perspectives met quorum in an attempt (and the primary, if
    /// one is configured, passed): the only outcome that permits issuance.
    Corroborated,
    /// Every attempt ran and none was corroborated, or the primary refused.
    NotCorroborated,
    /// The coordinator could not run the check to its end (no cohort could
    /// be chosen): nothing was corroborated, and the fault is ours.
    Incomplete,
}

/// Why a check is not [`Outcome::Corroborated`]: one entry per attempt or
/// step that failed, in the order they happened (the primary's first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// `cohort_for_single_attempt` asked for a cohort after one that could
    /// not be chosen.
    #[error("cohort {cohort}: no cohort: {error}")]
    NoEarlierCohort {
        /// The number of the cohort that could not be chosen, from 1.
        cohort: u32,
        /// Why ([`CohortError`](crate::CohortError)'s text).
        error: String,
    },
    /// No cohort could be chosen for an attempt.
    #[error("attempt {attempt}: no cohort: {error}")]
    NoCohort {
        /// The attempt's number, from 1.
        attempt: u32,
        /// Why ([`CohortError`](crate::CohortError)'s text).
        error: String,
    },
    /// The check's deadline passed before another attempt could start.
    #[error("deadline of {deadline_ms} ms reached after {attempts} attempt(s)")]
    DeadlineReached {
        /// The configured deadline for the whole check, in milliseconds.
        deadline_ms: u64,
        /// How many attempts ran before it passed.
        attempts: usize,
    },
    /// An attempt's remote perspectives could not meet quorum.
    #[error("attempt {attempt} ({tally}): {reason}")]
    QuorumNotMet {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The attempt's counts when it was decided.
        tally: Tally,
        /// Which BR quorum rule failed.
        reason: quorum::InvalidReason,
    },
    /// The primary perspective did not pass (see [`crate::PrimaryPerspective`]).
    #[error("primary perspective ({verdict}): {reason}")]
    PrimaryDidNotPass {
        /// The primary's verdict, `fail` or `error`.
        verdict: Verdict,
        /// The primary's one-line reason.
        reason: String,
    },
    /// A reason a record written before reasons were typed holds as text
    /// (read back only; never made by a check).
    #[error("{text}")]
    AsWritten {
        /// The reason as the record wrote it.
        text: String,
    },
}

/// What a check decided, with every attempt's evidence (BR 5.4.1): each
/// perspective's result and signed report, the primary's own look, and why
/// it is not corroborated when it is not.
///
/// Made by [`crate::Coordinator::check`] (and, for tests only, by the
/// `testing` feature's made-up decisions); read through its accessors.
/// A decision read back from stored evidence is a [`RecordedDecision`],
/// never a `Decision`: evidence is re-verified, not trusted.
///
/// Serialised (for `mpic check --json` and the evidence store) with
/// `is_valid`, `mpic_completed`, `quorum` (the BR 5.4.1 quorum result, e.g.
/// `5/6`) and `quorum_count` spelled out beside `outcome`, as Open MPIC
/// clients and log readers expect them; reading a decision back ignores
/// them and derives them again.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub(crate) facts: Facts,
}

/// A decision's contents, in its serialised form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Facts {
    pub(crate) outcome: Outcome,
    /// `domain_or_ip_target`, normalised.
    pub(crate) target: String,
    pub(crate) check_type: CheckType,
    /// Empty when corroborated.
    #[serde(default)]
    pub(crate) reasons: Vec<Reason>,
    /// Perspectives per attempt.
    pub(crate) perspective_count: usize,
    /// In order; the last one decided.
    pub(crate) attempts: Vec<AttemptRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) primary: Option<PrimaryResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) orchestration_adjustments: Vec<Adjustment>,
    /// Results of the calls still running when the decision was made, as
    /// they arrive; never part of the decision.
    #[serde(skip)]
    pub(crate) stragglers: Stragglers,
}

impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Spelled<'a> {
            is_valid: bool,
            mpic_completed: bool,
            quorum: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            quorum_count: Option<usize>,
            #[serde(flatten)]
            facts: &'a Facts,
        }
        Spelled {
            is_valid: self.is_valid(),
            mpic_completed: self.outcome() != Outcome::Incomplete,
            quorum: self.tally().map(|t| t.to_string()).unwrap_or_default(),
            quorum_count: self.quorum_count(),
            facts: &self.facts,
        }
        .serialize(serializer)
    }
}

impl Decision {
    /// Corroborated, not corroborated, or not run to its end.
    pub fn outcome(&self) -> Outcome {
        self.facts.outcome
    }

    /// Whether the check permits issuance: [`Outcome::Corroborated`], never
    /// without that attempt's verified reports in [`Decision::attempts`].
    pub fn is_valid(&self) -> bool {
        self.facts.outcome == Outcome::Corroborated
    }

    /// `domain_or_ip_target`, normalised.
    pub fn target(&self) -> &str {
        &self.facts.target
    }

    /// Whether a CAA lookup or a domain control validation was checked.
    pub fn check_type(&self) -> CheckType {
        self.facts.check_type
    }

    /// The deciding attempt's counts (BR 5.4.1 quorum result, displayed as
    /// e.g. `5/6`); `None` when no attempt ran.
    pub fn tally(&self) -> Option<Tally> {
        self.final_attempt().map(|a| a.tally)
    }

    /// Corroborations the deciding attempt needed, when its policy applied.
    pub fn quorum_count(&self) -> Option<usize> {
        self.final_attempt().and_then(|a| a.required_corroborations)
    }

    /// Why it is not corroborated; empty when it is.
    pub fn reasons(&self) -> &[Reason] {
        &self.facts.reasons
    }

    /// Perspectives per attempt.
    pub fn perspective_count(&self) -> usize {
        self.facts.perspective_count
    }

    /// Every attempt, in order; the last one decided.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.facts.attempts
    }

    /// The primary network perspective's own check, when one is configured.
    pub fn primary(&self) -> Option<&PrimaryResult> {
        self.facts.primary.as_ref()
    }

    /// The request's orchestration values used otherwise than sent.
    pub fn orchestration_adjustments(&self) -> &[Adjustment] {
        &self.facts.orchestration_adjustments
    }

    /// The results of calls still running when it was decided, as they
    /// arrive (the first caller only; see [`Stragglers::take`]).
    pub fn stragglers(&self) -> &Stragglers {
        &self.facts.stragglers
    }

    /// The attempt that decided (Open MPIC `perspectives`).
    pub fn final_attempt(&self) -> Option<&AttemptRecord> {
        self.facts.attempts.last()
    }

    /// The attempts before it (Open MPIC `previous_attempt_results`).
    pub fn previous_attempts(&self) -> &[AttemptRecord] {
        match self.facts.attempts.split_last() {
            Some((_, previous)) => previous,
            None => &[],
        }
    }

    /// Open MPIC `attempt_count`.
    pub fn attempt_count(&self) -> usize {
        self.facts.attempts.len()
    }
}

/// A [`Decision`] read back from stored evidence: what was recorded, for
/// an auditor to re-verify (`mpic evidence verify` re-derives it from the
/// signed reports), never a verdict to act on.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedDecision(pub(crate) Decision);

impl RecordedDecision {
    /// The decision as recorded, unverified.
    pub fn as_recorded(&self) -> &Decision {
        &self.0
    }
}

impl Serialize for RecordedDecision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecordedDecision {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        as_written_before_outcomes(&mut value);
        Facts::deserialize(value)
            .map(|facts| Self(Decision { facts }))
            .map_err(serde::de::Error::custom)
    }
}

/// Reads a decision as records written before outcomes and typed reasons
/// hold it (the same record format, 1): the outcome from `is_valid` and
/// `mpic_completed`, each text reason as [`Reason::AsWritten`]. A record
/// that has an `outcome` is left as it is; one whose `is_valid` is not a
/// boolean is left for the reader to refuse.
fn as_written_before_outcomes(value: &mut serde_json::Value) {
    let Some(fields) = value.as_object_mut() else {
        return;
    };
    if !fields.contains_key("outcome")
        && let Some(is_valid) = fields.get("is_valid").and_then(serde_json::Value::as_bool)
    {
        let completed = fields
            .get("mpic_completed")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(true);
        let outcome = match (is_valid, completed) {
            (true, _) => "corroborated",
            (false, true) => "not_corroborated",
            (false, false) => "incomplete",
        };
        fields.insert("outcome".into(), outcome.into());
    }
    if let Some(serde_json::Value::Array(reasons)) = fields.get_mut("reasons") {
        for reason in reasons {
            if let serde_json::Value::String(text) = reason {
                *reason = serde_json::json!({"kind": "as_written", "text": text});
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// A perspective's result that arrived after its attempt was decided: kept
/// as evidence, never counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateResult {
    /// The number of the attempt that asked, from 1.
    pub attempt: u32,
    /// When it arrived (unix milliseconds).
    pub arrived_at_ms: u64,
    /// The perspective's result, judged as it would have been in time.
    pub result: PerspectiveResult,
}

/// Where a decision's [`LateResult`]s arrive: the channel closes when the
/// last call still running has answered or timed out. Whoever keeps the
/// evidence takes it once; a copy of the decision shares it.
#[derive(Debug, Clone, Default)]
pub struct Stragglers(Option<Arc<Mutex<Option<mpsc::UnboundedReceiver<LateResult>>>>>);

impl Stragglers {
    /// The late results that `receiver` will deliver.
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
    /// `pass` only when its own lookup permits issuance.
    pub verdict: Verdict,
    /// One line for people reading logs.
    pub reason: String,
    /// What it observed, in the same form as a report's observation; absent
    /// only when the observation itself could not be recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// The resolvers it asked.
    pub resolvers: Vec<String>,
    /// How long its check took, in milliseconds.
    pub elapsed_ms: u64,
    /// The primary passed and the remote perspectives met quorum.
    pub corroborated_by_remote: bool,
}
