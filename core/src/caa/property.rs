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
    /// The rdata has fewer than the two bytes of flags and tag length.
    #[error("CAA rdata is {length} bytes, shorter than flags and tag length")]
    TooShort {
        /// The rdata's length in bytes (0 or 1).
        length: usize,
    },
    /// The tag length byte is 0 (RFC 8659 section 4.1 requires a tag).
    #[error("CAA tag length is zero")]
    EmptyTag,
    /// The tag length byte is larger than the rdata that follows it.
    #[error("CAA tag length {tag_length} exceeds the {available} bytes left")]
    TagOverrun {
        /// The tag length the rdata claims, in bytes.
        tag_length: usize,
        /// The bytes actually left after flags and tag length.
        available: usize,
    },
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
mod tests;
