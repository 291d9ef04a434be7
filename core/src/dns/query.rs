//! Asking: the query a perspective sends, and the checks that a response
//! really answers it before it becomes a [`DnsAnswer`].

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::record::dname_target;
use super::{EDNS_MAX_PAYLOAD, ResponseLimits, name_text};
use crate::extended_dns_error::{EDNS_OPTION_CODE as EXTENDED_ERROR_OPTION, ExtendedDnsError};
use crate::network::{DnsAnswer, DnsError};

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

pub(super) fn encode_message(message: &Message) -> Result<Vec<u8>, DnsError> {
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
