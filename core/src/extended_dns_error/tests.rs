#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn option_data_round_trips_and_short_data_is_refused() {
    let data = ExtendedDnsError::option_data(22, "at ns1.example");
    let ede = ExtendedDnsError::from_option_data(&data).unwrap();
    assert_eq!(ede.info_code, 22);
    assert_eq!(ede.name, "No Reachable Authority");
    assert_eq!(ede.extra_text, "at ns1.example");
    assert_eq!(ExtendedDnsError::from_option_data(&[0]), None);
    let bare = ExtendedDnsError::from_option_data(&[0, 99]).unwrap();
    assert_eq!(
        (bare.name.as_str(), bare.extra_text.as_str()),
        ("Unassigned", "")
    );
}

#[test]
fn only_the_domains_servers_and_dnssec_data_are_the_domains_blame() {
    let blame = |code| {
        ExtendedDnsError::from_option_data(&[0, code])
            .unwrap()
            .blame()
    };
    for code in [1, 6, 7, 9, 12, 22, 23, 24] {
        assert_eq!(blame(code), Blame::Domain, "{code}");
    }
    for code in [0, 3, 4, 13, 14, 15, 17, 18, 20, 21, 25, 200] {
        assert_eq!(blame(code), Blame::Resolver, "{code}");
    }
}

#[test]
fn extra_text_is_bounded_and_has_no_control_characters() {
    let long = format!("a\u{7}b\n{}", "x".repeat(1000));
    let ede = ExtendedDnsError::from_option_data(&ExtendedDnsError::option_data(6, &long)).unwrap();
    assert!(ede.extra_text.starts_with("abx"));
    assert_eq!(ede.extra_text.chars().count(), MAX_EXTRA_TEXT_CHARS);
}
