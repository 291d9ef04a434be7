#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn parameters() -> DnsPersistentParameters {
    DnsPersistentParameters {
        issuer_domain_names: vec![
            DomainName::parse("authority.example").unwrap(),
            DomainName::parse("ca.example").unwrap(),
        ],
        account_uri: "https://ca.example/acct/123".into(),
    }
}

#[test]
fn record_verdicts() {
    const NOW: u64 = 1_700_000_000;
    // (record, wildcard target, expected rejection kind or None for accept)
    let cases: &[(&str, bool, Option<&str>)] = &[
        (
            "authority.example; accounturi=https://ca.example/acct/123",
            false,
            None,
        ),
        (
            "  Authority.EXAMPLE ;accounturi = https://ca.example/acct/123  ",
            false,
            None,
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; policy=wildcard",
            true,
            None,
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; POLICY=WildCard",
            true,
            None,
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; persistUntil=1700000000",
            false,
            None,
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; future-key=x",
            false,
            None,
        ),
        (
            "ca.example; AccountURI=https://ca.example/acct/123",
            false,
            None,
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123",
            true,
            Some("wildcard_not_authorized"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; policy=other",
            true,
            Some("wildcard_not_authorized"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; persistUntil=1699999999",
            false,
            Some("expired"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; persistUntil=soon",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123; persistUntil=-1",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/124",
            false,
            Some("other_account"),
        ),
        (
            "ca.example; accounturi=HTTPS://ca.example/acct/123",
            false,
            Some("other_account"),
        ),
        ("ca.example", false, Some("missing_account_uri")),
        ("ca.example;", false, Some("missing_account_uri")),
        (
            "other.example; accounturi=https://ca.example/acct/123",
            false,
            Some("other_issuer"),
        ),
        (
            "; accounturi=https://ca.example/acct/123",
            false,
            Some("malformed"),
        ),
        (
            "ca.example accounturi=https://ca.example/acct/123",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/123;",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; accounturi=a; accounturi=https://ca.example/acct/123",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; accounturi=https://ca.example/acct/1 23",
            false,
            Some("malformed"),
        ),
        (
            "ca_x.example; accounturi=https://ca.example/acct/123",
            false,
            Some("malformed"),
        ),
        (
            "ca.example; -bad=1; accounturi=https://ca.example/acct/123",
            false,
            Some("malformed"),
        ),
    ];
    for (record, wildcard, expected) in cases {
        let verdict = parse_persist_record(record.as_bytes())
            .and_then(|parsed| judge_persist_record(&parsed, &parameters(), *wildcard, NOW));
        let kind = verdict.err().map(|rejection| {
            serde_json::to_value(&rejection).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        assert_eq!(kind.as_deref(), *expected, "{record} wildcard={wildcard}");
    }
}
