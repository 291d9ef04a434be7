//! The file as written: the TOML sections, read with serde. Every value that
//! can be wrong in more than one way is read as text and checked by
//! [`super::validate`], so one bad value does not hide the others.

use std::path::PathBuf;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Problems;
use super::api_settings::{DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_CHECKS};
use super::{
    DEFAULT_CALL_TIMEOUT_MS, DEFAULT_DEADLINE_MS, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_FUTURE_SKEW_MS,
    DEFAULT_MAX_REPORT_AGE_MS, DEFAULT_PERSPECTIVE_COUNT,
};

#[derive(Default)]
pub(super) struct ConfigFile {
    pub(super) coordinator: CoordinatorSection,
    pub(super) defaults: DefaultsSection,
    pub(super) perspectives: Vec<Option<PerspectiveSection>>,
    pub(super) primary: Option<PrimarySection>,
    pub(super) api: ApiSection,
    pub(super) evidence: EvidenceSection,
}

#[derive(Default, Deserialize)]
pub(super) struct EvidenceSection {
    pub(super) enabled: Option<bool>,
    pub(super) path: Option<PathBuf>,
    pub(super) url: Option<String>,
    pub(super) url_env: Option<String>,
    pub(super) writer: Option<String>,
    pub(super) keep_days: Option<u32>,
    #[serde(default)]
    pub(super) trusted_keys: Vec<String>,
}

#[derive(Deserialize)]
pub(super) struct PrimarySection {
    #[serde(default = "enabled_by_default")]
    pub(super) enabled: bool,
    pub(super) doh_url: Option<String>,
    pub(super) dnssec_test_bogus_name: Option<String>,
    pub(super) dnssec_test_signed_name: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Default, Deserialize)]
pub(super) struct CoordinatorSection {
    pub(super) signing_key: Option<String>,
    pub(super) signing_key_file: Option<PathBuf>,
    pub(super) signing_key_env: Option<String>,
    pub(super) cohort_secret: Option<String>,
    pub(super) cohort_secret_file: Option<PathBuf>,
    pub(super) cohort_secret_env: Option<String>,
    pub(super) primary_location: Option<LocationSection>,
}

#[derive(Deserialize)]
pub(super) struct LocationSection {
    pub(super) latitude: f64,
    pub(super) longitude: f64,
}

#[derive(Deserialize)]
#[serde(default)]
pub(super) struct DefaultsSection {
    pub(super) perspective_count: usize,
    pub(super) min_perspective_count: Option<usize>,
    pub(super) quorum: String,
    pub(super) quorum_count: Option<usize>,
    pub(super) call_timeout_ms: u64,
    pub(super) deadline_ms: u64,
    pub(super) max_attempts: u32,
    pub(super) max_attempts_cap: Option<u32>,
    pub(super) caa_issuer_domains: Vec<String>,
    pub(super) max_report_age_ms: u64,
    pub(super) max_future_skew_ms: u64,
}

impl Default for DefaultsSection {
    fn default() -> Self {
        Self {
            perspective_count: DEFAULT_PERSPECTIVE_COUNT,
            min_perspective_count: None,
            quorum: "br".into(),
            quorum_count: None,
            call_timeout_ms: DEFAULT_CALL_TIMEOUT_MS,
            deadline_ms: DEFAULT_DEADLINE_MS,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_attempts_cap: None,
            caa_issuer_domains: Vec::new(),
            max_report_age_ms: DEFAULT_MAX_REPORT_AGE_MS,
            max_future_skew_ms: DEFAULT_MAX_FUTURE_SKEW_MS,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct PerspectiveSection {
    pub(super) id: String,
    pub(super) url: String,
    pub(super) rir: String,
    #[serde(default)]
    pub(super) region: String,
    pub(super) latitude: f64,
    pub(super) longitude: f64,
    pub(super) public_key: String,
}

#[derive(Deserialize)]
#[serde(default)]
pub(super) struct ApiSection {
    pub(super) listen: String,
    #[serde(rename = "client")]
    pub(super) clients: Vec<ApiClientSection>,
    pub(super) max_body_bytes: usize,
    pub(super) max_concurrent_checks: usize,
    pub(super) request_timeout_ms: Option<u64>,
    pub(super) metrics_public: bool,
    pub(super) reject_unknown_fields: bool,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.into(),
            clients: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_concurrent_checks: DEFAULT_MAX_CONCURRENT_CHECKS,
            request_timeout_ms: None,
            metrics_public: false,
            reject_unknown_fields: false,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ApiClientSection {
    pub(super) name: String,
    pub(super) key_sha256: String,
    pub(super) caa_domains: Option<Vec<String>>,
    pub(super) issuer_domain_names: Option<Vec<String>>,
}

/// Deserialises `value` as `T`, recording unknown keys and type errors.
fn read_section<T: DeserializeOwned>(
    value: toml::Value,
    at: &str,
    problems: &mut Problems,
) -> Option<T> {
    let mut unknown = Vec::new();
    let result = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()));
    for key in unknown {
        problems.error(
            format!("{at}.{key}"),
            "unknown key (misspelt? a setting that is ignored could hide a mistake)",
        );
    }
    match result {
        Ok(section) => Some(section),
        Err(e) => {
            problems.error(at, e.to_string());
            None
        }
    }
}

impl ConfigFile {
    pub(super) fn read(table: toml::Table, problems: &mut Problems) -> ConfigFile {
        let mut file = ConfigFile::default();
        for (key, value) in table {
            match key.as_str() {
                "coordinator" => {
                    if let Some(s) = read_section(value, "coordinator", problems) {
                        file.coordinator = s;
                    }
                }
                "defaults" => {
                    if let Some(s) = read_section(value, "defaults", problems) {
                        file.defaults = s;
                    }
                }
                "api" => {
                    if let Some(s) = read_section(value, "api", problems) {
                        file.api = s;
                    }
                }
                "primary" => {
                    file.primary = read_section(value, "primary", problems);
                }
                "evidence" => {
                    if let Some(s) = read_section(value, "evidence", problems) {
                        file.evidence = s;
                    }
                }
                "perspective" => match value {
                    toml::Value::Array(entries) => {
                        for (i, entry) in entries.into_iter().enumerate() {
                            let at = perspective_at(i, entry.get("id").and_then(|v| v.as_str()));
                            file.perspectives.push(read_section(entry, &at, problems));
                        }
                    }
                    _ => problems.error(
                        "perspective",
                        "must be an array of tables, written [[perspective]]",
                    ),
                },
                other => problems.error(
                    other,
                    "unknown section or key (expected coordinator, defaults, perspective, primary, api, evidence)",
                ),
            }
        }
        file
    }
}

/// Where the `index`th `[[perspective]]` is, for problems.
pub(super) fn perspective_at(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("perspective[{index}] ({id})"),
        None => format!("perspective[{index}]"),
    }
}

/// Where the perspective `id` is, for problems found across entries.
pub(super) fn perspective_at_id(id: &str) -> String {
    format!("perspective ({id})")
}
