//! CAA: evaluating a Relevant RRset (typical and 1000 records), and the
//! whole check (query, parse, climb, evaluate, observation) over an
//! in-memory resolver that answers in DNS wire format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpic_core::caa::property::Property;
use mpic_core::caa::{self, Evaluation, EvaluationContext};
use mpic_core::check::CertificateType;
use mpic_core::perspective::CheckObservation;
use mpic_core::report::Observation;

use support::{OUR_ISSUER, WireNetwork, ZONE, caa_request, large_rrset, typical_rrset};

fn properties(records: &[hickory_proto::rr::Record]) -> Vec<Property> {
    records
        .iter()
        .map(|r| Property::from_record(r).unwrap().unwrap())
        .collect()
}

fn evaluate(c: &mut Criterion) {
    let issuers = vec![OUR_ISSUER.to_owned()];
    let context = EvaluationContext {
        certificate_type: CertificateType::TlsServer,
        wildcard: false,
        issuer_domain_names: &issuers,
        account_uri: Some("https://ca.example/acct/12345"),
        validation_method: Some("dns-01"),
    };
    let mut group = c.benchmark_group("caa/evaluate");
    let cases = [
        (
            "typical_3_records",
            properties(&typical_rrset("example.com.")),
            true,
        ),
        (
            "1000_records_ours_last",
            properties(&large_rrset("example.com.", 1000, true)),
            true,
        ),
        (
            "1000_records_forbidden",
            properties(&large_rrset("example.com.", 1000, false)),
            false,
        ),
    ];
    for (name, props, permitted) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let decision = caa::evaluate(black_box(&props), &context);
                assert_eq!(
                    matches!(decision, Evaluation::Permitted { .. }),
                    permitted,
                    "{decision:?}"
                );
                decision
            })
        });
    }
    group.finish();
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("caa/check");
    let cases = [
        (
            "typical_www_climbs_to_3_records",
            WireNetwork::new().with_caa(ZONE, typical_rrset("example.com.")),
            "www.example.com",
        ),
        (
            "1000_records_ours_last",
            WireNetwork::new().with_caa(ZONE, large_rrset("example.com.", 1000, true)),
            ZONE,
        ),
    ];
    for (name, network, domain) in cases {
        let request = caa_request(domain);
        group.bench_function(name, |b| {
            b.iter(|| {
                let observed = pollster::block_on(caa::check(&network, black_box(&request)));
                let observed = observed.unwrap();
                assert!(observed.outcome.permits_issuance(), "{observed:?}");
                observed
            })
        });
        // What the perspective does next: the observation as signed JSON.
        group.bench_function(format!("{name}+observation_json"), |b| {
            b.iter(|| {
                let observed =
                    pollster::block_on(caa::check(&network, black_box(&request))).unwrap();
                Observation::from_value(&CheckObservation::Caa(observed)).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate, check);
criterion_main!(benches);
