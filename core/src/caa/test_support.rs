//! Test fixtures shared by the CAA tests: a table-driven fake [`Network`],
//! record builders and a tiny executor (core has no async runtime).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{CNAME, NS, NULL};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::dnssec_self_test::{
    DnssecSelfTest, DnssecTestNames, ProbeAnswer, ResolverSelfTest, SelfTestFailure,
};
use crate::network::{
    DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, MaybeSend, Network,
};

/// Drive a future that never waits on real I/O (the fake network answers at
/// once) to completion.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

/// CAA rdata on the wire: flags, tag length, tag, value.
pub fn wire(flags: u8, tag: &[u8], value: &[u8]) -> Vec<u8> {
    let mut rdata = vec![flags, u8::try_from(tag.len()).unwrap()];
    rdata.extend_from_slice(tag);
    rdata.extend_from_slice(value);
    rdata
}

/// A CAA record decoded by hickory from wire rdata, as the DNS layer would
/// hand it over.
pub fn caa(owner: &str, flags: u8, tag: &str, value: &[u8]) -> Record {
    let rdata = wire(flags, tag.as_bytes(), value);
    let mut decoder = BinDecoder::new(&rdata);
    let data = RData::read(
        &mut decoder,
        RecordType::CAA,
        Restrict::new(u16::try_from(rdata.len()).unwrap()),
    )
    .unwrap();
    Record::from_rdata(Name::from_ascii(owner).unwrap(), 300, data)
}

/// A record of type `code` kept as opaque rdata.
pub fn unknown(owner: &str, code: RecordType, rdata: Vec<u8>) -> Record {
    let rdata = if rdata.is_empty() {
        NULL::new()
    } else {
        NULL::with(rdata)
    };
    Record::from_rdata(
        Name::from_ascii(owner).unwrap(),
        300,
        RData::Unknown { code, rdata },
    )
}

/// An NS record at `owner`.
pub fn ns(owner: &str, target: &str) -> Record {
    Record::from_rdata(
        Name::from_ascii(owner).unwrap(),
        300,
        RData::NS(NS(Name::from_ascii(target).unwrap())),
    )
}

/// A CNAME record at `owner`.
pub fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(
        Name::from_ascii(owner).unwrap(),
        300,
        RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
    )
}

/// A DNAME record at `owner`, as the DNS layer decodes it.
pub fn dname(owner: &str, target: &str) -> Record {
    crate::dns::fixture::dname_record(
        Name::from_ascii(owner).unwrap(),
        300,
        &Name::from_ascii(target).unwrap(),
    )
    .unwrap()
}

/// A DS record at `owner` (opaque rdata is enough: only presence matters).
pub fn ds(owner: &str) -> Record {
    unknown(owner, RecordType::DS, vec![0x30, 0x39, 13, 2, 0xAB])
}

/// A resolver answer.
pub fn answer(rcode: ResponseCode, records: Vec<Record>) -> DnsAnswer {
    DnsAnswer {
        name: String::new(),
        rtype: RecordType::CAA,
        rcode,
        records,
        cname_chain: Vec::new(),
        authentic_data: false,
        resolver: RESOLVER.into(),
        checking_disabled: false,
        extended_errors: Vec::new(),
    }
}

/// The fake's first resolver, which answers every first question.
pub const RESOLVER: &str = "https://resolver.test/dns-query";

/// The fake's second resolver, which answers retries unless the fake has a
/// single resolver.
pub const SECOND_RESOLVER: &str = "https://resolver-2.test/dns-query";

/// The same answer with the AD flag set.
pub fn authentic(mut answer: DnsAnswer) -> DnsAnswer {
    answer.authentic_data = true;
    answer
}

/// The same answer reached through aliases.
pub fn via(mut answer: DnsAnswer, chain: &[&str]) -> DnsAnswer {
    answer.cname_chain = chain.iter().map(|s| (*s).to_owned()).collect();
    answer
}

/// Serves answers from a table keyed by (name, type). Each key holds a queue:
/// successive queries take successive entries and the last one repeats. A
/// question not in the table gets NOERROR with no records and AD clear.
#[derive(Default)]
pub struct FakeNetwork {
    table: HashMap<(String, RecordType), Vec<Result<DnsAnswer, DnsError>>>,
    served: RefCell<HashMap<(String, RecordType), usize>>,
    /// Every question asked, in order (retries included).
    pub queries: RefCell<Vec<(String, RecordType)>>,
    /// Every retry: the question and the resolver whose answer failed.
    pub retries: RefCell<Vec<(String, RecordType, String)>>,
    /// Retries go to the same resolver with the CD bit, as a perspective
    /// with one resolver asks them.
    single_resolver: bool,
    /// What the DNSSEC self-test finds; `None`: every resolver passes.
    self_test: Option<DnssecSelfTest>,
    /// How many times the self-test ran.
    pub self_tests: RefCell<usize>,
}

impl FakeNetwork {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answer (name, rtype) with `responses`, one per query, last repeating.
    pub fn on(
        mut self,
        name: &str,
        rtype: RecordType,
        responses: Vec<Result<DnsAnswer, DnsError>>,
    ) -> Self {
        self.table.insert((name.to_owned(), rtype), responses);
        self
    }

    /// Retries go to the one resolver with the CD bit set.
    pub fn single_resolver(mut self) -> Self {
        self.single_resolver = true;
        self
    }

    /// The DNSSEC self-test finds `self_test`.
    pub fn self_test(mut self, self_test: DnssecSelfTest) -> Self {
        self.self_test = Some(self_test);
        self
    }

    /// Answer (name, rtype) always with `response`.
    pub fn always(
        self,
        name: &str,
        rtype: RecordType,
        response: Result<DnsAnswer, DnsError>,
    ) -> Self {
        self.on(name, rtype, vec![response])
    }

    /// The answer to (name, rtype), recorded as asked.
    pub fn respond(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
        self.queries.borrow_mut().push((name.to_owned(), rtype));
        let key = (name.to_owned(), rtype);
        let mut answer = match self.table.get(&key) {
            None => Ok(answer(ResponseCode::NoError, Vec::new())),
            Some(responses) => {
                let mut served = self.served.borrow_mut();
                let index = served.entry(key).or_default();
                let response = responses
                    .get(*index)
                    .or(responses.last())
                    .cloned()
                    .unwrap_or_else(|| Ok(answer(ResponseCode::NoError, Vec::new())));
                *index += 1;
                response
            }
        };
        if let Ok(answer) = &mut answer {
            answer.name = name.to_owned();
            answer.rtype = rtype;
        }
        answer
    }
}

impl Network for FakeNetwork {
    fn dns(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        std::future::ready(self.respond(name, rtype))
    }

    fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        failed: &DnsAnswer,
    ) -> impl Future<Output = Result<DnsAnswer, DnsError>> + MaybeSend {
        self.retries
            .borrow_mut()
            .push((name.to_owned(), rtype, failed.resolver.clone()));
        let mut response = self.respond(name, rtype);
        if let Ok(answer) = &mut response {
            if self.single_resolver {
                answer.checking_disabled = true;
            } else if answer.resolver == RESOLVER {
                answer.resolver = SECOND_RESOLVER.into();
            }
        }
        std::future::ready(response)
    }

    fn dnssec_self_test(&self) -> impl Future<Output = DnssecSelfTest> + MaybeSend {
        *self.self_tests.borrow_mut() += 1;
        let test = self.self_test.clone().unwrap_or_else(passing_self_test);
        std::future::ready(test)
    }

    fn http_get(
        &self,
        _url: &url::Url,
        _headers: &crate::network::RequestHeaders,
        _limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        std::future::ready(Err(HttpError::Refused("the CAA tests use no HTTP".into())))
    }
}

/// A self-test every resolver of the fake passed.
pub fn passing_self_test() -> DnssecSelfTest {
    let probe = |rcode: &str, ad| ProbeAnswer::Answer {
        rcode: rcode.into(),
        authentic_data: ad,
    };
    DnssecSelfTest {
        names: DnssecTestNames::default(),
        resolvers: vec![ResolverSelfTest {
            resolver: RESOLVER.into(),
            bogus: probe("SERVFAIL", false),
            signed: probe("NOERROR", true),
            failure: None,
        }],
    }
}

/// A self-test the fake's resolver failed: it does not validate.
pub fn failing_self_test() -> DnssecSelfTest {
    let mut test = passing_self_test();
    for resolver in &mut test.resolvers {
        resolver.bogus = ProbeAnswer::Answer {
            rcode: "NOERROR".into(),
            authentic_data: false,
        };
        resolver.failure = Some(SelfTestFailure::BogusAccepted {
            name: test.names.bogus.clone(),
            rcode: "NOERROR".into(),
        });
    }
    test
}
