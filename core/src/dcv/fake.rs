//! A `Network` serving fixed DNS answers and HTTP pages from tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Mutex;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NULL, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, Restrict};
use url::Url;

use crate::dnssec_self_test::DnssecSelfTest;
use crate::network::{
    DnsAnswer, DnsError, HttpError, HttpLimits, HttpResponse, Network, RequestHeaders,
};

type HttpEntry = Result<(u16, Option<String>, Vec<u8>), HttpError>;
type DnsEntry = Result<(ResponseCode, Vec<RData>, Vec<String>), DnsError>;

#[derive(Default)]
pub(crate) struct FakeNetwork {
    dns: HashMap<(String, RecordType), DnsEntry>,
    http: HashMap<String, HttpEntry>,
    pub(crate) asked: Mutex<Vec<String>>,
}

impl FakeNetwork {
    pub(crate) fn records(mut self, name: &str, rtype: RecordType, data: Vec<RData>) -> Self {
        self.dns.insert(
            (name.to_owned(), rtype),
            Ok((ResponseCode::NoError, data, Vec::new())),
        );
        self
    }

    pub(crate) fn aliased(
        mut self,
        name: &str,
        rtype: RecordType,
        chain: &[&str],
        data: Vec<RData>,
    ) -> Self {
        let chain = chain.iter().map(|s| (*s).to_owned()).collect();
        self.dns.insert(
            (name.to_owned(), rtype),
            Ok((ResponseCode::NoError, data, chain)),
        );
        self
    }

    pub(crate) fn rcode(mut self, name: &str, rtype: RecordType, rcode: ResponseCode) -> Self {
        self.dns.insert(
            (name.to_owned(), rtype),
            Ok((rcode, Vec::new(), Vec::new())),
        );
        self
    }

    pub(crate) fn dns_error(mut self, name: &str, rtype: RecordType, error: DnsError) -> Self {
        self.dns.insert((name.to_owned(), rtype), Err(error));
        self
    }

    pub(crate) fn page(
        mut self,
        url: &str,
        status: u16,
        location: Option<&str>,
        body: &[u8],
    ) -> Self {
        self.http.insert(
            url.to_owned(),
            Ok((status, location.map(str::to_owned), body.to_vec())),
        );
        self
    }

    pub(crate) fn http_error(mut self, url: &str, error: HttpError) -> Self {
        self.http.insert(url.to_owned(), Err(error));
        self
    }
}

impl Network for FakeNetwork {
    async fn dns(&self, name: &str, rtype: RecordType) -> Result<DnsAnswer, DnsError> {
        self.asked.lock().unwrap().push(format!("{name} {rtype}"));
        // Unlisted names do not exist.
        let (rcode, data, cname_chain) = self
            .dns
            .get(&(name.to_owned(), rtype))
            .cloned()
            .unwrap_or(Ok((ResponseCode::NXDomain, Vec::new(), Vec::new())))?;
        let owner =
            Name::from_ascii(cname_chain.last().map(String::as_str).unwrap_or(name)).unwrap();
        Ok(DnsAnswer {
            name: name.to_owned(),
            rtype,
            rcode,
            records: data
                .into_iter()
                .map(|rdata| Record::from_rdata(owner.clone(), 300, rdata))
                .collect(),
            cname_chain,
            authentic_data: false,
            resolver: "fake".into(),
            checking_disabled: false,
            extended_errors: Vec::new(),
        })
    }

    async fn dns_retry(
        &self,
        name: &str,
        rtype: RecordType,
        _failed: &DnsAnswer,
    ) -> Result<DnsAnswer, DnsError> {
        self.dns(name, rtype).await
    }

    async fn dnssec_self_test(&self) -> DnssecSelfTest {
        crate::caa::test_support::passing_self_test()
    }

    async fn http_get(
        &self,
        url: &Url,
        headers: &RequestHeaders,
        limits: &HttpLimits,
    ) -> Result<HttpResponse, HttpError> {
        let sent: String = headers.iter().map(|(n, v)| format!(" {n}: {v}")).collect();
        self.asked.lock().unwrap().push(format!("GET {url}{sent}"));
        let (status, location, body) = self.http.get(url.as_str()).cloned().unwrap_or(Ok((
            404,
            None,
            b"not found".to_vec(),
        )))?;
        let cut = body.len().min(limits.max_body_bytes);
        Ok(HttpResponse {
            url: url.to_string(),
            status,
            location,
            content_type: Some("text/plain".into()),
            body: body[..cut].to_vec(),
            body_truncated: cut < body.len(),
        })
    }
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
