//! Attack scenarios, end to end: the coordinator fans out over HTTP to six
//! real workerd perspectives, each resolving through its own DoH view of the
//! loopback fixtures, and an attacker poisons some of those views.
//!
//! Every scenario asserts the decision AND each perspective's result, so it
//! fails if quorum counting, report signature checks or RIR diversity break.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mpic_coordinator::{Decision, ResultStatus};
use mpic_core::check::CheckRequest;
use mpic_core::quorum::NonCorroboration;
use mpic_core::rir::Rir;
use mpic_tests::decisions::{result, summary};
use mpic_tests::evidence_audit;
use mpic_tests::tcp_sink::TcpSink;
use mpic_tests::victim;
use mpic_tests::world::{CoordinatorSetup, SIX_SITES, Site, World};

fn caa() -> CheckRequest {
    CheckRequest::from_value(&victim::caa_check()).unwrap()
}

fn http01() -> CheckRequest {
    CheckRequest::from_value(&victim::http01_check()).unwrap()
}

fn dns01() -> CheckRequest {
    CheckRequest::from_value(&victim::dns01_check()).unwrap()
}

fn tls_alpn01() -> CheckRequest {
    CheckRequest::from_value(&victim::tls_alpn01_check()).unwrap()
}

async fn start_world(sites: &[Site]) -> World {
    let world = World::start(&victim::zone(), sites).await.unwrap();
    victim::serve_challenges(&world).unwrap();
    victim::serve_tls_alpn(&world).unwrap();
    world
}

/// Every decision is also stored as evidence and re-verified offline.
async fn decide(world: &World, setup: &CoordinatorSetup, spec: &CheckRequest) -> Decision {
    let coordinator = world.coordinator(setup).unwrap();
    let decision = coordinator.check(spec).await.unwrap();
    evidence_audit::keep_and_verify(&coordinator, &decision, world.evidence_dir())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", summary(&decision)));
    decision
}

/// `affected` perspectives must not corroborate, and their reason (when they
/// answered before the decision) must satisfy `reason`; everyone else must
/// not fail.
fn assert_results(
    decision: &Decision,
    affected: &[&str],
    reason: impl Fn(&NonCorroboration) -> bool,
) {
    for r in &decision.final_attempt().unwrap().results {
        let bad = affected.contains(&r.perspective_id.as_str());
        match (&r.status, bad) {
            (ResultStatus::Corroborated, true) => panic!(
                "{} corroborated an attacker's view\n{}",
                r.perspective_id,
                summary(decision)
            ),
            (ResultStatus::NotCorroborated { reason: why }, true) => {
                assert!(
                    reason(why),
                    "{}: unexpected reason {why:?}\n{}",
                    r.perspective_id,
                    summary(decision)
                )
            }
            (ResultStatus::NotCorroborated { .. }, false) => panic!(
                "{} failed without an attacker\n{}",
                r.perspective_id,
                summary(decision)
            ),
            _ => {}
        }
    }
}

fn mismatch(reason: &NonCorroboration) -> bool {
    matches!(reason, NonCorroboration::Mismatch { .. })
}

fn ids(n: usize) -> Vec<&'static str> {
    SIX_SITES.iter().take(n).map(|s| s.id).collect()
}

fn poison_txt(world: &World, victims: &[&str]) {
    for id in victims {
        world
            .perspective(id)
            .unwrap()
            .view
            .override_text(r#"_acme-challenge.victim.example. 60 IN TXT "attacker-value""#)
            .unwrap();
    }
}

fn hijack_http(world: &World, victims: &[&str]) {
    for id in victims {
        world
            .perspective(id)
            .unwrap()
            .view
            .override_text("victim.example. 60 IN A 127.0.0.2")
            .unwrap();
    }
}

fn forbid_caa(world: &World, victims: &[&str]) {
    for id in victims {
        world
            .perspective(id)
            .unwrap()
            .view
            .override_text(r#"victim.example. 60 IN CAA 0 issue "evil-ca.example""#)
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_some_views_are_outvoted_or_block_issuance() {
    let world = start_world(&SIX_SITES).await;
    let br = CoordinatorSetup::default();
    let strict = CoordinatorSetup {
        quorum: "strict",
        ..CoordinatorSetup::default()
    };

    // Honest world: every check is corroborated.
    for (name, spec) in [("caa", caa()), ("http-01", http01()), ("dns-01", dns01())] {
        let decision = decide(&world, &br, &spec).await;
        assert!(decision.is_valid(), "honest {name}: {}", summary(&decision));
        assert_results(&decision, &[], |_| false);
        assert!(decision.reasons().is_empty(), "{:?}", decision.reasons());
    }

    // DNS poisoning of the dns-01 TXT seen by 1, 2 and 3 of 6 perspectives:
    // the BR tolerates 2 non-corroborations of 6, not 3.
    for (poisoned, valid) in [(1, true), (2, true), (3, false)] {
        world.reset();
        let victims = ids(poisoned);
        poison_txt(&world, &victims);
        let decision = decide(&world, &br, &dns01()).await;
        assert_eq!(
            decision.is_valid(),
            valid,
            "dns-01 poisoned at {poisoned}: {}",
            summary(&decision)
        );
        assert_results(&decision, &victims, mismatch);
        if !valid {
            for id in &victims {
                assert!(
                    matches!(
                        result(&decision, id).status,
                        ResultStatus::NotCorroborated { .. }
                    ),
                    "an invalid decision needs all three dissents: {}",
                    summary(&decision)
                );
            }
        }
    }

    // HTTP hijack: some perspectives' traffic to the victim reaches the
    // attacker's server.
    for (hijacked, valid) in [(2, true), (3, false)] {
        world.reset();
        let victims: Vec<&str> = SIX_SITES
            .iter()
            .rev()
            .take(hijacked)
            .map(|s| s.id)
            .collect();
        hijack_http(&world, &victims);
        let decision = decide(&world, &br, &http01()).await;
        assert_eq!(
            decision.is_valid(),
            valid,
            "http-01 hijacked at {hijacked}: {}",
            summary(&decision)
        );
        assert_results(&decision, &victims, mismatch);
        assert!(
            world.attacker_http.total_requests() >= 1,
            "the hijack reached the attacker"
        );
    }

    // The same hijack against acme-tls-alpn-01: the attacker's TLS server
    // presents a certificate for its own key authorization to 2 or 3 of 6.
    world.reset();
    let decision = decide(&world, &br, &tls_alpn01()).await;
    assert!(
        decision.is_valid(),
        "honest tls-alpn-01: {}",
        summary(&decision)
    );
    for (hijacked, valid) in [(2, true), (3, false)] {
        world.reset();
        let victims = ids(hijacked);
        hijack_http(&world, &victims);
        let decision = decide(&world, &br, &tls_alpn01()).await;
        assert_eq!(
            decision.is_valid(),
            valid,
            "tls-alpn-01 hijacked at {hijacked}: {}",
            summary(&decision)
        );
        assert_results(&decision, &victims, mismatch);
        if !valid {
            // All three dissents were needed, so all three handshakes ran.
            assert_eq!(world.attacker_tls.seen().len(), 3);
        }
    }

    // CAA that forbids us, seen by 1 of 6: the BR tolerates it, the strict
    // policy does not; seen by 3 of 6: invalid under both.
    world.reset();
    forbid_caa(&world, &["af-south"]);
    let decision = decide(&world, &br, &caa()).await;
    assert!(
        decision.is_valid(),
        "caa forbidden at 1, br: {}",
        summary(&decision)
    );
    assert_results(&decision, &["af-south"], mismatch);
    let decision = decide(&world, &strict, &caa()).await;
    assert!(
        !decision.is_valid(),
        "caa forbidden at 1, strict: {}",
        summary(&decision)
    );
    assert!(matches!(
        result(&decision, "af-south").status,
        ResultStatus::NotCorroborated {
            reason: NonCorroboration::Mismatch { .. }
        }
    ));
    world.reset();
    let three = ["us-east", "eu-west", "ap-southeast"];
    forbid_caa(&world, &three);
    for setup in [&br, &strict] {
        let decision = decide(&world, setup, &caa()).await;
        assert!(
            !decision.is_valid(),
            "caa forbidden at 3 ({}): {}",
            setup.quorum,
            summary(&decision)
        );
        assert_results(&decision, &three, mismatch);
    }

    // SERVFAIL at two perspectives: they could not look (errors, not
    // mismatches); four corroborations in four RIRs still suffice.
    world.reset();
    for id in ["us-west", "sa-east"] {
        world
            .perspective(id)
            .unwrap()
            .view
            .servfail("victim.example")
            .unwrap();
    }
    let decision = decide(&world, &br, &caa()).await;
    assert!(decision.is_valid(), "servfail at 2: {}", summary(&decision));
    assert_results(&decision, &["us-west", "sa-east"], |r| {
        matches!(r, NonCorroboration::PerspectiveError { .. })
    });

    // A resolver that never answers: the perspective's DoH deadline expires
    // and it signs a report saying it could not look. Under the strict
    // policy that one error is enough to refuse.
    world.reset();
    world
        .perspective("eu-west")
        .unwrap()
        .view
        .timeout("victim.example")
        .unwrap();
    let decision = decide(&world, &strict, &caa()).await;
    assert!(
        !decision.is_valid(),
        "dns timeout, strict: {}",
        summary(&decision)
    );
    match &result(&decision, "eu-west").status {
        ResultStatus::NotCorroborated {
            reason: NonCorroboration::PerspectiveError { detail },
        } => {
            assert!(detail.contains("timeout"), "{detail}")
        }
        other => panic!("dns timeout misreported: {other:?}\n{}", summary(&decision)),
    }

    // One perspective down, one that hangs: the decision does not wait for
    // the hanging one (it is cancelled once the outcome is certain).
    world.reset();
    let dead_port = mpic_tests::free_port().unwrap();
    let hang = TcpSink::start_holding().await.unwrap();
    let setup = CoordinatorSetup {
        url_overrides: vec![
            ("us-west".into(), format!("http://127.0.0.1:{dead_port}")),
            (
                "af-south".into(),
                format!("http://127.0.0.1:{}", hang.port()),
            ),
        ],
        ..CoordinatorSetup::default()
    };
    let decision = decide(&world, &setup, &caa()).await;
    assert!(
        decision.is_valid(),
        "down + hanging: {}",
        summary(&decision)
    );
    assert!(
        matches!(
            result(&decision, "us-west").status,
            ResultStatus::NotCorroborated {
                reason: NonCorroboration::Unreachable { .. }
            }
        ),
        "{}",
        summary(&decision)
    );
    assert_eq!(
        result(&decision, "af-south").status,
        ResultStatus::Cancelled,
        "{}",
        summary(&decision)
    );
    assert_eq!(hang.accepted(), 1, "the hanging perspective was called");

    // A leaked key: an impostor signing with us-east's key answers for
    // eu-west. Its reports verify only under us-east's key, so they are
    // refused. (Under the strict policy every report must be judged, so the
    // decision cannot settle before the impostor's arrives.)
    world.reset();
    let impostor = world
        .start_impostor("eu-west", &world.perspective("us-east").unwrap().key)
        .await
        .unwrap();
    let setup = CoordinatorSetup {
        url_overrides: vec![("eu-west".into(), impostor.base_url())],
        quorum: "strict",
        ..CoordinatorSetup::default()
    };
    let decision = decide(&world, &setup, &caa()).await;
    assert!(
        !decision.is_valid(),
        "impostor counted: {}",
        summary(&decision)
    );
    match &result(&decision, "eu-west").status {
        ResultStatus::NotCorroborated {
            reason: NonCorroboration::InvalidReport { detail },
        } => {
            assert!(detail.contains("key"), "{detail}")
        }
        other => panic!(
            "leaked-key report accepted or misreported: {other:?}\n{}",
            summary(&decision)
        ),
    }
}

/// Four ARIN perspectives and two in RIPE NCC: when the attacker blinds the
/// two RIPE ones, four corroborations remain (enough by count for 6) but all
/// in one RIR, which BR 3.2.2.9 does not accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corroboration_from_one_rir_is_not_enough() {
    let sites = [
        Site {
            id: "us-east",
            rir: Rir::Arin,
            region: "N. Virginia",
            latitude: 39.04,
            longitude: -77.49,
        },
        Site {
            id: "us-west",
            rir: Rir::Arin,
            region: "Oregon",
            latitude: 45.84,
            longitude: -119.70,
        },
        Site {
            id: "ca-central",
            rir: Rir::Arin,
            region: "Montreal",
            latitude: 45.50,
            longitude: -73.57,
        },
        Site {
            id: "us-south",
            rir: Rir::Arin,
            region: "Dallas",
            latitude: 32.78,
            longitude: -96.80,
        },
        Site {
            id: "eu-west",
            rir: Rir::RipeNcc,
            region: "Dublin",
            latitude: 53.35,
            longitude: -6.26,
        },
        Site {
            id: "eu-central",
            rir: Rir::RipeNcc,
            region: "Frankfurt",
            latitude: 50.11,
            longitude: 8.68,
        },
    ];
    let world = start_world(&sites).await;
    let br = CoordinatorSetup::default();
    let decision = decide(&world, &br, &dns01()).await;
    assert!(decision.is_valid(), "honest: {}", summary(&decision));

    poison_txt(&world, &["eu-west", "eu-central"]);
    let decision = decide(&world, &br, &dns01()).await;
    assert!(
        !decision.is_valid(),
        "one-RIR corroboration accepted: {}",
        summary(&decision)
    );
    assert_results(&decision, &["eu-west", "eu-central"], mismatch);
    let reasons = decision
        .reasons()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    assert!(
        reasons.contains("rir"),
        "the reason names RIR diversity: {reasons}"
    );
}
