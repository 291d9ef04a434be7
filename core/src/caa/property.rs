//! One CAA property (flags, tag, value) exactly as the wire carried it.
//!
//! hickory-proto 0.26 decodes CAA rdata into `rdata::CAA`, which keeps the
//! flags (`issuer_critical` + `reserved_flags`, rebuilt by `flags()`), the tag
//! as a `String` and the value as its raw bytes (`value: Vec<u8>`): it parses
//! nothing in the value, so a malformed `issue "%%%"` reaches our grammar as
//! the bytes `%%%`. Its decoder rejects a tag that is empty, longer than 15
//! bytes or not alphanumeric (`DecodeError::CaaTagInvalid`), which fails the
//! whole message (the DNS layer then reports `DnsError::Malformed`, a lookup
//! failure, never "no records"). A DNS layer that instead keeps such a record
//! as `RData::Unknown { code: CAA, .. }` is handled too: its rdata is decoded
//! here byte by byte.

use hickory_proto::rr::{RData, Record, RecordType};
use serde::{Deserialize, Serialize};

/// The critical flag, bit 0 in RFC 1035 numbering (value 128).
pub const CRITICAL_FLAG: u8 = 0x80;

/// One CAA resource record's property, uninterpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// All eight flag bits (reserved bits kept for the report, ignored by
    /// evaluation as RFC 8659 section 4.1 requires).
    pub flags: u8,
    /// The tag as written (case kept; compare with `eq_ignore_ascii_case`).
    pub tag: String,
    /// The raw value bytes.
    pub value: Vec<u8>,
}

/// A CAA record whose rdata cannot hold a property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PropertyDecodeError {
    #[error("CAA rdata is {length} bytes, shorter than flags and tag length")]
    TooShort { length: usize },
    #[error("CAA tag length is zero")]
    EmptyTag,
    #[error("CAA tag length {tag_length} exceeds the {available} bytes left")]
    TagOverrun { tag_length: usize, available: usize },
}

impl Property {
    /// The property of a CAA record; `None` when the record is not CAA.
    pub fn from_record(record: &Record) -> Option<Result<Self, PropertyDecodeError>> {
        match &record.data {
            RData::CAA(caa) => Some(Ok(Self {
                flags: caa.flags(),
                tag: caa.tag.clone(),
                value: caa.value.clone(),
            })),
            RData::Unknown { code, rdata } if *code == RecordType::CAA => {
                Some(Self::from_rdata(&rdata.anything))
            }
            _ => None,
        }
    }

    /// Decode CAA rdata (RFC 8659 section 4.1): flags, tag length, tag, and
    /// the rest is the value.
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, PropertyDecodeError> {
        let (&flags, rest) = rdata.split_first().ok_or(PropertyDecodeError::TooShort {
            length: rdata.len(),
        })?;
        let (&tag_length, rest) = rest.split_first().ok_or(PropertyDecodeError::TooShort {
            length: rdata.len(),
        })?;
        let tag_length = usize::from(tag_length);
        if tag_length == 0 {
            return Err(PropertyDecodeError::EmptyTag);
        }
        if tag_length > rest.len() {
            return Err(PropertyDecodeError::TagOverrun {
                tag_length,
                available: rest.len(),
            });
        }
        let (tag, value) = rest.split_at(tag_length);
        Ok(Self {
            flags,
            // A non-UTF-8 tag can equal no known tag, so a lossy copy loses
            // nothing that matters (and the critical flag still applies).
            tag: String::from_utf8_lossy(tag).into_owned(),
            value: value.to_vec(),
        })
    }

    /// Whether the issuer critical flag is set.
    pub fn is_critical(&self) -> bool {
        self.flags & CRITICAL_FLAG != 0
    }

    /// Whether the tag is `name`, ignoring ASCII case (RFC 8659 section 4.1).
    pub fn tag_is(&self, name: &str) -> bool {
        self.tag.eq_ignore_ascii_case(name)
    }

    /// The canonical presentation form, `flags tag "value"` (RFC 8659
    /// section 4.1.1), with the value escaped as an RFC 1035 character-string
    /// so the report shows every byte unambiguously.
    pub fn presentation(&self) -> String {
        let mut out = format!("{} {} \"", self.flags, self.tag);
        for &byte in &self.value {
            match byte {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(byte));
                }
                0x20..=0x7E => out.push(char::from(byte)),
                _ => out.push_str(&format!("\\{byte:03}")),
            }
        }
        out.push('"');
        out
    }
}

#[cfg(test)]
mod tests {
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
}
