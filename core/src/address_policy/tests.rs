#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn public_only_refuses_every_special_use_block() {
    let cases: &[(&str, Option<SpecialUse>)] = &[
        // Public addresses pass.
        ("1.1.1.1", None),
        ("8.8.8.8", None),
        ("93.184.216.34", None),
        ("100.63.255.255", None),
        ("100.128.0.0", None),
        ("172.15.255.255", None),
        ("172.32.0.0", None),
        ("192.0.1.1", None),
        ("192.169.0.1", None),
        ("198.17.255.255", None),
        ("198.20.0.0", None),
        ("223.255.255.255", None),
        ("2606:4700:4700::1111", None),
        ("2a00:1450:4001:80b::200e", None),
        ("2001:200::1", None),
        // IPv4 special use.
        ("0.0.0.0", Some(SpecialUse::Unspecified)),
        ("0.1.2.3", Some(SpecialUse::ThisNetwork)),
        ("10.0.0.1", Some(SpecialUse::Private)),
        ("10.255.255.255", Some(SpecialUse::Private)),
        ("172.16.0.1", Some(SpecialUse::Private)),
        ("172.31.255.255", Some(SpecialUse::Private)),
        ("192.168.1.1", Some(SpecialUse::Private)),
        ("100.64.0.1", Some(SpecialUse::SharedAddressSpace)),
        ("100.127.255.255", Some(SpecialUse::SharedAddressSpace)),
        ("127.0.0.1", Some(SpecialUse::Loopback)),
        ("127.255.0.9", Some(SpecialUse::Loopback)),
        ("169.254.169.254", Some(SpecialUse::LinkLocal)),
        ("192.0.0.9", Some(SpecialUse::ProtocolAssignments)),
        ("192.0.2.10", Some(SpecialUse::Documentation)),
        ("198.51.100.7", Some(SpecialUse::Documentation)),
        ("203.0.113.200", Some(SpecialUse::Documentation)),
        ("192.88.99.1", Some(SpecialUse::SixToFour)),
        ("198.18.0.1", Some(SpecialUse::Benchmarking)),
        ("198.19.255.255", Some(SpecialUse::Benchmarking)),
        ("224.0.0.1", Some(SpecialUse::Multicast)),
        ("239.255.255.250", Some(SpecialUse::Multicast)),
        ("240.0.0.1", Some(SpecialUse::Reserved)),
        ("255.255.255.254", Some(SpecialUse::Reserved)),
        ("255.255.255.255", Some(SpecialUse::Broadcast)),
        // IPv6 special use.
        ("::", Some(SpecialUse::Unspecified)),
        ("::1", Some(SpecialUse::Loopback)),
        ("::ffff:127.0.0.1", Some(SpecialUse::Ipv4Mapped)),
        ("::ffff:8.8.8.8", Some(SpecialUse::Ipv4Mapped)),
        ("::127.0.0.1", Some(SpecialUse::NotGlobalUnicast)),
        ("64:ff9b::10.0.0.1", Some(SpecialUse::Translation)),
        ("64:ff9b:1::1", Some(SpecialUse::Translation)),
        ("100::1", Some(SpecialUse::DiscardOnly)),
        ("2001::1", Some(SpecialUse::ProtocolAssignments)),
        ("2001:1ff::1", Some(SpecialUse::ProtocolAssignments)),
        ("2001:db8::1", Some(SpecialUse::Documentation)),
        ("3fff::1", Some(SpecialUse::Documentation)),
        ("2002:a00:1::1", Some(SpecialUse::SixToFour)),
        ("fc00::1", Some(SpecialUse::UniqueLocal)),
        ("fd12:3456::1", Some(SpecialUse::UniqueLocal)),
        ("fe80::1", Some(SpecialUse::LinkLocal)),
        ("febf::1", Some(SpecialUse::LinkLocal)),
        ("fec0::1", Some(SpecialUse::SiteLocal)),
        ("ff02::1", Some(SpecialUse::Multicast)),
        ("5f00::1", Some(SpecialUse::NotGlobalUnicast)),
        ("4000::1", Some(SpecialUse::NotGlobalUnicast)),
        ("1fff::1", Some(SpecialUse::NotGlobalUnicast)),
    ];
    for (text, want) in cases {
        assert_eq!(special_use(ip(text)), *want, "{text}");
        let verdict = AddressPolicy::PublicOnly.check(ip(text));
        assert_eq!(verdict.is_ok(), want.is_none(), "{text}: {verdict:?}");
    }
}

#[test]
fn loopback_test_policy_reaches_loopback_only() {
    let cases = [
        ("127.0.0.1", true),
        ("127.0.0.2", true),
        ("::1", true),
        ("::ffff:127.0.0.1", false),
        ("1.1.1.1", false),
        ("10.0.0.1", false),
        ("2606:4700:4700::1111", false),
    ];
    for (text, allowed) in cases {
        let verdict = AddressPolicy::LoopbackOnlyForTests.check(ip(text));
        assert_eq!(verdict.is_ok(), allowed, "{text}: {verdict:?}");
    }
}

#[test]
fn refusals_say_what_the_address_is() {
    let err = AddressPolicy::PublicOnly
        .check(ip("169.254.169.254"))
        .unwrap_err();
    assert_eq!(err.to_string(), "169.254.169.254 is link-local");
    let err = AddressPolicy::LoopbackOnlyForTests
        .check(ip("8.8.8.8"))
        .unwrap_err();
    assert!(err.to_string().contains("loopback only"), "{err}");
}

#[test]
fn in_prefix_compares_the_network_bits_of_one_family() {
    assert!(in_prefix(ip("104.23.255.255"), ip("104.16.0.0"), 13));
    assert!(!in_prefix(ip("104.24.0.0"), ip("104.16.0.0"), 13));
    assert!(in_prefix(ip("2a06:98c7::1"), ip("2a06:98c0::"), 29));
    assert!(!in_prefix(ip("2a06:98c8::1"), ip("2a06:98c0::"), 29));
    assert!(in_prefix(ip("10.1.2.3"), ip("0.0.0.0"), 0));
    // Another family never matches; a length past the width is exact.
    assert!(!in_prefix(ip("::ffff:104.16.0.1"), ip("104.16.0.0"), 13));
    assert!(in_prefix(ip("192.0.2.1"), ip("192.0.2.1"), 40));
    assert!(!in_prefix(ip("192.0.2.2"), ip("192.0.2.1"), 40));
}
