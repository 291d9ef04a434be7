//! The real wasm worker in workerd says who it is, and no secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_tests::keys;
use mpic_tests::workerd::{Perspective, PerspectiveSpec};

#[tokio::test]
async fn worker_under_workerd_reports_its_identity() {
    let mut spec = PerspectiveSpec::default();
    let signing = keys::perspective(3);
    let vars = [
        ("PERSPECTIVE_ID", "test-fra".to_string()),
        ("RIR", "ripe".into()),
        ("REGION", "eu-central".into()),
        ("LATITUDE", "50.11".into()),
        ("LONGITUDE", "8.68".into()),
        ("DOH_RESOLVERS", "https://dns.example/dns-query".into()),
        ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
        ("SIGNING_KEY", keys::seed_text(&signing)),
    ];
    for (k, v) in vars {
        spec.vars.insert(k.into(), v);
    }
    let perspective = Perspective::start(&spec).await.unwrap();

    let response = reqwest::get(format!("{}/v1/identity", perspective.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "log:\n{}", perspective.log());
    let text = response.text().await.unwrap();
    let identity: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(identity["perspective_id"], "test-fra");
    assert_eq!(identity["rir"], "ripe");
    assert_eq!(identity["region"], "eu-central");
    assert_eq!(identity["code_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(identity["public_key"], keys::public_text(&signing));
    assert_eq!(identity["resolvers"][0], "https://dns.example/dns-query");
    assert_eq!(identity["mode"], "production");
    assert_eq!(identity["check_deadline_ms"], 8_000, "the default");
    // The data center that answered (wrangler dev offline: its placeholder
    // `cf` object's colo).
    assert!(
        identity["data_center"]["code"]
            .as_str()
            .is_some_and(|code| !code.is_empty()),
        "{identity}"
    );
    assert!(
        !text.contains(&keys::seed_text(&signing)[13..]),
        "identity leaks the seed"
    );
}
