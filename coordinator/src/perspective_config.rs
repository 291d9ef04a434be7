//! One remote perspective as the coordinator's configuration describes it.
//!
//! A leaf module: cohort selection, transport and evidence use it without
//! depending on how the configuration file is read and validated.

use ed25519_dalek::VerifyingKey;
use mpic_core::location::Coordinates;
use mpic_core::rir::Rir;
use url::Url;

/// One remote perspective as the coordinator knows it. Its RIR and location
/// come from here, never from what its reports claim.
#[derive(Debug, Clone, PartialEq)]
pub struct PerspectiveConfig {
    /// Its id, unique in the configuration: what it signs its reports as,
    /// and what cohorts, logs and evidence call it.
    pub id: String,
    /// The base URL as configured.
    pub url: Url,
    /// `{url}/v1/check`, where checks are posted.
    pub check_url: Url,
    /// The RIR service region quorum counts it under (BR 3.2.2.9).
    pub rir: Rir,
    /// A free-text label for people (may be empty); never used in a
    /// decision.
    pub region: String,
    /// Where it runs, for the cohort's 500 km distinctness rule.
    pub location: Coordinates,
    /// The Ed25519 key its reports must verify with.
    pub public_key: VerifyingKey,
}
