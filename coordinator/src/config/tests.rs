#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use mpic_core::rir::Rir;

use super::validate::check_perspective_url;
use super::*;
use crate::test_fixtures::{PLACES, coordinator_key, public_key_text};

/// 2026-11-24: BR minimum 4 perspectives, 5 from 2026-12-15.
const NOV_2026: u64 = 1_795_478_400_000;
/// 2027-01-10: BR minimum 5.
const JAN_2027: u64 = 1_799_539_200_000;
/// 2026-01-10: BR minimum 2, one RIR.
const JAN_2026: u64 = 1_768_003_200_000;

const SECRET: &str = "0123456789abcdef0123456789abcdef-cohort";

fn seed_text() -> String {
    keys::format_signing_key(&coordinator_key()).to_string()
}

/// A valid configuration with six perspectives on four continents.
fn good_toml() -> String {
    let mut text = format!(
        r#"
[coordinator]
signing_key = "{seed}"
cohort_secret = "{SECRET}"

[defaults]
perspective_count = 6
quorum = "br"
call_timeout_ms = 8000
deadline_ms = 20000
max_attempts = 2
caa_issuer_domains = ["CA.example", "ca.example", "other-ca.example"]

[api]
listen = "127.0.0.1:9000"
[[api.client]]
name = "issuance"
key_sha256 = "{hash}"
"#,
        seed = seed_text(),
        hash = "ab".repeat(32),
    );
    for (i, (id, rir, lat, lon)) in PLACES
        .iter()
        .enumerate()
        .filter(|(i, _)| [0, 2, 3, 5, 8, 10].contains(i))
    {
        text.push_str(&format!(
            r#"
[[perspective]]
id = "{id}"
url = "https://{id}.workers.example"
rir = "{rir}"
region = "{id}"
latitude = {lat}
longitude = {lon}
public_key = "{key}"
"#,
            rir = rir.as_str(),
            key = public_key_text(u8::try_from(i + 1).unwrap()),
        ));
    }
    text
}

fn env_at<'a>(now_ms: u64, dir: &Path, vars: &'a HashMap<&'static str, String>) -> Environment<'a> {
    Environment {
        base_dir: dir.to_owned(),
        var: Box::leak(Box::new(move |name: &str| vars.get(name).cloned())),
        now_ms,
    }
}

fn load(text: &str) -> Result<Config, TextError> {
    load_served(text).map(|loaded| loaded.config)
}

/// The configuration with its `[api]` settings.
fn load_served(text: &str) -> Result<ServeConfig, TextError> {
    let vars = Box::leak(Box::new(HashMap::new()));
    ServeConfig::from_toml(text, &env_at(NOV_2026, Path::new("/nonexistent"), vars))
}

fn problems(text: &str) -> Problems {
    match load(text) {
        Ok(config) => Problems(config.warnings),
        Err(TextError::Invalid(problems)) => problems,
        Err(e) => panic!("not a validation failure: {e}"),
    }
}

#[test]
fn a_good_file_loads_typed_with_defaults_filled_in() {
    let ServeConfig { config, api } = load_served(&good_toml()).unwrap();
    assert_eq!(config.signing_key.to_bytes(), coordinator_key().to_bytes());
    assert_eq!(config.cohort_secret.as_slice(), SECRET.as_bytes());
    assert_eq!(config.perspectives.len(), 6);
    let iad = &config.perspectives[0];
    assert_eq!(iad.id, "iad");
    assert_eq!(iad.rir, Rir::Arin);
    assert_eq!(
        iad.check_url.as_str(),
        "https://iad.workers.example/v1/check"
    );
    assert_eq!(iad.public_key, crate::test_fixtures::key(1).verifying_key());
    let d = &config.defaults;
    assert_eq!(d.perspective_count, 6);
    assert_eq!(d.policy, Policy::Br);
    assert_eq!(d.call_timeout, Duration::from_secs(8));
    assert_eq!(d.deadline, Duration::from_secs(20));
    assert_eq!(d.max_attempts, 2);
    // Lower-cased and de-duplicated.
    assert_eq!(
        d.caa_issuer_domains
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>(),
        ["ca.example", "other-ca.example"]
    );
    assert_eq!(d.max_report_age, Duration::from_secs(60));
    assert_eq!(d.max_future_skew, Duration::from_secs(5));
    assert_eq!(api.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(api.clients[0].key_sha256, [0xab; 32]);
    assert_eq!(config.warnings, []);
    // The secret stays out of debug output.
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains(&seed_text()),
        "{debug}"
    );
}

/// One change to the good file and the problem it must produce.
#[test]
fn each_mistake_is_reported_where_it_is() {
    let good = good_toml();
    let key2 = public_key_text(2);
    let cases: Vec<(&str, String, String, &str, &str)> = vec![
        (
            "unknown key",
            "quorum = \"br\"".into(),
            "quorum = \"br\"\nquorom_count = 4".into(),
            "defaults.quorom_count",
            "unknown key",
        ),
        (
            "unknown section",
            "[api]".into(),
            "[extra]\nx = 1\n[api]".into(),
            "extra",
            "unknown section",
        ),
        (
            "unknown perspective key",
            "region = \"iad\"".into(),
            "region = \"iad\"\nasn = 13335".into(),
            "perspective[0] (iad).asn",
            "unknown key",
        ),
        (
            "missing url",
            "url = \"https://iad.workers.example\"".into(),
            String::new(),
            "perspective[0] (iad)",
            "missing field `url`",
        ),
        (
            "duplicate id",
            "id = \"lax\"".into(),
            "id = \"iad\"".into(),
            "perspective (iad)",
            "more than one perspective",
        ),
        (
            "shared key",
            public_key_text(3),
            public_key_text(1),
            "perspective (lax)",
            "also `iad`'s",
        ),
        (
            "seed as public key",
            public_key_text(1),
            seed_text(),
            "perspective[0] (iad).public_key",
            "seed",
        ),
        (
            "coordinator key reused",
            public_key_text(1),
            keys::format_verifying_key(&coordinator_key().verifying_key()),
            "perspective (iad)",
            "coordinator's own key",
        ),
        (
            "plain http",
            "https://iad.workers.example".into(),
            "http://iad.workers.example".into(),
            "perspective[0] (iad).url",
            "plain http",
        ),
        (
            "http to a private address",
            "https://iad.workers.example".into(),
            "http://10.0.0.7:8787".into(),
            "perspective[0] (iad).url",
            "plain http",
        ),
        (
            "other scheme",
            "https://iad.workers.example".into(),
            "ftp://iad.workers.example".into(),
            "perspective[0] (iad).url",
            "scheme `ftp`",
        ),
        (
            "credentials",
            "https://iad.workers.example".into(),
            "https://u:p@iad.workers.example".into(),
            "perspective[0] (iad).url",
            "credentials",
        ),
        (
            "not a url",
            "https://iad.workers.example".into(),
            "iad".into(),
            "perspective[0] (iad).url",
            "not a URL",
        ),
        (
            "latitude",
            "latitude = 39.04".into(),
            "latitude = 139.04".into(),
            "perspective[0] (iad).latitude/longitude",
            "not a latitude",
        ),
        (
            "rir",
            "rir = \"arin\"".into(),
            "rir = \"iana\"".into(),
            "perspective[0] (iad).rir",
            "not an RIR",
        ),
        (
            "bad id",
            "id = \"iad\"".into(),
            "id = \"i a d\"".into(),
            "perspective[0] (i a d).id",
            "A-Z a-z",
        ),
        (
            "no signing key",
            format!("signing_key = \"{}\"", seed_text()),
            String::new(),
            "coordinator.signing_key",
            "is not set",
        ),
        (
            "two signing keys",
            format!("signing_key = \"{}\"", seed_text()),
            format!("signing_key = \"{}\"\nsigning_key_env = \"K\"", seed_text()),
            "coordinator.signing_key",
            "more than once",
        ),
        (
            "public key as seed",
            format!("signing_key = \"{}\"", seed_text()),
            format!("signing_key = \"{key2}\""),
            "coordinator.signing_key",
            "public key",
        ),
        (
            "env unset",
            format!("signing_key = \"{}\"", seed_text()),
            "signing_key_env = \"MPIC_UNSET\"".into(),
            "coordinator.signing_key_env",
            "`MPIC_UNSET` is not set",
        ),
        (
            "missing file",
            format!("signing_key = \"{}\"", seed_text()),
            "signing_key_file = \"nope.seed\"".into(),
            "coordinator.signing_key_file",
            "cannot read",
        ),
        (
            "short secret",
            SECRET.into(),
            "short".into(),
            "coordinator.cohort_secret",
            "at least 32",
        ),
        (
            "quorum word",
            "quorum = \"br\"".into(),
            "quorum = \"most\"".into(),
            "defaults.quorum",
            "not a quorum policy",
        ),
        (
            "quorum below br",
            "quorum = \"br\"".into(),
            "quorum_count = 3".into(),
            "defaults.quorum_count",
            "below the BR minimum",
        ),
        (
            "quorum above count",
            "quorum = \"br\"".into(),
            "quorum_count = 7".into(),
            "defaults.quorum_count",
            "more than the 6",
        ),
        (
            "strict and count",
            "quorum = \"br\"".into(),
            "quorum = \"strict\"\nquorum_count = 6".into(),
            "defaults.quorum_count",
            "cannot be combined",
        ),
        (
            "deadline",
            "deadline_ms = 20000".into(),
            "deadline_ms = 2000".into(),
            "defaults.deadline_ms",
            "less than call_timeout_ms",
        ),
        (
            "no timeout",
            "call_timeout_ms = 8000".into(),
            "call_timeout_ms = 0".into(),
            "defaults.call_timeout_ms",
            "more than 0",
        ),
        (
            "attempts",
            "max_attempts = 2".into(),
            "max_attempts = 11".into(),
            "defaults.max_attempts",
            "1 to 10",
        ),
        (
            "no attempts",
            "max_attempts = 2".into(),
            "max_attempts = 0".into(),
            "defaults.max_attempts",
            "1 to 10",
        ),
        (
            "report age",
            "max_attempts = 2".into(),
            "max_attempts = 2\nmax_report_age_ms = 1000".into(),
            "defaults.max_report_age_ms",
            "stale",
        ),
        (
            "no caa domains",
            "caa_issuer_domains = [\"CA.example\", \"ca.example\", \"other-ca.example\"]".into(),
            "caa_issuer_domains = []".into(),
            "defaults.caa_issuer_domains",
            "is empty",
        ),
        (
            "bad caa domain",
            "\"other-ca.example\"".into(),
            "\"-ca.example\"".into(),
            "defaults.caa_issuer_domains",
            "`-ca.example`: label `-ca` starts or ends with a hyphen",
        ),
        (
            "more than configured",
            "perspective_count = 6".into(),
            "perspective_count = 7".into(),
            "defaults.perspective_count",
            "only 6 perspectives",
        ),
        (
            "below the br minimum",
            "perspective_count = 6".into(),
            "perspective_count = 3".into(),
            "defaults.perspective_count",
            "at least 4 remote perspectives on 2026-11-24",
        ),
        (
            "zero",
            "perspective_count = 6".into(),
            "perspective_count = 0".into(),
            "defaults.perspective_count",
            "at least 1",
        ),
        (
            "listen",
            "listen = \"127.0.0.1:9000\"".into(),
            "listen = \"localhost\"".into(),
            "api.listen",
            "not an address",
        ),
        (
            "client hash",
            "ab".repeat(32),
            "abc".into(),
            "api.client[0]",
            "64 hex digits",
        ),
        (
            "wrong type",
            "perspective_count = 6".into(),
            "perspective_count = \"six\"".into(),
            "defaults",
            "invalid type",
        ),
    ];
    for (name, from, to, at, fragment) in cases {
        assert!(
            good.contains(&from),
            "{name}: `{from}` not in the good file"
        );
        let text = good.replacen(&from, &to, 1);
        let found = problems(&text);
        assert!(
            found
                .errors()
                .any(|p| p.at == at && p.message.contains(fragment)),
            "{name}: expected an error at `{at}` containing `{fragment}`, got:\n{found}"
        );
    }
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = good_toml()
        .replacen("quorum = \"br\"", "quorum = \"br\"\nspeling = 1", 1)
        .replacen("rir = \"arin\"", "rir = \"iana\"", 1)
        .replacen(
            "https://lax.workers.example",
            "http://lax.workers.example",
            1,
        )
        .replacen("latitude = 50.11", "latitude = 95", 1)
        .replacen(SECRET, "short", 1)
        .replacen("max_attempts = 2", "max_attempts = 0", 1);
    let found = problems(&text);
    let at: Vec<&str> = found.errors().map(|p| p.at.as_str()).collect();
    for expected in [
        "defaults.speling",
        "perspective[0] (iad).rir",
        "perspective[1] (lax).url",
        "perspective[2] (fra).latitude/longitude",
        "coordinator.cohort_secret",
        "defaults.max_attempts",
    ] {
        assert!(at.contains(&expected), "missing {expected} in {at:?}");
    }
    // The display lists one problem per line, each with its severity.
    let text = found.to_string();
    assert_eq!(text.lines().count(), found.0.len());
    assert!(
        text.lines()
            .all(|l| l.starts_with("error: ") || l.starts_with("warning: "))
    );
}

#[test]
fn plain_http_is_allowed_only_to_loopback() {
    for (url, ok) in [
        ("http://127.0.0.1:8787", true),
        ("http://127.9.9.9:8787/base/", true),
        ("http://[::1]:8787", true),
        ("http://localhost:8787", true),
        ("http://LOCALHOST:8787", true),
        ("https://10.0.0.1", true),
        ("http://10.0.0.1", false),
        ("http://192.168.1.1", false),
        ("http://[::2]", false),
        ("http://localhost.example", false),
        ("http://128.0.0.1", false),
    ] {
        assert_eq!(check_perspective_url(url).is_ok(), ok, "{url}");
    }
    let (_, check) = check_perspective_url("http://127.0.0.1:8787/base/").unwrap();
    assert_eq!(check.as_str(), "http://127.0.0.1:8787/base/v1/check");
    let (_, check) = check_perspective_url("https://w.example").unwrap();
    assert_eq!(check.as_str(), "https://w.example/v1/check");
    assert!(check_perspective_url("https://w.example/?x=1").is_err());
}

#[test]
fn a_configuration_where_no_cohort_can_be_formed_is_refused_with_the_reason() {
    // Six perspectives all in ARIN: RIR diversity is impossible.
    let one_rir = good_toml()
        .replace("rir = \"ripe\"", "rir = \"arin\"")
        .replace("rir = \"apnic\"", "rir = \"arin\"");
    let found = problems(&one_rir);
    let p = found
        .errors()
        .find(|p| p.at == "perspective")
        .expect("a cohort problem");
    assert!(p.message.contains("span at least 2 RIRs"), "{p}");
    assert!(p.message.contains("arin 6"), "{p}");

    // fra and lhr 640 km apart are fine; move lhr next to fra.
    let close = good_toml().replacen(
        "latitude = 51.51\nlongitude = -0.13",
        "latitude = 50.5\nlongitude = 8.9",
        1,
    );
    let found = problems(&close);
    let p = found
        .errors()
        .find(|p| p.at == "perspective")
        .expect("a cohort problem");
    assert!(p.message.contains("fra–lhr ("), "{p}");
    assert!(p.message.contains("500 km apart"), "{p}");

    // A primary in Frankfurt leaves five eligible perspectives for six places.
    let primary = good_toml().replacen(
        "[defaults]",
        "primary_location = { latitude = 50.0, longitude = 8.5 }\n\n[defaults]",
        1,
    );
    let found = problems(&primary);
    let p = found
        .errors()
        .find(|p| p.at == "perspective")
        .expect("a cohort problem");
    assert!(p.message.contains("only 5 of the 6"), "{p}");
    assert!(p.message.contains("primary perspective: fra"), "{p}");
}

#[test]
fn br_minimum_follows_the_date_and_warns_ahead_of_a_step() {
    let four = good_toml().replacen("perspective_count = 6", "perspective_count = 4", 1);
    let vars = Box::leak(Box::new(HashMap::new()));
    let dir = Path::new("/nonexistent");

    let config = Config::from_toml(&four, &env_at(NOV_2026, dir, vars)).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert_eq!(config.warnings[0].at, "defaults.perspective_count");
    assert!(config.warnings[0].message.contains("from 2026-12-15"));

    let Err(TextError::Invalid(found)) = Config::from_toml(&four, &env_at(JAN_2027, dir, vars))
    else {
        panic!("4 perspectives must be refused in 2027");
    };
    assert!(found.errors().any(|p| {
        p.message
            .contains("at least 5 remote perspectives on 2027-01-10")
    }));

    let two = good_toml().replacen("perspective_count = 6", "perspective_count = 2", 1);
    let config = Config::from_toml(&two, &env_at(JAN_2026, dir, vars)).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0]
            .message
            .contains("from 2026-03-15 BR 3.2.2.9 requires at least 3")
    );
    let config = Config::from_toml(&good_toml(), &env_at(JAN_2026, dir, vars)).unwrap();
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn secrets_come_from_files_relative_to_the_config_or_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("coordinator.seed");
    std::fs::write(&seed_path, format!("{}\n", seed_text())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&seed_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = good_toml()
        .replacen(
            &format!("signing_key = \"{}\"", seed_text()),
            "signing_key_file = \"coordinator.seed\"",
            1,
        )
        .replacen(
            &format!("cohort_secret = \"{SECRET}\""),
            "cohort_secret_env = \"MPIC_TEST_SECRET\"",
            1,
        );
    let vars = Box::leak(Box::new(HashMap::from([(
        "MPIC_TEST_SECRET",
        format!("  {SECRET}\n"),
    )])));
    let config = Config::from_toml(&text, &env_at(NOV_2026, dir.path(), vars)).unwrap();
    assert_eq!(config.signing_key.to_bytes(), coordinator_key().to_bytes());
    assert_eq!(config.cohort_secret.as_slice(), SECRET.as_bytes());
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&seed_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let config = Config::from_toml(&text, &env_at(NOV_2026, dir.path(), vars)).unwrap();
        assert_eq!(config.warnings.len(), 1);
        assert_eq!(config.warnings[0].at, "coordinator.signing_key_file");
        assert!(config.warnings[0].message.contains("chmod 600"));
    }
}

#[test]
fn load_reads_files_and_tells_syntax_from_validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mpic.toml");
    std::fs::write(&path, good_toml()).unwrap();
    assert!(Config::load(&path).is_ok());

    std::fs::write(&path, "[defaults\n").unwrap();
    assert!(matches!(
        Config::load(&path),
        Err(ConfigError::Syntax { .. })
    ));

    std::fs::write(
        &path,
        good_toml().replacen("max_attempts = 2", "max_attempts = 0", 1),
    )
    .unwrap();
    match Config::load(&path) {
        Err(ConfigError::Invalid { problems, .. }) => assert!(problems.has_errors()),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Config::load(&dir.path().join("missing.toml")),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn the_example_configuration_is_valid() {
    let text = include_str!("../../mpic.example.toml");
    let vars = Box::leak(Box::new(HashMap::from([
        ("MPIC_SIGNING_KEY", seed_text()),
        ("MPIC_COHORT_SECRET", SECRET.to_owned()),
    ])));
    let config = Config::from_toml(text, &env_at(NOV_2026, Path::new("/nonexistent"), vars))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.defaults.perspective_count, 6);
    assert!(config.perspectives.len() >= 6);
}

#[test]
fn api_limits_have_safe_defaults_and_are_checked() {
    let ServeConfig { config, api } = load_served(&good_toml()).unwrap();
    assert_eq!(api.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
    assert_eq!(api.max_concurrent_checks, DEFAULT_MAX_CONCURRENT_CHECKS);
    // deadline_ms (20 s) plus the margin.
    assert_eq!(api.request_timeout, Duration::from_secs(25));
    assert!(!api.metrics_public);
    // Unset, the cap is max_attempts: a request may lower it, not raise it.
    assert_eq!(config.defaults.max_attempts_cap, 2);

    let set = good_toml()
        .replacen(
            "listen = \"127.0.0.1:9000\"",
            "listen = \"127.0.0.1:9000\"\nmax_body_bytes = 8192\nmax_concurrent_checks = 4\n\
             request_timeout_ms = 21000\nmetrics_public = true",
            1,
        )
        .replacen(
            "max_attempts = 2",
            "max_attempts = 2\nmax_attempts_cap = 5",
            1,
        );
    let ServeConfig { config, api } = load_served(&set).unwrap();
    assert_eq!(api.max_body_bytes, 8192);
    assert_eq!(api.max_concurrent_checks, 4);
    assert_eq!(api.request_timeout, Duration::from_millis(21_000));
    assert!(api.metrics_public);
    assert_eq!(config.defaults.max_attempts_cap, 5);

    let cases: &[(&str, &str, &str)] = &[
        ("max_body_bytes = 100", "api.max_body_bytes", "from 1024"),
        (
            "max_body_bytes = 10000000",
            "api.max_body_bytes",
            "from 1024",
        ),
        (
            "max_concurrent_checks = 0",
            "api.max_concurrent_checks",
            "from 1",
        ),
        (
            "request_timeout_ms = 1000",
            "api.request_timeout_ms",
            "less than defaults.deadline_ms",
        ),
    ];
    for (line, at, fragment) in cases {
        let text = good_toml().replacen(
            "listen = \"127.0.0.1:9000\"",
            &format!("listen = \"127.0.0.1:9000\"\n{line}"),
            1,
        );
        let found = problems(&text);
        assert!(
            found
                .errors()
                .any(|p| p.at == *at && p.message.contains(fragment)),
            "{line}: expected an error at `{at}` containing `{fragment}`, got:\n{found}"
        );
    }
    for cap in ["max_attempts_cap = 1", "max_attempts_cap = 11"] {
        let text = good_toml().replacen("max_attempts = 2", &format!("max_attempts = 2\n{cap}"), 1);
        let found = problems(&text);
        assert!(
            found.errors().any(|p| p.at == "defaults.max_attempts_cap"),
            "{cap}: {found}"
        );
    }
}

#[test]
fn the_primary_section_is_optional_and_checked_when_enabled() {
    let with = |section: &str| good_toml().replace("[api]", &format!("{section}\n[api]"));
    assert_eq!(load(&good_toml()).unwrap().primary, None);
    assert_eq!(
        load(&with("[primary]\nenabled = false")).unwrap().primary,
        None
    );
    let config = load(&with(
        "[primary]\ndoh_url = \"https://dns.example/dns-query\"",
    ))
    .unwrap();
    let primary = config.primary.clone().unwrap();
    assert_eq!(primary.doh_url.as_str(), "https://dns.example/dns-query");
    // The DNSSEC self-test's names default to ones on the real Internet.
    assert_eq!(primary.dnssec_test_names, DnssecTestNames::default());
    let named = load(&with(
        "[primary]\ndoh_url = \"https://dns.example/dns-query\"\n\
         dnssec_test_bogus_name = \"Bogus.Test.Example\"\ndnssec_test_signed_name = \"signed.test.example\"",
    ))
    .unwrap();
    assert_eq!(
        named.primary.unwrap().dnssec_test_names,
        DnssecTestNames {
            bogus: "bogus.test.example".into(),
            signed: "signed.test.example".into(),
        }
    );
    // Enabled without a primary_location: allowed, with a warning.
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.at == "coordinator.primary_location"),
        "{:?}",
        config.warnings
    );
    let loopback = load(&with(
        "[primary]\ndoh_url = \"http://127.0.0.1:5353/dns-query\"",
    ));
    assert!(loopback.is_ok());

    for (section, at, message) in [
        ("[primary]\nenabled = true", "primary.doh_url", "is not set"),
        (
            "[primary]\ndoh_url = \"http://dns.example/dns-query\"",
            "primary.doh_url",
            "plain http",
        ),
        (
            "[primary]\ndoh_url = \"not a url\"",
            "primary.doh_url",
            "is not a URL",
        ),
        (
            "[primary]\ndoh_url = \"https://dns.example/\"\nresolver = \"x\"",
            "primary.resolver",
            "unknown key",
        ),
        (
            "[primary]\ndoh_url = \"https://dns.example/\"\ndnssec_test_bogus_name = \"not a name\"",
            "primary.dnssec_test_bogus_name",
            "not a name",
        ),
    ] {
        let found = problems(&with(section));
        assert!(
            found
                .errors()
                .any(|p| p.at == at && p.message.contains(message)),
            "{section}: {found}"
        );
    }
}

/// Secrets never reach a log line: not through the configuration's `Debug`
/// (which `tracing` fields use), nor through the problems a bad secret
/// causes, which name the setting and never echo its text.
#[test]
fn secrets_are_never_echoed() {
    let empty = HashMap::new();
    let config =
        Config::from_toml(&good_toml(), &env_at(NOV_2026, Path::new("/"), &empty)).unwrap();
    let debug = format!("{config:?}");
    let seed = seed_text();
    let seed_body = seed.trim_start_matches("ed25519-seed:");
    assert!(!debug.contains(seed_body), "{debug}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(
        debug.contains("signing_key"),
        "the public half is shown: {debug}"
    );

    // A secret that is wrong (a seed one byte short, a cohort secret too
    // short) is refused without its text in the message.
    let short_seed = "ed25519-seed:c2VjcmV0LXNlZWQtdGhhdC1pcy1vbmUtYnl0ZS1zaG9yIQ";
    let short_secret = "s3cr3t-but-too-short";
    let text = good_toml()
        .replacen(&seed, short_seed, 1)
        .replacen(SECRET, short_secret, 1);
    let error = Config::from_toml(&text, &env_at(NOV_2026, Path::new("/"), &empty)).unwrap_err();
    let shown = format!("{error}\n{error:?}");
    assert!(shown.contains("signing_key"), "{shown}");
    assert!(shown.contains("cohort_secret"), "{shown}");
    assert!(!shown.contains("c2VjcmV0LXNlZWQ"), "{shown}");
    assert!(!shown.contains(short_secret), "{shown}");
}

/// Issue 15 item 5: a request may ask for more perspectives, never fewer
/// than `min_perspective_count`, which is `perspective_count` unless set.
#[test]
fn min_perspective_count_defaults_to_the_count_and_is_checked_against_the_br() {
    let config = load(&good_toml()).unwrap();
    assert_eq!(config.defaults.min_perspective_count, 6);
    let with = |line: &str| {
        good_toml().replacen(
            "perspective_count = 6",
            &format!("perspective_count = 6\n{line}"),
            1,
        )
    };
    let five = load(&with("min_perspective_count = 5")).unwrap();
    assert_eq!(five.defaults.min_perspective_count, 5);
    assert!(five.warnings.is_empty(), "{:?}", five.warnings);

    // Below the next phase's minimum (5 from 2026-12-15): a warning now.
    let four = load(&with("min_perspective_count = 4")).unwrap();
    assert!(
        four.warnings
            .iter()
            .any(|w| w.at == "defaults.min_perspective_count"
                && w.message.contains("from 2026-12-15")),
        "{:?}",
        four.warnings
    );
    for (line, message) in [
        ("min_perspective_count = 7", "more than perspective_count"),
        ("min_perspective_count = 1", "BR 3.2.2.9 requires at least"),
    ] {
        let found = problems(&with(line));
        assert!(
            found
                .errors()
                .any(|p| p.at == "defaults.min_perspective_count" && p.message.contains(message)),
            "{line}: {found}"
        );
    }
}

/// Issue 15 item 4: each API client may name only its own CA identities,
/// by default the CA's `caa_issuer_domains`.
#[test]
fn api_clients_have_ca_identities_defaulting_to_the_cas_own() {
    let config = load_served(&good_toml()).unwrap();
    let names = |list: &[DomainName]| {
        list.iter()
            .map(DomainName::as_str)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let identities = &config.api.clients[0].identities;
    assert_eq!(
        names(&identities.caa_domains),
        ["ca.example", "other-ca.example"]
    );
    assert_eq!(
        names(&identities.issuer_domain_names),
        ["ca.example", "other-ca.example"]
    );

    let with = |lines: &str| {
        good_toml().replace(
            "name = \"issuance\"",
            &format!("name = \"issuance\"\n{lines}"),
        )
    };
    let own = load_served(&with("caa_domains = [\"Brand.example\"]")).unwrap();
    let identities = &own.api.clients[0].identities;
    assert_eq!(names(&identities.caa_domains), ["brand.example"]);
    assert_eq!(
        names(&identities.issuer_domain_names),
        ["ca.example", "other-ca.example"]
    );

    for (lines, at, message) in [
        ("caa_domains = []", "api.client[0].caa_domains", "is empty"),
        (
            "issuer_domain_names = [\"not a name\"]",
            "api.client[0].issuer_domain_names",
            "not a name",
        ),
    ] {
        let found = problems(&with(lines));
        assert!(
            found
                .errors()
                .any(|p| p.at == at && p.message.contains(message)),
            "{lines}: {found}"
        );
    }
}

#[test]
fn evidence_defaults_to_sqlite_beside_the_file_and_each_mistake_is_named() {
    let vars: &'static HashMap<&'static str, String> = Box::leak(Box::new(HashMap::from([(
        "MPIC_EVIDENCE_URL",
        "postgres://mpic@db.internal/mpic".to_owned(),
    )])));
    let at = |extra: &str| {
        Config::from_toml(
            &format!("{}\n{extra}", good_toml()),
            &env_at(NOV_2026, Path::new("/etc/mpic"), vars),
        )
    };
    let config = at("").unwrap();
    assert_eq!(
        config.evidence.store,
        Some(crate::evidence::StoreLocation::Sqlite(
            "/etc/mpic/evidence.sqlite3".into()
        ))
    );
    assert_eq!(config.evidence.keep_days, DEFAULT_KEEP_DAYS);
    assert!(!config.evidence.writer.is_empty());
    assert_eq!(config.digest.len(), 64);

    let postgres =
        at("[evidence]\nurl_env = \"MPIC_EVIDENCE_URL\"\nwriter = \"coordinator-2\"").unwrap();
    assert_eq!(
        postgres.evidence.store,
        Some(crate::evidence::StoreLocation::Postgres(
            "postgres://mpic@db.internal/mpic".into()
        ))
    );
    assert_eq!(postgres.evidence.writer, "coordinator-2");

    let off = at("[evidence]\nenabled = false").unwrap();
    assert_eq!(off.evidence.store, None);
    assert!(
        off.warnings
            .iter()
            .any(|w| w.at == "evidence.enabled" && w.message.contains("not stored"))
    );

    for (extra, where_, says) in [
        (
            "[evidence]\nkeep_days = 365",
            "evidence.keep_days",
            "two years",
        ),
        (
            "[evidence]\npath = \"e.db\"\nurl = \"postgres://x/y\"",
            "evidence",
            "not both",
        ),
        (
            "[evidence]\nurl = \"mysql://x/y\"",
            "evidence.url",
            "postgres://",
        ),
        (
            "[evidence]\nurl_env = \"UNSET_VAR\"",
            "evidence.url_env",
            "not set",
        ),
        (
            "[evidence]\nenabled = false\npath = \"e.db\"",
            "evidence.enabled",
            "path or url",
        ),
        ("[evidence]\nwriter = \"\"", "evidence.writer", "1 to 128"),
        (
            "[evidence]\nkeep_day = 800",
            "evidence.keep_day",
            "unknown key",
        ),
    ] {
        let Err(TextError::Invalid(found)) = at(extra) else {
            panic!("{extra:?} was accepted");
        };
        assert!(
            found
                .errors()
                .any(|p| p.at == where_ && p.message.contains(says)),
            "{extra:?}: {found}"
        );
    }
}
