//! Turning the file's sections into a [`Config`]: every check that can be
//! made without the network, each failure recorded as a
//! [`Problem`](super::Problem) with where it is and why it matters.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use mpic_core::dnssec_self_test::{self, DnssecTestNames};
use mpic_core::doh;
use mpic_core::keys;
use mpic_core::location::Coordinates;
use mpic_core::loopback::is_loopback_host;
use mpic_core::name::DomainName;
use mpic_core::quorum::{self, BrPhase, Policy, Requirements};
use mpic_core::rir::Rir;
use url::Url;

use super::file::{ConfigFile, PerspectiveSection, perspective_at, perspective_at_id};
use super::{
    Config, DEFAULT_EVIDENCE_FILE, DEFAULT_KEEP_DAYS, Defaults, Environment, EvidenceConfig,
    FUTURE_SKEW_WARNING_MS, MAX_ATTEMPTS_LIMIT, MIN_KEEP_DAYS, PrimaryConfig, Problems,
    ServeConfig, default_writer,
};
use crate::cohort;
use crate::perspective_config::PerspectiveConfig;

/// How far ahead validation looks for a BR step that the configured
/// `perspective_count` will not meet.
const LOOKAHEAD_DAYS: u64 = 90;
const DAY_MS: u64 = 86_400_000;

impl ConfigFile {
    /// Checks everything; returns a configuration only when there are no
    /// errors.
    pub(super) fn validate(
        &self,
        env: &Environment<'_>,
        problems: &mut Problems,
    ) -> Option<ServeConfig> {
        let signing_key = self.coordinator.signing_key(env, problems);
        let cohort_secret = self.coordinator.cohort_secret(env, problems);
        let primary_location = self.primary_location(problems);
        let defaults = self.defaults(env.now_ms, problems);
        let perspectives = self.perspectives(problems);
        let primary = self.primary(primary_location, problems);
        let api = self.api.validate(defaults.as_ref(), problems);
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
        let config = Config {
            signing_key: signing_key?,
            cohort_secret: cohort_secret?,
            primary_location,
            defaults: defaults?,
            perspectives: perspectives?,
            primary: primary?,
            evidence: evidence?,
            digest: String::new(),
            warnings: Vec::new(),
        };
        Some(ServeConfig { config, api: api? })
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
                    utc_day(now_ms)
                ),
            );
        } else if let Some(next) = next_requirement_step(now_ms)
            && count < next.requirements.min_perspectives
        {
            problems.warning(
                at("perspective_count"),
                format!(
                    "is {count}; from {date} BR 3.2.2.9 requires at least {} remote perspectives",
                    next.requirements.min_perspectives,
                    date = next.starts_on,
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
                        utc_day(now_ms)
                    ),
                );
            } else if let Some(next) = next_requirement_step(now_ms)
                && min_count < next.requirements.min_perspectives
            {
                problems.warning(
                    at("min_perspective_count"),
                    format!(
                        "is {min_count}; from {date} BR 3.2.2.9 requires at least {} remote \
                         perspectives, and requests asking for fewer will then be refused",
                        next.requirements.min_perspectives,
                        date = next.starts_on,
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
}

/// The first BR phase within [`LOOKAHEAD_DAYS`] whose minimum is higher
/// than today's, if any.
fn next_requirement_step(now_ms: u64) -> Option<&'static BrPhase> {
    let today = Requirements::for_unix_ms(now_ms);
    let horizon = now_ms.saturating_add(LOOKAHEAD_DAYS * DAY_MS);
    std::iter::successors(quorum::next_phase_after(now_ms), |phase| {
        quorum::next_phase_after(phase.starts_ms)
    })
    .take_while(|phase| phase.starts_ms <= horizon)
    .find(|phase| phase.requirements.min_perspectives > today.min_perspectives)
}

/// The UTC day of `unix_ms` (`YYYY-MM-DD`), for messages.
fn utc_day(unix_ms: u64) -> String {
    i64::try_from(unix_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || format!("unix time {unix_ms} ms"),
            |time| time.date_naive().to_string(),
        )
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

/// A DoH resolver URL, by the rules every resolver URL follows
/// ([`doh::check_resolver_url`]: https, or plain http only to loopback).
fn check_doh_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    doh::check_resolver_url(&url, true).map_err(|e| e.to_string())?;
    Ok(url)
}

/// Parses a perspective's base URL; returns it and its check endpoint.
pub(super) fn check_perspective_url(text: &str) -> Result<(Url, Url), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    let host = url.host().ok_or("has no host")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
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
    if let Err(e) = cohort::check_feasible(perspectives, count, primary) {
        problems.error("perspective", e.to_string());
    }
}
