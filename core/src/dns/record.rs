//! Reading a record's data: TXT strings, addresses, alias targets, CAA
//! fields, and the DNAME target hickory has no type for.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use super::name_text;
use crate::network::DnsError;

/// The TXT record's character-strings concatenated without separators, as
/// RFC 7208 section 3.3 and ACME dns-01 read them; raw bytes.
pub fn txt_bytes(record: &Record) -> Option<Vec<u8>> {
    match &record.data {
        RData::TXT(txt) => Some(txt.txt_data.concat()),
        _ => None,
    }
}

/// [`txt_bytes`] as text, invalid UTF-8 replaced by U+FFFD. Fit for
/// comparing with ASCII tokens (a replacement character never equals an
/// expected ASCII value, so no false match); use [`txt_bytes`] for exact data.
pub fn txt_string(record: &Record) -> Option<String> {
    txt_bytes(record).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The address of an A or AAAA record.
pub fn ip_addr(record: &Record) -> Option<IpAddr> {
    match &record.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

/// The target of a CNAME, PTR, NS or DNAME record, lower-case, no trailing
/// dot. `None` for other types or an undecodable DNAME.
pub fn target_name(record: &Record) -> Option<String> {
    match &record.data {
        RData::CNAME(name) => Some(name_text(&name.0)),
        RData::PTR(name) => Some(name_text(&name.0)),
        RData::NS(name) => Some(name_text(&name.0)),
        other => dname_target(other).ok().flatten().map(|n| name_text(&n)),
    }
}

/// A CAA record's fields exactly as on the wire: (flags, tag, value).
///
/// hickory 0.26 keeps the tag's case and the value's bytes as received
/// (it only interprets them on request), so nothing is normalised here; the
/// CAA evaluator applies RFC 8659's grammar itself. hickory does reject a
/// tag that is empty, over 15 bytes, or not alphanumeric, and then the whole
/// response fails to decode ([`DnsError::Malformed`]).
pub fn caa_raw(record: &Record) -> Option<(u8, String, Vec<u8>)> {
    match &record.data {
        RData::CAA(caa) => Some((caa.flags(), caa.tag.clone(), caa.value.clone())),
        _ => None,
    }
}

/// The target of a DNAME record. hickory 0.26 has no DNAME type and keeps its
/// RDATA as raw bytes, which hickory's name decoder reads.
pub(super) fn dname_target(data: &RData) -> Result<Option<Name>, DnsError> {
    let RData::Unknown {
        code: RecordType::DNAME,
        rdata,
    } = data
    else {
        return Ok(None);
    };
    let bytes = rdata.anything.as_slice();
    let mut decoder = BinDecoder::new(bytes);
    let target = Name::read(&mut decoder)
        .map_err(|e| DnsError::Malformed(format!("DNAME target cannot be decoded: {e}")))?;
    // RFC 6672 section 2.5 forbids compressing the target; a pointer would
    // refer into a message we no longer hold. Re-encoding without history
    // cannot compress, so any difference reveals a pointer or trailing bytes.
    if encode_name(&target)? != bytes {
        return Err(DnsError::Malformed(
            "DNAME target is compressed or followed by extra bytes".into(),
        ));
    }
    Ok(Some(target))
}

pub(super) fn encode_name(name: &Name) -> Result<Vec<u8>, DnsError> {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    name.emit(&mut encoder)
        .map_err(|e| DnsError::Malformed(format!("cannot encode name: {e}")))?;
    Ok(bytes)
}
