//! The production path itself: a worker without `MPIC_LOCAL_MODE` refuses
//! loopback, special-use and Cloudflare destinations with a typed reason
//! before any connection, for http-01 and acme-tls-alpn-01 alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;

use mpic_core::dcv::{DcvFailure, DcvObservation};
use mpic_core::network::HttpError;
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::redirect::FetchError;
use mpic_core::report::Verdict;
use mpic_tests::keys;
use mpic_tests::perspective_client;
use mpic_tests::workerd::{Perspective, PerspectiveSpec};

const ID: &str = "prod-fra";

async fn production_worker() -> Perspective {
    let mut spec = PerspectiveSpec::default();
    let vars = [
        ("PERSPECTIVE_ID", ID.to_string()),
        ("RIR", "ripe".into()),
        ("REGION", "eu-central".into()),
        // Never asked: every target below is an IP address.
        ("DOH_RESOLVERS", "https://dns.example/dns-query".into()),
        ("COORDINATOR_KEYS", keys::public_text(&keys::coordinator())),
        ("SIGNING_KEY", keys::seed_text(&keys::perspective(4))),
    ];
    for (k, v) in vars {
        spec.vars.insert(k.into(), v);
    }
    Perspective::start(&spec).await.unwrap()
}

async fn check(worker: &Perspective, check: serde_json::Value) -> (Verdict, DcvObservation) {
    let call: CheckCall = serde_json::from_value(
        serde_json::json!({"perspective_ids": [ID], "attempt": 1, "check": check}),
    )
    .unwrap();
    let verified = perspective_client::call(
        &worker.base_url(),
        &keys::perspective(4).verifying_key(),
        &call,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", worker.log()));
    match verified.observed {
        CheckObservation::Dcv(observation) => (verified.body.verdict, observation),
        other => panic!("not a DCV observation: {other:?}"),
    }
}

/// The refusal's text, if `failure` is a refusal by policy.
fn refusal(failure: &Option<DcvFailure>) -> Option<String> {
    match failure {
        Some(DcvFailure::Http {
            detail: FetchError::Http(HttpError::Refused(why)),
        })
        | Some(DcvFailure::Connection {
            detail: HttpError::Refused(why),
        }) => Some(why.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_worker_refuses_loopback_special_use_and_cloudflare_destinations() {
    // Where a connection would land if one were made (only root may bind
    // these ports; elsewhere the typed refusal is the evidence).
    let listeners: Vec<TcpListener> = ["127.0.0.1:80", "127.0.0.1:443", "[::1]:80", "[::1]:443"]
        .into_iter()
        .filter_map(|a| TcpListener::bind(a).ok())
        .collect();
    for listener in &listeners {
        listener.set_nonblocking(true).unwrap();
    }
    let worker = production_worker().await;
    let cases = [
        ("127.0.0.1", "127.0.0.1 is loopback"),
        ("::1", "::1 is loopback"),
        ("10.1.2.3", "10.1.2.3 is private"),
        ("169.254.169.254", "169.254.169.254 is link-local"),
        ("100.64.0.1", "100.64.0.1 is shared address space"),
        ("fd00::1", "fd00::1 is unique local"),
        ("104.16.0.1", "in Cloudflare's range 104.16.0.0/13"),
        ("2606:4700::1", "in Cloudflare's range 2606:4700::/32"),
    ];
    for (target, why) in cases {
        let http01 = serde_json::json!({
            "check_type": "dcv",
            "domain_or_ip_target": target,
            "dcv_check_parameters": {"validation_method": "acme-http-01", "token": "tok", "key_authorization": "tok.thumb"},
        });
        let tls_alpn = serde_json::json!({
            "check_type": "dcv",
            "domain_or_ip_target": target,
            "dcv_check_parameters": {"validation_method": "acme-tls-alpn-01", "key_authorization": "tok.thumb"},
        });
        for request in [http01, tls_alpn] {
            let (verdict, observation) = check(&worker, request).await;
            assert_ne!(verdict, Verdict::Pass, "{target}");
            let refused = refusal(&observation.failure)
                .unwrap_or_else(|| panic!("{target}: {:?}", observation.failure));
            assert!(refused.contains(why), "{target}: {refused}");
        }
    }
    for listener in &listeners {
        assert!(
            listener.accept().is_err(),
            "{:?} was contacted",
            listener.local_addr()
        );
    }
}
