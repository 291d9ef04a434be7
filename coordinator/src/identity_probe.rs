//! Asks each configured perspective who it is (`GET {url}/v1/identity`) and
//! compares the answer with the configuration: what `mpic perspectives`
//! shows an operator before relying on a deployment.
//!
//! The configuration stays authoritative for RIR and location (quorum never
//! counts what a perspective claims); a perspective that claims another id,
//! key or RIR than configured is reported as a problem, because one of the
//! two is wrong and reports from it would not verify or would be counted
//! under the wrong RIR.

use std::time::Duration;

use futures_util::future::join_all;
use mpic_core::keys;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use url::{Host, Url};

use crate::config::PerspectiveConfig;
use mpic_core::identity_document::SELF_TEST_QUERY;

use crate::http_read::{BoundedBody, error_chain, read_bounded};

/// An identity document is a few hundred bytes.
const MAX_IDENTITY_BYTES: usize = 64 * 1024;
/// How much of an error body is kept.
const ERROR_BODY_BYTES: usize = 256;

use mpic_core::identity_document::IdentityDocument;

/// One thing wrong with a perspective.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeProblem {
    #[error("no answer within {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("unreachable: {detail}")]
    Unreachable { detail: String },
    #[error("HTTP {status}: {body}")]
    HttpStatus { status: u16, body: String },
    #[error("not an identity document: {detail}")]
    BadIdentity { detail: String },
    #[error("claims id {claimed:?}")]
    IdMismatch { claimed: String },
    #[error("signs with {claimed}, not the configured key")]
    KeyMismatch { claimed: String },
    #[error("claims RIR {claimed:?}")]
    RirMismatch { claimed: String },
    /// A perspective in local mode reaches only loopback: deployed, it
    /// corroborates nothing.
    #[error("runs in local (loopback test) mode")]
    LocalModeDeployed,
    /// The perspective's own check deadline is not below the coordinator's
    /// call timeout: a slow check ends as a timeout with no reason, instead
    /// of a signed report saying it ran out of time.
    #[error(
        "lets a check run {check_deadline_ms} ms, not less than call_timeout_ms ({call_timeout_ms} ms): \
         set its CHECK_DEADLINE_MS lower or the timeout higher"
    )]
    DeadlineNotBelowCallTimeout {
        check_deadline_ms: u64,
        call_timeout_ms: u64,
    },
    /// A resolver of the perspective does not validate DNSSEC: its AD bits
    /// prove nothing, and its lookup failures never count as permission.
    #[error("DNSSEC self-test {summary}")]
    DnssecSelfTestFailed { summary: String },
    /// The perspective did not run the self-test (a worker older than it).
    #[error("did not run the DNSSEC self-test (a worker older than it?)")]
    DnssecSelfTestNotRun,
}

/// One perspective: as configured, as it answered, and what disagrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub perspective_id: String,
    pub identity_url: String,
    /// Configured.
    pub rir: mpic_core::rir::Rir,
    /// Configured.
    pub region: String,
    /// What it says about itself (its `/v1/identity`), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<IdentityDocument>,
    /// Empty when healthy.
    pub problems: Vec<ProbeProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl ProbeResult {
    /// Answered, and everything it claims matches the configuration.
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the claimed key is the configured one; `None` without an
    /// answer.
    pub fn key_matches(&self) -> Option<bool> {
        self.claimed.as_ref().map(|_| {
            !self
                .problems
                .iter()
                .any(|p| matches!(p, ProbeProblem::KeyMismatch { .. }))
        })
    }
}

/// Could not build the HTTP client (TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ProbeClientError(#[from] reqwest::Error);

/// `{url}/v1/identity` of a perspective's base URL.
pub fn identity_url(base: &Url) -> Result<Url, url::ParseError> {
    Url::parse(&format!(
        "{}/v1/identity",
        base.as_str().trim_end_matches('/')
    ))
}

/// Probes every perspective at once, each within `timeout` (the call
/// timeout, which each perspective's check deadline must stay under);
/// results in configuration order.
pub async fn probe_all(
    perspectives: &[PerspectiveConfig],
    timeout: Duration,
) -> Result<Vec<ProbeResult>, ProbeClientError> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mpic-coordinator/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let probes = perspectives.iter().map(|p| probe(&client, p, timeout));
    Ok(join_all(probes).await)
}

async fn probe(
    client: &reqwest::Client,
    perspective: &PerspectiveConfig,
    timeout: Duration,
) -> ProbeResult {
    let mut result = ProbeResult {
        perspective_id: perspective.id.clone(),
        identity_url: String::new(),
        rir: perspective.rir,
        region: perspective.region.clone(),
        claimed: None,
        problems: Vec::new(),
        latency_ms: None,
    };
    let url = match identity_url(&perspective.url) {
        Ok(url) => url,
        Err(e) => {
            result.problems.push(ProbeProblem::Unreachable {
                detail: format!("cannot form the identity URL: {e}"),
            });
            return result;
        }
    };
    result.identity_url = url.to_string();
    let mut with_self_test = url;
    let (key, value) = SELF_TEST_QUERY;
    with_self_test.query_pairs_mut().append_pair(key, value);
    let started = Instant::now();
    let fetched = tokio::time::timeout(timeout, fetch(client, with_self_test)).await;
    result.latency_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    match fetched {
        Err(_) => result.problems.push(ProbeProblem::Timeout {
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }),
        Ok(Err(problem)) => result.problems.push(problem),
        Ok(Ok(claimed)) => {
            result.problems = compare(perspective, &claimed, timeout);
            result.claimed = Some(claimed);
        }
    }
    result
}

async fn fetch(client: &reqwest::Client, url: Url) -> Result<IdentityDocument, ProbeProblem> {
    let failed = |e: reqwest::Error| ProbeProblem::Unreachable {
        detail: error_chain(&e),
    };
    let mut response = client.get(url).send().await.map_err(failed)?;
    let status = response.status();
    let limit = if status.is_success() {
        MAX_IDENTITY_BYTES
    } else {
        ERROR_BODY_BYTES
    };
    let BoundedBody {
        bytes: body,
        truncated,
    } = read_bounded(&mut response, limit).await.map_err(failed)?;
    if status != reqwest::StatusCode::OK {
        return Err(ProbeProblem::HttpStatus {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body).trim().to_owned(),
        });
    }
    if truncated {
        return Err(ProbeProblem::BadIdentity {
            detail: format!("larger than {MAX_IDENTITY_BYTES} bytes"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| ProbeProblem::BadIdentity {
        detail: e.to_string(),
    })
}

/// Everything the claimed identity gets wrong against the configuration.
fn compare(
    perspective: &PerspectiveConfig,
    claimed: &IdentityDocument,
    call_timeout: Duration,
) -> Vec<ProbeProblem> {
    let mut problems = Vec::new();
    if claimed.perspective_id != perspective.id {
        problems.push(ProbeProblem::IdMismatch {
            claimed: claimed.perspective_id.clone(),
        });
    }
    let key_matches = keys::parse_verifying_key(&claimed.public_key)
        .is_ok_and(|key| key == perspective.public_key);
    if !key_matches {
        problems.push(ProbeProblem::KeyMismatch {
            claimed: claimed.public_key.clone(),
        });
    }
    if claimed.rir != perspective.rir.as_str() {
        problems.push(ProbeProblem::RirMismatch {
            claimed: claimed.rir.clone(),
        });
    }
    let on_loopback = match perspective.url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if claimed.is_local() && !on_loopback {
        problems.push(ProbeProblem::LocalModeDeployed);
    }
    let call_timeout_ms = u64::try_from(call_timeout.as_millis()).unwrap_or(u64::MAX);
    if let Some(check_deadline_ms) = claimed.check_deadline_ms
        && check_deadline_ms >= call_timeout_ms
    {
        problems.push(ProbeProblem::DeadlineNotBelowCallTimeout {
            check_deadline_ms,
            call_timeout_ms,
        });
    }
    match &claimed.dnssec_self_test {
        None => problems.push(ProbeProblem::DnssecSelfTestNotRun),
        Some(test) if !test.passed() => problems.push(ProbeProblem::DnssecSelfTestFailed {
            summary: test.summary(),
        }),
        Some(_) => {}
    }
    problems
}

#[cfg(test)]
mod tests {
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

    fn identity_with_deadline(
        id: &str,
        rir: &str,
        key_n: u8,
        mode: &str,
        deadline_ms: u64,
    ) -> String {
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
                        serde_json::from_str(&identity("forwarder", "arin", 10, "production"))
                            .unwrap();
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
}
