//! What one decision record holds, and how a decision becomes one.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use mpic_core::keys;
use serde::{Deserialize, Serialize};

use super::receipt::{self, ReceiptError};
use crate::config::PerspectiveConfig;
use crate::decision::{Decision, RecordedDecision};

/// The record format this build writes.
pub const RECORD_FORMAT: u32 = 1;

/// Everything kept about one decision, as the coordinator signs it. The
/// BR 5.4.1 items are in `decision`: each attempt's cohort, each
/// perspective's result with its signed report, and the quorum result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// The record format, [`RECORD_FORMAT`] (1) for what this build writes.
    pub format: u32,
    /// Random, 32 hex digits; what `GET /evidence/{id}` and the CLI take.
    pub id: String,
    /// Whose chain this record continues ([`crate::EvidenceConfig::writer`]).
    pub writer: String,
    /// 1 for a writer's first record, then one more each time.
    pub sequence: u64,
    /// Hex SHA-256 of the writer's previous record's signed bytes (64 zeros
    /// for the first).
    pub previous_hash: String,
    /// When the decision was made (unix milliseconds): the quorum rules in
    /// force then are the ones it is checked against.
    pub decided_at_ms: u64,
    /// The API key's name that asked, when the API did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The request exactly as received (for the CLI: the request it built).
    pub request: String,
    /// Hex SHA-256 of the configuration file the coordinator ran with.
    pub config_digest: String,
    /// The key that signed every request envelope and this record.
    pub coordinator_key: String,
    /// The configured key of every perspective asked, by id: the keys each
    /// report is checked with.
    pub perspective_keys: BTreeMap<String, String>,
    /// The decision with its attempts, results, signed requests and signed
    /// reports (without their decoded bodies: [`without_decoded_reports`]).
    pub decision: RecordedDecision,
}

impl RecordBody {
    /// `previous_hash` as its 32 bytes; `None` when it is not 64 lower-case
    /// hex digits.
    pub fn previous_hash_bytes(&self) -> Option<[u8; 32]> {
        let bytes = hex_decode(&self.previous_hash)?;
        bytes.try_into().ok()
    }
}

/// The keys a record names, in their text form, made once per recorder
/// rather than once per record.
#[derive(Debug, Clone)]
pub struct KeyTexts {
    /// The coordinator's verifying key.
    pub coordinator: String,
    /// Every configured perspective's key, by id.
    pub perspectives: BTreeMap<String, String>,
}

impl KeyTexts {
    /// The text form (`ed25519:…`) of `coordinator`'s verifying key and of
    /// every perspective's configured key.
    pub fn new(coordinator: &SigningKey, perspectives: &[PerspectiveConfig]) -> Self {
        Self {
            coordinator: keys::format_verifying_key(&coordinator.verifying_key()),
            perspectives: perspectives
                .iter()
                .map(|p| (p.id.clone(), keys::format_verifying_key(&p.public_key)))
                .collect(),
        }
    }
}

/// A decision on its way to the store; the store adds the chain fields.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The record's new random id, 32 hex digits.
    pub id: String,
    /// When the decision was made (unix milliseconds).
    pub decided_at_ms: u64,
    /// The API key's name that asked; `None` when the API did not (the CLI).
    pub client: Option<String>,
    /// The request as received.
    pub request: String,
    /// Hex SHA-256 of the configuration file.
    pub config_digest: String,
    /// The coordinator's verifying key, `ed25519:…`.
    pub coordinator_key: String,
    /// The key of every perspective the decision asked, by id.
    pub perspective_keys: BTreeMap<String, String>,
    /// The decision, without its decoded report bodies.
    pub decision: Decision,
}

impl Draft {
    /// The draft of `decision`, with the keys of every perspective it asked
    /// (from `keys`).
    pub fn new(
        decision: &Decision,
        context: RecordContext,
        keys: &KeyTexts,
        config_digest: &str,
    ) -> Result<Self, ReceiptError> {
        let perspective_keys = decision
            .attempts()
            .iter()
            .flat_map(|a| a.cohort.iter())
            .filter_map(|id| Some((id.clone(), keys.perspectives.get(id)?.clone())))
            .collect();
        let mut decision = decision.clone();
        without_decoded_reports(&mut decision);
        Ok(Self {
            id: new_record_id().map_err(|_| ReceiptError::Malformed("no randomness"))?,
            decided_at_ms: context.decided_at_ms,
            client: context.client,
            request: context.request,
            config_digest: config_digest.to_owned(),
            coordinator_key: keys.coordinator.clone(),
            perspective_keys,
            decision,
        })
    }

    /// Signs the draft as the record after `previous` in `writer`'s chain.
    pub fn seal(
        self,
        writer: &str,
        sequence: u64,
        previous: &[u8; 32],
        key: &SigningKey,
    ) -> Result<Sealed, ReceiptError> {
        let body = RecordBody {
            format: RECORD_FORMAT,
            id: self.id,
            writer: writer.to_owned(),
            sequence,
            previous_hash: hex(previous),
            decided_at_ms: self.decided_at_ms,
            client: self.client,
            request: self.request,
            config_digest: self.config_digest,
            coordinator_key: self.coordinator_key,
            perspective_keys: self.perspective_keys,
            decision: RecordedDecision(self.decision),
        };
        let json = serde_json::to_vec(&body)
            .map_err(|_| ReceiptError::Malformed("the record does not serialise"))?;
        let record = receipt::signed_bytes(&json)?;
        let signature = receipt::sign(key, &record).to_vec();
        let hash = receipt::hash(&record);
        Ok(Sealed {
            columns: Columns::of(&body),
            record,
            signature,
            hash,
        })
    }
}

/// Drops each result's decoded report body: it is in the signed report
/// beside it, which is what an audit reads, and keeping both would double a
/// record.
pub fn without_decoded_reports(decision: &mut Decision) {
    for attempt in &mut decision.facts.attempts {
        for result in &mut attempt.results {
            result.verified = None;
        }
    }
}

/// What the caller knows about a decision that the coordinator does not.
#[derive(Debug, Clone)]
pub struct RecordContext {
    /// When the decision was made (unix milliseconds).
    pub decided_at_ms: u64,
    /// The API key's name, when the API asked.
    pub client: Option<String>,
    /// The request as received.
    pub request: String,
}

/// The listing columns stored beside the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    /// The record's id, 32 hex digits.
    pub id: String,
    /// Whose chain the record is in.
    pub writer: String,
    /// Its place in the writer's chain, from 1.
    pub sequence: u64,
    /// When the decision was made (unix milliseconds).
    pub decided_at_ms: u64,
    /// The domain or IP address checked.
    pub target: String,
    /// The check type as the Open MPIC API names it (`caa`, `dcv`).
    pub check_type: String,
    /// Whether the decision corroborated the check.
    pub is_valid: bool,
    /// The API key's name that asked; `None` when the API did not.
    pub client: Option<String>,
}

impl Columns {
    /// The columns as the signed record `body` gives them.
    pub fn of(body: &RecordBody) -> Self {
        Self {
            id: body.id.clone(),
            writer: body.writer.clone(),
            sequence: body.sequence,
            decided_at_ms: body.decided_at_ms,
            target: body.decision.as_recorded().target().to_owned(),
            check_type: body.decision.as_recorded().check_type().as_str().to_owned(),
            is_valid: body.decision.as_recorded().is_valid(),
            client: body.client.clone(),
        }
    }
}

/// A signed record, ready to store or just read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The listing columns, copied from the signed record.
    pub columns: Columns,
    /// The receipt's signed bytes.
    pub record: Vec<u8>,
    /// The coordinator's Ed25519 signature over `record` (64 bytes).
    pub signature: Vec<u8>,
    /// SHA-256 of `record`: what the writer's next record names.
    pub hash: [u8; 32],
}

fn new_record_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Lower-case hex back to bytes; `None` when it is not.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    data_encoding::HEXLOWER.decode(text.as_bytes()).ok()
}
