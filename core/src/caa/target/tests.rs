#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn parses_and_normalises() {
    let cases = [
        ("www.Example.COM", "www.example.com", false),
        ("www.example.com.", "www.example.com", false),
        ("*.example.com", "example.com", true),
        ("*.EXAMPLE.com.", "example.com", true),
        ("com", "com", false),
        ("_acme.example.com", "_acme.example.com", false),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", false),
    ];
    for (input, lookup_name, wildcard) in cases {
        let target = CaaTarget::parse(input).unwrap();
        assert_eq!(target.lookup_name, lookup_name, "{input}");
        assert_eq!(target.wildcard, wildcard, "{input}");
    }
}

#[test]
fn rejects_bad_names() {
    let long_label = "a".repeat(64);
    let many_labels = vec!["a"; 128].join(".");
    let too_long = vec!["abcdefghi"; 26].join(".");
    let cases = [
        ("", NameError::Empty),
        (".", NameError::Empty),
        ("b\u{fc}cher.example", NameError::NotAscii),
        ("a..example", NameError::EmptyLabel),
        (".example", NameError::EmptyLabel),
        ("example..", NameError::EmptyLabel),
        ("*", NameError::BareWildcard),
        ("*.", NameError::BareWildcard),
        ("a.*.example", NameError::MisplacedWildcard),
        ("*.*.example", NameError::MisplacedWildcard),
        ("*a.example", NameError::MisplacedWildcard),
        (
            "a b.example",
            NameError::InvalidCharacter {
                label: "a b".into(),
            },
        ),
        (
            &format!("{long_label}.example"),
            NameError::LabelTooLong {
                label: long_label.clone(),
            },
        ),
        (&many_labels, NameError::TooManyLabels { count: 128 }),
        (&too_long, NameError::TooLong { length: 259 }),
    ];
    for (input, error) in cases {
        assert_eq!(CaaTarget::parse(input), Err(error), "{input:?}");
    }
}

#[test]
fn climbs_to_the_tld_not_the_root() {
    let target = CaaTarget::parse("*.a.b.example.com").unwrap();
    assert_eq!(
        target.climb().collect::<Vec<_>>(),
        ["a.b.example.com", "b.example.com", "example.com", "com"]
    );
    let target = CaaTarget::parse("com").unwrap();
    assert_eq!(target.climb().collect::<Vec<_>>(), ["com"]);
}
