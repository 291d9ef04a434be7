#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mpic_core::doh::{DohHttpRequest, DohHttpResponse, DohTransport};
use mpic_core::network::{ConnectError, DnsError, HttpError, HttpLimits, Network, RequestHeaders};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use url::Url;

use super::*;

/// A resolver answering from a table; unknown names are NXDOMAIN. Records
/// every question it is asked.
#[derive(Debug, Clone, Default)]
struct TableDoh {
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
    asked: Arc<Mutex<Vec<(String, RecordType)>>>,
}

impl TableDoh {
    fn new(hosts: &[(&str, &[&str])]) -> Self {
        let hosts = hosts
            .iter()
            .map(|(name, ips)| {
                let ips = ips.iter().map(|ip| ip.parse().unwrap()).collect();
                ((*name).to_owned(), ips)
            })
            .collect();
        Self {
            hosts: Arc::new(hosts),
            asked: Arc::default(),
        }
    }

    fn answer(&self, query: &[u8]) -> Vec<u8> {
        let message = Message::from_vec(query).unwrap();
        let question = &message.queries[0];
        let name = question.name().to_ascii();
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let rtype = question.query_type();
        self.asked.lock().unwrap().push((name.clone(), rtype));
        let (rcode, records) = match self.hosts.get(&name) {
            None => (ResponseCode::NXDomain, Vec::new()),
            Some(ips) => {
                let owner = Name::from_ascii(format!("{name}.")).unwrap();
                let records = ips
                    .iter()
                    .filter_map(|ip| match (ip, rtype) {
                        (IpAddr::V4(v4), RecordType::A) => Some(RData::A(A(*v4))),
                        (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA(AAAA(*v6))),
                        _ => None,
                    })
                    .map(|rdata| Record::from_rdata(owner.clone(), 60, rdata))
                    .collect();
                (ResponseCode::NoError, records)
            }
        };
        mpic_core::dns::fixture::response_message(query, rcode, records, false)
            .unwrap()
            .to_vec()
            .unwrap()
    }
}

impl DohTransport for TableDoh {
    async fn send(&self, request: DohHttpRequest) -> Result<DohHttpResponse, DnsError> {
        Ok(DohHttpResponse {
            status: 200,
            content_type: Some(mpic_core::doh::DNS_MESSAGE_MEDIA_TYPE.into()),
            body: self.answer(&request.body),
        })
    }
}

const HOSTS: &[(&str, &[&str])] = &[
    ("public.test", &["93.184.216.34"]),
    ("dual.test", &["93.184.216.34", "2606:2800:220:1::1"]),
    ("private.test", &["10.0.0.1"]),
    ("metadata.test", &["169.254.169.254"]),
    ("cgnat.test", &["100.64.1.1"]),
    ("mixed.test", &["10.0.0.1", "93.184.216.34", "fd00::1"]),
    ("loop.test", &["127.0.0.1"]),
    ("loop6.test", &["::1"]),
];

fn network(doh: &TableDoh, local: Option<LocalPorts>) -> NativeNetwork<TableDoh> {
    // The table answers whatever the URL; a loopback test world wants a
    // loopback resolver.
    let resolver = match local {
        None => "https://doh.test/dns-query",
        Some(_) => "http://127.0.0.1:1/dns-query",
    };
    let mut config = NativeNetworkConfig::new(Url::parse(resolver).unwrap());
    config.local = local;
    NativeNetwork::new(doh.clone(), config).unwrap()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[tokio::test]
async fn production_refuses_special_use_addresses_before_connecting() {
    let doh = TableDoh::new(HOSTS);
    let net = network(&doh, None);
    assert_eq!(net.address_policy(), AddressPolicy::PublicOnly);
    // (URL, the start of the refusal); none of these is ever connected to.
    let cases: &[(&str, &str)] = &[
        (
            "http://private.test/",
            "refused by policy: no address of private.test may be contacted: 10.0.0.1 is private",
        ),
        (
            "http://metadata.test/",
            "refused by policy: no address of metadata.test may be contacted: 169.254.169.254 is link-local",
        ),
        (
            "http://cgnat.test/",
            "refused by policy: no address of cgnat.test may be contacted: 100.64.1.1 is shared address space",
        ),
        (
            "http://loop.test/",
            "refused by policy: no address of loop.test may be contacted: 127.0.0.1 is loopback",
        ),
        (
            "http://10.1.2.3/",
            "refused by policy: no address of 10.1.2.3 may be contacted: 10.1.2.3 is private",
        ),
        (
            "http://[::1]/",
            "refused by policy: no address of [::1] may be contacted: ::1 is loopback",
        ),
        (
            "http://[fe80::1]/",
            "refused by policy: no address of [fe80::1] may be contacted: fe80::1 is link-local",
        ),
        (
            "http://nowhere.test/",
            "could not connect: resolving nowhere.test",
        ),
        ("ftp://public.test/", "refused by policy: scheme \"ftp\""),
    ];
    for (url, prefix) in cases {
        let url = Url::parse(url).unwrap();
        let err = net
            .http_get(&url, &RequestHeaders::new(), &limits(64))
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with(prefix), "{url}: {err}");
    }
    // The connection itself is held to the same policy, as a second lock.
    assert_eq!(
        net.connection_target(addr("93.184.216.34:443")),
        Ok(addr("93.184.216.34:443"))
    );
    assert!(matches!(
        net.connection_target(addr("127.0.0.1:80")),
        Err(ConnectError::NotPermitted(_))
    ));
}

#[tokio::test]
async fn each_fetch_resolves_its_host_once_per_address_type() {
    let doh = TableDoh::new(HOSTS);
    let net = network(&doh, None);
    // A name whose every address is refused: nothing is contacted.
    net.http_get(
        &Url::parse("http://private.test/").unwrap(),
        &RequestHeaders::new(),
        &limits(64),
    )
    .await
    .unwrap_err();
    let mut asked = doh.asked.lock().unwrap().clone();
    asked.sort_by_key(|(_, t)| u16::from(*t));
    assert_eq!(
        asked,
        [
            ("private.test".to_owned(), RecordType::A),
            ("private.test".to_owned(), RecordType::AAAA)
        ]
    );
}

#[test]
fn the_loopback_test_setting_maps_ports_and_reaches_loopback_only() {
    let doh = TableDoh::new(HOSTS);
    let ports = LocalPorts {
        http: 18080,
        https: Some(18443),
    };
    let net = network(&doh, Some(ports));
    assert_eq!(net.address_policy(), AddressPolicy::LoopbackOnlyForTests);
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("127.0.0.1:80", Ok("127.0.0.1:18080")),
        ("127.0.0.1:443", Ok("127.0.0.1:18443")),
        ("[::1]:80", Ok("[::1]:18080")),
        (
            "127.0.0.1:8080",
            Err("not permitted: the loopback test setting maps only"),
        ),
        (
            "93.184.216.34:80",
            Err("not permitted: 93.184.216.34 is not loopback"),
        ),
        (
            "10.0.0.1:80",
            Err("not permitted: 10.0.0.1 is not loopback"),
        ),
    ];
    for (address, want) in cases {
        match (want, net.connection_target(addr(address))) {
            (Ok(mapped), Ok(got)) => assert_eq!(got, addr(mapped), "{address}"),
            (Err(prefix), Err(e)) => {
                assert!(e.to_string().starts_with(prefix), "{address}: {e}")
            }
            (want, got) => panic!("{address}: want {want:?}, got {got:?}"),
        }
    }
    let no_https = network(
        &doh,
        Some(LocalPorts {
            http: 18080,
            https: None,
        }),
    );
    let err = no_https
        .connection_target(addr("127.0.0.1:443"))
        .unwrap_err();
    assert!(err.to_string().contains("no port for 443"), "{err}");
}

#[test]
fn an_insecure_resolver_url_is_refused_outside_loopback_tests() {
    let config = NativeNetworkConfig::new(Url::parse("http://doh.test/dns-query").unwrap());
    let err = NativeNetwork::new(TableDoh::default(), config.clone()).unwrap_err();
    assert!(err.to_string().contains("http"), "{err}");
    let mut local = config;
    local.local = Some(LocalPorts {
        http: 1,
        https: None,
    });
    // In a loopback test world the resolver must be on loopback as well.
    let err = NativeNetwork::new(TableDoh::default(), local.clone()).unwrap_err();
    assert!(
        matches!(err, NativeNetworkError::DohNotLoopback(_)),
        "{err}"
    );
    for url in [
        "http://127.0.0.1:5353/dns-query",
        "http://localhost:1/q",
        "http://[::1]:2/",
    ] {
        local.doh_url = Url::parse(url).unwrap();
        assert!(
            NativeNetwork::new(TableDoh::default(), local.clone()).is_ok(),
            "{url}"
        );
    }
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers each connection with
/// `response` and keeps the request heads it read. Stops when dropped.
struct RawServer {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    async fn start(response: &'static [u8]) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        let task = tokio::spawn(async move {
            // Bounded: a test makes a handful of requests.
            for _ in 0..16 {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(response).await;
                let _ = stream.shutdown().await;
            }
        });
        Self { port, heads, task }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn limits(max_body_bytes: usize) -> HttpLimits {
    HttpLimits {
        max_body_bytes,
        timeout_ms: 10_000,
    }
}

#[tokio::test]
async fn http_get_reads_at_most_the_limit_and_sends_the_host_name() {
    let server = RawServer::start(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\nconnection: close\r\n\r\nhello world",
    )
    .await;
    let doh = TableDoh::new(HOSTS);
    let net = network(
        &doh,
        Some(LocalPorts {
            http: server.port,
            https: None,
        }),
    );
    let url = Url::parse("http://loop.test/.well-known/acme-challenge/tok").unwrap();
    let headers = RequestHeaders::from([("User-Agent".to_owned(), "ca.example dcv".to_owned())]);
    let response = net.http_get(&url, &headers, &limits(5)).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
    assert!(response.body_truncated);
    assert_eq!(response.url, url.as_str());
    assert_eq!(response.content_type.as_deref(), Some("text/plain"));

    let whole = net
        .http_get(&url, &RequestHeaders::new(), &limits(64))
        .await
        .unwrap();
    assert_eq!(whole.body, b"hello world");
    assert!(!whole.body_truncated);

    let heads = server.heads();
    assert_eq!(heads.len(), 2);
    let head = heads[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /.well-known/acme-challenge/tok http/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nhost: loop.test\r\n"), "{head}");
    // The request's own header replaces the transport's User-Agent.
    assert!(
        head.contains("\r\nuser-agent: ca.example dcv\r\n"),
        "{head}"
    );
    assert_eq!(head.matches("user-agent:").count(), 1, "{head}");
}

#[tokio::test]
async fn http_get_never_follows_a_redirect() {
    let server = RawServer::start(
        b"HTTP/1.1 302 Found\r\nlocation: http://loop.test/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    let doh = TableDoh::new(HOSTS);
    let net = network(
        &doh,
        Some(LocalPorts {
            http: server.port,
            https: None,
        }),
    );
    let response = net
        .http_get(
            &Url::parse("http://loop.test/start").unwrap(),
            &RequestHeaders::new(),
            &limits(64),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(
        response.location.as_deref(),
        Some("http://loop.test/elsewhere")
    );
    assert_eq!(server.heads().len(), 1, "the redirect was not followed");
}

#[tokio::test]
async fn production_refuses_before_connecting() {
    let server = RawServer::start(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
    let doh = TableDoh::new(HOSTS);
    let net = network(&doh, None);
    let url = Url::parse(&format!("http://loop.test:{}/", server.port)).unwrap();
    let err = net
        .http_get(&url, &RequestHeaders::new(), &limits(64))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Refused(_)), "{err:?}");
    let literal = Url::parse(&format!("http://127.0.0.1:{}/", server.port)).unwrap();
    let err = net
        .http_get(&literal, &RequestHeaders::new(), &limits(64))
        .await
        .unwrap_err();
    assert!(matches!(err, HttpError::Refused(_)), "{err:?}");
    assert!(server.heads().is_empty());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts the connection (the listen backlog) but never reads or answers.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let doh = TableDoh::new(HOSTS);
    let net = network(
        &doh,
        Some(LocalPorts {
            http: port,
            https: None,
        }),
    );
    let limits = HttpLimits {
        max_body_bytes: 64,
        timeout_ms: 200,
    };
    let err = net
        .http_get(
            &Url::parse("http://loop.test/").unwrap(),
            &RequestHeaders::new(),
            &limits,
        )
        .await
        .unwrap_err();
    assert_eq!(err, HttpError::Timeout);
    drop(listener);
}
