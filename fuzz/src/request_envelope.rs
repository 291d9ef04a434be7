//! Coordinator request envelopes: `RequestEnvelope::from_json` +
//! `request_auth::verify_request`, and the perspective's `ReplayGuard`.
//!
//! The first input byte picks the mode (`byte % 3`):
//! - 0, transport: the rest is envelope JSON, as anyone who can reach a
//!   perspective may send; verified against the one allowed coordinator key.
//! - 1, stolen key: the rest is the signed bytes, signed by the harness with
//!   the coordinator's key, to reach the decoder and the time checks.
//! - 2, replay guard: the rest is a sequence of admissions ([`run_replay`]).
//!
//! Invariants when a request verifies:
//! - it is from the allowed key, inside the skew window, with a 16..=32 byte
//!   nonce;
//! - the encoding is canonical: re-signing what was decoded gives the same
//!   bytes and signature;
//! - no other key is accepted for it, and a flipped signature bit or a
//!   changed signed byte never verifies;
//! - a replay guard admits it once and refuses it the second time.
//!
//! Replay guard invariants, over any sequence of admissions and clock values
//! (the clock may step back, as wall clocks do): one request (nonce and
//! timestamp) is admitted at most once; the guard never holds more than its
//! capacity; a request outside the skew window is never admitted.

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use mpic_core::keys::format_verifying_key;
use mpic_core::nonce::Nonce;
use mpic_core::request_auth::{
    AuthError, ReplayGuard, RequestEnvelope, VerifiedRequest, sign_request, verify_request,
};

use crate::input::Input;

pub const NOW_MS: u64 = 1_760_000_000_000;
pub const MAX_SKEW_MS: u64 = 30_000;
/// The request body the seeds carry.
pub const BODY: &[u8] = br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#;
/// Admissions read at most in replay-guard mode.
pub const MAX_ADMISSIONS: usize = 64;

/// The coordinator's key (a fixed test seed).
pub fn coordinator_key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

/// A nonce made of `byte`.
pub fn nonce(byte: u8) -> Nonce {
    match Nonce::new(vec![byte; 16]) {
        Ok(nonce) => nonce,
        Err(e) => panic!("fixed nonce: {e}"),
    }
}

/// A valid envelope for the seeds.
pub fn valid_envelope() -> RequestEnvelope {
    match sign_request(&coordinator_key(), BODY, &nonce(1), NOW_MS - 1_000) {
        Ok(envelope) => envelope,
        Err(e) => panic!("cannot sign: {e}"),
    }
}

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => match RequestEnvelope::from_json(rest) {
            Ok(envelope) => check_envelope(&envelope),
            Err(AuthError::Malformed { .. }) => {}
            Err(other) => panic!("from_json refused with a non-encoding error: {other}"),
        },
        1 => {
            let key = coordinator_key();
            check_envelope(&RequestEnvelope {
                key: format_verifying_key(&key.verifying_key()),
                request: rest.to_vec(),
                signature: key.sign(rest).to_bytes().to_vec(),
            });
        }
        _ => run_replay(rest),
    }
}

fn check_envelope(envelope: &RequestEnvelope) {
    let key = coordinator_key();
    let allowed = [key.verifying_key()];
    let Ok(verified) = verify_request(envelope, &allowed, NOW_MS, MAX_SKEW_MS) else {
        return;
    };
    check_verified(&verified, &allowed[0]);

    match sign_request(&key, &verified.body, &verified.nonce, verified.timestamp_ms) {
        Ok(again) => {
            assert_eq!(
                again.request, envelope.request,
                "two encodings of one request"
            );
            assert_eq!(
                again.signature, envelope.signature,
                "a second signature over the same bytes verified"
            );
        }
        Err(e) => panic!("a verified request does not re-sign: {e}"),
    }

    let stranger: VerifyingKey = SigningKey::from_bytes(&[4; 32]).verifying_key();
    for keys in [&[][..], &[stranger][..]] {
        assert!(
            matches!(
                verify_request(envelope, keys, NOW_MS, MAX_SKEW_MS),
                Err(AuthError::UnknownKey { .. })
            ),
            "verified without its key being allowed"
        );
    }

    let mut flipped = envelope.clone();
    if let Some(first) = flipped.signature.first_mut() {
        *first ^= 1;
    }
    assert!(
        verify_request(&flipped, &allowed, NOW_MS, MAX_SKEW_MS).is_err(),
        "verified with a changed signature"
    );
    let mut altered = envelope.clone();
    if let Some(last) = altered.request.last_mut() {
        *last ^= 0x20;
    }
    assert!(
        matches!(
            verify_request(&altered, &allowed, NOW_MS, MAX_SKEW_MS),
            Err(AuthError::BadSignature)
        ),
        "verified with changed signed bytes"
    );

    let mut guard = ReplayGuard::new(4, MAX_SKEW_MS);
    assert_eq!(guard.admit(&verified, NOW_MS), Ok(()));
    assert_eq!(guard.admit(&verified, NOW_MS), Err(AuthError::Replayed));
}

fn check_verified(verified: &VerifiedRequest, key: &VerifyingKey) {
    assert_eq!(&verified.key, key);
    assert!(
        verified.timestamp_ms <= NOW_MS + MAX_SKEW_MS,
        "from the future"
    );
    assert!(
        NOW_MS.saturating_sub(verified.timestamp_ms) <= MAX_SKEW_MS,
        "stale"
    );
    let len = verified.nonce.as_bytes().len();
    assert!((Nonce::MIN_LEN..=Nonce::MAX_LEN).contains(&len));
}

/// Replay-guard mode. Input: a capacity byte (`1 + byte % 4`), then
/// admissions of three bytes each: nonce (`byte % 8`), a clock step
/// (`(byte as i8) * 500` ms, so the clock may go back), and the request's
/// timestamp relative to the clock (`(byte as i8) * 500` ms).
pub fn run_replay(data: &[u8]) {
    let mut input = Input::new(data);
    let capacity = 1 + usize::from(input.byte() % 4);
    let mut guard = ReplayGuard::new(capacity, MAX_SKEW_MS);
    let mut now = NOW_MS;
    let mut admitted: Vec<(u8, u64)> = Vec::new();

    for _ in 0..MAX_ADMISSIONS {
        if input.is_empty() {
            break;
        }
        let which = input.byte() % 8;
        now = now.saturating_add_signed(i64::from(input.byte() as i8) * 500);
        let timestamp = now.saturating_add_signed(i64::from(input.byte() as i8) * 500);
        let result = guard.admit_nonce(&nonce(which), timestamp, now);

        let in_window =
            timestamp <= now + MAX_SKEW_MS && now.saturating_sub(timestamp) <= MAX_SKEW_MS;
        if result.is_ok() {
            assert!(in_window, "admitted a request outside the skew window");
            assert!(
                !admitted.contains(&(which, timestamp)),
                "request (nonce {which}, signed at {timestamp}) admitted twice; clock now {now}"
            );
            admitted.push((which, timestamp));
        }
        if !in_window {
            assert!(
                matches!(
                    result,
                    Err(AuthError::Stale { .. } | AuthError::FromTheFuture { .. })
                ),
                "out-of-window request not refused for its time: {result:?}"
            );
        }
        assert!(
            guard.len() <= capacity,
            "guard holds more than its capacity"
        );
    }
}
