//! The coordinator's configuration file (TOML) and its validation.
//!
//! [`Config::load`] reads the file, checks everything that can be checked
//! without the network, and either returns a typed [`Config`] or every
//! problem found ([`Problems`]), each with where it is and why it matters.
//! Nothing is checked lazily: a configuration that loads can run.
//! [`ServeConfig::load`] also returns the `[api]` settings ([`ApiConfig`]),
//! which only the HTTP service (`mpic serve`) uses; every load checks them.
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

mod api_settings;
mod file;
mod problems;
mod secrets;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpic_core::dnssec_self_test::DnssecTestNames;
use mpic_core::keys;
use mpic_core::location::Coordinates;
use mpic_core::name::DomainName;
use mpic_core::quorum::Policy;
use url::Url;
use zeroize::Zeroizing;

pub use self::api_settings::{ApiClient, ApiConfig};
#[cfg(test)]
pub use self::api_settings::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT_CHECKS};
pub use self::problems::{ConfigError, Problem, Problems, Severity, TextError};
pub use crate::perspective_config::PerspectiveConfig;

use self::file::ConfigFile;

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
    /// `[defaults]`: how each check runs unless its request asks otherwise.
    pub defaults: Defaults,
    /// In file order.
    pub perspectives: Vec<PerspectiveConfig>,
    /// The primary network perspective run from this host, when enabled
    /// (see [`crate::PrimaryPerspective`]).
    pub primary: Option<PrimaryConfig>,
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
    /// How long `mpic evidence prune` keeps records, in days (at least 730,
    /// BR 5.4.3's two years; default 763).
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
    /// `mpic check`): no primary location, no primary, no warnings. Not validated: a cohort that
    /// cannot be formed is refused by [`crate::Coordinator::new`].
    pub fn from_parts(
        signing_key: SigningKey,
        cohort_secret: Zeroizing<Vec<u8>>,
        defaults: Defaults,
        perspectives: Vec<PerspectiveConfig>,
    ) -> Config {
        Config {
            signing_key,
            cohort_secret,
            primary_location: None,
            defaults,
            perspectives,
            primary: None,
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
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

/// How each check is run unless a request asks otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// Remote perspectives per attempt (default 6).
    pub perspective_count: usize,
    /// The fewest perspectives a request's `orchestration_parameters` may
    /// ask for; at most `perspective_count` (default: equal to it, so a
    /// request can only add perspectives, never shrink the cohort).
    pub min_perspective_count: usize,
    /// The quorum policy (`quorum`, `quorum_count`; default BR 3.2.2.9's
    /// table).
    pub policy: Policy,
    /// How long one perspective call may take before it counts as a timeout
    /// (default 10 s).
    pub call_timeout: Duration,
    /// How long the whole check may take, every attempt included (default
    /// 30 s); no attempt starts after it.
    pub deadline: Duration,
    /// Attempts, each with a new cohort, before a check is not corroborated
    /// (default 3).
    pub max_attempts: u32,
    /// The most attempts a request may ask for (Open MPIC
    /// `orchestration_parameters.max_attempts`); at least `max_attempts`.
    pub max_attempts_cap: u32,
    /// The CA's CAA issuer domain names, sent with every CAA check that
    /// names none itself.
    pub caa_issuer_domains: Vec<DomainName>,
    /// How long after the perspective started its check a report may still
    /// count (default 60 s); older ones do not verify.
    pub max_report_age: Duration,
    /// How far ahead of this host's clock a report's finish time may be
    /// (clock skew; default 5 s).
    pub max_future_skew: Duration,
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

/// Everything the configuration file sets: the library's [`Config`] and the
/// `[api]` settings of the HTTP service.
#[derive(Debug)]
pub struct ServeConfig {
    /// What the coordinator itself runs with.
    pub config: Config,
    /// `[api]`: the HTTP service's settings.
    pub api: ApiConfig,
}

impl ServeConfig {
    /// Reads and validates the file at `path` against the process
    /// environment and today's BR requirements.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
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
    pub fn from_toml(text: &str, env: &Environment<'_>) -> Result<ServeConfig, TextError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| TextError::Syntax(e.to_string()))?;
        let mut problems = Problems::default();
        let file = ConfigFile::read(table, &mut problems);
        let loaded = file.validate(env, &mut problems);
        match loaded {
            Some(mut loaded) if !problems.has_errors() => {
                loaded.config.warnings = problems.0;
                loaded.config.digest = crate::evidence::config_digest(text.as_bytes());
                Ok(loaded)
            }
            _ => Err(TextError::Invalid(problems)),
        }
    }
}

impl Config {
    /// [`ServeConfig::load`] without the `[api]` settings (which are still
    /// checked: a file loads the same way whichever command reads it).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        ServeConfig::load(path).map(|loaded| loaded.config)
    }

    /// [`ServeConfig::from_toml`] without the `[api]` settings.
    pub fn from_toml(text: &str, env: &Environment<'_>) -> Result<Config, TextError> {
        ServeConfig::from_toml(text, env).map(|loaded| loaded.config)
    }
}

#[cfg(test)]
mod tests;
