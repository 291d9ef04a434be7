//! Perspectives, keys and configurations shared by the unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use mpic_core::keys;
use mpic_core::quorum::Policy;
use mpic_core::report::Coordinates;
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
        api: ApiConfig {
            listen: "127.0.0.1:8080".parse().unwrap(),
            clients: Vec::new(),
            max_body_bytes: crate::config::DEFAULT_MAX_BODY_BYTES,
            max_concurrent_checks: crate::config::DEFAULT_MAX_CONCURRENT_CHECKS,
            request_timeout: Duration::from_secs(35),
            metrics_public: false,
        },
        warnings: Vec::new(),
    }
}
