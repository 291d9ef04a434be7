#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::location::Coordinates;
use proptest::prelude::*;

const NOW: u64 = 1_760_000_000_000;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn nonce() -> Nonce {
    Nonce::new(vec![0x5a; 16]).unwrap()
}

fn body() -> ReportBody {
    ReportBody {
        request_digest: request_digest(br#"{"check":"caa","domain":"example.com"}"#),
        nonce: nonce(),
        perspective_id: "cf-fra".into(),
        rir: Rir::RipeNcc,
        location: Location {
            region: "eu-central".into(),
            coordinates: Some(Coordinates::new(50.11, 8.68).unwrap()),
        },
        resolvers: vec!["https://cloudflare-dns.com/dns-query".into()],
        started_at_ms: NOW - 2_000,
        finished_at_ms: NOW - 1_000,
        verdict: Verdict::Pass,
        reason: "CAA permits issuance".into(),
        observation: Observation::from_json(r#"{"caa": [ "0 issue \"ca.example\"" ]}"#.into())
            .unwrap(),
        data_center: Some(DataCenter {
            code: "FRA".into(),
            country: Some("DE".into()),
        }),
    }
}

struct Expected {
    key: VerifyingKey,
    nonce: Nonce,
    digest: [u8; 32],
}

impl Expected {
    fn new() -> Self {
        let b = body();
        Self {
            key: key(1).verifying_key(),
            nonce: b.nonce,
            digest: b.request_digest,
        }
    }

    fn get(&self) -> Expectations<'_> {
        Expectations {
            perspective_id: "cf-fra",
            key: &self.key,
            nonce: &self.nonce,
            request_digest: &self.digest,
            now_ms: NOW,
            max_age_ms: 60_000,
            max_future_skew_ms: 5_000,
        }
    }
}

#[test]
fn request_digest_is_domain_separated_sha256() {
    // SHA-256("MPIC-REQUEST-DIGEST-v1\0" || "abc"), computed independently.
    let expected = Sha256::digest(b"MPIC-REQUEST-DIGEST-v1\0abc");
    assert_eq!(request_digest(b"abc"), <[u8; 32]>::from(expected));
    assert_ne!(
        request_digest(b"abc"),
        <[u8; 32]>::from(Sha256::digest(b"abc"))
    );
}

#[test]
fn signed_bytes_follow_the_documented_layout() {
    let mut b = body();
    b.location.coordinates = None;
    b.resolvers = vec!["r1".into(), "r2".into()];
    b.observation = Observation::from_json("{}".into()).unwrap();
    b.reason = "ok".into();
    b.perspective_id = "p".into();
    b.location.region = "eu".into();
    let expected: Vec<u8> = [
        &b"MPIC-REPORT"[..],
        &[2],
        &b.request_digest,
        &[16],
        &[0x5a; 16],
        &[0, 0, 0, 1, b'p'],
        &[2],
        &[0, 0, 0, 2, b'e', b'u'],
        &[0],
        &[0, 0, 0, 2],
        &[0, 0, 0, 2, b'r', b'1'],
        &[0, 0, 0, 2, b'r', b'2'],
        &(NOW - 2_000).to_be_bytes(),
        &(NOW - 1_000).to_be_bytes(),
        &[1],
        &[0, 0, 0, 2, b'o', b'k'],
        &[0, 0, 0, 2, b'{', b'}'],
        &[1],
        &[0, 0, 0, 3, b'F', b'R', b'A'],
        &[0, 0, 0, 2, b'D', b'E'],
    ]
    .concat();
    assert_eq!(b.to_signed_bytes().unwrap(), expected);
}

/// Evidence records keep reports signed before field 15 existed: they still
/// verify, with no data center.
#[test]
fn a_version_1_report_still_verifies_without_a_data_center() {
    let mut old = body();
    old.data_center = None;
    let mut bytes = old.to_signed_bytes().unwrap();
    bytes[REPORT_MAGIC.len()] = REPORT_VERSION_1;
    assert_eq!(bytes.pop(), Some(0), "v2 ends with the absent flag");
    let signed = SignedReport {
        signer: keys::format_verifying_key(&key(1).verifying_key()),
        signature: key(1).sign(&bytes).to_bytes().to_vec(),
        report: bytes,
    };
    assert_eq!(verify(&signed, &Expected::new().get()).unwrap(), old);
}

#[test]
fn sign_then_verify_returns_the_body_with_the_exact_observation_bytes() {
    let signed = sign(&key(1), &body()).unwrap();
    let verified = verify(&signed, &Expected::new().get()).unwrap();
    assert_eq!(verified, body());
    // Whitespace inside the observation survives: the signature covers it.
    assert_eq!(
        verified.observation.as_str(),
        r#"{"caa": [ "0 issue \"ca.example\"" ]}"#
    );
    let parsed: serde_json::Value = verified.observation.parse().unwrap();
    assert_eq!(parsed["caa"][0], "0 issue \"ca.example\"");
}

#[test]
fn transport_json_round_trips_and_shows_the_observation_as_json() {
    let signed = sign(&key(1), &body()).unwrap();
    let json = serde_json::to_vec(&signed).unwrap();
    let back = SignedReport::from_json(&json).unwrap();
    assert_eq!(back, signed);
    assert!(verify(&back, &Expected::new().get()).is_ok());

    let body_json = serde_json::to_value(body()).unwrap();
    assert_eq!(body_json["observation"]["caa"][0], "0 issue \"ca.example\"");
    assert_eq!(body_json["rir"], "ripe");
    assert_eq!(body_json["verdict"], "pass");
    let body_back: ReportBody = serde_json::from_value(body_json).unwrap();
    assert_eq!(body_back.nonce, body().nonce);

    assert!(matches!(
        SignedReport::from_json(b"{\"signer\":1}"),
        Err(ReportError::BadEncoding { .. })
    ));
}

/// Re-signs arbitrary bytes with the right key, to reach the decoder.
fn signed_bytes(bytes: Vec<u8>) -> SignedReport {
    let k = key(1);
    SignedReport {
        signer: keys::format_verifying_key(&k.verifying_key()),
        signature: k.sign(&bytes).to_bytes().to_vec(),
        report: bytes,
    }
}

#[test]
fn each_refusal_has_its_reason() {
    let good = sign(&key(1), &body()).unwrap();
    let e = Expected::new();
    let other_nonce = Nonce::new(vec![1; 16]).unwrap();
    let other_digest = request_digest(b"other");
    let other_key = key(2).verifying_key();

    let mut tampered = good.clone();
    let last = tampered.report.len() - 2;
    tampered.report[last] ^= 1;

    let mut short_signature = good.clone();
    short_signature.signature.pop();

    let mut bad_signer = good.clone();
    bad_signer.signer = "ed25519:AAAA".into();

    let mut v3 = body().to_signed_bytes().unwrap();
    v3[REPORT_MAGIC.len()] = 3;

    let mut trailing = body().to_signed_bytes().unwrap();
    trailing.push(0);

    let mut magic = body().to_signed_bytes().unwrap();
    magic[0] = b'X';
    let (v3, trailing, magic) = (
        signed_bytes(v3),
        signed_bytes(trailing),
        signed_bytes(magic),
    );

    let mut backwards = body();
    backwards.started_at_ms = NOW;
    backwards.finished_at_ms = NOW - 1;
    let backwards = signed_bytes(backwards.to_signed_bytes().unwrap());

    let mut future = body();
    future.finished_at_ms = NOW + 5_001;
    let future = sign(&key(1), &future).unwrap();
    let mut just_in_skew = body();
    just_in_skew.finished_at_ms = NOW + 5_000;
    let just_in_skew = sign(&key(1), &just_in_skew).unwrap();

    let mut stale = body();
    stale.started_at_ms = NOW - 60_001;
    let stale = sign(&key(1), &stale).unwrap();
    let mut just_fresh = body();
    just_fresh.started_at_ms = NOW - 60_000;
    let just_fresh = sign(&key(1), &just_fresh).unwrap();

    let cases: Vec<(
        &str,
        &SignedReport,
        Expectations<'_>,
        Result<(), ReportError>,
    )> = vec![
        ("good", &good, e.get(), Ok(())),
        (
            "wrong key",
            &good,
            Expectations {
                key: &other_key,
                ..e.get()
            },
            Err(ReportError::WrongKey {
                expected: keys::format_verifying_key(&other_key),
                claimed: keys::format_verifying_key(&e.key),
            }),
        ),
        (
            "tampered",
            &tampered,
            e.get(),
            Err(ReportError::BadSignature),
        ),
        (
            "short signature",
            &short_signature,
            e.get(),
            Err(bad_encoding("signature is 63 bytes, not 64")),
        ),
        (
            "bad signer",
            &bad_signer,
            e.get(),
            Err(bad_encoding(
                "signer: key is 3 bytes; an Ed25519 key is 32 bytes",
            )),
        ),
        (
            "version 3",
            &v3,
            e.get(),
            Err(ReportError::UnsupportedVersion { version: 3 }),
        ),
        (
            "trailing byte",
            &trailing,
            e.get(),
            Err(bad_encoding("1 bytes after the last field")),
        ),
        (
            "bad magic",
            &magic,
            e.get(),
            Err(bad_encoding("does not start with the magic `MPIC-REPORT`")),
        ),
        (
            "wrong perspective",
            &good,
            Expectations {
                perspective_id: "cf-ams",
                ..e.get()
            },
            Err(ReportError::WrongPerspective {
                expected: "cf-ams".into(),
                claimed: "cf-fra".into(),
            }),
        ),
        (
            "wrong nonce",
            &good,
            Expectations {
                nonce: &other_nonce,
                ..e.get()
            },
            Err(ReportError::WrongNonce),
        ),
        (
            "wrong request",
            &good,
            Expectations {
                request_digest: &other_digest,
                ..e.get()
            },
            Err(ReportError::WrongRequest),
        ),
        (
            "end before start",
            &backwards,
            e.get(),
            Err(ReportError::EndBeforeStart {
                started_at_ms: NOW,
                finished_at_ms: NOW - 1,
            }),
        ),
        (
            "from the future",
            &future,
            e.get(),
            Err(ReportError::FromTheFuture {
                finished_at_ms: NOW + 5_001,
                now_ms: NOW,
                max_future_skew_ms: 5_000,
            }),
        ),
        ("at the skew limit", &just_in_skew, e.get(), Ok(())),
        (
            "stale",
            &stale,
            e.get(),
            Err(ReportError::Stale {
                started_at_ms: NOW - 60_001,
                now_ms: NOW,
                max_age_ms: 60_000,
            }),
        ),
        ("at the age limit", &just_fresh, e.get(), Ok(())),
    ];
    for (name, signed, expect, expected) in cases {
        assert_eq!(verify(signed, &expect).map(|_| ()), expected, "{name}");
    }
}

#[test]
fn decoder_refuses_bad_field_values() {
    let base = body().to_signed_bytes().unwrap();
    // Offset of the RIR byte: magic, version, digest, nonce, perspective id.
    let rir_at = 11 + 1 + 32 + 1 + 16 + 4 + "cf-fra".len();
    assert_eq!(base[rir_at], Rir::RipeNcc.code());
    let mut bad_rir = base.clone();
    bad_rir[rir_at] = 9;
    let mut bad_nonce_len = base.clone();
    bad_nonce_len[11 + 1 + 32] = 15;
    let mut bad_coordinates = body();
    bad_coordinates.location.coordinates = None;
    let mut bad_coordinates = bad_coordinates.to_signed_bytes().unwrap();
    let flag_at = rir_at + 1 + 4 + "eu-central".len();
    assert_eq!(bad_coordinates[flag_at], 0);
    bad_coordinates[flag_at] = 2;
    let mut not_json = body();
    not_json.observation = Observation("{".into());
    let not_json = not_json.to_signed_bytes().unwrap();

    for (name, bytes, fragment) in [
        ("rir", bad_rir, "unknown code 9"),
        ("nonce length", bad_nonce_len, "field `nonce`"),
        ("coordinates flag", bad_coordinates, "presence flag 2"),
        ("observation", not_json, "field `observation`"),
    ] {
        let result = verify(&signed_bytes(bytes), &Expected::new().get());
        match result {
            Err(ReportError::BadEncoding { detail }) => {
                assert!(detail.contains(fragment), "{name}: {detail}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn sign_refuses_a_body_that_could_not_count() {
    let mut b = body();
    b.finished_at_ms = b.started_at_ms - 1;
    assert_eq!(
        sign(&key(1), &b),
        Err(SignError::EndBeforeStart {
            started_at_ms: b.started_at_ms,
            finished_at_ms: b.started_at_ms - 1
        })
    );
}

#[test]
fn coordinates_and_observations_are_validated() {
    for (lat, lon, ok) in [
        (0.0, 0.0, true),
        (90.0, 180.0, true),
        (-90.0, -180.0, true),
        (90.1, 0.0, false),
        (0.0, -180.5, false),
        (f64::NAN, 0.0, false),
        (0.0, f64::INFINITY, false),
    ] {
        assert_eq!(Coordinates::new(lat, lon).is_ok(), ok, "({lat}, {lon})");
    }
    assert!(serde_json::from_str::<Coordinates>(r#"{"latitude":91,"longitude":0}"#).is_err());
    assert!(Observation::from_json("{} {}".into()).is_err());
    assert!(Observation::from_json_bytes(vec![0xff]).is_err());
    assert_eq!(Observation::from_value(&[1, 2]).unwrap().as_str(), "[1,2]");
}

fn arb_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 :/._é-]{0,24}").unwrap()
}

prop_compose! {
    fn arb_body()(
        digest in any::<[u8; 32]>(),
        nonce in proptest::collection::vec(any::<u8>(), 16..=32),
        perspective_id in arb_text(),
        rir in proptest::sample::select(Rir::ALL.to_vec()),
        region in arb_text(),
        coordinates in proptest::option::of((-90.0f64..=90.0, -180.0f64..=180.0)),
        resolvers in proptest::collection::vec(arb_text(), 0..4),
        started in 0u64..u64::MAX / 2,
        duration in 0u64..100_000,
        verdict in proptest::sample::select(vec![Verdict::Pass, Verdict::Fail, Verdict::Error]),
        reason in arb_text(),
        observed in proptest::collection::vec(arb_text(), 0..3),
        data_center in proptest::option::of((arb_text(), proptest::option::of(arb_text()))),
    ) -> ReportBody {
        ReportBody {
            request_digest: digest,
            nonce: Nonce::new(nonce).unwrap(),
            perspective_id,
            rir,
            location: Location {
                region,
                coordinates: coordinates.map(|(lat, lon)| Coordinates::new(lat, lon).unwrap()),
            },
            resolvers,
            started_at_ms: started,
            finished_at_ms: started + duration,
            verdict,
            reason,
            observation: Observation::from_value(&observed).unwrap(),
            // An empty country is written as "not known".
            data_center: data_center.map(|(code, country)| DataCenter {
                code,
                country: country.filter(|c| !c.is_empty()),
            }),
        }
    }
}

fn expectations_for<'a>(b: &'a ReportBody, key: &'a VerifyingKey) -> Expectations<'a> {
    Expectations {
        perspective_id: &b.perspective_id,
        key,
        nonce: &b.nonce,
        request_digest: &b.request_digest,
        now_ms: b.finished_at_ms,
        max_age_ms: u64::MAX,
        max_future_skew_ms: 0,
    }
}

proptest! {
    #[test]
    fn encoding_round_trips(b in arb_body()) {
        let bytes = b.to_signed_bytes().unwrap();
        prop_assert_eq!(ReportBody::from_signed_bytes(&bytes).unwrap(), b);
    }
}

proptest! {
    // Ed25519 in an unoptimised test build costs milliseconds per call.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sign_verify_round_trips(b in arb_body()) {
        let public = key(1).verifying_key();
        let signed = sign(&key(1), &b).unwrap();
        prop_assert_eq!(verify(&signed, &expectations_for(&b, &public)).unwrap(), b);
    }

    #[test]
    fn any_single_byte_change_fails_verification(
        b in arb_body(),
        position in any::<proptest::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let public = key(1).verifying_key();
        let mut signed = sign(&key(1), &b).unwrap();
        let at = position.index(signed.report.len());
        signed.report[at] ^= flip;
        prop_assert_eq!(verify(&signed, &expectations_for(&b, &public)), Err(ReportError::BadSignature));
    }
}

#[cfg(feature = "batch")]
#[test]
fn batch_matches_one_by_one() {
    let e = Expected::new();
    let good = sign(&key(1), &body()).unwrap();
    let mut tampered = good.clone();
    tampered.report[20] ^= 1;
    let wrong_key = sign(&key(2), &body()).unwrap();
    let other_nonce = Nonce::new(vec![1; 16]).unwrap();
    let wrong_nonce = Expectations {
        nonce: &other_nonce,
        ..e.get()
    };
    let expect = e.get();

    let all_good = [(&good, &expect), (&good, &expect)];
    let results = verify_batch(&all_good);
    assert!(results.iter().all(Result::is_ok));

    let mixed = [
        (&good, &expect),
        (&tampered, &expect),
        (&wrong_key, &expect),
        (&good, &wrong_nonce),
    ];
    let batch: Vec<_> = verify_batch(&mixed)
        .into_iter()
        .map(|r| r.map(|_| ()))
        .collect();
    let single: Vec<_> = mixed
        .iter()
        .map(|(s, x)| verify(s, x).map(|_| ()))
        .collect();
    assert_eq!(batch, single);
    assert_eq!(batch[0], Ok(()));
    assert_eq!(batch[1], Err(ReportError::BadSignature));
    assert!(matches!(batch[2], Err(ReportError::WrongKey { .. })));
    assert_eq!(batch[3], Err(ReportError::WrongNonce));
    assert!(verify_batch(&[]).is_empty());
}
