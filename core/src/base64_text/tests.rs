#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn decodes_every_accepted_form_to_the_same_bytes() {
    // 0xfb 0xff 0xfe exercises the two characters where the alphabets differ.
    let bytes = [0xfb, 0xff, 0xfe, 0x01];
    for text in ["+//+AQ==", "+//+AQ", "-__-AQ==", "-__-AQ"] {
        assert_eq!(decode(text).unwrap(), bytes, "{text}");
    }
    assert_eq!(encode(&bytes), "+//+AQ==");
}

#[test]
fn refuses_malformed_text() {
    for text in ["+_/-AQ==", "A", "AR==", "AQ===", "not base64!", "AQ==\n"] {
        assert!(decode(text).is_err(), "{text:?} should be refused");
    }
}
