//! libFuzzer entry point; the harness and its invariants are in
//! `mpic_fuzz::signed_report`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpic_fuzz::signed_report::run(data));
