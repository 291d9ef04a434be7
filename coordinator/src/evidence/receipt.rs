//! The coordinator's signature on a decision record: the "decision receipt".
//!
//! # Signed bytes, version 1
//! Integers big-endian; Ed25519 (RFC 8032) over the whole string, verified
//! with `verify_strict`.
//!
//! | # | field | encoding |
//! |---|---|---|
//! | 1 | magic | the 12 ASCII bytes `MPIC-RECEIPT` |
//! | 2 | version | u8, `1` |
//! | 3 | record | u32 length, then the record ([`super::RecordBody`]) as JSON |
//!
//! Nothing may follow the record. The magic differs from a request's
//! (`MPIC-REQUEST`) and a report's (`MPIC-REPORT`), so no signed object of
//! the system can be passed off as another.
//!
//! A record's **hash** is SHA-256 over its signed bytes. Each record names
//! the hash of its writer's previous record ([`GENESIS_HASH`] for the first),
//! and the signature covers that, so a record deleted from the middle of a
//! chain, or altered, breaks the chain at the next one.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// First bytes of every receipt's signed bytes.
pub const RECEIPT_MAGIC: &[u8; 12] = b"MPIC-RECEIPT";
/// The layout this crate writes and the only one it reads.
pub const RECEIPT_VERSION: u8 = 1;
/// The previous hash of a writer's first record.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

const HEADER_LEN: usize = RECEIPT_MAGIC.len() + 1 + 4;

/// Why signed receipt bytes cannot be read or trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The record JSON (this many bytes) does not fit the u32 length field.
    #[error("the record is too long to sign ({0} bytes)")]
    TooLong(usize),
    /// The bytes do not frame a receipt (wrong magic, no version or length,
    /// or a length that does not match the record); says which.
    #[error("not receipt bytes: {0}")]
    Malformed(&'static str),
    /// The receipt has another layout version than 1, the only one this
    /// build reads.
    #[error("receipt version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// The stored signature is not the 64 bytes of an Ed25519 signature.
    #[error("the signature is not 64 bytes")]
    SignatureLength,
    /// The Ed25519 signature does not verify (strictly) over the signed
    /// bytes with the coordinator key: the record, or the key, is not the
    /// one signed.
    #[error("the coordinator's signature does not verify")]
    BadSignature,
}

/// The signed bytes for `record_json`.
pub fn signed_bytes(record_json: &[u8]) -> Result<Vec<u8>, ReceiptError> {
    let len =
        u32::try_from(record_json.len()).map_err(|_| ReceiptError::TooLong(record_json.len()))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + record_json.len());
    bytes.extend_from_slice(RECEIPT_MAGIC);
    bytes.push(RECEIPT_VERSION);
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(record_json);
    Ok(bytes)
}

/// The record JSON inside signed bytes, after checking their framing.
pub fn record_json(signed: &[u8]) -> Result<&[u8], ReceiptError> {
    let rest = signed
        .strip_prefix(RECEIPT_MAGIC.as_slice())
        .ok_or(ReceiptError::Malformed("wrong magic"))?;
    let (&version, rest) = rest
        .split_first()
        .ok_or(ReceiptError::Malformed("no version"))?;
    if version != RECEIPT_VERSION {
        return Err(ReceiptError::UnsupportedVersion(version));
    }
    let (len, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(ReceiptError::Malformed("no length"))?;
    let len = usize::try_from(u32::from_be_bytes(*len))
        .map_err(|_| ReceiptError::Malformed("length does not fit"))?;
    if rest.len() != len {
        return Err(ReceiptError::Malformed(
            "the length does not match the record (or bytes follow it)",
        ));
    }
    Ok(rest)
}

/// Signs `signed` (from [`signed_bytes`]).
pub fn sign(key: &SigningKey, signed: &[u8]) -> [u8; 64] {
    key.sign(signed).to_bytes()
}

/// Checks `signature` over `signed` with `key`.
pub fn verify(key: &VerifyingKey, signed: &[u8], signature: &[u8]) -> Result<(), ReceiptError> {
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| ReceiptError::SignatureLength)?;
    key.verify_strict(signed, &Signature::from_bytes(&signature))
        .map_err(|_| ReceiptError::BadSignature)
}

/// The record's hash, which the writer's next record names.
pub fn hash(signed: &[u8]) -> [u8; 32] {
    Sha256::digest(signed).into()
}

#[cfg(test)]
mod tests;
