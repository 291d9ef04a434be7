#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use super::super::test_support::{unknown, wire};
use super::*;

fn decoded_by_hickory(rdata: &[u8]) -> Record {
    let mut decoder = BinDecoder::new(rdata);
    let data = RData::read(
        &mut decoder,
        RecordType::CAA,
        Restrict::new(u16::try_from(rdata.len()).unwrap()),
    )
    .unwrap();
    Record::from_rdata(Name::from_ascii("example.com.").unwrap(), 300, data)
}

#[test]
fn hickory_keeps_raw_flags_tag_and_value() {
    let cases: Vec<(u8, &[u8], &[u8])> = vec![
        (0, b"issue", b"%%%"),
        (0, b"issue", b"ca.example."),
        (128, b"ISSUE", b"ca.example; a=b;"),
        (0x81, b"tbs", b"\xff\x00\""),
        (1, b"issuewild", b";"),
        (0, b"iodef", b"not a url"),
        (0, b"issue", b""),
    ];
    for (flags, tag, value) in cases {
        let record = decoded_by_hickory(&wire(flags, tag, value));
        assert!(matches!(record.data, RData::CAA(_)));
        let property = Property::from_record(&record).unwrap().unwrap();
        assert_eq!(property.flags, flags);
        assert_eq!(property.tag.as_bytes(), tag);
        assert_eq!(property.value, value);
    }
}

#[test]
fn hickory_rejects_tags_the_rfc_forbids() {
    // These fail the whole message in hickory, so they surface as a DNS
    // failure rather than as a silently dropped property.
    for tag in [&b"issue-x"[..], b"", b"0123456789abcdef"] {
        let rdata = wire(0, tag, b"ca.example");
        let mut decoder = BinDecoder::new(&rdata);
        let read = RData::read(
            &mut decoder,
            RecordType::CAA,
            Restrict::new(u16::try_from(rdata.len()).unwrap()),
        );
        assert!(read.is_err(), "{tag:?}");
    }
}

#[test]
fn unknown_rdata_is_decoded_by_hand() {
    let opaque = |bytes: Vec<u8>| unknown("example.com.", RecordType::CAA, bytes);
    assert_eq!(
        Property::from_record(&opaque(wire(128, b"issue-x", b"v"))),
        Some(Ok(Property {
            flags: 128,
            tag: "issue-x".into(),
            value: b"v".to_vec(),
        }))
    );
    let errors = [
        (vec![], PropertyDecodeError::TooShort { length: 0 }),
        (vec![0], PropertyDecodeError::TooShort { length: 1 }),
        (vec![0, 0, b'x'], PropertyDecodeError::EmptyTag),
        (
            vec![0, 6, b'i', b's'],
            PropertyDecodeError::TagOverrun {
                tag_length: 6,
                available: 2,
            },
        ),
    ];
    for (bytes, error) in errors {
        assert_eq!(Property::from_record(&opaque(bytes)), Some(Err(error)));
    }
}

#[test]
fn non_caa_records_are_not_properties() {
    let record = Record::from_rdata(
        Name::from_ascii("example.com.").unwrap(),
        300,
        RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, 1)),
    );
    assert_eq!(Property::from_record(&record), None);
}

#[test]
fn presentation_escapes_every_odd_byte() {
    let cases: Vec<(u8, &str, &[u8], &str)> = vec![
        (0, "issue", b"ca.example", r#"0 issue "ca.example""#),
        (128, "tbs", b"Unknown", r#"128 tbs "Unknown""#),
        (0, "issue", b"a\"b\\c", r#"0 issue "a\"b\\c""#),
        (0, "issue", b"\xff\x00\t", r#"0 issue "\255\000\009""#),
        (0, "issue", b"", r#"0 issue """#),
    ];
    for (flags, tag, value, expected) in cases {
        let property = Property {
            flags,
            tag: tag.into(),
            value: value.to_vec(),
        };
        assert_eq!(property.presentation(), expected);
    }
}
