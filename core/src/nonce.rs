//! The coordinator's nonce: fresh random bytes that tie a worker's signed report
//! to one request of one check attempt.
//!
//! The coordinator draws them (this crate has no randomness source) and sends
//! them in the signed request; the perspective echoes them in its signed report.
//! A report carrying another attempt's nonce is a replay and never counts
//! (BR 3.2.2.9: corroborations from different attempts are never combined).

use serde::{Deserialize, Serialize};

/// Between [`Nonce::MIN_LEN`] and [`Nonce::MAX_LEN`] random bytes.
///
/// JSON form: base64 (see the crate's base64 rules: standard alphabet written,
/// standard or URL-safe read).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "NonceText", into = "NonceText")]
pub struct Nonce(Vec<u8>);

impl Nonce {
    /// 128 bits: a random nonce this long does not repeat by chance.
    pub const MIN_LEN: usize = 16;
    /// Keeps the length prefix in one byte and requests small.
    pub const MAX_LEN: usize = 32;

    /// Wraps `bytes`, which the caller drew from a CSPRNG.
    pub fn new(bytes: Vec<u8>) -> Result<Self, NonceError> {
        if (Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(NonceError::Length(bytes.len()))
        }
    }

    /// The nonce bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nonce({})", crate::base64_text::encode(&self.0))
    }
}

/// A nonce that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// The nonce is shorter than 16 or longer than 32 bytes (its length is
    /// given).
    #[error("nonce is {0} bytes; it must be 16 to 32 bytes")]
    Length(usize),
    /// The nonce's text is not base64 (the decoder's message).
    #[error("nonce is not base64: {0}")]
    Base64(String),
}

#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct NonceText(String);

impl TryFrom<NonceText> for Nonce {
    type Error = NonceError;

    fn try_from(text: NonceText) -> Result<Self, Self::Error> {
        let bytes =
            crate::base64_text::decode(&text.0).map_err(|e| NonceError::Base64(e.to_string()))?;
        Self::new(bytes)
    }
}

impl From<Nonce> for NonceText {
    fn from(nonce: Nonce) -> Self {
        NonceText(crate::base64_text::encode(&nonce.0))
    }
}

#[cfg(test)]
mod tests;
