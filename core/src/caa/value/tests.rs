#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn p(tag: &str, value: &str) -> Parameter {
    Parameter {
        tag: tag.into(),
        value: value.into(),
    }
}

#[test]
fn grammar_accepts() {
    type Case = (&'static [u8], Option<&'static str>, Vec<Parameter>);
    let cases: Vec<Case> = vec![
        (b"ca.example", Some("ca.example"), vec![]),
        (b"", None, vec![]),
        (b"   \t ", None, vec![]),
        (b";", None, vec![]),
        (b" ; ", None, vec![]),
        (b"  ca.example  ", Some("ca.example"), vec![]),
        (b"\tca.example\t;\t", Some("ca.example"), vec![]),
        (b"ca.example;", Some("ca.example"), vec![]),
        (b"CA.Example", Some("CA.Example"), vec![]),
        (
            b"xn--bcher-kva.example",
            Some("xn--bcher-kva.example"),
            vec![],
        ),
        (b"a--b.c", Some("a--b.c"), vec![]),
        (b"1.2", Some("1.2"), vec![]),
        (b"ca", Some("ca"), vec![]),
        (
            b"ca.example; account=230123",
            Some("ca.example"),
            vec![p("account", "230123")],
        ),
        (b"; a=b", None, vec![p("a", "b")]),
        (b";a=b", None, vec![p("a", "b")]),
        (b"ca.example; a = b", Some("ca.example"), vec![p("a", "b")]),
        (
            b"ca.example;a\t=\tb\t",
            Some("ca.example"),
            vec![p("a", "b")],
        ),
        (b"ca.example; a=", Some("ca.example"), vec![p("a", "")]),
        (b"ca.example; a= ", Some("ca.example"), vec![p("a", "")]),
        (
            b"ca.example; a=b=c",
            Some("ca.example"),
            vec![p("a", "b=c")],
        ),
        (
            b"ca.example; a=b ;c=d",
            Some("ca.example"),
            vec![p("a", "b"), p("c", "d")],
        ),
        (
            b"ca.example; accounturi=https://ca.example/acct/1; validationmethods=dns-01,http-01",
            Some("ca.example"),
            vec![
                p("accounturi", "https://ca.example/acct/1"),
                p("validationmethods", "dns-01,http-01"),
            ],
        ),
        (
            b"ca.example; X-Y=1",
            Some("ca.example"),
            vec![p("X-Y", "1")],
        ),
        (b"ca.example; a=!~", Some("ca.example"), vec![p("a", "!~")]),
        (
            b"ca.example; a=1; a=2",
            Some("ca.example"),
            vec![p("a", "1"), p("a", "2")],
        ),
    ];
    for (input, issuer, parameters) in cases {
        let parsed = parse_issuer_value(input)
            .unwrap_or_else(|e| panic!("{:?} rejected: {e}", String::from_utf8_lossy(input)));
        assert_eq!(
            parsed,
            IssuerValue {
                issuer_domain_name: issuer.map(str::to_owned),
                parameters,
            },
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn grammar_rejects() {
    let cases: Vec<(&[u8], ValueError)> = vec![
        (
            b"%%%",
            ValueError::UnexpectedByte {
                position: 0,
                byte: b'%',
            },
        ),
        (b"ca.example.", ValueError::EmptyLabel { position: 11 }),
        (b"ca..example", ValueError::EmptyLabel { position: 3 }),
        (
            b".ca.example",
            ValueError::UnexpectedByte {
                position: 0,
                byte: b'.',
            },
        ),
        (
            b"ca-.example",
            ValueError::LabelEndsWithHyphen { position: 2 },
        ),
        (
            b"-ca.example",
            ValueError::UnexpectedByte {
                position: 0,
                byte: b'-',
            },
        ),
        (
            b"ca.example-",
            ValueError::LabelEndsWithHyphen { position: 10 },
        ),
        (
            b"ca_1.example",
            ValueError::UnexpectedByte {
                position: 2,
                byte: b'_',
            },
        ),
        (
            b"ca.example; a=b;",
            ValueError::ParameterExpected { position: 16 },
        ),
        (
            b"ca.example; a=b; ",
            ValueError::ParameterExpected { position: 17 },
        ),
        (
            b"ca.example;;",
            ValueError::UnexpectedByte {
                position: 11,
                byte: b';',
            },
        ),
        (
            b"ca.example;; a=b",
            ValueError::UnexpectedByte {
                position: 11,
                byte: b';',
            },
        ),
        (
            b"ca.example; a=b;;c=d",
            ValueError::ParameterExpected { position: 16 },
        ),
        (
            b"ca.example; a",
            ValueError::EqualsExpected { position: 13 },
        ),
        (
            b"ca.example; a b=c",
            ValueError::EqualsExpected { position: 14 },
        ),
        (
            b"ca.example; =b",
            ValueError::UnexpectedByte {
                position: 12,
                byte: b'=',
            },
        ),
        (
            b"ca.example; -a=b",
            ValueError::UnexpectedByte {
                position: 12,
                byte: b'-',
            },
        ),
        (
            b"ca.example; a-=b",
            ValueError::LabelEndsWithHyphen { position: 13 },
        ),
        // A value cannot hold ';' or a space: what follows must be a new
        // parameter.
        (
            b"ca.example; a=b c",
            ValueError::UnexpectedByte {
                position: 16,
                byte: b'c',
            },
        ),
        (
            b"ca.example; a=b;c",
            ValueError::EqualsExpected { position: 17 },
        ),
        (
            b"ca.example a=b",
            ValueError::UnexpectedByte {
                position: 11,
                byte: b'a',
            },
        ),
        (
            b"ca example",
            ValueError::UnexpectedByte {
                position: 3,
                byte: b'e',
            },
        ),
        (
            "c\u{e4}.example".as_bytes(),
            ValueError::UnexpectedByte {
                position: 1,
                byte: 0xc3,
            },
        ),
        (
            "ca.example; a=\u{e4}".as_bytes(),
            ValueError::UnexpectedByte {
                position: 14,
                byte: 0xc3,
            },
        ),
        (
            b"ca.example; a=\x7f",
            ValueError::UnexpectedByte {
                position: 14,
                byte: 0x7f,
            },
        ),
        (
            b"ca.example\n",
            ValueError::UnexpectedByte {
                position: 10,
                byte: b'\n',
            },
        ),
        (
            b"\x00",
            ValueError::UnexpectedByte {
                position: 0,
                byte: 0,
            },
        ),
        (
            b"ca.example; a=\"b\"x y",
            ValueError::UnexpectedByte {
                position: 19,
                byte: b'y',
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            parse_issuer_value(input),
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn issuer_domain_name_and_label_checks() {
    for (name, ok) in [
        ("ca.example", true),
        ("CA.EXAMPLE", true),
        ("ca", true),
        ("ca.example.", false),
        ("", false),
        ("ca example", false),
        ("ca-.example", false),
        (" ca.example", false),
    ] {
        assert_eq!(is_issuer_domain_name(name), ok, "{name:?}");
    }
    for (label, ok) in [
        ("dns-01", true),
        ("tls-alpn-01", true),
        ("a", true),
        ("", false),
        ("-a", false),
        ("a-", false),
        ("a b", false),
        ("a.b", false),
    ] {
        assert_eq!(is_label(label), ok, "{label:?}");
    }
}

#[test]
fn parameter_lookup_ignores_tag_case() {
    let value = parse_issuer_value(b"ca; AccountURI=x; accounturi=y; other=z").unwrap();
    assert_eq!(
        value.parameter_values("accounturi").collect::<Vec<_>>(),
        ["x", "y"]
    );
}
