//! `GET /v1/identity`: what a perspective says about itself, written by the
//! worker and read by the coordinator's identity probe (`mpic perspectives`)
//! from this one type, so the two cannot drift apart.
//!
//! Reading is lenient on purpose: the probe shows what a perspective claims
//! (an unknown RIR, an older worker without some fields) and compares it with
//! the configuration, rather than refusing the document.

use serde::{Deserialize, Serialize};

use crate::dnssec_self_test::{DnssecSelfTest, DnssecTestNames};
use crate::location::Coordinates;
use crate::report::DataCenter;

/// The query (`?dnssec_self_test=run`) that makes `GET /v1/identity` run the
/// DNSSEC self-test on every resolver of the perspective.
pub const SELF_TEST_QUERY: (&str, &str) = ("dnssec_self_test", "run");

/// `mode` of a deployed perspective.
pub const MODE_PRODUCTION: &str = "production";
/// `mode` of a perspective in a loopback test world: deployed, it
/// corroborates nothing.
pub const MODE_LOCAL: &str = "local";

/// The identity document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityDocument {
    /// The perspective's configured id, e.g. `cf-fra`.
    pub perspective_id: String,
    /// As written (`arin`, `ripe`, ...).
    pub rir: String,
    /// Its claimed region (a cloud region or city); empty when not stated.
    #[serde(default)]
    pub region: String,
    /// Its claimed latitude and longitude; `None` when not stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    /// `ed25519:<base64>`: the key its reports verify with.
    pub public_key: String,
    /// The worker's crate version (e.g. `0.1.0`); `None` from an older
    /// worker that does not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<String>,
    /// [`MODE_PRODUCTION`] or [`MODE_LOCAL`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Its DoH resolvers, in the order it asks them.
    #[serde(default)]
    pub resolvers: Vec<String>,
    /// How long it lets one check run (`CHECK_DEADLINE_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_deadline_ms: Option<u64>,
    /// The names its DNSSEC self-test asks about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec_test_names: Option<DnssecTestNames>,
    /// Only when asked with [`SELF_TEST_QUERY`]: every resolver's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec_self_test: Option<DnssecSelfTest>,
    /// The data center that answered this request (Cloudflare's
    /// `request.cf.colo`), where its checks run too: whether the placement
    /// hint of its region was honoured. `None` when the platform does not
    /// say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_center: Option<DataCenter>,
}

impl IdentityDocument {
    /// Whether it says it runs in a loopback test world.
    pub fn is_local(&self) -> bool {
        self.mode.as_deref() == Some(MODE_LOCAL)
    }
}

#[cfg(test)]
mod tests;
