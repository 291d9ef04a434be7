#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

// RFC 8032 section 7.1, TEST 1.
const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

fn hex(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn rfc_key() -> SigningKey {
    SigningKey::from_bytes(&hex(SEED_HEX))
}

#[test]
fn formats_and_parses_back() {
    let signing = rfc_key();
    assert_eq!(signing.verifying_key().to_bytes(), hex(PUBLIC_HEX));
    let public_text = format_verifying_key(&signing.verifying_key());
    assert_eq!(
        public_text,
        "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
    );
    assert_eq!(
        parse_verifying_key(&public_text).unwrap(),
        signing.verifying_key()
    );
    let seed_text = format_signing_key(&signing);
    assert_eq!(
        seed_text.as_str(),
        "ed25519-seed:nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
    );
    assert_eq!(
        parse_signing_key(&seed_text).unwrap().to_bytes(),
        signing.to_bytes()
    );
}

#[test]
fn accepts_every_documented_spelling() {
    let public = rfc_key().verifying_key();
    for text in [
        "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
        "ED25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "  ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",
    ] {
        assert_eq!(parse_verifying_key(text).unwrap(), public, "{text:?}");
    }
    for text in [
        "ed25519-seed:nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
        "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    ] {
        assert_eq!(
            parse_signing_key(text).unwrap().verifying_key(),
            public,
            "{text:?}"
        );
    }
}

#[test]
fn refuses_bad_text_with_the_reason() {
    let cases: [(&str, KeyError); 6] = [
        ("x25519:AAAA", KeyError::UnknownPrefix("x25519".into())),
        (
            "ed25519-seed:nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=",
            KeyError::SeedWherePublicKeyExpected,
        ),
        ("ed25519:AAAA", KeyError::Length(3)),
        (
            "ed25519:not base64",
            KeyError::Base64("invalid symbol at 3".into()),
        ),
        // The identity point: small order.
        (
            "ed25519:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            KeyError::Weak,
        ),
        // y = 2 is not on the curve.
        (
            "ed25519:AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            KeyError::NotAPoint,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_verifying_key(text), Err(expected), "{text}");
    }
    assert_eq!(
        parse_signing_key("ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").err(),
        Some(KeyError::PublicKeyWhereSeedExpected)
    );
    assert_eq!(parse_signing_key("AAAA").err(), Some(KeyError::Length(3)));
}

#[test]
fn serde_helper_round_trips() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Config {
        #[serde(with = "verifying_key_text")]
        key: VerifyingKey,
    }
    let config = Config {
        key: rfc_key().verifying_key(),
    };
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        json,
        r#"{"key":"ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}"#
    );
    assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), config);
    assert!(serde_json::from_str::<Config>(r#"{"key":"ed25519:AAAA"}"#).is_err());
}
