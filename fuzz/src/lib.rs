//! Fuzz harnesses for mpic-core.
//!
//! Each module is one fuzz target: `run(data)` feeds the bytes to the code
//! under test and panics when an invariant fails, which libFuzzer reports as a
//! crash. The invariants are the security properties a CA relies on (a DNS
//! answer really answers the question, a CAA value outside the grammar never
//! authorises, a report or request verifies only as signed, a redirect chain
//! never leaves the policy, never a pass without a 2xx), not merely "does not
//! panic".
//!
//! The harnesses are plain functions so that `cargo test` (stable, no
//! sanitizers) replays the seed corpora and the regression inputs
//! (`tests/replay.rs`), and `examples/seed_corpus.rs` writes the seeds.

pub mod caa_evaluate;
pub mod caa_value;
pub mod check_request;
pub mod doh_response;
pub mod input;
pub mod redirect_fetch;
pub mod request_envelope;
pub mod seeds;
pub mod signed_report;

/// A harness: feeds one input to the code under test, panics on a violated
/// invariant.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its binary and corpus directory.
pub const TARGETS: [(&str, Harness); 7] = [
    ("doh_response", doh_response::run),
    ("caa_value", caa_value::run),
    ("caa_evaluate", caa_evaluate::run),
    ("check_request", check_request::run),
    ("signed_report", signed_report::run),
    ("request_envelope", request_envelope::run),
    ("redirect_fetch", redirect_fetch::run),
];
