//! The evidence store: every decision kept, signed and re-verifiable.
//!
//! For each decision that `mpic serve` or `mpic check --config` makes, the
//! [`Recorder`] appends one record ([`RecordBody`]): the request as
//! received, the configuration's digest, the coordinator's and every asked
//! perspective's key, and the [`crate::Decision`] with each attempt's cohort,
//! signed request envelope, and each perspective's signed report or the
//! typed reason none came, the primary's result, and the decision's reasons.
//! The coordinator signs the record ([`receipt`], a "decision receipt"), and
//! each record names the hash of its writer's previous one, so deleting or
//! altering a record breaks the chain.
//!
//! **Fail closed.** [`Recorder::record`] returns only after the record's
//! transaction committed; the front ends answer nothing (503, exit 2) when
//! it fails, so no decision is ever answered that is not stored.
//!
//! **Stragglers.** Calls still running when an attempt was decided run on
//! (see [`crate::Decision::stragglers`]); once the record is stored, their judged results
//! are appended beside it, as they arrive, as "arrived after the decision".
//! They never change it.
//!
//! [`audit`] re-verifies records offline, trusting only the coordinator keys
//! it is given and nothing the coordinator concluded; [`Bundle`] carries one
//! record to an auditor.

pub mod audit;
mod postgres;
pub mod prune_note;
pub mod receipt;
pub mod record;
mod sqlite;
mod store;

use std::sync::Arc;

use data_encoding::BASE64;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use self::postgres::PostgresStore;
pub use self::record::{Columns, Draft, KeyTexts, RecordBody, RecordContext, Sealed};
pub use self::sqlite::SqliteStore;
pub use self::store::{
    ChainHead, EvidenceStore, ListFilter, PAGE, PruneBoundary, StoreError, StoreLocation,
    StoredRecord,
};
use crate::config::PerspectiveConfig;
use crate::decision::{Decision, LateResult};

/// The most records one transaction commits. A commit (an fsync) is most
/// of an append's cost, so records that queue while one commits share the
/// next.
pub const MAX_BATCH: usize = 64;
/// Appends waiting for the writer; beyond this, callers wait to queue.
pub const QUEUE: usize = 1024;

/// Appends decision records to a store, in one chain for its writer.
/// Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    store: EvidenceStore,
    queue: mpsc::Sender<Append>,
    late: mpsc::UnboundedSender<(String, LateResult)>,
    keys: Arc<KeyTexts>,
    config_digest: String,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

struct Append {
    draft: Draft,
    reply: oneshot::Sender<Result<Sealed, StoreError>>,
}

impl Recorder {
    /// Starts the writer task for `writer`'s chain. `config_digest` is the
    /// hex SHA-256 of the configuration file.
    pub fn start(
        store: EvidenceStore,
        writer: String,
        key: SigningKey,
        config_digest: String,
        perspectives: &[PerspectiveConfig],
    ) -> Self {
        let (queue, appends) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store.clone(), writer, key.clone(), appends));
        let (late, late_results) = mpsc::unbounded_channel();
        tokio::spawn(write_late_batches(store.clone(), late_results));
        Self {
            store,
            queue,
            late,
            keys: Arc::new(KeyTexts::new(&key, perspectives)),
            config_digest,
        }
    }

    /// The store this recorder appends to.
    pub fn store(&self) -> &EvidenceStore {
        &self.store
    }

    /// Stores `decision`'s record and returns its id once committed; then
    /// keeps its stragglers' results as they arrive.
    pub async fn record(
        &self,
        decision: &Decision,
        context: RecordContext,
    ) -> Result<String, StoreError> {
        let draft = Draft::new(decision, context, &self.keys, &self.config_digest)?;
        let (reply, committed) = oneshot::channel();
        let unavailable = |detail: &str| StoreError::Unavailable {
            store: self.store.describe(),
            detail: detail.to_owned(),
        };
        self.queue
            .send(Append { draft, reply })
            .await
            .map_err(|_| unavailable("the writer task has stopped"))?;
        let sealed = committed
            .await
            .map_err(|_| unavailable("the writer task stopped before the commit"))??;
        let id = sealed.columns.id;
        if let Some(stragglers) = decision.stragglers().take() {
            tokio::spawn(forward_late(id.clone(), stragglers, self.late.clone()));
        }
        Ok(id)
    }
}

/// The recorder `config`'s `[evidence]` asks for: its store opened (and
/// migrated) and its writer started; `None` when `enabled = false`.
pub async fn start_recorder(config: &crate::Config) -> Result<Option<Recorder>, StoreError> {
    let Some(location) = &config.evidence.store else {
        return Ok(None);
    };
    let store = EvidenceStore::open(location).await?;
    Ok(Some(Recorder::start(
        store,
        config.evidence.writer.clone(),
        config.signing_key.clone(),
        config.digest.clone(),
        &config.perspectives,
    )))
}

/// The coordinator keys an audit under `config` trusts: its signing key and
/// `[evidence] trusted_keys`.
pub fn trusted_keys(config: &crate::Config) -> Vec<ed25519_dalek::VerifyingKey> {
    let mut keys = vec![config.signing_key.verifying_key()];
    keys.extend(config.evidence.trusted_keys.iter().copied());
    keys
}

/// Hex SHA-256 of a configuration file's bytes, as records keep it.
pub fn config_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    record::hex(&sha2::Sha256::digest(bytes))
}

/// The next item and as many more as are already queued, up to
/// [`MAX_BATCH`]; `None` once the queue is closed and empty.
async fn next_batch<T>(queue: &mut mpsc::Receiver<T>) -> Option<Vec<T>> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let taken = queue.recv_many(&mut batch, MAX_BATCH).await;
    (taken > 0).then_some(batch)
}

/// [`next_batch`] for an unbounded queue.
async fn next_batch_unbounded<T>(queue: &mut mpsc::UnboundedReceiver<T>) -> Option<Vec<T>> {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let taken = queue.recv_many(&mut batch, MAX_BATCH).await;
    (taken > 0).then_some(batch)
}

/// The writer task: commits queued appends in batches, in queue order.
async fn write_batches(
    store: EvidenceStore,
    writer: String,
    key: SigningKey,
    mut appends: mpsc::Receiver<Append>,
) {
    while let Some(batch) = next_batch(&mut appends).await {
        let (drafts, replies): (Vec<Draft>, Vec<_>) =
            batch.into_iter().map(|a| (a.draft, a.reply)).unzip();
        match store.append(&writer, &key, drafts).await {
            Ok(sealed) => {
                for (reply, sealed) in replies.into_iter().zip(sealed) {
                    // The caller may have gone (its HTTP request timed out);
                    // the record is stored either way.
                    let _ = reply.send(Ok(sealed));
                }
            }
            Err(e) => {
                tracing::error!(target: "mpic::evidence", store = %store.describe(), error = %e, records = replies.len(), "evidence records not stored; their decisions are not answered");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Passes a decision's late results on to the late writer as they arrive.
async fn forward_late(
    id: String,
    mut stragglers: mpsc::UnboundedReceiver<LateResult>,
    late: mpsc::UnboundedSender<(String, LateResult)>,
) {
    while let Some(mut result) = stragglers.recv().await {
        // As in the record: the signed report, not its decoded copy.
        result.result.verified = None;
        if late.send((id.clone(), result)).is_err() {
            return;
        }
    }
}

/// The late writer: commits late results in batches, as the writer task
/// does records. Their records are already committed; a late result that
/// cannot be stored is logged and lost, and changes no decision.
async fn write_late_batches(
    store: EvidenceStore,
    mut late: mpsc::UnboundedReceiver<(String, LateResult)>,
) {
    while let Some(batch) = next_batch_unbounded(&mut late).await {
        if let Err(e) = store.append_late(&batch).await {
            tracing::warn!(target: "mpic::evidence", error = %e, late = batch.len(), "late results not stored");
        }
    }
}

/// One record, self-contained, for an auditor: `mpic evidence export`
/// writes it and `mpic evidence verify --bundle` checks it without the
/// store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// `mpic-evidence-bundle-1`.
    pub format: String,
    /// The receipt's signed bytes, base64.
    pub record: String,
    /// The coordinator's signature over them, base64.
    pub signature: String,
    /// SHA-256 of the signed bytes, hex.
    pub hash: String,
    /// The listing columns as stored.
    pub columns: Columns,
    /// The results that arrived after the decision, kept beside it.
    pub late: Vec<LateResult>,
    /// The record, decoded, for reading; `verify` ignores it and reads the
    /// signed bytes.
    pub decoded: Option<serde_json::Value>,
}

/// The bundle format this build writes and reads.
pub const BUNDLE_FORMAT: &str = "mpic-evidence-bundle-1";

/// Why a bundle cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Its record or signature is not base64, or its hash is not 64 hex
    /// digits; says which.
    #[error("not an evidence bundle: {0}")]
    Malformed(String),
    /// The bundle names another format than [`BUNDLE_FORMAT`].
    #[error("bundle format `{0}` is not {BUNDLE_FORMAT}")]
    Format(String),
}

impl Bundle {
    /// The bundle of one stored record.
    pub fn of(stored: &StoredRecord) -> Self {
        let sealed = &stored.sealed;
        let decoded = receipt::record_json(&sealed.record)
            .ok()
            .and_then(|json| serde_json::from_slice(json).ok());
        Self {
            format: BUNDLE_FORMAT.into(),
            record: BASE64.encode(&sealed.record),
            signature: BASE64.encode(&sealed.signature),
            hash: record::hex(&sealed.hash),
            columns: sealed.columns.clone(),
            late: stored.late.clone(),
            decoded,
        }
    }

    /// The record as the store would hold it.
    pub fn into_stored(self) -> Result<StoredRecord, BundleError> {
        if self.format != BUNDLE_FORMAT {
            return Err(BundleError::Format(self.format));
        }
        let decode = |what: &str, text: &str| {
            BASE64
                .decode(text.as_bytes())
                .map_err(|e| BundleError::Malformed(format!("{what} is not base64: {e}")))
        };
        let hash = record::hex_decode(&self.hash)
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .ok_or_else(|| BundleError::Malformed("hash is not 64 hex digits".into()))?;
        Ok(StoredRecord {
            sealed: Sealed {
                columns: self.columns,
                record: decode("record", &self.record)?,
                signature: decode("signature", &self.signature)?,
                hash,
            },
            late: self.late,
        })
    }
}

#[cfg(test)]
mod tests;
