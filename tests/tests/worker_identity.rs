//! The workspace's first end-to-end test: the real wasm worker in workerd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_tests::workerd::{Perspective, PerspectiveSpec};

#[tokio::test]
async fn worker_under_workerd_reports_its_identity() {
    let mut spec = PerspectiveSpec::default();
    spec.vars.insert("PERSPECTIVE_ID".into(), "test-fra".into());
    spec.vars.insert("RIR".into(), "ripe".into());
    spec.vars.insert("REGION".into(), "eu-central".into());
    let perspective = Perspective::start(&spec).await.unwrap();

    let response = reqwest::get(format!("{}/v1/identity", perspective.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "log:\n{}", perspective.log());
    let identity: serde_json::Value = response.json().await.unwrap();
    assert_eq!(identity["perspective_id"], "test-fra");
    assert_eq!(identity["rir"], "ripe");
    assert_eq!(identity["region"], "eu-central");
    assert_eq!(identity["code_version"], env!("CARGO_PKG_VERSION"));
}
