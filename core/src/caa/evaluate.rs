//! Deciding whether a Relevant RRset lets this CA issue (RFC 8659 sections 4
//! and 5, RFC 8657, RFC 9495, BR 3.2.2.8).
//!
//! In order:
//! 1. A property with the critical flag (128) whose tag is not one we know
//!    (`issue`, `issuewild`, `iodef`, `issuemail`, `contactemail`,
//!    `contactphone`; any case) forbids issuance, whatever the certificate.
//! 2. The governing properties: for a TLS server certificate, `issuewild` if
//!    the name is a wildcard and any `issuewild` is present (then every
//!    `issue` is ignored), else `issue`; for S/MIME, `issuemail` (RFC 9495).
//!    If there are none, issuance is permitted.
//! 3. Issuance is permitted if any governing property authorises us
//!    (authorisations add up). A property authorises us when its value
//!    matches the grammar (else it counts as an empty issuer, which
//!    authorises nobody), its issuer-domain-name equals one of ours (ASCII
//!    case-insensitive), and its RFC 8657 parameters are met:
//!    - `accounturi`: exactly one such parameter (two or more make the
//!      property unsatisfiable), the request carries an account URI and it
//!      equals the parameter's value byte for byte. A request without an
//!      account URI does not meet a property that names one (fail closed).
//!    - `validationmethods`: exactly one such parameter, every listed method
//!      is a `label` (else the property is unsatisfiable, as in Boulder; an
//!      empty list is valid and lists nothing), and
//!      the request's method (the ACME label, e.g. `dns-01`) is listed. A
//!      request without a method does not meet it.
//!
//!    Parameter tags are matched ignoring case, so a restriction is never
//!    dropped because of its spelling; other parameters are ignored (RFC
//!    8659 section 4.2). The same parameter rules apply to `issuemail`:
//!    applying a restriction we could ignore can only forbid more.
//!
//! Reserved flag bits are ignored (RFC 8659 section 4.1).

use serde::{Deserialize, Serialize};

use super::property::Property;
use super::value::{IssuerValue, ValueError, is_label, parse_issuer_value};

/// Tags this evaluator understands, so their critical flag does not forbid.
const KNOWN_TAGS: [&str; 6] = [
    "issue",
    "issuewild",
    "iodef",
    "issuemail",
    "contactemail",
    "contactphone",
];

use crate::check::CertificateType;

/// The property tag that governs a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    /// `issue`: a TLS server certificate for a non-wildcard name, or for a
    /// wildcard when the RRset has no `issuewild`.
    Issue,
    /// `issuewild`: a TLS server certificate for a wildcard name, when the
    /// RRset has at least one `issuewild`.
    Issuewild,
    /// `issuemail` (RFC 9495): an S/MIME certificate.
    Issuemail,
}

impl PropertyKind {
    fn tag(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Issuewild => "issuewild",
            Self::Issuemail => "issuemail",
        }
    }
}

/// Everything the evaluation needs besides the RRset.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationContext<'a> {
    /// TLS server or S/MIME: selects `issue`/`issuewild` or `issuemail`.
    pub certificate_type: CertificateType,
    /// The certificate name is a wildcard (`*.example.com`); TLS only.
    pub wildcard: bool,
    /// This CA's issuer domain names (any may match).
    pub issuer_domain_names: &'a [String],
    /// The ACME account URI of the request (RFC 8657 `accounturi`).
    pub account_uri: Option<&'a str>,
    /// The validation method's ACME label (RFC 8657 `validationmethods`).
    pub validation_method: Option<&'a str>,
}

/// The verdict on a Relevant RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Evaluation {
    /// This CA may issue.
    Permitted {
        /// No governing property, or the one that authorised us.
        reason: PermitReason,
    },
    /// This CA may not issue.
    Forbidden {
        /// An unknown critical property, or every governing property's
        /// rejection.
        reason: ForbidReason,
    },
}

/// Why issuance is permitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PermitReason {
    /// No CAA RRset anywhere up to the TLD.
    NoCaaRecords,
    /// The RRset holds no property of the governing kind.
    NoRelevantProperty {
        /// The governing tag that had no property.
        tag: PropertyKind,
    },
    /// A property names us and its parameters are met.
    Authorised {
        /// The governing tag of the authorising property.
        tag: PropertyKind,
        /// The property, in presentation form.
        record: String,
        /// The issuer-domain-name the property named, as written (one of
        /// ours up to ASCII case).
        issuer: String,
    },
}

/// Why issuance is forbidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ForbidReason {
    /// A critical property with a tag we do not understand.
    UnknownCriticalProperty {
        /// The property, in presentation form.
        record: String,
    },
    /// Properties of the governing kind exist and none authorises us.
    NotAuthorised {
        /// The governing tag.
        tag: PropertyKind,
        /// Every property of that tag, each with why it does not authorise
        /// us, in RRset order.
        rejections: Vec<Rejection>,
    },
}

/// One governing property that did not authorise us, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The property, in presentation form (`0 issue "ca.example"`).
    pub record: String,
    /// Why it does not authorise us.
    pub reason: RejectReason,
}

/// Why one governing property does not authorise us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RejectReason {
    /// The value does not match the grammar: an empty issuer.
    MalformedValue {
        /// Where and how the value breaks the grammar.
        error: ValueError,
    },
    /// No issuer-domain-name (e.g. `;`): nobody may issue.
    EmptyIssuer,
    /// Another CA.
    OtherIssuer {
        /// The issuer-domain-name the property names, as written.
        issuer: String,
    },
    /// `accounturi` appears more than once: unsatisfiable.
    AccountUriRepeated {
        /// How many `accounturi` parameters the property has (2 or more).
        count: usize,
    },
    /// The property names an account and the request carries none.
    AccountUriNotInRequest {
        /// The account URI the property requires.
        required: String,
    },
    /// The property names an account other than the request's (compared
    /// byte for byte).
    AccountUriMismatch {
        /// The account URI the property requires.
        required: String,
    },
    /// `validationmethods` appears more than once: unsatisfiable.
    ValidationMethodsRepeated {
        /// How many `validationmethods` parameters the property has (2 or
        /// more).
        count: usize,
    },
    /// A listed method is not a `label`: unsatisfiable.
    ValidationMethodsMalformed {
        /// The parameter's value, as written (comma-separated).
        listed: String,
    },
    /// The property limits methods and the request names none.
    ValidationMethodNotInRequest {
        /// The methods the property allows, as written (comma-separated).
        listed: String,
    },
    /// The property limits methods and the request's method is not among
    /// them.
    ValidationMethodNotListed {
        /// The methods the property allows, as written (comma-separated).
        listed: String,
    },
}

/// Evaluate a Relevant RRset's properties.
pub fn evaluate(properties: &[Property], context: &EvaluationContext<'_>) -> Evaluation {
    if properties.is_empty() {
        return Evaluation::Permitted {
            reason: PermitReason::NoCaaRecords,
        };
    }
    if let Some(property) = properties
        .iter()
        .find(|p| p.is_critical() && !KNOWN_TAGS.iter().any(|tag| p.tag_is(tag)))
    {
        return Evaluation::Forbidden {
            reason: ForbidReason::UnknownCriticalProperty {
                record: property.presentation(),
            },
        };
    }

    let kind = match context.certificate_type {
        CertificateType::SMime => PropertyKind::Issuemail,
        CertificateType::TlsServer
            if context.wildcard && properties.iter().any(|p| p.tag_is("issuewild")) =>
        {
            PropertyKind::Issuewild
        }
        CertificateType::TlsServer => PropertyKind::Issue,
    };

    let mut rejections = Vec::new();
    for property in properties.iter().filter(|p| p.tag_is(kind.tag())) {
        match authorises(property, context) {
            Ok(issuer) => {
                return Evaluation::Permitted {
                    reason: PermitReason::Authorised {
                        tag: kind,
                        record: property.presentation(),
                        issuer,
                    },
                };
            }
            Err(reason) => rejections.push(Rejection {
                record: property.presentation(),
                reason,
            }),
        }
    }
    if rejections.is_empty() {
        Evaluation::Permitted {
            reason: PermitReason::NoRelevantProperty { tag: kind },
        }
    } else {
        Evaluation::Forbidden {
            reason: ForbidReason::NotAuthorised {
                tag: kind,
                rejections,
            },
        }
    }
}

/// Whether one governing property authorises us; `Ok` holds the issuer
/// domain name it named.
fn authorises(
    property: &Property,
    context: &EvaluationContext<'_>,
) -> Result<String, RejectReason> {
    let value = parse_issuer_value(&property.value)
        .map_err(|error| RejectReason::MalformedValue { error })?;
    let issuer = value
        .issuer_domain_name
        .clone()
        .ok_or(RejectReason::EmptyIssuer)?;
    if !context
        .issuer_domain_names
        .iter()
        .any(|ours| ours.eq_ignore_ascii_case(&issuer))
    {
        return Err(RejectReason::OtherIssuer { issuer });
    }
    check_account_uri(&value, context.account_uri)?;
    check_validation_methods(&value, context.validation_method)?;
    Ok(issuer)
}

/// RFC 8657 section 3.
fn check_account_uri(value: &IssuerValue, request: Option<&str>) -> Result<(), RejectReason> {
    let listed: Vec<&str> = value.parameter_values("accounturi").collect();
    let required = match listed.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        many => return Err(RejectReason::AccountUriRepeated { count: many.len() }),
    };
    match request {
        None => Err(RejectReason::AccountUriNotInRequest {
            required: required.to_owned(),
        }),
        Some(ours) if ours == required => Ok(()),
        Some(_) => Err(RejectReason::AccountUriMismatch {
            required: required.to_owned(),
        }),
    }
}

/// RFC 8657 section 4.
fn check_validation_methods(
    value: &IssuerValue,
    request: Option<&str>,
) -> Result<(), RejectReason> {
    let listed: Vec<&str> = value.parameter_values("validationmethods").collect();
    let listed = match listed.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        many => {
            return Err(RejectReason::ValidationMethodsRepeated { count: many.len() });
        }
    };
    // An empty list is valid RFC 8657 syntax that lists nothing.
    if !listed.is_empty() && !listed.split(',').all(is_label) {
        return Err(RejectReason::ValidationMethodsMalformed {
            listed: listed.to_owned(),
        });
    }
    match request {
        None => Err(RejectReason::ValidationMethodNotInRequest {
            listed: listed.to_owned(),
        }),
        Some(ours) if listed.split(',').any(|method| method == ours) => Ok(()),
        Some(_) => Err(RejectReason::ValidationMethodNotListed {
            listed: listed.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests;
