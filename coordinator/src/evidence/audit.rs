//! Offline re-verification of stored records: what `mpic evidence verify`
//! runs. It trusts nothing the coordinator concluded. For each record it
//! checks the receipt's signature and hash, the listing columns against the
//! signed record, each attempt's signed request against the coordinator's
//! key and its cohort, every report counted as corroborating against the
//! recorded perspective key, that request's digest and nonce, and then
//! re-applies the quorum rules in force on the record's date to the
//! outcomes the reports prove. Across records it checks each writer's hash
//! chain. Every failure names the part that failed.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use mpic_core::keys;
use mpic_core::perspective::CheckCall;
use mpic_core::quorum::{self, NonCorroboration, Outcome, Requirements, Tally};
use mpic_core::report::{self, Expectations, Verdict};
use mpic_core::request_auth::{self, VerifiedRequest};

use super::receipt::{self, GENESIS_HASH};
use super::record::{Columns, RecordBody, hex};
use super::store::{PruneBoundary, StoredRecord};
use crate::decision::{AttemptRecord, PerspectiveResult, ResultStatus};

/// How far a report's or request's times may be from the decision's: the
/// decision was made within the call deadline of both, so a day is generous
/// and still ties them to that decision.
const TIME_WINDOW_MS: u64 = 86_400_000;

/// One thing about a record that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    #[error("receipt: {0}")]
    Receipt(receipt::ReceiptError),
    #[error("receipt: the record inside is not a record of this format: {0}")]
    RecordUnreadable(String),
    #[error("receipt: the coordinator key `{0}` is not an Ed25519 key")]
    CoordinatorKey(String),
    #[error("receipt: the stored hash is not the hash of the signed record")]
    HashMismatch,
    #[error("listing column {column} says {stored}, the signed record says {signed}")]
    ColumnDisagrees {
        column: &'static str,
        stored: String,
        signed: String,
    },
    #[error("attempt {attempt}: request envelope: {detail}")]
    Request { attempt: u32, detail: String },
    #[error("attempt {attempt}: report of {perspective}: {detail}")]
    Report {
        attempt: u32,
        perspective: String,
        detail: String,
    },
    #[error("attempt {attempt}: quorum: recorded {recorded}, the reports give {recomputed}")]
    Quorum {
        attempt: u32,
        recorded: String,
        recomputed: String,
    },
    #[error("decision: recorded is_valid = {recorded}, the attempts and primary give {recomputed}")]
    Decision { recorded: bool, recomputed: bool },
    #[error("late result of {perspective} in attempt {attempt}: {detail}")]
    Late {
        attempt: u32,
        perspective: String,
        detail: String,
    },
}

/// What checking one record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAudit {
    pub id: String,
    pub findings: Vec<Finding>,
    /// Signed requests and reports whose signatures verified.
    pub requests_verified: usize,
    pub reports_verified: usize,
    pub late_verified: usize,
}

impl RecordAudit {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A break in a writer's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("writer {writer}: records {from}..={to} are missing (deleted, and not by prune)")]
    Missing { writer: String, from: u64, to: u64 },
    #[error(
        "writer {writer}: record {sequence} ({id}) names a previous hash that is not record {}'s",
        sequence - 1
    )]
    Link {
        writer: String,
        sequence: u64,
        id: String,
    },
    #[error("writer {writer}: record {sequence} ({id}) appears more than once")]
    Duplicate {
        writer: String,
        sequence: u64,
        id: String,
    },
}

/// Checks one stored record; see the module documentation.
pub fn audit_record(stored: &StoredRecord) -> RecordAudit {
    let mut audit = RecordAudit {
        id: stored.sealed.columns.id.clone(),
        findings: Vec::new(),
        requests_verified: 0,
        reports_verified: 0,
        late_verified: 0,
    };
    let Some(body) = read_body(stored, &mut audit.findings) else {
        return audit;
    };
    check_columns(&stored.sealed.columns, &body, &mut audit.findings);

    let keys = perspective_keys(&body);
    let coordinator = keys::parse_verifying_key(&body.coordinator_key).ok();
    let mut requests = BTreeMap::new();
    let mut valid_attempt = None;
    for attempt in &body.decision.attempts {
        let request = coordinator.and_then(|key| check_request(attempt, &key, &body, &mut audit));
        if let Some(request) = &request {
            requests.insert(attempt.attempt, request.clone());
        }
        let outcomes = attempt
            .results
            .iter()
            .map(|result| outcome(attempt, result, request.as_ref(), &keys, &body, &mut audit))
            .collect::<Vec<_>>();
        check_quorum(attempt, &outcomes, body.decided_at_ms, &mut audit.findings);
        if attempt.is_valid() {
            valid_attempt = Some(attempt.attempt);
        }
    }
    let last_valid = body
        .decision
        .attempts
        .last()
        .is_some_and(|last| valid_attempt == Some(last.attempt));
    let primary_ok = body
        .decision
        .primary
        .as_ref()
        .is_none_or(|p| p.verdict == Verdict::Pass);
    let recomputed = last_valid && primary_ok;
    if body.decision.is_valid != recomputed {
        audit.findings.push(Finding::Decision {
            recorded: body.decision.is_valid,
            recomputed,
        });
    }
    for late in &stored.late {
        let perspective = late.result.perspective_id.clone();
        let detail = match (requests.get(&late.attempt), &late.result.report) {
            (None, _) => Some("its attempt has no verified request".to_owned()),
            (_, None) => None, // a late error without a report proves nothing either way
            (Some(request), Some(signed)) => {
                match verify_report(signed, &perspective, request, &keys, body.decided_at_ms) {
                    Ok(_) => {
                        audit.late_verified += 1;
                        None
                    }
                    Err(detail) => Some(detail),
                }
            }
        };
        if let Some(detail) = detail {
            audit.findings.push(Finding::Late {
                attempt: late.attempt,
                perspective,
                detail,
            });
        }
    }
    audit
}

/// The record inside the receipt, after its signature and hash check.
fn read_body(stored: &StoredRecord, findings: &mut Vec<Finding>) -> Option<RecordBody> {
    let sealed = &stored.sealed;
    let json = match receipt::record_json(&sealed.record) {
        Ok(json) => json,
        Err(e) => {
            findings.push(Finding::Receipt(e));
            return None;
        }
    };
    let body: RecordBody = match serde_json::from_slice(json) {
        Ok(body) => body,
        Err(e) => {
            findings.push(Finding::RecordUnreadable(e.to_string()));
            return None;
        }
    };
    match keys::parse_verifying_key(&body.coordinator_key) {
        Ok(key) => {
            if let Err(e) = receipt::verify(&key, &sealed.record, &sealed.signature) {
                findings.push(Finding::Receipt(e));
            }
        }
        Err(_) => findings.push(Finding::CoordinatorKey(body.coordinator_key.clone())),
    }
    if receipt::hash(&sealed.record) != sealed.hash {
        findings.push(Finding::HashMismatch);
    }
    Some(body)
}

fn check_columns(stored: &Columns, body: &RecordBody, findings: &mut Vec<Finding>) {
    let signed = Columns::of(body);
    let mut differ = |column: &'static str, stored: String, signed: String| {
        if stored != signed {
            findings.push(Finding::ColumnDisagrees {
                column,
                stored,
                signed,
            });
        }
    };
    differ("id", stored.id.clone(), signed.id);
    differ("writer", stored.writer.clone(), signed.writer);
    differ(
        "sequence",
        stored.sequence.to_string(),
        signed.sequence.to_string(),
    );
    differ(
        "decided_at_ms",
        stored.decided_at_ms.to_string(),
        signed.decided_at_ms.to_string(),
    );
    differ("target", stored.target.clone(), signed.target);
    differ("check_type", stored.check_type.clone(), signed.check_type);
    differ(
        "is_valid",
        stored.is_valid.to_string(),
        signed.is_valid.to_string(),
    );
    differ(
        "client",
        format!("{:?}", stored.client),
        format!("{:?}", signed.client),
    );
}

fn perspective_keys(body: &RecordBody) -> BTreeMap<String, Option<VerifyingKey>> {
    body.perspective_keys
        .iter()
        .map(|(id, key)| (id.clone(), keys::parse_verifying_key(key).ok()))
        .collect()
}

/// The attempt's signed request, verified against the coordinator's key and
/// checked to name exactly the attempt's cohort.
fn check_request(
    attempt: &AttemptRecord,
    coordinator: &VerifyingKey,
    body: &RecordBody,
    audit: &mut RecordAudit,
) -> Option<VerifiedRequest> {
    let mut fail = |detail: String| {
        audit.findings.push(Finding::Request {
            attempt: attempt.attempt,
            detail,
        });
    };
    let Some(envelope) = &attempt.request else {
        if attempt.results.iter().any(|r| r.report.is_some()) {
            fail("missing, yet reports answer it".into());
        }
        return None;
    };
    let verified = match request_auth::verify_request(
        envelope,
        std::slice::from_ref(coordinator),
        body.decided_at_ms,
        TIME_WINDOW_MS,
    ) {
        Ok(verified) => verified,
        Err(e) => {
            fail(format!("does not verify with the coordinator key: {e}"));
            return None;
        }
    };
    match serde_json::from_slice::<CheckCall>(&verified.body) {
        Ok(call) if call.perspective_ids == attempt.cohort && call.attempt == attempt.attempt => {}
        Ok(call) => fail(format!(
            "names attempt {} and perspectives {:?}; the record says attempt {} and cohort {:?}",
            call.attempt, call.perspective_ids, attempt.attempt, attempt.cohort
        )),
        Err(e) => fail(format!("its body is not a check call: {e}")),
    }
    audit.requests_verified += 1;
    Some(verified)
}

fn verify_report(
    signed: &mpic_core::report::SignedReport,
    perspective: &str,
    request: &VerifiedRequest,
    keys: &BTreeMap<String, Option<VerifyingKey>>,
    decided_at_ms: u64,
) -> Result<mpic_core::report::ReportBody, String> {
    let Some(Some(key)) = keys.get(perspective) else {
        return Err("no usable key for it is recorded".into());
    };
    let digest = request.request_digest();
    let expect = Expectations {
        perspective_id: perspective,
        key,
        nonce: &request.nonce,
        request_digest: &digest,
        now_ms: decided_at_ms,
        max_age_ms: TIME_WINDOW_MS,
        max_future_skew_ms: TIME_WINDOW_MS,
    };
    report::verify(signed, &expect).map_err(|e| e.to_string())
}

/// What quorum may count for `result`: a corroboration only when its report
/// proves it; non-corroborations as recorded (they can only make a decision
/// stricter).
fn outcome(
    attempt: &AttemptRecord,
    result: &PerspectiveResult,
    request: Option<&VerifiedRequest>,
    keys: &BTreeMap<String, Option<VerifyingKey>>,
    body: &RecordBody,
    audit: &mut RecordAudit,
) -> Outcome {
    match &result.status {
        ResultStatus::Cancelled => Outcome::Pending { rir: result.rir },
        ResultStatus::NotCorroborated { reason } => Outcome::NotCorroborated {
            reason: reason.clone(),
        },
        ResultStatus::Corroborated => {
            let proof = match (request, &result.report) {
                (None, _) => Err("counted as corroborating, but its request did not verify".into()),
                (_, None) => Err("counted as corroborating, but no report is recorded".into()),
                (Some(request), Some(signed)) => verify_report(
                    signed,
                    &result.perspective_id,
                    request,
                    keys,
                    body.decided_at_ms,
                )
                .and_then(|report| match report.verdict {
                    Verdict::Pass => Ok(()),
                    other => Err(format!(
                        "counted as corroborating, but its verdict is {other:?}"
                    )),
                }),
            };
            match proof {
                Ok(()) => {
                    audit.reports_verified += 1;
                    Outcome::Corroborated { rir: result.rir }
                }
                Err(detail) => {
                    audit.findings.push(Finding::Report {
                        attempt: attempt.attempt,
                        perspective: result.perspective_id.clone(),
                        detail: detail.clone(),
                    });
                    Outcome::NotCorroborated {
                        reason: NonCorroboration::PerspectiveError { detail },
                    }
                }
            }
        }
    }
}

fn check_quorum(
    attempt: &AttemptRecord,
    outcomes: &[Outcome],
    decided_at_ms: u64,
    findings: &mut Vec<Finding>,
) {
    let Some(policy) = attempt.policy else {
        findings.push(Finding::Quorum {
            attempt: attempt.attempt,
            recorded: format!("{:?}", attempt.decision),
            recomputed: "nothing: the record does not say which policy applied".into(),
        });
        return;
    };
    let requirements = Requirements::for_unix_ms(decided_at_ms);
    let recomputed = quorum::decide(policy, requirements, outcomes);
    let tally = Tally::of(outcomes);
    if recomputed != attempt.decision || tally != attempt.tally {
        findings.push(Finding::Quorum {
            attempt: attempt.attempt,
            recorded: format!("{} {:?}", attempt.tally, attempt.decision),
            recomputed: format!("{tally} {recomputed:?}"),
        });
    }
}

/// A record's place in its writer's chain: its sequence, the record, and
/// its body when it could be read.
type ChainLink<'a> = (u64, &'a StoredRecord, Option<RecordBody>);

/// Checks every writer's chain in `records`; `boundaries` say where prune
/// legitimately cut one.
pub fn audit_chains(records: &[StoredRecord], boundaries: &[PruneBoundary]) -> Vec<ChainBreak> {
    let mut by_writer: BTreeMap<String, Vec<ChainLink<'_>>> = BTreeMap::new();
    for record in records {
        let body = receipt::record_json(&record.sealed.record)
            .ok()
            .and_then(|json| serde_json::from_slice::<RecordBody>(json).ok());
        let (writer, sequence) = match &body {
            Some(b) => (b.writer.clone(), b.sequence),
            None => (
                record.sealed.columns.writer.clone(),
                record.sealed.columns.sequence,
            ),
        };
        by_writer
            .entry(writer)
            .or_default()
            .push((sequence, record, body));
    }
    let mut breaks = Vec::new();
    for (writer, mut chain) in by_writer {
        let writer = writer.as_str();
        chain.sort_by_key(|(sequence, ..)| *sequence);
        // Where this chain may start: after the latest prune boundary.
        let (mut expected_sequence, mut expected_previous) = boundaries
            .iter()
            .filter(|b| b.writer == writer)
            .max_by_key(|b| b.last_sequence)
            .map_or((1, GENESIS_HASH), |b| (b.last_sequence + 1, b.last_hash));
        for (sequence, record, body) in chain {
            let id = record.sealed.columns.id.clone();
            if sequence < expected_sequence {
                breaks.push(ChainBreak::Duplicate {
                    writer: writer.to_owned(),
                    sequence,
                    id,
                });
                continue;
            }
            if sequence > expected_sequence {
                breaks.push(ChainBreak::Missing {
                    writer: writer.to_owned(),
                    from: expected_sequence,
                    to: sequence - 1,
                });
            } else if body.as_ref().and_then(RecordBody::previous_hash_bytes)
                != Some(expected_previous)
            {
                breaks.push(ChainBreak::Link {
                    writer: writer.to_owned(),
                    sequence,
                    id,
                });
            }
            expected_sequence = sequence + 1;
            expected_previous = receipt::hash(&record.sealed.record);
        }
    }
    breaks
}

/// `hex` of a record's hash, for people.
pub fn hash_text(hash: &[u8; 32]) -> String {
    hex(hash)
}
