//! The coordinator's signature on each check request, so a perspective runs
//! checks only for its coordinator and can never be used as an open proxy.
//!
//! # Signed bytes, version 1
//! Integers big-endian; Ed25519 (RFC 8032) over the whole string, verified with
//! `verify_strict`.
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 1 | magic | the 12 ASCII bytes `MPIC-REQUEST` |
//! | 2 | version | u8, `1` |
//! | 3 | timestamp | u64, unix milliseconds when the coordinator signed |
//! | 4 | nonce | u8 length (16..=32), then the bytes |
//! | 5 | body | u32 length, then the request bytes (JSON) exactly as sent |
//!
//! Nothing may follow the body. The magic differs from a report's
//! (`MPIC-REPORT`), so neither can be passed off as the other.
//!
//! # Transport
//! [`RequestEnvelope`] as JSON: `{"key": "ed25519:…", "request":
//! base64(signed bytes), "signature": base64(64 bytes)}`. The perspective
//! checks the signature over exactly `request` and decodes timestamp, nonce and
//! body from those bytes. The same nonce goes back in the perspective's signed
//! report, and the report's request digest is [`crate::report::request_digest`]
//! of the body ([`VerifiedRequest::request_digest`]).
//!
//! # Replays
//! A captured request stays valid for `max_skew_ms` either side of its
//! timestamp. Within that window a [`ReplayGuard`] held by the perspective
//! refuses a nonce it has seen. On Cloudflare Workers each isolate has its own
//! memory, so an in-memory guard stops replays to the same isolate only; a
//! replay reaching another isolate repeats the same check for the same
//! coordinator, which the nonce in the report already ties to one attempt.

use std::collections::{BTreeSet, HashMap};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::canonical_bytes::{Reader, Writer};
use crate::keys;
use crate::nonce::Nonce;

/// First bytes of every signed request.
pub const REQUEST_MAGIC: &[u8; 12] = b"MPIC-REQUEST";
/// The layout this crate writes and the only one it reads.
pub const REQUEST_VERSION: u8 = 1;

/// A signed check request as it travels to a perspective.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// The coordinator's public key, `ed25519:<base64>`.
    #[serde(default)]
    pub key: String,
    /// The signed bytes (base64 in JSON).
    #[serde(default, with = "crate::base64_text::bytes")]
    pub request: Vec<u8>,
    /// Ed25519 signature over `request` (base64 in JSON); empty when absent.
    #[serde(default, with = "crate::base64_text::bytes")]
    pub signature: Vec<u8>,
}

impl RequestEnvelope {
    /// Reads the JSON transport form.
    pub fn from_json(json: &[u8]) -> Result<Self, AuthError> {
        serde_json::from_slice(json).map_err(|e| AuthError::Malformed {
            detail: e.to_string(),
        })
    }
}

/// A request whose signature, key and time checked; everything here comes
/// from the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedRequest {
    /// Which allowed coordinator key signed it.
    #[serde(with = "crate::keys::verifying_key_text")]
    pub key: VerifyingKey,
    /// When the coordinator signed, Unix milliseconds; within `max_skew_ms`
    /// of the perspective's clock.
    pub timestamp_ms: u64,
    /// The coordinator's nonce for this attempt; the perspective's report
    /// must carry it back.
    pub nonce: Nonce,
    /// The request JSON exactly as signed (base64 in JSON).
    #[serde(with = "crate::base64_text::bytes")]
    pub body: Vec<u8>,
}

impl VerifiedRequest {
    /// The digest the perspective's report must carry for this request.
    pub fn request_digest(&self) -> [u8; 32] {
        crate::report::request_digest(&self.body)
    }
}

/// A request body longer than the 4-byte length prefix allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request body is {0} bytes, more than 4 GiB")]
pub struct BodyTooLong(pub usize);

/// Signs `body` (the check request JSON) for sending to a perspective.
pub fn sign_request(
    key: &SigningKey,
    body: &[u8],
    nonce: &Nonce,
    now_ms: u64,
) -> Result<RequestEnvelope, BodyTooLong> {
    let mut w = Writer::new(REQUEST_MAGIC, REQUEST_VERSION);
    w.u64(now_ms);
    w.short_bytes("nonce", nonce.as_bytes())
        .map_err(|e| BodyTooLong(e.len))?;
    w.bytes("body", body).map_err(|e| BodyTooLong(e.len))?;
    let request = w.finish();
    let signature = key.sign(&request).to_bytes().to_vec();
    Ok(RequestEnvelope {
        key: keys::format_verifying_key(&key.verifying_key()),
        request,
        signature,
    })
}

/// Why a perspective refuses a request. Every refusal has its own reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthError {
    /// The envelope has no signature.
    #[error("request is not signed")]
    Unsigned,
    /// The envelope JSON, its key text, the signature's size (not 64 bytes)
    /// or the signed bytes (magic, layout, nonce, trailing bytes) are not as
    /// specified.
    #[error("request envelope is malformed: {detail}")]
    Malformed {
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The signed bytes carry a version byte other than [`REQUEST_VERSION`].
    #[error("request version {version} is not supported (this perspective reads version 1)")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },
    /// The envelope's key is not one of the coordinator keys this
    /// perspective accepts.
    #[error("request is signed by {key}, which is not an allowed coordinator key")]
    UnknownKey {
        /// The envelope's key, `ed25519:<base64>`.
        key: String,
    },
    /// The Ed25519 signature does not verify (strictly) over the signed bytes.
    #[error("request signature does not verify")]
    BadSignature,
    /// The request was signed more than `max_skew_ms` before now.
    #[error(
        "request was signed at {timestamp_ms}, more than {max_skew_ms} ms before now ({now_ms})"
    )]
    Stale {
        /// The signed timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The perspective's clock, Unix milliseconds.
        now_ms: u64,
        /// The allowed skew either side, milliseconds.
        max_skew_ms: u64,
    },
    /// The request's timestamp is more than `max_skew_ms` after now.
    #[error(
        "request was signed at {timestamp_ms}, more than {max_skew_ms} ms after now ({now_ms})"
    )]
    FromTheFuture {
        /// The signed timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The perspective's clock, Unix milliseconds.
        now_ms: u64,
        /// The allowed skew either side, milliseconds.
        max_skew_ms: u64,
    },
    /// The [`ReplayGuard`] has already admitted this nonce.
    #[error("request nonce was already used")]
    Replayed,
    /// The [`ReplayGuard`] is full of nonces that are all still live; it
    /// refuses rather than forget one and reopen a replay window.
    #[error("replay guard holds {capacity} unexpired nonces; refusing rather than forgetting one")]
    ReplayGuardFull {
        /// The guard's capacity, in nonces.
        capacity: usize,
    },
    /// The clock stepped back: the request is valid now, but the replay
    /// guard has already forgotten the nonces of requests valid only until
    /// `forgotten_until_ms`, this one's among them, so it cannot tell a replay.
    #[error(
        "request was signed at {timestamp_ms}; the clock stepped back and the replay guard has forgotten nonces of requests valid until {forgotten_until_ms}"
    )]
    ClockSteppedBack {
        /// The signed timestamp, Unix milliseconds.
        timestamp_ms: u64,
        /// The latest expiry (timestamp + skew) of a nonce the guard has
        /// forgotten, Unix milliseconds.
        forgotten_until_ms: u64,
    },
}

fn malformed(detail: impl Into<String>) -> AuthError {
    AuthError::Malformed {
        detail: detail.into(),
    }
}

/// Checks that a timestamp lies within `max_skew_ms` of `now_ms`.
fn check_time(timestamp_ms: u64, now_ms: u64, max_skew_ms: u64) -> Result<(), AuthError> {
    if timestamp_ms > now_ms.saturating_add(max_skew_ms) {
        return Err(AuthError::FromTheFuture {
            timestamp_ms,
            now_ms,
            max_skew_ms,
        });
    }
    if now_ms.saturating_sub(timestamp_ms) > max_skew_ms {
        return Err(AuthError::Stale {
            timestamp_ms,
            now_ms,
            max_skew_ms,
        });
    }
    Ok(())
}

/// Verifies a request against the coordinator keys this perspective accepts.
///
/// Order: signature present, key allowed, signature (`verify_strict`), then
/// the signed bytes' encoding, version and timestamp. Replays are the
/// [`ReplayGuard`]'s job, after this succeeds.
pub fn verify_request(
    envelope: &RequestEnvelope,
    allowed_keys: &[VerifyingKey],
    now_ms: u64,
    max_skew_ms: u64,
) -> Result<VerifiedRequest, AuthError> {
    if envelope.signature.is_empty() {
        return Err(AuthError::Unsigned);
    }
    if envelope.key.is_empty() {
        return Err(malformed("no key"));
    }
    let key =
        keys::parse_verifying_key(&envelope.key).map_err(|e| malformed(format!("key: {e}")))?;
    if !allowed_keys.contains(&key) {
        return Err(AuthError::UnknownKey {
            key: keys::format_verifying_key(&key),
        });
    }
    let signature: &[u8; 64] = envelope.signature.as_slice().try_into().map_err(|_| {
        malformed(format!(
            "signature is {} bytes, not 64",
            envelope.signature.len()
        ))
    })?;
    key.verify_strict(&envelope.request, &Signature::from_bytes(signature))
        .map_err(|_| AuthError::BadSignature)?;

    let bad = |e: crate::canonical_bytes::DecodeError| malformed(e.to_string());
    let (mut r, version) =
        Reader::open(&envelope.request, REQUEST_MAGIC, "MPIC-REQUEST").map_err(bad)?;
    if version != REQUEST_VERSION {
        return Err(AuthError::UnsupportedVersion { version });
    }
    let timestamp_ms = r.u64("timestamp").map_err(bad)?;
    let nonce = Nonce::new(r.short_bytes("nonce").map_err(bad)?.to_vec())
        .map_err(|e| malformed(e.to_string()))?;
    let body = r.bytes("body").map_err(bad)?.to_vec();
    r.finish().map_err(bad)?;
    check_time(timestamp_ms, now_ms, max_skew_ms)?;
    Ok(VerifiedRequest {
        key,
        timestamp_ms,
        nonce,
        body,
    })
}

/// The nonces of recently accepted requests, bounded in size.
///
/// A nonce is remembered until its request could no longer pass
/// [`verify_request`] (timestamp + `max_skew_ms`). When the guard holds
/// `capacity` nonces that are all still live it refuses new requests
/// ([`AuthError::ReplayGuardFull`]) instead of forgetting one: forgetting would
/// reopen a replay window. Size `capacity` for the peak request rate times
/// twice the skew window.
///
/// Wall clocks can step back. A nonce forgotten at a later clock reading
/// would then be admissible again, so the guard also refuses every request
/// that expires no later than the last nonce it forgot
/// ([`AuthError::ClockSteppedBack`]); with a clock that never steps back such
/// a request is already stale.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    capacity: usize,
    max_skew_ms: u64,
    expiry_by_nonce: HashMap<Nonce, u64>,
    by_expiry: BTreeSet<(u64, Nonce)>,
    /// The latest expiry of a forgotten nonce (0: none forgotten yet).
    forgotten_until_ms: u64,
}

impl ReplayGuard {
    /// `max_skew_ms` must be the value given to [`verify_request`].
    pub fn new(capacity: usize, max_skew_ms: u64) -> Self {
        Self {
            capacity,
            max_skew_ms,
            expiry_by_nonce: HashMap::new(),
            by_expiry: BTreeSet::new(),
            forgotten_until_ms: 0,
        }
    }

    /// Admits a verified request once; refuses its nonce thereafter.
    pub fn admit(&mut self, request: &VerifiedRequest, now_ms: u64) -> Result<(), AuthError> {
        self.admit_nonce(&request.nonce, request.timestamp_ms, now_ms)
    }

    /// Admits `nonce` of a request signed at `timestamp_ms`. Refuses a
    /// timestamp outside the window, since its nonce could not be remembered
    /// for as long as the request could be replayed.
    pub fn admit_nonce(
        &mut self,
        nonce: &Nonce,
        timestamp_ms: u64,
        now_ms: u64,
    ) -> Result<(), AuthError> {
        check_time(timestamp_ms, now_ms, self.max_skew_ms)?;
        self.forget_expired(now_ms);
        if self.expiry_by_nonce.contains_key(nonce) {
            return Err(AuthError::Replayed);
        }
        let expiry = timestamp_ms.saturating_add(self.max_skew_ms);
        if expiry <= self.forgotten_until_ms {
            return Err(AuthError::ClockSteppedBack {
                timestamp_ms,
                forgotten_until_ms: self.forgotten_until_ms,
            });
        }
        if self.expiry_by_nonce.len() >= self.capacity {
            return Err(AuthError::ReplayGuardFull {
                capacity: self.capacity,
            });
        }
        self.expiry_by_nonce.insert(nonce.clone(), expiry);
        self.by_expiry.insert((expiry, nonce.clone()));
        Ok(())
    }

    /// Drops nonces whose requests [`verify_request`] would now refuse as stale.
    fn forget_expired(&mut self, now_ms: u64) {
        while let Some((expiry, _)) = self.by_expiry.first() {
            if *expiry >= now_ms {
                break;
            }
            if let Some((expiry, nonce)) = self.by_expiry.pop_first() {
                self.expiry_by_nonce.remove(&nonce);
                self.forgotten_until_ms = self.forgotten_until_ms.max(expiry);
            }
        }
    }

    /// Nonces currently remembered (some may have expired since the last call).
    pub fn len(&self) -> usize {
        self.expiry_by_nonce.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.expiry_by_nonce.is_empty()
    }
}

#[cfg(test)]
mod tests;
