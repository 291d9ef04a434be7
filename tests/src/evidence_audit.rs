//! Keeps an end-to-end decision in an SQLite evidence store and re-verifies
//! it offline at once, as `mpic evidence verify --all --chain` would: every
//! scenario's decision must make a record that verifies.

use std::path::Path;

use mpic_coordinator::evidence::audit::{audit_chains, audit_record};
use mpic_coordinator::evidence::{EvidenceStore, RecordContext, Recorder, StoreLocation};
use mpic_coordinator::{Coordinator, Decision, PerspectiveTransport};

/// Stores `decision` (made by `coordinator`) in `dir/evidence.sqlite3` and
/// verifies that record and the whole chain so far; the error says what
/// failed.
pub async fn keep_and_verify<T: PerspectiveTransport + 'static>(
    coordinator: &Coordinator<T>,
    decision: &Decision,
    dir: &Path,
) -> Result<(), String> {
    let store = EvidenceStore::open(&StoreLocation::Sqlite(dir.join("evidence.sqlite3")))
        .await
        .map_err(|e| e.to_string())?;
    let config = coordinator.config();
    let recorder = Recorder::start(
        store.clone(),
        "end-to-end".into(),
        config.signing_key.clone(),
        config.digest.clone(),
        &config.perspectives,
    );
    let context = RecordContext {
        decided_at_ms: mpic_coordinator::now_ms(),
        client: None,
        request: format!("{{\"domain_or_ip_target\":\"{}\"}}", decision.target()),
    };
    let id = recorder
        .record(decision, context)
        .await
        .map_err(|e| e.to_string())?;
    let stored = store
        .get(&id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("record {id} was not stored"))?;
    let trusted = mpic_coordinator::evidence::trusted_keys(config);
    let audit = audit_record(&stored, &trusted);
    if !audit.passed() {
        return Err(format!("record {id} does not verify: {:?}", audit.findings));
    }
    if decision.is_valid() && audit.reports_verified == 0 {
        return Err(format!("record {id} is valid with no verified report"));
    }
    let all = store.all().await.map_err(|e| e.to_string())?;
    let heads = store.chain_heads().await.map_err(|e| e.to_string())?;
    let breaks = audit_chains(&all, &[], &heads, &trusted);
    if !breaks.is_empty() {
        return Err(format!("chain broken: {breaks:?}"));
    }
    Ok(())
}
