//! Reading the values DCV compares out of hickory `Record`s, and recording
//! each lookup as evidence.
//!
//! Small private accessors on purpose: the DCV checks need only TXT strings,
//! addresses, PTR/CNAME targets and CAA properties.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType};
use serde::{Deserialize, Serialize};

use super::DcvFailure;
use crate::network::{DnsError, Network};

/// One DNS question and what this perspective's resolver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsLookup {
    /// The name asked for.
    pub name: String,
    /// The record type asked for (`TXT`, `CAA`, ...).
    pub record_type: String,
    /// The DNS response code (numeric, e.g. 0 NOERROR, 3 NXDOMAIN), if a
    /// response arrived.
    pub rcode: Option<u16>,
    /// The records of the asked type, in presentation-like form (TXT strings
    /// joined, addresses, names without the trailing dot, CAA `flags tag
    /// "value"`).
    pub records_seen: Vec<String>,
    /// Aliases the resolver followed.
    pub cname_chain: Vec<String>,
    /// The resolver's AD flag.
    pub ad_flag: bool,
    /// Which resolver answered.
    pub resolver: String,
    /// Why no usable response arrived, if so.
    pub error: Option<DnsError>,
}

/// A lookup's records of the asked type, or the failure that ends the check.
pub(super) struct Answer {
    pub(super) evidence: DnsLookup,
    pub(super) records: Result<Vec<Record>, DcvFailure>,
}

/// Ask `name`/`rtype` once. NXDOMAIN and NOERROR give the (possibly empty)
/// records; any other rcode or no response is a lookup failure.
pub(super) async fn lookup<N: Network>(network: &N, name: &str, rtype: RecordType) -> Answer {
    match network.dns(name, rtype).await {
        Err(error) => Answer {
            evidence: DnsLookup {
                name: name.to_owned(),
                record_type: rtype.to_string(),
                rcode: None,
                records_seen: Vec::new(),
                cname_chain: Vec::new(),
                ad_flag: false,
                resolver: String::new(),
                error: Some(error.clone()),
            },
            records: Err(DcvFailure::DnsLookup {
                name: name.to_owned(),
                error,
            }),
        },
        Ok(answer) => {
            let records: Vec<Record> = answer
                .records
                .into_iter()
                .filter(|record| record_type_of(&record.data) == Some(rtype))
                .collect();
            let evidence = DnsLookup {
                name: name.to_owned(),
                record_type: rtype.to_string(),
                rcode: Some(u16::from(answer.rcode)),
                records_seen: records.iter().filter_map(present).collect(),
                cname_chain: answer.cname_chain,
                ad_flag: answer.authentic_data,
                resolver: answer.resolver,
                error: None,
            };
            let records = match answer.rcode {
                ResponseCode::NoError => Ok(records),
                // The name does not exist: an observation, not a failure to look.
                ResponseCode::NXDomain => Ok(Vec::new()),
                other => Err(DcvFailure::DnsRcode {
                    name: name.to_owned(),
                    rcode: u16::from(other),
                }),
            };
            Answer { evidence, records }
        }
    }
}

/// The type of an RData, counting raw (unknown-decoded) CAA as CAA.
fn record_type_of(data: &RData) -> Option<RecordType> {
    Some(match data {
        RData::A(_) => RecordType::A,
        RData::AAAA(_) => RecordType::AAAA,
        RData::TXT(_) => RecordType::TXT,
        RData::CNAME(_) => RecordType::CNAME,
        RData::PTR(_) => RecordType::PTR,
        RData::CAA(_) => RecordType::CAA,
        RData::Unknown { code, .. } => *code,
        _ => return None,
    })
}

/// A record as text for the report.
fn present(record: &Record) -> Option<String> {
    let data = &record.data;
    if let Some(bytes) = txt_value(data) {
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    if let Some(ip) = address(data) {
        return Some(ip.to_string());
    }
    if let Some(name) = target_name(data) {
        return Some(name);
    }
    caa_property(data).map(|caa| {
        format!(
            "{} {} \"{}\"",
            caa.flags,
            String::from_utf8_lossy(&caa.tag),
            String::from_utf8_lossy(&caa.value).escape_default()
        )
    })
}

/// A TXT record's character-strings joined (RFC 8555 8.4, as Boulder reads
/// long values split into 255-octet strings).
pub(super) fn txt_value(data: &RData) -> Option<Vec<u8>> {
    match data {
        RData::TXT(txt) => Some(
            txt.txt_data
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect(),
        ),
        _ => None,
    }
}

/// An A or AAAA record's address.
pub(super) fn address(data: &RData) -> Option<IpAddr> {
    match data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
        _ => None,
    }
}

/// A PTR or CNAME record's target, lower-case, without the trailing dot.
pub(super) fn target_name(data: &RData) -> Option<String> {
    let name = match data {
        RData::PTR(ptr) => &ptr.0,
        RData::CNAME(cname) => &cname.0,
        _ => return None,
    };
    let text = name.to_ascii();
    Some(text.strip_suffix('.').unwrap_or(&text).to_ascii_lowercase())
}

/// One CAA property (RFC 8659 4.1), raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CaaProperty {
    pub(super) flags: u8,
    pub(super) tag: Vec<u8>,
    pub(super) value: Vec<u8>,
}

/// A CAA record's property, from hickory's CAA type or from raw RDATA
/// (`flags u8, tag length u8, tag, value`) when the decoder kept it unknown.
pub(super) fn caa_property(data: &RData) -> Option<CaaProperty> {
    match data {
        RData::CAA(caa) => Some(CaaProperty {
            flags: caa.flags(),
            tag: caa.tag.as_bytes().to_vec(),
            value: caa.value.clone(),
        }),
        RData::Unknown { code, rdata } if *code == RecordType::CAA => {
            parse_caa_rdata(&rdata.anything)
        }
        _ => None,
    }
}

/// RFC 8659 4.1 wire form; `None` when the lengths do not add up or the tag
/// is empty.
pub(super) fn parse_caa_rdata(rdata: &[u8]) -> Option<CaaProperty> {
    let (&flags, rest) = rdata.split_first()?;
    let (&tag_len, rest) = rest.split_first()?;
    let tag_len = usize::from(tag_len);
    if tag_len == 0 || rest.len() < tag_len {
        return None;
    }
    let (tag, value) = rest.split_at(tag_len);
    Some(CaaProperty {
        flags,
        tag: tag.to_vec(),
        value: value.to_vec(),
    })
}

#[cfg(test)]
mod tests;
