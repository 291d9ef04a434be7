//! The real `mpic` binary against the loopback fixtures: `mpic check` with
//! its in-process perspectives (DoH fixture, challenge server on loopback
//! through the hidden test flags), with a configuration and a primary, and
//! `mpic perspectives` against fixture-served identities.
//!
//! The binary is built (or found up to date) by `cargo build -p
//! mpic-coordinator --bin mpic` in the target directory this test runs from
//! ([`mpic_tests::mpic_binary`]).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use mpic_core::check::key_authorization_digest;
use mpic_tests::dns_fixture::{self, DnsWorld, DohServer};
use mpic_tests::http_fixture::{HttpRule, HttpServer, acme_challenge_path};
use mpic_tests::keys;
use mpic_tests::tls_fixture::{TlsAlpnCertificate, TlsBehaviour, TlsServer};
use mpic_tests::world::SIX_SITES;

const TOKEN: &str = "tok-Aa09_-";
const KEY_AUTHORIZATION: &str = "tok-Aa09_-.thumb-Xy_12";

/// `target/<profile>/mpic`, built by cargo for the profile this test was
/// built with, so it is never stale.
fn mpic_binary() -> &'static Path {
    mpic_tests::mpic_binary::mpic_binary().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `mpic args` off the async runtime (the fixtures keep serving).
async fn mpic(args: Vec<String>) -> Output {
    mpic_tests::mpic_binary::run(args)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command exited with `code`; otherwise fails showing both streams.
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn zones() -> String {
    let digest =
        data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(KEY_AUTHORIZATION));
    format!(
        r#"
$TTL 60
$ORIGIN example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
victim A 127.0.0.1
victim CAA 0 issue "ca.example"
_acme-challenge.victim TXT "{digest}"
forbidding A 127.0.0.1
forbidding CAA 0 issue "other-ca.example"
"#
    )
}

/// A DoH resolver serving [`zones`], the challenge server, and a TLS
/// server answering acme-tls/1 for the victim.
struct Fixtures {
    dns: DohServer,
    http: HttpServer,
    tls: TlsServer,
}

impl Fixtures {
    async fn start() -> Self {
        let world = DnsWorld::from_zone_text(&zones()).unwrap();
        let dns = DohServer::start(world).await.unwrap();
        let http = HttpServer::start().await.unwrap();
        http.serve_body(&acme_challenge_path(TOKEN), KEY_AUTHORIZATION)
            .unwrap();
        let tls = TlsServer::start(TlsBehaviour::acme_tls_alpn(
            TlsAlpnCertificate::valid("victim.example", KEY_AUTHORIZATION).unwrap(),
        ))
        .await
        .unwrap();
        Self { dns, http, tls }
    }

    /// The hidden flags pointing the in-process perspectives (and the
    /// primary) at the fixtures.
    fn loopback_args(&self) -> Vec<String> {
        vec![
            "--doh-url".into(),
            self.dns.url_for("default"),
            "--allow-loopback-for-tests".into(),
            "--local-http-port".into(),
            self.http.port().to_string(),
            "--local-https-port".into(),
            self.tls.port().to_string(),
            // The DNSSEC self-test's names that the fixture serves.
            "--dnssec-bogus-name".into(),
            dns_fixture::BOGUS_NAME.into(),
            "--dnssec-signed-name".into(),
            dns_fixture::SIGNED_NAME.into(),
        ]
    }

    /// `mpic check --in-process 6 ARGS` against the fixtures.
    async fn check(&self, args: &[&str]) -> Output {
        let mut argv: Vec<String> = vec!["check".into(), "--in-process".into(), "6".into()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        argv.extend(self.loopback_args());
        mpic(argv).await
    }

    async fn stop(self) {
        self.dns.stop().await;
        self.http.stop().await;
        self.tls.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_caa_check_is_valid_and_says_it_is_not_br_compliant() {
    let fixtures = Fixtures::start().await;
    let out = fixtures
        .check(&["caa", "victim.example", "--caa-domain", "ca.example"])
        .await;
    let stdout = text(&out.stdout);
    // Shown with --nocapture: what an operator sees.
    println!("{stdout}");
    // Valid, but from one host: exit 3, never the 0 a script would issue on.
    assert_exit(&out, 3);
    assert!(
        stdout.contains("through 6 in-process perspectives"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT BR-COMPLIANT: "), "{stdout}");
    assert!(stdout.contains("decision: VALID (quorum "), "{stdout}");
    assert!(stdout.contains("embedded-1"), "{stdout}");
    assert!(stdout.contains("CAA permits issuance"), "{stdout}");
    fixtures.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caa_that_names_another_ca_is_not_corroborated() {
    let fixtures = Fixtures::start().await;
    let out = fixtures
        .check(&["caa", "forbidding.example", "--caa-domain", "ca.example"])
        .await;
    let stdout = text(&out.stdout);
    assert_exit(&out, 1);
    assert!(stdout.contains("decision: NOT CORROBORATED"), "{stdout}");
    assert!(stdout.contains("CAA forbids issuance"), "{stdout}");
    assert!(stdout.contains("NOT BR-COMPLIANT: "), "{stdout}");
    fixtures.stop().await;
}

/// The in-process perspectives (the native network) perform
/// acme-tls-alpn-01 with the same core code as the worker: RFC 8737's offer,
/// and the certificate judged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_tls_alpn_01_is_performed_by_the_in_process_perspectives() {
    let fixtures = Fixtures::start().await;
    let args = [
        "dcv",
        "acme-tls-alpn-01",
        "victim.example",
        "--key-authorization",
        KEY_AUTHORIZATION,
    ];
    let valid = fixtures.check(&args).await;
    let stdout = text(&valid.stdout);
    assert_exit(&valid, 3);
    assert!(stdout.contains("decision: VALID (quorum "), "{stdout}");
    let hellos = fixtures.tls.seen();
    // At least the quorum's four handshakes; the rest may be cancelled once
    // the decision is certain.
    assert!((4..=6).contains(&hellos.len()), "{hellos:?}");
    for hello in hellos {
        assert_eq!(hello.sni.as_deref(), Some("victim.example"));
        assert_eq!(hello.alpn_offered, vec![b"acme-tls/1".to_vec()]);
    }

    fixtures
        .tls
        .set_behaviour(TlsBehaviour::acme_tls_alpn(
            TlsAlpnCertificate::digest_mismatch("victim.example", KEY_AUTHORIZATION).unwrap(),
        ))
        .unwrap();
    let wrong = fixtures.check(&args).await;
    let stdout = text(&wrong.stdout);
    assert_exit(&wrong, 1);
    assert!(stdout.contains("decision: NOT CORROBORATED"), "{stdout}");
    assert!(
        stdout.contains("acme-tls-alpn-01 saw something else (digest_mismatch)"),
        "{stdout}"
    );
    fixtures.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_http_01_and_dns_01_are_valid() {
    let fixtures = Fixtures::start().await;
    let http01 = fixtures
        .check(&[
            "dcv",
            "acme-http-01",
            "victim.example",
            "--token",
            TOKEN,
            "--key-authorization",
            KEY_AUTHORIZATION,
        ])
        .await;
    assert_exit(&http01, 3);
    // Fetched by name (Host header), from the address the DoH view gave.
    let seen = fixtures.http.requests();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|r| r.host.as_deref() == Some("victim.example")
                && r.path == acme_challenge_path(TOKEN)),
        "{seen:?}"
    );

    let dns01 = fixtures
        .check(&[
            "dcv",
            "acme-dns-01",
            "victim.example",
            "--key-authorization",
            KEY_AUTHORIZATION,
        ])
        .await;
    assert_exit(&dns01, 3);

    // A wrong key authorization at the challenge URL is seen by all.
    fixtures
        .http
        .set_rule(
            &acme_challenge_path(TOKEN),
            HttpRule::body("tok-Aa09_-.attacker"),
        )
        .unwrap();
    let wrong = fixtures
        .check(&[
            "dcv",
            "acme-http-01",
            "victim.example",
            "--token",
            TOKEN,
            "--key-authorization",
            KEY_AUTHORIZATION,
        ])
        .await;
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong.stdout));
    fixtures.stop().await;
}

/// Issue 15 item 3: a script that lost its MPIC_CONFIG must not get exit 0
/// from one host's view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configuration_a_check_needs_in_process_and_never_exits_0() {
    let fixtures = Fixtures::start().await;
    let mut argv: Vec<String> = [
        "check",
        "caa",
        "victim.example",
        "--caa-domain",
        "ca.example",
    ]
    .map(str::to_owned)
    .to_vec();
    argv.extend(fixtures.loopback_args());
    let out = mpic(argv).await;
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--config") && stderr.contains("--in-process"),
        "{stderr}"
    );
    // Nothing was asked of any resolver or web server.
    assert!(fixtures.http.requests().is_empty());

    let valid = fixtures
        .check(&["caa", "victim.example", "--caa-domain", "ca.example"])
        .await;
    assert_exit(&valid, 3);
    let help = mpic(vec!["check".into(), "--help".into()]).await;
    assert!(
        text(&help.stdout).contains("3  valid, but only in-process"),
        "{}",
        text(&help.stdout)
    );
    fixtures.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_exit_2_naming_the_field() {
    let fixtures = Fixtures::start().await;
    let cases: [(&[&str], &[&str]); 4] = [
        (
            &[
                "dcv",
                "acme-http-01",
                "victim.example",
                "--key-authorization",
                "t.k",
            ],
            &["dcv_check_parameters.token", "--token"],
        ),
        (
            &[
                "dcv",
                "acme-dns-01",
                "bad name.example",
                "--key-authorization",
                "t.k",
            ],
            &["domain_or_ip_target"],
        ),
        (&["caa", "victim.example"], &["--caa-domain"]),
        (
            &["dcv", "acme-http-99", "victim.example"],
            &["acme-http-99"],
        ),
    ];
    for (args, wanted) in cases {
        let out = fixtures.check(args).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for want in wanted {
            assert!(stderr.contains(want), "{args:?}: {stderr}");
        }
    }
    // The test-only flags are hidden from help.
    let help = mpic(vec!["check".into(), "--help".into()]).await;
    assert!(!text(&help.stdout).contains("loopback"));
    assert!(text(&help.stdout).contains("Examples:"));
    fixtures.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_parses_and_carries_verified_reports_and_the_primary() {
    let fixtures = Fixtures::start().await;
    let out = fixtures
        .check(&[
            "caa",
            "victim.example",
            "--caa-domain",
            "ca.example",
            "--json",
            "--primary",
        ])
        .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The primary's resolver passed its start-up DNSSEC self-test.
    assert!(
        !text(&out.stderr).contains("DNSSEC self-test"),
        "{}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["is_valid"], true);
    assert_eq!(json["mode"], "in_process");
    assert_eq!(json["br_compliant"], false);
    assert!(json["notice"].as_str().unwrap().contains("NOT BR 3.2.2.9"));
    let results = json["attempts"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    let verified: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["status"] == "corroborated")
        .collect();
    assert!(verified.len() >= 4, "{results:?}");
    for r in verified {
        assert_eq!(r["verified"]["perspective_id"], r["perspective_id"]);
        assert_eq!(r["verified"]["verdict"], "pass");
        assert!(r["report"]["signature"].is_string());
    }
    assert_eq!(json["primary"]["verdict"], "pass");
    assert_eq!(json["primary"]["corroborated_by_remote"], true);
    assert_eq!(
        json["quorum"].as_str().unwrap().split('/').nth(1),
        Some("6")
    );
    fixtures.stop().await;
}

/// Six perspectives (the SIX_SITES places) at `http://127.0.0.1:PORT/<id>`.
fn config_text(http: &HttpServer, extra: &str) -> String {
    let mut text = format!(
        r#"
[coordinator]
signing_key = "{seed}"
cohort_secret = "a cohort secret of at least thirty-two bytes"

[defaults]
perspective_count = 6
call_timeout_ms = 5000
deadline_ms = 10000
max_attempts = 1
caa_issuer_domains = ["ca.example"]
{extra}
"#,
        seed = keys::seed_text(&keys::coordinator()),
    );
    for (i, site) in SIX_SITES.iter().enumerate() {
        let key = keys::perspective(u8::try_from(i + 1).unwrap());
        let url = format!("http://127.0.0.1:{}/{}", http.port(), site.id);
        text.push_str(&site.perspective_toml(&url, &key.verifying_key()));
    }
    text
}

fn serve_identity(http: &HttpServer, index: usize, id: &str, rir: &str, key_n: u8) {
    let body = serde_json::json!({
        "perspective_id": id,
        "rir": rir,
        "region": SIX_SITES[index].region,
        "public_key": keys::public_text(&keys::perspective(key_n)),
        "code_version": "0.1.0",
        "resolvers": ["http://127.0.0.1:1/dns-query"],
        "mode": "local",
        "dnssec_self_test": {
            "names": {"bogus": "dnssec-failed.org", "signed": "isc.org"},
            "resolvers": [{
                "resolver": "http://127.0.0.1:1/dns-query",
                "bogus": {"kind": "answer", "rcode": "SERVFAIL", "authentic_data": false},
                "signed": {"kind": "answer", "rcode": "NOERROR", "authentic_data": true},
                "failure": null,
            }],
        },
    });
    http.set_rule(
        &format!("/{}/v1/identity", SIX_SITES[index].id),
        HttpRule::Respond {
            status: 200,
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perspectives_compares_each_identity_with_the_configuration() {
    let http = HttpServer::start().await.unwrap();
    for (i, site) in SIX_SITES.iter().enumerate() {
        serve_identity(
            &http,
            i,
            site.id,
            site.rir.as_str(),
            u8::try_from(i + 1).unwrap(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mpic.toml");
    std::fs::write(&config, config_text(&http, "")).unwrap();
    let args = |json: bool| {
        let mut argv = vec![
            "perspectives".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
        ];
        if json {
            argv.push("--json".into());
        }
        argv
    };

    let healthy = mpic(args(false)).await;
    let stdout = text(&healthy.stdout);
    assert_exit(&healthy, 0);
    assert!(stdout.starts_with("PERSPECTIVE"), "{stdout}");
    assert!(
        stdout.contains("all 6 perspectives answered and match the configuration"),
        "{stdout}"
    );

    // One answers with another key, one claims another RIR, one is gone.
    serve_identity(&http, 0, SIX_SITES[0].id, SIX_SITES[0].rir.as_str(), 99);
    serve_identity(&http, 2, SIX_SITES[2].id, "apnic", 3);
    http.remove_rule(&format!("/{}/v1/identity", SIX_SITES[5].id));
    let broken = mpic(args(false)).await;
    let stdout = text(&broken.stdout);
    assert_eq!(broken.status.code(), Some(2), "{stdout}");
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {stdout}"))
            .to_owned()
    };
    assert!(line(SIX_SITES[0].id).contains(" NO "), "{stdout}");
    assert!(
        line(SIX_SITES[2].id).contains("ripe (claims apnic)"),
        "{stdout}"
    );
    assert!(line(SIX_SITES[5].id).contains("HTTP 404"), "{stdout}");
    assert!(
        stdout.contains("3 of 6 perspectives have problems"),
        "{stdout}"
    );

    let json = mpic(args(true)).await;
    assert_eq!(json.status.code(), Some(2));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["all_healthy"], false);
    assert_eq!(parsed["perspectives"].as_array().unwrap().len(), 6);
    assert_eq!(parsed["perspectives"][1]["problems"], serde_json::json!([]));
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_configuration_unreachable_perspectives_do_not_corroborate_the_primary() {
    let fixtures = Fixtures::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mpic.toml");
    // The perspectives' base URLs are on the challenge server, which has no
    // /v1/check: every call fails (HTTP 404).
    let primary = format!(
        "[primary]\ndoh_url = \"{}\"",
        fixtures.dns.url_for("default")
    );
    std::fs::write(&config, config_text(&fixtures.http, &primary)).unwrap();
    let mut argv = vec![
        "check".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
        "caa".to_owned(),
        "victim.example".to_owned(),
        "--json".to_owned(),
    ];
    // The primary resolves through the fixture; only its DoH URL comes from
    // the file, the loopback flags from the command line.
    argv.extend(fixtures.loopback_args().into_iter().skip(2));
    let out = mpic(argv).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["mode"], "remote");
    assert!(json.get("br_compliant").is_none());
    assert_eq!(json["is_valid"], false);
    assert_eq!(json["primary"]["verdict"], "pass");
    assert_eq!(json["primary"]["corroborated_by_remote"], false);
    let results = json["attempts"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["status"] != "corroborated"),
        "{results:?}"
    );
    fixtures.stop().await;
}

/// A reader that goes away (`mpic keygen | head -1`) ends the command quietly
/// with exit 2: no panic, and never the success a script could mistake for
/// a complete answer.
#[test]
fn a_closed_stdout_is_a_quiet_error_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(mpic_binary())
        .arg("keygen")
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.is_empty(),
        "nothing to say on a closed pipe: {stderr}"
    );
}

/// Issue 15 item 8: the primary runs the DNSSEC self-test at start-up and
/// says so when its resolver fails it; here the resolver (the fixture's view
/// made to pass on AD without validating) accepts the bogus name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_shows_a_resolver_that_fails_the_dnssec_self_test_at_start_up() {
    let fixtures = Fixtures::start().await;
    fixtures.dns.view("default").set_validating(false);
    let out = fixtures
        .check(&[
            "caa",
            "victim.example",
            "--caa-domain",
            "ca.example",
            "--primary",
        ])
        .await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("primary perspective's resolver failed the DNSSEC self-test"),
        "{stderr}"
    );
    assert!(stderr.contains(dns_fixture::BOGUS_NAME), "{stderr}");
    // The check itself still runs: nothing failed here but the test.
    assert_exit(&out, 3);
    fixtures.stop().await;
}
