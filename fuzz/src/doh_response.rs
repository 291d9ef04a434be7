//! DoH response parsing: `DnsQuery::parse_response` on arbitrary bytes.
//!
//! Input: one byte choosing the query type ([`QUERY_TYPES`]), then the
//! response message. The query is fixed ([`QUERY_NAME`], id [`QUERY_ID`]), as
//! a perspective's would be; the attacker controls the resolver's answer.
//!
//! Invariants when the response is accepted:
//! - it is a decodable response (QR set, not TC, opcode QUERY) with our id,
//!   within the size limit;
//! - an answering rcode (NOERROR/NXDOMAIN) echoes exactly our question; any
//!   other rcode yields no records and no alias chain;
//! - every record returned is IN, of the asked type, owned by the end of the
//!   alias chain, and present in the answer section;
//! - the chain is within the limit, has no repeats, never returns to the
//!   query name, and each step is backed by a CNAME at the previous name or
//!   a DNAME at one of its ancestors; a CNAME at the query name is never
//!   silently ignored;
//! - NXDOMAIN never carries records; the record count is within the limit;
//! - the AD flag and rcode are the message's.
//!
//! And: parsing is deterministic, and tighter limits accept only a subset
//! (with the same answer).

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use mpic_core::dns::{DnsQuery, ResponseLimits, name_text};
use mpic_core::network::{DnsAnswer, DnsError};

/// The name every query asks about.
pub const QUERY_NAME: &str = "www.example.com";
/// The id every query carries (DoH GET uses 0; any fixed value will do).
pub const QUERY_ID: u16 = 0x4d50;
/// Who "answered", for the report.
pub const RESOLVER: &str = "https://doh.example/dns-query";
/// The types the first input byte chooses from (modulo its length).
pub const QUERY_TYPES: [RecordType; 6] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CAA,
    RecordType::TXT,
    RecordType::CNAME,
    RecordType::PTR,
];

/// Limits small enough that the fuzzer meets them.
const TIGHT: ResponseLimits = ResponseLimits {
    max_message_bytes: 512,
    max_records: 2,
    max_chain: 1,
};

/// The query the selector byte stands for.
pub fn query(selector: u8) -> DnsQuery {
    let rtype = QUERY_TYPES[usize::from(selector) % QUERY_TYPES.len()];
    match DnsQuery::with_id(QUERY_NAME, rtype, QUERY_ID) {
        Ok(query) => query,
        Err(e) => panic!("the fixed query must build: {e}"),
    }
}

pub fn run(data: &[u8]) {
    let Some((&selector, wire)) = data.split_first() else {
        return;
    };
    let query = query(selector);

    let result = query.parse_response(wire, RESOLVER);
    assert_eq!(
        result,
        query.parse_response(wire, RESOLVER),
        "parsing is not deterministic"
    );
    if let Ok(answer) = &result {
        check_answer(&query, wire, answer, &ResponseLimits::default());
    }

    let tight = query.parse_response_with_limits(wire, RESOLVER, &TIGHT);
    if wire.len() > TIGHT.max_message_bytes {
        assert!(
            matches!(tight, Err(DnsError::LimitExceeded(_))),
            "{} bytes accepted under a {}-byte limit: {tight:?}",
            wire.len(),
            TIGHT.max_message_bytes
        );
    }
    if let Ok(answer) = &tight {
        check_answer(&query, wire, answer, &TIGHT);
        assert_eq!(
            result.as_ref(),
            Ok(answer),
            "tighter limits changed the answer"
        );
    }
}

fn check_answer(query: &DnsQuery, wire: &[u8], answer: &DnsAnswer, limits: &ResponseLimits) {
    assert!(wire.len() <= limits.max_message_bytes);
    let message = match Message::from_vec(wire) {
        Ok(message) => message,
        Err(e) => panic!("accepted a message hickory cannot decode: {e}"),
    };
    let header = &message.metadata;
    assert_eq!(
        header.message_type,
        MessageType::Response,
        "accepted a query"
    );
    assert_eq!(header.id, QUERY_ID, "accepted another query's id");
    assert_eq!(header.op_code, OpCode::Query);
    assert!(!header.truncation, "accepted a truncated response");

    assert_eq!(answer.name, QUERY_NAME);
    assert_eq!(answer.rtype, query.rtype());
    assert_eq!(answer.resolver, RESOLVER);
    assert_eq!(answer.rcode, header.response_code);
    assert_eq!(answer.authentic_data, header.authentic_data);

    let answering = matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain);
    if !answering {
        assert!(
            answer.records.is_empty(),
            "records with rcode {}",
            answer.rcode
        );
        assert!(answer.cname_chain.is_empty());
        return;
    }
    match message.queries.as_slice() {
        [question] => {
            assert_eq!(question.name(), query.name(), "another name's answer");
            assert_eq!(
                question.query_type(),
                query.rtype(),
                "another type's answer"
            );
            assert_eq!(question.query_class(), DNSClass::IN);
        }
        other => panic!("answer accepted with {} questions", other.len()),
    }

    assert!(answer.records.len() <= limits.max_records);
    assert!(answer.cname_chain.len() <= limits.max_chain);
    if answer.rcode == ResponseCode::NXDomain {
        assert!(answer.records.is_empty(), "NXDOMAIN with records");
    }

    check_chain(query, &message.answers, &answer.cname_chain);
    let owner = answer.cname_chain.last().map_or(QUERY_NAME, String::as_str);
    for record in &answer.records {
        assert_eq!(record.dns_class, DNSClass::IN);
        assert_eq!(record.record_type(), query.rtype());
        assert_eq!(name_text(&record.name), owner, "record of another owner");
        assert!(
            message.answers.contains(record),
            "record not in the answer section"
        );
    }
}

/// Each alias step must be backed by the answer section. Steps are compared
/// in their report form (`name_text`: lower case, escaped), which is what
/// the chain holds.
fn check_chain(query: &DnsQuery, answers: &[Record], chain: &[String]) {
    let in_class: Vec<&Record> = answers
        .iter()
        .filter(|r| r.dns_class == DNSClass::IN)
        .collect();
    if query.rtype() == RecordType::CNAME {
        assert!(chain.is_empty(), "followed an alias when asked for CNAME");
        return;
    }
    if chain.is_empty() {
        assert!(
            !in_class
                .iter()
                .any(|r| matches!(r.data, RData::CNAME(_)) && &r.name == query.name()),
            "a CNAME at the query name was ignored"
        );
    }

    let mut seen: Vec<&str> = vec![QUERY_NAME];
    let mut previous = QUERY_NAME;
    for step in chain {
        assert!(!seen.contains(&step.as_str()), "alias loop through {step}");
        let by_cname = in_class.iter().any(|r| match &r.data {
            RData::CNAME(target) => name_text(&r.name) == previous && name_text(&target.0) == *step,
            _ => false,
        });
        let by_dname = in_class.iter().any(|r| {
            let owner = name_text(&r.name);
            r.record_type() == RecordType::DNAME
                && (owner.is_empty() || previous.ends_with(&format!(".{owner}")))
        });
        assert!(
            by_cname || by_dname,
            "chain step {previous} -> {step} has no CNAME or DNAME behind it"
        );
        seen.push(step);
        previous = step;
    }
}
