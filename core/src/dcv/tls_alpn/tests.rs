#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{CertificateParams, CustomExtension, KeyPair, SanType};

use super::*;
use crate::check::key_authorization_digest;

const KEY_AUTHORIZATION: &str = "token.thumbprint";

struct Spec {
    sans: Vec<SanType>,
    acme: Option<(Vec<u8>, bool)>,
    extra: Vec<CustomExtension>,
}

fn certificate(spec: Spec) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = spec.sans;
    if let Some((content, critical)) = spec.acme {
        let mut extension =
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 31], content);
        extension.set_criticality(critical);
        params.custom_extensions.push(extension);
    }
    params.custom_extensions.extend(spec.extra);
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn octet_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04, u8::try_from(bytes.len()).unwrap()];
    out.extend_from_slice(bytes);
    out
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().unwrap())
}

#[test]
fn certificate_rules() {
    let digest = key_authorization_digest(KEY_AUTHORIZATION);
    let good_acme = Some((octet_string(&digest), true));
    let domain = Target::parse("example.com").unwrap();
    let ip = Target::parse("192.0.2.1").unwrap();
    let wrong_digest = key_authorization_digest("other.thumbprint");
    let cases: Vec<(&str, Spec, &Target, Option<&str>)> = vec![
        (
            "valid dNSName",
            Spec {
                sans: vec![dns("example.com")],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            None,
        ),
        (
            "dNSName compares case-insensitively",
            Spec {
                sans: vec![dns("EXAMPLE.com")],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            None,
        ),
        (
            "valid iPAddress",
            Spec {
                sans: vec![SanType::IpAddress("192.0.2.1".parse().unwrap())],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &ip,
            None,
        ),
        (
            "two SANs",
            Spec {
                sans: vec![dns("example.com"), dns("www.example.com")],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            Some("subject_alt_name_count"),
        ),
        (
            "no SAN",
            Spec {
                sans: vec![],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            Some("no_subject_alt_name"),
        ),
        (
            "other name",
            Spec {
                sans: vec![dns("example.net")],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            Some("subject_alt_name_mismatch"),
        ),
        (
            "IP SAN for a domain",
            Spec {
                sans: vec![SanType::IpAddress("192.0.2.1".parse().unwrap())],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &domain,
            Some("subject_alt_name_type"),
        ),
        (
            "dNSName for an IP",
            Spec {
                sans: vec![dns("192.0.2.1.example")],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &ip,
            Some("subject_alt_name_type"),
        ),
        (
            "other IP",
            Spec {
                sans: vec![SanType::IpAddress("192.0.2.2".parse().unwrap())],
                acme: good_acme.clone(),
                extra: vec![],
            },
            &ip,
            Some("subject_alt_name_mismatch"),
        ),
        (
            "no acmeIdentifier",
            Spec {
                sans: vec![dns("example.com")],
                acme: None,
                extra: vec![],
            },
            &domain,
            Some("missing_acme_identifier"),
        ),
        (
            "acmeIdentifier not critical",
            Spec {
                sans: vec![dns("example.com")],
                acme: Some((octet_string(&digest), false)),
                extra: vec![],
            },
            &domain,
            Some("acme_identifier_not_critical"),
        ),
        (
            "acmeIdentifier is the bare digest, not an OCTET STRING",
            Spec {
                sans: vec![dns("example.com")],
                acme: Some((digest.to_vec(), true)),
                extra: vec![],
            },
            &domain,
            Some("acme_identifier_malformed"),
        ),
        (
            "acmeIdentifier of the wrong length",
            Spec {
                sans: vec![dns("example.com")],
                acme: Some((octet_string(&digest[..31]), true)),
                extra: vec![],
            },
            &domain,
            Some("acme_identifier_malformed"),
        ),
        (
            "other digest",
            Spec {
                sans: vec![dns("example.com")],
                acme: Some((octet_string(&wrong_digest), true)),
                extra: vec![],
            },
            &domain,
            Some("digest_mismatch"),
        ),
        (
            "acmeIdentifier twice",
            Spec {
                sans: vec![dns("example.com")],
                acme: good_acme.clone(),
                extra: vec![{
                    let mut e = CustomExtension::from_oid_content(
                        &[1, 3, 6, 1, 5, 5, 7, 1, 31],
                        octet_string(&digest),
                    );
                    e.set_criticality(true);
                    e
                }],
            },
            &domain,
            Some("duplicate_extension"),
        ),
    ];
    for (name, spec, target, expected) in cases {
        let der = certificate(spec);
        let observation = check_tls_alpn_certificate(&der, target, &digest);
        let kind = observation.failure.as_ref().map(|failure| {
            let DcvFailure::Certificate { detail } = failure else {
                panic!("{name}: {failure:?}")
            };
            serde_json::to_value(detail).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        assert_eq!(kind.as_deref(), expected, "{name}");
        assert_eq!(observation.passed, expected.is_none(), "{name}");
    }
}

#[test]
fn garbage_and_wildcards_fail() {
    let digest = key_authorization_digest(KEY_AUTHORIZATION);
    let observation = check_tls_alpn_certificate(
        b"\x30\x03\x02\x01\x00",
        &Target::parse("example.com").unwrap(),
        &digest,
    );
    assert!(matches!(
        observation.failure,
        Some(DcvFailure::Certificate {
            detail: TlsAlpnError::Malformed { .. }
        })
    ));
    let der = certificate(Spec {
        sans: vec![dns("*.example.com")],
        acme: Some((octet_string(&digest), true)),
        extra: vec![],
    });
    let observation =
        check_tls_alpn_certificate(&der, &Target::parse("*.example.com").unwrap(), &digest);
    assert!(matches!(
        observation.failure,
        Some(DcvFailure::Certificate {
            detail: TlsAlpnError::WildcardTarget
        })
    ));
}

#[test]
fn evidence_names_what_was_seen() {
    let digest = key_authorization_digest(KEY_AUTHORIZATION);
    let der = certificate(Spec {
        sans: vec![
            dns("example.com"),
            SanType::IpAddress("2001:db8::1".parse().unwrap()),
        ],
        acme: Some((octet_string(&digest), true)),
        extra: vec![],
    });
    let observation =
        check_tls_alpn_certificate(&der, &Target::parse("example.com").unwrap(), &digest);
    let DcvEvidence::Certificate(evidence) = observation.evidence else {
        panic!()
    };
    assert_eq!(
        evidence.subject_alt_names,
        ["dns:example.com", "ip:2001:db8::1"]
    );
    assert_eq!(evidence.acme_identifier_critical, Some(true));
}

mod exchange {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::{Arc, Mutex};

    use hickory_proto::rr::RData;
    use hickory_proto::rr::RecordType;
    use hickory_proto::rr::rdata::A;
    use rcgen::SanType;

    use super::KEY_AUTHORIZATION;
    use crate::address_policy::AddressPolicy;
    use crate::check::AcmeTlsAlpn01Parameters;
    use crate::check::key_authorization_digest;
    use crate::dcv::{DcvContext, DcvEvidence, DcvFailure, TlsAlpnError, acme_tls_alpn_01};
    use crate::name::Target;
    use crate::network::HttpError;
    use crate::testing::FakeNetwork;
    use crate::web::fake_servers::{self, Identity, Log, dns};
    use crate::web::tls::TlsFailure;

    const ADDRESS: &str = "127.0.0.9";

    fn parameters() -> AcmeTlsAlpn01Parameters {
        AcmeTlsAlpn01Parameters {
            key_authorization_digest: key_authorization_digest(KEY_AUTHORIZATION),
        }
    }

    fn context() -> DcvContext {
        let mut context = DcvContext::new(0);
        context.http_limits.timeout_ms = 2_000;
        context
    }

    fn valid_for(san: SanType) -> Identity {
        fake_servers::identity(
            vec![san],
            Some(&key_authorization_digest(KEY_AUTHORIZATION)),
        )
    }

    fn network(server: crate::testing::Server) -> FakeNetwork {
        FakeNetwork::new()
            .with_address_policy(AddressPolicy::LoopbackOnlyForTests)
            .records(
                "example.com",
                RecordType::A,
                vec![RData::A(A(ADDRESS.parse().unwrap()))],
            )
            .listen(SocketAddr::new(ADDRESS.parse().unwrap(), 443), server)
    }

    fn acme_server(identity: &Identity, alpn: &[&str], log: &Log) -> crate::testing::Server {
        fake_servers::tls(
            identity,
            alpn,
            rustls::DEFAULT_VERSIONS,
            None,
            Arc::clone(log),
        )
    }

    fn run(network: &FakeNetwork, target: &str) -> crate::dcv::DcvObservation {
        let target = Target::parse(target).unwrap();
        pollster::block_on(acme_tls_alpn_01(
            network,
            &target,
            &parameters(),
            &context(),
        ))
    }

    #[test]
    fn a_valid_certificate_over_acme_tls_1_passes_and_the_offer_was_exactly_rfc_8737s() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let network = network(acme_server(
            &valid_for(dns("example.com")),
            &["acme-tls/1"],
            &log,
        ));
        let observation = run(&network, "example.com");
        assert_eq!(observation.failure, None);
        let DcvEvidence::Certificate(evidence) = observation.evidence else {
            panic!("no certificate evidence")
        };
        let contacted = evidence.contacted.unwrap();
        assert_eq!(contacted.address, ADDRESS.parse::<IpAddr>().unwrap());
        assert_eq!(contacted.port, 443);
        let tls = contacted.tls.unwrap();
        assert_eq!(tls.alpn.as_deref(), Some("acme-tls/1"));
        assert_eq!(tls.version, "TLSv1.3");
        let seen = log.lock().unwrap();
        assert_eq!(seen[0].sni.as_deref(), Some("example.com"));
        assert_eq!(seen[0].alpn, vec!["acme-tls/1".to_owned()]);
    }

    #[test]
    fn tls_1_2_is_enough() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let server = fake_servers::tls(
            &valid_for(dns("example.com")),
            &["acme-tls/1"],
            &[&rustls::version::TLS12],
            None,
            Arc::clone(&log),
        );
        let observation = run(&network(server), "example.com");
        assert_eq!(observation.failure, None);
        let DcvEvidence::Certificate(evidence) = observation.evidence else {
            panic!("no certificate evidence")
        };
        assert_eq!(evidence.contacted.unwrap().tls.unwrap().version, "TLSv1.2");
    }

    #[test]
    fn an_ip_address_is_asked_for_by_its_reverse_name_and_judged_by_its_ip_san() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let identity = valid_for(SanType::IpAddress(ADDRESS.parse().unwrap()));
        let network = network(acme_server(&identity, &["acme-tls/1"], &log));
        let observation = run(&network, ADDRESS);
        assert_eq!(observation.failure, None);
        assert_eq!(
            log.lock().unwrap()[0].sni.as_deref(),
            Some("9.0.0.127.in-addr.arpa")
        );
        assert!(
            network.queries().is_empty(),
            "an IP address is not resolved"
        );
    }

    #[test]
    fn a_server_that_negotiates_no_protocol_fails() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let network = network(acme_server(&valid_for(dns("example.com")), &[], &log));
        let observation = run(&network, "example.com");
        assert_eq!(
            observation.failure,
            Some(DcvFailure::Certificate {
                detail: TlsAlpnError::NoApplicationProtocol
            })
        );
    }

    #[test]
    fn a_server_that_only_speaks_http_1_1_refuses_the_offer() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let network = network(acme_server(
            &valid_for(dns("example.com")),
            &["http/1.1"],
            &log,
        ));
        let observation = run(&network, "example.com");
        assert_eq!(
            observation.failure,
            Some(DcvFailure::TlsHandshake {
                detail: TlsFailure::ApplicationProtocolRefused
            })
        );
    }

    #[test]
    fn the_wrong_digest_fails_with_the_certificate_rule_it_breaks() {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let identity = fake_servers::identity(
            vec![dns("example.com")],
            Some(&key_authorization_digest("other.thumbprint")),
        );
        let observation = run(
            &network(acme_server(&identity, &["acme-tls/1"], &log)),
            "example.com",
        );
        assert_eq!(
            observation.failure,
            Some(DcvFailure::Certificate {
                detail: TlsAlpnError::DigestMismatch
            })
        );
    }

    #[test]
    fn garbage_and_silence_fail_typed() {
        let garbage = network(fake_servers::garbage(b"SSH-2.0-OpenSSH_9.6\r\n"));
        let observation = run(&garbage, "example.com");
        assert!(
            matches!(
                observation.failure,
                Some(DcvFailure::TlsHandshake {
                    detail: TlsFailure::Handshake(_)
                })
            ),
            "{:?}",
            observation.failure
        );
        let silent = network(fake_servers::silent());
        let target = Target::parse("example.com").unwrap();
        let mut context = context();
        context.http_limits.timeout_ms = 200;
        let observation =
            pollster::block_on(acme_tls_alpn_01(&silent, &target, &parameters(), &context));
        assert_eq!(
            observation.failure,
            Some(DcvFailure::Connection {
                detail: HttpError::Timeout
            })
        );
    }
}
