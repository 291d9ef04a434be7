//! DNS messages: building a query and checking a response, for a typical CAA
//! answer and a 1000-record one (the size of hostile or test RRsets).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hickory_proto::rr::RecordType;
use mpic_core::dns::DnsQuery;

use support::{RESOLVER, caa_response_wire, large_rrset, typical_rrset};

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("dns/query_build");
    group.bench_function("random_id", |b| {
        b.iter(|| DnsQuery::new(black_box("www.example.com"), RecordType::CAA).unwrap())
    });
    group.bench_function("id_0", |b| {
        b.iter(|| DnsQuery::with_id(black_box("www.example.com"), RecordType::CAA, 0).unwrap())
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("dns/response_parse");
    let cases = [
        ("typical_3_records", typical_rrset("example.com.")),
        ("caa_1000_records", large_rrset("example.com.", 1000, true)),
    ];
    for (name, records) in cases {
        let count = records.len();
        let (query, wire) = caa_response_wire("example.com", records);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let answer = query.parse_response(black_box(&wire), RESOLVER).unwrap();
                assert_eq!(answer.records.len(), count);
                answer
            })
        });
    }
    group.finish();
}

criterion_group!(benches, build, parse);
criterion_main!(benches);
