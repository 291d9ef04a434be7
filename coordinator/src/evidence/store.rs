//! The evidence store: where decision records are appended, and read back
//! for audits. Two backends behind one type: SQLite (a file; the default)
//! and PostgreSQL (several coordinators sharing one database).
//!
//! An append is one transaction: lock the writer's chain head, seal each
//! record after it, insert, move the head, commit. Locking the head inside
//! the transaction keeps one chain per writer even when several processes
//! write as the same writer. A record counts as stored only once its commit
//! has returned.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;

use super::postgres::PostgresStore;
use super::prune_note;
use super::receipt::{GENESIS_HASH, ReceiptError};
use super::record::{Columns, Draft, Sealed};
use super::sqlite::SqliteStore;
use crate::decision::LateResult;

/// Where the records live. Its `Debug` is [`StoreLocation::describe`], so a
/// URL's password never reaches a log.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// A SQLite database file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host:port/db`).
    Postgres(String),
}

impl StoreLocation {
    /// What log lines and errors call the store: the file, or the URL
    /// without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => format!("SQLite {}", path.display()),
            // Host, port and database only: a password may sit in the user
            // part or in the query (`?password=`), and neither is shown.
            StoreLocation::Postgres(url) => match url::Url::parse(url) {
                Ok(parsed) => format!(
                    "PostgreSQL {}:{}{}",
                    parsed.host_str().unwrap_or("?"),
                    parsed.port().unwrap_or(5432),
                    parsed.path()
                ),
                Err(_) => "PostgreSQL (unparsable URL)".into(),
            },
        }
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why the store did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; nothing was
    /// committed.
    #[error("evidence store {store} is unavailable: {detail}")]
    Unavailable {
        /// The store, as [`StoreLocation::describe`] names it.
        store: String,
        /// The database's error.
        detail: String,
    },
    /// The schema could not be brought up to date at start-up.
    #[error("evidence store {store}: migration {version} failed: {detail}")]
    Migration {
        /// The store, as [`StoreLocation::describe`] names it.
        store: String,
        /// The migration's schema version.
        version: u32,
        /// The database's error.
        detail: String,
    },
    /// The database holds a schema newer than this build knows.
    #[error("evidence store {store} has schema version {found}; this build knows up to {known}")]
    SchemaTooNew {
        /// The store, as [`StoreLocation::describe`] names it.
        store: String,
        /// The schema version the database holds.
        found: u32,
        /// The newest schema version this build knows.
        known: u32,
    },
    /// A stored row cannot be read back as a record.
    #[error("evidence store {store}: record {id} is unreadable: {detail}")]
    Unreadable {
        /// The store, as [`StoreLocation::describe`] names it.
        store: String,
        /// The record's id.
        id: String,
        /// What cannot be read.
        detail: String,
    },
    /// A record could not be signed; nothing was committed.
    #[error("could not seal the record: {0}")]
    Seal(#[from] ReceiptError),
}

/// A record as stored, with the late results kept beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// The signed record with its listing columns.
    pub sealed: Sealed,
    /// Results of calls still running when their attempt was decided, kept
    /// as they arrived; they never change the decision.
    pub late: Vec<LateResult>,
}

/// Where a writer's chain was cut by `prune`: its next record names
/// `last_hash`. Signed by the coordinator that pruned
/// ([`super::prune_note`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneBoundary {
    /// Whose chain was cut.
    pub writer: String,
    /// The sequence number of the last record deleted.
    pub last_sequence: u64,
    /// The hash of the last record deleted, which the next record names.
    pub last_hash: [u8; 32],
    /// How many of the writer's records this prune deleted.
    pub deleted: u64,
    /// The cutoff asked for (unix milliseconds): records decided before it
    /// could go.
    pub cutoff_ms: u64,
    /// When the prune ran (unix milliseconds).
    pub pruned_at_ms: u64,
    /// `ed25519:…`
    pub signer: String,
    /// The signer's Ed25519 signature over [`prune_note::signed_bytes`]
    /// (64 bytes).
    pub signature: Vec<u8>,
}

/// A writer's last record as the store's chain head holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// Whose chain it is.
    pub writer: String,
    /// The sequence number of the writer's last record.
    pub sequence: u64,
    /// That record's hash.
    pub hash: [u8; 32],
}

/// Records per page when a whole store is read ([`EvidenceStore::page_after`]).
pub const PAGE: u32 = 500;

/// Which records `list` returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Exact target (domain or IP address), lower case.
    pub target: Option<String>,
    /// Decided at or after this time (unix milliseconds); `None`: no lower
    /// bound.
    pub since_ms: Option<u64>,
    /// Decided before this time (unix milliseconds); `None`: no upper bound.
    pub until_ms: Option<u64>,
    /// Only corroborated (`true`) or only not corroborated (`false`)
    /// decisions; `None`: both.
    pub is_valid: Option<bool>,
    /// Only what this API client (key name) asked; `None`: any, the CLI's
    /// included.
    pub client: Option<String>,
    /// The most records returned.
    pub limit: u32,
}

/// One migration: its version and SQL.
pub(super) struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// A store of either kind. Cheap to clone.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EvidenceStore {
    /// A SQLite database file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database, possibly shared by several coordinators.
    Postgres(PostgresStore),
}

impl EvidenceStore {
    /// Opens the store and applies any migration it lacks. PostgreSQL is
    /// connected lazily after this first connection, so a database that goes
    /// away later makes appends fail (and the API answer 503) until it is
    /// back.
    pub async fn open(location: &StoreLocation) -> Result<Self, StoreError> {
        match location {
            StoreLocation::Sqlite(path) => Ok(Self::Sqlite(SqliteStore::open(path.clone()).await?)),
            StoreLocation::Postgres(url) => {
                Ok(Self::Postgres(PostgresStore::open(url.clone()).await?))
            }
        }
    }

    /// Opens an existing store to read it, changing nothing: SQLite
    /// read-only (a missing file is an error, not a new store); PostgreSQL
    /// without migrations.
    pub async fn open_existing(location: &StoreLocation) -> Result<Self, StoreError> {
        match location {
            StoreLocation::Sqlite(path) => Ok(Self::Sqlite(
                SqliteStore::open_existing(path.clone()).await?,
            )),
            StoreLocation::Postgres(url) => {
                Ok(Self::Postgres(PostgresStore::open_existing(url.clone())))
            }
        }
    }

    /// What log lines and errors call the store, without any password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(s) => s.describe(),
            Self::Postgres(s) => s.describe(),
        }
    }

    /// Seals `drafts` in order after `writer`'s last record and commits them
    /// in one transaction.
    pub async fn append(
        &self,
        writer: &str,
        key: &SigningKey,
        drafts: Vec<Draft>,
    ) -> Result<Vec<Sealed>, StoreError> {
        match self {
            Self::Sqlite(s) => s.append(writer, key, drafts).await,
            Self::Postgres(s) => s.append(writer, key, drafts).await,
        }
    }

    /// Keeps results that arrived after their decisions: `(record id,
    /// result)` pairs, in one transaction.
    pub async fn append_late(&self, late: &[(String, LateResult)]) -> Result<(), StoreError> {
        if late.is_empty() {
            return Ok(());
        }
        match self {
            Self::Sqlite(s) => s.append_late(late).await,
            Self::Postgres(s) => s.append_late(late).await,
        }
    }

    /// The record with id `id` and its late results; `None` when there is
    /// none.
    pub async fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.get(id).await,
            Self::Postgres(s) => s.get(id).await,
        }
    }

    /// The listing columns of the records `filter` selects, newest first, at
    /// most its limit.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Columns>, StoreError> {
        match self {
            Self::Sqlite(s) => s.list(filter).await,
            Self::Postgres(s) => s.list(filter).await,
        }
    }

    /// Every record, by writer and sequence (tests and small stores; a
    /// full audit reads [`EvidenceStore::page_after`] page by page).
    pub async fn all(&self) -> Result<Vec<StoredRecord>, StoreError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.page_after(after.as_ref(), PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            after = Some((
                last.sealed.columns.writer.clone(),
                last.sealed.columns.sequence,
            ));
            all.extend(page);
        }
    }

    /// Up to `limit` records after (writer, sequence) `after`, in (writer,
    /// sequence) order.
    pub async fn page_after(
        &self,
        after: Option<&(String, u64)>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.page_after(after, limit).await,
            Self::Postgres(s) => s.page_after(after, limit).await,
        }
    }

    /// How many records `filter` selects (its limit aside).
    pub async fn count(&self, filter: &ListFilter) -> Result<u64, StoreError> {
        match self {
            Self::Sqlite(s) => s.count(filter).await,
            Self::Postgres(s) => s.count(filter).await,
        }
    }

    /// Every writer's chain head.
    pub async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        match self {
            Self::Sqlite(s) => s.chain_heads().await,
            Self::Postgres(s) => s.chain_heads().await,
        }
    }

    /// Where `prune` cut each writer's chain, latest cut last.
    pub async fn prune_boundaries(&self) -> Result<Vec<PruneBoundary>, StoreError> {
        match self {
            Self::Sqlite(s) => s.prune_boundaries().await,
            Self::Postgres(s) => s.prune_boundaries().await,
        }
    }

    /// Deletes, per writer, the records before its first one decided at or
    /// after `cutoff_ms` (so a record younger than the cutoff is never
    /// deleted, even when clocks disagree), with their late results, and
    /// keeps a note signed with `key` of the last record it deleted, so
    /// that a chain may start after it. Returns those notes.
    pub async fn prune(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        key: &SigningKey,
    ) -> Result<Vec<PruneBoundary>, StoreError> {
        match self {
            Self::Sqlite(s) => s.prune(cutoff_ms, now_ms, key).await,
            Self::Postgres(s) => s.prune(cutoff_ms, now_ms, key).await,
        }
    }
}

/// Which SQL dialect a migration is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// The migrations of `backend`, in order.
pub(super) fn migrations(backend: Backend) -> Vec<Migration> {
    match backend {
        Backend::Sqlite => vec![Migration {
            version: 1,
            sql: include_str!("../../migrations/sqlite/0001_decision_records.sql"),
        }],
        Backend::Postgres => vec![Migration {
            version: 1,
            sql: include_str!("../../migrations/postgres/0001_decision_records.sql"),
        }],
    }
}

/// A record's row as both backends read it: the listing columns, the
/// signed bytes, the signature and the stored hash.
pub(super) type Row = (Columns, Vec<u8>, Vec<u8>, Vec<u8>);

/// `row` and its late results' JSON as a [`StoredRecord`]; `store` names
/// the store in errors.
pub(super) fn stored(store: &str, row: Row, late: &[String]) -> Result<StoredRecord, StoreError> {
    let (columns, record, signature, hash) = row;
    let unreadable = |detail: String| StoreError::Unreadable {
        store: store.to_owned(),
        id: columns.id.clone(),
        detail,
    };
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| unreadable("the stored hash is not 32 bytes".into()))?;
    let late = late
        .iter()
        .map(|json| serde_json::from_str(json))
        .collect::<Result<Vec<LateResult>, _>>()
        .map_err(|e| unreadable(format!("a late result: {e}")))?;
    Ok(StoredRecord {
        sealed: Sealed {
            columns,
            record,
            signature,
            hash,
        },
        late,
    })
}

/// A writer's chain head as both backends read it: its sequence and hash
/// columns. A hash that is not 32 bytes is an error, never a new chain.
pub(super) fn chain_head(
    store: &str,
    writer: String,
    sequence: i64,
    hash: Vec<u8>,
) -> Result<ChainHead, StoreError> {
    match <[u8; 32]>::try_from(hash) {
        Ok(hash) => Ok(ChainHead {
            writer,
            sequence: to_u64(sequence),
            hash,
        }),
        Err(_) => Err(StoreError::Unreadable {
            store: store.to_owned(),
            id: format!("chain head of writer {writer}"),
            detail: "its hash is not 32 bytes".into(),
        }),
    }
}

/// A prune note's columns as both backends read them: writer,
/// last_sequence, last_hash, deleted, cutoff_ms, pruned_at_ms, signer,
/// signature.
pub(super) type NoteRow = (String, i64, Vec<u8>, i64, i64, i64, String, Vec<u8>);

/// The note in `row`. A damaged hash is kept as the genesis hash, which
/// then fails the note's signature check.
pub(super) fn prune_boundary(row: NoteRow) -> PruneBoundary {
    let (writer, last_sequence, last_hash, deleted, cutoff_ms, pruned_at_ms, signer, signature) =
        row;
    PruneBoundary {
        writer,
        last_sequence: to_u64(last_sequence),
        last_hash: last_hash.try_into().unwrap_or(GENESIS_HASH),
        deleted: to_u64(deleted),
        cutoff_ms: to_u64(cutoff_ms),
        pruned_at_ms: to_u64(pruned_at_ms),
        signer,
        signature,
    }
}

/// The note `prune` keeps for a writer whose records up to `last_sequence`
/// (hash `last_hash`, `deleted` of them) it deletes, signed with `key`.
pub(super) fn prune_cut(
    writer: String,
    deleted: i64,
    last_sequence: i64,
    last_hash: Vec<u8>,
    (cutoff_ms, pruned_at_ms): (u64, u64),
    key: &SigningKey,
) -> PruneBoundary {
    let mut b = prune_boundary((
        writer,
        last_sequence,
        last_hash,
        deleted,
        to_i64(cutoff_ms),
        to_i64(pruned_at_ms),
        String::new(),
        Vec::new(),
    ));
    prune_note::sign(&mut b, key);
    b
}

/// Columns hold unsigned numbers as SQL `BIGINT`.
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The late results' JSON column; a result that does not serialise is
/// refused rather than stored as something unreadable.
pub(super) fn late_json(late: &LateResult) -> Result<String, StoreError> {
    serde_json::to_string(late).map_err(|e| StoreError::Unreadable {
        store: "(not stored)".into(),
        id: late.result.perspective_id.clone(),
        detail: format!("a late result does not serialise: {e}"),
    })
}

/// Seals `drafts` after (`sequence`, `hash`), returning the new head.
pub(super) fn seal_all(
    drafts: Vec<Draft>,
    writer: &str,
    key: &SigningKey,
    mut sequence: u64,
    mut hash: [u8; 32],
) -> Result<Vec<Sealed>, StoreError> {
    let mut sealed = Vec::with_capacity(drafts.len());
    for draft in drafts {
        sequence += 1;
        let record = draft.seal(writer, sequence, &hash, key)?;
        hash = record.hash;
        sealed.push(record);
    }
    Ok(sealed)
}
