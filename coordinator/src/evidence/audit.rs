//! Offline re-verification of stored records: what `mpic evidence verify`
//! runs. It trusts nothing the coordinator concluded. For each record it
//! checks the receipt's signature and hash, the listing columns against the
//! signed record, each attempt's signed request against the coordinator's
//! key and its cohort, every report counted as corroborating against the
//! recorded perspective key, that request's digest and nonce, and then
//! re-applies the quorum rules in force when the check began to the
//! outcomes the reports prove. Across records it checks each writer's hash
//! chain. Every failure names the part that failed.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use mpic_core::keys;
use mpic_core::perspective::CheckCall;
use mpic_core::quorum::{self, NonCorroboration, Requirements, Standing, Tally};
use mpic_core::report::{self, Expectations, Verdict};
use mpic_core::request_auth::{self, VerifiedRequest};

use super::prune_note;
use super::receipt::{self, GENESIS_HASH};
use super::record::{Columns, RecordBody};
use super::store::{ChainHead, PruneBoundary, StoredRecord};
use crate::decision::{AttemptRecord, PerspectiveResult, ResultStatus};

/// How far a report's or request's times may be from the decision's: the
/// decision was made within the call deadline of both, so a day is generous
/// and still ties them to that decision.
const TIME_WINDOW_MS: u64 = 86_400_000;

/// One thing about a record that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Finding {
    /// The receipt cannot be opened, or its signature does not verify with
    /// the coordinator key the record names.
    #[error("receipt: {0}")]
    Receipt(receipt::ReceiptError),
    /// The signed bytes are not JSON of the record format ([`RecordBody`]);
    /// holds the parse error. Nothing else of the record can be checked.
    #[error("receipt: the record inside is not a record of this format: {0}")]
    RecordUnreadable(String),
    /// The record's `coordinator_key` (given here as written) does not parse
    /// as an Ed25519 public key, so neither the receipt nor the requests can
    /// be verified.
    #[error("receipt: the coordinator key `{0}` is not an Ed25519 key")]
    CoordinatorKey(String),
    /// The record is signed by this coordinator key, which is not one the
    /// auditor trusts: anyone could have made it.
    #[error(
        "receipt: signed by {0}, which is not a trusted coordinator key (the configured key, [evidence] trusted_keys, --trusted-key)"
    )]
    UntrustedCoordinatorKey(String),
    /// The stored hash, which the next record's chain link names, is not the
    /// SHA-256 of the signed record: the record or the hash was altered.
    #[error("receipt: the stored hash is not the hash of the signed record")]
    HashMismatch,
    /// A listing column (what `mpic evidence list` filters on) differs from
    /// the signed record it is meant to copy.
    #[error("listing column {column} says {stored}, the signed record says {signed}")]
    ColumnDisagrees {
        /// The column's name, e.g. `target` or `is_valid`.
        column: &'static str,
        /// The column's value in the store.
        stored: String,
        /// The value in the signed record.
        signed: String,
    },
    /// An attempt's signed request envelope is missing while reports answer
    /// it, does not verify with the coordinator key, or asks for another
    /// check, attempt or cohort than the record says.
    #[error("attempt {attempt}: request envelope: {detail}")]
    Request {
        /// The attempt's number, from 1.
        attempt: u32,
        /// What is wrong with the request.
        detail: String,
    },
    /// A perspective counted as corroborating has no report that proves it:
    /// none recorded, its request did not verify, or the report does not
    /// verify or does not pass. The audit counts it as not corroborating.
    #[error("attempt {attempt}: report of {perspective}: {detail}")]
    Report {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The perspective's id.
        perspective: String,
        /// Why the report does not prove a corroboration.
        detail: String,
    },
    /// The BR quorum rules re-applied to what the reports prove give another
    /// tally or status than the attempt recorded (or the record names no
    /// quorum policy to apply).
    #[error("attempt {attempt}: quorum: recorded {recorded}, the reports give {recomputed}")]
    Quorum {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The recorded tally and quorum status.
        recorded: String,
        /// The tally and status recomputed from the verified reports.
        recomputed: String,
    },
    /// Whether the recorded decision is valid (its outcome is corroborated)
    /// is not what its attempts and the primary's verdict give (valid only if the last attempt met quorum and
    /// the primary, if any, passed).
    #[error("decision: recorded is_valid = {recorded}, the attempts and primary give {recomputed}")]
    Decision {
        /// The `is_valid` the record states.
        recorded: bool,
        /// The `is_valid` the audit derives.
        recomputed: bool,
    },
    /// An attempt's results are not exactly one per member of its cohort, in
    /// cohort order.
    #[error("attempt {attempt}: results: {detail}")]
    Results {
        /// The attempt's number, from 1.
        attempt: u32,
        /// How the results and the cohort differ.
        detail: String,
    },
    /// A result stored as arriving after the decision does not hold: its
    /// perspective was not still running then, it is a second one for the
    /// same call, or its report does not verify.
    #[error("late result of {perspective} in attempt {attempt}: {detail}")]
    Late {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The perspective's id.
        perspective: String,
        /// What is wrong with the late result.
        detail: String,
    },
}

/// What checking one record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAudit {
    /// The record's id (its listing column).
    pub id: String,
    /// Everything that does not hold; empty when the record passed.
    pub findings: Vec<Finding>,
    /// Signed requests and reports whose signatures verified.
    pub requests_verified: usize,
    /// Reports that verified and prove a counted corroboration.
    pub reports_verified: usize,
    /// Late results (arrived after the decision) whose reports verified.
    pub late_verified: usize,
}

impl RecordAudit {
    /// Whether the record has no findings.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A break in a writer's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// Sequence numbers are missing from the chain, and no trusted prune
    /// note accounts for them.
    #[error("writer {writer}: records {from}..={to} are missing (deleted, and not by prune)")]
    Missing {
        /// The writer (coordinator instance) whose chain it is.
        writer: String,
        /// The first missing sequence number.
        from: u64,
        /// The last missing sequence number, inclusive.
        to: u64,
    },
    /// A record's previous hash is not the hash of the record before it
    /// (or of the genesis or prune cut): that record or the one before was
    /// altered or replaced.
    #[error(
        "writer {writer}: record {sequence} ({id}) names a previous hash that is not record {}'s",
        sequence - 1
    )]
    Link {
        /// The writer whose chain it is.
        writer: String,
        /// The record's sequence number.
        sequence: u64,
        /// The record's id.
        id: String,
    },
    /// Two records claim the same place in the chain.
    #[error("writer {writer}: record {sequence} ({id}) appears more than once")]
    Duplicate {
        /// The writer whose chain it is.
        writer: String,
        /// The repeated sequence number.
        sequence: u64,
        /// The id of the second record found with it.
        id: String,
    },
    /// The stored chain head does not match the writer's last record, or a
    /// writer has records but no head (then `sequence` is 0).
    #[error(
        "writer {writer}: its chain head (record {sequence}) is not its last record (records deleted from the end, or the head altered)"
    )]
    Head {
        /// The writer whose chain it is.
        writer: String,
        /// The sequence number the stored head names; 0 when there is none.
        sequence: u64,
    },
    /// A prune note is not signed by a trusted key or cut records younger
    /// than BR 5.4.3's two years, so the records it removed count as missing.
    #[error(
        "writer {writer}: the prune note up to record {last_sequence} does not count: {detail}"
    )]
    Prune {
        /// The writer whose chain was pruned.
        writer: String,
        /// The last sequence number the note says was pruned.
        last_sequence: u64,
        /// Why the note does not count.
        detail: String,
    },
}

/// Checks one stored record against the coordinator keys an auditor
/// `trusted`; see the module documentation.
pub fn audit_record(stored: &StoredRecord, trusted: &[VerifyingKey]) -> RecordAudit {
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
    if let Some(key) = coordinator
        && !trusted.contains(&key)
    {
        audit.findings.push(Finding::UntrustedCoordinatorKey(
            body.coordinator_key.clone(),
        ));
    }
    let mut requests = BTreeMap::new();
    let mut valid_attempt = None;
    // The rules in force when the check began: the coordinator fixes them
    // before its first attempt, whose signed request carries that time. (A
    // check that spans a BR phase date keeps the rules it began under.)
    let mut rules_at = None;
    for attempt in body.decision.as_recorded().attempts() {
        let request = coordinator.and_then(|key| check_request(attempt, &key, &body, &mut audit));
        if let Some(request) = &request {
            requests.insert(attempt.attempt, request.clone());
            rules_at.get_or_insert(request.timestamp_ms);
        }
        let asked: Vec<&str> = attempt
            .results
            .iter()
            .map(|r| r.perspective_id.as_str())
            .collect();
        if asked
            != attempt
                .cohort
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        {
            audit.findings.push(Finding::Results {
                attempt: attempt.attempt,
                detail: format!(
                    "they are for {asked:?}, not one each for the cohort {:?}",
                    attempt.cohort
                ),
            });
        }
        let outcomes = attempt
            .results
            .iter()
            .map(|result| outcome(attempt, result, request.as_ref(), &keys, &body, &mut audit))
            .collect::<Vec<_>>();
        let rules_at = rules_at.unwrap_or(body.decided_at_ms);
        check_quorum(attempt, &outcomes, rules_at, &mut audit.findings);
        if attempt.is_valid() {
            valid_attempt = Some(attempt.attempt);
        }
    }
    let last_valid = body
        .decision
        .as_recorded()
        .attempts()
        .last()
        .is_some_and(|last| valid_attempt == Some(last.attempt));
    let primary_ok = body
        .decision
        .as_recorded()
        .primary()
        .is_none_or(|p| p.verdict == Verdict::Pass);
    let recomputed = last_valid && primary_ok;
    if body.decision.as_recorded().is_valid() != recomputed {
        audit.findings.push(Finding::Decision {
            recorded: body.decision.as_recorded().is_valid(),
            recomputed,
        });
    }
    let mut late_seen = std::collections::BTreeSet::new();
    for late in &stored.late {
        let perspective = late.result.perspective_id.clone();
        let cancelled = body
            .decision
            .as_recorded()
            .attempts()
            .iter()
            .find(|a| a.attempt == late.attempt)
            .and_then(|a| a.results.iter().find(|r| r.perspective_id == perspective))
            .is_some_and(|r| r.status == ResultStatus::Cancelled);
        let first = late_seen.insert((late.attempt, perspective.clone()));
        let detail = match (requests.get(&late.attempt), &late.result.report) {
            _ if !cancelled => Some(
                "its perspective was not one still running when the attempt was decided".to_owned(),
            ),
            _ if !first => Some("a second late result of the same call".to_owned()),
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
    let decision = &body.decision.as_recorded();
    match serde_json::from_slice::<CheckCall>(&verified.body) {
        Ok(call)
            if call.perspective_ids == attempt.cohort
                && call.attempt == attempt.attempt
                && call.check.target.to_string() == decision.target()
                && call.check.check_type() == decision.check_type() => {}
        Ok(call) => fail(format!(
            "asks for {} of {} in attempt {} of {:?}; the record says {} of {} in attempt {} of cohort {:?}",
            call.check.check_type().as_str(),
            call.check.target,
            call.attempt,
            call.perspective_ids,
            decision.check_type().as_str(),
            decision.target(),
            attempt.attempt,
            attempt.cohort
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
) -> Standing {
    match &result.status {
        ResultStatus::Cancelled => Standing::Pending { rir: result.rir },
        ResultStatus::NotCorroborated { reason } => Standing::NotCorroborated {
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
                    Standing::Corroborated { rir: result.rir }
                }
                Err(detail) => {
                    audit.findings.push(Finding::Report {
                        attempt: attempt.attempt,
                        perspective: result.perspective_id.clone(),
                        detail: detail.clone(),
                    });
                    Standing::NotCorroborated {
                        reason: NonCorroboration::PerspectiveError { detail },
                    }
                }
            }
        }
    }
}

fn check_quorum(
    attempt: &AttemptRecord,
    outcomes: &[Standing],
    rules_at_ms: u64,
    findings: &mut Vec<Finding>,
) {
    let Some(policy) = attempt.policy else {
        findings.push(Finding::Quorum {
            attempt: attempt.attempt,
            recorded: format!("{:?}", attempt.status),
            recomputed: "nothing: the record does not say which policy applied".into(),
        });
        return;
    };
    let requirements = Requirements::for_unix_ms(rules_at_ms);
    let recomputed = quorum::decide(policy, requirements, outcomes);
    let tally = Tally::of(outcomes);
    if recomputed != attempt.status || tally != attempt.tally {
        findings.push(Finding::Quorum {
            attempt: attempt.attempt,
            recorded: format!("{} {:?}", attempt.tally, attempt.status),
            recomputed: format!("{tally} {recomputed:?}"),
        });
    }
}

/// Checks writers' chains record by record, in (writer, sequence) order, so
/// that a store of any size is audited in pages: [`ChainAudit::add`] each
/// record, then [`ChainAudit::finish`] with the stored chain heads.
#[derive(Debug)]
pub struct ChainAudit {
    /// Per writer, where its chain may start: after its latest prune cut
    /// whose note verified.
    starts: BTreeMap<String, (u64, [u8; 32])>,
    /// The writer being read, and the sequence and hash the next record
    /// must continue from.
    current: Option<(String, u64, [u8; 32])>,
    /// Each writer's last record read: (sequence, hash).
    ends: BTreeMap<String, (u64, [u8; 32])>,
    breaks: Vec<ChainBreak>,
}

impl ChainAudit {
    /// `boundaries` are the prune notes; one counts only if a `trusted` key
    /// signed it and it cut nothing younger than BR 5.4.3's two years.
    pub fn new(boundaries: &[PruneBoundary], trusted: &[VerifyingKey]) -> Self {
        let mut starts: BTreeMap<String, (u64, [u8; 32])> = BTreeMap::new();
        let mut breaks = Vec::new();
        for b in boundaries {
            match prune_note::check(b, trusted) {
                Ok(()) => {
                    let start = (b.last_sequence + 1, b.last_hash);
                    let entry = starts.entry(b.writer.clone()).or_insert(start);
                    if start.0 > entry.0 {
                        *entry = start;
                    }
                }
                Err(detail) => breaks.push(ChainBreak::Prune {
                    writer: b.writer.clone(),
                    last_sequence: b.last_sequence,
                    detail,
                }),
            }
        }
        Self {
            starts,
            current: None,
            ends: BTreeMap::new(),
            breaks,
        }
    }

    /// The next record in (writer, sequence) order.
    pub fn add(&mut self, record: &StoredRecord) {
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
        let id = record.sealed.columns.id.clone();
        let (expected_sequence, expected_previous) = match &self.current {
            Some((w, next, previous)) if *w == writer => (*next, *previous),
            _ => self
                .starts
                .get(&writer)
                .copied()
                .unwrap_or((1, GENESIS_HASH)),
        };
        if sequence < expected_sequence {
            self.breaks.push(ChainBreak::Duplicate {
                writer,
                sequence,
                id,
            });
            return;
        }
        if sequence > expected_sequence {
            self.breaks.push(ChainBreak::Missing {
                writer: writer.clone(),
                from: expected_sequence,
                to: sequence - 1,
            });
        } else if body.as_ref().and_then(RecordBody::previous_hash_bytes) != Some(expected_previous)
        {
            self.breaks.push(ChainBreak::Link {
                writer: writer.clone(),
                sequence,
                id,
            });
        }
        let hash = receipt::hash(&record.sealed.record);
        self.ends.insert(writer.clone(), (sequence, hash));
        self.current = Some((writer, sequence + 1, hash));
    }

    /// The breaks found, with each writer's end checked against its stored
    /// chain head, so that records deleted from a chain's end show too.
    pub fn finish(mut self, heads: &[ChainHead]) -> Vec<ChainBreak> {
        for head in heads {
            let end = self
                .ends
                .get(&head.writer)
                .copied()
                .or_else(|| {
                    // Every record pruned: the chain ends at the cut.
                    self.starts
                        .get(&head.writer)
                        .map(|&(next, previous)| (next - 1, previous))
                })
                .unwrap_or((0, GENESIS_HASH));
            if end.0 < head.sequence {
                self.breaks.push(ChainBreak::Missing {
                    writer: head.writer.clone(),
                    from: end.0 + 1,
                    to: head.sequence,
                });
            } else if end != (head.sequence, head.hash) {
                self.breaks.push(ChainBreak::Head {
                    writer: head.writer.clone(),
                    sequence: head.sequence,
                });
            }
        }
        for writer in self.ends.keys() {
            if !heads.iter().any(|h| &h.writer == writer) {
                self.breaks.push(ChainBreak::Head {
                    writer: writer.clone(),
                    sequence: 0,
                });
            }
        }
        self.breaks
    }
}

/// Checks every writer's chain in `records` (any order) at once; see
/// [`ChainAudit`].
pub fn audit_chains(
    records: &[StoredRecord],
    boundaries: &[PruneBoundary],
    heads: &[ChainHead],
    trusted: &[VerifyingKey],
) -> Vec<ChainBreak> {
    let mut ordered: Vec<&StoredRecord> = records.iter().collect();
    ordered.sort_by(|a, b| {
        (&a.sealed.columns.writer, a.sealed.columns.sequence)
            .cmp(&(&b.sealed.columns.writer, b.sealed.columns.sequence))
    });
    let mut chains = ChainAudit::new(boundaries, trusted);
    for record in ordered {
        chains.add(record);
    }
    chains.finish(heads)
}
