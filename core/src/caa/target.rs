//! The name a CAA check is about: normalised, validated, wildcard split off.

use serde::{Deserialize, Serialize};

/// Most labels a domain name can have (255 octets on the wire, RFC 1035).
pub const MAX_LABELS: usize = 127;
/// Longest name in text form without the trailing dot.
const MAX_NAME_LENGTH: usize = 253;
const MAX_LABEL_LENGTH: usize = 63;

/// A validated CAA target: `www.example.com` or `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaTarget {
    /// Where the lookup starts: the name, lower-case, without trailing dot and
    /// without the wildcard label.
    pub lookup_name: String,
    /// The request was for `*.lookup_name` (RFC 8659 section 3: the wildcard
    /// label is removed for the lookup, `issuewild` applies).
    pub wildcard: bool,
}

/// Why a name cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NameError {
    /// The name is empty (or just `.`).
    #[error("the name is empty")]
    Empty,
    /// The name holds non-ASCII characters: a U-label instead of an A-label.
    #[error("the name is not ASCII (give A-labels)")]
    NotAscii,
    /// The name is longer than 253 characters (without the trailing dot).
    #[error("the name is {length} characters, more than 253")]
    TooLong {
        /// The name's length in characters, without the trailing dot.
        length: usize,
    },
    /// The name has more than [`MAX_LABELS`] labels.
    #[error("the name has {count} labels, more than 127")]
    TooManyLabels {
        /// How many labels the name has.
        count: usize,
    },
    /// Two consecutive dots, or a leading dot.
    #[error("the name has an empty label")]
    EmptyLabel,
    /// A label is longer than 63 octets (RFC 1035).
    #[error("label {label:?} is longer than 63 octets")]
    LabelTooLong {
        /// The offending label, lower-cased.
        label: String,
    },
    /// A label holds something other than ASCII letters, digits, `-` or `_`.
    #[error("label {label:?} holds a character other than a letter, digit, '-' or '_'")]
    InvalidCharacter {
        /// The offending label, lower-cased.
        label: String,
    },
    /// A `*` anywhere but as the whole leftmost label (`a*.example.com`,
    /// `www.*.example.com`).
    #[error("'*' is allowed only as the whole leftmost label")]
    MisplacedWildcard,
    /// The name is `*` alone, with nothing below the wildcard.
    #[error("a wildcard needs a name below it")]
    BareWildcard,
}

impl CaaTarget {
    /// Validate and normalise `name` (`*.` prefix allowed, one trailing dot
    /// allowed, any ASCII case).
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if !name.is_ascii() {
            return Err(NameError::NotAscii);
        }
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        let count = name.split('.').count();
        if count > MAX_LABELS {
            return Err(NameError::TooManyLabels { count });
        }
        if name.len() > MAX_NAME_LENGTH {
            return Err(NameError::TooLong { length: name.len() });
        }
        let (wildcard, lookup_name) = match name.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None if name == "*" => return Err(NameError::BareWildcard),
            None => (false, name),
        };
        for label in lookup_name.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.contains('*') {
                return Err(NameError::MisplacedWildcard);
            }
            if label.len() > MAX_LABEL_LENGTH {
                return Err(NameError::LabelTooLong {
                    label: label.to_owned(),
                });
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(NameError::InvalidCharacter {
                    label: label.to_owned(),
                });
            }
        }
        Ok(Self {
            lookup_name,
            wildcard,
        })
    }

    /// The name as requested, normalised (`*.` kept for a wildcard).
    pub fn display_name(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.lookup_name)
        } else {
            self.lookup_name.clone()
        }
    }

    /// The names whose CAA RRsets are relevant, nearest first: the lookup name
    /// and each ancestor, up to but excluding the root (RFC 8659 section 3).
    pub fn climb(&self) -> impl Iterator<Item = &str> {
        let name = self.lookup_name.as_str();
        std::iter::once(name).chain(
            name.match_indices('.')
                .map(move |(dot, _)| name.get(dot + 1..).unwrap_or_default()),
        )
    }
}

#[cfg(test)]
mod tests;
