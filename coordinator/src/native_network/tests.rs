#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mpic_core::doh::{DohHttpRequest, DohHttpResponse, DohTransport};
use mpic_core::network::{DnsError, HttpError, HttpLimits, Network, RequestHeaders};
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
async fn production_connects_only_to_public_addresses_it_resolved() {
    let doh = TableDoh::new(HOSTS);
    let net = network(&doh, None);
    // (URL, pinned addresses or the start of the refusal)
    let cases: &[(&str, Result<&[&str], &str>)] = &[
        ("http://public.test/x", Ok(&["93.184.216.34:0"])),
        (
            "https://dual.test/",
            Ok(&["[2606:2800:220:1::1]:0", "93.184.216.34:0"]),
        ),
        ("http://mixed.test/", Ok(&["93.184.216.34:0"])),
        (
            "http://private.test/",
            Err(
                "refused by policy: no address of private.test may be reached: 10.0.0.1 is private",
            ),
        ),
        (
            "http://metadata.test/",
            Err(
                "refused by policy: no address of metadata.test may be reached: 169.254.169.254 is link-local",
            ),
        ),
        (
            "http://cgnat.test/",
            Err(
                "refused by policy: no address of cgnat.test may be reached: 100.64.1.1 is shared address space",
            ),
        ),
        (
            "http://loop.test/",
            Err("refused by policy: no address of loop.test may be reached: 127.0.0.1 is loopback"),
        ),
        (
            "http://10.1.2.3/",
            Err("refused by policy: 10.1.2.3 is private"),
        ),
        ("http://[::1]/", Err("refused by policy: ::1 is loopback")),
        (
            "http://[fe80::1]/",
            Err("refused by policy: fe80::1 is link-local"),
        ),
        (
            "http://nowhere.test/",
            Err("could not connect: resolving nowhere.test"),
        ),
        (
            "ftp://public.test/",
            Err("refused by policy: scheme \"ftp\""),
        ),
    ];
    for (url, want) in cases {
        let url = Url::parse(url).unwrap();
        let got = net.plan_fetch(&url).await;
        match (want, got) {
            (Ok(pinned), Ok(plan)) => {
                assert_eq!(plan.request_url, url, "{url}");
                let (name, addresses) = plan.pinned.unwrap();
                assert_eq!(name, url.host_str().unwrap());
                let want: Vec<SocketAddr> = pinned.iter().map(|a| addr(a)).collect();
                assert_eq!(addresses, want, "{url}");
            }
            (Err(prefix), Err(e)) => {
                assert!(e.to_string().starts_with(prefix), "{url}: {e}");
            }
            (want, got) => panic!("{url}: want {want:?}, got {got:?}"),
        }
    }
    // A literal address is checked without a lookup; a public one is not
    // pinned (there is no name to pin).
    let literal = net
        .plan_fetch(&Url::parse("http://93.184.216.34/").unwrap())
        .await
        .unwrap();
    assert_eq!(literal.pinned, None);
}

#[tokio::test]
async fn each_fetch_resolves_its_host_once_per_address_type() {
    let doh = TableDoh::new(HOSTS);
    let net = network(&doh, None);
    net.plan_fetch(&Url::parse("http://dual.test/").unwrap())
        .await
        .unwrap();
    let mut asked = doh.asked.lock().unwrap().clone();
    asked.sort_by_key(|(_, t)| u16::from(*t));
    assert_eq!(
        asked,
        [
            ("dual.test".to_owned(), RecordType::A),
            ("dual.test".to_owned(), RecordType::AAAA)
        ]
    );
}

#[tokio::test]
async fn the_loopback_test_setting_maps_ports_and_reaches_loopback_only() {
    let doh = TableDoh::new(HOSTS);
    let ports = LocalPorts {
        http: 18080,
        https: Some(18443),
    };
    let net = network(&doh, Some(ports));
    assert_eq!(net.address_policy(), AddressPolicy::LoopbackOnlyForTests);
    // (URL, request URL, pinned) or the start of the refusal.
    type Want<'a> = Result<(&'a str, Option<&'a [&'a str]>), &'a str>;
    let cases: &[(&str, Want<'_>)] = &[
        (
            "http://loop.test/a?b",
            Ok(("http://loop.test/a?b", Some(&["127.0.0.1:18080"]))),
        ),
        (
            "https://loop.test/a",
            Ok(("http://loop.test/a", Some(&["127.0.0.1:18443"]))),
        ),
        (
            "http://loop6.test/",
            Ok(("http://loop6.test/", Some(&["[::1]:18080"]))),
        ),
        ("http://127.0.0.1/x", Ok(("http://127.0.0.1:18080/x", None))),
        (
            "http://loop.test:8080/",
            Err("refused by policy: the loopback test setting maps only http:80 and https:443"),
        ),
        (
            "http://public.test/",
            Err(
                "refused by policy: no address of public.test may be reached: 93.184.216.34 is not loopback",
            ),
        ),
        (
            "http://10.0.0.1/",
            Err("refused by policy: 10.0.0.1 is not loopback"),
        ),
    ];
    for (url, want) in cases {
        let got = net.plan_fetch(&Url::parse(url).unwrap()).await;
        match (want, got) {
            (Ok((request_url, pinned)), Ok(plan)) => {
                assert_eq!(plan.request_url.as_str(), *request_url, "{url}");
                let got_pinned = plan.pinned.map(|(_, a)| a);
                let want_pinned = pinned.map(|p| p.iter().map(|a| addr(a)).collect::<Vec<_>>());
                assert_eq!(got_pinned, want_pinned, "{url}");
            }
            (Err(prefix), Err(e)) => assert!(e.to_string().starts_with(prefix), "{url}: {e}"),
            (want, got) => panic!("{url}: want {want:?}, got {got:?}"),
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
        .plan_fetch(&Url::parse("https://loop.test/").unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no port for https:443"), "{err}");
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
