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
