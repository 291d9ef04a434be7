#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::HeaderValue;

use super::*;

fn client(name: &str, key: &str) -> ApiClient {
    ApiClient {
        name: name.into(),
        key_sha256: Sha256::digest(key.as_bytes()).into(),
        identities: CaIdentities::of_the_ca(&[]),
    }
}

fn keys() -> ApiKeys {
    ApiKeys::new(&[client("issuance", "key-one"), client("audit", "key-two")])
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

#[test]
fn keys_are_recognised_in_either_header() {
    type Headers<'a> = &'a [(&'static str, &'a str)];
    let table: &[(Headers<'_>, Option<&str>)] = &[
        (&[("authorization", "Bearer key-one")], Some("issuance")),
        (&[("authorization", "bearer key-two")], Some("audit")),
        (&[("authorization", "BEARER   key-one  ")], Some("issuance")),
        (&[("x-api-key", "key-two")], Some("audit")),
        (&[("x-api-key", " key-one ")], Some("issuance")),
        // Either header matching is enough.
        (
            &[("authorization", "Bearer wrong"), ("x-api-key", "key-one")],
            Some("issuance"),
        ),
        (&[], None),
        (&[("authorization", "Bearer wrong")], None),
        (&[("authorization", "Bearer ")], None),
        (&[("authorization", "Basic a2V5LW9uZQ==")], None),
        (&[("authorization", "key-one")], None),
        (&[("authorization", "Bearerkey-one")], None),
        (&[("x-api-key", "")], None),
        (&[("x-api-key", "KEY-ONE")], None),
        // The hash itself is not a key.
        (
            &[(
                "x-api-key",
                "2f7e6b3c6e4b0ad4bd6e0c5c4a5d1b0f7c8e6a1d3b9c2e4f5a6b7c8d9e0f1a2b",
            )],
            None,
        ),
    ];
    let keys = keys();
    for (pairs, expected) in table {
        assert_eq!(
            keys.authenticate(&headers(pairs)).map(|c| c.name.clone()),
            expected.map(str::to_owned),
            "{pairs:?}"
        );
    }
}

#[test]
fn no_configured_clients_means_no_access() {
    let none = ApiKeys::new(&[]);
    assert_eq!(
        none.authenticate(&headers(&[("x-api-key", "key-one")])),
        None
    );
}
