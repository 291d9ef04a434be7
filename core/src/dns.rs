//! DNS messages: the query a perspective sends and the checks on the answer.
//!
//! All wire encoding and decoding is hickory-proto's; this module decides what
//! to ask and whether a response really answers it (id, question, flags,
//! alias chain, limits) before turning it into a [`DnsAnswer`]. It also builds
//! responses, for the loopback DoH fixtures used in tests.
//!
//! Decisions worth knowing:
//! - A truncated (TC) response is an error: DoH carries whole messages
//!   (RFC 8484 section 6), so TC means a broken or hostile resolver.
//! - Aliases are followed only within the answer section, from the query
//!   name: a CNAME at the current name, else a DNAME at a proper ancestor
//!   (RFC 6672). When both are present they must agree. A loop, or a chain
//!   longer than [`ResponseLimits::max_chain`], is [`DnsError::LimitExceeded`]:
//!   the chain never ends within what we are willing to follow.
//! - Only class IN records count; others in the answer section are ignored.
//! - Rcodes other than NOERROR and NXDOMAIN are reported as-is with no
//!   records; such responses may omit the question (RFC 1035 servers do for
//!   some errors), but NOERROR and NXDOMAIN must echo it since they are
//!   answers a caller may act on.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

use crate::extended_dns_error::{EDNS_OPTION_CODE as EXTENDED_ERROR_OPTION, ExtendedDnsError};
use crate::network::{DnsAnswer, DnsError};

/// EDNS0 UDP payload size we advertise: the DNS Flag Day 2020 value. DoH is
/// not UDP, but resolvers use it when they forward our question upstream.
pub const EDNS_MAX_PAYLOAD: u16 = 1232;

/// Largest DNS message accepted, in bytes: the most a DNS message can be
/// (RFC 8484 section 6 lets DoH carry up to 65535 bytes).
pub const MAX_MESSAGE_BYTES: usize = 65_535;

/// Most records of the asked type accepted in one answer. CAA test fixtures
/// hold 1000+ records; a 65535-byte message cannot hold much more than 5000.
pub const MAX_RRSET_RECORDS: usize = 4096;

/// Most aliases (CNAME or DNAME steps) followed from the query name. Real
/// chains are short (CDNs use 2-3); 16 matches common resolver limits.
pub const MAX_CNAME_CHAIN: usize = 16;

/// Bounds on one DNS response. The defaults are the `MAX_*` constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Most records of the asked type at the end of the alias chain.
    pub max_records: usize,
    /// Most alias steps followed.
    pub max_chain: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_records: MAX_RRSET_RECORDS,
            max_chain: MAX_CNAME_CHAIN,
        }
    }
}

/// A random message id, from hickory's RNG (getrandom in wasm).
pub fn random_id() -> u16 {
    Message::query().metadata.id
}

/// One question, encoded, with what is needed to check its response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    id: u16,
    name: Name,
    rtype: RecordType,
    checking_disabled: bool,
    wire: Vec<u8>,
}

impl DnsQuery {
    /// A query for `name` (A-labels, trailing dot optional) and `rtype` with
    /// a random id, RD set, CD clear, and EDNS0 with the DO bit set.
    pub fn new(name: &str, rtype: RecordType) -> Result<Self, DnsError> {
        Self::with_id(name, rtype, random_id())
    }

    /// Like [`DnsQuery::new`] with a chosen id: DoH GET uses 0 so that equal
    /// questions are equal URLs (RFC 8484 section 4.1).
    pub fn with_id(name: &str, rtype: RecordType, id: u16) -> Result<Self, DnsError> {
        Self::with_flags(name, rtype, id, false)
    }

    /// Like [`DnsQuery::with_id`], with the CD (checking disabled) bit as
    /// given: a retry sets it so that the resolver answers without its
    /// validated, cached failure (see [`crate::network::Network::dns_retry`]).
    pub fn with_flags(
        name: &str,
        rtype: RecordType,
        id: u16,
        checking_disabled: bool,
    ) -> Result<Self, DnsError> {
        let name = query_name(name)?;
        check_query_type(rtype)?;

        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.metadata.checking_disabled = checking_disabled;
        message.add_query(Query::query(name.clone(), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_MAX_PAYLOAD)
            .set_version(0)
            .set_dnssec_ok(true);
        message.set_edns(edns);
        let wire = encode_message(&message)?;

        Ok(Self {
            id,
            name,
            rtype,
            checking_disabled,
            wire,
        })
    }

    /// The message id the response must carry.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The name asked for: lower-case, fully qualified.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The record type asked for.
    pub fn rtype(&self) -> RecordType {
        self.rtype
    }

    /// The query in DNS wire format.
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// Checks `wire` answers this query and extracts the answer, with the
    /// default [`ResponseLimits`]. `resolver` names who answered, for reports.
    pub fn parse_response(&self, wire: &[u8], resolver: &str) -> Result<DnsAnswer, DnsError> {
        self.parse_response_with_limits(wire, resolver, &ResponseLimits::default())
    }

    /// [`DnsQuery::parse_response`] with explicit limits.
    pub fn parse_response_with_limits(
        &self,
        wire: &[u8],
        resolver: &str,
        limits: &ResponseLimits,
    ) -> Result<DnsAnswer, DnsError> {
        if wire.len() > limits.max_message_bytes {
            return Err(DnsError::LimitExceeded(format!(
                "response is {} bytes, more than {}",
                wire.len(),
                limits.max_message_bytes
            )));
        }
        let message = Message::from_vec(wire)
            .map_err(|e| DnsError::Malformed(format!("cannot decode response: {e}")))?;
        self.check_header(&message)?;

        let rcode = message.metadata.response_code;
        let answers_question = matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain);
        self.check_question(&message, answers_question)?;

        let mut answer = DnsAnswer {
            name: name_text(&self.name),
            rtype: self.rtype,
            rcode,
            records: Vec::new(),
            cname_chain: Vec::new(),
            authentic_data: message.metadata.authentic_data,
            resolver: resolver.to_owned(),
            checking_disabled: self.checking_disabled,
            extended_errors: extended_errors(&message),
        };
        if !answers_question {
            // A failure rcode carries no answer we could trust.
            return Ok(answer);
        }

        let (chain, final_name) = self.follow_aliases(&message.answers, limits)?;
        let records: Vec<Record> = message
            .answers
            .into_iter()
            .filter(|r| {
                r.dns_class == DNSClass::IN && r.record_type() == self.rtype && r.name == final_name
            })
            .collect();
        if records.len() > limits.max_records {
            return Err(DnsError::LimitExceeded(format!(
                "{} {} records, more than {}",
                records.len(),
                self.rtype,
                limits.max_records
            )));
        }
        if rcode == ResponseCode::NXDomain && !records.is_empty() {
            return Err(DnsError::Malformed(format!(
                "NXDOMAIN with {} records for {}",
                self.rtype,
                name_text(&final_name)
            )));
        }

        answer.records = records;
        answer.cname_chain = chain.iter().map(name_text).collect();
        Ok(answer)
    }

    fn check_header(&self, message: &Message) -> Result<(), DnsError> {
        let header = &message.metadata;
        if header.message_type != MessageType::Response {
            return Err(DnsError::Mismatch(
                "message is a query, not a response".into(),
            ));
        }
        if header.id != self.id {
            return Err(DnsError::Mismatch(format!(
                "response id {} for query id {}",
                header.id, self.id
            )));
        }
        if header.op_code != OpCode::Query {
            return Err(DnsError::Mismatch(format!(
                "response opcode {}",
                header.op_code
            )));
        }
        if header.truncation {
            return Err(DnsError::Malformed(
                "response is truncated (TC); DoH responses must be whole".into(),
            ));
        }
        Ok(())
    }

    fn check_question(&self, message: &Message, required: bool) -> Result<(), DnsError> {
        match message.queries.as_slice() {
            [] if !required => Ok(()),
            [] => Err(DnsError::Mismatch("response has no question".into())),
            [question] => {
                // Name equality in hickory ignores ASCII case, as DNS does.
                if question.name() != &self.name
                    || question.query_type() != self.rtype
                    || question.query_class() != DNSClass::IN
                {
                    return Err(DnsError::Mismatch(format!(
                        "response question is {} {} {}, asked {} IN {}",
                        question.name().to_ascii(),
                        question.query_class(),
                        question.query_type(),
                        self.name.to_ascii(),
                        self.rtype
                    )));
                }
                Ok(())
            }
            more => Err(DnsError::Mismatch(format!(
                "response has {} questions, asked one",
                more.len()
            ))),
        }
    }

    /// Follows aliases from the query name; returns the targets in order and
    /// the name the asked-for records must be owned by.
    fn follow_aliases(
        &self,
        answers: &[Record],
        limits: &ResponseLimits,
    ) -> Result<(Vec<Name>, Name), DnsError> {
        let mut chain: Vec<Name> = Vec::new();
        let mut current = self.name.clone();
        // Asking for the alias itself means not following it.
        if self.rtype == RecordType::CNAME {
            return Ok((chain, current));
        }
        let answers: Vec<&Record> = answers
            .iter()
            .filter(|r| r.dns_class == DNSClass::IN)
            .collect();

        loop {
            let cname = cname_at(&answers, &current)?;
            let dname = dname_substitution(&answers, &current)?;
            let next = match (cname, dname) {
                (Some(cname), Some(dname)) if cname != dname => {
                    return Err(DnsError::Malformed(format!(
                        "CNAME {} -> {} disagrees with DNAME substitution {}",
                        name_text(&current),
                        name_text(&cname),
                        name_text(&dname)
                    )));
                }
                (Some(target), _) | (None, Some(target)) => target.to_lowercase(),
                (None, None) => break,
            };
            if next == self.name || chain.contains(&next) {
                return Err(DnsError::LimitExceeded(format!(
                    "alias loop at {}",
                    name_text(&next)
                )));
            }
            if chain.len() >= limits.max_chain {
                return Err(DnsError::LimitExceeded(format!(
                    "alias chain longer than {} from {}",
                    limits.max_chain,
                    name_text(&self.name)
                )));
            }
            chain.push(next.clone());
            current = next;
        }
        Ok((chain, current))
    }
}

/// The RFC 8914 extended errors in `message`'s OPT record; undecodable
/// options are left out.
fn extended_errors(message: &Message) -> Vec<ExtendedDnsError> {
    let Some(edns) = &message.edns else {
        return Vec::new();
    };
    edns.options()
        .as_ref()
        .iter()
        .filter_map(|(_, option)| match option {
            EdnsOption::Unknown(code, data) if *code == EXTENDED_ERROR_OPTION => {
                ExtendedDnsError::from_option_data(data)
            }
            _ => None,
        })
        .collect()
}

/// The CNAME target at `owner`, if the answer section has one.
fn cname_at(answers: &[&Record], owner: &Name) -> Result<Option<Name>, DnsError> {
    let mut targets = answers.iter().filter_map(|r| match &r.data {
        RData::CNAME(target) if &r.name == owner => Some(&target.0),
        _ => None,
    });
    let first = targets.next().cloned();
    // RFC 2181 section 10.1: one CNAME per name; several means we cannot
    // know which the resolver followed.
    if targets.next().is_some() {
        return Err(DnsError::Malformed(format!(
            "several CNAME records at {}",
            name_text(owner)
        )));
    }
    Ok(first)
}

/// The name a DNAME in the answer section rewrites `name` to (RFC 6672
/// section 2.2), if a DNAME is owned by a proper ancestor of `name`. A DNAME
/// never rewrites its own owner. With several, the one nearest the root
/// wins: resolution meets it first, and nothing exists below it.
fn dname_substitution(answers: &[&Record], name: &Name) -> Result<Option<Name>, DnsError> {
    let name_labels = name.iter().count();
    let mut best: Option<(usize, &Record)> = None;
    for record in answers {
        if record.record_type() != RecordType::DNAME {
            continue;
        }
        let owner_labels = record.name.iter().count();
        if owner_labels < name_labels
            && record.name.zone_of(name)
            && best.is_none_or(|(labels, _)| owner_labels < labels)
        {
            best = Some((owner_labels, record));
        }
    }
    let Some((owner_labels, record)) = best else {
        return Ok(None);
    };
    let Some(target) = dname_target(&record.data)? else {
        return Ok(None);
    };
    let kept = name.iter().take(name_labels - owner_labels);
    let substituted = Name::from_labels(kept)
        .and_then(|prefix| prefix.append_name(&target))
        .map_err(|e| {
            DnsError::Malformed(format!(
                "DNAME substitution of {} fails: {e}",
                name_text(name)
            ))
        })?;
    Ok(Some(substituted))
}

/// The target of a DNAME record. hickory 0.26 has no DNAME type and keeps its
/// RDATA as raw bytes, which hickory's name decoder reads.
fn dname_target(data: &RData) -> Result<Option<Name>, DnsError> {
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

fn encode_name(name: &Name) -> Result<Vec<u8>, DnsError> {
    let mut bytes = Vec::new();
    let mut encoder = BinEncoder::new(&mut bytes);
    name.emit(&mut encoder)
        .map_err(|e| DnsError::Malformed(format!("cannot encode name: {e}")))?;
    Ok(bytes)
}

fn encode_message(message: &Message) -> Result<Vec<u8>, DnsError> {
    message
        .to_vec()
        .map_err(|e| DnsError::Malformed(format!("cannot encode message: {e}")))
}

/// Parses a query name: LDH labels plus `_` (for `_acme-challenge` and
/// friends), no escapes, no empty labels, within DNS length limits.
fn query_name(name: &str) -> Result<Name, DnsError> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(DnsError::InvalidQuery("empty name".into()));
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Err(DnsError::InvalidQuery(format!("empty label in {name:?}")));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(DnsError::InvalidQuery(format!(
                "label {label:?} is not an A-label"
            )));
        }
    }
    let mut parsed =
        Name::from_ascii(bare).map_err(|e| DnsError::InvalidQuery(format!("{name:?}: {e}")))?;
    parsed.set_fqdn(true);
    Ok(parsed.to_lowercase())
}

fn check_query_type(rtype: RecordType) -> Result<(), DnsError> {
    if matches!(
        rtype,
        RecordType::ANY
            | RecordType::AXFR
            | RecordType::IXFR
            | RecordType::OPT
            | RecordType::TSIG
            | RecordType::ZERO
    ) {
        return Err(DnsError::InvalidQuery(format!(
            "{rtype} is not a record type one can look up"
        )));
    }
    Ok(())
}

/// A name as reports and [`DnsAnswer`] show it: lower-case, no trailing dot.
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

/// A DNAME record (RFC 6672), which hickory 0.26 has no type for. For test
/// fixtures: the target is encoded uncompressed, as RFC 6672 requires.
pub fn dname_record(owner: Name, ttl: u32, target: &Name) -> Result<Record, DnsError> {
    let rdata = RData::Unknown {
        code: RecordType::DNAME,
        rdata: NULL::with(encode_name(target)?),
    };
    Ok(Record::from_rdata(owner, ttl, rdata))
}

/// The response a recursive resolver would give to `query_wire`: same id,
/// question and RD; RA set; `rcode`; `answers` in the answer section; the AD
/// flag as given; EDNS echoed (with the DO bit) if the query had it.
///
/// Used by test fixtures (the loopback DoH server) to answer real queries;
/// adjust the returned message to forge bad responses, then encode it with
/// `Message::to_vec`.
pub fn response_message(
    query_wire: &[u8],
    rcode: ResponseCode,
    answers: Vec<Record>,
    authentic_data: bool,
) -> Result<Message, DnsError> {
    let query = Message::from_vec(query_wire)
        .map_err(|e| DnsError::Malformed(format!("cannot decode query: {e}")))?;
    if query.metadata.message_type != MessageType::Query {
        return Err(DnsError::Malformed("message is not a query".into()));
    }
    let mut response = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.checking_disabled = query.metadata.checking_disabled;
    response.metadata.authentic_data = authentic_data;
    response.metadata.response_code = rcode;
    response.add_queries(query.queries.iter().cloned());
    response.add_answers(answers);
    if let Some(query_edns) = &query.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_MAX_PAYLOAD)
            .set_dnssec_ok(query_edns.flags().dnssec_ok);
        response.set_edns(edns);
    }
    Ok(response)
}

/// Attaches an RFC 8914 extended error to a response made by
/// [`response_message`] (which echoes EDNS only if the query had it; this
/// adds an OPT record if needed). Used by test fixtures.
pub fn add_extended_error(message: &mut Message, info_code: u16, extra_text: &str) {
    let option = EdnsOption::Unknown(
        EXTENDED_ERROR_OPTION,
        ExtendedDnsError::option_data(info_code, extra_text),
    );
    match &mut message.edns {
        Some(edns) => edns.options_mut().insert(option),
        None => {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_MAX_PAYLOAD);
            edns.options_mut().insert(option);
            message.set_edns(edns);
        }
    }
}

/// [`response_message`] encoded to wire format. Used by test fixtures.
pub fn build_response(
    query_wire: &[u8],
    rcode: ResponseCode,
    answers: Vec<Record>,
    authentic_data: bool,
) -> Result<Vec<u8>, DnsError> {
    encode_message(&response_message(
        query_wire,
        rcode,
        answers,
        authentic_data,
    )?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::{Ipv4Addr, Ipv6Addr};

    use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, PTR, TXT};

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(n(owner), 300, RData::A(A(Ipv4Addr::from(ip))))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(n(owner), 300, RData::CNAME(CNAME(n(target))))
    }

    fn dname(owner: &str, target: &str) -> Record {
        dname_record(n(owner), 300, &n(target)).unwrap()
    }

    fn caa(owner: &str, flags: u8, tag: &str, value: &[u8]) -> Record {
        let mut caa = CAA::new_issue(flags & 0x80 != 0, None, vec![]);
        caa.reserved_flags = flags & 0x7f;
        caa.tag = tag.into();
        caa.value = value.to_vec();
        Record::from_rdata(n(owner), 300, RData::CAA(caa))
    }

    fn respond(query: &DnsQuery, rcode: ResponseCode, answers: Vec<Record>) -> Vec<u8> {
        build_response(query.wire(), rcode, answers, false).unwrap()
    }

    fn forged(query: &DnsQuery, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
        let mut message =
            response_message(query.wire(), ResponseCode::NoError, vec![], false).unwrap();
        edit(&mut message);
        message.to_vec().unwrap()
    }

    #[test]
    fn query_has_rd_do_edns_and_question() {
        let query = DnsQuery::new("WWW.Example.COM.", RecordType::CAA).unwrap();
        let message = Message::from_vec(query.wire()).unwrap();
        assert_eq!(message.metadata.id, query.id());
        assert_eq!(message.metadata.message_type, MessageType::Query);
        assert!(message.metadata.recursion_desired);
        assert!(!message.metadata.checking_disabled);
        let edns = message.edns.as_ref().expect("EDNS OPT");
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), EDNS_MAX_PAYLOAD);
        assert_eq!(message.queries.len(), 1);
        let question = &message.queries[0];
        assert!(question.name().eq_case(&n("www.example.com.")));
        assert_eq!(question.query_type(), RecordType::CAA);
        assert_eq!(question.query_class(), DNSClass::IN);
        assert_eq!(name_text(query.name()), "www.example.com");
    }

    #[test]
    fn query_ids_are_chosen_or_random() {
        assert_eq!(
            DnsQuery::with_id("a.example", RecordType::A, 0)
                .unwrap()
                .id(),
            0
        );
        let ids: std::collections::HashSet<u16> = (0..16)
            .map(|_| DnsQuery::new("a.example", RecordType::A).unwrap().id())
            .collect();
        assert!(ids.len() > 1, "16 random ids were all equal");
    }

    #[test]
    fn invalid_queries_are_refused() {
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = vec!["abcdefghi"; 30].join(".");
        let cases: &[(&str, RecordType)] = &[
            ("", RecordType::A),
            (".", RecordType::A),
            ("a..example", RecordType::A),
            ("exa mple.com", RecordType::A),
            ("bücher.example", RecordType::A),
            ("a\\.b.example", RecordType::A),
            ("*.example.com", RecordType::A),
            (&long_label, RecordType::A),
            (&long_name, RecordType::A),
            ("example.com", RecordType::ANY),
            ("example.com", RecordType::AXFR),
            ("example.com", RecordType::OPT),
        ];
        for (name, rtype) in cases {
            assert!(
                matches!(DnsQuery::new(name, *rtype), Err(DnsError::InvalidQuery(_))),
                "{name:?} {rtype} accepted"
            );
        }
        for name in [
            "_acme-challenge.example.com",
            "xn--bcher-kva.example.",
            "a-b.c",
        ] {
            assert!(
                DnsQuery::new(name, RecordType::TXT).is_ok(),
                "{name} refused"
            );
        }
    }

    #[test]
    fn answers_with_aliases() {
        struct Case {
            what: &'static str,
            qname: &'static str,
            rtype: RecordType,
            answers: Vec<Record>,
            records: usize,
            chain: &'static [&'static str],
        }
        let cases = vec![
            Case {
                what: "direct",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![
                    a("www.example.com.", [192, 0, 2, 1]),
                    a("www.example.com.", [192, 0, 2, 2]),
                ],
                records: 2,
                chain: &[],
            },
            Case {
                what: "case-insensitive owner",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![a("WWW.EXAMPLE.com.", [192, 0, 2, 1])],
                records: 1,
                chain: &[],
            },
            Case {
                what: "records of other names and types are ignored",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![
                    a("other.example.com.", [192, 0, 2, 1]),
                    caa("www.example.com.", 0, "issue", b"ca.example"),
                ],
                records: 0,
                chain: &[],
            },
            Case {
                what: "CNAME chain, out of order",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![
                    a("c.example.net.", [192, 0, 2, 9]),
                    cname("b.example.org.", "C.example.net."),
                    cname("www.example.com.", "b.example.org."),
                    a("www.example.com.", [192, 0, 2, 1]),
                ],
                records: 1,
                chain: &["b.example.org", "c.example.net"],
            },
            Case {
                what: "CNAME to a name without records",
                qname: "www.example.com",
                rtype: RecordType::CAA,
                answers: vec![cname("www.example.com.", "cdn.example.net.")],
                records: 0,
                chain: &["cdn.example.net"],
            },
            Case {
                what: "asking for the CNAME itself does not follow it",
                qname: "www.example.com",
                rtype: RecordType::CNAME,
                answers: vec![
                    cname("www.example.com.", "b.example.org."),
                    cname("b.example.org.", "c.example.net."),
                ],
                records: 1,
                chain: &[],
            },
            Case {
                what: "DNAME with synthesized CNAME",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![
                    dname("example.com.", "example.net."),
                    cname("www.example.com.", "www.example.net."),
                    a("www.example.net.", [192, 0, 2, 7]),
                ],
                records: 1,
                chain: &["www.example.net"],
            },
            Case {
                what: "DNAME without synthesized CNAME",
                qname: "a.b.example.com",
                rtype: RecordType::A,
                answers: vec![
                    dname("example.com.", "Example.NET."),
                    a("a.b.example.net.", [192, 0, 2, 7]),
                ],
                records: 1,
                chain: &["a.b.example.net"],
            },
            Case {
                what: "DNAME does not apply to its owner",
                qname: "example.com",
                rtype: RecordType::A,
                answers: vec![
                    dname("example.com.", "example.net."),
                    a("example.com.", [192, 0, 2, 3]),
                ],
                records: 1,
                chain: &[],
            },
            Case {
                what: "DNAME at an unrelated name is ignored",
                qname: "www.example.com",
                rtype: RecordType::A,
                answers: vec![
                    dname("example.org.", "example.net."),
                    a("www.example.com.", [192, 0, 2, 3]),
                ],
                records: 1,
                chain: &[],
            },
        ];
        for case in cases {
            let query = DnsQuery::new(case.qname, case.rtype).unwrap();
            let wire = respond(&query, ResponseCode::NoError, case.answers);
            let answer = query
                .parse_response(&wire, "https://doh.example/dns-query")
                .unwrap_or_else(|e| panic!("{}: {e}", case.what));
            assert_eq!(answer.records.len(), case.records, "{}", case.what);
            assert!(
                answer.records.iter().all(|r| r.record_type() == case.rtype),
                "{}",
                case.what
            );
            assert_eq!(answer.cname_chain, case.chain, "{}", case.what);
            assert_eq!(answer.name, case.qname, "{}", case.what);
            assert_eq!(answer.rtype, case.rtype, "{}", case.what);
            assert_eq!(answer.rcode, ResponseCode::NoError, "{}", case.what);
            assert_eq!(answer.resolver, "https://doh.example/dns-query");
        }
    }

    #[test]
    fn bad_alias_chains_are_errors() {
        let long_chain: Vec<Record> = (0..=MAX_CNAME_CHAIN)
            .map(|i| {
                let owner = if i == 0 {
                    "www.example.com.".to_string()
                } else {
                    format!("c{i}.example.net.")
                };
                cname(&owner, &format!("c{}.example.net.", i + 1))
            })
            .collect();
        let just_fits: Vec<Record> = long_chain[..MAX_CNAME_CHAIN].to_vec();
        let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
        let ok = query
            .parse_response(&respond(&query, ResponseCode::NoError, just_fits), "r")
            .unwrap();
        assert_eq!(ok.cname_chain.len(), MAX_CNAME_CHAIN);

        type Check = fn(&DnsError) -> bool;
        let limit: Check = |e| matches!(e, DnsError::LimitExceeded(_));
        let malformed: Check = |e| matches!(e, DnsError::Malformed(_));
        let cases: Vec<(&str, Vec<Record>, Check)> = vec![
            ("chain too long", long_chain, limit),
            (
                "self loop",
                vec![cname("www.example.com.", "WWW.example.com.")],
                limit,
            ),
            (
                "loop back to the query name",
                vec![
                    cname("www.example.com.", "b.example.org."),
                    cname("b.example.org.", "www.example.com."),
                ],
                limit,
            ),
            (
                "loop further on",
                vec![
                    cname("www.example.com.", "b.example.org."),
                    cname("b.example.org.", "c.example.org."),
                    cname("c.example.org.", "b.example.org."),
                ],
                limit,
            ),
            (
                "DNAME loop grows until the limit",
                vec![dname("example.com.", "x.example.com.")],
                limit,
            ),
            (
                "two CNAMEs at one name",
                vec![
                    cname("www.example.com.", "a.example.org."),
                    cname("www.example.com.", "b.example.org."),
                ],
                malformed,
            ),
            (
                "CNAME disagrees with DNAME",
                vec![
                    dname("example.com.", "example.net."),
                    cname("www.example.com.", "www.evil.example."),
                ],
                malformed,
            ),
        ];
        for (what, answers, check) in cases {
            let wire = respond(&query, ResponseCode::NoError, answers);
            let err = query.parse_response(&wire, "r").expect_err(what);
            assert!(check(&err), "{what}: {err:?}");
        }
    }

    #[test]
    fn compressed_dname_is_malformed() {
        let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
        let bad = |bytes: Vec<u8>| {
            Record::from_rdata(
                n("example.com."),
                300,
                RData::Unknown {
                    code: RecordType::DNAME,
                    rdata: NULL::with(bytes),
                },
            )
        };
        // "net" then a pointer to offset 0; "net." then a stray byte.
        for rdata in [
            vec![3, b'n', b'e', b't', 0xc0, 0x00],
            vec![3, b'n', b'e', b't', 0, 7],
        ] {
            let wire = respond(&query, ResponseCode::NoError, vec![bad(rdata.clone())]);
            let err = query.parse_response(&wire, "r").expect_err("accepted");
            assert!(matches!(err, DnsError::Malformed(_)), "{rdata:?}: {err:?}");
        }
    }

    #[test]
    fn responses_that_do_not_answer_are_mismatches() {
        let query = DnsQuery::new("www.example.com", RecordType::CAA).unwrap();
        let other_id = query.id().wrapping_add(1);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("wrong id", forged(&query, |m| m.metadata.id = other_id)),
            (
                "not a response",
                forged(&query, |m| m.metadata.message_type = MessageType::Query),
            ),
            (
                "wrong opcode",
                forged(&query, |m| m.metadata.op_code = OpCode::Status),
            ),
            ("no question", forged(&query, |m| m.queries.clear())),
            (
                "wrong name",
                forged(&query, |m| {
                    m.queries[0].set_name(n("www.example.org."));
                }),
            ),
            (
                "wrong type",
                forged(&query, |m| {
                    m.queries[0].set_query_type(RecordType::A);
                }),
            ),
            (
                "wrong class",
                forged(&query, |m| {
                    m.queries[0].set_query_class(DNSClass::CH);
                }),
            ),
            (
                "two questions",
                forged(&query, |m| {
                    let q = m.queries[0].clone();
                    m.add_query(q);
                }),
            ),
        ];
        for (what, wire) in cases {
            let err = query.parse_response(&wire, "r").expect_err(what);
            assert!(matches!(err, DnsError::Mismatch(_)), "{what}: {err:?}");
        }
        let nxdomain_without_question = forged(&query, |m| {
            m.metadata.response_code = ResponseCode::NXDomain;
            m.queries.clear();
        });
        assert!(matches!(
            query.parse_response(&nxdomain_without_question, "r"),
            Err(DnsError::Mismatch(_))
        ));
        let upper = forged(&query, |m| {
            m.queries[0].set_name(n("WWW.EXAMPLE.COM."));
        });
        assert!(
            query.parse_response(&upper, "r").is_ok(),
            "question case must not matter"
        );
    }

    #[test]
    fn truncated_and_garbage_responses_are_malformed() {
        let query = DnsQuery::new("www.example.com", RecordType::A).unwrap();
        let truncated = forged(&query, |m| m.metadata.truncation = true);
        let mut cut = respond(
            &query,
            ResponseCode::NoError,
            vec![a("www.example.com.", [192, 0, 2, 1])],
        );
        cut.truncate(cut.len() - 3);
        for (what, wire) in [
            ("TC", truncated),
            ("cut short", cut),
            ("empty", vec![]),
            ("junk", vec![0xff; 7]),
        ] {
            let err = query.parse_response(&wire, "r").expect_err(what);
            assert!(matches!(err, DnsError::Malformed(_)), "{what}: {err:?}");
        }
    }

    #[test]
    fn rcodes_are_reported() {
        let query = DnsQuery::new("www.example.com", RecordType::CAA).unwrap();
        for rcode in [
            ResponseCode::NoError,
            ResponseCode::NXDomain,
            ResponseCode::ServFail,
            ResponseCode::Refused,
            ResponseCode::FormErr,
            ResponseCode::YXDomain,
            ResponseCode::BADCOOKIE,
        ] {
            let answer = query
                .parse_response(&respond(&query, rcode, vec![]), "r")
                .unwrap();
            assert_eq!(answer.rcode, rcode);
            assert!(answer.records.is_empty());
        }
        // A failure may omit the question and its records are not trusted.
        let servfail = forged(&query, |m| {
            m.metadata.response_code = ResponseCode::ServFail;
            m.queries.clear();
            m.add_answer(caa("www.example.com.", 0, "issue", b"ca.example"));
        });
        let answer = query.parse_response(&servfail, "r").unwrap();
        assert_eq!(answer.rcode, ResponseCode::ServFail);
        assert!(answer.records.is_empty());
        // NXDOMAIN after an alias reports the chain.
        let wire = respond(
            &query,
            ResponseCode::NXDomain,
            vec![cname("www.example.com.", "gone.example.net.")],
        );
        let answer = query.parse_response(&wire, "r").unwrap();
        assert_eq!(answer.cname_chain, ["gone.example.net"]);
        // NXDOMAIN with the records asked for contradicts itself.
        let wire = respond(
            &query,
            ResponseCode::NXDomain,
            vec![caa("www.example.com.", 0, "issue", b"ca")],
        );
        assert!(matches!(
            query.parse_response(&wire, "r"),
            Err(DnsError::Malformed(_))
        ));
    }

    #[test]
    fn ad_flag_is_reported() {
        let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
        for ad in [true, false] {
            let wire = build_response(query.wire(), ResponseCode::NoError, vec![], ad).unwrap();
            assert_eq!(query.parse_response(&wire, "r").unwrap().authentic_data, ad);
        }
    }

    #[test]
    fn large_caa_rrset_fits_and_limits_hold() {
        let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
        let records: Vec<Record> = (0..1200)
            .map(|i| {
                caa(
                    "example.com.",
                    0,
                    "issue",
                    format!("ca{i}.example").as_bytes(),
                )
            })
            .collect();
        let wire = respond(&query, ResponseCode::NoError, records);
        assert!(wire.len() <= MAX_MESSAGE_BYTES);
        let answer = query.parse_response(&wire, "r").unwrap();
        assert_eq!(answer.records.len(), 1200);
        assert_eq!(caa_raw(&answer.records[1199]).unwrap().2, b"ca1199.example");

        let few = ResponseLimits {
            max_records: 1199,
            ..ResponseLimits::default()
        };
        assert!(matches!(
            query.parse_response_with_limits(&wire, "r", &few),
            Err(DnsError::LimitExceeded(_))
        ));
        let small = ResponseLimits {
            max_message_bytes: wire.len() - 1,
            ..ResponseLimits::default()
        };
        assert!(matches!(
            query.parse_response_with_limits(&wire, "r", &small),
            Err(DnsError::LimitExceeded(_))
        ));
        let short = ResponseLimits {
            max_chain: 0,
            ..ResponseLimits::default()
        };
        let aliased = respond(
            &query,
            ResponseCode::NoError,
            vec![cname("example.com.", "x.example.net.")],
        );
        assert!(matches!(
            query.parse_response_with_limits(&aliased, "r", &short),
            Err(DnsError::LimitExceeded(_))
        ));
    }

    #[test]
    fn non_in_records_are_ignored() {
        let query = DnsQuery::new("example.com", RecordType::A).unwrap();
        let mut chaos = a("example.com.", [192, 0, 2, 1]);
        chaos.dns_class = DNSClass::CH;
        let wire = respond(&query, ResponseCode::NoError, vec![chaos]);
        assert!(query.parse_response(&wire, "r").unwrap().records.is_empty());
    }

    #[test]
    fn caa_survives_raw() {
        let cases: &[(u8, &str, &[u8])] = &[
            (0, "issue", b"%%%"),
            (0, "issue", b""),
            (0, "issue", b"ca.example; accounturi=https://x/1"),
            (128, "tbs", b"anything"),
            (128, "UnKnOwN", b"\"quoted\" \\ \x00\xff"),
            (0, "ISSUEWILD", b";"),
            (0x81, "iodef", b"not a url"),
            (0, "abcdefghijklmno", b"fifteen-byte tag"),
        ];
        let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
        let records = cases
            .iter()
            .map(|(f, t, v)| caa("example.com.", *f, t, v))
            .collect();
        let wire = respond(&query, ResponseCode::NoError, records);
        let answer = query.parse_response(&wire, "r").unwrap();
        let got: Vec<(u8, String, Vec<u8>)> =
            answer.records.iter().map(|r| caa_raw(r).unwrap()).collect();
        let want: Vec<(u8, String, Vec<u8>)> = cases
            .iter()
            .map(|(f, t, v)| (*f, t.to_string(), v.to_vec()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(caa_raw(&a("x.", [1, 2, 3, 4])), None);
    }

    #[test]
    fn caa_tags_hickory_rejects_make_the_response_malformed() {
        let query = DnsQuery::new("example.com", RecordType::CAA).unwrap();
        for tag in ["is-sue", "abcdefghijklmnop"] {
            let wire = respond(
                &query,
                ResponseCode::NoError,
                vec![caa("example.com.", 0, tag, b"ca")],
            );
            assert!(
                matches!(
                    query.parse_response(&wire, "r"),
                    Err(DnsError::Malformed(_))
                ),
                "tag {tag}"
            );
        }
    }

    #[test]
    fn presentation_forms() {
        let txt = Record::from_rdata(
            n("_acme-challenge.Example.com."),
            60,
            RData::TXT(TXT::from_bytes(vec![b"v=spf1 \"x\"", b"\\\x07"])),
        );
        let unknown = Record::from_rdata(
            n("example.com."),
            5,
            RData::Unknown {
                code: RecordType::Unknown(65280),
                rdata: NULL::with(vec![0xde, 0xad]),
            },
        );
        let cases = [
            (
                caa("example.com.", 0, "issue", b"ca.example"),
                "example.com. 300 IN CAA 0 issue \"ca.example\"",
            ),
            (
                caa("example.com.", 128, "tbs", b"a\"b"),
                "example.com. 300 IN CAA 128 tbs \"a\\\"b\"",
            ),
            (
                txt,
                "_acme-challenge.Example.com. 60 IN TXT \"v=spf1 \\\"x\\\"\" \"\\\\\\007\"",
            ),
            (
                a("www.example.com.", [192, 0, 2, 1]),
                "www.example.com. 300 IN A 192.0.2.1",
            ),
            (
                cname("www.example.com.", "cdn.example.net."),
                "www.example.com. 300 IN CNAME cdn.example.net.",
            ),
            (
                dname("example.com.", "Example.NET."),
                "example.com. 300 IN DNAME Example.NET.",
            ),
            (unknown, "example.com. 5 IN TYPE65280 \\# 2 dead"),
        ];
        for (record, want) in cases {
            assert_eq!(presentation(&record), want);
        }
    }

    #[test]
    fn accessors() {
        let txt = Record::from_rdata(
            n("x.example."),
            60,
            RData::TXT(TXT::from_bytes(vec![b"abc", b"def", b"\xff"])),
        );
        assert_eq!(txt_bytes(&txt).unwrap(), b"abcdef\xff");
        assert_eq!(txt_string(&txt).unwrap(), "abcdef\u{fffd}");
        assert_eq!(txt_string(&a("x.", [1, 2, 3, 4])), None);

        let v6 = Record::from_rdata(n("x."), 1, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
        assert_eq!(ip_addr(&v6), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(
            ip_addr(&a("x.", [192, 0, 2, 1])),
            Some(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(ip_addr(&txt), None);

        let ptr = Record::from_rdata(
            n("1.2.0.192.in-addr.arpa."),
            1,
            RData::PTR(PTR(n("Host.Example.com."))),
        );
        assert_eq!(target_name(&ptr).as_deref(), Some("host.example.com"));
        assert_eq!(
            target_name(&cname("a.", "B.example.")).as_deref(),
            Some("b.example")
        );
        assert_eq!(
            target_name(&dname("a.", "D.example.")).as_deref(),
            Some("d.example")
        );
        assert_eq!(target_name(&txt), None);
    }

    #[test]
    fn build_response_refuses_non_queries() {
        let query = DnsQuery::new("example.com", RecordType::A).unwrap();
        let response = respond(&query, ResponseCode::NoError, vec![]);
        assert!(matches!(
            build_response(&response, ResponseCode::NoError, vec![], false),
            Err(DnsError::Malformed(_))
        ));
        assert!(matches!(
            build_response(b"\x00", ResponseCode::NoError, vec![], false),
            Err(DnsError::Malformed(_))
        ));
    }
}
