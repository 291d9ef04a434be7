//! The `[api]` section: the settings of the HTTP API the CA's systems call
//! (`mpic serve`), and their validation. They are not part of the library's
//! [`super::Config`]: only the HTTP service reads them.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use mpic_core::name::DomainName;

use super::file::ApiSection;
use super::{Defaults, Problems};
use crate::ca_identity::CaIdentities;

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

/// The HTTP API the CA's systems call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// The address and port the API listens on (default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Who may call it, each with its own key; with none, every request is
    /// refused.
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
    /// What logs and evidence records call the client.
    pub name: String,
    /// SHA-256 of its API key.
    pub key_sha256: [u8; 32],
    /// The CA identities its requests may name.
    pub identities: CaIdentities,
}

impl ApiSection {
    /// `defaults` are the validated `[defaults]`, when they are valid.
    pub(super) fn validate(
        &self,
        defaults: Option<&Defaults>,
        problems: &mut Problems,
    ) -> Option<ApiConfig> {
        let a = self;
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

/// 32 bytes written as 64 hex digits (surrounding blanks ignored).
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
