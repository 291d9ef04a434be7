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
    pub id: String,
    /// The base URL as configured.
    pub url: Url,
    /// `{url}/v1/check`, where checks are posted.
    pub check_url: Url,
    pub rir: Rir,
    pub region: String,
    pub location: Coordinates,
    pub public_key: VerifyingKey,
}
