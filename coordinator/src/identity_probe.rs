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
#[non_exhaustive]
pub enum ProbeProblem {
    /// No full answer within the probe's timeout.
    #[error("no answer within {timeout_ms} ms")]
    Timeout {
        /// The timeout, the configured call timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// No HTTP answer: the identity URL cannot be formed, or the connection
    /// or TLS handshake failed.
    #[error("unreachable: {detail}")]
    Unreachable {
        /// The error, with its causes.
        detail: String,
    },
    /// It answered with another HTTP status than 200.
    #[error("HTTP {status}: {body}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The answer's body as read (at most 256 bytes of an error answer),
        /// trimmed.
        body: String,
    },
    /// The 200 answer is not an identity document (not its JSON, or larger
    /// than 64 KiB).
    #[error("not an identity document: {detail}")]
    BadIdentity {
        /// What is wrong with it.
        detail: String,
    },
    /// It claims another perspective id than configured: its reports would
    /// not verify as this perspective's.
    #[error("claims id {claimed:?}")]
    IdMismatch {
        /// The id it claims.
        claimed: String,
    },
    /// Its public key is not the configured one (or not an Ed25519 key):
    /// its reports would not verify.
    #[error("signs with {claimed}, not the configured key")]
    KeyMismatch {
        /// The key it claims, as it wrote it.
        claimed: String,
    },
    /// It claims another RIR than configured: quorum would count it under
    /// the configured one, which one of the two gets wrong.
    #[error("claims RIR {claimed:?}")]
    RirMismatch {
        /// The RIR it claims.
        claimed: String,
    },
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
        /// The perspective's check deadline (its `CHECK_DEADLINE_MS`).
        check_deadline_ms: u64,
        /// The coordinator's configured call timeout, in milliseconds.
        call_timeout_ms: u64,
    },
    /// A resolver of the perspective does not validate DNSSEC: its AD bits
    /// prove nothing, and its lookup failures never count as permission.
    #[error("DNSSEC self-test {summary}")]
    DnssecSelfTestFailed {
        /// The self-test's one-line summary, naming the resolvers that failed.
        summary: String,
    },
    /// The perspective did not run the self-test (a worker older than it).
    #[error("did not run the DNSSEC self-test (a worker older than it?)")]
    DnssecSelfTestNotRun,
}

/// One perspective: as configured, as it answered, and what disagrees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The configured id.
    pub perspective_id: String,
    /// `{url}/v1/identity`, as asked (without the self-test query); empty
    /// when it cannot be formed.
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
    /// How long the probe took, in milliseconds, answered or not; `None`
    /// when no request was sent.
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
mod tests;
