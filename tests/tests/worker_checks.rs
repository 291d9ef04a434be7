//! Six real workerd perspectives (different ids, RIRs, keys and resolver
//! views) run CAA, http-01 and dns-01 checks against loopback fixtures and
//! answer with reports that verify. One perspective's view is poisoned for
//! each check, and exactly that perspective reports what the attacker shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;
use mpic_core::loopback::LocalPorts;
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::report::Verdict;
use mpic_tests::dns_fixture::{DnsWorld, DohServer};
use mpic_tests::http_fixture::acme_challenge_path;
use mpic_tests::keys;
use mpic_tests::perspective_client;
use mpic_tests::victim;
use mpic_tests::workerd::Perspective;
use mpic_tests::world::{SIX_SITES, World, perspective_spec};

fn check_call(perspective_id: &str, check: serde_json::Value) -> CheckCall {
    let json =
        serde_json::json!({"perspective_ids": [perspective_id], "attempt": 1, "check": check});
    serde_json::from_value(json).unwrap()
}

/// Runs `check` at every perspective; returns (id, verdict, reason) in site order.
async fn run_everywhere(world: &World, check: serde_json::Value) -> Vec<(String, Verdict, String)> {
    let check = &check;
    let calls = world.perspectives.iter().map(|p| {
        let call = check_call(p.site.id, check.clone());
        async move {
            let verified = perspective_client::call(&p.url(), &p.key.verifying_key(), &call)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}\nlog:\n{}", p.site.id, p.process.log()));
            // The report states who and where, as configured, and which resolver.
            assert_eq!(verified.body.perspective_id, p.site.id);
            assert_eq!(verified.body.rir, p.site.rir);
            assert_eq!(verified.body.resolvers, vec![p.doh_url.clone()]);
            assert!(verified.body.started_at_ms <= verified.body.finished_at_ms);
            let kind = match &verified.observed {
                CheckObservation::Caa(_) => "caa",
                CheckObservation::Dcv(_) => "dcv",
                CheckObservation::NotRun { .. } => "not_run",
            };
            assert_eq!(
                kind,
                check["check_type"].as_str().unwrap(),
                "{}",
                verified.body.reason
            );
            (
                p.site.id.to_string(),
                verified.body.verdict,
                verified.body.reason,
            )
        }
    });
    join_all(calls).await
}

fn assert_only_poisoned_fails(results: &[(String, Verdict, String)], poisoned: &str, check: &str) {
    for (id, verdict, reason) in results {
        let want = if id == poisoned {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        assert_eq!(*verdict, want, "{check} at {id}: {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_perspectives_check_caa_http01_and_dns01() {
    let world = World::start(&victim::zone(), &SIX_SITES).await.unwrap();
    victim::serve_challenges(&world).unwrap();
    let path = acme_challenge_path(victim::TOKEN);

    // CAA: one view sees a record naming another CA.
    world
        .perspective("sa-east")
        .unwrap()
        .view
        .override_text(r#"victim.example. 60 IN CAA 0 issue "evil-ca.example""#)
        .unwrap();
    // Talking to workers directly, the test names the CA's identity itself
    // (the coordinator would fill it in from its configuration).
    let mut caa = victim::caa_check();
    caa["caa_check_parameters"] = serde_json::json!({"caa_domains": ["ca.example"]});
    let results = run_everywhere(&world, caa).await;
    assert_only_poisoned_fails(&results, "sa-east", "caa");

    // http-01: one view resolves the victim to the attacker's server.
    world
        .perspective("eu-west")
        .unwrap()
        .view
        .override_text("victim.example. 60 IN A 127.0.0.2")
        .unwrap();
    let results = run_everywhere(&world, victim::http01_check()).await;
    assert_only_poisoned_fails(&results, "eu-west", "http-01");
    assert_eq!(
        world.attacker_http.request_count(&path),
        1,
        "only the poisoned perspective reached the attacker"
    );
    assert_eq!(world.honest_http.request_count(&path), 5);

    // dns-01: one view sees the attacker's TXT.
    world
        .perspective("ap-southeast")
        .unwrap()
        .view
        .override_text(r#"_acme-challenge.victim.example. 60 IN TXT "attacker-value""#)
        .unwrap();
    let results = run_everywhere(&world, victim::dns01_check()).await;
    assert_only_poisoned_fails(&results, "ap-southeast", "dns-01");
}

/// A check that outlasts the perspective's own deadline (`CHECK_DEADLINE_MS`)
/// comes back as a signed `error` report that says so, instead of a call the
/// coordinator would have to time out without a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_past_the_perspectives_deadline_is_a_signed_error() {
    let dns = DohServer::start(DnsWorld::from_zone_text(&victim::zone()).unwrap())
        .await
        .unwrap();
    let site = &SIX_SITES[0];
    let key = keys::perspective(1);
    let doh_url = dns.url_for(site.id);
    // Held unanswered longer than the deadline (until the worker's DoH
    // exchange gives up after 5 s).
    dns.view(site.id).timeout(victim::DOMAIN).unwrap();
    let mut spec = perspective_spec(
        site,
        &key,
        &doh_url,
        LocalPorts {
            http: 9,
            https: None,
        },
    );
    spec.vars.insert("CHECK_DEADLINE_MS".into(), "1000".into());
    let process = Perspective::start(&spec).await.unwrap();

    let mut caa = victim::caa_check();
    caa["caa_check_parameters"] = serde_json::json!({"caa_domains": ["ca.example"]});
    let verified = perspective_client::call(
        &process.base_url(),
        &key.verifying_key(),
        &check_call(site.id, caa),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", process.log()));
    assert_eq!(
        verified.body.verdict,
        Verdict::Error,
        "{}",
        verified.body.reason
    );
    // The lookup in flight failed with its own typed timeout, cut to the
    // check's deadline, and the reason says the deadline was reached.
    assert!(
        verified.body.reason.contains("deadline, 1000 ms"),
        "{}",
        verified.body.reason
    );
    assert!(
        verified.body.reason.contains("timeout"),
        "{}",
        verified.body.reason
    );
    assert!(
        matches!(verified.observed, CheckObservation::Caa(_)),
        "{:?}",
        verified.observed
    );
    drop(process);
    dns.stop().await;
}
