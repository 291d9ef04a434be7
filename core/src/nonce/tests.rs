#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn length_bounds() {
    let cases = [
        (0, false),
        (15, false),
        (16, true),
        (24, true),
        (32, true),
        (33, false),
    ];
    for (len, ok) in cases {
        assert_eq!(Nonce::new(vec![7; len]).is_ok(), ok, "length {len}");
    }
    assert_eq!(Nonce::new(vec![0; 15]), Err(NonceError::Length(15)));
}

#[test]
fn json_is_base64_and_validated() {
    let nonce = Nonce::new(vec![0xff; 16]).unwrap();
    let json = serde_json::to_string(&nonce).unwrap();
    assert_eq!(json, "\"/////////////////////w==\"");
    assert_eq!(serde_json::from_str::<Nonce>(&json).unwrap(), nonce);
    // URL-safe, unpadded input is accepted too.
    assert_eq!(
        serde_json::from_str::<Nonce>("\"_____________________w\"").unwrap(),
        nonce
    );
    assert!(
        serde_json::from_str::<Nonce>("\"AAAA\"").is_err(),
        "too short"
    );
    assert!(
        serde_json::from_str::<Nonce>("\"***\"").is_err(),
        "not base64"
    );
}
