//! Calls one perspective the way a coordinator does: sign a [`CheckCall`],
//! `POST /v1/check`, verify the signed report. For tests that talk to
//! workers directly, without the coordinator in between.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use mpic_core::nonce::Nonce;
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::report::{self, Expectations, ReportBody, SignedReport};
use mpic_core::request_auth::sign_request;

use crate::keys;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("HTTP: {}", mpic_coordinator::testing::error_chain(.0))]
    Http(#[from] reqwest::Error),
    #[error("perspective answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("report does not parse: {0}")]
    Json(#[from] serde_json::Error),
    #[error("report does not verify: {0}")]
    Verify(#[from] report::ReportError),
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A verified report and what it observed.
#[derive(Debug)]
pub struct Verified {
    pub signed: SignedReport,
    pub body: ReportBody,
    pub observed: CheckObservation,
}

/// Signs `call` as the test coordinator, sends it, verifies the answer
/// against `key` with a fresh nonce.
pub async fn call(
    base_url: &str,
    key: &VerifyingKey,
    call: &CheckCall,
) -> Result<Verified, CallError> {
    let body = serde_json::to_vec(call)?;
    let nonce = fresh_nonce();
    let envelope = sign_request(&keys::coordinator(), &body, &nonce, now_ms())
        .map_err(|e| CallError::Sign(e.to_string()))?;
    let response = reqwest::Client::new()
        .post(format!("{base_url}/v1/check"))
        .json(&envelope)
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    if status != 200 {
        return Err(CallError::Status { status, body: text });
    }
    let signed: SignedReport = serde_json::from_str(&text)?;
    let verified = report::verify(
        &signed,
        &Expectations {
            // The perspective at `base_url`: the call's first (here, only) one.
            perspective_id: call.perspective_ids.first().map_or("", String::as_str),
            key,
            nonce: &nonce,
            request_digest: &report::request_digest(&body),
            now_ms: now_ms(),
            max_age_ms: 120_000,
            max_future_skew_ms: 5_000,
        },
    )?;
    let observed = verified.observation.parse()?;
    Ok(Verified {
        signed,
        body: verified,
        observed,
    })
}

/// A nonce unique within this test process (a counter) and across runs (the
/// clock): tests need uniqueness, not secrecy.
pub fn fresh_nonce() -> Nonce {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = COUNTER
        .fetch_add(1, Ordering::Relaxed)
        .to_be_bytes()
        .to_vec();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    bytes.extend_from_slice(&nanos.to_be_bytes());
    // 16 bytes is within Nonce's accepted length, so this cannot fail.
    Nonce::new(bytes).unwrap_or_else(|_| unreachable!("16-byte nonce"))
}
