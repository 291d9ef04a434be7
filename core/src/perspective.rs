//! One remote perspective's side of a check: what the coordinator sends
//! ([`CheckCall`]), running it over a [`Network`] ([`run`]), and the report
//! body the perspective signs ([`report_body`]).
//!
//! # Wire protocol (coordinator -> perspective)
//! `POST /v1/check` with a [`crate::request_auth::RequestEnvelope`] (JSON)
//! whose signed body is the JSON of a [`CheckCall`]. The perspective answers
//! `200` with a [`crate::report::SignedReport`] whose request digest is
//! [`crate::report::request_digest`] of exactly those body bytes and whose
//! nonce is the envelope's nonce. Failures to look (DNS timeout, HTTP error)
//! are signed reports with [`Verdict::Error`]; only requests the perspective
//! refuses to execute (unauthenticated, malformed, meant for another
//! perspective) get a non-200 answer.
//!
//! # Verdicts
//! | check | `Pass` | `Fail` (saw something else) | `Error` (could not look) |
//! |---|---|---|---|
//! | CAA | issuance permitted (incl. a BR 3.2.2.8 lookup failure that counts as permission) | forbidden by the Relevant RRset | lookup failed and does not count as permission |
//! | DCV | the method observed the expected value | observed something else | DNS/HTTP lookup failed, or the method cannot run here |

use serde::{Deserialize, Serialize};

use crate::caa::{self, CaaObservation, CaaOutcome, CaaRequest};
use crate::check::{CheckParameters, CheckRequest};
use crate::dcv::{self, DcvContext, DcvFailure, DcvObservation};
use crate::location::Location;
use crate::network::Network;
use crate::nonce::Nonce;
use crate::report::{DataCenter, Observation, ObservationError, ReportBody, Verdict};
use crate::rir::Rir;

/// The body a coordinator signs and sends to `POST /v1/check`.
///
/// One call per attempt: the coordinator signs it once and sends the same
/// envelope (one nonce) to every member of the cohort it names. Each
/// perspective's report binds that request's digest and nonce and names the
/// perspective, so a report still counts only for the perspective, attempt
/// and request it answers. (Call format 2; format 1 named one perspective
/// and was signed once per perspective.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckCall {
    /// The perspectives the coordinator means to reach (the attempt's
    /// cohort); a perspective refuses a call that does not name it, so a
    /// misrouted request is never answered under the wrong identity.
    pub perspective_ids: Vec<String>,
    /// Which attempt of the coordinator's this is (1-based), for logs.
    pub attempt: u32,
    /// The check, in Open MPIC request form. For CAA the coordinator fills
    /// `caa_check_parameters.caa_domains` with the CA's issuer domain names.
    pub check: CheckRequest,
}

impl CheckCall {
    /// Parses the exact bytes the coordinator signed.
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }

    /// Whether this call names the perspective `id`.
    pub fn is_for(&self, id: &str) -> bool {
        self.perspective_ids.iter().any(|named| named == id)
    }
}

/// What one run of a check produced, before signing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Pass, fail or error, by the table in the module documentation.
    pub verdict: Verdict,
    /// One line for people reading logs.
    pub reason: String,
    /// The [`CheckObservation`] as JSON, the exact text to be signed.
    pub observation: Observation,
}

/// What a perspective saw, as it goes into the signed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check_type", rename_all = "snake_case")]
pub enum CheckObservation {
    /// A CAA check ran: the climb, the Relevant RRset and the verdict.
    Caa(CaaObservation),
    /// A DCV check ran: the method's evidence and pass or failure.
    Dcv(DcvObservation),
    /// The perspective could not run the check at all (e.g. no CA identifiers
    /// for a CAA check); it says why instead of guessing.
    NotRun {
        /// Why the check could not run, for people reading logs.
        reason: String,
    },
}

/// Runs `call` over `network` and says what was seen.
///
/// `dcv_context` carries the clock and the HTTP limits and redirect policy
/// (production by default; a loopback test world relaxes only the ports).
pub async fn run<N: Network>(
    network: &N,
    call: &CheckCall,
    dcv_context: &DcvContext,
) -> Result<RunResult, ObservationError> {
    let check = &call.check;
    let observed = match &check.parameters {
        CheckParameters::Caa(params) => {
            let issuers: Vec<String> = params
                .caa_domains
                .iter()
                .flatten()
                .map(|d| d.as_str().to_owned())
                .collect();
            if issuers.is_empty() {
                CheckObservation::NotRun {
                    reason: "caa_check_parameters.caa_domains is empty: the perspective needs the CA's issuer domain names".into(),
                }
            } else {
                let request = CaaRequest {
                    domain: check.target.to_string(),
                    certificate_type: params.certificate_type_or_default(),
                    issuer_domain_names: issuers,
                    account_uri: params.x_account_uri.clone(),
                    validation_method: params.x_validation_method.clone(),
                    allow_lookup_failure: params.allow_lookup_failure.unwrap_or(false),
                };
                match caa::check(network, &request).await {
                    Ok(observation) => CheckObservation::Caa(observation),
                    Err(e) => CheckObservation::NotRun {
                        reason: format!("CAA request refused: {e}"),
                    },
                }
            }
        }
        CheckParameters::Dcv(params) => {
            CheckObservation::Dcv(dcv::check_dcv(network, &check.target, params, dcv_context).await)
        }
    };
    let (verdict, reason) = judge(&observed);
    Ok(RunResult {
        verdict,
        reason,
        observation: Observation::from_value(&observed)?,
    })
}

/// What a perspective reports when [`run`] did not finish within its own
/// per-check deadline (`deadline_ms`): a signed "could not look" that says
/// why is worth more to the coordinator than a call it has to time out.
pub fn deadline_passed(deadline_ms: u64) -> Result<RunResult, ObservationError> {
    let observed = CheckObservation::NotRun {
        reason: format!(
            "the check did not finish within this perspective's deadline ({deadline_ms} ms)"
        ),
    };
    let (verdict, reason) = judge(&observed);
    Ok(RunResult {
        verdict,
        reason,
        observation: Observation::from_value(&observed)?,
    })
}

/// The perspective's verdict on what it saw (see the module table).
pub fn judge(observed: &CheckObservation) -> (Verdict, String) {
    match observed {
        CheckObservation::Caa(caa) => match &caa.outcome {
            CaaOutcome::Permitted { reason } => (
                Verdict::Pass,
                format!("CAA permits issuance: {}", json_text(reason)),
            ),
            CaaOutcome::LookupFailurePermitted { .. } => (
                Verdict::Pass,
                "CAA lookup failed but counts as permission (BR 3.2.2.8: retried, outside the CA, DNSSEC-insecure)".into(),
            ),
            CaaOutcome::Forbidden { reason } => (
                Verdict::Fail,
                format!("CAA forbids issuance: {}", json_text(reason)),
            ),
            CaaOutcome::LookupFailed {
                failure,
                not_permission,
            } => (
                Verdict::Error,
                format!(
                    "CAA lookup failed: {}; not permission: {}",
                    json_text(failure),
                    not_permission.summary()
                ),
            ),
        },
        CheckObservation::Dcv(dcv) => match &dcv.failure {
            None => (
                Verdict::Pass,
                format!("{} observed the expected value", dcv.validation_method.as_str()),
            ),
            Some(failure) if failure.is_lookup_failure() => (
                Verdict::Error,
                format!("{} could not look: {}", dcv.validation_method.as_str(), json_text(failure)),
            ),
            // Nothing was looked at: say why in words, then the typed form.
            Some(failure @ DcvFailure::UnusableChallenge { .. }) => (
                Verdict::Fail,
                format!(
                    "{} cannot pass: {failure} ({})",
                    dcv.validation_method.as_str(),
                    json_text(failure)
                ),
            ),
            Some(failure) => (
                Verdict::Fail,
                format!("{} saw something else: {}", dcv.validation_method.as_str(), json_text(failure)),
            ),
        },
        CheckObservation::NotRun { reason } => (Verdict::Error, reason.clone()),
    }
}

/// Compact JSON of a typed reason, for the one-line `reason`.
fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("<unprintable: {e}>"))
}

/// Who this perspective is, as its reports state it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The perspective's configured id, e.g. `cf-fra`; a call must name it.
    pub perspective_id: String,
    /// The RIR service region it states it is in.
    pub rir: Rir,
    /// Where it states it is (region, optional coordinates).
    pub location: Location,
}

/// Where a perspective looked from, as its report states it besides its
/// configured [`Identity`]: the resolvers it asked and the data center that
/// ran the check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vantage {
    /// The resolvers asked (e.g. DoH URLs), in order of use.
    pub resolvers: Vec<String>,
    /// The data center that ran the check, when the platform says.
    pub data_center: Option<DataCenter>,
}

/// The report body for one run, ready for [`crate::report::sign`].
pub fn report_body(
    identity: &Identity,
    request_digest: [u8; 32],
    nonce: Nonce,
    vantage: Vantage,
    started_at_ms: u64,
    finished_at_ms: u64,
    result: RunResult,
) -> ReportBody {
    ReportBody {
        request_digest,
        nonce,
        perspective_id: identity.perspective_id.clone(),
        rir: identity.rir,
        location: identity.location.clone(),
        resolvers: vantage.resolvers,
        started_at_ms,
        finished_at_ms,
        verdict: result.verdict,
        reason: result.reason,
        observation: result.observation,
        data_center: vantage.data_center,
    }
}

#[cfg(test)]
mod tests;
