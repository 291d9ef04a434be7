#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use mpic_core::location::Location;
use mpic_core::nonce::Nonce;
use mpic_core::report::{self, Observation, ReportBody, Verdict};
use mpic_core::request_auth::sign_request;
use mpic_core::rir::Rir;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;
use crate::test_fixtures::{coordinator_key, key, perspective};

/// What the loopback server does with each connection.
#[derive(Clone)]
enum Reply {
    Bytes(Vec<u8>),
    Silence,
}

fn http(status: &str, body: &[u8]) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    Reply::Bytes(out)
}

/// A one-shot HTTP server on 127.0.0.1; returns its base URL and the raw
/// request it received.
async fn serve(reply: Reply) -> (String, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head, then the body by content-length.
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = find(&request, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                while request.len() < end + 4 + length {
                    let n = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                break;
            }
            if n == 0 {
                break;
            }
        }
        *sink.lock().unwrap() = request;
        match reply {
            Reply::Bytes(bytes) => {
                let _ = socket.write_all(&bytes).await;
                let _ = socket.shutdown().await;
            }
            Reply::Silence => {
                std::future::pending::<()>().await;
            }
        }
    });
    (format!("http://{addr}"), received)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn target(base: &str) -> PerspectiveConfig {
    let mut p = perspective("iad", Rir::Arin, 39.04, -77.49, 1);
    p.url = url::Url::parse(base).unwrap();
    p.check_url = url::Url::parse(&format!("{base}/v1/check")).unwrap();
    p
}

fn envelope() -> RequestEnvelope {
    let nonce = Nonce::new(vec![3; 32]).unwrap();
    sign_request(
        &coordinator_key(),
        br#"{"perspective_ids":["iad"]}"#,
        &nonce,
        1,
    )
    .unwrap()
}

fn a_report() -> SignedReport {
    let body = ReportBody {
        request_digest: report::request_digest(b"{}"),
        nonce: Nonce::new(vec![3; 32]).unwrap(),
        perspective_id: "iad".into(),
        rir: Rir::Arin,
        location: Location {
            region: "IAD".into(),
            coordinates: None,
        },
        resolvers: vec![],
        started_at_ms: 1,
        finished_at_ms: 2,
        verdict: Verdict::Pass,
        reason: "ok".into(),
        observation: Observation::from_json("{}".into()).unwrap(),
        data_center: None,
    };
    report::sign(&key(1), &body).unwrap()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test]
async fn posts_the_envelope_as_json_and_reads_the_report() {
    let signed = a_report();
    let (base, received) = serve(http("200 OK", &serde_json::to_vec(&signed).unwrap())).await;
    let transport = HttpTransport::new().unwrap();
    let got = transport.call(&target(&base), envelope(), soon()).await;
    assert_eq!(got, Ok(signed));

    let request = received.lock().unwrap().clone();
    let end = find(&request, b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    assert!(head.starts_with("post /v1/check http/1.1"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let sent: RequestEnvelope = serde_json::from_slice(&request[end + 4..]).unwrap();
    assert_eq!(sent, envelope());
}

#[tokio::test]
async fn every_other_answer_is_a_typed_error() {
    let big = vec![b' '; HttpTransport::MAX_RESPONSE_BYTES + 10];
    type Check = Box<dyn Fn(&CallError) -> bool>;
    let cases: Vec<(&str, Reply, Check)> = vec![
        (
            "500",
            http("500 Internal Server Error", b"worker crashed"),
            Box::new(|e| {
                *e == CallError::HttpStatus {
                    status: 500,
                    body: "worker crashed".into(),
                }
            }),
        ),
        (
            "redirect is not followed",
            Reply::Bytes(
                b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\r\n"
                    .to_vec(),
            ),
            Box::new(|e| matches!(e, CallError::HttpStatus { status: 302, .. })),
        ),
        (
            "not a report",
            http("200 OK", b"<html>hello</html>"),
            Box::new(|e| matches!(e, CallError::BadResponse(_))),
        ),
        (
            "too large",
            http("200 OK", &big),
            Box::new(|e| matches!(e, CallError::BadResponse(d) if d.contains("larger than"))),
        ),
    ];
    let transport = HttpTransport::new().unwrap();
    for (name, reply, check) in cases {
        let (base, _) = serve(reply).await;
        let got = transport.call(&target(&base), envelope(), soon()).await;
        match got {
            Err(e) => assert!(check(&e), "{name}: {e:?}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error_and_silence_a_timeout() {
    let transport = HttpTransport::new().unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let got = transport
        .call(&target(&format!("http://{addr}")), envelope(), soon())
        .await;
    assert!(matches!(got, Err(CallError::Connect(_))), "{got:?}");

    let (base, _) = serve(Reply::Silence).await;
    let deadline = Instant::now() + Duration::from_millis(300);
    let got = transport.call(&target(&base), envelope(), deadline).await;
    assert_eq!(got, Err(CallError::Timeout));
    assert!(Instant::now() < deadline + Duration::from_secs(2));

    let past = Instant::now();
    let got = transport.call(&target(&base), envelope(), past).await;
    assert_eq!(got, Err(CallError::Timeout));
}

#[test]
fn call_errors_map_to_non_corroborations() {
    let cases = [
        (CallError::Timeout, NonCorroboration::Timeout),
        (
            CallError::BadResponse("x".into()),
            NonCorroboration::InvalidReport { detail: "x".into() },
        ),
        (
            CallError::Connect("refused".into()),
            NonCorroboration::Unreachable {
                detail: "could not connect: refused".into(),
            },
        ),
        (
            CallError::HttpStatus {
                status: 503,
                body: "busy".into(),
            },
            NonCorroboration::Unreachable {
                detail: "perspective answered HTTP 503: busy".into(),
            },
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(NonCorroboration::from(&error), expected, "{error:?}");
    }
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 that answers every request
/// `delay` after reading it, on the connection it came on, until the test
/// ends. Counts the connections it accepted and the answers it wrote.
async fn keep_alive_server(delay: Duration) -> (String, Arc<Mutex<(usize, usize)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Mutex::new((0, 0)));
    let seen = counts.clone();
    tokio::spawn(async move {
        // Bounded: the test makes two calls.
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            seen.lock().unwrap().0 += 1;
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                for _ in 0..8 {
                    let Some(end) = find(&request, b"\r\n\r\n") else {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while request.len() < end + 4 + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    request.drain(..end + 4 + length);
                    tokio::time::sleep(delay).await;
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                    seen.lock().unwrap().1 += 1;
                }
            });
        }
    });
    (format!("http://{addr}"), counts)
}

/// Issue 16: a call the fan-out drops (quorum already certain) lets its
/// exchange finish, so the connection is reused by the next call instead of
/// being torn down mid-request.
#[tokio::test]
async fn a_dropped_call_finishes_its_exchange_and_the_connection_is_reused() {
    let (base, counts) = keep_alive_server(Duration::from_millis(200)).await;
    let transport = HttpTransport::new().unwrap();
    let perspective = target(&base);
    let deadline = Instant::now() + Duration::from_secs(5);

    // Dropped while the server is still answering.
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        transport.call(&perspective, envelope(), deadline),
    )
    .await;
    assert!(dropped.is_err(), "the call answered before it was dropped");
    // Its answer still arrives (and is discarded) ...
    for _ in 0..50 {
        if counts.lock().unwrap().1 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counts.lock().unwrap().1, 1, "the dropped exchange was cut");
    // ... and the next call goes over the same connection.
    let next = transport.call(&perspective, envelope(), deadline).await;
    assert!(matches!(next, Err(CallError::BadResponse(_))), "{next:?}");
    assert_eq!(*counts.lock().unwrap(), (1, 2), "(connections, answers)");
}
