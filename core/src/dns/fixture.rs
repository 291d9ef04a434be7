//! Builders of DNS answers for test fixtures (the loopback DoH server,
//! benches, fuzz seeds): what a resolver would send, well-formed or forged.
//! Behind the `testing` feature: no perspective ever builds a response.

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::EDNS_MAX_PAYLOAD;
use super::query::encode_message;
use super::record::encode_name;
use crate::extended_dns_error::{EDNS_OPTION_CODE as EXTENDED_ERROR_OPTION, ExtendedDnsError};
use crate::network::DnsError;

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
