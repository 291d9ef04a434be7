#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, RecordType};
use mpic_core::check::key_authorization_digest;
use mpic_core::nonce::Nonce;
use mpic_core::perspective::CheckCall;
use mpic_core::request_auth::{self, AuthError};
use mpic_core::testing::FakeNetwork;

use super::*;
use crate::Coordinator;
use crate::decision::ResultStatus;
use mpic_core::check::CheckRequest;

const KEY_AUTHORIZATION: &str = "token.thumbprint";

/// The name every check here asks for its TXT record.
const CHALLENGE_NAME: &str = "_acme-challenge.example.com";

/// A network whose only record is the challenge TXT `txt` (when set).
fn txt_network(txt: Option<&str>) -> FakeNetwork {
    let network = FakeNetwork::new();
    match txt {
        Some(value) => network.records(
            CHALLENGE_NAME,
            RecordType::TXT,
            vec![RData::TXT(TXT::new(vec![value.to_owned()]))],
        ),
        None => network,
    }
}

/// The in-process perspectives name their one resolver `table`.
impl ResolverNames for FakeNetwork {
    fn resolver_names(&self) -> Vec<String> {
        vec!["table".into()]
    }
}

fn expected_txt() -> String {
    data_encoding::BASE64URL_NOPAD.encode(&key_authorization_digest(KEY_AUTHORIZATION))
}

fn embedded(count: usize, txt: Option<String>) -> Embedded<FakeNetwork> {
    let options = EmbeddedOptions {
        count,
        ..EmbeddedOptions::default()
    };
    in_process(&options, |_| Ok(txt_network(txt.as_deref()))).unwrap()
}

fn dns_01() -> CheckRequest {
    CheckRequest::from_value(&serde_json::json!({
        "check_type": "dcv",
        "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {
            "validation_method": "acme-dns-01",
            "key_authorization": KEY_AUTHORIZATION,
        },
    }))
    .unwrap()
}

#[test]
fn sites_are_distinct_and_cover_every_rir() {
    for (i, a) in SITES.iter().enumerate() {
        for b in &SITES[i + 1..] {
            let (ca, cb) = (
                Coordinates::new(a.latitude, a.longitude).unwrap(),
                Coordinates::new(b.latitude, b.longitude).unwrap(),
            );
            assert!(
                ca.distance_km(&cb) > 500.0,
                "{} and {} are too close",
                a.place,
                b.place
            );
        }
    }
    let first_five: BTreeSet<Rir> = SITES.iter().take(5).map(|s| s.rir).collect();
    assert_eq!(first_five.len(), 5);
}

#[test]
fn each_perspective_gets_its_own_id_key_and_site() {
    let setup = embedded(DEFAULT_COUNT, None);
    let perspectives = &setup.config.perspectives;
    assert_eq!(perspectives.len(), DEFAULT_COUNT);
    let ids: Vec<&str> = perspectives.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "embedded-1",
            "embedded-2",
            "embedded-3",
            "embedded-4",
            "embedded-5",
            "embedded-6"
        ]
    );
    let keys: BTreeSet<[u8; 32]> = perspectives
        .iter()
        .map(|p| p.public_key.to_bytes())
        .collect();
    assert_eq!(keys.len(), DEFAULT_COUNT);
    assert!(!keys.contains(&setup.config.signing_key.verifying_key().to_bytes()));
    assert!(perspectives.iter().all(|p| p.url.scheme() == URL_SCHEME));
    assert!(
        perspectives
            .iter()
            .all(|p| p.region.starts_with("in-process"))
    );
    // Fresh keys every time.
    let again = embedded(DEFAULT_COUNT, None);
    assert_ne!(
        again.config.perspectives[0].public_key,
        perspectives[0].public_key
    );
}

#[test]
fn counts_outside_the_sites_are_refused() {
    for count in [0, 1, SITES.len() + 1] {
        let options = EmbeddedOptions {
            count,
            ..EmbeddedOptions::default()
        };
        let result = in_process(&options, |_| Ok(txt_network(None)));
        assert!(
            matches!(result, Err(EmbeddedError::Count { .. })),
            "{count}"
        );
    }
}

#[tokio::test]
async fn the_coordinator_verifies_in_process_reports_like_remote_ones() {
    let setup = embedded(DEFAULT_COUNT, Some(expected_txt()));
    let coordinator = Coordinator::new(setup.config, setup.transport).unwrap();
    let decision = coordinator.check(&dns_01()).await.unwrap();
    assert!(decision.is_valid(), "{:?}", decision.reasons());
    let attempt = decision.final_attempt().unwrap();
    assert_eq!(attempt.cohort.len(), DEFAULT_COUNT);
    let mut corroborated = 0;
    for result in &attempt.results {
        match &result.status {
            ResultStatus::Corroborated => {
                corroborated += 1;
                let body = result.verified.as_ref().unwrap();
                assert_eq!(body.perspective_id, result.perspective_id);
                assert_eq!(body.resolvers, ["table"]);
                let configured = coordinator
                    .config()
                    .perspectives
                    .iter()
                    .find(|p| p.id == result.perspective_id)
                    .unwrap();
                assert_eq!(
                    result.report.as_ref().unwrap().signer,
                    mpic_core::keys::format_verifying_key(&configured.public_key)
                );
            }
            ResultStatus::Cancelled => {}
            other => panic!("{}: {other:?}", result.perspective_id),
        }
    }
    assert!(corroborated >= attempt.required_corroborations.unwrap());
}

#[tokio::test]
async fn a_wrong_value_is_not_corroborated() {
    let setup = embedded(DEFAULT_COUNT, Some("something-else".into()));
    let coordinator = Coordinator::new(setup.config, setup.transport).unwrap();
    let decision = coordinator.check(&dns_01()).await.unwrap();
    assert!(!decision.is_valid());
    let attempt = decision.final_attempt().unwrap();
    assert!(attempt.results.iter().all(|r| matches!(
        &r.status,
        ResultStatus::NotCorroborated {
            reason: mpic_core::quorum::NonCorroboration::Mismatch { .. }
        } | ResultStatus::Cancelled
    )));
}

fn envelope(key: &SigningKey, call: &CheckCall, nonce_byte: u8) -> RequestEnvelope {
    let body = serde_json::to_vec(call).unwrap();
    let nonce = Nonce::new(vec![nonce_byte; 16]).unwrap();
    request_auth::sign_request(key, &body, &nonce, clock::now_ms()).unwrap()
}

fn call_for(id: &str) -> CheckCall {
    CheckCall {
        perspective_ids: vec![id.into()],
        attempt: 1,
        check: dns_01(),
    }
}

#[tokio::test]
async fn calls_are_authenticated_and_meant_for_the_perspective() {
    let setup = embedded(2, Some(expected_txt()));
    let coordinator_key = &setup.config.signing_key;
    let transport = &setup.transport;

    let good = envelope(coordinator_key, &call_for("embedded-1"), 1);
    let report = transport.answer("embedded-1", &good).await.unwrap();
    assert_eq!(
        report.signer,
        mpic_core::keys::format_verifying_key(&setup.config.perspectives[0].public_key)
    );

    let replayed = transport.answer("embedded-1", &good).await.unwrap_err();
    assert_eq!(
        replayed,
        InProcessRefusal::Refused(Refusal::Unauthenticated(AuthError::Replayed))
    );

    let stranger = SigningKey::from_bytes(&[42; 32]);
    let forged = envelope(&stranger, &call_for("embedded-1"), 2);
    let refused = transport.answer("embedded-1", &forged).await.unwrap_err();
    assert!(
        matches!(
            refused,
            InProcessRefusal::Refused(Refusal::Unauthenticated(AuthError::UnknownKey { .. }))
        ),
        "{refused}"
    );

    let misrouted = envelope(coordinator_key, &call_for("embedded-2"), 3);
    let refused = transport
        .answer("embedded-1", &misrouted)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            InProcessRefusal::Refused(Refusal::WrongPerspective { .. })
        ),
        "{refused}"
    );

    let unknown = envelope(coordinator_key, &call_for("embedded-9"), 4);
    let refused = transport.answer("embedded-9", &unknown).await.unwrap_err();
    assert_eq!(
        refused,
        InProcessRefusal::UnknownPerspective("embedded-9".into())
    );

    let mut tampered = envelope(coordinator_key, &call_for("embedded-1"), 5);
    tampered.signature[0] ^= 1;
    let refused = transport.answer("embedded-1", &tampered).await.unwrap_err();
    assert_eq!(
        refused,
        InProcessRefusal::Refused(Refusal::Unauthenticated(AuthError::BadSignature))
    );
}
