//! The `issue` / `issuewild` / `issuemail` property value grammar (RFC 8659
//! section 4.2, reused by RFC 9495 for `issuemail`).
//!
//! ```text
//! issuer-critical-value = *WSP [issuer-domain-name *WSP]
//!                         [";" *WSP [parameters *WSP]]
//! issuer-domain-name    = label *("." label)
//! label                 = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
//! parameters            = (parameter *WSP ";" *WSP parameters) / parameter
//! parameter             = tag *WSP "=" *WSP value
//! tag                   = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
//! value                 = *(%x21-3A / %x3C-7E)
//! WSP                   = SP / HTAB
//! ```
//!
//! The parser is strict on purpose: RFC 8659 says a value that does not match
//! the grammar MUST be treated like an empty issuer, so a lenient parser that
//! "repairs" a value could authorise where the domain holder forbade. It works
//! on the raw bytes from the wire, never on a library's normalised form, so
//! non-ASCII bytes, a trailing dot or a trailing `;` are all malformed.

use serde::{Deserialize, Serialize};

/// A property value that matched the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerValue {
    /// The issuer-domain-name as written (case kept); `None` for an empty
    /// issuer, which authorises nobody.
    pub issuer_domain_name: Option<String>,
    /// The parameters in the order written (duplicates kept, so a caller can
    /// see that a restricting parameter was repeated).
    pub parameters: Vec<Parameter>,
}

/// One `tag=value` parameter of an issuer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The parameter's tag as written (case kept), e.g. `accounturi`.
    pub tag: String,
    /// The parameter's value as written: printable ASCII without spaces or
    /// `;`, possibly empty.
    pub value: String,
}

impl IssuerValue {
    /// The values of every parameter whose tag equals `tag`, ignoring ASCII
    /// case (so a restriction is never dropped because of how it was spelt).
    pub fn parameter_values<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.parameters
            .iter()
            .filter(move |p| p.tag.eq_ignore_ascii_case(tag))
            .map(|p| p.value.as_str())
    }
}

/// Why a value does not match the grammar. Positions are byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueError {
    /// A label of the issuer-domain-name, or a parameter tag, ends with `-`.
    #[error("label ends with a hyphen at byte {position}")]
    LabelEndsWithHyphen {
        /// Offset of the trailing hyphen.
        position: usize,
    },
    /// A `.` in the issuer-domain-name not followed by a label (`a..b`,
    /// `ca.example.`).
    #[error("empty label (or trailing dot) at byte {position}")]
    EmptyLabel {
        /// Offset just after the dot.
        position: usize,
    },
    /// A `;` between parameters not followed by another parameter (`a=b;`,
    /// `a=b;;c=d`).
    #[error("parameter expected after ';' at byte {position}")]
    ParameterExpected {
        /// Offset where the parameter should start.
        position: usize,
    },
    /// A parameter tag not followed by `=`.
    #[error("'=' expected after parameter tag at byte {position}")]
    EqualsExpected {
        /// Offset where the `=` should be.
        position: usize,
    },
    /// A byte the grammar does not allow where it stands (e.g. non-ASCII, or
    /// text after the issuer-domain-name that is not `;`).
    #[error("unexpected byte 0x{byte:02x} at byte {position}")]
    UnexpectedByte {
        /// Offset of the byte.
        position: usize,
        /// The byte itself.
        byte: u8,
    },
}

/// Parse a raw `issue`-style property value.
pub fn parse_issuer_value(bytes: &[u8]) -> Result<IssuerValue, ValueError> {
    let mut cursor = Cursor { bytes, position: 0 };
    cursor.skip_wsp();

    let issuer_domain_name = if cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
        let name = cursor.issuer_domain_name()?;
        cursor.skip_wsp();
        Some(name)
    } else {
        None
    };

    let mut parameters = Vec::new();
    if cursor.eat(b';') {
        cursor.skip_wsp();
        if cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            loop {
                parameters.push(cursor.parameter()?);
                cursor.skip_wsp();
                if !cursor.eat(b';') {
                    break;
                }
                cursor.skip_wsp();
                // Inside `parameters`, a ';' must be followed by another
                // parameter: "a=b;" and "a=b;;c=d" do not match.
                if !cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                    return Err(ValueError::ParameterExpected {
                        position: cursor.position,
                    });
                }
            }
        }
    }

    match cursor.peek() {
        None => Ok(IssuerValue {
            issuer_domain_name,
            parameters,
        }),
        Some(byte) => Err(ValueError::UnexpectedByte {
            position: cursor.position,
            byte,
        }),
    }
}

/// Check that `name` is an `issuer-domain-name` (used to vet the CA's own
/// configured names, so a typo there cannot silently match nothing).
pub fn is_issuer_domain_name(name: &str) -> bool {
    let mut cursor = Cursor {
        bytes: name.as_bytes(),
        position: 0,
    };
    cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric())
        && cursor.issuer_domain_name().is_ok()
        && cursor.peek().is_none()
}

/// Whether `text` matches `label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`
/// exactly (also the RFC 8657 `validationmethods` list element).
pub fn is_label(text: &str) -> bool {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        position: 0,
    };
    cursor.peek().is_some_and(|b| b.is_ascii_alphanumeric())
        && cursor.label().is_ok()
        && cursor.peek().is_none()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.position += 1;
            true
        } else {
            false
        }
    }

    fn skip_wsp(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.position += 1;
        }
    }

    /// `label`, `tag`: the caller has checked the first byte is alphanumeric.
    fn label(&mut self) -> Result<&str, ValueError> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            self.position += 1;
        }
        let text = self.bytes.get(start..self.position).unwrap_or_default();
        if text.last() == Some(&b'-') {
            return Err(ValueError::LabelEndsWithHyphen {
                position: self.position - 1,
            });
        }
        // Only ASCII alphanumerics and '-' were consumed.
        std::str::from_utf8(text).map_err(|_| ValueError::UnexpectedByte {
            position: start,
            byte: self.bytes.get(start).copied().unwrap_or_default(),
        })
    }

    fn issuer_domain_name(&mut self) -> Result<String, ValueError> {
        let mut name = String::from(self.label()?);
        while self.eat(b'.') {
            if !self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                return Err(ValueError::EmptyLabel {
                    position: self.position,
                });
            }
            name.push('.');
            name.push_str(self.label()?);
        }
        Ok(name)
    }

    /// `parameter = tag *WSP "=" *WSP value`; the caller has checked the tag's
    /// first byte.
    fn parameter(&mut self) -> Result<Parameter, ValueError> {
        let tag = self.label()?.to_owned();
        self.skip_wsp();
        if !self.eat(b'=') {
            return Err(ValueError::EqualsExpected {
                position: self.position,
            });
        }
        self.skip_wsp();
        let start = self.position;
        while self
            .peek()
            .is_some_and(|b| matches!(b, 0x21..=0x3A | 0x3C..=0x7E))
        {
            self.position += 1;
        }
        let value = self.bytes.get(start..self.position).unwrap_or_default();
        // Only printable ASCII was consumed.
        let value = String::from_utf8_lossy(value).into_owned();
        Ok(Parameter { tag, value })
    }
}

#[cfg(test)]
mod tests;
