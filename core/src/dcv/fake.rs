//! RDATA builders for the DCV tests, whose network is
//! [`crate::testing::FakeNetwork`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, NULL, PTR, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};

use crate::testing::FakeNetwork;

/// The DCV tests' network: names it has no answer for do not exist.
pub(crate) fn fake_network() -> FakeNetwork {
    FakeNetwork::new().unlisted_names_do_not_exist()
}

pub(crate) fn txt(strings: &[&str]) -> RData {
    RData::TXT(TXT::new(strings.iter().map(|s| (*s).to_owned()).collect()))
}

pub(crate) fn address(ip: &str) -> RData {
    match IpAddr::from_str(ip).unwrap() {
        IpAddr::V4(v4) => RData::A(A(v4)),
        IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
    }
}

pub(crate) fn ptr(name: &str) -> RData {
    RData::PTR(PTR(Name::from_ascii(name).unwrap()))
}

pub(crate) fn cname(name: &str) -> RData {
    RData::CNAME(CNAME(Name::from_ascii(name).unwrap()))
}

fn caa_wire(flags: u8, tag: &str, value: &str) -> Vec<u8> {
    let mut wire = vec![flags, u8::try_from(tag.len()).unwrap()];
    wire.extend_from_slice(tag.as_bytes());
    wire.extend_from_slice(value.as_bytes());
    wire
}

/// A CAA record as hickory decodes it.
pub(crate) fn caa(flags: u8, tag: &str, value: &str) -> RData {
    let wire = caa_wire(flags, tag, value);
    let length = Restrict::new(u16::try_from(wire.len()).unwrap());
    RData::read(&mut BinDecoder::new(&wire), RecordType::CAA, length).unwrap()
}

/// A CAA record left undecoded (raw RDATA).
pub(crate) fn caa_raw(flags: u8, tag: &str, value: &str) -> RData {
    RData::Unknown {
        code: RecordType::CAA,
        rdata: NULL::with(caa_wire(flags, tag, value)),
    }
}
