#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

const NOW: u64 = 1_760_000_000_000;
const SKEW: u64 = 30_000;
const BODY: &[u8] = br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#;

fn coordinator() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn nonce(byte: u8) -> Nonce {
    Nonce::new(vec![byte; 16]).unwrap()
}

fn envelope() -> RequestEnvelope {
    sign_request(&coordinator(), BODY, &nonce(1), NOW).unwrap()
}

fn allowed() -> Vec<VerifyingKey> {
    vec![
        SigningKey::from_bytes(&[3; 32]).verifying_key(),
        coordinator().verifying_key(),
    ]
}

/// Signs arbitrary bytes with the coordinator key, to reach the decoder.
fn signed_raw(request: Vec<u8>) -> RequestEnvelope {
    RequestEnvelope {
        key: keys::format_verifying_key(&coordinator().verifying_key()),
        signature: coordinator().sign(&request).to_bytes().to_vec(),
        request,
    }
}

#[test]
fn signed_bytes_follow_the_documented_layout() {
    let expected: Vec<u8> = [
        &b"MPIC-REQUEST"[..],
        &[1],
        &NOW.to_be_bytes(),
        &[16],
        &[1; 16],
        &u32::try_from(BODY.len()).unwrap().to_be_bytes(),
        BODY,
    ]
    .concat();
    assert_eq!(envelope().request, expected);
}

#[test]
fn verifies_and_returns_what_was_signed() {
    let verified = verify_request(&envelope(), &allowed(), NOW + 1_000, SKEW).unwrap();
    assert_eq!(verified.key, coordinator().verifying_key());
    assert_eq!(verified.timestamp_ms, NOW);
    assert_eq!(verified.nonce, nonce(1));
    assert_eq!(verified.body, BODY);
    assert_eq!(
        verified.request_digest(),
        crate::report::request_digest(BODY)
    );
}

#[test]
fn json_transport_round_trips() {
    let json = serde_json::to_vec(&envelope()).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert!(value["key"].as_str().unwrap().starts_with("ed25519:"));
    assert!(
        value["request"]
            .as_str()
            .unwrap()
            .starts_with("TVBJQy1SRVFVRVNU")
    );
    let back = RequestEnvelope::from_json(&json).unwrap();
    assert_eq!(back, envelope());
    assert!(verify_request(&back, &allowed(), NOW, SKEW).is_ok());
}

#[test]
fn each_refusal_has_its_reason() {
    let good = envelope();
    let unsigned = RequestEnvelope::from_json(br#"{"key":"ed25519:AAAA","request":""}"#).unwrap();

    let mut no_key = good.clone();
    no_key.key.clear();
    let mut bad_key = good.clone();
    bad_key.key = "ed25519:AAAA".into();
    let mut short_signature = good.clone();
    short_signature.signature.truncate(10);
    let mut tampered = good.clone();
    *tampered.request.last_mut().unwrap() ^= 0x20;
    let mut swapped_key = good.clone();
    swapped_key.key = keys::format_verifying_key(&allowed()[0]);

    let mut v2 = good.request.clone();
    v2[REQUEST_MAGIC.len()] = 2;
    let mut trailing = good.request.clone();
    trailing.push(0);
    let mut short_nonce = good.request.clone();
    short_nonce[REQUEST_MAGIC.len() + 1 + 8] = 15;
    let mut report_magic = good.request.clone();
    report_magic[..11].copy_from_slice(b"MPIC-REPORT");

    let stranger = SigningKey::from_bytes(&[4; 32]);
    let from_stranger = sign_request(&stranger, BODY, &nonce(1), NOW).unwrap();

    let cases: Vec<(&str, RequestEnvelope, u64, AuthError)> = vec![
        ("unsigned", unsigned, NOW, AuthError::Unsigned),
        ("no key", no_key, NOW, malformed("no key")),
        (
            "bad key",
            bad_key,
            NOW,
            malformed("key: key is 3 bytes; an Ed25519 key is 32 bytes"),
        ),
        (
            "short signature",
            short_signature,
            NOW,
            malformed("signature is 10 bytes, not 64"),
        ),
        (
            "unknown key",
            from_stranger,
            NOW,
            AuthError::UnknownKey {
                key: keys::format_verifying_key(&stranger.verifying_key()),
            },
        ),
        ("tampered body", tampered, NOW, AuthError::BadSignature),
        (
            "other allowed key",
            swapped_key,
            NOW,
            AuthError::BadSignature,
        ),
        (
            "version 2",
            signed_raw(v2),
            NOW,
            AuthError::UnsupportedVersion { version: 2 },
        ),
        (
            "trailing",
            signed_raw(trailing),
            NOW,
            malformed("1 bytes after the last field"),
        ),
        (
            "short nonce",
            signed_raw(short_nonce),
            NOW,
            malformed("nonce is 15 bytes; it must be 16 to 32 bytes"),
        ),
        (
            "report magic",
            signed_raw(report_magic),
            NOW,
            malformed("does not start with the magic `MPIC-REQUEST`"),
        ),
        (
            "stale",
            good.clone(),
            NOW + SKEW + 1,
            AuthError::Stale {
                timestamp_ms: NOW,
                now_ms: NOW + SKEW + 1,
                max_skew_ms: SKEW,
            },
        ),
        (
            "from the future",
            good.clone(),
            NOW - SKEW - 1,
            AuthError::FromTheFuture {
                timestamp_ms: NOW,
                now_ms: NOW - SKEW - 1,
                max_skew_ms: SKEW,
            },
        ),
    ];
    for (name, envelope, now, expected) in cases {
        assert_eq!(
            verify_request(&envelope, &allowed(), now, SKEW),
            Err(expected),
            "{name}"
        );
    }
    // Exactly at the skew limits it still verifies.
    assert!(verify_request(&good, &allowed(), NOW + SKEW, SKEW).is_ok());
    assert!(verify_request(&good, &allowed(), NOW - SKEW, SKEW).is_ok());
    assert!(matches!(
        RequestEnvelope::from_json(b"{\"request\":\"***\"}"),
        Err(AuthError::Malformed { .. })
    ));
}

#[test]
fn replay_guard_refuses_a_nonce_seen_within_the_window() {
    let mut guard = ReplayGuard::new(10, SKEW);
    let verified = verify_request(&envelope(), &allowed(), NOW, SKEW).unwrap();
    assert_eq!(guard.admit(&verified, NOW), Ok(()));
    assert_eq!(guard.admit(&verified, NOW + 1), Err(AuthError::Replayed));
    // Still remembered at the last instant verify_request would accept it.
    assert_eq!(guard.admit(&verified, NOW + SKEW), Err(AuthError::Replayed));
    // After that the request itself is stale, so the guard need not remember.
    assert!(matches!(
        guard.admit(&verified, NOW + SKEW + 1),
        Err(AuthError::Stale { .. })
    ));
    assert_eq!(
        guard.admit_nonce(&nonce(2), NOW + SKEW + 1, NOW + SKEW + 1),
        Ok(())
    );
    assert_eq!(guard.len(), 1, "the first nonce was forgotten once expired");
}

#[test]
fn replay_guard_refuses_when_full_rather_than_forgetting() {
    let mut guard = ReplayGuard::new(2, SKEW);
    assert_eq!(guard.admit_nonce(&nonce(1), NOW, NOW), Ok(()));
    assert_eq!(guard.admit_nonce(&nonce(2), NOW + 10, NOW + 10), Ok(()));
    assert_eq!(
        guard.admit_nonce(&nonce(3), NOW + 20, NOW + 20),
        Err(AuthError::ReplayGuardFull { capacity: 2 })
    );
    // Both are still refused: nothing was forgotten to make room.
    assert_eq!(
        guard.admit_nonce(&nonce(1), NOW + 20, NOW + 20),
        Err(AuthError::Replayed)
    );
    assert_eq!(
        guard.admit_nonce(&nonce(2), NOW + 20, NOW + 20),
        Err(AuthError::Replayed)
    );
    // Once the oldest expires, its slot is reused first.
    assert_eq!(
        guard.admit_nonce(&nonce(3), NOW + SKEW + 1, NOW + SKEW + 1),
        Ok(())
    );
    assert_eq!(guard.len(), 2);
    assert_eq!(
        guard.admit_nonce(&nonce(2), NOW + SKEW + 1, NOW + SKEW + 1),
        Err(AuthError::Replayed),
        "the younger nonce is kept"
    );
}

/// Found by the `request_envelope` fuzz target
/// (fuzz/regressions/request_envelope/clock_steps_back): a nonce forgotten
/// at a later clock reading was admitted again once the clock stepped back
/// to where its request was still within the window.
#[test]
fn replay_guard_refuses_a_replay_after_the_clock_steps_back() {
    let mut guard = ReplayGuard::new(10, SKEW);
    assert_eq!(guard.admit_nonce(&nonce(1), NOW, NOW), Ok(()));
    // Much later: the first nonce is forgotten.
    let later = NOW + 2 * SKEW;
    assert_eq!(guard.admit_nonce(&nonce(2), later, later), Ok(()));
    assert_eq!(guard.len(), 1);
    // The clock steps back to where the first request is valid again.
    assert_eq!(
        guard.admit_nonce(&nonce(1), NOW, NOW + 1_000),
        Err(AuthError::ClockSteppedBack {
            timestamp_ms: NOW,
            forgotten_until_ms: NOW + SKEW,
        })
    );
    // Requests valid beyond what was forgotten are still admitted, and a
    // nonce still held is still a replay.
    assert_eq!(
        guard.admit_nonce(&nonce(3), NOW + 1_000, NOW + 1_000),
        Ok(())
    );
    assert_eq!(
        guard.admit_nonce(&nonce(2), later, NOW + SKEW + 1_000),
        Err(AuthError::Replayed)
    );
}

#[test]
fn replay_guard_refuses_timestamps_it_could_not_cover() {
    let mut guard = ReplayGuard::new(10, SKEW);
    assert!(matches!(
        guard.admit_nonce(&nonce(1), NOW + SKEW + 1, NOW),
        Err(AuthError::FromTheFuture { .. })
    ));
    assert!(matches!(
        guard.admit_nonce(&nonce(1), NOW - SKEW - 1, NOW),
        Err(AuthError::Stale { .. })
    ));
    assert!(guard.is_empty());
    let mut zero = ReplayGuard::new(0, SKEW);
    assert_eq!(
        zero.admit_nonce(&nonce(1), NOW, NOW),
        Err(AuthError::ReplayGuardFull { capacity: 0 })
    );
}
