//! The coordinator's signature on what `mpic evidence prune` cut, so that
//! an audit accepts a chain that starts after a cut only if the cut was
//! made with a trusted key and removed nothing younger than BR 5.4.3 allows.
//!
//! # Signed bytes, version 1
//! The 12 ASCII bytes `MPIC-PRUNED1`, then the note as JSON: `writer`,
//! `last_sequence`, `last_hash` (hex), `deleted`, `cutoff_ms`,
//! `pruned_at_ms`. Ed25519 over the whole, verified with `verify_strict`.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use mpic_core::keys;
use serde::Serialize;

use super::record::hex;
use super::store::PruneBoundary;
use crate::config::MIN_KEEP_DAYS;

/// First bytes of a prune note's signed bytes.
pub const PRUNE_MAGIC: &[u8; 12] = b"MPIC-PRUNED1";
const DAY_MS: u64 = 86_400_000;

#[derive(Serialize)]
struct Note<'a> {
    writer: &'a str,
    last_sequence: u64,
    last_hash: String,
    deleted: u64,
    cutoff_ms: u64,
    pruned_at_ms: u64,
}

/// The bytes signed for `b` (its signer and signature aside).
pub fn signed_bytes(b: &PruneBoundary) -> Vec<u8> {
    let note = Note {
        writer: &b.writer,
        last_sequence: b.last_sequence,
        last_hash: hex(&b.last_hash),
        deleted: b.deleted,
        cutoff_ms: b.cutoff_ms,
        pruned_at_ms: b.pruned_at_ms,
    };
    let mut bytes = PRUNE_MAGIC.to_vec();
    // A struct of strings and integers always serialises.
    bytes.extend(serde_json::to_vec(&note).unwrap_or_default());
    bytes
}

/// Signs `b` with `key`, filling its signer and signature.
pub fn sign(b: &mut PruneBoundary, key: &SigningKey) {
    b.signer = keys::format_verifying_key(&key.verifying_key());
    b.signature = key.sign(&signed_bytes(b)).to_bytes().to_vec();
}

/// Whether `b` counts: signed by a `trusted` key, and cutting only records
/// decided at least `MIN_KEEP_DAYS` (730, BR 5.4.3's two years) before it
/// was made.
pub fn check(b: &PruneBoundary, trusted: &[VerifyingKey]) -> Result<(), String> {
    let signer = keys::parse_verifying_key(&b.signer)
        .map_err(|_| format!("its signer `{}` is not an Ed25519 key", b.signer))?;
    if !trusted.contains(&signer) {
        return Err(format!(
            "signed by {}, not a trusted coordinator key",
            b.signer
        ));
    }
    let signature: [u8; 64] = b
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| "its signature is not 64 bytes".to_owned())?;
    signer
        .verify_strict(&signed_bytes(b), &Signature::from_bytes(&signature))
        .map_err(|_| "its signature does not verify".to_owned())?;
    let youngest_allowed = b
        .pruned_at_ms
        .saturating_sub(u64::from(MIN_KEEP_DAYS) * DAY_MS);
    if b.cutoff_ms > youngest_allowed {
        return Err(format!(
            "it cut records younger than {MIN_KEEP_DAYS} days (BR 5.4.3)"
        ));
    }
    Ok(())
}
