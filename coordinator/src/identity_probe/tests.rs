#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;
use crate::test_fixtures::{key, perspective};

/// Answers `GET /<id>/v1/identity` from `routes` (path -> raw response);
/// anything else is a 404. Stops when the test drops the handle.
struct IdentityServer {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IdentityServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(routes: Vec<(String, String)>) -> IdentityServer {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let routes = Arc::new(routes);
    let task = tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                let response = routes
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, r)| r.clone())
                    .unwrap_or_else(|| http(404, "no such perspective"));
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    IdentityServer { port, task }
}

fn http(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn identity(id: &str, rir: &str, key_n: u8, mode: &str) -> String {
    identity_with_deadline(id, rir, key_n, mode, 8_000)
}

fn identity_with_deadline(id: &str, rir: &str, key_n: u8, mode: &str, deadline_ms: u64) -> String {
    serde_json::json!({
        "check_deadline_ms": deadline_ms,
        "perspective_id": id,
        "rir": rir,
        "region": "somewhere",
        "public_key": keys::format_verifying_key(&key(key_n).verifying_key()),
        "code_version": "0.1.0",
        "resolvers": ["https://dns.example/dns-query"],
        "mode": mode,
        "dnssec_self_test": self_test_json(true),
    })
    .to_string()
}

/// A one-resolver self-test as the worker reports it.
fn self_test_json(passed: bool) -> serde_json::Value {
    let failure = if passed {
        serde_json::Value::Null
    } else {
        serde_json::json!({"kind": "bogus_accepted", "name": "dnssec-failed.org", "rcode": "NOERROR"})
    };
    serde_json::json!({
        "names": {"bogus": "dnssec-failed.org", "signed": "isc.org"},
        "resolvers": [{
            "resolver": "https://dns.example/dns-query",
            "bogus": {"kind": "answer", "rcode": if passed { "SERVFAIL" } else { "NOERROR" }, "authentic_data": false},
            "signed": {"kind": "answer", "rcode": "NOERROR", "authentic_data": true},
            "failure": failure,
        }],
    })
}

#[tokio::test]
async fn each_disagreement_with_the_configuration_is_a_problem() {
    // (configured id, configured key, what the server answers, problems)
    let cases: Vec<(&str, u8, String, Vec<&str>)> = vec![
        (
            "good",
            1,
            http(200, &identity("good", "arin", 1, "production")),
            vec![],
        ),
        (
            "renamed",
            2,
            http(200, &identity("other", "arin", 2, "production")),
            vec!["id_mismatch"],
        ),
        (
            "rekeyed",
            3,
            http(200, &identity("rekeyed", "arin", 9, "production")),
            vec!["key_mismatch"],
        ),
        (
            "moved",
            4,
            http(200, &identity("moved", "ripe", 4, "production")),
            vec!["rir_mismatch"],
        ),
        (
            "broken",
            5,
            http(500, r#"{"error":"misconfigured"}"#),
            vec!["http_status"],
        ),
        ("garbled", 6, http(200, "not json"), vec!["bad_identity"]),
        (
            "patient",
            8,
            http(
                200,
                &identity_with_deadline("patient", "arin", 8, "production", 10_000),
            ),
            vec!["deadline_not_below_call_timeout"],
        ),
        ("absent", 7, String::new(), vec!["http_status"]),
        (
            "forwarder",
            10,
            http(200, &{
                let mut doc: serde_json::Value =
                    serde_json::from_str(&identity("forwarder", "arin", 10, "production")).unwrap();
                doc["dnssec_self_test"] = self_test_json(false);
                doc.to_string()
            }),
            vec!["dnssec_self_test_failed"],
        ),
        (
            "older",
            11,
            http(200, &{
                let mut doc: serde_json::Value =
                    serde_json::from_str(&identity("older", "arin", 11, "production")).unwrap();
                doc.as_object_mut().unwrap().remove("dnssec_self_test");
                doc.to_string()
            }),
            vec!["dnssec_self_test_not_run"],
        ),
    ];
    let routes = cases
        .iter()
        .filter(|(_, _, response, _)| !response.is_empty())
        .map(|(id, _, response, _)| {
            (
                format!(
                    "/{id}/v1/identity?{}={}",
                    SELF_TEST_QUERY.0, SELF_TEST_QUERY.1
                ),
                response.clone(),
            )
        })
        .collect();
    let server = serve(routes).await;
    let perspectives: Vec<PerspectiveConfig> = cases
        .iter()
        .map(|(id, key_n, _, _)| {
            let mut p = perspective(id, mpic_core::rir::Rir::Arin, 0.0, 0.0, *key_n);
            p.url = Url::parse(&format!("http://127.0.0.1:{}/{id}", server.port)).unwrap();
            p
        })
        .collect();
    let results = probe_all(&perspectives, Duration::from_secs(10))
        .await
        .unwrap();
    for ((id, _, _, want), result) in cases.iter().zip(&results) {
        assert_eq!(result.perspective_id, *id);
        let kinds: Vec<String> = result
            .problems
            .iter()
            .map(|p| {
                serde_json::to_value(p).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds, *want, "{id}: {:?}", result.problems);
        assert_eq!(result.healthy(), want.is_empty(), "{id}");
    }
    assert_eq!(results[0].key_matches(), Some(true));
    assert_eq!(results[2].key_matches(), Some(false));
    assert_eq!(results[4].key_matches(), None);
}

#[tokio::test]
async fn an_unreachable_perspective_is_reported_not_awaited_forever() {
    // Bind and drop: nothing listens on the port any more.
    let port = {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut p = perspective("gone", mpic_core::rir::Rir::Arin, 0.0, 0.0, 1);
    p.url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let results = probe_all(&[p], Duration::from_secs(10)).await.unwrap();
    assert!(
        matches!(results[0].problems[..], [ProbeProblem::Unreachable { .. }]),
        "{:?}",
        results[0].problems
    );
}

#[test]
fn local_mode_is_a_problem_only_away_from_loopback() {
    let claimed = |mode: &str| IdentityDocument {
        perspective_id: "p".into(),
        rir: "arin".into(),
        region: String::new(),
        public_key: keys::format_verifying_key(&key(1).verifying_key()),
        code_version: None,
        mode: Some(mode.into()),
        resolvers: vec![],
        check_deadline_ms: None,
        dnssec_test_names: None,
        dnssec_self_test: serde_json::from_value(self_test_json(true)).ok(),
        coordinates: None,
        data_center: None,
    };
    let mut p = perspective("p", mpic_core::rir::Rir::Arin, 0.0, 0.0, 1);
    p.url = Url::parse("https://p.workers.example").unwrap();
    assert_eq!(
        compare(&p, &claimed("local"), Duration::from_secs(10)),
        [ProbeProblem::LocalModeDeployed]
    );
    assert_eq!(
        compare(&p, &claimed("production"), Duration::from_secs(10)),
        []
    );
    p.url = Url::parse("http://127.0.0.1:8787").unwrap();
    assert_eq!(compare(&p, &claimed("local"), Duration::from_secs(10)), []);
}

#[test]
fn identity_url_is_below_the_base_url() {
    for (base, want) in [
        ("https://p.example", "https://p.example/v1/identity"),
        ("https://p.example/", "https://p.example/v1/identity"),
        (
            "http://127.0.0.1:1/base/",
            "http://127.0.0.1:1/base/v1/identity",
        ),
    ] {
        assert_eq!(
            identity_url(&Url::parse(base).unwrap()).unwrap().as_str(),
            want
        );
    }
}
