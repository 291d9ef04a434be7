//! Replays the seed corpus and every regression input through the fuzz
//! harnesses on stable Rust, without libFuzzer, so `cargo test` in `fuzz/`
//! checks the invariants on known inputs and the seeds still exercise what
//! they were written for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mpic_fuzz::TARGETS;

fn inputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut inputs: Vec<(String, Vec<u8>)> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn seed_corpus_and_regressions_hold_every_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (target, run) in TARGETS {
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(!corpus.is_empty(), "{target} has no seed corpus");
        for (path, bytes) in corpus
            .iter()
            .chain(&inputs(&root.join("regressions").join(target)))
        {
            let outcome = std::panic::catch_unwind(|| run(bytes));
            assert!(outcome.is_ok(), "{target}: {path} breaks an invariant");
        }
    }
}

#[test]
fn checked_in_seeds_are_the_generated_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, name, bytes) in mpic_fuzz::seeds::all() {
        let path = root.join(target).join(&name);
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `cargo run --example seed_corpus`",
                path.display()
            )
        });
        assert_eq!(on_disk, bytes, "{} is stale", path.display());
    }
}

/// Seeds reach the code they were written for: the DoH seeds are accepted
/// responses, the requests validate, the signed messages verify.
#[test]
fn seeds_are_accepted_where_they_should_be() {
    use mpic_core::check::CheckRequest;
    use mpic_core::report::{SignedReport, request_digest, verify};
    use mpic_core::request_auth::{RequestEnvelope, verify_request};
    use mpic_fuzz::{doh_response, request_envelope, signed_report};

    for (target, name, bytes) in mpic_fuzz::seeds::all() {
        match target {
            "doh_response" => {
                let query = doh_response::query(bytes[0]);
                query
                    .parse_response(&bytes[1..], doh_response::RESOLVER)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            // `refused_*` seeds are requests that must be refused (they
            // start the fuzzer on the refusal paths); the others validate.
            "check_request" if name.starts_with("refused_") => {
                assert!(CheckRequest::from_json(&bytes).is_err(), "{name} was accepted");
            }
            "check_request" => {
                CheckRequest::from_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "signed_report" if bytes[0] == 0 => {
                let report = SignedReport::from_json(&bytes[1..]).unwrap();
                let key = signed_report::perspective_key().verifying_key();
                let nonce = signed_report::nonce();
                let digest = request_digest(signed_report::REQUEST);
                verify(&report, &signed_report::expectations(&key, &nonce, &digest))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            "request_envelope" if name == "json" => {
                let envelope = RequestEnvelope::from_json(&bytes[1..]).unwrap();
                let allowed = [request_envelope::coordinator_key().verifying_key()];
                verify_request(
                    &envelope,
                    &allowed,
                    request_envelope::NOW_MS,
                    request_envelope::MAX_SKEW_MS,
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            _ => {}
        }
    }
}
