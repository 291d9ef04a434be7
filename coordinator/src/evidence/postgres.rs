//! The PostgreSQL backend, for several coordinators sharing one database.
//!
//! One connection per process, made when first needed and dropped on any
//! error, so that a database that went away is reconnected on the next call
//! (and calls fail, never hang, meanwhile: connecting is bounded by
//! [`CONNECT_TIMEOUT`]). Commits are durable with PostgreSQL's default
//! `synchronous_commit = on`.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::receipt::GENESIS_HASH;
use super::record::{Columns, Draft, Sealed};
use super::store::{
    self, ChainHead, ListFilter, PruneBoundary, Row, StoreError, StoreLocation, StoredRecord,
    chain_head, late_json, prune_boundary, prune_cut, seal_all, stored, to_i64, to_u64,
};
use crate::decision::LateResult;

/// How long connecting may take before the store counts as unavailable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one operation (an append with its commit, a read) may take
/// before the connection is dropped and the store counts as unavailable: a
/// server that stops answering must not hold the writer forever.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// Set on each new connection: a lock or statement that waits longer fails
/// (and the operation with it) instead of queueing behind a stuck session.
const SESSION_SETTINGS: &str =
    "SET lock_timeout = '5s'; SET statement_timeout = '10s'; SET synchronous_commit = on";

/// Serialises schema migrations across coordinators starting together.
const MIGRATION_LOCK: i64 = 0x6d70_6963_6576_6964; // "mpicevid"

/// An evidence store in a PostgreSQL database, which several coordinators
/// may share. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct PostgresStore {
    url: String,
    client: Arc<Mutex<Option<Client>>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("store", &self.describe())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL) and applies
    /// any migration it lacks, one coordinator at a time.
    pub async fn open(url: String) -> Result<Self, StoreError> {
        let store = Self {
            url,
            client: Arc::new(Mutex::new(None)),
        };
        let mut guard = store.client.lock().await;
        let client = store.connected(&mut guard).await?;
        migrate(client, &store.describe()).await?;
        drop(guard);
        Ok(store)
    }

    /// The store at `url`, connected when first used, with no migration.
    pub fn open_existing(url: String) -> Self {
        Self {
            url,
            client: Arc::new(Mutex::new(None)),
        }
    }

    /// What log lines and errors call the store: host, port and database, never the password.
    pub fn describe(&self) -> String {
        StoreLocation::Postgres(self.url.clone()).describe()
    }

    fn unavailable(&self, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable {
            store: self.describe(),
            detail: detail.to_string(),
        }
    }

    /// The connection, made if there is none.
    async fn connected<'a>(
        &self,
        slot: &'a mut Option<Client>,
    ) -> Result<&'a mut Client, StoreError> {
        if slot.as_ref().is_some_and(Client::is_closed) {
            *slot = None;
        }
        if slot.is_none() {
            let connect = tokio_postgres::connect(&self.url, NoTls);
            let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| self.unavailable("connecting timed out"))?
                .map_err(|e| self.unavailable(error_text(&e)))?;
            let store = self.describe();
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(target: "mpic::evidence", %store, error = %error_text(&e), "connection to the evidence store ended");
                }
            });
            tokio::time::timeout(OPERATION_TIMEOUT, client.batch_execute(SESSION_SETTINGS))
                .await
                .map_err(|_| self.unavailable("setting up the session timed out"))?
                .map_err(|e| self.unavailable(error_text(&e)))?;
            *slot = Some(client);
        }
        slot.as_mut()
            .ok_or_else(|| self.unavailable("no connection"))
    }

    /// Runs `f` with the connection; drops the connection if `f` fails, so
    /// the next call connects afresh.
    async fn with<R>(
        &self,
        f: impl AsyncFnOnce(&mut Client) -> Result<R, tokio_postgres::Error>,
    ) -> Result<R, StoreError> {
        let mut guard = self.client.lock().await;
        let client = self.connected(&mut guard).await?;
        match tokio::time::timeout(OPERATION_TIMEOUT, f(client)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                *guard = None;
                Err(self.unavailable(error_text(&e)))
            }
            Err(_) => {
                // Dropping the connection ends the server's transaction.
                *guard = None;
                Err(self.unavailable(format!(
                    "no answer within {} s",
                    OPERATION_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// Seals `drafts` after `writer`'s last record and commits them in one
    /// transaction ([`super::EvidenceStore::append`]).
    pub async fn append(
        &self,
        writer: &str,
        key: &SigningKey,
        drafts: Vec<Draft>,
    ) -> Result<Vec<Sealed>, StoreError> {
        self.with(async |client| {
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO chain_heads (writer, sequence, hash) VALUES ($1, 0, $2) \
                     ON CONFLICT (writer) DO NOTHING",
                &[&writer, &GENESIS_HASH.as_slice()],
            )
            .await?;
            let head = tx
                .query_one(
                    "SELECT sequence, hash FROM chain_heads WHERE writer = $1 FOR UPDATE",
                    &[&writer],
                )
                .await?;
            // Never restart a chain over a damaged head.
            let head = match chain_head(
                &self.describe(),
                writer.to_owned(),
                head.try_get(0)?,
                head.try_get(1)?,
            ) {
                Ok(head) => head,
                Err(e) => return Ok(Err(e)),
            };
            let sealed = match seal_all(drafts, writer, key, head.sequence, head.hash) {
                Ok(sealed) => sealed,
                Err(e) => return Ok(Err(e)),
            };
            let insert = tx
                .prepare(
                    "INSERT INTO decision_records (id, writer, sequence, decided_at_ms, \
                         target, check_type, is_valid, client, record, signature, hash) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .await?;
            for record in &sealed {
                let c = &record.columns;
                tx.execute(
                    &insert,
                    &[
                        &c.id,
                        &c.writer,
                        &to_i64(c.sequence),
                        &to_i64(c.decided_at_ms),
                        &c.target,
                        &c.check_type,
                        &c.is_valid,
                        &c.client,
                        &record.record,
                        &record.signature,
                        &record.hash.as_slice(),
                    ],
                )
                .await?;
            }
            if let Some(last) = sealed.last() {
                tx.execute(
                    "UPDATE chain_heads SET sequence = $2, hash = $3 WHERE writer = $1",
                    &[
                        &writer,
                        &to_i64(last.columns.sequence),
                        &last.hash.as_slice(),
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Ok(sealed))
        })
        .await?
    }

    /// Keeps results that arrived after their decisions, in one transaction
    /// ([`super::EvidenceStore::append_late`]).
    pub async fn append_late(&self, late: &[(String, LateResult)]) -> Result<(), StoreError> {
        let rows = late
            .iter()
            .map(|(id, l)| Ok((id, to_i64(l.arrived_at_ms), late_json(l)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.with(async |client| {
            let tx = client.transaction().await?;
            let insert = tx
                .prepare(
                    "INSERT INTO late_results (record_id, arrived_at_ms, result) VALUES ($1, $2, $3)",
                )
                .await?;
            for (record_id, arrived_at_ms, json) in &rows {
                tx.execute(&insert, &[record_id, arrived_at_ms, json]).await?;
            }
            tx.commit().await
        })
        .await
    }

    /// The record with id `id` and its late results; `None` when there is
    /// none.
    pub async fn get(&self, id: &str) -> Result<Option<StoredRecord>, StoreError> {
        let found = self
            .with(async |client| {
                let row = client
                    .query_opt(&format!("{SELECT_RECORD} WHERE id = $1"), &[&id])
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let late = read_late(client, id).await?;
                Ok(Some((read_row(&row)?, late)))
            })
            .await?;
        found
            .map(|(row, late)| stored(&self.describe(), row, &late))
            .transpose()
    }

    /// The listing columns of the records `filter` selects, newest first
    /// ([`super::EvidenceStore::list`]).
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Columns>, StoreError> {
        let rows = self
            .with(async |client| {
                client
                    .query(
                        &format!(
                            "{SELECT_RECORD} WHERE {FILTER} \
                             ORDER BY decided_at_ms DESC, writer, sequence DESC LIMIT $6"
                        ),
                        &[
                            &filter.target,
                            &filter.since_ms.map(to_i64),
                            &filter.until_ms.map(to_i64),
                            &filter.is_valid,
                            &filter.client,
                            &i64::from(filter.limit),
                        ],
                    )
                    .await
            })
            .await?;
        rows.iter()
            .map(|row| read_row(row).map(|(columns, ..)| columns))
            .collect::<Result<_, _>>()
            .map_err(|e| self.unavailable(error_text(&e)))
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
            .with(async |client| {
                let rows = client
                    .query(
                        &format!(
                            "{SELECT_RECORD} WHERE $1::TEXT IS NULL OR writer > $1 \
                             OR (writer = $1 AND sequence > $2) ORDER BY writer, sequence LIMIT $3"
                        ),
                        &[&writer, &to_i64(sequence), &i64::from(limit)],
                    )
                    .await?;
                let mut with_late = Vec::with_capacity(rows.len());
                for row in &rows {
                    let row = read_row(row)?;
                    let late = read_late(client, &row.0.id).await?;
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
        let n: i64 = self
            .with(async |client| {
                client
                    .query_one(
                        &format!("SELECT COUNT(*) FROM decision_records WHERE {FILTER}"),
                        &[
                            &filter.target,
                            &filter.since_ms.map(to_i64),
                            &filter.until_ms.map(to_i64),
                            &filter.is_valid,
                            &filter.client,
                        ],
                    )
                    .await?
                    .try_get(0)
            })
            .await?;
        Ok(to_u64(n))
    }

    /// Every writer's chain head.
    pub async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let rows = self
            .with(async |client| {
                let rows = client
                    .query(
                        "SELECT writer, sequence, hash FROM chain_heads ORDER BY writer",
                        &[],
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok((
                            row.try_get::<_, String>(0)?,
                            row.try_get::<_, i64>(1)?,
                            row.try_get::<_, Vec<u8>>(2)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            })
            .await?;
        rows.into_iter()
            .map(|(writer, sequence, hash)| chain_head(&self.describe(), writer, sequence, hash))
            .collect()
    }

    /// Where `prune` cut each writer's chain, latest cut last.
    pub async fn prune_boundaries(&self) -> Result<Vec<PruneBoundary>, StoreError> {
        let rows = self
            .with(async |client| {
                let rows = client
                    .query(
                        "SELECT writer, last_sequence, last_hash, deleted, cutoff_ms, pruned_at_ms, \
                         signer, signature FROM prunes ORDER BY pruned_at_ms, writer",
                        &[],
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        Ok(prune_boundary((
                            row.try_get(0)?,
                            row.try_get(1)?,
                            row.try_get(2)?,
                            row.try_get(3)?,
                            row.try_get(4)?,
                            row.try_get(5)?,
                            row.try_get(6)?,
                            row.try_get(7)?,
                        )))
                    })
                    .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            })
            .await?;
        Ok(rows)
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
        self.with(async |client| {
            let tx = client.transaction().await?;
            let cut = tx
                .query(
                    "SELECT x.writer, COUNT(*), MAX(x.sequence) FROM decision_records x \
                     WHERE x.sequence < COALESCE((SELECT MIN(y.sequence) FROM decision_records y \
                     WHERE y.writer = x.writer AND y.decided_at_ms >= $1), 9223372036854775807) \
                     GROUP BY x.writer ORDER BY x.writer",
                    &[&to_i64(cutoff_ms)],
                )
                .await?;
            let mut boundaries = Vec::with_capacity(cut.len());
            for row in &cut {
                let writer: String = row.try_get(0)?;
                let last_sequence: i64 = row.try_get(2)?;
                let hash: Vec<u8> = tx
                    .query_one(
                        "SELECT hash FROM decision_records WHERE writer = $1 AND sequence = $2",
                        &[&writer, &last_sequence],
                    )
                    .await?
                    .try_get(0)?;
                let b = prune_cut(
                    writer,
                    row.try_get(1)?,
                    last_sequence,
                    hash,
                    (cutoff_ms, now_ms),
                    key,
                );
                tx.execute(
                    "DELETE FROM late_results WHERE record_id IN (SELECT id FROM decision_records \
                     WHERE writer = $1 AND sequence <= $2)",
                    &[&b.writer, &last_sequence],
                )
                .await?;
                tx.execute(
                    "DELETE FROM decision_records WHERE writer = $1 AND sequence <= $2",
                    &[&b.writer, &last_sequence],
                )
                .await?;
                tx.execute(
                    "INSERT INTO prunes (pruned_at_ms, cutoff_ms, writer, deleted, last_sequence, \
                     last_hash, signer, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &to_i64(now_ms),
                        &to_i64(cutoff_ms),
                        &b.writer,
                        &to_i64(b.deleted),
                        &last_sequence,
                        &b.last_hash.as_slice(),
                        &b.signer,
                        &b.signature,
                    ],
                )
                .await?;
                boundaries.push(b);
            }
            tx.commit().await?;
            Ok(boundaries)
        })
        .await
    }
}

/// The [`ListFilter`] as a condition on `$1`..`$5`.
const FILTER: &str = "($1::TEXT IS NULL OR target = $1) \
     AND ($2::BIGINT IS NULL OR decided_at_ms >= $2) AND ($3::BIGINT IS NULL OR decided_at_ms < $3) \
     AND ($4::BOOLEAN IS NULL OR is_valid = $4) AND ($5::TEXT IS NULL OR client = $5)";

const SELECT_RECORD: &str = "SELECT id, writer, sequence, decided_at_ms, target, check_type, \
     is_valid, client, record, signature, hash FROM decision_records";

fn read_row(row: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    Ok((
        Columns {
            id: row.try_get(0)?,
            writer: row.try_get(1)?,
            sequence: to_u64(row.try_get(2)?),
            decided_at_ms: to_u64(row.try_get(3)?),
            target: row.try_get(4)?,
            check_type: row.try_get(5)?,
            is_valid: row.try_get(6)?,
            client: row.try_get(7)?,
        },
        row.try_get(8)?,
        row.try_get(9)?,
        row.try_get(10)?,
    ))
}

async fn read_late(client: &Client, id: &str) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT result FROM late_results WHERE record_id = $1 ORDER BY arrived_at_ms, id",
            &[&id],
        )
        .await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

async fn migrate(client: &mut Client, describe: &str) -> Result<(), StoreError> {
    let fail = |version: u32, e: tokio_postgres::Error| StoreError::Migration {
        store: describe.to_owned(),
        version,
        detail: error_text(&e),
    };
    let tx = client.transaction().await.map_err(|e| fail(0, e))?;
    // Coordinators starting together wait here for the first one.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| fail(0, e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )
    .await
    .map_err(|e| fail(0, e))?;
    let applied: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(|e| fail(0, e))?
        .get(0);
    let applied = u32::try_from(applied).unwrap_or(u32::MAX);
    let migrations = store::migrations(store::Backend::Postgres);
    let known = migrations.last().map_or(0, |m| m.version);
    if applied > known {
        return Err(StoreError::SchemaTooNew {
            store: describe.to_owned(),
            found: applied,
            known,
        });
    }
    for migration in migrations.into_iter().filter(|m| m.version > applied) {
        tx.batch_execute(migration.sql)
            .await
            .map_err(|e| fail(migration.version, e))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)",
            &[
                &i64::from(migration.version),
                &to_i64(crate::clock::now_ms()),
            ],
        )
        .await
        .map_err(|e| fail(migration.version, e))?;
    }
    tx.commit().await.map_err(|e| fail(known, e))
}

/// The error with its source: tokio-postgres' own text is often just "db
/// error".
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}
