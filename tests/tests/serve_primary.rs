//! `[primary]` is applied by `mpic serve` as by `mpic check`: the CA's own
//! look at a check must pass as well as the remote quorum. Here six real
//! workerd perspectives see a CAA record that lets the CA issue, while the
//! primary's resolver sees one that names another CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_coordinator::testing::OpenMpicSchema;
use mpic_tests::coordinator_process::{CoordinatorProcess, new_api_key};
use mpic_tests::dns_fixture;
use mpic_tests::mpic_binary;
use mpic_tests::victim;
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, World};
use serde_json::Value;

const PRIMARY_VIEW: &str = "primary";

/// The world's coordinator configuration with a `[primary]` resolving
/// through its own view, and one API client.
fn config(world: &World, key_sha256: &str) -> String {
    format!(
        r#"{perspectives}
[primary]
doh_url = "{doh}"
dnssec_test_bogus_name = "{bogus}"
dnssec_test_signed_name = "{signed}"

[api]
listen = "127.0.0.1:0"
[[api.client]]
name = "issuance"
key_sha256 = "{key_sha256}"
"#,
        perspectives = world.coordinator_toml(&CoordinatorSetup::default()),
        doh = world.dns.url_for(PRIMARY_VIEW),
        bogus = dns_fixture::BOGUS_NAME,
        signed = dns_fixture::SIGNED_NAME,
    )
}

/// The flags that let the primary reach the loopback fixtures.
fn loopback_flags(world: &World) -> Vec<String> {
    vec![
        "--allow-loopback-for-tests".into(),
        "--local-http-port".into(),
        world.honest_http.port().to_string(),
    ]
}

async fn post_caa(serve: &CoordinatorProcess, api_key: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/mpic", serve.base_url()))
        .bearer_auth(api_key)
        .json(&victim::caa_check())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let errors = OpenMpicSchema::load()
        .unwrap()
        .response_errors(200, &answer);
    assert!(errors.is_empty(), "not Open MPIC 3.9: {errors:#?}");
    answer
}

/// Issue 12's first bug: `mpic serve` ignored `[primary]`, so a check the
/// CA's own perspective refuses came back valid over the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_check_refuse_what_the_primary_refuses() {
    let world = World::start(&victim::zone(), &SIX_SITES).await.unwrap();
    let primary_view = world.dns.view(PRIMARY_VIEW);
    primary_view
        .override_text(r#"victim.example. 60 IN CAA 0 issue "other-ca.example""#)
        .unwrap();
    let key = new_api_key().unwrap();
    let toml = config(&world, &key.key_sha256);
    let serve = CoordinatorProcess::start_with_args(&toml, "info", &loopback_flags(&world))
        .await
        .unwrap();

    let refused = post_caa(&serve, &key.key).await;
    assert_eq!(refused["is_valid"], false, "{refused:#}");
    // Every remote perspective saw permission; only the primary did not.
    let perspectives = refused["perspectives"].as_array().unwrap();
    assert!(!perspectives.is_empty());
    let primary = &refused["x_mpic"]["primary"];
    assert_eq!(primary["verdict"], "fail", "{refused:#}");
    assert_eq!(primary["corroborated_by_remote"], false);
    assert!(
        refused["x_mpic"]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("primary perspective (fail)"),
        "{refused:#}"
    );
    let log = serve.log();
    // The primary's result is in the decision's own BR 5.4.1 line.
    assert!(
        log.lines()
            .any(|l| l.contains("MPIC decision")
                && l.contains("fail (corroborated by remote: false)")),
        "{log}"
    );
    assert!(log.contains("DNSSEC self-test passed"), "{log}");

    // The same case through the CLI gives the same decision.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mpic.toml");
    std::fs::write(&path, &toml).unwrap();
    let mut argv = vec![
        "check".to_owned(),
        "--config".to_owned(),
        path.display().to_string(),
        "caa".to_owned(),
        victim::DOMAIN.to_owned(),
        "--json".to_owned(),
    ];
    argv.extend(loopback_flags(&world));
    let out = mpic_binary::run(argv).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["is_valid"], false);
    assert_eq!(json["primary"]["verdict"], "fail");

    // With the primary seeing what the remotes see, the API answers valid.
    primary_view.clear_overrides();
    let valid = post_caa(&serve, &key.key).await;
    assert_eq!(valid["is_valid"], true, "{valid:#}");
    assert_eq!(valid["x_mpic"]["primary"]["verdict"], "pass");
    assert_eq!(valid["x_mpic"]["primary"]["corroborated_by_remote"], true);

    serve.stop().await.unwrap();
}
