//! The coordinator's configuration file (TOML) and its validation.
//!
//! [`Config::load`] reads the file, checks everything that can be checked
//! without the network, and either returns a typed [`Config`] or every
//! problem found ([`Problems`]), each with where it is and why it matters.
//! Nothing is checked lazily: a configuration that loads can run.
//!
//! ```toml
//! [coordinator]
//! signing_key_file = "coordinator.seed"   # or signing_key = "ed25519-seed:…" or signing_key_env = "VAR"
//! cohort_secret_env = "MPIC_COHORT_SECRET" # or cohort_secret = "…" or cohort_secret_file = "…"
//! # primary_location = { latitude = 50.11, longitude = 8.68 }
//!
//! [defaults]
//! perspective_count = 6          # remote perspectives per attempt
//! # min_perspective_count = 6    # the fewest a request may ask for (default: perspective_count)
//! quorum = "br"                  # "br" | "strict"; or quorum_count = 5
//! call_timeout_ms = 10000        # one perspective call
//! deadline_ms = 30000            # the whole check, every attempt included
//! max_attempts = 3
//! # max_attempts_cap = 3        # the most a request's orchestration_parameters may ask for (default: max_attempts)
//! caa_issuer_domains = ["ca.example"]
//! max_report_age_ms = 60000
//! max_future_skew_ms = 5000
//!
//! [[perspective]]
//! id = "cf-fra"
//! url = "https://mpic-fra.example.workers.dev"
//! rir = "ripe"
//! region = "Frankfurt"
//! latitude = 50.11
//! longitude = 8.68
//! public_key = "ed25519:…"
//!
//! [primary]                      # optional: the primary network perspective
//! enabled = true
//! doh_url = "https://cloudflare-dns.com/dns-query"
//!
//! [api]
//! listen = "127.0.0.1:8080"
//! # max_body_bytes = 65536        # larger request bodies get 413
//! # max_concurrent_checks = 64    # more checks at once get 503 with Retry-After (no queue)
//! # request_timeout_ms = 35000    # whole HTTP request (default: deadline_ms + 5000)
//! # metrics_public = false        # true: GET /metrics needs no API key
//! # reject_unknown_fields = false # true: 400 for request fields Open MPIC does not define
//!
//! [evidence]                     # every decision's signed record (default: SQLite beside this file)
//! # path = "evidence.sqlite3"     # SQLite file
//! # url_env = "MPIC_EVIDENCE_URL" # or url = "postgres://mpic@db.internal/mpic": PostgreSQL
//! # writer = "coordinator-1"      # this coordinator's hash chain (default: the host name)
//! # keep_days = 760               # what `mpic evidence prune` keeps (BR 5.4.3: 2 years + margin)
//! # trusted_keys = ["ed25519:…"]  # earlier coordinator keys `mpic evidence verify` accepts
//! # enabled = false               # store nothing: for benchmarks only, never for issuance
//!
//! [[api.client]]
//! name = "issuance"
//! key_sha256 = "…"   # hex SHA-256 of the client's API key; the key itself is never stored
//! # caa_domains = ["ca.example"]          # CA identities it may check CAA as (default: caa_issuer_domains)
//! # issuer_domain_names = ["ca.example"]  # and name in dns-persistent (default: caa_issuer_domains)
//! ```
//!
//! Relative key and secret file paths are relative to the configuration
//! file's directory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpic_core::keys;
use mpic_core::name::DomainName;
use mpic_core::quorum::{CivilDate, Policy, Requirements};
use mpic_core::report::Coordinates;
use mpic_core::rir::Rir;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::{Host, Url};
use zeroize::Zeroizing;

use mpic_core::dnssec_self_test::{self, DnssecTestNames};

use crate::ca_identity::CaIdentities;
use crate::cohort;

/// Remote perspectives per attempt when the file does not say.
pub const DEFAULT_PERSPECTIVE_COUNT: usize = 6;
/// Attempts above this are refused: each attempt is a fresh chance for an
/// attacker who controls some routes, so the number of cohorts that ever see
/// one identifier stays small (Open MPIC `max_attempts` guidance).
pub const MAX_ATTEMPTS_LIMIT: u32 = 10;
/// `[defaults] call_timeout_ms` when unset: one perspective call. A
/// perspective's own per-check deadline (8 s by default) stays under it, so a
/// slow check comes back as a signed error rather than a timeout.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 10_000;
/// `[defaults] deadline_ms` when unset: the whole check, every attempt.
pub const DEFAULT_DEADLINE_MS: u64 = 30_000;
/// `[defaults] max_attempts` when unset.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// `[defaults] max_report_age_ms` when unset: how old a report may be.
pub const DEFAULT_MAX_REPORT_AGE_MS: u64 = 60_000;
/// `[defaults] max_future_skew_ms` when unset: how far ahead of our clock a
/// report's times may be.
pub const DEFAULT_MAX_FUTURE_SKEW_MS: u64 = 5_000;
/// A `[defaults] max_future_skew_ms` above this draws a warning: clocks that
/// far apart point to a broken time source.
pub const FUTURE_SKEW_WARNING_MS: u64 = 60_000;
/// The fewest bytes of cohort secret accepted (an HMAC-SHA256 key).
pub const MIN_COHORT_SECRET_BYTES: usize = 32;
/// Where `[api] listen` points when unset.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `[api] max_body_bytes` when unset: an Open MPIC request is well under 8 KiB
/// (every text field is at most 2 KiB), so 64 KiB refuses only abuse.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest `[api] max_body_bytes` accepted.
pub const MAX_BODY_BYTES_LIMIT: usize = 1024 * 1024;
/// `[api] max_concurrent_checks` when unset.
pub const DEFAULT_MAX_CONCURRENT_CHECKS: usize = 64;
/// The largest `[api] max_concurrent_checks` accepted: each check holds up to
/// `perspective_count` outbound calls open.
pub const MAX_CONCURRENT_CHECKS_LIMIT: usize = 10_000;
/// `[api] request_timeout_ms` when unset is `deadline_ms` plus this margin, so
/// that a check ends by its own deadline (and says so) before the HTTP request
/// is cut off.
pub const REQUEST_TIMEOUT_MARGIN: Duration = Duration::from_secs(5);
/// How far ahead validation looks for a BR step that the configured
/// `perspective_count` will not meet.
const LOOKAHEAD_DAYS: u64 = 90;
const DAY_MS: u64 = 86_400_000;

// ---------------------------------------------------------------------------
// The validated configuration.

/// A configuration that passed validation; everything in it is typed.
pub struct Config {
    /// Signs every request sent to a perspective.
    pub signing_key: SigningKey,
    /// Keys the cohort choice (HMAC-SHA256); never leaves the coordinator.
    pub cohort_secret: Zeroizing<Vec<u8>>,
    /// Where the CA's primary network perspective is; remote perspectives
    /// within 500 km of it are never used (BR 3.2.2.9: they would not be
    /// distinct from the primary).
    pub primary_location: Option<Coordinates>,
    pub defaults: Defaults,
    /// In file order.
    pub perspectives: Vec<PerspectiveConfig>,
    /// The primary network perspective run from this host, when enabled
    /// (see [`crate::primary`]).
    pub primary: Option<PrimaryConfig>,
    pub api: ApiConfig,
    /// Where every decision's record is kept ([`crate::evidence`]).
    pub evidence: EvidenceConfig,
    /// Hex SHA-256 of the configuration text (of no text, for a
    /// configuration assembled in code); every evidence record keeps it.
    pub digest: String,
    /// Problems that do not stop the coordinator from running.
    pub warnings: Vec<Problem>,
}

/// `[evidence]` when unset: SQLite in this file beside the configuration.
pub const DEFAULT_EVIDENCE_FILE: &str = "evidence.sqlite3";
/// `[evidence] keep_days` when unset: BR 5.4.3's two years, plus a month.
pub const DEFAULT_KEEP_DAYS: u32 = 2 * 366 + 31;
/// The fewest `keep_days` accepted: BR 5.4.3's two years.
pub const MIN_KEEP_DAYS: u32 = 2 * 365;

/// `[evidence]`: where decision records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceConfig {
    /// `None` only with `enabled = false`.
    pub store: Option<crate::evidence::StoreLocation>,
    /// This coordinator's chain.
    pub writer: String,
    pub keep_days: u32,
    /// Earlier coordinator keys whose records and prune notes `mpic
    /// evidence verify` accepts, beside the configured signing key (after a
    /// key rotation).
    pub trusted_keys: Vec<VerifyingKey>,
}

impl EvidenceConfig {
    /// No store (configurations assembled in code).
    pub fn disabled() -> Self {
        Self {
            store: None,
            writer: default_writer(),
            keep_days: DEFAULT_KEEP_DAYS,
            trusted_keys: Vec::new(),
        }
    }
}

/// The host name, or `mpic` when it cannot be read.
pub fn default_writer() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "mpic".into())
}

impl Config {
    /// A configuration assembled in code (the in-process perspectives of
    /// `mpic check`): no primary location, no primary, the default API
    /// address with no clients, no warnings. Not validated: a cohort that
    /// cannot be formed is refused by [`crate::Coordinator::new`].
    pub fn from_parts(
        signing_key: SigningKey,
        cohort_secret: Zeroizing<Vec<u8>>,
        defaults: Defaults,
        perspectives: Vec<PerspectiveConfig>,
    ) -> Config {
        let request_timeout = defaults.deadline + REQUEST_TIMEOUT_MARGIN;
        Config {
            signing_key,
            cohort_secret,
            primary_location: None,
            defaults,
            perspectives,
            primary: None,
            api: ApiConfig {
                listen: DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
                clients: Vec::new(),
                max_body_bytes: DEFAULT_MAX_BODY_BYTES,
                max_concurrent_checks: DEFAULT_MAX_CONCURRENT_CHECKS,
                request_timeout,
                metrics_public: false,
                reject_unknown_fields: false,
            },
            evidence: EvidenceConfig::disabled(),
            digest: crate::evidence::config_digest(b""),
            warnings: Vec::new(),
        }
    }
}

/// `[primary]`: run each check from this host too, as the CA's primary
/// network perspective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryConfig {
    /// The primary's DoH resolver (https; http only on loopback).
    pub doh_url: Url,
    /// The names of its DNSSEC self-test (`dnssec_test_bogus_name`,
    /// `dnssec_test_signed_name`; defaults exist on the real Internet).
    pub dnssec_test_names: DnssecTestNames,
    /// Test worlds only, never read from the file: the loopback ports that
    /// stand in for 80 and 443 (`--allow-loopback-for-tests`).
    pub local: Option<crate::native_network::LocalPorts>,
}

impl fmt::Debug for Config {
    // The signing key and cohort secret are left out on purpose.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field(
                "signing_key",
                &keys::format_verifying_key(&self.signing_key.verifying_key()),
            )
            .field("primary_location", &self.primary_location)
            .field("defaults", &self.defaults)
            .field("perspectives", &self.perspectives)
            .field("primary", &self.primary)
            .field("api", &self.api)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// How each check is run unless a request asks otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    pub perspective_count: usize,
    /// The fewest perspectives a request's `orchestration_parameters` may
    /// ask for; at most `perspective_count` (default: equal to it, so a
    /// request can only add perspectives, never shrink the cohort).
    pub min_perspective_count: usize,
    pub policy: Policy,
    pub call_timeout: Duration,
    pub deadline: Duration,
    pub max_attempts: u32,
    /// The most attempts a request may ask for (Open MPIC
    /// `orchestration_parameters.max_attempts`); at least `max_attempts`.
    pub max_attempts_cap: u32,
    /// The CA's CAA issuer domain names, sent with every CAA check that
    /// names none itself.
    pub caa_issuer_domains: Vec<DomainName>,
    pub max_report_age: Duration,
    pub max_future_skew: Duration,
}

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

/// The HTTP API the CA's systems call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub clients: Vec<ApiClient>,
    /// Request bodies larger than this are refused (413).
    pub max_body_bytes: usize,
    /// Checks running at once; more are refused (503), never queued.
    pub max_concurrent_checks: usize,
    /// Bound on one whole HTTP request, body reading included.
    pub request_timeout: Duration,
    /// Whether `GET /metrics` is served without an API key.
    pub metrics_public: bool,
    /// Refuse request fields the Open MPIC format does not define (400),
    /// instead of ignoring and naming them as Open MPIC does.
    pub reject_unknown_fields: bool,
}

/// A client of the API, known by the SHA-256 of its key (the key itself is
/// not stored, so reading the configuration does not reveal it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub name: String,
    pub key_sha256: [u8; 32],
    /// The CA identities its requests may name.
    pub identities: CaIdentities,
}

// ---------------------------------------------------------------------------
// Problems.

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The coordinator can run, but the operator should look.
    Warning,
    /// The coordinator refuses to run with this configuration.
    Error,
}

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// Where: a key path such as `perspective[2] (cf-ams).url`.
    pub at: String,
    /// What is wrong and why it matters.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{severity}: {}: {}", self.at, self.message)
    }
}

/// Every problem found, errors and warnings, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// Whether any problem stops the coordinator from running.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }

    fn error(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Error,
            at: at.into(),
            message: message.into(),
        });
    }

    fn warning(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Warning,
            at: at.into(),
            message: message.into(),
        });
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {detail}")]
    Syntax { path: PathBuf, detail: String },
    #[error("{path} has {} problem(s):\n{problems}", problems.0.len())]
    Invalid { path: PathBuf, problems: Problems },
}

// ---------------------------------------------------------------------------
// Loading.

/// What validation may consult besides the file itself.
pub struct Environment<'a> {
    /// Relative file paths are resolved against this directory.
    pub base_dir: PathBuf,
    /// Reads an environment variable.
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// The date the BR minimums are taken from (unix milliseconds).
    pub now_ms: u64,
}

impl Environment<'static> {
    /// The process environment and the system clock.
    pub fn system(base_dir: PathBuf) -> Self {
        Self {
            base_dir,
            var: &|name| std::env::var(name).ok(),
            now_ms: crate::clock::now_ms(),
        }
    }
}

impl Config {
    /// Reads and validates the file at `path` against the process
    /// environment and today's BR requirements.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::from_toml(&text, &Environment::system(base_dir)).map_err(|e| match e {
            TextError::Syntax(detail) => ConfigError::Syntax {
                path: path.to_owned(),
                detail,
            },
            TextError::Invalid(problems) => ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            },
        })
    }

    /// Validates configuration text. Errors carry every problem found.
    pub fn from_toml(text: &str, env: &Environment<'_>) -> Result<Config, TextError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| TextError::Syntax(e.to_string()))?;
        let mut problems = Problems::default();
        let file = ConfigFile::read(table, &mut problems);
        let config = file.validate(env, &mut problems);
        match config {
            Some(mut config) if !problems.has_errors() => {
                config.warnings = problems.0;
                config.digest = crate::evidence::config_digest(text.as_bytes());
                Ok(config)
            }
            _ => Err(TextError::Invalid(problems)),
        }
    }
}

/// Why configuration text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("not valid TOML: {0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(Problems),
}

// ---------------------------------------------------------------------------
// The file as written. Every value that can be wrong in more than one way is
// read as text and checked by `validate`, so one bad value does not hide the
// others.

#[derive(Default)]
struct ConfigFile {
    coordinator: CoordinatorSection,
    defaults: DefaultsSection,
    perspectives: Vec<Option<PerspectiveSection>>,
    primary: Option<PrimarySection>,
    api: ApiSection,
    evidence: EvidenceSection,
}

#[derive(Default, Deserialize)]
struct EvidenceSection {
    enabled: Option<bool>,
    path: Option<PathBuf>,
    url: Option<String>,
    url_env: Option<String>,
    writer: Option<String>,
    keep_days: Option<u32>,
    #[serde(default)]
    trusted_keys: Vec<String>,
}

#[derive(Deserialize)]
struct PrimarySection {
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    doh_url: Option<String>,
    dnssec_test_bogus_name: Option<String>,
    dnssec_test_signed_name: Option<String>,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Default, Deserialize)]
struct CoordinatorSection {
    signing_key: Option<String>,
    signing_key_file: Option<PathBuf>,
    signing_key_env: Option<String>,
    cohort_secret: Option<String>,
    cohort_secret_file: Option<PathBuf>,
    cohort_secret_env: Option<String>,
    primary_location: Option<LocationSection>,
}

#[derive(Deserialize)]
struct LocationSection {
    latitude: f64,
    longitude: f64,
}

#[derive(Deserialize)]
#[serde(default)]
struct DefaultsSection {
    perspective_count: usize,
    min_perspective_count: Option<usize>,
    quorum: String,
    quorum_count: Option<usize>,
    call_timeout_ms: u64,
    deadline_ms: u64,
    max_attempts: u32,
    max_attempts_cap: Option<u32>,
    caa_issuer_domains: Vec<String>,
    max_report_age_ms: u64,
    max_future_skew_ms: u64,
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
struct PerspectiveSection {
    id: String,
    url: String,
    rir: String,
    #[serde(default)]
    region: String,
    latitude: f64,
    longitude: f64,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(default)]
struct ApiSection {
    listen: String,
    #[serde(rename = "client")]
    clients: Vec<ApiClientSection>,
    max_body_bytes: usize,
    max_concurrent_checks: usize,
    request_timeout_ms: Option<u64>,
    metrics_public: bool,
    reject_unknown_fields: bool,
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
struct ApiClientSection {
    name: String,
    key_sha256: String,
    caa_domains: Option<Vec<String>>,
    issuer_domain_names: Option<Vec<String>>,
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
    fn read(table: toml::Table, problems: &mut Problems) -> ConfigFile {
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

    /// Checks everything; returns a `Config` only when there are no errors.
    fn validate(&self, env: &Environment<'_>, problems: &mut Problems) -> Option<Config> {
        let signing_key = self.signing_key(env, problems);
        let cohort_secret = self.cohort_secret(env, problems);
        let primary_location = self.primary_location(problems);
        let defaults = self.defaults(env.now_ms, problems);
        let perspectives = self.perspectives(problems);
        let primary = self.primary(primary_location, problems);
        let api = self.api(defaults.as_ref(), problems);
        let evidence = self.evidence(env, problems);

        if let (Some(defaults), Some(perspectives)) = (&defaults, &perspectives) {
            check_cohorts_possible(defaults, perspectives, primary_location, problems);
        }
        if let (Some(key), Some(perspectives)) = (&signing_key, &perspectives)
            && let Some(p) = perspectives
                .iter()
                .find(|p| p.public_key == key.verifying_key())
        {
            problems.error(
                perspective_at_id(&p.id),
                "public_key is the coordinator's own key: a perspective must sign with its own key",
            );
        }
        Some(Config {
            signing_key: signing_key?,
            cohort_secret: cohort_secret?,
            primary_location,
            defaults: defaults?,
            perspectives: perspectives?,
            primary: primary?,
            api: api?,
            evidence: evidence?,
            digest: String::new(),
            warnings: Vec::new(),
        })
    }

    fn evidence(&self, env: &Environment<'_>, problems: &mut Problems) -> Option<EvidenceConfig> {
        use crate::evidence::StoreLocation;
        let e = &self.evidence;
        let writer = match &e.writer {
            None => default_writer(),
            Some(w) if !w.is_empty() && w.len() <= 128 && !w.chars().any(char::is_control) => {
                w.clone()
            }
            Some(_) => {
                problems.error(
                    "evidence.writer",
                    "must be 1 to 128 characters without control characters",
                );
                return None;
            }
        };
        let keep_days = e.keep_days.unwrap_or(DEFAULT_KEEP_DAYS);
        if keep_days < MIN_KEEP_DAYS {
            problems.error(
                "evidence.keep_days",
                format!(
                    "{keep_days} is less than BR 5.4.3's two years ({MIN_KEEP_DAYS} days): records must be kept at least that long"
                ),
            );
            return None;
        }
        let url = match (&e.url, &e.url_env) {
            (Some(_), Some(_)) => {
                problems.error("evidence", "set url or url_env, not both");
                return None;
            }
            (Some(url), None) => Some(url.clone()),
            (None, Some(var)) => match (env.var)(var) {
                Some(url) if !url.is_empty() => Some(url),
                _ => {
                    problems.error(
                        "evidence.url_env",
                        format!("environment variable {var} is not set"),
                    );
                    return None;
                }
            },
            (None, None) => None,
        };
        let store = match (e.enabled, url, &e.path) {
            (Some(false), None, None) => {
                problems.warning(
                    "evidence.enabled",
                    "false: decisions are not stored; BR 5.4.1 needs them recorded (for benchmarks only)",
                );
                None
            }
            (Some(false), ..) => {
                problems.error("evidence.enabled", "false, yet a path or url is set");
                return None;
            }
            (_, Some(_), Some(_)) => {
                problems.error(
                    "evidence",
                    "set path (SQLite) or url (PostgreSQL), not both",
                );
                return None;
            }
            (_, Some(url), None) => {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    problems.error("evidence.url", "must be a postgres:// or postgresql:// URL");
                    return None;
                }
                Some(StoreLocation::Postgres(url))
            }
            (_, None, path) => {
                let path = path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_EVIDENCE_FILE));
                Some(StoreLocation::Sqlite(env.base_dir.join(path)))
            }
        };
        let mut trusted_keys = Vec::new();
        for (i, text) in e.trusted_keys.iter().enumerate() {
            match keys::parse_verifying_key(text) {
                Ok(key) => trusted_keys.push(key),
                Err(err) => {
                    problems.error(format!("evidence.trusted_keys[{i}]"), err.to_string());
                    return None;
                }
            }
        }
        Some(EvidenceConfig {
            store,
            writer,
            keep_days,
            trusted_keys,
        })
    }

    fn signing_key(&self, env: &Environment<'_>, problems: &mut Problems) -> Option<SigningKey> {
        let c = &self.coordinator;
        let text = resolve_secret(
            "signing_key",
            c.signing_key.as_deref(),
            c.signing_key_file.as_deref(),
            c.signing_key_env.as_deref(),
            env,
            problems,
        )?;
        match keys::parse_signing_key(&text) {
            Ok(key) => Some(key),
            Err(e) => {
                problems.error(
                    "coordinator.signing_key",
                    format!(
                        "{e} (expected `ed25519-seed:<base64 of 32 bytes>`, see `mpic keygen`)"
                    ),
                );
                None
            }
        }
    }

    fn cohort_secret(
        &self,
        env: &Environment<'_>,
        problems: &mut Problems,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let c = &self.coordinator;
        let text = resolve_secret(
            "cohort_secret",
            c.cohort_secret.as_deref(),
            c.cohort_secret_file.as_deref(),
            c.cohort_secret_env.as_deref(),
            env,
            problems,
        )?;
        if text.len() < MIN_COHORT_SECRET_BYTES {
            problems.error(
                "coordinator.cohort_secret",
                format!(
                    "is {} bytes; at least {MIN_COHORT_SECRET_BYTES} are needed so that outsiders cannot \
                     predict which perspectives check a domain (see `mpic keygen --secret`)",
                    text.len()
                ),
            );
            return None;
        }
        Some(Zeroizing::new(text.as_bytes().to_vec()))
    }

    fn primary_location(&self, problems: &mut Problems) -> Option<Coordinates> {
        let l = self.coordinator.primary_location.as_ref()?;
        match Coordinates::new(l.latitude, l.longitude) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.error("coordinator.primary_location", e.to_string());
                None
            }
        }
    }

    fn defaults(&self, now_ms: u64, problems: &mut Problems) -> Option<Defaults> {
        let d = &self.defaults;
        let at = |key: &str| format!("defaults.{key}");
        let errors_before = problems.errors().count();

        let count = d.perspective_count;
        if count == 0 {
            problems.error(at("perspective_count"), "must be at least 1");
        }
        let today = Requirements::for_unix_ms(now_ms);
        if count < today.min_perspectives {
            problems.error(
                at("perspective_count"),
                format!(
                    "is {count}; BR 3.2.2.9 requires at least {} remote perspectives on {}",
                    today.min_perspectives,
                    CivilDate::from_unix_ms(now_ms)
                ),
            );
        } else if let Some((date, later)) = next_requirement_step(now_ms)
            && count < later.min_perspectives
        {
            problems.warning(
                at("perspective_count"),
                format!(
                    "is {count}; from {date} BR 3.2.2.9 requires at least {} remote perspectives",
                    later.min_perspectives
                ),
            );
        }

        // Unset, it is perspective_count, whose own checks above cover it.
        let min_count = d.min_perspective_count.unwrap_or(count);
        if let Some(min_count) = d.min_perspective_count {
            if min_count > count {
                problems.error(
                    at("min_perspective_count"),
                    format!(
                        "is {min_count}, more than perspective_count ({count}): it is the fewest \
                         perspectives a request may ask for"
                    ),
                );
            } else if min_count < today.min_perspectives {
                problems.error(
                    at("min_perspective_count"),
                    format!(
                        "is {min_count}; BR 3.2.2.9 requires at least {} remote perspectives on {}",
                        today.min_perspectives,
                        CivilDate::from_unix_ms(now_ms)
                    ),
                );
            } else if let Some((date, later)) = next_requirement_step(now_ms)
                && min_count < later.min_perspectives
            {
                problems.warning(
                    at("min_perspective_count"),
                    format!(
                        "is {min_count}; from {date} BR 3.2.2.9 requires at least {} remote \
                         perspectives, and requests asking for fewer will then be refused",
                        later.min_perspectives
                    ),
                );
            }
        }

        let policy = match (d.quorum.as_str(), d.quorum_count) {
            ("br", None) => Some(Policy::Br),
            ("strict", None) => Some(Policy::Strict),
            ("br", Some(n)) => Some(Policy::Count(n)),
            ("strict", Some(_)) => {
                problems.error(
                    at("quorum_count"),
                    "cannot be combined with quorum = \"strict\" (strict means all perspectives)",
                );
                None
            }
            (other, _) => {
                problems.error(
                    at("quorum"),
                    format!("`{other}` is not a quorum policy (expected \"br\" or \"strict\", or set quorum_count)"),
                );
                None
            }
        };
        if let Some(policy) = policy
            && count > 0
            && let Err(e) = policy.required_corroborations(count)
        {
            problems.error(at("quorum_count"), e.to_string());
        }

        if d.call_timeout_ms == 0 {
            problems.error(at("call_timeout_ms"), "must be more than 0");
        }
        if d.deadline_ms < d.call_timeout_ms {
            problems.error(
                at("deadline_ms"),
                format!(
                    "is {} ms, less than call_timeout_ms ({} ms): no call could use its full timeout",
                    d.deadline_ms, d.call_timeout_ms
                ),
            );
        }
        if d.max_attempts == 0 || d.max_attempts > MAX_ATTEMPTS_LIMIT {
            problems.error(
                at("max_attempts"),
                format!(
                    "is {}; it must be 1 to {MAX_ATTEMPTS_LIMIT} (every attempt is another cohort that \
                     an attacker on some routes might fool)",
                    d.max_attempts
                ),
            );
        }
        let max_attempts_cap = d.max_attempts_cap.unwrap_or(d.max_attempts);
        // Unset, it is max_attempts, which is checked above.
        if d.max_attempts_cap.is_some()
            && (max_attempts_cap < d.max_attempts || max_attempts_cap > MAX_ATTEMPTS_LIMIT)
        {
            problems.error(
                at("max_attempts_cap"),
                format!(
                    "is {max_attempts_cap}; it must be from max_attempts ({}) to {MAX_ATTEMPTS_LIMIT}",
                    d.max_attempts
                ),
            );
        }
        if d.max_report_age_ms < d.call_timeout_ms {
            problems.error(
                at("max_report_age_ms"),
                format!(
                    "is {} ms, less than call_timeout_ms ({} ms): a slow but honest report would be refused as stale",
                    d.max_report_age_ms, d.call_timeout_ms
                ),
            );
        }
        if d.max_future_skew_ms > FUTURE_SKEW_WARNING_MS {
            problems.warning(
                at("max_future_skew_ms"),
                format!(
                    "is {} ms; clocks that far apart suggest a broken time source",
                    d.max_future_skew_ms
                ),
            );
        }
        let mut caa_issuer_domains = Vec::new();
        if d.caa_issuer_domains.is_empty() {
            problems.error(
                at("caa_issuer_domains"),
                "is empty: perspectives need the CA's CAA issuer domain names to tell whether CAA permits issuance",
            );
        }
        for name in &d.caa_issuer_domains {
            match DomainName::parse(name.trim()) {
                Err(why) => problems.error(at("caa_issuer_domains"), format!("`{name}`: {why}")),
                Ok(parsed) if !caa_issuer_domains.contains(&parsed) => {
                    caa_issuer_domains.push(parsed)
                }
                Ok(_) => {}
            }
        }

        if problems.errors().count() > errors_before {
            return None;
        }
        Some(Defaults {
            perspective_count: count,
            min_perspective_count: min_count,
            policy: policy?,
            call_timeout: Duration::from_millis(d.call_timeout_ms),
            deadline: Duration::from_millis(d.deadline_ms),
            max_attempts: d.max_attempts,
            max_attempts_cap,
            caa_issuer_domains,
            max_report_age: Duration::from_millis(d.max_report_age_ms),
            max_future_skew: Duration::from_millis(d.max_future_skew_ms),
        })
    }

    fn perspectives(&self, problems: &mut Problems) -> Option<Vec<PerspectiveConfig>> {
        if self.perspectives.is_empty() {
            problems.error("perspective", "no [[perspective]] is configured");
            return None;
        }
        let mut all_read = true;
        let mut out = Vec::new();
        for (i, section) in self.perspectives.iter().enumerate() {
            let Some(p) = section else {
                all_read = false;
                continue;
            };
            match check_perspective(i, p, problems) {
                Some(p) => out.push(p),
                None => all_read = false,
            }
        }

        let mut ids: HashSet<&str> = HashSet::new();
        let mut by_url: HashMap<&str, &str> = HashMap::new();
        let mut by_key: HashMap<[u8; 32], &str> = HashMap::new();
        let mut unique = true;
        for p in &out {
            if !ids.insert(&p.id) {
                problems.error(
                    perspective_at_id(&p.id),
                    "id is used by more than one perspective; reports are matched to perspectives by id",
                );
                unique = false;
            }
            if let Some(other) = by_url.insert(p.check_url.as_str(), &p.id) {
                problems.error(
                    perspective_at_id(&p.id),
                    format!("url is also `{other}`'s: two ids for one endpoint would count one perspective twice"),
                );
                unique = false;
            }
            if let Some(other) = by_key.insert(p.public_key.to_bytes(), &p.id) {
                problems.error(
                    perspective_at_id(&p.id),
                    format!("public_key is also `{other}`'s: each perspective needs its own key, or one could answer for the other"),
                );
                unique = false;
            }
        }
        (all_read && unique).then_some(out)
    }

    /// `Some(None)` when there is no enabled primary; `None` on errors.
    fn primary(
        &self,
        primary_location: Option<Coordinates>,
        problems: &mut Problems,
    ) -> Option<Option<PrimaryConfig>> {
        let Some(section) = &self.primary else {
            return Some(None);
        };
        if !section.enabled {
            return Some(None);
        }
        let Some(text) = &section.doh_url else {
            problems.error(
                "primary.doh_url",
                "is not set: the primary perspective needs a DNS-over-HTTPS resolver \
                 (e.g. https://cloudflare-dns.com/dns-query), or set enabled = false",
            );
            return None;
        };
        let doh_url = match check_doh_url(text) {
            Ok(url) => url,
            Err(why) => {
                problems.error("primary.doh_url", format!("`{text}` {why}"));
                return None;
            }
        };
        if primary_location.is_none() {
            problems.warning(
                "coordinator.primary_location",
                "is not set although [primary] is enabled: remote perspectives within 500 km \
                 of the primary cannot be left out of cohorts (BR 3.2.2.9)",
            );
        }
        let mut test_name = |key: &str, given: &Option<String>, default: &str| match given {
            None => Some(default.to_owned()),
            Some(text) => match DomainName::parse(text) {
                Ok(name) => Some(name.as_str().to_owned()),
                Err(e) => {
                    problems.error(format!("primary.{key}"), format!("`{text}`: {e}"));
                    None
                }
            },
        };
        let bogus = test_name(
            "dnssec_test_bogus_name",
            &section.dnssec_test_bogus_name,
            dnssec_self_test::DEFAULT_BOGUS_NAME,
        );
        let signed = test_name(
            "dnssec_test_signed_name",
            &section.dnssec_test_signed_name,
            dnssec_self_test::DEFAULT_SIGNED_NAME,
        );
        Some(Some(PrimaryConfig {
            doh_url,
            dnssec_test_names: DnssecTestNames {
                bogus: bogus?,
                signed: signed?,
            },
            local: None,
        }))
    }

    /// `defaults` are the validated `[defaults]`, when they are valid.
    fn api(&self, defaults: Option<&Defaults>, problems: &mut Problems) -> Option<ApiConfig> {
        let a = &self.api;
        let deadline = defaults.map(|d| d.deadline);
        let ca_identities = defaults.map(|d| d.caa_issuer_domains.as_slice());
        let listen = match a.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(e) => {
                problems.error(
                    "api.listen",
                    format!(
                        "`{}` is not an address and port such as 127.0.0.1:8080: {e}",
                        a.listen
                    ),
                );
                None
            }
        };
        if a.clients.is_empty() {
            problems.warning(
                "api.client",
                "no API clients are configured: the HTTP API will refuse every request",
            );
        }
        let mut clients = Vec::new();
        let mut ok = true;
        let mut names = BTreeSet::new();
        let mut hashes = BTreeSet::new();
        for (i, c) in a.clients.iter().enumerate() {
            let at = format!("api.client[{i}]");
            if c.name.trim().is_empty() {
                problems.error(&at, "name is empty; it identifies the client in logs");
                ok = false;
            } else if !names.insert(c.name.as_str()) {
                problems.error(&at, format!("name `{}` is used twice", c.name));
                ok = false;
            }
            match parse_sha256_hex(&c.key_sha256) {
                Some(hash) => {
                    if !hashes.insert(hash) {
                        problems.error(&at, "key_sha256 is the same as another client's");
                        ok = false;
                    }
                    let mut identity = |key: &str, given: &Option<Vec<String>>| {
                        let names = client_identities(
                            &format!("{at}.{key}"),
                            given.as_deref(),
                            ca_identities.unwrap_or_default(),
                            problems,
                        );
                        ok &= names.is_some();
                        names.unwrap_or_default()
                    };
                    let caa_domains = identity("caa_domains", &c.caa_domains);
                    let issuer_domain_names =
                        identity("issuer_domain_names", &c.issuer_domain_names);
                    clients.push(ApiClient {
                        name: c.name.clone(),
                        key_sha256: hash,
                        identities: CaIdentities {
                            caa_domains,
                            issuer_domain_names,
                        },
                    });
                }
                None => {
                    problems.error(
                        &at,
                        "key_sha256 must be 64 hex digits: the SHA-256 of the client's API key (`mpic keygen --api-key` prints both)",
                    );
                    ok = false;
                }
            }
        }
        if !(1024..=MAX_BODY_BYTES_LIMIT).contains(&a.max_body_bytes) {
            problems.error(
                "api.max_body_bytes",
                format!(
                    "is {}; it must be from 1024 to {MAX_BODY_BYTES_LIMIT} (an Open MPIC request is a few KiB)",
                    a.max_body_bytes
                ),
            );
            ok = false;
        }
        if !(1..=MAX_CONCURRENT_CHECKS_LIMIT).contains(&a.max_concurrent_checks) {
            problems.error(
                "api.max_concurrent_checks",
                format!(
                    "is {}; it must be from 1 to {MAX_CONCURRENT_CHECKS_LIMIT}",
                    a.max_concurrent_checks
                ),
            );
            ok = false;
        }
        let request_timeout = match (a.request_timeout_ms, deadline) {
            (Some(ms), Some(deadline)) if Duration::from_millis(ms) < deadline => {
                problems.error(
                    "api.request_timeout_ms",
                    format!(
                        "is {ms} ms, less than defaults.deadline_ms ({} ms): checks would be cut off \
                         before they could finish and report why",
                        deadline.as_millis()
                    ),
                );
                None
            }
            (Some(ms), _) => Some(Duration::from_millis(ms)),
            (None, Some(deadline)) => Some(deadline.saturating_add(REQUEST_TIMEOUT_MARGIN)),
            (None, None) => None,
        };
        Some(ApiConfig {
            listen: listen?,
            clients: ok.then_some(clients)?,
            max_body_bytes: a.max_body_bytes,
            max_concurrent_checks: a.max_concurrent_checks,
            request_timeout: request_timeout?,
            metrics_public: a.metrics_public,
            reject_unknown_fields: a.reject_unknown_fields,
        })
    }
}

fn perspective_at(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("perspective[{index}] ({id})"),
        None => format!("perspective[{index}]"),
    }
}

fn perspective_at_id(id: &str) -> String {
    format!("perspective ({id})")
}

/// Reads a secret from exactly one of its three sources.
fn resolve_secret(
    name: &str,
    inline: Option<&str>,
    file: Option<&Path>,
    var: Option<&str>,
    env: &Environment<'_>,
    problems: &mut Problems,
) -> Option<Zeroizing<String>> {
    let at = format!("coordinator.{name}");
    let given = [inline.is_some(), file.is_some(), var.is_some()]
        .iter()
        .filter(|&&b| b)
        .count();
    if given == 0 {
        problems.error(
            at,
            format!("is not set: set one of `{name}`, `{name}_file` or `{name}_env`"),
        );
        return None;
    }
    if given > 1 {
        problems.error(
            at,
            format!(
                "is set more than once: set only one of `{name}`, `{name}_file` or `{name}_env`"
            ),
        );
        return None;
    }
    let text = if let Some(text) = inline {
        Zeroizing::new(text.to_owned())
    } else if let Some(path) = file {
        let path = env.base_dir.join(path);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path, &format!("{at}_file"), problems);
                Zeroizing::new(text)
            }
            Err(e) => {
                problems.error(
                    format!("{at}_file"),
                    format!("cannot read {}: {e}", path.display()),
                );
                return None;
            }
        }
    } else if let Some(var) = var {
        match (env.var)(var) {
            Some(text) => Zeroizing::new(text),
            None => {
                problems.error(
                    format!("{at}_env"),
                    format!("environment variable `{var}` is not set"),
                );
                return None;
            }
        }
    } else {
        return None;
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        problems.error(at, "is empty");
        return None;
    }
    Some(Zeroizing::new(trimmed.to_owned()))
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path, at: &str, problems: &mut Problems) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        problems.warning(
            at,
            format!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            ),
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path, _at: &str, _problems: &mut Problems) {}

/// A client's allowed CA identities: the names given, each a valid domain
/// name, or the CA's configured ones.
fn client_identities(
    at: &str,
    given: Option<&[String]>,
    configured: &[DomainName],
    problems: &mut Problems,
) -> Option<Vec<DomainName>> {
    let Some(given) = given else {
        return Some(configured.to_vec());
    };
    if given.is_empty() {
        problems.error(
            at,
            "is empty: the client could name no CA identity; leave it out to use \
             defaults.caa_issuer_domains",
        );
        return None;
    }
    let mut names = Vec::new();
    let mut ok = true;
    for text in given {
        match DomainName::parse(text) {
            Ok(name) if !names.contains(&name) => names.push(name),
            Ok(_) => {}
            Err(why) => {
                problems.error(at, format!("`{text}`: {why}"));
                ok = false;
            }
        }
    }
    ok.then_some(names)
}

/// The first day within [`LOOKAHEAD_DAYS`] whose BR minimum is higher than
/// today's, if any.
fn next_requirement_step(now_ms: u64) -> Option<(CivilDate, Requirements)> {
    let today = Requirements::for_unix_ms(now_ms);
    (1..=LOOKAHEAD_DAYS).find_map(|day| {
        let at = now_ms.saturating_add(day * DAY_MS);
        let later = Requirements::for_unix_ms(at);
        (later.min_perspectives > today.min_perspectives)
            .then(|| (CivilDate::from_unix_ms(at), later))
    })
}

/// Checks one `[[perspective]]` entry, reporting every bad field.
fn check_perspective(
    index: usize,
    p: &PerspectiveSection,
    problems: &mut Problems,
) -> Option<PerspectiveConfig> {
    let at = perspective_at(index, Some(&p.id));
    let errors_before = problems.errors().count();

    let id_ok = !p.id.is_empty()
        && p.id.len() <= 64
        && p.id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        problems.error(
            format!("{at}.id"),
            "must be 1 to 64 characters of A-Z a-z 0-9 . _ - (it appears in logs and signed reports)",
        );
    }
    let urls = match check_perspective_url(&p.url) {
        Ok(urls) => Some(urls),
        Err(why) => {
            problems.error(format!("{at}.url"), format!("`{}` {why}", p.url));
            None
        }
    };
    let rir = match p.rir.parse::<Rir>() {
        Ok(rir) => Some(rir),
        Err(e) => {
            problems.error(format!("{at}.rir"), e.to_string());
            None
        }
    };
    let location = match Coordinates::new(p.latitude, p.longitude) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.error(format!("{at}.latitude/longitude"), e.to_string());
            None
        }
    };
    let public_key = match keys::parse_verifying_key(&p.public_key) {
        Ok(key) => Some(key),
        Err(e) => {
            problems.error(
                format!("{at}.public_key"),
                format!("{e} (expected `ed25519:<base64 of 32 bytes>`)"),
            );
            None
        }
    };
    if problems.errors().count() > errors_before {
        return None;
    }
    let (url, check_url) = urls?;
    Some(PerspectiveConfig {
        id: p.id.clone(),
        url,
        check_url,
        rir: rir?,
        region: p.region.clone(),
        location: location?,
        public_key: public_key?,
    })
}

/// Whether plain HTTP may be used to reach `host`: only on this machine,
/// where nothing on the wire can be read or changed.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// A DoH resolver URL: https, or http on loopback (test worlds).
fn check_doh_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    let host = url.host().ok_or("has no host")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(
                "uses plain http: DNS answers decide issuance and must not travel in clear; \
                 use https (http is allowed only for 127.0.0.0/8, ::1 and localhost)"
                    .into(),
            );
        }
        other => return Err(format!("has scheme `{other}`; use https")),
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err("carries credentials or a fragment".into());
    }
    Ok(url)
}

/// Parses a perspective's base URL; returns it and its check endpoint.
fn check_perspective_url(text: &str) -> Result<(Url, Url), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    let host = url.host().ok_or("has no host")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(
                "uses plain http: BR 3.2.2.9 requires authenticated, encrypted traffic to \
                 perspectives; use https (http is allowed only for 127.0.0.0/8, ::1 and localhost)"
                    .into(),
            );
        }
        other => return Err(format!("has scheme `{other}`; use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "carries credentials; the coordinator authenticates by signing requests".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment; give the perspective's base URL".into());
    }
    let check = format!("{}/v1/check", url.as_str().trim_end_matches('/'));
    let check_url = Url::parse(&check).map_err(|e| format!("cannot form {check}: {e}"))?;
    Ok((url, check_url))
}

/// A CAA issuer domain name (RFC 8659 section 4.2): LDH labels.
fn parse_sha256_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Reports when no cohort can meet the BR rules, with what stands in the way.
fn check_cohorts_possible(
    defaults: &Defaults,
    perspectives: &[PerspectiveConfig],
    primary: Option<Coordinates>,
    problems: &mut Problems,
) {
    let count = defaults.perspective_count;
    if perspectives.len() < count {
        problems.error(
            "defaults.perspective_count",
            format!(
                "is {count} but only {} perspectives are configured",
                perspectives.len()
            ),
        );
        return;
    }
    if let Err(e) = cohort::CohortSelector::new(b"feasibility", perspectives, count, primary) {
        problems.error("perspective", e.to_string());
    }
}

#[cfg(test)]
mod tests;
