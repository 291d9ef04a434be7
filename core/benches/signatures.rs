//! Ed25519 on the hot path: a perspective signs a report and verifies the
//! coordinator's request; the coordinator signs a request per perspective
//! and verifies every report. With `--features batch`, batch verification of
//! 6 and 64 reports; with `--features fast`, ed25519-dalek's precomputed
//! basepoint tables (what the numbers would be if the coordinator used them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use mpic_core::nonce::Nonce;
use mpic_core::report::{self, Expectations, ReportBody, SignedReport};
use mpic_core::request_auth;

use support::report_body;

const NOW_MS: u64 = 1_790_000_000_100;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// `count` reports from `count` perspectives, each with its own key.
fn signed_reports(count: usize) -> Vec<(SigningKey, ReportBody, SignedReport)> {
    (0..count)
        .map(|i| {
            let n = u8::try_from(i + 1).unwrap();
            let key = key(n);
            let body = report_body(&format!("p{i}"), n);
            let signed = report::sign(&key, &body).unwrap();
            (key, body, signed)
        })
        .collect()
}

fn expectations<'a>(
    body: &'a ReportBody,
    key: &'a ed25519_dalek::VerifyingKey,
) -> Expectations<'a> {
    Expectations {
        perspective_id: &body.perspective_id,
        key,
        nonce: &body.nonce,
        request_digest: &body.request_digest,
        now_ms: NOW_MS,
        max_age_ms: 60_000,
        max_future_skew_ms: 5_000,
    }
}

fn reports(c: &mut Criterion) {
    let mut group = c.benchmark_group("report");
    let reports = signed_reports(1);
    let (key, body, signed) = &reports[0];
    let verifying = key.verifying_key();
    group.bench_function("sign", |b| {
        b.iter(|| report::sign(key, black_box(body)).unwrap())
    });
    group.bench_function("verify", |b| {
        b.iter(|| report::verify(black_box(signed), &expectations(body, &verifying)).unwrap())
    });
    group.bench_function("to_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(signed)).unwrap())
    });
    let json = serde_json::to_vec(signed).unwrap();
    group.bench_function("from_json", |b| {
        b.iter(|| SignedReport::from_json(black_box(&json)).unwrap())
    });
    group.finish();
}

#[cfg(feature = "batch")]
fn batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("report/verify_batch");
    for count in [6usize, 64] {
        let reports = signed_reports(count);
        let keys: Vec<_> = reports.iter().map(|(k, _, _)| k.verifying_key()).collect();
        let expects: Vec<Expectations<'_>> = reports
            .iter()
            .zip(&keys)
            .map(|((_, body, _), key)| expectations(body, key))
            .collect();
        let items: Vec<(&SignedReport, &Expectations<'_>)> = reports
            .iter()
            .zip(&expects)
            .map(|((_, _, signed), expect)| (signed, expect))
            .collect();
        group.bench_function(format!("{count}_batch"), |b| {
            b.iter(|| {
                let results = report::verify_batch(black_box(&items));
                assert!(results.iter().all(Result::is_ok));
                results
            })
        });
        group.bench_function(format!("{count}_one_by_one"), |b| {
            b.iter(|| {
                items
                    .iter()
                    .map(|(signed, expect)| report::verify(signed, expect).unwrap())
                    .collect::<Vec<_>>()
            })
        });
    }
    group.finish();
}

#[cfg(not(feature = "batch"))]
fn batch(_: &mut Criterion) {
    eprintln!("report/verify_batch skipped: run with --features batch");
}

fn requests(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    let coordinator = key(200);
    let allowed = [coordinator.verifying_key()];
    // A CheckCall for a CAA check as the coordinator sends it.
    let body = br#"{"perspective_ids":["eu-central"],"attempt":1,"check":{"check_type":"caa","domain_or_ip_target":"www.example.com","caa_check_parameters":{"caa_domains":["ca.example"]}}}"#;
    let nonce = Nonce::new(vec![9; 32]).unwrap();
    group.bench_function("sign", |b| {
        b.iter(|| {
            request_auth::sign_request(&coordinator, black_box(body), &nonce, NOW_MS).unwrap()
        })
    });
    let envelope = request_auth::sign_request(&coordinator, body, &nonce, NOW_MS).unwrap();
    group.bench_function("verify", |b| {
        b.iter(|| {
            request_auth::verify_request(black_box(&envelope), &allowed, NOW_MS, 60_000).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, reports, batch, requests);
criterion_main!(benches);
