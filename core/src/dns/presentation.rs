//! Showing records as text: zone-file presentation form for reports.

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::record::dname_target;

/// A name as reports and [`DnsAnswer`](crate::network::DnsAnswer) show it: lower-case, no trailing dot.
pub fn name_text(name: &Name) -> String {
    let text = name.to_lowercase().to_ascii();
    match text.strip_suffix('.') {
        Some(bare) => bare.to_owned(),
        None => text,
    }
}

/// A record in zone-file presentation form, for reports:
/// `example.com. 300 IN CAA 0 issue "ca.example"`.
///
/// CAA values and TXT strings are shown as RFC 1035 character-strings with
/// `"`, `\` and non-printable bytes escaped, so the report shows exactly the
/// bytes received. Types hickory does not know use RFC 3597's `\# len hex`.
pub fn presentation(record: &Record) -> String {
    let rtype = match record.record_type() {
        RecordType::Unknown(code) => format!("TYPE{code}"),
        known => known.to_string(),
    };
    let class = match record.dns_class {
        DNSClass::Unknown(code) => format!("CLASS{code}"),
        known => known.to_string(),
    };
    format!(
        "{} {} {class} {rtype} {}",
        record.name.to_ascii(),
        record.ttl,
        rdata_presentation(&record.data)
    )
}

fn rdata_presentation(data: &RData) -> String {
    match data {
        RData::CAA(caa) => format!(
            "{} {} {}",
            caa.flags(),
            caa.tag,
            character_string(&caa.value)
        ),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| character_string(s))
            .collect::<Vec<_>>()
            .join(" "),
        RData::Unknown { rdata, .. } => {
            // Only a DNAME yields a target; others print generically.
            if let Ok(Some(target)) = dname_target(data) {
                return target.to_ascii();
            }
            generic_rdata(rdata)
        }
        other => {
            use std::fmt::Write;
            let mut text = String::new();
            // Some hickory Display impls (OPT) refuse to print.
            if write!(text, "{other}").is_err() {
                return "<no presentation form>".into();
            }
            text
        }
    }
}

/// RFC 3597 section 5 generic RDATA: `\# <length> <hex>`.
fn generic_rdata(rdata: &NULL) -> String {
    let hex: String = rdata.anything.iter().map(|b| format!("{b:02x}")).collect();
    if hex.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {hex}", rdata.anything.len())
    }
}

/// RFC 1035 section 5.1 quoted character-string.
fn character_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}
