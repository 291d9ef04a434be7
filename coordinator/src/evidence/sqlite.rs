//! The SQLite backend: one file, one connection, WAL with full sync so a
//! commit that returned survives a crash of the process or the machine.
//! Calls run on tokio's blocking threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};

use super::receipt::GENESIS_HASH;
use super::record::{Columns, Draft, Sealed};
use super::store::{
    self, ChainHead, ListFilter, PruneBoundary, Row, StoreError, StoredRecord, chain_head,
    late_json, prune_boundary, prune_cut, seal_all, stored, to_i64, to_u64,
};
use crate::decision::LateResult;

/// An evidence store in one SQLite file (WAL, `synchronous = FULL`). Cheap
/// to clone; clones share one connection.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if missing, and
    /// applies any migration it lacks.
    pub async fn open(path: PathBuf) -> Result<Self, StoreError> {
        let describe = format!("SQLite {}", path.display());
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || open_blocking(&opened, &describe))
            .await
            .map_err(|e| unavailable_at(&path, e.to_string()))??;
        Ok(Self {
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Opens an existing store read-only, changing nothing (no file made,
    /// no migration): for audits, which may run on a copy.
    pub async fn open_existing(path: PathBuf) -> Result<Self, StoreError> {
        let describe = format!("SQLite {}", path.display());
        let opened = path.clone();
        let connection = tokio::task::spawn_blocking(move || {
            let fail = |detail: String| StoreError::Unavailable {
                store: describe.clone(),
                detail,
            };
            let connection = Connection::open_with_flags(&opened, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(|e| fail(format!("cannot open it read-only: {e}")))?;
            let version: u32 = connection
                .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
                    row.get(0)
                })
                .map_err(|e| fail(format!("not an mpic evidence store: {e}")))?;
            let known = store::migrations(store::Backend::Sqlite)
                .last()
                .map_or(0, |m| m.version);
            if version > known {
                return Err(StoreError::SchemaTooNew {
                    store: describe.clone(),
                    found: version,
                    known,
                });
            }
            Ok(connection)
        })
        .await
        .map_err(|e| unavailable_at(&path, e.to_string()))??;
        Ok(Self {
            path,
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// What log lines and errors call the store: `SQLite` and the file.
    pub fn describe(&self) -> String {
        format!("SQLite {}", self.path.display())
    }

    /// Runs `f` on the connection on a blocking thread.
    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    ) -> Result<R, StoreError> {
        let connection = Arc::clone(&self.connection);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock left no transaction open:
            // rusqlite rolls back on drop.
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut connection)
        })
        .await
        .map_err(|e| unavailable_at(&self.path, e.to_string()))?
        .map_err(|e| unavailable_at(&path, e.to_string()))
    }

    /// Seals `drafts` after `writer`'s last record and commits them in one
    /// transaction ([`super::EvidenceStore::append`]).
    pub async fn append(
        &self,
        writer: &str,
        key: &SigningKey,
        drafts: Vec<Draft>,
    ) -> Result<Vec<Sealed>, StoreError> {
        let writer = writer.to_owned();
        let key = key.clone();
        let describe = self.describe();
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let head: Option<(i64, Vec<u8>)> = tx
                .query_row(
                    "SELECT sequence, hash FROM chain_heads WHERE writer = ?1",
                    params![writer],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let (sequence, hash) = match head {
                Some((sequence, hash)) => {
                    match chain_head(&describe, writer.clone(), sequence, hash) {
                        Ok(head) => (head.sequence, head.hash),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                None => (0, GENESIS_HASH),
            };
            let sealed = match seal_all(drafts, &writer, &key, sequence, hash) {
                Ok(sealed) => sealed,
                Err(e) => return Ok(Err(e)),
            };
            {
                // Cached: an append is one statement per record, and parsing
                // it each time showed in profiles.
                let mut insert = tx.prepare_cached(
                    "INSERT INTO decision_records (id, writer, sequence, decided_at_ms, \
                     target, check_type, is_valid, client, record, signature, hash) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?;
                for record in &sealed {
                    let c = &record.columns;
                    insert.execute(params![
                        c.id,
                        c.writer,
                        to_i64(c.sequence),
                        to_i64(c.decided_at_ms),
                        c.target,
                        c.check_type,
                        c.is_valid,
                        c.client,
                        record.record,
                        record.signature,
                        record.hash.as_slice(),
                    ])?;
                }
            }
            if let Some(last) = sealed.last() {
                tx.execute(
                    "INSERT INTO chain_heads (writer, sequence, hash) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (writer) DO UPDATE SET sequence = excluded.sequence, \
                         hash = excluded.hash",
                    params![writer, to_i64(last.columns.sequence), last.hash.as_slice()],
                )?;
            }
            tx.commit()?;
            Ok(Ok(sealed))
        })
        .await?
    }

    /// Keeps results that arrived after their decisions, in one transaction
    /// ([`super::EvidenceStore::append_late`]).
    pub async fn append_late(&self, late: &[(String, LateResult)]) -> Result<(), StoreError> {
        let rows = late
            .iter()
            .map(|(id, l)| Ok((id.clone(), l.arrived_at_ms, late_json(l)?)))
            .collect::<Result<Vec<(String, u64, String)>, StoreError>>()?;
        self.with(move |connection| {
            let tx = connection.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO late_results (record_id, arrived_at_ms, result) VALUES (?1, ?2, ?3)",
                )?;
                for (record_id, arrived_at_ms, json) in &rows {
                    insert.execute(params![record_id, to_i64(*arrived_at_ms), json])?;
                }
            }
            tx.commit()
        })
        .await
    }

    /// The record with id `id` and its late results; `None` when there is
    /// none.
    pub async fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let id = id.to_owned();
        let rows = self
            .with(move |connection| {
                let mut statement =
                    connection.prepare_cached(&format!("{SELECT_RECORD} WHERE id = ?1"))?;
                let found = statement.query_row(params![id], read_row).optional()?;
                let Some(found) = found else {
                    return Ok(None);
                };
                let late = read_late(connection, &found.0.id)?;
                Ok(Some((found, late)))
            })
            .await?;
        rows.map(|(row, late)| stored(&self.describe(), row, &late))
            .transpose()
    }

    /// The listing columns of the records `filter` selects, newest first
    /// ([`super::EvidenceStore::list`]).
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Columns>, StoreError> {
        let filter = filter.clone();
        let rows = self
            .with(move |connection| {
                let mut statement = connection.prepare(&format!(
                    "{SELECT_RECORD} WHERE {FILTER} \
                     ORDER BY decided_at_ms DESC, writer, sequence DESC LIMIT ?6"
                ))?;
                let rows = statement
                    .query_map(
                        params![
                            filter.target,
                            filter.since_ms.map(to_i64),
                            filter.until_ms.map(to_i64),
                            filter.is_valid,
                            filter.client,
                            i64::from(filter.limit),
                        ],
                        read_row,
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        Ok(rows.into_iter().map(|(columns, ..)| columns).collect())
    }

    /// Up to `limit` records after (writer, sequence) `after`, in (writer,
    /// sequence) order.
    pub async fn page_after(
        &self,
        after: Option<&(String, u64)>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let (writer, sequence) = after.cloned().map_or((None, 0), |(w, s)| (Some(w), s));
        let rows = self
            .with(move |connection| {
                let mut statement = connection.prepare_cached(&format!(
                    "{SELECT_RECORD} WHERE ?1 IS NULL OR writer > ?1 \
                     OR (writer = ?1 AND sequence > ?2) ORDER BY writer, sequence LIMIT ?3"
                ))?;
                let rows = statement
                    .query_map(
                        params![writer, to_i64(sequence), i64::from(limit)],
                        read_row,
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut with_late = Vec::with_capacity(rows.len());
                for row in rows {
                    let late = read_late(connection, &row.0.id)?;
                    with_late.push((row, late));
                }
                Ok(with_late)
            })
            .await?;
        rows.into_iter()
            .map(|(row, late)| stored(&self.describe(), row, &late))
            .collect()
    }

    /// How many records `filter` selects (its limit aside).
    pub async fn count(&self, filter: &ListFilter) -> Result<u64, StoreError> {
        let filter = filter.clone();
        let n: i64 = self
            .with(move |connection| {
                connection.query_row(
                    &format!("SELECT COUNT(*) FROM decision_records WHERE {FILTER}"),
                    params![
                        filter.target,
                        filter.since_ms.map(to_i64),
                        filter.until_ms.map(to_i64),
                        filter.is_valid,
                        filter.client,
                    ],
                    |row| row.get(0),
                )
            })
            .await?;
        Ok(to_u64(n))
    }

    /// Every writer's chain head.
    pub async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let rows: Vec<(String, i64, Vec<u8>)> = self
            .with(|connection| {
                let mut statement = connection
                    .prepare("SELECT writer, sequence, hash FROM chain_heads ORDER BY writer")?;
                let rows = statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter()
            .map(|(writer, sequence, hash)| chain_head(&self.describe(), writer, sequence, hash))
            .collect()
    }

    /// Where `prune` cut each writer's chain, latest cut last.
    pub async fn prune_boundaries(&self) -> Result<Vec<PruneBoundary>, StoreError> {
        self.with(|connection| {
            let mut statement = connection.prepare(
                "SELECT writer, last_sequence, last_hash, deleted, cutoff_ms, pruned_at_ms, \
                 signer, signature FROM prunes ORDER BY pruned_at_ms, writer",
            )?;
            let rows = statement
                .query_map([], |row| {
                    Ok(prune_boundary((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                    )))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Deletes, per writer, the records before its first one decided at or
    /// after `cutoff_ms`, and keeps a note of each cut signed with `key`
    /// ([`super::EvidenceStore::prune`]).
    pub async fn prune(
        &self,
        cutoff_ms: u64,
        now_ms: u64,
        key: &SigningKey,
    ) -> Result<Vec<PruneBoundary>, StoreError> {
        let key = key.clone();
        self.with(move |connection| {
            let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut boundaries = Vec::new();
            {
                let mut statement = tx.prepare(PRUNE_CUT)?;
                let cut: Vec<(String, i64, i64)> = statement
                    .query_map(params![to_i64(cutoff_ms)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?
                    .collect::<Result<_, _>>()?;
                for (writer, deleted, last_sequence) in cut {
                    let hash: Vec<u8> = tx.query_row(
                        "SELECT hash FROM decision_records WHERE writer = ?1 AND sequence = ?2",
                        params![writer, last_sequence],
                        |row| row.get(0),
                    )?;
                    boundaries.push(prune_cut(
                        writer,
                        deleted,
                        last_sequence,
                        hash,
                        (cutoff_ms, now_ms),
                        &key,
                    ));
                }
            }
            for b in &boundaries {
                tx.execute(
                    "DELETE FROM late_results WHERE record_id IN (SELECT id FROM decision_records \
                     WHERE writer = ?1 AND sequence <= ?2)",
                    params![b.writer, to_i64(b.last_sequence)],
                )?;
                tx.execute(
                    "DELETE FROM decision_records WHERE writer = ?1 AND sequence <= ?2",
                    params![b.writer, to_i64(b.last_sequence)],
                )?;
                tx.execute(
                    "INSERT INTO prunes (pruned_at_ms, cutoff_ms, writer, deleted, last_sequence, \
                     last_hash, signer, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        to_i64(b.pruned_at_ms),
                        to_i64(b.cutoff_ms),
                        b.writer,
                        to_i64(b.deleted),
                        to_i64(b.last_sequence),
                        b.last_hash.as_slice(),
                        b.signer,
                        b.signature,
                    ],
                )?;
            }
            tx.commit()?;
            Ok(boundaries)
        })
        .await
    }
}

/// Per writer, the records before its first one decided at or after the
/// cutoff (`?1`): how many, and the last of them.
const PRUNE_CUT: &str = "SELECT x.writer, COUNT(*), MAX(x.sequence) FROM decision_records x \
     WHERE x.sequence < COALESCE((SELECT MIN(y.sequence) FROM decision_records y \
     WHERE y.writer = x.writer AND y.decided_at_ms >= ?1), 9223372036854775807) \
     GROUP BY x.writer ORDER BY x.writer";

/// The [`ListFilter`] as a condition on `?1`..`?5`.
const FILTER: &str = "(?1 IS NULL OR target = ?1) AND (?2 IS NULL OR decided_at_ms >= ?2) \
     AND (?3 IS NULL OR decided_at_ms < ?3) AND (?4 IS NULL OR is_valid = ?4) \
     AND (?5 IS NULL OR client = ?5)";

const SELECT_RECORD: &str = "SELECT id, writer, sequence, decided_at_ms, target, check_type, \
     is_valid, client, record, signature, hash FROM decision_records";

fn read_row(row: &rusqlite::Row<'_>) -> Result<Row, rusqlite::Error> {
    Ok((
        Columns {
            id: row.get(0)?,
            writer: row.get(1)?,
            sequence: to_u64(row.get(2)?),
            decided_at_ms: to_u64(row.get(3)?),
            target: row.get(4)?,
            check_type: row.get(5)?,
            is_valid: row.get(6)?,
            client: row.get(7)?,
        },
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

fn read_late(connection: &Connection, id: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut statement = connection.prepare_cached(
        "SELECT result FROM late_results WHERE record_id = ?1 ORDER BY arrived_at_ms, rowid",
    )?;
    statement
        .query_map(params![id], |row| row.get(0))?
        .collect()
}

fn open_blocking(path: &std::path::Path, describe: &str) -> Result<Connection, StoreError> {
    let fail = |detail: String| StoreError::Unavailable {
        store: describe.to_owned(),
        detail,
    };
    let mut connection = Connection::open(path).map_err(|e| fail(e.to_string()))?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| fail(e.to_string()))?;
    // WAL: readers do not block the writer. FULL: a commit is on disk
    // (fsync'd) before it returns, which the fail-closed rule relies on.
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| fail(e.to_string()))?;
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(|e| fail(e.to_string()))?;
    migrate(&mut connection, describe)?;
    Ok(connection)
}

fn migrate(connection: &mut Connection, describe: &str) -> Result<(), StoreError> {
    let fail = |version: u32, e: rusqlite::Error| StoreError::Migration {
        store: describe.to_owned(),
        version,
        detail: e.to_string(),
    };
    // Immediate: a second process starting together waits here, then finds
    // the migrations applied.
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fail(0, e))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(|e| fail(0, e))?;
    let applied: u32 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(|e| fail(0, e))?;
    let migrations = store::migrations(store::Backend::Sqlite);
    let known = migrations.last().map_or(0, |m| m.version);
    if applied > known {
        return Err(StoreError::SchemaTooNew {
            store: describe.to_owned(),
            found: applied,
            known,
        });
    }
    for migration in migrations.into_iter().filter(|m| m.version > applied) {
        tx.execute_batch(migration.sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at_ms) VALUES (?1, ?2)",
                    params![migration.version, to_i64(crate::clock::now_ms())],
                )
            })
            .map_err(|e| fail(migration.version, e))?;
    }
    tx.commit().map_err(|e| fail(known, e))
}

fn unavailable_at(path: &std::path::Path, detail: String) -> StoreError {
    StoreError::Unavailable {
        store: format!("SQLite {}", path.display()),
        detail,
    }
}
