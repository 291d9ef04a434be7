#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn accepted_targets_normalise() {
    let cases: &[(&str, &str, bool)] = &[
        ("example.com", "example.com", false),
        ("Example.COM", "example.com", false),
        ("*.example.com", "example.com", true),
        ("a-b.example.com", "a-b.example.com", false),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", false),
        ("bücher.example", "xn--bcher-kva.example", false),
        ("BÜCHER.example", "xn--bcher-kva.example", false),
        ("*.bücher.example", "xn--bcher-kva.example", true),
        ("123.example.com", "123.example.com", false),
        ("example.c0m", "example.c0m", false),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", false),
    ];
    for (input, name, wildcard) in cases {
        let target = Target::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(target.domain().unwrap().as_str(), *name, "{input}");
        assert_eq!(target.is_wildcard(), *wildcard, "{input}");
    }
}

#[test]
fn refused_targets_name_the_problem() {
    let long_label = "a".repeat(64);
    let long_name = format!("{}.com", vec!["a".repeat(63); 4].join("."));
    let cases: Vec<(String, NameError)> = vec![
        (String::new(), NameError::Empty),
        ("example.com.".into(), NameError::TrailingDot),
        ("*.example.com.".into(), NameError::TrailingDot),
        ("[2001:db8::1]".into(), NameError::BracketedIpv6),
        ("a.*.example.com".into(), NameError::MisplacedWildcard),
        ("*example.com".into(), NameError::MisplacedWildcard),
        ("*.*.example.com".into(), NameError::MisplacedWildcard),
        ("*".into(), NameError::MisplacedWildcard),
        (
            "a..example.com".into(),
            NameError::EmptyLabel { position: 1 },
        ),
        (".example.com".into(), NameError::EmptyLabel { position: 0 }),
        (
            format!("{long_label}.com"),
            NameError::LabelTooLong {
                label: long_label.clone(),
                octets: 64,
            },
        ),
        (long_name, NameError::NameTooLong { octets: 259 }),
        (
            "under_score.example.com".into(),
            NameError::InvalidCharacter {
                label: "under_score".into(),
                character: '_',
            },
        ),
        (
            "sp ace.example.com".into(),
            NameError::InvalidCharacter {
                label: "sp ace".into(),
                character: ' ',
            },
        ),
        (
            "-lead.example.com".into(),
            NameError::HyphenAtLabelEdge {
                label: "-lead".into(),
            },
        ),
        (
            "trail-.example.com".into(),
            NameError::HyphenAtLabelEdge {
                label: "trail-".into(),
            },
        ),
        (
            "ab--cd.example.com".into(),
            NameError::ReservedLabel {
                label: "ab--cd".into(),
            },
        ),
        ("1.2.3".into(), NameError::NumericTld { tld: "3".into() }),
        (
            "example.123".into(),
            NameError::NumericTld { tld: "123".into() },
        ),
        // What the `url` crate would read as 127.0.0.1, 0xff, 0 (issue
        // 15 item 1: these were accepted and fetched from an address).
        (
            "127.0x0.0x0.0x1".into(),
            NameError::NumericTld { tld: "0x1".into() },
        ),
        (
            "example.0xff".into(),
            NameError::NumericTld { tld: "0xff".into() },
        ),
        (
            "example.0X".into(),
            NameError::NumericTld { tld: "0x".into() },
        ),
        (
            "example.0xDEAD".into(),
            NameError::NumericTld {
                tld: "0xdead".into(),
            },
        ),
        (
            "localhost".into(),
            NameError::SingleLabel {
                name: "localhost".into(),
            },
        ),
        (
            "xn--invalid-.example".into(),
            NameError::Idna("xn--invalid-.example".into()),
        ),
        (
            "xn--zz.example".into(),
            NameError::Idna("xn--zz.example".into()),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Target::parse(&input), Err(expected), "{input:?}");
    }
}

#[test]
fn names_that_only_look_numeric_stay_domains() {
    for input in ["example.0xg", "example.x0", "example.0x1a-b", "0x1.example"] {
        let target = Target::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert!(target.domain().is_some(), "{input}");
    }
}

proptest::proptest! {
    /// Issue 15 item 1: for every accepted domain target, the host of a
    /// URL built from it (as the DCV methods build them) is that domain,
    /// never an IP address; so reaching it always takes a DNS lookup of
    /// the domain.
    #[test]
    fn every_accepted_domain_is_the_host_of_its_urls(
        labels in proptest::collection::vec("(0[xX])?[0-9a-fA-Fx]{0,4}|[a-z0-9]{1,3}", 2..5),
        wildcard in proptest::bool::ANY,
    ) {
        let name = labels.join(".");
        let input = if wildcard { format!("*.{name}") } else { name };
        if let Ok(target @ Target::Domain { .. }) = Target::parse(&input) {
            let domain = target.domain().map(|d| d.as_str().to_owned()).unwrap_or_default();
            for scheme in ["http", "https"] {
                let url = url::Url::parse(&format!(
                    "{scheme}://{}/.well-known/acme-challenge/t",
                    target.url_host()
                ));
                let host = url.as_ref().ok().and_then(|u| u.host().map(|h| h.to_owned()));
                proptest::prop_assert_eq!(
                    host,
                    Some(url::Host::Domain(domain.clone())),
                    "{} gave {:?}", input, url
                );
            }
        }
    }
}

#[test]
fn name_length_boundary() {
    // 253 octets exactly is accepted, 254 is not.
    let base = vec!["a".repeat(63); 3].join(".");
    let ok = format!("{base}.{}", "b".repeat(61));
    assert_eq!(ok.len(), 253);
    assert!(Target::parse(&ok).is_ok());
    let too_long = format!("{base}.{}", "b".repeat(62));
    assert_eq!(
        Target::parse(&too_long),
        Err(NameError::NameTooLong { octets: 254 })
    );
}

#[test]
fn ip_literals() {
    let cases: &[(&str, Option<&str>)] = &[
        ("192.0.2.1", Some("192.0.2.1")),
        ("2001:db8::1", Some("2001:db8::1")),
        ("2001:DB8:0:0:0:0:0:1", Some("2001:db8::1")),
        ("::ffff:192.0.2.1", Some("::ffff:192.0.2.1")),
        ("192.0.2.01", None),
        ("192.0.2", None),
        ("fe80::1%eth0", None),
    ];
    for (input, expected) in cases {
        match (Target::parse(input), expected) {
            (Ok(Target::Ip(ip)), Some(text)) => assert_eq!(ip.to_string(), *text),
            (Err(_), None) => {}
            (other, _) => panic!("{input}: {other:?}"),
        }
    }
}

#[test]
fn reverse_names_round_trip() {
    let cases: &[(&str, &str)] = &[
        ("192.0.2.1", "1.2.0.192.in-addr.arpa"),
        (
            "2001:db8::567:89ab",
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        ),
    ];
    for (ip, name) in cases {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(reverse_name(ip), *name);
        assert_eq!(ip_from_reverse_name(name).unwrap(), ip);
        assert_eq!(
            ip_from_reverse_name(&format!("{}.", name.to_uppercase())).unwrap(),
            ip
        );
    }
}

#[test]
fn partial_or_malformed_reverse_names_are_refused() {
    for name in [
        "2.0.192.in-addr.arpa",
        "1.2.0.192.168.in-addr.arpa",
        "01.2.0.192.in-addr.arpa",
        "256.2.0.192.in-addr.arpa",
        "1.0.ip6.arpa",
        "example.com",
        "g.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    ] {
        assert!(ip_from_reverse_name(name).is_err(), "{name}");
    }
}

#[test]
fn parents_and_prefixes() {
    let name = DomainName::parse("a.b.example.com").unwrap();
    let chain: Vec<String> = std::iter::successors(Some(name.clone()), |n| n.parent())
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        chain,
        ["a.b.example.com", "b.example.com", "example.com", "com"]
    );
    assert_eq!(
        name.with_prefix("_acme-challenge").unwrap(),
        "_acme-challenge.a.b.example.com"
    );
    assert!(matches!(
        name.with_prefix(&"x".repeat(64)),
        Err(NameError::LabelTooLong { .. })
    ));
    let long = DomainName::parse(&vec!["a".repeat(63); 4].join(".")[..251]).unwrap();
    assert!(matches!(
        long.with_prefix("_x"),
        Err(NameError::NameTooLong { .. })
    ));
    let example = DomainName::parse("example.com").unwrap();
    assert!(example.is_ancestor_or_self_of(&name));
    assert!(example.is_ancestor_or_self_of(&example));
    assert!(!example.is_ancestor_or_self_of(&DomainName::parse("notexample.com").unwrap()));
}

#[test]
fn serde_uses_the_normal_form() {
    let target: Target = serde_json::from_str("\"*.Bücher.example\"").unwrap();
    assert_eq!(
        serde_json::to_string(&target).unwrap(),
        "\"*.xn--bcher-kva.example\""
    );
    assert!(serde_json::from_str::<Target>("\"example.com.\"").is_err());
}
