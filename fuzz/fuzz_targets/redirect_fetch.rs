//! libFuzzer entry point; the harness and its invariants are in
//! `mpic_fuzz::redirect_fetch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mpic_fuzz::redirect_fetch::run(data));
