//! The `200` answer to `POST /mpic`: an Open MPIC 3.9 `CAAResponse` or
//! `DCVResponse` built from a [`Decision`], plus our evidence under the one
//! extra field `x_mpic`. Every response the tests produce is validated
//! against `coordinator/openapi/open-mpic-3.9.yaml`.
//!
//! # Mapping
//! | Open MPIC | from |
//! |---|---|
//! | `is_valid` | [`Decision::is_valid`]: quorum met in an attempt, on verified reports |
//! | `mpic_completed` | no more perspectives of the deciding attempt failed to complete than `perspective_count - quorum_count` allows (Open MPIC's rule), and the coordinator could form its cohorts |
//! | `domain_or_ip_target`, `request_orchestration_parameters`, `caa_check_parameters` / `dcv_check_parameters` | the request, echoed as sent with defaults filled in ([`super::echo`]) |
//! | `actual_orchestration_parameters` | perspectives per attempt, corroborations required, attempts made |
//! | `perspectives` | the deciding attempt's results: those with a verified report first, then the rest, each in cohort order |
//! | `previous_attempt_results` | the earlier attempts' results, ordered the same way (`[]` when there were none) |
//!
//! Per perspective, `{"perspective_code", "check_response": {...}}` as the
//! spec's schema and the reference server have it:
//! `check_passed` is true only for a verified report with verdict `pass`;
//! `check_completed` is true when a verified report says the perspective
//! looked (`pass` or `fail`), false when it could not look or no verified
//! report came back; `errors` is `null` on a pass, else one entry whose
//! `error_type` is `validation:<method>` (DCV not observed), `caa:forbidden`,
//! `caa:lookup_failed`, or `mpic:<reason>` (`timeout`, `unreachable`,
//! `bad_signature`, `stale`, `wrong_nonce`, `invalid_report`, `cancelled`,
//! ...); `timestamp_ns` is when the perspective finished, from its verified
//! report, else when the coordinator decided; `details` are in
//! [`super::details`].
//!
//! # `x_mpic`
//! `target` (the target as checked: lower case, no trailing dot), `quorum`
//! (BR 5.4.1 result of the deciding attempt, e.g. `5/6`), `reasons` (why not
//! valid; empty when valid) and `attempts`: every attempt's cohort, quorum
//! decision and tally, and per perspective its RIR and region (from
//! configuration), `status` (`corroborated`, `not_corroborated` with a typed
//! `reason`, `cancelled`), `detail`, `elapsed_ms`, the signed `report` exactly
//! as it arrived and, when it verified, its `verified` contents. With a
//! `[primary]`, `primary`: its verdict, reason, observation, resolvers, and
//! whether the remote perspectives corroborated it. `ignored_fields`: the
//! request's fields that were not used because the format does not define
//! them (a typo shows here). `orchestration_adjustments`: orchestration
//! values used otherwise than sent (a `max_attempts` above the cap, ...).

use mpic_core::check::{CheckParameters, CheckRequest, CheckType, DcvCheckParameters};
use mpic_core::quorum::NonCorroboration;
use mpic_core::report::Verdict;
use serde::Serialize;

use super::details::{self, Details};
use super::echo::Echo;
use crate::decision::{AttemptRecord, Decision, PerspectiveResult, PrimaryResult, ResultStatus};
use crate::orchestration::Adjustment;

/// An Open MPIC response body.
#[derive(Debug, Clone, Serialize)]
pub struct MpicResponse<'a> {
    pub check_type: CheckType,
    pub is_valid: bool,
    pub mpic_completed: bool,
    pub trace_identifier: Option<&'a str>,
    pub actual_orchestration_parameters: ActualOrchestration,
    pub perspectives: Vec<PerspectiveResponse>,
    pub previous_attempt_results: Vec<Vec<PerspectiveResponse>>,
    /// `domain_or_ip_target`, `request_orchestration_parameters` and the
    /// check parameters, as sent.
    #[serde(flatten)]
    pub echo: &'a Echo,
    pub x_mpic: Evidence<'a>,
}

/// `actual_orchestration_parameters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActualOrchestration {
    pub perspective_count: usize,
    pub quorum_count: usize,
    pub attempt_count: usize,
}

/// One item of `perspectives` (`PerspectiveResponsesCAA`/`...DCV`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerspectiveResponse {
    pub perspective_code: String,
    pub check_response: CheckResponse,
}

/// One perspective's check response (`CheckResponseCAA`/`CheckResponseDCV`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResponse {
    pub check_passed: bool,
    pub check_completed: bool,
    pub errors: Option<Vec<CheckError>>,
    pub timestamp_ns: u64,
    pub check_type: CheckType,
    pub details: Details,
}

/// One entry of `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckError {
    /// `type:subtype`, e.g. `validation:acme-dns-01`, `mpic:timeout`.
    pub error_type: String,
    pub error_message: String,
}

/// `x_mpic`: the evidence behind the decision.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence<'a> {
    pub target: &'a str,
    /// BR 5.4.1 quorum result of the deciding attempt, e.g. `5/6`.
    pub quorum: String,
    /// Why the check is not corroborated, one sentence each.
    pub reasons: Vec<String>,
    pub attempts: &'a [AttemptRecord],
    /// The primary perspective's own look, when `[primary]` is configured:
    /// the decision is valid only if it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<&'a PrimaryResult>,
    pub ignored_fields: &'a [String],
    pub orchestration_adjustments: &'a [Adjustment],
    /// The stored record of this decision (`GET /evidence/{id}`); absent
    /// only when `[evidence] enabled = false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_id: Option<&'a str>,
}

impl<'a> MpicResponse<'a> {
    /// The response for `decision` on `request`, echoing the request as `echo`
    /// has it; `ignored_fields` were set aside when reading it;
    /// `decided_at_ms` stands in for a perspective's timestamp when it sent
    /// no verified report.
    pub fn new(
        request: &'a CheckRequest,
        decision: &'a Decision,
        echo: &'a Echo,
        ignored_fields: &'a [String],
        decided_at_ms: u64,
    ) -> Self {
        let check_type = request.check_type();
        let dcv = match &request.parameters {
            CheckParameters::Dcv(params) => Some(params),
            CheckParameters::Caa(_) => None,
        };
        // Those that answered with a verified report first, each group in
        // cohort order: clients read `perspectives[0]`'s details (Open
        // MPIC's compliance suite does), and Open MPIC, which waits for
        // every answer, never puts a cancelled call there.
        let respond = |attempt: &AttemptRecord| -> Vec<PerspectiveResponse> {
            let mut results: Vec<&PerspectiveResult> = attempt.results.iter().collect();
            results.sort_by_key(|r| r.verified.is_none());
            results
                .into_iter()
                .map(|r| perspective_response(check_type, dcv, r, decided_at_ms))
                .collect()
        };
        let perspectives: Vec<PerspectiveResponse> =
            decision.final_attempt().map(respond).unwrap_or_default();
        // Open MPIC's quorum_count is always a number: with no attempt to
        // say, the most any attempt could have required.
        let quorum_count = decision
            .quorum_count()
            .unwrap_or(decision.perspective_count());
        let not_completed = perspectives
            .iter()
            .filter(|p| !p.check_response.check_completed)
            .count();
        let enough_completed = decision.quorum_count().is_some()
            && not_completed <= decision.perspective_count().saturating_sub(quorum_count);
        Self {
            check_type,
            is_valid: decision.is_valid(),
            mpic_completed: (decision.outcome() != crate::Outcome::Incomplete) && enough_completed,
            trace_identifier: request.trace_identifier.as_deref(),
            actual_orchestration_parameters: ActualOrchestration {
                perspective_count: decision.perspective_count(),
                quorum_count,
                attempt_count: decision.attempt_count(),
            },
            perspectives,
            previous_attempt_results: decision.previous_attempts().iter().map(respond).collect(),
            echo,
            x_mpic: Evidence {
                target: decision.target(),
                quorum: decision.tally().map(|t| t.to_string()).unwrap_or_default(),
                reasons: decision.reasons().iter().map(ToString::to_string).collect(),
                attempts: decision.attempts(),
                primary: decision.primary(),
                ignored_fields,
                orchestration_adjustments: decision.orchestration_adjustments(),
                evidence_id: None,
            },
        }
    }
}

fn perspective_response(
    check_type: CheckType,
    dcv: Option<&DcvCheckParameters>,
    result: &PerspectiveResult,
    decided_at_ms: u64,
) -> PerspectiveResponse {
    let verified = result.verified.as_ref();
    let check_passed = result.status == ResultStatus::Corroborated;
    PerspectiveResponse {
        perspective_code: result.perspective_id.clone(),
        check_response: CheckResponse {
            check_passed,
            check_completed: verified.is_some_and(|body| body.verdict != Verdict::Error),
            errors: (!check_passed).then(|| {
                vec![CheckError {
                    error_type: error_type(check_type, dcv, &result.status),
                    error_message: result
                        .detail
                        .clone()
                        .unwrap_or_else(|| result.status.summary()),
                }]
            }),
            timestamp_ns: verified
                .map_or(decided_at_ms, |body| body.finished_at_ms)
                .saturating_mul(1_000_000),
            check_type,
            details: details::details(check_type, dcv, verified),
        },
    }
}

/// `error_type` for a perspective that did not pass.
fn error_type(
    check_type: CheckType,
    dcv: Option<&DcvCheckParameters>,
    status: &ResultStatus,
) -> String {
    let reason = match status {
        ResultStatus::Corroborated => return "mpic:none".into(),
        ResultStatus::Cancelled => return "mpic:cancelled".into(),
        ResultStatus::NotCorroborated { reason } => reason,
    };
    match (reason, check_type, dcv) {
        (
            NonCorroboration::Mismatch { .. } | NonCorroboration::PerspectiveError { .. },
            CheckType::Dcv,
            Some(params),
        ) => format!("validation:{}", params.method().as_str()),
        (NonCorroboration::Mismatch { .. }, _, _) => "caa:forbidden".into(),
        (NonCorroboration::PerspectiveError { .. }, _, _) => "caa:lookup_failed".into(),
        (other, _, _) => format!("mpic:{}", reason_kind(other)),
    }
}

/// The serialised `kind` of a reason (`timeout`, `bad_signature`, ...).
pub fn reason_kind(reason: &NonCorroboration) -> &'static str {
    match reason {
        NonCorroboration::Timeout => "timeout",
        NonCorroboration::Unreachable { .. } => "unreachable",
        NonCorroboration::BadSignature => "bad_signature",
        NonCorroboration::Stale => "stale",
        NonCorroboration::WrongNonce => "wrong_nonce",
        NonCorroboration::UnknownPerspective => "unknown_perspective",
        NonCorroboration::InvalidReport { .. } => "invalid_report",
        NonCorroboration::PerspectiveError { .. } => "perspective_error",
        NonCorroboration::Mismatch { .. } => "mismatch",
    }
}

#[cfg(test)]
mod tests;
