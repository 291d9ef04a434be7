#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use mpic_core::quorum::Policy;

use super::audit::{ChainBreak, Finding, audit_chains, audit_record};
use super::*;
use crate::check_call::CheckSpec;
use crate::fanout::tests::{Behaviour, FakePerspectives};
use crate::test_fixtures::{config, coordinator_key, places};
use crate::{Coordinator, ResultStatus};

const SIX: &[&str] = &["iad", "dfw", "fra", "lhr", "sin", "nrt"];

fn spec(domain: &str) -> CheckSpec {
    CheckSpec::from_value(&serde_json::json!({
        "check_type": "caa",
        "domain_or_ip_target": domain,
    }))
    .unwrap()
}

fn context(domain: &str) -> RecordContext {
    RecordContext {
        decided_at_ms: crate::clock::now_ms(),
        client: Some("issuance".into()),
        request: format!(r#"{{"check_type":"caa","domain_or_ip_target":"{domain}"}}"#),
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    coordinator: Coordinator<FakePerspectives>,
    recorder: Recorder,
}

async fn fixture(fakes: FakePerspectives) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evidence.sqlite3");
    let store = EvidenceStore::open(&StoreLocation::Sqlite(path.clone()))
        .await
        .unwrap();
    let config = config(places(SIX), 6, Policy::Br);
    let recorder = Recorder::start(
        store,
        "test-writer".into(),
        coordinator_key(),
        "00".repeat(32),
        &config.perspectives,
    );
    Fixture {
        _dir: dir,
        path,
        coordinator: Coordinator::new(config, fakes).unwrap(),
        recorder,
    }
}

/// Decides and stores a check of each domain; returns the record ids.
async fn decide_and_store(f: &Fixture, domains: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for domain in domains {
        let decision = f.coordinator.check(&spec(domain)).await;
        ids.push(f.recorder.record(&decision, context(domain)).await.unwrap());
    }
    ids
}

fn mixed_perspectives() -> FakePerspectives {
    FakePerspectives::new()
        .with("dfw", Behaviour::Fail)
        .with("sin", Behaviour::Error)
}

#[tokio::test]
async fn every_stored_decision_verifies_and_the_chain_is_whole() {
    let f = fixture(mixed_perspectives()).await;
    let ids = decide_and_store(&f, &["a.example", "b.example", "c.example"]).await;
    let all = f.recorder.store().all().await.unwrap();
    assert_eq!(all.len(), 3);
    for record in &all {
        let audit = audit_record(record);
        assert!(audit.passed(), "{:?}", audit.findings);
        assert_eq!(audit.requests_verified, 1);
        assert!(audit.reports_verified >= 4, "{audit:?}");
    }
    assert_eq!(audit_chains(&all, &[]), vec![]);
    let sequences: Vec<u64> = all.iter().map(|r| r.sealed.columns.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);

    // What a listing shows comes from the same rows.
    let first = f.recorder.store().get(&ids[0]).await.unwrap().unwrap();
    assert_eq!(first.sealed.columns.target, "a.example");
    assert_eq!(first.sealed.columns.client.as_deref(), Some("issuance"));
    let listed = f
        .recorder
        .store()
        .list(&ListFilter {
            target: Some("b.example".into()),
            limit: 10,
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ids[1]);
}

#[tokio::test]
async fn a_store_reopened_keeps_its_chain_and_applies_no_migration_twice() {
    let f = fixture(FakePerspectives::new()).await;
    decide_and_store(&f, &["a.example"]).await;
    let reopened = EvidenceStore::open(&StoreLocation::Sqlite(f.path.clone()))
        .await
        .unwrap();
    let config = config(places(SIX), 6, Policy::Br);
    let second = Recorder::start(
        reopened,
        "test-writer".into(),
        coordinator_key(),
        "00".repeat(32),
        &config.perspectives,
    );
    let decision = f.coordinator.check(&spec("b.example")).await;
    second
        .record(&decision, context("b.example"))
        .await
        .unwrap();
    let all = second.store().all().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(audit_chains(&all, &[]), vec![]);
}

/// The stored record with `edit` applied to its decoded body, re-framed but
/// keeping the original signature, as an attacker without the coordinator's
/// key would have to.
fn tampered(record: &StoredRecord, edit: impl FnOnce(&mut RecordBody)) -> StoredRecord {
    let json = receipt::record_json(&record.sealed.record).unwrap();
    let mut body: RecordBody = serde_json::from_slice(json).unwrap();
    edit(&mut body);
    let mut altered = record.clone();
    altered.sealed.record = receipt::signed_bytes(&serde_json::to_vec(&body).unwrap()).unwrap();
    altered.sealed.hash = receipt::hash(&altered.sealed.record);
    altered
}

#[tokio::test]
async fn a_flipped_byte_in_a_report_a_request_or_the_receipt_fails_verify_and_names_the_part() {
    let f = fixture(FakePerspectives::new()).await;
    let ids = decide_and_store(&f, &["a.example"]).await;
    let stored = f.recorder.store().get(&ids[0]).await.unwrap().unwrap();
    assert!(audit_record(&stored).passed());

    let report = tampered(&stored, |body| {
        let result = body.decision.attempts[0]
            .results
            .iter_mut()
            .find(|r| r.status == ResultStatus::Corroborated)
            .unwrap();
        let signed = result.report.as_mut().unwrap();
        let last = signed.report.len() - 1;
        signed.report[last] ^= 1;
    });
    let findings = audit_record(&report).findings;
    assert!(findings.contains(&Finding::Receipt(receipt::ReceiptError::BadSignature)));
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Report { attempt: 1, .. })),
        "{findings:?}"
    );

    let request = tampered(&stored, |body| {
        let envelope = body.decision.attempts[0].request.as_mut().unwrap();
        let last = envelope.request.len() - 1;
        envelope.request[last] ^= 1;
    });
    let findings = audit_record(&request).findings;
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Request { attempt: 1, .. })),
        "{findings:?}"
    );

    let verdict = tampered(&stored, |body| {
        body.decision.is_valid = !body.decision.is_valid
    });
    let findings = audit_record(&verdict).findings;
    assert!(findings.contains(&Finding::Receipt(receipt::ReceiptError::BadSignature)));
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Decision { .. }))
    );
    assert!(findings.iter().any(|f| matches!(
        f,
        Finding::ColumnDisagrees {
            column: "is_valid",
            ..
        }
    )));

    // Any byte of the receipt: its signed bytes (sampled) and its signature.
    let len = stored.sealed.record.len();
    for i in (0..len).step_by(len / 40) {
        let mut altered = stored.clone();
        altered.sealed.record[i] ^= 0x20;
        assert!(!audit_record(&altered).passed(), "byte {i} of {len}");
    }
    let mut signature = stored.clone();
    signature.sealed.signature[10] ^= 1;
    assert_eq!(
        audit_record(&signature).findings,
        vec![Finding::Receipt(receipt::ReceiptError::BadSignature)]
    );
}

#[tokio::test]
async fn a_record_deleted_from_the_middle_breaks_the_chain() {
    let f = fixture(FakePerspectives::new()).await;
    let ids = decide_and_store(&f, &["a.example", "b.example", "c.example"]).await;
    let connection = rusqlite::Connection::open(&f.path).unwrap();
    connection
        .execute("DELETE FROM decision_records WHERE id = ?1", [&ids[1]])
        .unwrap();
    let all = f.recorder.store().all().await.unwrap();
    assert_eq!(
        audit_chains(&all, &[]),
        vec![ChainBreak::Missing {
            writer: "test-writer".into(),
            from: 2,
            to: 2
        }]
    );
}

#[tokio::test]
async fn prune_deletes_only_older_records_and_the_chain_verifies_from_where_it_cut() {
    let f = fixture(FakePerspectives::new()).await;
    let ids = decide_and_store(&f, &["a.example", "b.example", "c.example"]).await;
    let store = f.recorder.store();
    let third = store.get(&ids[2]).await.unwrap().unwrap();
    let cutoff = third.sealed.columns.decided_at_ms;
    // The first two were decided no later than the third.
    let boundaries = store.prune(cutoff, crate::clock::now_ms()).await.unwrap();
    let deleted: u64 = boundaries.iter().map(|b| b.deleted).sum();
    let left = store.all().await.unwrap();
    assert_eq!(usize::try_from(deleted).unwrap() + left.len(), 3);
    assert!(
        left.iter()
            .all(|r| r.sealed.columns.decided_at_ms >= cutoff)
    );
    let recorded = store.prune_boundaries().await.unwrap();
    assert_eq!(recorded, boundaries);
    assert_eq!(audit_chains(&left, &recorded), vec![]);
    // Without the prune's note, the cut would read as a deletion.
    if deleted > 0 {
        assert!(!audit_chains(&left, &[]).is_empty());
    }
}

#[tokio::test]
async fn a_late_report_is_kept_after_the_decision_and_never_changes_it() {
    let f = fixture(FakePerspectives::new().with("nrt", Behaviour::Late)).await;
    let decision = f.coordinator.check(&spec("late.example")).await;
    assert!(decision.is_valid);
    let nrt = decision.attempts[0]
        .results
        .iter()
        .find(|r| r.perspective_id == "nrt")
        .unwrap();
    assert_eq!(nrt.status, ResultStatus::Cancelled);
    let id = f
        .recorder
        .record(&decision, context("late.example"))
        .await
        .unwrap();

    let mut stored = None;
    for _ in 0..100 {
        let record = f.recorder.store().get(&id).await.unwrap().unwrap();
        if record.late.iter().any(|l| l.result.perspective_id == "nrt") {
            stored = Some(record);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = stored.expect("the late report was never stored");
    assert!(
        stored
            .late
            .iter()
            .any(|l| l.result.perspective_id == "nrt"
                && l.result.status == ResultStatus::Corroborated)
    );
    let audit = audit_record(&stored);
    assert!(audit.passed(), "{:?}", audit.findings);
    assert!(audit.late_verified >= 1);
    // The signed decision still says what was decided before it arrived.
    let json = receipt::record_json(&stored.sealed.record).unwrap();
    let body: RecordBody = serde_json::from_slice(json).unwrap();
    assert_eq!(body.decision.attempts[0].tally, decision.attempts[0].tally);
}

#[tokio::test]
async fn a_bundle_verifies_on_its_own_and_a_tampered_one_does_not() {
    let f = fixture(mixed_perspectives()).await;
    let ids = decide_and_store(&f, &["a.example"]).await;
    let stored = f.recorder.store().get(&ids[0]).await.unwrap().unwrap();
    let text = serde_json::to_string(&Bundle::of(&stored)).unwrap();
    let bundle: Bundle = serde_json::from_str(&text).unwrap();
    let read = bundle.clone().into_stored().unwrap();
    assert_eq!(read, stored);
    assert!(audit_record(&read).passed());

    let mut altered = bundle;
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(&altered.signature)
        .unwrap();
    bytes[0] ^= 1;
    altered.signature = base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(!audit_record(&altered.into_stored().unwrap()).passed());
}
