//! Ed25519 keys as text, for configuration files, environment variables and
//! the signer field of reports and requests.
//!
//! | key | written as | also read |
//! |---|---|---|
//! | public key (32 bytes) | `ed25519:` + base64 | without the prefix |
//! | signing key seed (32 bytes) | `ed25519-seed:` + base64 | without the prefix |
//!
//! Base64 is written with the standard alphabet and padding; the standard and
//! URL-safe alphabets, padded or not, are read (see `base64_text`). Prefixes
//! are matched case-insensitively and surrounding whitespace is ignored, since
//! keys arrive through files and environment variables. The two prefixes differ
//! so that a secret pasted where a public key belongs is refused, not used.
//!
//! Keys never come from randomness here: a signing key is a 32-byte seed made
//! by whoever provisions the perspective (for example `openssl rand -base64 32`).

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

/// Prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519";
/// Prefix of a signing key seed's text form.
pub const SEED_PREFIX: &str = "ed25519-seed";

/// Why a key's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text before `:` (given) is neither `ed25519` nor `ed25519-seed`.
    #[error("key prefix `{0}:` is not `ed25519:` or `ed25519-seed:`")]
    UnknownPrefix(String),
    /// An `ed25519-seed:` secret where a public key was expected.
    #[error("a signing key seed (`ed25519-seed:`) was given where a public key belongs")]
    SeedWherePublicKeyExpected,
    /// An `ed25519:` public key where a signing key seed was expected.
    #[error("a public key (`ed25519:`) was given where a signing key seed belongs")]
    PublicKeyWhereSeedExpected,
    /// The text after the prefix is not base64 (the decoder's message).
    #[error("key is not base64: {0}")]
    Base64(String),
    /// The decoded key is not 32 bytes (its length in bytes is given).
    #[error("key is {0} bytes; an Ed25519 key is 32 bytes")]
    Length(usize),
    /// The 32 bytes do not decode to a point on the Ed25519 curve.
    #[error("public key is not a point on Ed25519")]
    NotAPoint,
    /// The public key has small order, so signatures under it prove nothing.
    #[error("public key has small order; anyone could sign for it")]
    Weak,
}

enum Kind {
    Public,
    Seed,
}

/// Splits off a known prefix and decodes the base64 into 32 bytes.
fn decode(text: &str, want: Kind) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let text = text.trim();
    // ':' is not a base64 character, so its presence means a prefix.
    let (kind, body) = match text.split_once(':') {
        None => (None, text),
        Some((prefix, body)) if prefix.eq_ignore_ascii_case(PUBLIC_KEY_PREFIX) => {
            (Some(Kind::Public), body)
        }
        Some((prefix, body)) if prefix.eq_ignore_ascii_case(SEED_PREFIX) => {
            (Some(Kind::Seed), body)
        }
        Some((prefix, _)) => return Err(KeyError::UnknownPrefix(prefix.to_owned())),
    };
    match (kind, want) {
        (Some(Kind::Seed), Kind::Public) => return Err(KeyError::SeedWherePublicKeyExpected),
        (Some(Kind::Public), Kind::Seed) => return Err(KeyError::PublicKeyWhereSeedExpected),
        _ => {}
    }
    let bytes = Zeroizing::new(
        crate::base64_text::decode(body.trim()).map_err(|e| KeyError::Base64(e.to_string()))?,
    );
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::Length(bytes.len()))?;
    Ok(Zeroizing::new(array))
}

/// Reads a public key: `ed25519:<base64>` or bare base64.
///
/// Refuses small-order keys: a signature under one proves nothing.
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let bytes = decode(text, Kind::Public)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAPoint)?;
    if key.is_weak() {
        return Err(KeyError::Weak);
    }
    Ok(key)
}

/// Writes a public key as `ed25519:<standard base64>`.
pub fn format_verifying_key(key: &VerifyingKey) -> String {
    format!(
        "{PUBLIC_KEY_PREFIX}:{}",
        crate::base64_text::encode(key.as_bytes())
    )
}

/// Reads a signing key from its seed: `ed25519-seed:<base64>` or bare base64.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, KeyError> {
    let seed = decode(text, Kind::Seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a signing key's seed as `ed25519-seed:<standard base64>`; the
/// returned text is wiped when dropped.
pub fn format_signing_key(key: &SigningKey) -> Zeroizing<String> {
    let seed = Zeroizing::new(key.to_bytes());
    let body = Zeroizing::new(crate::base64_text::encode(seed.as_slice()));
    Zeroizing::new(format!("{SEED_PREFIX}:{}", body.as_str()))
}

/// `#[serde(with = "mpic_core::keys::verifying_key_text")]` for a
/// [`VerifyingKey`] field written as `ed25519:<base64>`.
pub mod verifying_key_text {
    use ed25519_dalek::VerifyingKey;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the key's text form.
    pub fn serialize<S: Serializer>(key: &VerifyingKey, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_verifying_key(key))
    }

    /// Reads any accepted text form.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<VerifyingKey, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::parse_verifying_key(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
