//! Test fixtures shared by the CAA tests: a table-driven fake [`Network`],
//! record builders and a tiny executor (core has no async runtime).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, NULL};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

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
        resolver: "https://resolver.test/dns-query".into(),
    }
}

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
    /// Every question asked, in order.
    pub queries: RefCell<Vec<(String, RecordType)>>,
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

    /// Answer (name, rtype) always with `response`.
    pub fn always(
        self,
        name: &str,
        rtype: RecordType,
        response: Result<DnsAnswer, DnsError>,
    ) -> Self {
        self.on(name, rtype, vec![response])
    }

    fn respond(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
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

    fn http_get(
        &self,
        _url: &url::Url,
        _limits: &HttpLimits,
    ) -> impl Future<Output = Result<HttpResponse, HttpError>> + MaybeSend {
        std::future::ready(Err(HttpError::Refused("the CAA tests use no HTTP".into())))
    }
}
