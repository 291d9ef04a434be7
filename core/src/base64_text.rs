//! Base64 as this crate writes and reads it in JSON and key text.
//!
//! We write the standard alphabet with padding (RFC 4648 section 4), the form
//! most tools print. We read the standard and the URL-safe alphabet (section 5),
//! padded or not, because keys get pasted from many tools; one string must use a
//! single alphabet, and non-canonical trailing bits are refused, so each byte
//! string has few textual forms and none of them is ambiguous.

use data_encoding::{BASE64, BASE64_NOPAD, BASE64URL_NOPAD, DecodeError, DecodeKind};

/// Standard alphabet, padded.
pub(crate) fn encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Standard or URL-safe alphabet, padding optional: absent, partial or
/// canonical, never more than canonical.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let unpadded = text.trim_end_matches('=');
    let canonical_padding = (4 - unpadded.len() % 4) % 4;
    if text.len() - unpadded.len() > canonical_padding {
        return Err(DecodeError {
            position: unpadded.len(),
            kind: DecodeKind::Padding,
        });
    }
    let unpadded = unpadded.as_bytes();
    BASE64_NOPAD
        .decode(unpadded)
        .or_else(|standard_error| BASE64URL_NOPAD.decode(unpadded).map_err(|_| standard_error))
}

/// `#[serde(with = "crate::base64_text::bytes")]` for a `Vec<u8>` field.
pub(crate) mod bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        super::decode(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "crate::base64_text::array")]` for a `[u8; N]` field.
pub(crate) mod array {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        super::bytes::serialize(bytes, serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        deserializer: D,
    ) -> Result<[u8; N], D::Error> {
        let bytes = super::bytes::deserialize(deserializer)?;
        let got = bytes.len();
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom(format_args!("expected {N} bytes, got {got}")))
    }
}

#[cfg(test)]
mod tests;
