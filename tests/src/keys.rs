//! Deterministic test keys: perspective `n` and the coordinator, from fixed
//! seeds, so a failing test can be replayed exactly.

use ed25519_dalek::SigningKey;
use mpic_core::keys;

/// The coordinator's key in tests.
pub fn coordinator() -> SigningKey {
    SigningKey::from_bytes(&[0xC0; 32])
}

/// Perspective number `n`'s key in tests.
pub fn perspective(n: u8) -> SigningKey {
    let mut seed = [0x50; 32];
    seed[0] = n;
    SigningKey::from_bytes(&seed)
}

/// `ed25519-seed:...` text for a `SIGNING_KEY` secret.
pub fn seed_text(key: &SigningKey) -> String {
    keys::format_signing_key(key).to_string()
}

/// `ed25519:...` text of the public half.
pub fn public_text(key: &SigningKey) -> String {
    keys::format_verifying_key(&key.verifying_key())
}
