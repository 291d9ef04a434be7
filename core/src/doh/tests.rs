#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::Mutex;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{Name, RData, Record};

use super::*;
use crate::dns::caa_raw;
use crate::dns::fixture::build_response;

/// How the fake resolver answers a query it has decoded.
type Responder = fn(&[u8]) -> Result<DohHttpResponse, DnsError>;

/// Decodes requests as a DoH server would and answers with `responder`,
/// remembering the last request.
struct FakeTransport {
    responder: Responder,
    seen: Mutex<Option<DohHttpRequest>>,
}

impl FakeTransport {
    fn new(responder: Responder) -> Self {
        Self {
            responder,
            seen: Mutex::new(None),
        }
    }

    fn last(&self) -> DohHttpRequest {
        self.seen.lock().unwrap().clone().expect("no request sent")
    }
}

impl DohTransport for FakeTransport {
    fn send(
        &self,
        request: DohHttpRequest,
    ) -> impl Future<Output = Result<DohHttpResponse, DnsError>> + MaybeSend {
        let query = match request.method {
            DohMethod::Get => get_url_message(&request.url).unwrap(),
            DohMethod::Post => request.body.clone(),
        };
        *self.seen.lock().unwrap() = Some(request);
        let result = (self.responder)(&query);
        async move { result }
    }
}

fn ok(body: Vec<u8>) -> Result<DohHttpResponse, DnsError> {
    Ok(DohHttpResponse {
        status: 200,
        content_type: Some(DNS_MESSAGE_MEDIA_TYPE.into()),
        body,
    })
}

fn caa_answer(query: &[u8]) -> Result<DohHttpResponse, DnsError> {
    let mut caa = CAA::new_issue(false, None, vec![]);
    caa.value = b"ca.example".to_vec();
    let record = Record::from_rdata(
        Name::from_ascii("example.com.").unwrap(),
        300,
        RData::CAA(caa),
    );
    ok(build_response(query, ResponseCode::NoError, vec![record], true).unwrap())
}

fn client(method: DohMethod, responder: Responder) -> DohClient<FakeTransport> {
    let mut config = DohConfig::new(Url::parse("https://doh.example/dns-query").unwrap());
    config.method = method;
    DohClient::new(FakeTransport::new(responder), config).unwrap()
}

#[test]
fn rfc8484_get_example_encoding() {
    // RFC 8484 section 4.1.1: www.example.com A, id 0, RD, no EDNS.
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(
        Name::from_ascii("www.example.com.").unwrap(),
        RecordType::A,
    ));
    let wire = message.to_vec().unwrap();
    let url = get_url(
        &Url::parse("https://dnsserver.example.net/dns-query").unwrap(),
        &wire,
    );
    assert_eq!(
        url.as_str(),
        "https://dnsserver.example.net/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB"
    );
    assert_eq!(get_url_message(&url).unwrap(), wire);
    let with_query = get_url(&Url::parse("https://d.example/q?x=1").unwrap(), &wire);
    assert!(
        with_query
            .as_str()
            .starts_with("https://d.example/q?x=1&dns=AAAB")
    );
}

#[test]
fn get_url_message_refuses_bad_parameters() {
    for url in [
        "https://d.example/q",
        "https://d.example/q?dns=AAAB&dns=AAAB",
        "https://d.example/q?dns=AAAB%3D",
        "https://d.example/q?dns=AA+B",
    ] {
        let url = Url::parse(url).unwrap();
        assert!(
            matches!(get_url_message(&url), Err(DnsError::Malformed(_))),
            "{url}"
        );
    }
}

#[test]
fn get_query_round_trip() {
    let client = client(DohMethod::Get, caa_answer);
    let answer = pollster::block_on(client.query("Example.com.", RecordType::CAA)).unwrap();
    assert_eq!(answer.records.len(), 1);
    assert_eq!(caa_raw(&answer.records[0]).unwrap().2, b"ca.example");
    assert!(answer.authentic_data);
    assert_eq!(answer.name, "example.com");
    assert_eq!(answer.resolver, "https://doh.example/dns-query");

    let request = client.last_request();
    assert_eq!(request.method, DohMethod::Get);
    assert!(request.body.is_empty());
    assert_eq!(request.headers, [("accept", DNS_MESSAGE_MEDIA_TYPE)]);
    let (_, encoded) = request.url.query_pairs().find(|(k, _)| k == "dns").unwrap();
    assert!(!encoded.contains('=') && !encoded.contains('+') && !encoded.contains('/'));
    let sent = Message::from_vec(&get_url_message(&request.url).unwrap()).unwrap();
    assert_eq!(sent.metadata.id, 0, "GET must use id 0");
    assert!(sent.edns.as_ref().unwrap().flags().dnssec_ok);
}

#[test]
fn post_query_round_trip() {
    let client = client(DohMethod::Post, caa_answer);
    let answer = pollster::block_on(client.resolve("example.com", RecordType::CAA)).unwrap();
    assert_eq!(answer.records.len(), 1);
    let request = client.last_request();
    assert_eq!(request.method, DohMethod::Post);
    assert_eq!(request.url.as_str(), "https://doh.example/dns-query");
    assert_eq!(
        request.headers,
        [
            ("accept", DNS_MESSAGE_MEDIA_TYPE),
            ("content-type", DNS_MESSAGE_MEDIA_TYPE)
        ]
    );
    let sent = Message::from_vec(&request.body).unwrap();
    assert_eq!(sent.queries[0].query_type(), RecordType::CAA);
    assert_eq!(request.max_response_bytes, crate::dns::MAX_MESSAGE_BYTES);
    assert_eq!(request.timeout_ms, DEFAULT_DOH_TIMEOUT_MS);
}

#[test]
fn http_level_failures() {
    type Check = fn(&DnsError) -> bool;
    let cases: Vec<(&str, Responder, Check)> = vec![
        (
            "HTTP 500",
            |_| {
                Ok(DohHttpResponse {
                    status: 500,
                    content_type: None,
                    body: vec![],
                })
            },
            |e| *e == DnsError::HttpStatus(500),
        ),
        (
            "redirect is not followed",
            |q| {
                Ok(DohHttpResponse {
                    status: 302,
                    ..ok(q.to_vec())?
                })
            },
            |e| *e == DnsError::HttpStatus(302),
        ),
        (
            "wrong content type",
            |q| {
                let body = build_response(q, ResponseCode::NoError, vec![], false)?;
                Ok(DohHttpResponse {
                    content_type: Some("text/html".into()),
                    ..ok(body)?
                })
            },
            |e| matches!(e, DnsError::Malformed(_)),
        ),
        (
            "no content type",
            |q| {
                let body = build_response(q, ResponseCode::NoError, vec![], false)?;
                Ok(DohHttpResponse {
                    content_type: None,
                    ..ok(body)?
                })
            },
            |e| matches!(e, DnsError::Malformed(_)),
        ),
        (
            "oversize body",
            |_| ok(vec![0; crate::dns::MAX_MESSAGE_BYTES + 1]),
            |e| matches!(e, DnsError::LimitExceeded(_)),
        ),
        (
            "empty body",
            |_| ok(vec![]),
            |e| matches!(e, DnsError::Malformed(_)),
        ),
        (
            "transport timeout",
            |_| Err(DnsError::Timeout),
            |e| *e == DnsError::Timeout,
        ),
        (
            "answer to another query",
            |_| {
                let other = DnsQuery::with_id("example.com", RecordType::CAA, 7)?;
                ok(build_response(
                    other.wire(),
                    ResponseCode::NoError,
                    vec![],
                    false,
                )?)
            },
            |e| matches!(e, DnsError::Mismatch(_)),
        ),
    ];
    for method in [DohMethod::Get, DohMethod::Post] {
        for (what, responder, check) in &cases {
            let client = client(method, *responder);
            let err =
                pollster::block_on(client.query("example.com", RecordType::CAA)).expect_err(what);
            assert!(check(&err), "{method:?} {what}: {err:?}");
        }
    }
}

#[test]
fn content_type_parameters_and_case_are_accepted() {
    let client = client(DohMethod::Post, |q| {
        let body = build_response(q, ResponseCode::NXDomain, vec![], false)?;
        Ok(DohHttpResponse {
            content_type: Some("Application/DNS-Message; charset=binary".into()),
            ..ok(body)?
        })
    });
    let answer = pollster::block_on(client.query("example.com", RecordType::CAA)).unwrap();
    assert_eq!(answer.rcode, ResponseCode::NXDomain);
}

#[test]
fn invalid_query_is_not_sent() {
    let client = client(DohMethod::Post, caa_answer);
    let err = pollster::block_on(client.query("not a name", RecordType::CAA)).unwrap_err();
    assert!(matches!(err, DnsError::InvalidQuery(_)));
    assert!(client.transport().seen.lock().unwrap().is_none());
}

#[test]
fn url_policy() {
    let cases: &[(&str, bool, Option<DohConfigError>)] = &[
        ("https://doh.example/dns-query", false, None),
        ("https://doh.example/dns-query?ct=1", false, None),
        ("http://127.0.0.1:8053/dns-query", true, None),
        (
            "http://127.0.0.1:8053/dns-query",
            false,
            Some(DohConfigError::InsecureHttp),
        ),
        (
            "http://doh.example/dns-query",
            true,
            Some(DohConfigError::InsecureHttp),
        ),
        (
            "ftp://doh.example/",
            true,
            Some(DohConfigError::UnsupportedScheme("ftp".into())),
        ),
        (
            "https://user:pw@doh.example/",
            false,
            Some(DohConfigError::Credentials),
        ),
        (
            "https://doh.example/q#frag",
            false,
            Some(DohConfigError::Fragment),
        ),
        (
            "https://doh.example/q?dns=AAAB",
            false,
            Some(DohConfigError::DnsParameter),
        ),
        (
            "data:text/plain,hello",
            true,
            Some(DohConfigError::UnsupportedScheme("data".into())),
        ),
    ];
    for (url, allow_http, want) in cases {
        let mut config = DohConfig::new(Url::parse(url).unwrap());
        config.allow_insecure_http = *allow_http;
        let got = DohClient::new(FakeTransport::new(caa_answer), config).err();
        assert_eq!(&got, want, "{url}");
    }
}

/// A transport that is `Send` but not `Sync`, like one holding a `Cell`.
struct NotSync(Cell<u32>);

impl DohTransport for NotSync {
    fn send(
        &self,
        request: DohHttpRequest,
    ) -> impl Future<Output = Result<DohHttpResponse, DnsError>> + MaybeSend {
        self.0.set(self.0.get() + 1);
        let result = caa_answer(&request.body);
        async move { result }
    }
}

#[test]
fn query_future_is_send_without_sync_transport() {
    fn assert_send<F: Send>(future: F) -> F {
        future
    }
    let config = DohConfig::new(Url::parse("https://doh.example/dns-query").unwrap());
    let client = DohClient::new(NotSync(Cell::new(0)), config).unwrap();
    let answer = pollster::block_on(assert_send(client.query("example.com", RecordType::CAA)));
    assert_eq!(answer.unwrap().records.len(), 1);
    assert_eq!(client.transport().0.get(), 1);
}

impl DohClient<FakeTransport> {
    fn last_request(&self) -> DohHttpRequest {
        self.transport().last()
    }
}
