-- One row per decision: the coordinator-signed record (the "decision
-- receipt") and the columns a listing needs. The columns are copies of what
-- the signed bytes say; `mpic evidence verify` checks that they agree.
CREATE TABLE decision_records (
    id            TEXT    PRIMARY KEY,
    writer        TEXT    NOT NULL,
    sequence      INTEGER NOT NULL,
    decided_at_ms INTEGER NOT NULL,
    target        TEXT    NOT NULL,
    check_type    TEXT    NOT NULL,
    is_valid      INTEGER NOT NULL,
    client        TEXT,
    record        BLOB    NOT NULL,
    signature     BLOB    NOT NULL,
    hash          BLOB    NOT NULL,
    UNIQUE (writer, sequence)
);
CREATE INDEX decision_records_target ON decision_records (target, decided_at_ms);
CREATE INDEX decision_records_time ON decision_records (decided_at_ms);

-- Each writer's last record: appends lock it, so records of one writer form
-- one chain even when several processes write as that writer.
CREATE TABLE chain_heads (
    writer   TEXT    PRIMARY KEY,
    sequence INTEGER NOT NULL,
    hash     BLOB    NOT NULL
);

-- Results of calls still running when their attempt was decided: kept,
-- never counted. Each holds the perspective's own signed report.
CREATE TABLE late_results (
    record_id     TEXT    NOT NULL,
    arrived_at_ms INTEGER NOT NULL,
    result        TEXT    NOT NULL
);
CREATE INDEX late_results_record ON late_results (record_id);

-- What `mpic evidence prune` deleted: per writer, the last record deleted,
-- so that a chain may start after it; signed by the coordinator that pruned.
CREATE TABLE prunes (
    pruned_at_ms  INTEGER NOT NULL,
    cutoff_ms     INTEGER NOT NULL,
    writer        TEXT    NOT NULL,
    deleted       INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    last_hash     BLOB    NOT NULL,
    signer        TEXT    NOT NULL,
    signature     BLOB    NOT NULL
);
