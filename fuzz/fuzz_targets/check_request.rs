//! libFuzzer entry point; the harness and its invariants are in
//! `mpic_fuzz::check_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpic_fuzz::check_request::run(data));
