//! `wrangler.toml` describes a BR-compliant set of perspectives: enough of
//! them, in all five RIRs, pairwise distinct (>= 500 km), each pinned with a
//! placement hint and configured without secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};

use mpic_core::location::{Coordinates, DISTINCT_PERSPECTIVES_KM};
use mpic_core::rir::Rir;
use mpic_tests::repo_root;
use toml::Value;

struct Env {
    name: String,
    worker: String,
    rir: Rir,
    at: Coordinates,
    vars: HashMap<String, String>,
    placement: Option<String>,
}

fn environments() -> Vec<Env> {
    let text = std::fs::read_to_string(repo_root().join("wrangler.toml")).unwrap();
    let config: Value = toml::from_str(&text).unwrap();
    let envs = config["env"]
        .as_table()
        .expect("wrangler.toml has [env.*] perspectives");
    envs.iter()
        .map(|(name, env)| {
            let vars: HashMap<String, String> = env["vars"]
                .as_table()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            let deg = |k: &str| vars[k].parse::<f64>().unwrap();
            Env {
                name: name.clone(),
                worker: env["name"].as_str().unwrap().to_owned(),
                rir: vars["RIR"].parse().unwrap(),
                at: Coordinates::new(deg("LATITUDE"), deg("LONGITUDE")).unwrap(),
                placement: env
                    .get("placement")
                    .and_then(|p| p.get("region"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                vars,
            }
        })
        .collect()
}

#[test]
fn perspectives_span_all_rirs_and_are_pairwise_distinct() {
    let envs = environments();
    assert!(envs.len() >= 9, "only {} perspectives", envs.len());
    let rirs: BTreeSet<Rir> = envs.iter().map(|e| e.rir).collect();
    assert_eq!(rirs.len(), 5, "RIRs covered: {rirs:?}");
    for (i, a) in envs.iter().enumerate() {
        for b in &envs[i + 1..] {
            let km = a.at.distance_km(&b.at);
            assert!(
                km >= DISTINCT_PERSPECTIVES_KM,
                "{} and {} are {km:.0} km apart",
                a.name,
                b.name
            );
        }
    }
}

#[test]
fn each_perspective_is_its_own_pinned_worker_without_secrets() {
    let envs = environments();
    let workers: BTreeSet<&str> = envs.iter().map(|e| e.worker.as_str()).collect();
    assert_eq!(workers.len(), envs.len(), "worker names must differ");
    for env in &envs {
        let placement = env.placement.as_deref().unwrap_or_default();
        assert!(
            ["aws:", "gcp:", "azure:"]
                .iter()
                .any(|p| placement.starts_with(p)),
            "{}: placement hint {placement:?}",
            env.name
        );
        assert_eq!(env.vars["PERSPECTIVE_ID"], env.name, "{}", env.name);
        for var in ["REGION", "DOH_RESOLVERS"] {
            assert!(!env.vars[var].is_empty(), "{}: {var} empty", env.name);
        }
        for resolver in env.vars["DOH_RESOLVERS"].split_whitespace() {
            assert!(resolver.starts_with("https://"), "{}: {resolver}", env.name);
        }
        assert!(
            !env.vars.contains_key("SIGNING_KEY"),
            "{}: SIGNING_KEY must be a secret",
            env.name
        );
        assert!(
            !env.vars.contains_key("MPIC_LOCAL_MODE"),
            "{}: local mode in a deployment",
            env.name
        );
    }
    let text = std::fs::read_to_string(repo_root().join("wrangler.toml")).unwrap();
    assert!(
        !text.contains("ed25519-seed:"),
        "a signing key is written in wrangler.toml"
    );
}
