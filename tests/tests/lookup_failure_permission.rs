//! When may a CAA lookup failure count as permission (BR 3.2.2.8)? Asked of
//! the real worker under workerd, resolving through the loopback DoH
//! fixture, which answers as a validating resolver does: SERVFAIL with an
//! empty answer section, RFC 8914 extended errors, CD honoured, and the
//! DNSSEC self-test's probe names served by every view.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_core::loopback::LocalPorts;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use mpic_coordinator::PerspectiveConfig;
use mpic_coordinator::probe_all;
use mpic_core::caa::lookup::{QueryAttempt, QueryFailure};
use mpic_core::caa::{CaaObservation, CaaOutcome, NotPermission};
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::report::Verdict;
use mpic_tests::dns_fixture::{self, DnsWorld, DohServer, Fault, ViewHandle};
use mpic_tests::keys;
use mpic_tests::perspective_client::{self, Verified};
use mpic_tests::workerd::Perspective;
use mpic_tests::world::{SIX_SITES, perspective_spec};
use serde_json::json;

/// A signed root, `example.` and `secure.example`; `victim.example` is an
/// insecure delegation. `alias.victim.example` is an alias into the signed
/// zone, whose CAA names another CA.
const ZONES: &str = r#"
$TTL 300
$ORIGIN .
@ SOA a.root.test. hostmaster.test. 1 7200 3600 1209600 300
example. DS 4242 13 2 0123456789ABCDEF0123456789ABCDEF
$ORIGIN example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
victim NS ns.victim
secure DS 31337 13 2 FEDCBA9876543210FEDCBA9876543210
$ORIGIN victim.example.
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
@ A 127.0.0.1
@ CAA 0 issue "ca.example"
ns A 127.0.0.1
alias CNAME www.secure.example.
$ORIGIN secure.example.
@ SOA ns.victim.example. hostmaster 1 7200 3600 1209600 300
@ NS ns.victim.example.
www CAA 0 issue "other-ca.example"
www A 127.0.0.1
"#;

fn world() -> DnsWorld {
    DnsWorld::from_zone_text(ZONES)
        .unwrap()
        .signed(".")
        .unwrap()
        .signed("example")
        .unwrap()
        .signed("secure.example")
        .unwrap()
}

/// One perspective resolving through `views` of `dns`, in order.
struct Setup {
    dns: DohServer,
    perspective: Perspective,
    key: ed25519_dalek::SigningKey,
}

impl Setup {
    async fn start(views: &[&str]) -> Self {
        let dns = DohServer::start(world()).await.unwrap();
        let site = &SIX_SITES[0];
        let key = keys::perspective(1);
        let urls: Vec<String> = views.iter().map(|v| dns.url_for(v)).collect();
        let spec = perspective_spec(
            site,
            &key,
            &urls.join(","),
            LocalPorts {
                http: 9,
                https: None,
            },
        );
        let perspective = Perspective::start(&spec).await.unwrap();
        Self {
            dns,
            perspective,
            key,
        }
    }

    fn view(&self, name: &str) -> ViewHandle {
        self.dns.view(name)
    }

    /// A CAA check of `domain` that allows a lookup failure to count as
    /// permission.
    async fn caa(&self, domain: &str) -> (Verified, CaaObservation) {
        let call: CheckCall = serde_json::from_value(json!({
            "perspective_ids": [SIX_SITES[0].id],
            "attempt": 1,
            "check": {
                "check_type": "caa",
                "domain_or_ip_target": domain,
                "caa_check_parameters": {"caa_domains": ["ca.example"], "allow_lookup_failure": true},
            },
        }))
        .unwrap();
        let verified = perspective_client::call(
            &self.perspective.base_url(),
            &self.key.verifying_key(),
            &call,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", self.perspective.log()));
        let CheckObservation::Caa(observation) = verified.observed.clone() else {
            panic!("not a CAA observation: {:?}", verified.observed)
        };
        (verified, observation)
    }

    async fn identity(&self, query: &str) -> (u16, serde_json::Value) {
        let response = reqwest::get(format!(
            "{}/v1/identity{query}",
            self.perspective.base_url()
        ))
        .await
        .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// What the coordinator's identity probe (`mpic perspectives`) finds
    /// wrong with this perspective, by kind.
    async fn probe_problems(&self) -> Vec<String> {
        let site = &SIX_SITES[0];
        let url = url::Url::parse(&self.perspective.base_url()).unwrap();
        let config = PerspectiveConfig {
            id: site.id.into(),
            check_url: url.join("v1/check").unwrap(),
            url,
            rir: site.rir,
            region: site.region.into(),
            location: site.coordinates().unwrap(),
            public_key: self.key.verifying_key(),
        };
        let results = probe_all(&[config], Duration::from_secs(10)).await.unwrap();
        results[0]
            .problems
            .iter()
            .map(|p| {
                serde_json::to_value(p).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    async fn stop(self) {
        drop(self.perspective);
        self.dns.stop().await;
    }
}

fn not_permission(observation: &CaaObservation) -> &NotPermission {
    match &observation.outcome {
        CaaOutcome::LookupFailed { not_permission, .. } => not_permission,
        other => panic!("not a refused lookup failure: {other:?}"),
    }
}

/// (resolver, CD) of each answered attempt at the first name of the climb.
fn attempts(observation: &CaaObservation) -> Vec<(String, bool)> {
    observation.steps[0]
        .attempts
        .iter()
        .filter_map(QueryAttempt::answered_by)
        .map(|(resolver, cd)| (resolver.to_owned(), cd))
        .collect()
}

fn fail_caa(view: &ViewHandle, name: &str, fault: Fault) {
    view.set_fault(name, Some(RecordType::CAA), fault).unwrap();
}

fn servfail_caa(view: &ViewHandle, name: &str) {
    fail_caa(view, name, Fault::Rcode(ResponseCode::ServFail));
}

/// SERVFAIL with the RFC 8914 extended error `info_code`.
fn servfail_with_ede(view: &ViewHandle, name: &str, info_code: u16) {
    let rcode = ResponseCode::ServFail;
    fail_caa(view, name, Fault::ExtendedError { rcode, info_code });
}

/// The baseline the other tests break: a SERVFAIL at a name under an
/// insecure delegation, retried (with CD, the perspective having one
/// resolver), from a resolver that passes the self-test, is permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_servfail_under_an_insecure_delegation_is_permission() {
    let setup = Setup::start(&["only"]).await;
    servfail_caa(&setup.view("only"), "victim.example");
    let (verified, observation) = setup.caa("victim.example").await;
    assert_eq!(
        verified.body.verdict,
        Verdict::Pass,
        "{}",
        verified.body.reason
    );
    let CaaOutcome::LookupFailurePermitted { proof, .. } = &observation.outcome else {
        panic!("{:?}", observation.outcome)
    };
    assert_eq!(proof.names[0].insecure_delegation, "victim.example");
    let url = setup.dns.url_for("only");
    assert_eq!(attempts(&observation), [(url.clone(), false), (url, true)]);
    // The self-test asked both probes.
    let only = setup.view("only");
    assert_eq!(only.query_count(dns_fixture::BOGUS_NAME, RecordType::A), 1);
    assert_eq!(only.query_count(dns_fixture::SIGNED_NAME, RecordType::A), 1);
    setup.stop().await;
}

/// Issue 15 item 2: the resolver's SERVFAIL for `alias.victim.example`
/// hides that it is an alias into the signed `secure.example`, where the
/// attacker made the CAA question fail. The perspective asks for the alias
/// and cannot prove the target insecure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_alias_into_a_failing_signed_zone_is_not_permission() {
    let setup = Setup::start(&["only"]).await;
    servfail_caa(&setup.view("only"), "www.secure.example");
    let (verified, observation) = setup.caa("alias.victim.example").await;
    assert_eq!(
        verified.body.verdict,
        Verdict::Error,
        "{}",
        verified.body.reason
    );
    // As a validating resolver answers, the failure named no alias.
    let CaaOutcome::LookupFailed { failure, .. } = &observation.outcome else {
        panic!("{:?}", observation.outcome)
    };
    assert!(failure.cname_chain.is_empty(), "{failure:?}");
    assert!(
        matches!(not_permission(&observation), NotPermission::NotProvenInsecure { name, .. } if name == "www.secure.example"),
        "{:?}",
        observation.outcome
    );
    assert_eq!(
        setup
            .view("only")
            .query_count("alias.victim.example", RecordType::CNAME),
        1
    );
    setup.stop().await;
}

/// Issue 15 item 7: REFUSED is our own resolver refusing us, and a SERVFAIL
/// whose extended error blames the resolver is the resolver's; neither is
/// the domain's failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_of_the_perspectives_own_resolver_is_never_permission() {
    let setup = Setup::start(&["only"]).await;
    let only = setup.view("only");
    fail_caa(&only, "victim.example", Fault::Rcode(ResponseCode::Refused));
    let (verified, observation) = setup.caa("victim.example").await;
    assert_eq!(verified.body.verdict, Verdict::Error);
    assert_eq!(
        not_permission(&observation),
        &NotPermission::InsideCaInfrastructure {
            failure: QueryFailure::Refused
        }
    );

    // EDE 18 (Prohibited): this resolver will not ask.
    servfail_with_ede(&only, "victim.example", 18);
    let (verified, observation) = setup.caa("victim.example").await;
    assert_eq!(verified.body.verdict, Verdict::Error);
    assert!(
        matches!(
            not_permission(&observation),
            NotPermission::InsideCaInfrastructure {
                failure: QueryFailure::ResolverFailure { extended_errors, .. }
            } if extended_errors[0].info_code == 18
        ),
        "{:?}",
        observation.outcome
    );

    // EDE 22 (No Reachable Authority): the domain's servers failed.
    servfail_with_ede(&only, "victim.example", 22);
    let (verified, _) = setup.caa("victim.example").await;
    assert_eq!(
        verified.body.verdict,
        Verdict::Pass,
        "{}",
        verified.body.reason
    );
    setup.stop().await;
}

/// Issue 15 item 7: with two resolvers the retry goes to the other one, and
/// the signed report says which resolver answered each attempt. Here the
/// second resolver answers, so there is no failure at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_goes_to_the_perspectives_other_resolver() {
    let setup = Setup::start(&["first", "second"]).await;
    servfail_caa(&setup.view("first"), "victim.example");
    let (verified, observation) = setup.caa("victim.example").await;
    assert_eq!(
        verified.body.verdict,
        Verdict::Pass,
        "{}",
        verified.body.reason
    );
    assert!(
        matches!(observation.outcome, CaaOutcome::Permitted { .. }),
        "{:?}",
        observation.outcome
    );
    assert_eq!(
        attempts(&observation),
        [
            (setup.dns.url_for("first"), false),
            (setup.dns.url_for("second"), false)
        ]
    );
    assert_eq!(
        setup
            .view("second")
            .query_count("victim.example", RecordType::CAA),
        1
    );
    setup.stop().await;
}

/// Issue 15 item 8: a resolver that passes on AD without validating accepts
/// the bogus probe. The identity document shows it on request, and while it
/// fails, the perspective's lookup failures are never permission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolver_that_fails_the_dnssec_self_test_gives_no_permission() {
    let setup = Setup::start(&["only"]).await;
    let only = setup.view("only");

    let (status, identity) = setup.identity("?dnssec_self_test=run").await;
    assert_eq!(status, 200, "{identity}");
    assert_eq!(
        identity["dnssec_test_names"]["bogus"],
        dns_fixture::BOGUS_NAME
    );
    let test = &identity["dnssec_self_test"]["resolvers"][0];
    assert_eq!(test["resolver"], setup.dns.url_for("only"));
    assert_eq!(test["failure"], serde_json::Value::Null, "{identity}");
    // Without the query the test does not run.
    let (_, plain) = setup.identity("").await;
    assert!(plain.get("dnssec_self_test").is_none(), "{plain}");
    for query in ["?dnssec_self_test=maybe", "?dnssec_self_test=run&other=1"] {
        let (status, _) = setup.identity(query).await;
        assert_eq!(status, 400, "{query}");
    }

    // `mpic perspectives` reads the same document.
    assert_eq!(setup.probe_problems().await, Vec::<String>::new());

    only.set_validating(false);
    let (_, identity) = setup.identity("?dnssec_self_test=run").await;
    let failure = &identity["dnssec_self_test"]["resolvers"][0]["failure"];
    assert_eq!(failure["kind"], "bogus_accepted", "{identity}");
    assert_eq!(setup.probe_problems().await, ["dnssec_self_test_failed"]);

    servfail_caa(&only, "victim.example");
    let (verified, observation) = setup.caa("victim.example").await;
    assert_eq!(verified.body.verdict, Verdict::Error);
    assert!(
        matches!(not_permission(&observation), NotPermission::ResolverNotValidating { self_test } if !self_test.passed()),
        "{:?}",
        observation.outcome
    );
    assert!(
        verified.body.reason.contains("self-test") || verified.body.reason.contains("validat"),
        "{}",
        verified.body.reason
    );
    setup.stop().await;
}
