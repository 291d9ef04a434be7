//! Test fixtures shared by the CAA tests: record builders and a tiny
//! executor (core has no async runtime); their network is
//! [`crate::testing::FakeNetwork`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hickory_proto::rr::rdata::{CNAME, NS, NULL};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::network::DnsAnswer;
pub use crate::testing::{FakeNetwork, RESOLVER, SECOND_RESOLVER, answer, failing_self_test};

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
