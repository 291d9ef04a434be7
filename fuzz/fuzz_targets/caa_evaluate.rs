//! libFuzzer entry point; the harness and its invariants are in
//! `mpic_fuzz::caa_evaluate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpic_fuzz::caa_evaluate::run(data));
