#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn an_older_document_without_the_newer_fields_still_reads() {
    let document: IdentityDocument = serde_json::from_str(
        r#"{"perspective_id":"p","rir":"lacnic","public_key":"ed25519:x","unknown":1}"#,
    )
    .unwrap();
    assert_eq!(document.rir, "lacnic");
    assert_eq!(document.check_deadline_ms, None);
    assert_eq!(document.dnssec_self_test, None);
    assert!(!document.is_local());
    // What is absent is not written back.
    let json = serde_json::to_value(&document).unwrap();
    assert!(json.get("dnssec_self_test").is_none(), "{json}");
}
