//! Records from RFC 1035 master-file text, through hickory's zone parser.
//!
//! hickory-proto 0.26's [`Parser`] handles the grammar ($ORIGIN, $TTL,
//! owner inheritance, parentheses, quoting, escapes) and the RDATA of A,
//! AAAA, TXT, CAA, CNAME, PTR, NS and SOA. It cannot read two types the
//! fixtures need: DNAME (no parser at all) and DS (parsed only with a DNSSEC
//! feature, which would also change how the tests decode DS responses, so
//! they would no longer see what the worker sees). Before parsing, a pass
//! over the text renames just those two type tokens to stand-ins hickory
//! reads with the same origin rules, and the records are converted back
//! after:
//! - `DNAME <target>` becomes `ANAME <target>` (a name-valued type, so
//!   relative targets get the origin); ANAME in the input is refused.
//! - `DS <rdata>` becomes `TXT "mpic-fixture-ds" <rdata>`; DS RDATA holds no
//!   names, so its tokens survive as TXT strings and are decoded here into
//!   DS wire RDATA (opaque, as hickory without DNSSEC decodes it).
//!
//! The same pass makes absolute two RFC 1035 forms hickory reads
//! differently: `@` in RDATA (an error in hickory) and a relative
//! `$ORIGIN` (taken as absolute by hickory).

use std::str::FromStr;

use data_encoding::HEXUPPER_PERMISSIVE;
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::{Parser, parse_ttl};

use super::DnsFixtureError;

/// First TXT string of a DS stand-in.
const DS_MARKER: &[u8] = b"mpic-fixture-ds";

/// Every record in `text`, grouped by RRset. Relative names are relative to
/// `$ORIGIN`, or to the root before the first `$ORIGIN`.
pub fn parse_records(text: &str) -> Result<Vec<Record>, DnsFixtureError> {
    let rewritten = with_stand_ins(text)?;
    let (_, rrsets) = Parser::new(rewritten, None, Some(Name::root()))
        .parse()
        .map_err(|e| DnsFixtureError::ZoneText(e.to_string()))?;
    let mut records = Vec::new();
    for rrset in rrsets.into_values() {
        for record in rrset.into_parts().records {
            records.push(restore(record)?);
        }
    }
    Ok(records)
}

/// Undoes a stand-in: ANAME back to DNAME, a marked TXT back to DS.
fn restore(record: Record) -> Result<Record, DnsFixtureError> {
    match &record.data {
        RData::ANAME(target) => {
            mpic_core::dns::fixture::dname_record(record.name.clone(), record.ttl, &target.0)
                .map_err(|e| DnsFixtureError::BadRecord {
                    owner: record.name.to_ascii(),
                    reason: format!("DNAME: {e}"),
                })
        }
        RData::TXT(txt) if txt.txt_data.first().is_some_and(|s| **s == *DS_MARKER) => {
            let rdata =
                ds_rdata(&txt.txt_data[1..]).map_err(|reason| DnsFixtureError::BadRecord {
                    owner: record.name.to_ascii(),
                    reason: format!("DS: {reason}"),
                })?;
            let mut ds = Record::from_rdata(
                record.name.clone(),
                record.ttl,
                RData::Unknown {
                    code: RecordType::DS,
                    rdata: NULL::with(rdata),
                },
            );
            ds.dns_class = record.dns_class;
            Ok(ds)
        }
        _ => Ok(record),
    }
}

/// DS RDATA (RFC 4034 section 5.1) from its presentation tokens:
/// key tag, algorithm, digest type, then the digest in hex (which may be
/// split by white space).
fn ds_rdata(tokens: &[Box<[u8]>]) -> Result<Vec<u8>, String> {
    let text = |token: &[u8]| String::from_utf8_lossy(token).into_owned();
    let [key_tag, algorithm, digest_type, digest @ ..] = tokens else {
        return Err("needs key tag, algorithm, digest type and digest".into());
    };
    if digest.is_empty() {
        return Err("digest is missing".into());
    }
    let key_tag: u16 = text(key_tag)
        .parse()
        .map_err(|e| format!("key tag {:?}: {e}", text(key_tag)))?;
    let algorithm: u8 = text(algorithm)
        .parse()
        .map_err(|e| format!("algorithm {:?}: {e}", text(algorithm)))?;
    let digest_type: u8 = text(digest_type)
        .parse()
        .map_err(|e| format!("digest type {:?}: {e}", text(digest_type)))?;
    let hex: Vec<u8> = digest.concat();
    let digest = HEXUPPER_PERMISSIVE
        .decode(&hex)
        .map_err(|e| format!("digest is not hex: {e}"))?;
    let mut rdata = Vec::with_capacity(4 + digest.len());
    rdata.extend_from_slice(&key_tag.to_be_bytes());
    rdata.push(algorithm);
    rdata.push(digest_type);
    rdata.extend_from_slice(&digest);
    Ok(rdata)
}

/// `text` with the DNAME and DS type tokens renamed to their stand-ins,
/// and two RFC 1035 section 5.1 forms hickory's parser reads otherwise
/// made absolute: a free-standing `@` in RDATA (hickory takes it only as
/// an owner) and a relative `$ORIGIN` (hickory ignores the current origin).
fn with_stand_ins(text: &str) -> Result<String, DnsFixtureError> {
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let mut origin = Name::root();
    for record in logical_records(text) {
        let token = |index: usize| record.tokens.get(index).map(|&(s, e)| &text[s..e]);
        if record.has_owner
            && let Some(directive) = token(0)
            && directive.starts_with('$')
        {
            if directive.eq_ignore_ascii_case("$ORIGIN")
                && let Some(name) = token(1)
            {
                origin = Name::parse(name, Some(&origin))
                    .map_err(|e| DnsFixtureError::ZoneText(format!("$ORIGIN {name}: {e}")))?;
                // hickory reads a relative $ORIGIN as absolute; RFC 1035
                // makes it relative to the current origin.
                let (start, end) = record.tokens[1];
                replacements.push((start, end, origin.to_ascii()));
            }
            continue;
        }
        let Some(type_index) = type_index(text, &record) else {
            continue;
        };
        let (start, end) = record.tokens[type_index];
        let rtype = &text[start..end];
        if rtype.eq_ignore_ascii_case("DNAME") {
            replacements.push((start, end, "ANAME".into()));
        } else if rtype.eq_ignore_ascii_case("DS") {
            let marker = String::from_utf8_lossy(DS_MARKER);
            replacements.push((start, end, format!("TXT \"{marker}\"")));
        } else if rtype.eq_ignore_ascii_case("ANAME") {
            return Err(DnsFixtureError::AnameUnsupported);
        }
        for &(start, end) in &record.tokens[type_index + 1..] {
            if &text[start..end] == "@" {
                replacements.push((start, end, origin.to_ascii()));
            }
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end, replacement) in replacements {
        out.push_str(&text[copied..start]);
        out.push_str(&replacement);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

/// One record or directive of a master file: its tokens' byte spans.
struct LogicalRecord {
    tokens: Vec<(usize, usize)>,
    /// The record starts with an owner (or a directive), not a blank.
    has_owner: bool,
}

/// Splits `text` into logical records as RFC 1035 section 5.1 does: a
/// newline ends a record unless inside parentheses; `;` starts a comment
/// outside quotes; `\` escapes the next character. Empty records are left
/// out. Spans are in order and never overlap.
fn logical_records(text: &str) -> Vec<LogicalRecord> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut records = Vec::new();
    let mut current = LogicalRecord {
        tokens: Vec::new(),
        has_owner: false,
    };
    let mut at_record_start = true;
    let mut depth = 0usize;
    let mut i = 0;
    while i < len {
        let byte = bytes[i];
        if at_record_start {
            current.has_owner = !matches!(byte, b' ' | b'\t');
            at_record_start = false;
        }
        match byte {
            b'\n' => {
                if depth == 0 {
                    let has_owner = current.has_owner;
                    let done = std::mem::replace(
                        &mut current,
                        LogicalRecord {
                            tokens: Vec::new(),
                            has_owner,
                        },
                    );
                    if !done.tokens.is_empty() {
                        records.push(done);
                    }
                    at_record_start = true;
                }
                i += 1;
            }
            b';' => {
                while i < len && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'"' => {
                let start = i;
                i += 1;
                while i < len && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                current.tokens.push((start, i.min(len)));
            }
            _ => {
                let start = i;
                while i < len
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"'
                    )
                {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                current.tokens.push((start, i.min(len)));
            }
        }
    }
    if !current.tokens.is_empty() {
        records.push(current);
    }
    records
}

/// Which token of a (non-directive) record is its type: the first after
/// the owner that is neither a TTL nor a class. hickory's parser applies
/// the same order, so both agree.
fn type_index(text: &str, record: &LogicalRecord) -> Option<usize> {
    let first = usize::from(record.has_owner);
    record
        .tokens
        .iter()
        .enumerate()
        .skip(first)
        .find(|(_, (start, end))| {
            let token = &text[*start..*end];
            parse_ttl(token).is_err() && DNSClass::from_str(&token.to_ascii_uppercase()).is_err()
        })
        .map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn n(name: &str) -> Name {
        Name::from_ascii(name).unwrap()
    }

    fn types(text: &str) -> Vec<&str> {
        logical_records(text)
            .iter()
            .filter(|r| !(r.has_owner && text[r.tokens[0].0..].starts_with('$')))
            .filter_map(|r| type_index(text, r).map(|i| r.tokens[i]))
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn finds_the_type_token() {
        let cases: &[(&str, &[&str])] = &[
            ("www A 1.2.3.4", &["A"]),
            ("www 300 IN A 1.2.3.4", &["A"]),
            ("www IN 300 TXT \"a b\"", &["TXT"]),
            ("  300 DS 1 2 3 ab", &["DS"]),
            ("\tCAA 0 issue \"x\"", &["CAA"]),
            ("$ORIGIN example.com.\n$TTL 60\n@ DNAME x", &["DNAME"]),
            // Owner names that look like types are owners.
            ("ds DNAME a.\ndname DS 1 2 3 ab", &["DNAME", "DS"]),
            ("; only a comment\n\n", &[]),
            // Parentheses join lines; quotes hide ; and newlines.
            ("a TXT ( \"x;y\"\n \"z\" ) ; c\nb A 1.2.3.4", &["TXT", "A"]),
            ("a TXT \"q\\\"DS\"\nb DS 1 2 3 ab", &["TXT", "DS"]),
            ("a 1h30m CH TXT x", &["TXT"]),
        ];
        for (text, want) in cases {
            assert_eq!(types(text), *want, "{text:?}");
        }
    }

    #[test]
    fn parses_the_fixture_types() {
        let text = r#"
$ORIGIN example.com.
$TTL 300
@       SOA ns1 hostmaster 1 7200 3600 1209600 300
        NS  ns1
        CAA 0 issue "ca.example; accounturi=https://ca.example/acct/1"
        CAA 128 tbs "x"
ns1     A   127.0.0.1
        AAAA ::1
www 60  CNAME cdn.example.net.
old     DNAME new
txt     TXT "v=1" "two"
sub     DS  12345 13 2 ( ABCDEF01
                         23456789 )
4.3.2.1.in-addr.arpa. PTR ns1
"#;
        let records = parse_records(text).unwrap();
        let find = |name: &str, rtype: RecordType| -> Vec<&Record> {
            records
                .iter()
                .filter(|r| r.name == n(name) && r.record_type() == rtype)
                .collect()
        };
        assert_eq!(find("example.com.", RecordType::SOA).len(), 1);
        assert_eq!(find("example.com.", RecordType::NS).len(), 1);
        let caa = find("example.com.", RecordType::CAA);
        assert_eq!(caa.len(), 2);
        assert_eq!(
            mpic_core::dns::caa_raw(caa[0]).unwrap(),
            (
                0,
                "issue".into(),
                b"ca.example; accounturi=https://ca.example/acct/1".to_vec()
            )
        );
        assert_eq!(find("ns1.example.com.", RecordType::AAAA).len(), 1);
        let www = find("www.example.com.", RecordType::CNAME);
        assert_eq!(www[0].ttl, 60);
        assert_eq!(
            mpic_core::dns::target_name(www[0]).as_deref(),
            Some("cdn.example.net")
        );
        let dname = find("old.example.com.", RecordType::DNAME);
        assert_eq!(
            mpic_core::dns::target_name(dname[0]).as_deref(),
            Some("new.example.com")
        );
        assert!(find("old.example.com.", RecordType::ANAME).is_empty());
        let ds = find("sub.example.com.", RecordType::DS);
        let RData::Unknown { rdata, .. } = &ds[0].data else {
            panic!("DS is not opaque: {:?}", ds[0].data);
        };
        assert_eq!(
            rdata.anything,
            [
                0x30, 0x39, 13, 2, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89
            ]
        );
        assert_eq!(find("txt.example.com.", RecordType::TXT).len(), 1);
        assert_eq!(
            find("4.3.2.1.in-addr.arpa.", RecordType::PTR).len(),
            1,
            "absolute owner"
        );
    }

    #[test]
    fn at_in_rdata_is_the_current_origin() {
        let text = "$TTL 60\n$ORIGIN example.com.\nwww CNAME @\n$ORIGIN sub\n\
                    a CNAME @\nb TXT \"@\"\n$ORIGIN .\nc.test. CNAME @";
        let records = parse_records(text).unwrap();
        let data: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                let data = mpic_core::dns::target_name(r)
                    .or_else(|| mpic_core::dns::txt_string(r))
                    .unwrap();
                (r.name.to_ascii(), data)
            })
            .collect();
        let want = [
            ("a.sub.example.com.", "sub.example.com"),
            ("b.sub.example.com.", "@"),
            ("c.test.", ""),
            ("www.example.com.", "example.com"),
        ];
        for pair in want {
            assert!(
                data.contains(&(pair.0.to_owned(), pair.1.to_owned())),
                "{pair:?} not in {data:?}"
            );
        }
        assert_eq!(data.len(), want.len());
    }

    #[test]
    fn bad_text_is_a_typed_error() {
        type Check = fn(&DnsFixtureError) -> bool;
        let zone_text: Check = |e| matches!(e, DnsFixtureError::ZoneText(_));
        let bad_record: Check = |e| matches!(e, DnsFixtureError::BadRecord { .. });
        let cases: &[(&str, Check)] = &[
            ("$ORIGIN x.\n$TTL 1\na BOGUS 1", zone_text),
            ("$ORIGIN x.\n$TTL 1\na A 300.1.1.1", zone_text),
            ("$ORIGIN x.\na A 1.2.3.4", zone_text),
            ("a.x. 60 A 1.2.3.4.5", zone_text),
            ("$ORIGIN x.\n$TTL 1\na DS 1 2 3", bad_record),
            ("$ORIGIN x.\n$TTL 1\na DS 70000 2 3 ab", bad_record),
            ("$ORIGIN x.\n$TTL 1\na DS 1 2 3 xyz", bad_record),
            ("$ORIGIN x.\n$TTL 1\na ANAME b", |e| {
                matches!(e, DnsFixtureError::AnameUnsupported)
            }),
        ];
        for (text, check) in cases {
            let err = parse_records(text).unwrap_err();
            assert!(check(&err), "{text:?}: {err:?}");
        }
    }
}
