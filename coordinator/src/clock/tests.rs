use super::*;

#[test]
fn reads_a_time_after_this_code_was_written() {
    // 2025-01-01T00:00:00Z.
    assert!(now_ms() > 1_735_689_600_000);
}
