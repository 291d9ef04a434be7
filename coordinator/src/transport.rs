//! How a signed request reaches a perspective and its signed report comes
//! back: the [`PerspectiveTransport`] trait and its HTTPS implementation.
//!
//! A transport only moves bytes; it never judges a report. Whatever it
//! returns, the fan-out verifies it against what the coordinator expects.

use std::future::Future;
use std::time::Duration;

use mpic_core::quorum::NonCorroboration;
use mpic_core::report::SignedReport;
use mpic_core::request_auth::RequestEnvelope;
use tokio::time::Instant;

use crate::config::PerspectiveConfig;
use crate::http_read::{BoundedBody, error_chain, read_bounded};

/// Sends one signed request to one perspective.
pub trait PerspectiveTransport: Send + Sync {
    /// Posts `envelope` to `perspective` and returns the report it answered
    /// with. Must give up by `deadline` (the fan-out also enforces it).
    fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        deadline: Instant,
    ) -> impl Future<Output = Result<SignedReport, CallError>> + Send;
}

/// Why no report came back. Each is a non-corroboration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No answer before the call's deadline (the call timeout, or the
    /// check's deadline if sooner).
    #[error("no answer before the deadline")]
    Timeout,
    /// No connection to the perspective (DNS, TCP or TLS); the error with
    /// its causes.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The perspective answered with another status than 200: it refused
    /// the request (401 bad signature or replay, 421 misrouted, ...) or
    /// failed.
    #[error("perspective answered HTTP {status}: {body}")]
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// The start of the answer's body (at most 512 bytes).
        body: String,
    },
    /// The 200 answer is not a signed report (not its JSON, or larger than
    /// [`HttpTransport::MAX_RESPONSE_BYTES`]); says what is wrong.
    #[error("perspective's answer is not a signed report: {0}")]
    BadResponse(String),
    /// The exchange failed after connecting (the connection dropped, the
    /// body could not be read), or an in-process perspective refused the
    /// call.
    #[error("transport failed: {0}")]
    Transport(String),
    /// The coordinator could not build the request (no randomness, a body too
    /// large to sign): nothing was sent.
    #[error("coordinator could not prepare the request: {0}")]
    Prepare(String),
}

impl From<&CallError> for NonCorroboration {
    fn from(e: &CallError) -> Self {
        match e {
            CallError::Timeout => NonCorroboration::Timeout,
            CallError::BadResponse(detail) => NonCorroboration::InvalidReport {
                detail: detail.clone(),
            },
            CallError::Connect(_)
            | CallError::HttpStatus { .. }
            | CallError::Transport(_)
            | CallError::Prepare(_) => NonCorroboration::Unreachable {
                detail: e.to_string(),
            },
        }
    }
}

/// HTTPS to Cloudflare Workers (or plain HTTP to loopback test servers, which
/// configuration validation alone allows), on one shared connection pool.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

/// Could not build the HTTP client (TLS setup).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct HttpClientError(#[from] reqwest::Error);

impl HttpTransport {
    /// A report is a few kilobytes; this bounds what a broken or hostile
    /// endpoint can make the coordinator read.
    pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
    /// How much of an error body is kept for the log.
    const ERROR_BODY_BYTES: usize = 512;

    /// HTTP/1.1, or HTTP/2 where the perspective's TLS offers it by ALPN.
    pub fn new() -> Result<Self, HttpClientError> {
        Self::build(false)
    }

    /// HTTP/2 without TLS ("prior knowledge"): for measuring HTTP/2 against
    /// plaintext loopback perspectives (the load benchmark). Perspectives in
    /// production use [`HttpTransport::new`] and TLS.
    pub fn http2_prior_knowledge() -> Result<Self, HttpClientError> {
        Self::build(true)
    }

    fn build(http2_prior_knowledge: bool) -> Result<Self, HttpClientError> {
        let mut builder = reqwest::Client::builder();
        if http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder
            .use_rustls_tls()
            // A redirect would send the signed request somewhere the
            // configuration did not name.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("mpic-coordinator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    async fn exchange(
        &self,
        check_url: url::Url,
        envelope: &RequestEnvelope,
        deadline: Instant,
    ) -> Result<SignedReport, CallError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(CallError::Timeout);
        }
        let mut response = self
            .client
            .post(check_url)
            .json(envelope)
            .timeout(remaining)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status();
        let limit = if status == reqwest::StatusCode::OK {
            Self::MAX_RESPONSE_BYTES
        } else {
            Self::ERROR_BODY_BYTES
        };
        let BoundedBody {
            bytes: body,
            truncated,
        } = read_bounded(&mut response, limit).await.map_err(classify)?;
        if status != reqwest::StatusCode::OK {
            return Err(CallError::HttpStatus {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        if truncated {
            return Err(CallError::BadResponse(format!(
                "response is larger than {} bytes",
                Self::MAX_RESPONSE_BYTES
            )));
        }
        SignedReport::from_json(&body).map_err(|e| CallError::BadResponse(e.to_string()))
    }
}

fn classify(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else if e.is_connect() {
        CallError::Connect(error_chain(&e))
    } else {
        CallError::Transport(error_chain(&e))
    }
}

/// Each exchange runs in its own task, which the call awaits. A call the
/// fan-out drops (quorum was already certain) only stops waiting: the
/// exchange runs on until its answer is read or its deadline passes, its
/// answer is discarded (it never counts), and its connection goes back to
/// the pool instead of being torn down mid-request. Tearing those down and
/// opening new ones was the coordinator's largest avoidable cost
/// (BENCHMARKS.md).
impl PerspectiveTransport for HttpTransport {
    async fn call(
        &self,
        perspective: &PerspectiveConfig,
        envelope: RequestEnvelope,
        deadline: Instant,
    ) -> Result<SignedReport, CallError> {
        let transport = self.clone();
        let check_url = perspective.check_url.clone();
        let exchange = tokio::spawn(async move {
            match tokio::time::timeout_at(
                deadline,
                transport.exchange(check_url, &envelope, deadline),
            )
            .await
            {
                Ok(result) => result,
                Err(_) => Err(CallError::Timeout),
            }
        });
        match exchange.await {
            Ok(result) => result,
            Err(e) => Err(CallError::Transport(format!(
                "the exchange task failed: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
