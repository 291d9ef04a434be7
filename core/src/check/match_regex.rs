//! `match_regex` of `website-change`: compiled once, when the request is
//! read, with the size bounds every perspective applies.

use serde::{Serialize, Serializer};

/// Longest `match_regex` pattern, in octets.
pub const MAX_REGEX_OCTETS: usize = 1024;
/// Compiled-size bound for `match_regex` (regex-lite's own accounting).
pub const MAX_REGEX_COMPILED_BYTES: usize = 256 * 1024;
/// Nesting bound for `match_regex`.
pub const MAX_REGEX_NESTING: u32 = 32;

/// A `match_regex` as sent, with what compiling it gave. A pattern that
/// does not compile is still a valid request: it fails the check at the
/// perspective ([`crate::dcv::DcvFailure::InvalidRegex`]), as in Open MPIC.
#[derive(Debug, Clone)]
pub struct MatchRegex {
    pattern: String,
    compiled: Result<regex_lite::Regex, String>,
}

impl MatchRegex {
    /// Compiles `pattern` (once; the check uses the result).
    pub fn new(pattern: &str) -> Self {
        Self {
            pattern: pattern.to_owned(),
            compiled: compile(pattern),
        }
    }

    /// The pattern exactly as sent.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The compiled pattern, or why it cannot be used.
    pub fn regex(&self) -> Result<&regex_lite::Regex, &str> {
        self.compiled.as_ref().map_err(String::as_str)
    }
}

/// Equal patterns compile alike, so the text decides.
impl PartialEq for MatchRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for MatchRegex {}

/// The pattern as sent, so a request serialises as it was read.
impl Serialize for MatchRegex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.pattern)
    }
}

/// Compile a `match_regex` with the size bounds every perspective applies.
fn compile(pattern: &str) -> Result<regex_lite::Regex, String> {
    if pattern.len() > MAX_REGEX_OCTETS {
        return Err(format!("longer than {MAX_REGEX_OCTETS} octets"));
    }
    regex_lite::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_COMPILED_BYTES)
        .nest_limit(MAX_REGEX_NESTING)
        .build()
        .map_err(|e| format!("is not a valid regular expression: {e}"))
}
