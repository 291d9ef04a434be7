//! Fixtures shared by the mpic-core benchmarks: CAA RRsets of realistic and
//! hostile size, an in-memory [`Network`] that answers with DNS wire bytes
//! (so a CAA check pays for parsing, as a perspective does), and a report
//! body carrying a real CAA observation.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mpic_core::caa::{self, CaaRequest};
use mpic_core::check::CertificateType;
use mpic_core::dns::{self, DnsQuery};
use mpic_core::location::{Coordinates, Location};
use mpic_core::network::{DnsAnswer, DnsError, MaybeSend, Network};
use mpic_core::nonce::Nonce;
use mpic_core::perspective::CheckObservation;
use mpic_core::report::{Observation, ReportBody, Verdict};
use mpic_core::rir::Rir;

/// The CA whose issuance the benchmarks check.
pub const OUR_ISSUER: &str = "ca.example";
/// Where the benchmarks' CAA RRsets live.
pub const ZONE: &str = "example.com";
/// The resolver named in answers and reports.
pub const RESOLVER: &str = "https://resolver.example/dns-query";

/// A CAA record as hickory decodes it from the wire.
pub fn caa_record(owner: &str, flags: u8, tag: &str, value: &str) -> Record {
    let mut caa = CAA::new_issue(flags & 0x80 != 0, None, vec![]);
    caa.reserved_flags = flags & 0x7f;
    caa.tag = tag.into();
    caa.value = value.as_bytes().to_vec();
    Record::from_rdata(Name::from_ascii(owner).unwrap(), 300, RData::CAA(caa))
}

/// A typical production RRset: two CAs, one of them us with an RFC 8657
/// account binding, and an iodef.
pub fn typical_rrset(owner: &str) -> Vec<Record> {
    vec![
        caa_record(owner, 0, "issue", "letsencrypt.org"),
        caa_record(
            owner,
            0,
            "issue",
            "ca.example; accounturi=https://ca.example/acct/12345; validationmethods=dns-01,http-01",
        ),
        caa_record(owner, 0, "iodef", "mailto:security@example.com"),
    ]
}

/// `n` `issue` records naming other CAs, then (if `ours_last`) one naming us:
/// the worst case for an evaluator that must scan them all.
pub fn large_rrset(owner: &str, n: usize, ours_last: bool) -> Vec<Record> {
    let others = if ours_last { n - 1 } else { n };
    let mut records: Vec<Record> = (0..others)
        .map(|i| caa_record(owner, 0, "issue", &format!("ca{i}.other.example")))
        .collect();
    if ours_last {
        records.push(caa_record(owner, 0, "issue", OUR_ISSUER));
    }
    records
}

/// A NOERROR response to a CAA query for `name` (id 0) holding `records`.
pub fn caa_response_wire(name: &str, records: Vec<Record>) -> (DnsQuery, Vec<u8>) {
    let query = DnsQuery::with_id(name, RecordType::CAA, 0).unwrap();
    let wire =
        dns::fixture::build_response(query.wire(), ResponseCode::NoError, records, false).unwrap();
    (query, wire)
}

/// A resolver that answers from pre-built wire responses, keyed by name.
/// Every query is encoded and every answer parsed, exactly as through DoH;
/// only the HTTP exchange is missing. Names without an entry get NOERROR
/// with no records (built on the fly: the climb's empty steps).
///
/// Not `mpic_core::testing::FakeNetwork`, which hands out parsed answers:
/// what these benchmarks measure is the wire encoding and parsing.
pub struct WireNetwork {
    answers: HashMap<String, Vec<u8>>,
}

impl WireNetwork {
    pub fn new() -> Self {
        Self {
            answers: HashMap::new(),
        }
    }

    /// CAA at `name` is `records`.
    pub fn with_caa(mut self, name: &str, records: Vec<Record>) -> Self {
        let (_, wire) = caa_response_wire(name, records);
        self.answers.insert(name.to_owned(), wire);
        self
    }

    fn answer(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
        // Id 0 as DoH GET uses, so the stored responses match.
        let query = DnsQuery::with_id(name, rtype, 0)?;
        match self.answers.get(name) {
            Some(wire) if rtype == RecordType::CAA => query.parse_response(wire, RESOLVER),
            _ => {
                let wire = dns::fixture::build_response(
                    query.wire(),
                    ResponseCode::NoError,
                    vec![],
                    false,
                )?;
                query.parse_response(&wire, RESOLVER)
            }
        }
    }
}

impl Network for WireNetwork {
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        std::future::ready(self.answer(name, rtype))
    }

    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        _failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        std::future::ready(self.answer(name, rtype))
    }

    fn dnssec_self_test(
        &self,
    ) -> impl Future<Output = mpic_core::dnssec_self_test::DnssecSelfTest> + MaybeSend {
        std::future::ready(mpic_core::dnssec_self_test::DnssecSelfTest::without_resolvers())
    }

    type Connection = tokio::io::DuplexStream;

    fn address_policy(&self) -> mpic_core::address_policy::AddressPolicy {
        mpic_core::address_policy::AddressPolicy::PublicOnly
    }

    fn connect(
        &self,
        _address: std::net::SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection, mpic_core::network::ConnectError>> + MaybeSend
    {
        std::future::ready(Err(mpic_core::network::ConnectError::NotPermitted(
            "CAA benchmarks open no connection".into(),
        )))
    }

    fn sleep(&self, _ms: u64) -> impl Future<Output = ()> + MaybeSend {
        std::future::pending()
    }
}

/// A CAA request for `domain` by us.
pub fn caa_request(domain: &str) -> CaaRequest {
    CaaRequest {
        domain: domain.to_owned(),
        certificate_type: CertificateType::TlsServer,
        issuer_domain_names: vec![OUR_ISSUER.to_owned()],
        account_uri: Some("https://ca.example/acct/12345".to_owned()),
        validation_method: Some("dns-01".to_owned()),
        allow_lookup_failure: false,
    }
}

/// The observation a perspective signs after a typical permitted CAA check of
/// `www.example.com` (two lookups, three records): about 1 KB of JSON.
pub fn typical_observation() -> Observation {
    let network = WireNetwork::new().with_caa(ZONE, typical_rrset("example.com."));
    let observed =
        pollster::block_on(caa::check(&network, &caa_request("www.example.com"))).unwrap();
    Observation::from_value(&CheckObservation::Caa(observed)).unwrap()
}

/// A report body as a perspective signs it after a typical CAA check.
pub fn report_body(perspective_id: &str, nonce_byte: u8) -> ReportBody {
    ReportBody {
        request_digest: [7; 32],
        nonce: Nonce::new(vec![nonce_byte; 32]).unwrap(),
        perspective_id: perspective_id.to_owned(),
        rir: Rir::RipeNcc,
        location: Location {
            region: "eu-central (Frankfurt)".to_owned(),
            coordinates: Some(Coordinates::new(50.11, 8.68).unwrap()),
        },
        resolvers: vec![RESOLVER.to_owned()],
        started_at_ms: 1_790_000_000_000,
        finished_at_ms: 1_790_000_000_040,
        verdict: Verdict::Pass,
        reason: "CAA permits issuance".to_owned(),
        observation: typical_observation(),
        data_center: Some(mpic_core::report::DataCenter {
            code: "FRA".to_owned(),
            country: Some("DE".to_owned()),
        }),
    }
}
