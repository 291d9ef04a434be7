//! Perspectives, keys and configurations shared by the unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use mpic_core::keys;
use mpic_core::location::Coordinates;
use mpic_core::quorum::Policy;
use mpic_core::rir::Rir;
use url::Url;
use zeroize::Zeroizing;

use crate::config::{ApiConfig, Config, Defaults, PerspectiveConfig};

/// Real places, so distances are the real ones. (id, rir, latitude, longitude)
pub const PLACES: &[(&str, Rir, f64, f64)] = &[
    ("iad", Rir::Arin, 39.04, -77.49),
    ("dfw", Rir::Arin, 32.78, -96.80),
    ("lax", Rir::Arin, 34.05, -118.24),
    ("fra", Rir::RipeNcc, 50.11, 8.68),
    ("ams", Rir::RipeNcc, 52.37, 4.90),
    ("lhr", Rir::RipeNcc, 51.51, -0.13),
    ("arn", Rir::RipeNcc, 59.33, 18.07),
    ("mad", Rir::RipeNcc, 40.42, -3.70),
    ("sin", Rir::Apnic, 1.35, 103.82),
    ("nrt", Rir::Apnic, 35.68, 139.69),
    ("syd", Rir::Apnic, -33.87, 151.21),
    ("bom", Rir::Apnic, 19.08, 72.88),
    ("gru", Rir::Lacnic, -23.55, -46.63),
    ("jnb", Rir::Afrinic, -26.20, 28.05),
    ("yyz", Rir::Arin, 43.65, -79.38),
    ("sea", Rir::Arin, 47.61, -122.33),
];

/// A deterministic key; `n` distinguishes keys.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// The coordinator's key in tests.
pub fn coordinator_key() -> SigningKey {
    key(200)
}

/// The perspective at `PLACES[index]`, with key `index + 1`.
pub fn place(index: usize) -> PerspectiveConfig {
    let (id, rir, latitude, longitude) = PLACES[index];
    perspective(
        id,
        rir,
        latitude,
        longitude,
        u8::try_from(index + 1).unwrap(),
    )
}

/// Every perspective in `PLACES` whose id is in `ids`, in that order.
pub fn places(ids: &[&str]) -> Vec<PerspectiveConfig> {
    ids.iter()
        .map(|id| place(PLACES.iter().position(|p| p.0 == *id).unwrap()))
        .collect()
}

pub fn perspective(
    id: &str,
    rir: Rir,
    latitude: f64,
    longitude: f64,
    key_n: u8,
) -> PerspectiveConfig {
    let url = Url::parse(&format!("https://{id}.perspectives.example/")).unwrap();
    PerspectiveConfig {
        id: id.into(),
        check_url: url.join("v1/check").unwrap(),
        url,
        rir,
        region: id.to_uppercase(),
        location: Coordinates::new(latitude, longitude).unwrap(),
        public_key: key(key_n).verifying_key(),
    }
}

pub fn public_key_text(n: u8) -> String {
    keys::format_verifying_key(&key(n).verifying_key())
}

/// A configuration built directly (not from TOML).
pub fn config(perspectives: Vec<PerspectiveConfig>, count: usize, policy: Policy) -> Config {
    Config {
        signing_key: coordinator_key(),
        cohort_secret: Zeroizing::new(b"a cohort secret of at least 32 bytes".to_vec()),
        primary_location: None,
        defaults: Defaults {
            perspective_count: count,
            min_perspective_count: count,
            policy,
            call_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_attempts: 3,
            max_attempts_cap: 3,
            caa_issuer_domains: vec![mpic_core::name::DomainName::parse("ca.example").unwrap()],
            max_report_age: Duration::from_secs(60),
            max_future_skew: Duration::from_secs(5),
        },
        perspectives,
        primary: None,
        evidence: crate::config::EvidenceConfig::disabled(),
        digest: crate::evidence::config_digest(b""),
        warnings: Vec::new(),
    }
}

/// The `[api]` settings of `mpic serve` when the file sets none, with no
/// clients.
pub fn api_settings() -> ApiConfig {
    ApiConfig {
        listen: "127.0.0.1:8080".parse().unwrap(),
        clients: Vec::new(),
        max_body_bytes: crate::config::DEFAULT_MAX_BODY_BYTES,
        max_concurrent_checks: crate::config::DEFAULT_MAX_CONCURRENT_CHECKS,
        request_timeout: Duration::from_secs(35),
        metrics_public: false,
        reject_unknown_fields: false,
    }
}

/// The test key whose public half is `public` (every test key is `key(n)`).
pub fn signing_key_for(public: &ed25519_dalek::VerifyingKey) -> SigningKey {
    (0..=255u8)
        .map(key)
        .find(|k| k.verifying_key() == *public)
        .expect("a test key")
}

/// A call as an in-process test perspective receives it.
pub struct ReceivedCall {
    pub verified: mpic_core::request_auth::VerifiedRequest,
    pub call: mpic_core::perspective::CheckCall,
    /// When it arrived (Unix ms).
    pub now_ms: u64,
}

/// Does what a real perspective does first: verifies the coordinator's
/// envelope (a refusal is the 401 a perspective would answer) and parses
/// the call, which must be meant for `perspective`.
pub fn receive(
    perspective: &PerspectiveConfig,
    envelope: &mpic_core::request_auth::RequestEnvelope,
) -> Result<ReceivedCall, crate::transport::CallError> {
    let now_ms = crate::clock::now_ms();
    let verified = mpic_core::request_auth::verify_request(
        envelope,
        &[coordinator_key().verifying_key()],
        now_ms,
        30_000,
    )
    .map_err(|e| crate::transport::CallError::HttpStatus {
        status: 401,
        body: e.to_string(),
    })?;
    let call: mpic_core::perspective::CheckCall = serde_json::from_slice(&verified.body).unwrap();
    assert!(
        call.is_for(&perspective.id),
        "request not for {}",
        perspective.id
    );
    Ok(ReceivedCall {
        verified,
        call,
        now_ms,
    })
}

/// The report body `perspective` signs for `received`, bound to its request
/// and nonce, stating the configured identity, finished now.
pub fn report_body(
    perspective: &PerspectiveConfig,
    received: &ReceivedCall,
    verdict: mpic_core::report::Verdict,
    reason: String,
    observation: mpic_core::report::Observation,
) -> mpic_core::report::ReportBody {
    mpic_core::report::ReportBody {
        request_digest: received.verified.request_digest(),
        nonce: received.verified.nonce.clone(),
        perspective_id: perspective.id.clone(),
        rir: perspective.rir,
        location: mpic_core::location::Location {
            region: perspective.region.clone(),
            coordinates: Some(perspective.location),
        },
        resolvers: vec!["https://doh.example/dns-query".into()],
        started_at_ms: received.now_ms.saturating_sub(100),
        finished_at_ms: received.now_ms,
        verdict,
        reason,
        observation,
        data_center: None,
    }
}
