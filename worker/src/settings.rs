//! The perspective's configuration, read from the Worker's environment.
//!
//! | setting | kind | meaning |
//! |---|---|---|
//! | `PERSPECTIVE_ID` | var | this perspective's id, as the coordinator's config names it |
//! | `RIR` | var | `arin`, `ripe`, `apnic`, `lacnic` or `afrinic` |
//! | `REGION` | var | where it runs (free text, e.g. `aws:us-east-1 (N. Virginia)`) |
//! | `LATITUDE`, `LONGITUDE` | vars, optional | the claimed location, in degrees |
//! | `DOH_RESOLVERS` | var | DoH resolver URLs, comma or space separated, tried in order |
//! | `DOH_METHOD` | var, optional | `POST` (default) or `GET` |
//! | `COORDINATOR_KEYS` | var | public keys (`ed25519:<base64>`) allowed to call, comma or space separated |
//! | `SIGNING_KEY` | **secret** | this perspective's Ed25519 seed (`ed25519-seed:<base64>`) |
//! | `REQUEST_MAX_SKEW_MS` | var, optional | how old or early a signed request may be (default 30000) |
//! | `CHECK_DEADLINE_MS` | var, optional | how long one check may run before the perspective stops it and signs an `error` report saying so (default 8000; every DNS and HTTP exchange ends by it; keep it below the coordinator's `call_timeout_ms`) |
//! | `DNSSEC_TEST_BOGUS_NAME`, `DNSSEC_TEST_SIGNED_NAME` | vars, optional | the DNSSEC self-test's names: every resolver must answer SERVFAIL for the first and NOERROR with AD=1 for the second, or this perspective's lookup failures never count as permission (defaults `dnssec-failed.org`, `isc.org`; see `GET /v1/identity?dnssec_self_test=run`) |
//! | `MPIC_LOCAL_MODE` | var, local only | `loopback-fixtures`: see [`Settings::local`] |
//! | `LOCAL_HTTP_PORT`, `LOCAL_HTTPS_PORT` | vars, local only | loopback ports standing in for 80 and 443 |
//!
//! Every problem is reported at once, each naming its setting, so a
//! misconfigured deployment answers a clear 500 instead of half-working.

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpic_core::dnssec_self_test::{self, DnssecTestNames};
use mpic_core::doh::{self, DohMethod};
use mpic_core::keys;
use mpic_core::location::{Coordinates, Location};
use mpic_core::loopback::{LocalPorts, is_loopback_url};
use mpic_core::name::DomainName;
use mpic_core::perspective::Identity;
use mpic_core::rir::Rir;
use url::Url;

/// How the settings reach us: `env.var` / `env.secret` in the Worker, a map
/// in tests.
pub trait Source {
    fn var(&self, name: &str) -> Option<String>;
    fn secret(&self, name: &str) -> Option<String>;
}

/// The one value of `MPIC_LOCAL_MODE` that turns local mode on.
pub const LOCAL_MODE_VALUE: &str = "loopback-fixtures";

#[derive(Debug, Clone)]
pub struct Settings {
    pub identity: Identity,
    pub signing_key: SigningKey,
    pub coordinator_keys: Vec<VerifyingKey>,
    pub resolvers: Vec<Url>,
    pub doh_method: DohMethod,
    pub max_skew_ms: u64,
    /// How long one check may run (every lookup and fetch included).
    pub check_deadline_ms: u64,
    /// `DNSSEC_TEST_BOGUS_NAME` and `DNSSEC_TEST_SIGNED_NAME`.
    pub dnssec_test_names: DnssecTestNames,
    /// Loopback test worlds only ([`LocalPorts`], from `LOCAL_HTTP_PORT` and
    /// `LOCAL_HTTPS_PORT`). Local mode is two facts: connections go to
    /// loopback addresses only (and DoH resolvers must be on loopback), and a
    /// connection to port 80 or 443 goes to the fixture port standing in for
    /// it. Everything else (resolution through this perspective's own
    /// resolver, the address check, TLS, ALPN, HTTP) runs exactly as in
    /// production. Deployed on Cloudflare, where loopback is unreachable, a
    /// perspective turned into local mode by mistake can reach nothing and so
    /// corroborates nothing.
    pub local: Option<LocalPorts>,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{setting} is invalid: {detail}")]
    Invalid {
        setting: &'static str,
        detail: String,
    },
}

/// All problems found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("perspective misconfigured: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Problems(pub Vec<Problem>);

const DEFAULT_MAX_SKEW_MS: u64 = 30_000;
/// A skew window longer than this would make the replay guard remember too
/// many nonces and accept very old requests.
const MAX_MAX_SKEW_MS: u64 = 300_000;
/// Default `CHECK_DEADLINE_MS` (see the responder's).
pub use mpic_core::responder::DEFAULT_CHECK_DEADLINE_MS;
/// Bounds of `CHECK_DEADLINE_MS`. A Worker's wall time per request is not
/// billed, but a check that takes longer than two minutes is no check.
const CHECK_DEADLINE_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=120_000;

impl Settings {
    pub fn load(source: &impl Source) -> Result<Self, Problems> {
        let mut problems = Vec::new();
        let mut required = |name: &'static str| match source.var(name) {
            Some(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
            _ => {
                problems.push(Problem::Missing(name));
                None
            }
        };
        let id = required("PERSPECTIVE_ID");
        let rir = required("RIR");
        let region = required("REGION");
        let resolvers = required("DOH_RESOLVERS");
        let coordinator_keys = required("COORDINATOR_KEYS");
        let mut invalid = |setting: &'static str, detail: String| {
            problems.push(Problem::Invalid { setting, detail });
        };

        let rir = rir.and_then(|r| {
            r.parse::<Rir>()
                .map_err(|e| invalid("RIR", e.to_string()))
                .ok()
        });
        let coordinates = match (source.var("LATITUDE"), source.var("LONGITUDE")) {
            (None, None) => None,
            (Some(lat), Some(lon)) => {
                match (lat.trim().parse::<f64>(), lon.trim().parse::<f64>()) {
                    (Ok(lat), Ok(lon)) => Coordinates::new(lat, lon)
                        .map_err(|e| invalid("LATITUDE/LONGITUDE", e.to_string()))
                        .ok(),
                    _ => {
                        invalid("LATITUDE/LONGITUDE", "not decimal degrees".into());
                        None
                    }
                }
            }
            _ => {
                invalid("LATITUDE/LONGITUDE", "set both or neither".into());
                None
            }
        };
        let local = match source.var("MPIC_LOCAL_MODE").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(LOCAL_MODE_VALUE) => {
                let port = |name: &'static str, invalid: &mut dyn FnMut(&'static str, String)| {
                    source.var(name).and_then(|p| {
                        p.trim()
                            .parse::<u16>()
                            .ok()
                            .filter(|p| *p != 0)
                            .or_else(|| {
                                invalid(name, format!("{p:?} is not a TCP port"));
                                None
                            })
                    })
                };
                let http_port = port("LOCAL_HTTP_PORT", &mut invalid);
                let https_port = port("LOCAL_HTTPS_PORT", &mut invalid);
                match http_port {
                    Some(http) => Some(LocalPorts {
                        http,
                        https: https_port,
                    }),
                    None => {
                        invalid(
                            "LOCAL_HTTP_PORT",
                            "local mode needs the loopback port that stands in for port 80".into(),
                        );
                        None
                    }
                }
            }
            Some(other) => {
                invalid(
                    "MPIC_LOCAL_MODE",
                    format!(
                        "{other:?}: the only accepted value is {LOCAL_MODE_VALUE:?} (unset it in production)"
                    ),
                );
                None
            }
        };
        let resolvers = resolvers
            .map(|text| parse_resolvers(&text, local.is_some(), &mut invalid))
            .unwrap_or_default();
        let doh_method = match source.var("DOH_METHOD").as_deref().map(str::trim) {
            None | Some("") => DohMethod::Post,
            Some(m) if m.eq_ignore_ascii_case("post") => DohMethod::Post,
            Some(m) if m.eq_ignore_ascii_case("get") => DohMethod::Get,
            Some(m) => {
                invalid("DOH_METHOD", format!("{m:?} is neither GET nor POST"));
                DohMethod::Post
            }
        };
        let coordinator_keys: Vec<VerifyingKey> = coordinator_keys
            .map(|text| {
                split_list(&text)
                    .filter_map(|k| {
                        keys::parse_verifying_key(k)
                            .map_err(|e| invalid("COORDINATOR_KEYS", format!("{k:?}: {e}")))
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let max_skew_ms = match source.var("REQUEST_MAX_SKEW_MS") {
            None => DEFAULT_MAX_SKEW_MS,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if (1..=MAX_MAX_SKEW_MS).contains(&ms) => ms,
                _ => {
                    invalid(
                        "REQUEST_MAX_SKEW_MS",
                        format!("{v:?} is not a number of milliseconds in 1..={MAX_MAX_SKEW_MS}"),
                    );
                    DEFAULT_MAX_SKEW_MS
                }
            },
        };
        let check_deadline_ms = match source.var("CHECK_DEADLINE_MS") {
            None => DEFAULT_CHECK_DEADLINE_MS,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(ms) if CHECK_DEADLINE_RANGE_MS.contains(&ms) => ms,
                _ => {
                    invalid(
                        "CHECK_DEADLINE_MS",
                        format!(
                            "{v:?} is not a number of milliseconds in {}..={}",
                            CHECK_DEADLINE_RANGE_MS.start(),
                            CHECK_DEADLINE_RANGE_MS.end()
                        ),
                    );
                    DEFAULT_CHECK_DEADLINE_MS
                }
            },
        };
        let mut test_name = |setting: &'static str, default: &str| match source.var(setting) {
            None => default.to_owned(),
            Some(v) => match DomainName::parse(v.trim()) {
                Ok(name) => name.as_str().to_owned(),
                Err(e) => {
                    invalid(setting, format!("{v:?}: {e}"));
                    default.to_owned()
                }
            },
        };
        let dnssec_test_names = DnssecTestNames {
            bogus: test_name(
                "DNSSEC_TEST_BOGUS_NAME",
                dnssec_self_test::DEFAULT_BOGUS_NAME,
            ),
            signed: test_name(
                "DNSSEC_TEST_SIGNED_NAME",
                dnssec_self_test::DEFAULT_SIGNED_NAME,
            ),
        };
        let signing_key = match source.secret("SIGNING_KEY") {
            None => {
                problems.push(Problem::Missing("SIGNING_KEY"));
                None
            }
            Some(text) => keys::parse_signing_key(text.trim())
                .map_err(|e| {
                    // Never echo the secret's text.
                    problems.push(Problem::Invalid {
                        setting: "SIGNING_KEY",
                        detail: format!("not an ed25519-seed key: {e}"),
                    })
                })
                .ok(),
        };

        match (id, rir, region, signing_key) {
            (Some(perspective_id), Some(rir), Some(region), Some(signing_key))
                if problems.is_empty() =>
            {
                Ok(Settings {
                    identity: Identity {
                        perspective_id,
                        rir,
                        location: Location {
                            region,
                            coordinates,
                        },
                    },
                    signing_key,
                    coordinator_keys,
                    resolvers,
                    doh_method,
                    max_skew_ms,
                    check_deadline_ms,
                    dnssec_test_names,
                    local,
                })
            }
            _ => Err(Problems(problems)),
        }
    }
}

fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

fn parse_resolvers(
    text: &str,
    local: bool,
    invalid: &mut impl FnMut(&'static str, String),
) -> Vec<Url> {
    let mut resolvers = Vec::new();
    for item in split_list(text) {
        let url = match Url::parse(item) {
            Ok(url) => url,
            Err(e) => {
                invalid("DOH_RESOLVERS", format!("{item:?}: {e}"));
                continue;
            }
        };
        let loopback = is_loopback_url(&url);
        match (local, loopback) {
            (true, true) | (false, false) => match doh::check_resolver_url(&url, local) {
                Ok(()) => resolvers.push(url),
                Err(e) => invalid("DOH_RESOLVERS", format!("{item:?}: {e}")),
            },
            (true, false) => invalid(
                "DOH_RESOLVERS",
                format!("{item:?}: in local mode resolvers must be on loopback"),
            ),
            (false, true) => invalid(
                "DOH_RESOLVERS",
                format!("{item:?}: a loopback resolver is only for MPIC_LOCAL_MODE"),
            ),
        }
    }
    if resolvers.is_empty() && !text.trim().is_empty() {
        invalid("DOH_RESOLVERS", "no usable resolver URL".into());
    }
    resolvers
}

#[cfg(test)]
mod tests;
