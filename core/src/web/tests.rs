#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::{A, AAAA};

use super::fake_servers::{self, Log, dns, ok};
use super::*;
use crate::address_policy::AddressPolicy;
use crate::network::HttpLimits;
use crate::testing::{FakeNetwork, RESOLVER};

const V4: &str = "127.0.0.7";
const V6: &str = "::1";

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

fn resolving(name: &str, v4: Option<&str>, v6: Option<&str>) -> FakeNetwork {
    let mut network = FakeNetwork::new().with_address_policy(AddressPolicy::LoopbackOnlyForTests);
    if let Some(v4) = v4 {
        network = network.records(name, RecordType::A, vec![RData::A(A(v4.parse().unwrap()))]);
    }
    if let Some(v6) = v6 {
        network = network.records(
            name,
            RecordType::AAAA,
            vec![RData::AAAA(AAAA(v6.parse().unwrap()))],
        );
    }
    network
}

fn limits(timeout_ms: u64) -> HttpLimits {
    HttpLimits {
        max_body_bytes: 1024,
        timeout_ms,
    }
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

#[test]
fn a_get_goes_to_the_address_the_perspectives_resolver_gave_and_says_so() {
    let seen = log();
    let network = resolving("site.test", Some(V4), None).listen(
        addr(V4, 80),
        fake_servers::http(ok("hello"), Arc::clone(&seen)),
    );
    let url = Url::parse("http://site.test/.well-known/x").unwrap();
    let response =
        pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(5_000))).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
    let contacted = response.contacted.unwrap();
    assert_eq!(contacted.resolver.as_deref(), Some(RESOLVER));
    assert_eq!(contacted.address, V4.parse::<IpAddr>().unwrap());
    assert_eq!(contacted.port, 80);
    assert_eq!(contacted.tls, None);
    let request = &seen.lock().unwrap()[0].request;
    assert!(
        request.starts_with("GET /.well-known/x HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains("\r\nhost: site.test\r\n") || request.contains("\r\nHost: site.test\r\n"),
        "{request}"
    );
}

#[test]
fn ipv6_is_tried_first_and_ipv4_is_the_fallback() {
    let seen = log();
    let both = resolving("site.test", Some(V4), Some(V6))
        .listen(
            addr(V6, 80),
            fake_servers::http(ok("six"), Arc::clone(&seen)),
        )
        .listen(
            addr(V4, 80),
            fake_servers::http(ok("four"), Arc::clone(&seen)),
        );
    let url = Url::parse("http://site.test/").unwrap();
    let response =
        pollster::block_on(both.http_get(&url, &RequestHeaders::new(), &limits(5_000))).unwrap();
    assert_eq!(response.body, b"six");
    assert_eq!(both.connected(), vec![addr(V6, 80)]);

    // Nothing listens on the IPv6 address: the IPv4 one answers.
    let fallback = resolving("site.test", Some(V4), Some(V6))
        .listen(addr(V4, 80), fake_servers::http(ok("four"), log()));
    let response =
        pollster::block_on(fallback.http_get(&url, &RequestHeaders::new(), &limits(5_000)))
            .unwrap();
    assert_eq!(response.body, b"four");
    assert_eq!(fallback.connected(), vec![addr(V6, 80), addr(V4, 80)]);
    assert_eq!(
        response.contacted.unwrap().address,
        V4.parse::<IpAddr>().unwrap()
    );
}

#[test]
fn an_address_the_policy_refuses_is_never_contacted() {
    let network = FakeNetwork::new()
        .records(
            "site.test",
            RecordType::A,
            vec![RData::A(A("10.0.0.1".parse().unwrap()))],
        )
        .listen(
            addr("10.0.0.1", 80),
            fake_servers::http(ok("internal"), log()),
        );
    let url = Url::parse("http://site.test/").unwrap();
    let error = pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(5_000)))
        .unwrap_err();
    assert!(
        matches!(&error, HttpError::Refused(why) if why.contains("10.0.0.1 is private")),
        "{error:?}"
    );
    assert!(network.connected().is_empty());

    let literal = Url::parse("http://[fe80::1]/").unwrap();
    let error =
        pollster::block_on(network.http_get(&literal, &RequestHeaders::new(), &limits(5_000)))
            .unwrap_err();
    assert!(matches!(error, HttpError::Refused(_)), "{error:?}");
    assert!(network.connected().is_empty());
}

#[test]
fn a_name_without_addresses_is_a_connection_failure_naming_the_rcodes() {
    let network = FakeNetwork::new()
        .unlisted_names_do_not_exist()
        .listen(addr(V4, 80), fake_servers::silent());
    let url = Url::parse("http://gone.test/").unwrap();
    let error = pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(5_000)))
        .unwrap_err();
    assert!(
        matches!(&error, HttpError::Connect(why) if why.contains("resolving gone.test") && why.contains("Non-Existent Domain")),
        "{error:?}"
    );
    assert!(network.connected().is_empty());
}

#[test]
fn https_does_tls_without_verifying_the_certificate_and_records_the_session() {
    let seen = log();
    // Self-signed, and for another name: an https challenge still reads.
    let identity = fake_servers::identity(vec![dns("someone-else.test")], None);
    let network = resolving("site.test", Some(V4), None).listen(
        addr(V4, 443),
        fake_servers::tls(
            &identity,
            &["http/1.1"],
            rustls::DEFAULT_VERSIONS,
            Some(ok("secret")),
            Arc::clone(&seen),
        ),
    );
    let url = Url::parse("https://site.test/.well-known/pki-validation/x").unwrap();
    let response =
        pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(5_000))).unwrap();
    assert_eq!(response.body, b"secret");
    let tls = response.contacted.unwrap().tls.unwrap();
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(tls.server_name.as_deref(), Some("site.test"));
    assert!(!tls.certificate_verified);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].sni.as_deref(), Some("site.test"));
    assert_eq!(seen[0].alpn, vec!["http/1.1".to_owned()]);
    assert!(
        seen[0]
            .request
            .starts_with("GET /.well-known/pki-validation/x HTTP/1.1")
    );
}

#[test]
fn a_server_that_never_answers_times_out_on_the_networks_clock() {
    let network =
        resolving("site.test", Some(V4), None).listen(addr(V4, 80), fake_servers::silent());
    let url = Url::parse("http://site.test/").unwrap();
    let error = pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(200)))
        .unwrap_err();
    assert_eq!(error, HttpError::Timeout);
}

#[test]
fn garbage_instead_of_tls_is_a_tls_failure() {
    let network = resolving("site.test", Some(V4), None).listen(
        addr(V4, 443),
        fake_servers::garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
    );
    let url = Url::parse("https://site.test/").unwrap();
    let error = pollster::block_on(network.http_get(&url, &RequestHeaders::new(), &limits(5_000)))
        .unwrap_err();
    // The failure names the server that failed it.
    assert!(
        matches!(&error, HttpError::Tls(why) if why.starts_with("127.0.0.7:443: ")),
        "{error:?}"
    );
}
