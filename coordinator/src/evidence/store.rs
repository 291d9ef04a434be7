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
use super::receipt::ReceiptError;
use super::record::{Columns, Draft, Sealed};
use super::sqlite::SqliteStore;
use crate::decision::LateResult;

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            StoreLocation::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        // Only fails for URLs that cannot carry a password.
                        let _ = parsed.set_password(Some("***"));
                    }
                    format!("PostgreSQL {parsed}")
                }
                Err(_) => "PostgreSQL (unparsable URL)".into(),
            },
        }
    }
}

/// Why the store did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; nothing was
    /// committed.
    #[error("evidence store {store} is unavailable: {detail}")]
    Unavailable { store: String, detail: String },
    /// The schema could not be brought up to date at start-up.
    #[error("evidence store {store}: migration {version} failed: {detail}")]
    Migration {
        store: String,
        version: u32,
        detail: String,
    },
    /// The database holds a schema newer than this build knows.
    #[error("evidence store {store} has schema version {found}; this build knows up to {known}")]
    SchemaTooNew {
        store: String,
        found: u32,
        known: u32,
    },
    /// A stored row cannot be read back as a record.
    #[error("evidence store {store}: record {id} is unreadable: {detail}")]
    Unreadable {
        store: String,
        id: String,
        detail: String,
    },
    /// A record could not be signed; nothing was committed.
    #[error("could not seal the record: {0}")]
    Seal(#[from] ReceiptError),
}

/// A record as stored, with the late results kept beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub sealed: Sealed,
    pub late: Vec<LateResult>,
}

/// Where a writer's chain was cut by `prune`: its next record names
/// `last_hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneBoundary {
    pub writer: String,
    pub last_sequence: u64,
    pub last_hash: [u8; 32],
    pub deleted: u64,
    pub cutoff_ms: u64,
    pub pruned_at_ms: u64,
}

/// Which records `list` returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Exact target (domain or IP address), lower case.
    pub target: Option<String>,
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub is_valid: Option<bool>,
    pub client: Option<String>,
    pub limit: u32,
}

/// One migration: its version and SQL.
pub(super) struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// A store of either kind. Cheap to clone.
#[derive(Debug, Clone)]
pub enum EvidenceStore {
    Sqlite(SqliteStore),
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

    pub async fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.get(id).await,
            Self::Postgres(s) => s.get(id).await,
        }
    }

    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Columns>, StoreError> {
        match self {
            Self::Sqlite(s) => s.list(filter).await,
            Self::Postgres(s) => s.list(filter).await,
        }
    }

    /// Every record, by writer and sequence, for a full audit.
    pub async fn all(&self) -> Result<Vec<StoredRecord>, StoreError> {
        match self {
            Self::Sqlite(s) => s.all().await,
            Self::Postgres(s) => s.all().await,
        }
    }

    /// Where `prune` cut each writer's chain, latest cut last.
    pub async fn prune_boundaries(&self) -> Result<Vec<PruneBoundary>, StoreError> {
        match self {
            Self::Sqlite(s) => s.prune_boundaries().await,
            Self::Postgres(s) => s.prune_boundaries().await,
        }
    }

    /// Deletes the records decided before `cutoff_ms` and their late
    /// results, and notes per writer the last record it deleted, so that a
    /// chain may start after it. Returns those notes.
    pub async fn prune(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
    ) -> Result<Vec<PruneBoundary>, StoreError> {
        match self {
            Self::Sqlite(s) => s.prune(cutoff_ms, now_ms).await,
            Self::Postgres(s) => s.prune(cutoff_ms, now_ms).await,
        }
    }
}

/// The migrations of `backend` ("sqlite" or "postgres"), in order.
pub(super) fn migrations(backend: &str) -> Vec<Migration> {
    match backend {
        "sqlite" => vec![Migration {
            version: 1,
            sql: include_str!("../../migrations/sqlite/0001_decision_records.sql"),
        }],
        _ => vec![Migration {
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

/// The late results' JSON column.
pub(super) fn late_json(late: &LateResult) -> String {
    // A LateResult is plain data; serialising it cannot fail.
    serde_json::to_string(late).unwrap_or_default()
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
