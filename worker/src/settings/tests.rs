#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use super::*;

struct Map(HashMap<&'static str, &'static str>);
impl Source for Map {
    fn var(&self, name: &str) -> Option<String> {
        (name != "SIGNING_KEY").then(|| self.0.get(name).map(|v| v.to_string()))?
    }
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.to_string())
    }
}

const SEED: &str = "ed25519-seed:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn good() -> HashMap<&'static str, &'static str> {
    let coordinator = keys::format_verifying_key(&SigningKey::from_bytes(&[2; 32]).verifying_key());
    HashMap::from([
        ("PERSPECTIVE_ID", "fra"),
        ("RIR", "ripe"),
        ("REGION", "eu-central"),
        ("DOH_RESOLVERS", "https://dns.example/dns-query"),
        ("COORDINATOR_KEYS", Box::leak(coordinator.into_boxed_str())),
        ("SIGNING_KEY", SEED),
    ])
}

fn problems(map: HashMap<&'static str, &'static str>) -> Vec<String> {
    match Settings::load(&Map(map)) {
        Ok(_) => vec![],
        Err(Problems(p)) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn good_settings_load() {
    let settings = Settings::load(&Map(good())).unwrap();
    assert_eq!(settings.identity.perspective_id, "fra");
    assert_eq!(settings.identity.rir, Rir::RipeNcc);
    assert_eq!(settings.coordinator_keys.len(), 1);
    assert_eq!(settings.local, None);
    assert_eq!(settings.check_deadline_ms, DEFAULT_CHECK_DEADLINE_MS);

    let mut map = good();
    map.insert("CHECK_DEADLINE_MS", "2500");
    let settings = Settings::load(&Map(map)).unwrap();
    assert_eq!(settings.check_deadline_ms, 2_500);
}

#[test]
fn every_problem_names_its_setting() {
    let cases: Vec<(&str, Option<&'static str>, &str)> = vec![
        ("PERSPECTIVE_ID", None, "PERSPECTIVE_ID is not set"),
        ("RIR", Some("moon"), "RIR is invalid"),
        (
            "DOH_RESOLVERS",
            Some("http://dns.example/q"),
            "is not https",
        ),
        (
            "DOH_RESOLVERS",
            Some("http://127.0.0.1:5353/q"),
            "only for MPIC_LOCAL_MODE",
        ),
        (
            "COORDINATOR_KEYS",
            Some("ed25519:nope"),
            "COORDINATOR_KEYS is invalid",
        ),
        ("SIGNING_KEY", None, "SIGNING_KEY is not set"),
        (
            "SIGNING_KEY",
            Some("ed25519-seed:short"),
            "SIGNING_KEY is invalid",
        ),
        ("MPIC_LOCAL_MODE", Some("yes"), "MPIC_LOCAL_MODE is invalid"),
        (
            "REQUEST_MAX_SKEW_MS",
            Some("9999999"),
            "REQUEST_MAX_SKEW_MS is invalid",
        ),
        (
            "CHECK_DEADLINE_MS",
            Some("0"),
            "CHECK_DEADLINE_MS is invalid",
        ),
        (
            "CHECK_DEADLINE_MS",
            Some("ten seconds"),
            "CHECK_DEADLINE_MS is invalid",
        ),
        ("LATITUDE", Some("50.1"), "set both or neither"),
    ];
    for (setting, value, want) in cases {
        let mut map = good();
        match value {
            Some(v) => map.insert(setting, v),
            None => map.remove(setting),
        };
        let found = problems(map);
        assert!(
            found.iter().any(|p| p.contains(want)),
            "{setting}={value:?}: {found:?}"
        );
    }
}

#[test]
fn secret_text_is_never_echoed() {
    let mut map = good();
    map.insert("SIGNING_KEY", "ed25519-seed:c2VjcmV0LXRleHQ=");
    let found = problems(map).join(" ");
    assert!(!found.contains("c2VjcmV0"), "{found}");
}

#[test]
fn local_mode_takes_loopback_resolvers_only() {
    let mut map = good();
    map.insert("MPIC_LOCAL_MODE", LOCAL_MODE_VALUE);
    map.insert("LOCAL_HTTP_PORT", "8080");
    map.insert("DOH_RESOLVERS", "http://127.0.0.1:5353/dns-query/a");
    let settings = Settings::load(&Map(map.clone())).unwrap();
    assert_eq!(
        settings.local,
        Some(LocalPorts {
            http: 8080,
            https: None
        })
    );
    map.insert("DOH_RESOLVERS", "https://dns.example/dns-query");
    assert!(
        problems(map.clone())
            .iter()
            .any(|p| p.contains("must be on loopback"))
    );
    map.remove("LOCAL_HTTP_PORT");
    map.insert("DOH_RESOLVERS", "http://127.0.0.1:5353/dns-query/a");
    assert!(problems(map).iter().any(|p| p.contains("LOCAL_HTTP_PORT")));
}
