#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mpic_core::quorum::Policy;

use super::audit::{ChainBreak, Finding, audit_chains, audit_record};
use super::*;
use crate::fanout::tests::{Behaviour, FakePerspectives};
use crate::test_fixtures::{config, coordinator_key, places};
use crate::{Coordinator, Outcome, ResultStatus};
use ed25519_dalek::VerifyingKey;
use mpic_core::check::CheckRequest;

const SIX: &[&str] = &["iad", "dfw", "fra", "lhr", "sin", "nrt"];

fn spec(domain: &str) -> CheckRequest {
    CheckRequest::from_value(&serde_json::json!({
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
        let decision = f.coordinator.check(&spec(domain)).await.unwrap();
        ids.push(f.recorder.record(&decision, context(domain)).await.unwrap());
    }
    ids
}

/// The coordinator key the fixtures sign with: the one an auditor trusts.
fn trusted() -> Vec<VerifyingKey> {
    vec![coordinator_key().verifying_key()]
}

/// Audits `records`' chains against the store's prune notes and heads.
async fn chain_breaks(store: &EvidenceStore, records: &[StoredRecord]) -> Vec<ChainBreak> {
    let boundaries = store.prune_boundaries().await.unwrap();
    let heads = store.chain_heads().await.unwrap();
    audit_chains(records, &boundaries, &heads, &trusted())
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
        let audit = audit_record(record, &trusted());
        assert!(audit.passed(), "{:?}", audit.findings);
        assert_eq!(audit.requests_verified, 1);
        assert!(audit.reports_verified >= 4, "{audit:?}");
    }
    assert_eq!(chain_breaks(f.recorder.store(), &all).await, vec![]);
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
    let decision = f.coordinator.check(&spec("b.example")).await.unwrap();
    second
        .record(&decision, context("b.example"))
        .await
        .unwrap();
    let all = second.store().all().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(chain_breaks(second.store(), &all).await, vec![]);
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
    assert!(audit_record(&stored, &trusted()).passed());

    let report = tampered(&stored, |body| {
        let result = body.decision.0.facts.attempts[0]
            .results
            .iter_mut()
            .find(|r| r.status == ResultStatus::Corroborated)
            .unwrap();
        let signed = result.report.as_mut().unwrap();
        let last = signed.report.len() - 1;
        signed.report[last] ^= 1;
    });
    let findings = audit_record(&report, &trusted()).findings;
    assert!(findings.contains(&Finding::Receipt(receipt::ReceiptError::BadSignature)));
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Report { attempt: 1, .. })),
        "{findings:?}"
    );

    let request = tampered(&stored, |body| {
        let envelope = body.decision.0.facts.attempts[0].request.as_mut().unwrap();
        let last = envelope.request.len() - 1;
        envelope.request[last] ^= 1;
    });
    let findings = audit_record(&request, &trusted()).findings;
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::Request { attempt: 1, .. })),
        "{findings:?}"
    );

    let verdict = tampered(&stored, |body| {
        let facts = &mut body.decision.0.facts;
        facts.outcome = match facts.outcome {
            Outcome::Corroborated => Outcome::NotCorroborated,
            _ => Outcome::Corroborated,
        };
    });
    let findings = audit_record(&verdict, &trusted()).findings;
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
        assert!(
            !audit_record(&altered, &trusted()).passed(),
            "byte {i} of {len}"
        );
    }
    let mut signature = stored.clone();
    signature.sealed.signature[10] ^= 1;
    assert_eq!(
        audit_record(&signature, &trusted()).findings,
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
        chain_breaks(f.recorder.store(), &all).await,
        vec![ChainBreak::Missing {
            writer: "test-writer".into(),
            from: 2,
            to: 2
        }]
    );

    // The newest record too: the chain head still names it.
    connection
        .execute("DELETE FROM decision_records WHERE id = ?1", [&ids[2]])
        .unwrap();
    let all = f.recorder.store().all().await.unwrap();
    assert!(
        chain_breaks(f.recorder.store(), &all)
            .await
            .contains(&ChainBreak::Missing {
                writer: "test-writer".into(),
                from: 2,
                to: 3
            })
    );
}

const DAY_MS: u64 = 86_400_000;

#[tokio::test]
async fn prune_deletes_only_older_records_and_the_chain_verifies_from_where_it_cut() {
    let f = fixture(FakePerspectives::new()).await;
    let now = crate::clock::now_ms();
    // Three decisions, 1000, 900 and 10 days old.
    for (domain, age_days) in [("a.example", 1000), ("b.example", 900), ("c.example", 10)] {
        let decision = f.coordinator.check(&spec(domain)).await.unwrap();
        let mut at = context(domain);
        at.decided_at_ms = now - age_days * DAY_MS;
        f.recorder.record(&decision, at).await.unwrap();
    }
    let store = f.recorder.store();
    let cutoff = now - 763 * DAY_MS;
    let boundaries = store.prune(cutoff, now, &coordinator_key()).await.unwrap();
    assert_eq!(boundaries.len(), 1);
    assert_eq!((boundaries[0].deleted, boundaries[0].last_sequence), (2, 2));
    let left = store.all().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].sealed.columns.target, "c.example");
    assert_eq!(store.prune_boundaries().await.unwrap(), boundaries);
    assert_eq!(chain_breaks(store, &left).await, vec![]);

    // A note signed by another key, or one that cut younger records than
    // BR 5.4.3 allows, does not count: the cut reads as a deletion.
    let heads = store.chain_heads().await.unwrap();
    let mut forged = boundaries[0].clone();
    super::prune_note::sign(&mut forged, &crate::test_fixtures::key(99));
    let mut too_young = boundaries[0].clone();
    too_young.cutoff_ms = now - 100 * DAY_MS;
    super::prune_note::sign(&mut too_young, &coordinator_key());
    for note in [forged, too_young] {
        let breaks = audit_chains(&left, &[note], &heads, &trusted());
        assert!(
            breaks.iter().any(|b| matches!(b, ChainBreak::Prune { .. }))
                && breaks
                    .iter()
                    .any(|b| matches!(b, ChainBreak::Missing { .. })),
            "{breaks:?}"
        );
    }
}

#[tokio::test]
async fn a_record_signed_by_a_key_the_auditor_does_not_trust_fails() {
    let f = fixture(FakePerspectives::new()).await;
    let ids = decide_and_store(&f, &["a.example"]).await;
    let stored = f.recorder.store().get(&ids[0]).await.unwrap().unwrap();
    let other = crate::test_fixtures::key(99).verifying_key();
    let findings = audit_record(&stored, &[other]).findings;
    assert!(
        matches!(findings.as_slice(), [Finding::UntrustedCoordinatorKey(_)]),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_report_moved_to_another_perspective_or_a_request_for_another_name_fails() {
    let f = fixture(FakePerspectives::new()).await;
    let ids = decide_and_store(&f, &["a.example", "b.example"]).await;
    let a = f.recorder.store().get(&ids[0]).await.unwrap().unwrap();
    let b = f.recorder.store().get(&ids[1]).await.unwrap().unwrap();
    let body_of = |r: &StoredRecord| -> RecordBody {
        serde_json::from_slice(receipt::record_json(&r.sealed.record).unwrap()).unwrap()
    };
    // Record a's decision, claiming b's name: its signed requests say a.
    let renamed = tampered(&a, |body| body.decision.0.facts.target = "b.example".into());
    assert!(
        audit_record(&renamed, &trusted())
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Request { attempt: 1, .. }))
    );
    // A corroborating result counted twice.
    let doubled = tampered(&b, |body| {
        let results = &mut body.decision.0.facts.attempts[0].results;
        let first = results
            .iter()
            .position(|r| r.status == ResultStatus::Corroborated)
            .unwrap();
        let copy = results[first].clone();
        let last = results.len() - 1;
        results[last] = copy;
    });
    assert!(
        audit_record(&doubled, &trusted())
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Results { attempt: 1, .. })),
        "{:?}",
        body_of(&doubled).decision.as_recorded().attempts()[0].cohort
    );
}

#[tokio::test]
async fn a_late_report_is_kept_after_the_decision_and_never_changes_it() {
    let f = fixture(FakePerspectives::new().with("nrt", Behaviour::Late)).await;
    let decision = f.coordinator.check(&spec("late.example")).await.unwrap();
    assert!(decision.is_valid());
    let nrt = decision.attempts()[0]
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
    let audit = audit_record(&stored, &trusted());
    assert!(audit.passed(), "{:?}", audit.findings);
    assert!(audit.late_verified >= 1);
    // The signed decision still says what was decided before it arrived.
    let json = receipt::record_json(&stored.sealed.record).unwrap();
    let body: RecordBody = serde_json::from_slice(json).unwrap();
    assert_eq!(
        body.decision.as_recorded().attempts()[0].tally,
        decision.attempts()[0].tally
    );
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
    assert!(audit_record(&read, &trusted()).passed());

    let mut altered = bundle;
    let mut bytes = data_encoding::BASE64
        .decode(altered.signature.as_bytes())
        .unwrap();
    bytes[0] ^= 1;
    altered.signature = data_encoding::BASE64.encode(&bytes);
    assert!(!audit_record(&altered.into_stored().unwrap(), &trusted()).passed());
}

#[tokio::test]
async fn a_damaged_chain_head_stops_appends_rather_than_restarting_the_chain() {
    let f = fixture(FakePerspectives::new()).await;
    decide_and_store(&f, &["a.example"]).await;
    let connection = rusqlite::Connection::open(&f.path).unwrap();
    connection
        .execute("UPDATE chain_heads SET hash = x'00'", [])
        .unwrap();
    let decision = f.coordinator.check(&spec("b.example")).await.unwrap();
    let refused = f.recorder.record(&decision, context("b.example")).await;
    assert!(
        matches!(&refused, Err(StoreError::Unreadable { id, .. }) if id.contains("chain head")),
        "{refused:?}"
    );
    assert_eq!(f.recorder.store().all().await.unwrap().len(), 1);
}
