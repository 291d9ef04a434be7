//! acme-tls-alpn-01 (RFC 8737, RFC 8738 section 6) and https, performed by
//! six real workerd perspectives over Workers sockets: each resolves the
//! target through its own DoH view, connects to the address it got, and runs
//! mpic-core's TLS. The loopback TLS fixtures record the SNI and the ALPN
//! list every ClientHello offered, and the tests assert them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures_util::future::join_all;
use mpic_core::dcv::{DcvEvidence, DcvFailure, DcvObservation, TlsAlpnError};
use mpic_core::network::HttpError;
use mpic_core::perspective::{CheckCall, CheckObservation};
use mpic_core::report::Verdict;
use mpic_core::web::tls::TlsFailure;
use mpic_tests::http_fixture::{HttpRule, HttpServer, acme_challenge_path};
use mpic_tests::perspective_client;
use mpic_tests::tls_fixture::{Alpn, Page, TlsAlpnCertificate, TlsBehaviour, TlsServer};
use mpic_tests::victim::{self, DOMAIN, KEY_AUTHORIZATION};
use mpic_tests::world::{SIX_SITES, World, WorldPerspective};

fn check_call(perspective_id: &str, check: &serde_json::Value) -> CheckCall {
    let json =
        serde_json::json!({"perspective_ids": [perspective_id], "attempt": 1, "check": check});
    serde_json::from_value(json).unwrap()
}

/// What one perspective signed: its verdict and its DCV observation.
async fn run_at(p: &WorldPerspective, check: &serde_json::Value) -> (Verdict, DcvObservation) {
    let verified = perspective_client::call(
        &p.url(),
        &p.key.verifying_key(),
        &check_call(p.site.id, check),
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}\nlog:\n{}", p.site.id, p.process.log()));
    // workerd names the data center that ran the check (wrangler dev
    // offline: its placeholder `cf` object), and the report signs it.
    let data_center = verified.body.data_center.as_ref().expect("a data center");
    assert!(!data_center.code.is_empty(), "{data_center:?}");
    match verified.observed {
        CheckObservation::Dcv(observation) => (verified.body.verdict, observation),
        other => panic!("{}: not a DCV observation: {other:?}", p.site.id),
    }
}

async fn run_everywhere(
    world: &World,
    check: &serde_json::Value,
) -> Vec<(Verdict, DcvObservation)> {
    join_all(world.perspectives.iter().map(|p| run_at(p, check))).await
}

/// One certificate or handshake case: what the server does, and what the
/// perspective must conclude.
struct Case {
    name: &'static str,
    behaviour: TlsBehaviour,
    verdict: Verdict,
    failure: fn(&Option<DcvFailure>) -> bool,
}

fn certificate(detail: fn(&TlsAlpnError) -> bool) -> impl Fn(&Option<DcvFailure>) -> bool {
    move |failure| matches!(failure, Some(DcvFailure::Certificate { detail: d }) if detail(d))
}

fn cases() -> Vec<Case> {
    let acme = |certificate: TlsAlpnCertificate| TlsBehaviour::acme_tls_alpn(certificate);
    vec![
        Case {
            name: "a valid certificate",
            behaviour: acme(TlsAlpnCertificate::valid(DOMAIN, KEY_AUTHORIZATION).unwrap()),
            verdict: Verdict::Pass,
            failure: |f| f.is_none(),
        },
        Case {
            name: "a digest mismatch",
            behaviour: acme(
                TlsAlpnCertificate::digest_mismatch(DOMAIN, KEY_AUTHORIZATION).unwrap(),
            ),
            verdict: Verdict::Fail,
            failure: |f| certificate(|d| *d == TlsAlpnError::DigestMismatch)(f),
        },
        Case {
            name: "a non-critical acmeIdentifier",
            behaviour: acme(
                TlsAlpnCertificate::non_critical_extension(DOMAIN, KEY_AUTHORIZATION).unwrap(),
            ),
            verdict: Verdict::Fail,
            failure: |f| certificate(|d| *d == TlsAlpnError::AcmeIdentifierNotCritical)(f),
        },
        Case {
            name: "no acmeIdentifier",
            behaviour: acme(TlsAlpnCertificate::missing_extension(DOMAIN).unwrap()),
            verdict: Verdict::Fail,
            failure: |f| certificate(|d| *d == TlsAlpnError::MissingAcmeIdentifier)(f),
        },
        Case {
            name: "two SANs",
            behaviour: acme(
                TlsAlpnCertificate::two_sans(DOMAIN, "www.victim.example", KEY_AUTHORIZATION)
                    .unwrap(),
            ),
            verdict: Verdict::Fail,
            failure: |f| certificate(|d| *d == TlsAlpnError::SubjectAltNameCount { count: 2 })(f),
        },
        Case {
            name: "the SAN of another name",
            behaviour: acme(
                TlsAlpnCertificate::other_name("other.example", KEY_AUTHORIZATION).unwrap(),
            ),
            verdict: Verdict::Fail,
            failure: |f| {
                certificate(
                    |d| matches!(d, TlsAlpnError::SubjectAltNameMismatch { found } if found == "other.example"),
                )(f)
            },
        },
        Case {
            name: "no ALPN negotiated",
            behaviour: TlsBehaviour::AcmeTlsAlpn {
                certificate: TlsAlpnCertificate::valid(DOMAIN, KEY_AUTHORIZATION).unwrap(),
                alpn: Alpn::None,
            },
            verdict: Verdict::Fail,
            failure: |f| certificate(|d| *d == TlsAlpnError::NoApplicationProtocol)(f),
        },
        Case {
            name: "a server that speaks http/1.1 only",
            behaviour: TlsBehaviour::AcmeTlsAlpn {
                certificate: TlsAlpnCertificate::valid(DOMAIN, KEY_AUTHORIZATION).unwrap(),
                alpn: Alpn::Http11Only,
            },
            verdict: Verdict::Fail,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::TlsHandshake {
                        detail: TlsFailure::ApplicationProtocolRefused
                    })
                )
            },
        },
        Case {
            name: "a TLS 1.0-only server",
            behaviour: TlsBehaviour::Tls10Only,
            verdict: Verdict::Fail,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::TlsHandshake {
                        detail: TlsFailure::ProtocolVersion(_)
                    })
                )
            },
        },
        Case {
            name: "garbage instead of a handshake",
            behaviour: TlsBehaviour::Garbage,
            verdict: Verdict::Fail,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::TlsHandshake {
                        detail: TlsFailure::Handshake(_)
                    })
                )
            },
        },
        Case {
            name: "a reset handshake",
            behaviour: TlsBehaviour::Reset,
            verdict: Verdict::Error,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::TlsHandshake {
                        detail: TlsFailure::ConnectionLost(_)
                    })
                )
            },
        },
        Case {
            name: "a dripped handshake",
            behaviour: TlsBehaviour::Drip {
                certificate: TlsAlpnCertificate::valid(DOMAIN, KEY_AUTHORIZATION).unwrap(),
                interval: Duration::from_millis(20),
            },
            verdict: Verdict::Error,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::Connection {
                        detail: HttpError::Timeout
                    })
                )
            },
        },
        Case {
            name: "a hanging handshake",
            behaviour: TlsBehaviour::Hang,
            verdict: Verdict::Error,
            failure: |f| {
                matches!(
                    f,
                    Some(DcvFailure::Connection {
                        detail: HttpError::Timeout
                    })
                )
            },
        },
    ]
}

/// Each case at its own perspective (its view pointing the victim at the
/// case's own server), six at a time; every case ends in its verdict with
/// its typed reason, and every server saw exactly RFC 8737's offer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_certificate_and_handshake_case_ends_in_its_verdict_with_a_typed_reason() {
    let world = World::start(&victim::zone(), &SIX_SITES).await.unwrap();
    let port = world.honest_tls.port();
    let check = victim::tls_alpn01_check();
    let mut slot = 40u8;
    let mut wrong = Vec::new();
    for round in cases().chunks(SIX_SITES.len()) {
        let mut servers = Vec::new();
        for (case, p) in round.iter().zip(&world.perspectives) {
            let ip = Ipv4Addr::new(127, 0, 0, slot);
            slot += 1;
            let server = TlsServer::start_on(ip, port, case.behaviour.clone())
                .await
                .unwrap();
            p.view
                .override_text(&format!("{DOMAIN}. 60 IN A {ip}"))
                .unwrap();
            servers.push(server);
        }
        let runs = world.perspectives[..round.len()]
            .iter()
            .map(|p| run_at(p, &check));
        let results = join_all(runs).await;
        for ((case, server), (verdict, observation)) in round.iter().zip(&servers).zip(results) {
            if verdict != case.verdict || !(case.failure)(&observation.failure) {
                wrong.push(format!(
                    "{}: want {:?}, got {verdict:?} with {:?}",
                    case.name, case.verdict, observation.failure
                ));
            }
            let hellos = server.seen();
            if hellos.is_empty() {
                wrong.push(format!("{}: the server saw no ClientHello", case.name));
            }
            for hello in hellos {
                if hello.sni.as_deref() != Some(DOMAIN)
                    || hello.alpn_offered != vec![b"acme-tls/1".to_vec()]
                {
                    wrong.push(format!(
                        "{}: offered SNI {:?} and ALPN {:?}",
                        case.name, hello.sni, hello.alpn_offered
                    ));
                }
            }
            if case.verdict == Verdict::Pass {
                let DcvEvidence::Certificate(evidence) = &observation.evidence else {
                    panic!("{}: no certificate evidence", case.name)
                };
                let contacted = evidence.contacted.as_ref().unwrap();
                assert_eq!(contacted.address, server.addr().ip());
                assert_eq!(
                    contacted.port, 443,
                    "the report names the port as RFC 8737 has it"
                );
                let tls = contacted.tls.as_ref().unwrap();
                assert_eq!(tls.alpn.as_deref(), Some("acme-tls/1"));
                assert!(!tls.certificate_verified);
            }
        }
        world.reset();
        drop(servers);
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// RFC 8738 section 6: an IP address is validated with SNI set to its
/// reverse-mapping name and an iPAddress SAN; IPv4 and IPv6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_identifier_is_validated_by_its_reverse_name() {
    let world = World::start(&victim::zone(), &SIX_SITES[..2])
        .await
        .unwrap();
    let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    world
        .honest_tls
        .set_behaviour(TlsBehaviour::acme_tls_alpn(
            TlsAlpnCertificate::for_ip(v4, KEY_AUTHORIZATION).unwrap(),
        ))
        .unwrap();
    for (verdict, observation) in
        run_everywhere(&world, &victim::tls_alpn01_check_for("127.0.0.1")).await
    {
        assert_eq!(verdict, Verdict::Pass, "{:?}", observation.failure);
    }
    for hello in world.honest_tls.seen() {
        assert_eq!(hello.sni.as_deref(), Some("1.0.0.127.in-addr.arpa"));
        assert_eq!(hello.alpn_offered, vec![b"acme-tls/1".to_vec()]);
    }

    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let server = TlsServer::start_on(
        v6,
        world.honest_tls.port(),
        TlsBehaviour::acme_tls_alpn(TlsAlpnCertificate::for_ip(v6, KEY_AUTHORIZATION).unwrap()),
    )
    .await
    .unwrap();
    for (verdict, observation) in run_everywhere(&world, &victim::tls_alpn01_check_for("::1")).await
    {
        assert_eq!(verdict, Verdict::Pass, "{:?}", observation.failure);
    }
    let hellos = server.seen();
    assert_eq!(hellos.len(), 2);
    assert!(hellos.iter().all(|h| h.sni.as_deref()
        == Some("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa")));
}

/// A name with an AAAA (`::1`) besides its A is reached over IPv6 first,
/// as Boulder does, for http-01 and acme-tls-alpn-01 alike, and the report
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_an_ipv6_address_is_reached_over_ipv6_first() {
    let world = World::start(&victim::zone(), &SIX_SITES[..2])
        .await
        .unwrap();
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let http = HttpServer::start_on(v6, world.honest_http.port())
        .await
        .unwrap();
    http.serve_body(&acme_challenge_path(victim::TOKEN), KEY_AUTHORIZATION)
        .unwrap();
    let tls = TlsServer::start_on(
        v6,
        world.honest_tls.port(),
        TlsBehaviour::acme_tls_alpn(TlsAlpnCertificate::valid(DOMAIN, KEY_AUTHORIZATION).unwrap()),
    )
    .await
    .unwrap();
    for p in &world.perspectives {
        p.view
            .override_text(&format!("{DOMAIN}. 60 IN AAAA ::1"))
            .unwrap();
    }
    for check in [victim::http01_check(), victim::tls_alpn01_check()] {
        for (verdict, observation) in run_everywhere(&world, &check).await {
            assert_eq!(verdict, Verdict::Pass, "{:?}", observation.failure);
            let contacted = match &observation.evidence {
                DcvEvidence::Http(http) => http.contacted.clone(),
                DcvEvidence::Certificate(certificate) => certificate.contacted.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(contacted.unwrap().address, v6);
        }
    }
    assert_eq!(http.request_count(&acme_challenge_path(victim::TOKEN)), 2);
    assert_eq!(tls.seen().len(), 2);
    assert_eq!(
        world
            .honest_http
            .request_count(&acme_challenge_path(victim::TOKEN)),
        0,
        "IPv4 is only the fallback"
    );
}

/// http-01 redirected to https lands on a TLS server with a self-signed
/// certificate for another name: the perspective reads the challenge
/// anyway (the content proves control, as in Boulder and Open MPIC), and
/// its report records each exchange's address and the TLS session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http01_redirect_to_https_reaches_a_self_signed_server_and_says_so() {
    let world = World::start(&victim::zone(), &SIX_SITES).await.unwrap();
    let path = acme_challenge_path(victim::TOKEN);
    world
        .honest_http
        .set_rule(
            &path,
            HttpRule::redirect(302, format!("https://{DOMAIN}{path}")),
        )
        .unwrap();
    world
        .honest_tls
        .set_behaviour(
            TlsBehaviour::https_pages(
                "someone-else.example",
                [(path.clone(), Page::body(KEY_AUTHORIZATION))],
            )
            .unwrap(),
        )
        .unwrap();
    for (verdict, observation) in run_everywhere(&world, &victim::http01_check()).await {
        assert_eq!(verdict, Verdict::Pass, "{:?}", observation.failure);
        let DcvEvidence::Http(http) = &observation.evidence else {
            panic!("{:?}", observation.evidence)
        };
        let first = http.history[0].contacted.as_ref().unwrap();
        assert_eq!(
            (first.address, first.port),
            (IpAddr::V4(Ipv4Addr::LOCALHOST), 80)
        );
        assert_eq!(first.tls, None);
        let last = http.contacted.as_ref().unwrap();
        assert_eq!(
            (last.address, last.port),
            (IpAddr::V4(Ipv4Addr::LOCALHOST), 443)
        );
        let tls = last.tls.as_ref().unwrap();
        assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
        assert_eq!(tls.server_name.as_deref(), Some(DOMAIN));
        assert!(!tls.certificate_verified);
    }
    let requests = world.honest_tls.requests();
    assert_eq!(requests.len(), SIX_SITES.len());
    assert!(
        requests
            .iter()
            .all(|r| r.path == path && r.host.as_deref() == Some(DOMAIN))
    );
    for hello in world.honest_tls.seen() {
        assert_eq!(hello.sni.as_deref(), Some(DOMAIN));
        assert_eq!(hello.alpn_offered, vec![b"http/1.1".to_vec()]);
    }
}
