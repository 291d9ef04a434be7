//! Signed perspective reports: `SignedReport::from_json` + `report::verify`.
//!
//! The first input byte picks the mode (bit 0):
//! - 0, transport: the rest is the JSON a perspective (or anyone on the path)
//!   sends; it is verified against fixed [`expectations`]. Without the
//!   perspective's key the fuzzer can only mutate the valid seeds, so this
//!   mode tests that no re-encoding of a signed report (other base64 forms,
//!   JSON variations, signature bits) verifies to anything but what was
//!   signed.
//! - 1, stolen key: the rest is the signed bytes, which the harness signs
//!   with the perspective's key, as an attacker holding that key could. This
//!   reaches the decoder and the expectation checks with arbitrary bytes.
//!
//! Invariants when a report verifies:
//! - the body states the expected perspective, nonce and request digest,
//!   starts no later than it finishes, is not from the future (beyond the
//!   skew) and not stale;
//! - the encoding is canonical: re-encoding the body gives the signed bytes,
//!   and re-signing gives the same signature (no second form verifies);
//! - under another expected key it is `WrongKey`; with one signature bit
//!   flipped, or one signed byte changed, it never verifies.
//!
//! And always: `verify_batch` returns what `verify` returns.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use mpic_core::keys::format_verifying_key;
use mpic_core::location::{Coordinates, Location};
use mpic_core::report::{DataCenter, Expectations, REPORT_MAGIC, REPORT_VERSION, REPORT_VERSION_1, Observation, ReportBody, ReportError, SignedReport, Verdict, request_digest, sign, verify, verify_batch};
use mpic_core::nonce::Nonce;
use mpic_core::rir::Rir;

/// The coordinator's clock for every verification.
pub const NOW_MS: u64 = 1_760_000_000_000;
pub const MAX_AGE_MS: u64 = 60_000;
pub const MAX_FUTURE_SKEW_MS: u64 = 5_000;
pub const PERSPECTIVE_ID: &str = "cf-fra";
/// The request the coordinator sent.
pub const REQUEST: &[u8] = br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#;

/// The perspective's key (a fixed test seed).
pub fn perspective_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

/// Another perspective's key.
pub fn other_key() -> SigningKey {
    SigningKey::from_bytes(&[2; 32])
}

/// The attempt's nonce.
pub fn nonce() -> Nonce {
    match Nonce::new(vec![0x5a; 16]) {
        Ok(nonce) => nonce,
        Err(e) => panic!("fixed nonce: {e}"),
    }
}

/// What the coordinator expects, for `key`.
pub fn expectations<'a>(
    key: &'a VerifyingKey,
    nonce: &'a Nonce,
    digest: &'a [u8; 32],
) -> Expectations<'a> {
    Expectations {
        perspective_id: PERSPECTIVE_ID,
        key,
        nonce,
        request_digest: digest,
        now_ms: NOW_MS,
        max_age_ms: MAX_AGE_MS,
        max_future_skew_ms: MAX_FUTURE_SKEW_MS,
    }
}

/// A report body that verifies under [`expectations`].
pub fn valid_body() -> ReportBody {
    let observation = match Observation::from_json(
        r#"{"caa":{"outcome":{"result":"permitted"},"records":["0 issue \"ca.example\""]}}"#.into(),
    ) {
        Ok(observation) => observation,
        Err(e) => panic!("fixed observation: {e}"),
    };
    ReportBody {
        request_digest: request_digest(REQUEST),
        nonce: nonce(),
        perspective_id: PERSPECTIVE_ID.into(),
        rir: Rir::RipeNcc,
        location: Location {
            region: "eu-central".into(),
            coordinates: Coordinates::new(50.11, 8.68).ok(),
        },
        resolvers: vec!["https://cloudflare-dns.com/dns-query".into()],
        started_at_ms: NOW_MS - 2_000,
        finished_at_ms: NOW_MS - 1_000,
        verdict: Verdict::Pass,
        reason: "CAA permits issuance".into(),
        observation,
        data_center: Some(DataCenter {
            code: "FRA".into(),
            country: Some("DE".into()),
        }),
    }
}

/// `body` signed with `key`.
pub fn signed(key: &SigningKey, body: &ReportBody) -> SignedReport {
    match sign(key, body) {
        Ok(signed) => signed,
        Err(e) => panic!("cannot sign: {e}"),
    }
}

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = perspective_key();
    let verifying = key.verifying_key();
    let nonce = nonce();
    let digest = request_digest(REQUEST);
    let expect = expectations(&verifying, &nonce, &digest);

    let report = if mode & 1 == 0 {
        match SignedReport::from_json(rest) {
            Ok(report) => report,
            Err(ReportError::BadEncoding { .. }) => return,
            Err(other) => panic!("from_json refused with a non-encoding error: {other}"),
        }
    } else {
        SignedReport {
            signer: format_verifying_key(&verifying),
            report: rest.to_vec(),
            signature: key.sign(rest).to_bytes().to_vec(),
        }
    };

    let result = verify(&report, &expect);
    let batch = verify_batch(&[(&report, &expect)]);
    assert_eq!(
        batch.as_slice(),
        std::slice::from_ref(&result),
        "verify_batch disagrees"
    );

    let Ok(body) = result else {
        return;
    };
    check_body(&body, &expect);

    // A version-1 report (no data center) re-encodes as version 2 with the
    // data center absent: the same bytes but the version and a final 0.
    let version_1 = report.report.get(REPORT_MAGIC.len()) == Some(&REPORT_VERSION_1);
    let expected = if version_1 {
        let mut bytes = report.report.clone();
        bytes[REPORT_MAGIC.len()] = REPORT_VERSION;
        bytes.push(0);
        bytes
    } else {
        report.report.clone()
    };
    match body.to_signed_bytes() {
        Ok(bytes) => assert_eq!(bytes, expected, "two encodings of one body"),
        Err(e) => panic!("a verified body does not re-encode: {e}"),
    }
    if !version_1 {
        let resigned = signed(&key, &body);
        assert_eq!(
            resigned.signature, report.signature,
            "a second signature over the same bytes verified"
        );
    }

    let other = other_key().verifying_key();
    assert!(
        matches!(
            verify(&report, &expectations(&other, &nonce, &digest)),
            Err(ReportError::WrongKey { .. })
        ),
        "verified under another perspective's key"
    );

    let mut flipped = report.clone();
    if let Some(first) = flipped.signature.first_mut() {
        *first ^= 1;
    }
    assert!(
        verify(&flipped, &expect).is_err(),
        "verified with a changed signature"
    );

    let mut altered = report.clone();
    if let Some(last) = altered.report.last_mut() {
        *last ^= 0x20;
    }
    assert!(
        matches!(verify(&altered, &expect), Err(ReportError::BadSignature)),
        "verified with changed signed bytes"
    );
}

fn check_body(body: &ReportBody, expect: &Expectations<'_>) {
    assert_eq!(body.perspective_id, expect.perspective_id);
    assert_eq!(&body.nonce, expect.nonce);
    assert_eq!(&body.request_digest, expect.request_digest);
    assert!(
        body.started_at_ms <= body.finished_at_ms,
        "ends before it starts"
    );
    assert!(
        body.finished_at_ms <= expect.now_ms + expect.max_future_skew_ms,
        "from the future"
    );
    assert!(
        expect.now_ms.saturating_sub(body.started_at_ms) <= expect.max_age_ms,
        "stale"
    );
    if let Some(coordinates) = body.location.coordinates {
        assert!((-90.0..=90.0).contains(&coordinates.latitude()));
        assert!((-180.0..=180.0).contains(&coordinates.longitude()));
    }
    assert!(
        serde_json::from_str::<serde_json::Value>(body.observation.as_str()).is_ok(),
        "observation is not JSON"
    );
}
