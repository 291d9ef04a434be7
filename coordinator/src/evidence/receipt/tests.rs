#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

#[test]
fn signed_bytes_round_trip_and_verify() {
    let signed = signed_bytes(br#"{"id":"a"}"#).unwrap();
    assert_eq!(&signed[..12], b"MPIC-RECEIPT");
    assert_eq!(record_json(&signed).unwrap(), br#"{"id":"a"}"#);
    let signature = sign(&key(), &signed);
    verify(&key().verifying_key(), &signed, &signature).unwrap();
}

#[test]
fn a_flipped_byte_anywhere_fails_the_signature() {
    let signed = signed_bytes(br#"{"id":"a"}"#).unwrap();
    let signature = sign(&key(), &signed);
    for i in 0..signed.len() {
        let mut altered = signed.clone();
        altered[i] ^= 1;
        assert_eq!(
            verify(&key().verifying_key(), &altered, &signature),
            Err(ReceiptError::BadSignature),
            "byte {i}"
        );
    }
}

#[test]
fn framing_errors_are_named() {
    let signed = signed_bytes(b"{}").unwrap();
    assert_eq!(
        record_json(b"MPIC-REPORT\x01"),
        Err(ReceiptError::Malformed("wrong magic"))
    );
    let mut v2 = signed.clone();
    v2[12] = 2;
    assert_eq!(record_json(&v2), Err(ReceiptError::UnsupportedVersion(2)));
    let mut trailing = signed.clone();
    trailing.push(b' ');
    assert!(matches!(
        record_json(&trailing),
        Err(ReceiptError::Malformed(_))
    ));
}
