//! BR 3.2.2.9 quorum: `decide` runs after every answer of every attempt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mpic_core::quorum::{self, NonCorroboration, Policy, Requirements, Standing};
use mpic_core::rir::Rir;

const RIRS: [Rir; 5] = [
    Rir::Arin,
    Rir::RipeNcc,
    Rir::Apnic,
    Rir::Lacnic,
    Rir::Afrinic,
];

/// `n` outcomes: `yes` corroborated, one not corroborated, the rest pending.
fn outcomes(n: usize, yes: usize) -> Vec<Standing> {
    (0..n)
        .map(|i| {
            let rir = RIRS[i % RIRS.len()];
            if i < yes {
                Standing::Corroborated { rir }
            } else if i == yes {
                Standing::NotCorroborated {
                    reason: NonCorroboration::Timeout,
                }
            } else {
                Standing::Pending { rir }
            }
        })
        .collect()
}

fn decide(c: &mut Criterion) {
    let requirements = Requirements {
        min_perspectives: 5,
        min_rirs: 2,
    };
    let mut group = c.benchmark_group("quorum/decide");
    // (name, outcomes, expected): undecided mid-attempt and the deciding call.
    let cases = [
        ("6_undecided", outcomes(6, 2), quorum::Status::Undecided),
        ("6_valid", outcomes(6, 4), quorum::Status::Valid),
        ("10_undecided", outcomes(10, 4), quorum::Status::Undecided),
        ("10_valid", outcomes(10, 8), quorum::Status::Valid),
    ];
    for (name, outcomes, want) in cases {
        assert_eq!(
            quorum::decide(Policy::Br, requirements, &outcomes),
            want,
            "{name}"
        );
        group.bench_function(name, |b| {
            b.iter(|| quorum::decide(Policy::Br, requirements, black_box(&outcomes)))
        });
    }
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
