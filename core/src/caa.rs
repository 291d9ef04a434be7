//! CAA checking (RFC 8659, RFC 8657, RFC 9495, BR 3.2.2.8): may this CA issue
//! for a name, as seen from one perspective?
//!
//! [`check`] runs the whole check and returns a [`CaaObservation`] for the
//! report. Its parts:
//! - [`target`]: the name, normalised; a wildcard `*.example.com` is looked
//!   up at `example.com` and evaluated as a wildcard.
//! - [`mod@lookup`]: the Relevant RRset, climbing one label at a time to (not
//!   including) the root on NODATA/NXDOMAIN, stopping on any other failure
//!   after one retry. Every query is recorded.
//! - [`property`]: each record's raw (flags, tag, value), whatever hickory
//!   made of the value.
//! - [`value`]: the strict RFC 8659 section 4.2 grammar for issuer values.
//! - [`mod@evaluate`]: critical flags, `issue` / `issuewild` / `issuemail`, our
//!   issuer domain names, RFC 8657 `accounturi` and `validationmethods`.
//! - [`lookup_failure`]: when a lookup failure may count as permission (the
//!   request allows it, the failure is the domain's, it was retried, and the
//!   domain is proven DNSSEC-Insecure); the exact DNSSEC check is documented
//!   there.
//!
//! Records come from [`Network::dns`]; this module never parses DNS messages.

pub mod evaluate;
pub mod lookup;
pub mod lookup_failure;
pub mod property;
pub mod target;
pub mod value;

#[cfg(test)]
pub(crate) mod test_support;

use serde::{Deserialize, Serialize};

pub use evaluate::{Evaluation, EvaluationContext, ForbidReason, PermitReason, evaluate};
pub use lookup::{LookupFailure, LookupOutcome, LookupStep, lookup};
pub use lookup_failure::{InsecurityProof, NotPermission};
pub use target::{CaaTarget, NameError};

use crate::check::CertificateType;
use crate::network::Network;

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaRequest {
    /// The certificate name: `www.example.com`, `*.example.com`, or for
    /// S/MIME the mailbox's domain part. A-labels.
    pub domain: String,
    /// TLS server or S/MIME: decides whether `issue`/`issuewild` or
    /// `issuemail` (RFC 9495) governs.
    pub certificate_type: CertificateType,
    /// This CA's issuer domain names as they appear in CAA (any may match).
    pub issuer_domain_names: Vec<String>,
    /// The ACME account URI, for RFC 8657 `accounturi`.
    #[serde(default)]
    pub account_uri: Option<String>,
    /// The validation method's ACME label (`dns-01`, `http-01`,
    /// `tls-alpn-01`, ...), for RFC 8657 `validationmethods`.
    #[serde(default)]
    pub validation_method: Option<String>,
    /// Whether a lookup failure may count as permission when BR 3.2.2.8's
    /// conditions hold.
    #[serde(default)]
    pub allow_lookup_failure: bool,
}

/// A request that cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestError {
    /// The request's `domain` is not a valid certificate name.
    #[error("invalid domain: {error}")]
    Domain {
        /// What is wrong with the name.
        error: NameError,
    },
    /// `issuer_domain_names` is empty: no CAA property could ever name us.
    #[error("no issuer domain names configured")]
    NoIssuerDomainNames,
    /// One of `issuer_domain_names` does not match the RFC 8659 section 4.2
    /// `issuer-domain-name` grammar (e.g. a trailing dot).
    #[error("{name:?} is not an issuer-domain-name (RFC 8659 section 4.2)")]
    InvalidIssuerDomainName {
        /// The offending configured name, as given.
        name: String,
    },
    /// An S/MIME request named a wildcard (`*.example.com`).
    #[error("an S/MIME mailbox domain cannot be a wildcard")]
    WildcardForSMime,
    /// `validation_method` is not an RFC 8659 `label` (ASCII letters and digits,
    /// hyphens only inside).
    #[error("{method:?} is not a validation method label")]
    InvalidValidationMethod {
        /// The offending method, as given.
        method: String,
    },
    /// `account_uri` is present but the empty string.
    #[error("the account URI is empty")]
    EmptyAccountUri,
}

/// The result of one CAA check, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaaObservation {
    /// The name checked, normalised (`*.` kept for a wildcard).
    pub domain: String,
    /// Where the climb started.
    pub lookup_name: String,
    /// The request named a wildcard (`*.example.com`), so `issuewild`
    /// governs when present.
    pub wildcard: bool,
    /// The request's certificate type, TLS server or S/MIME.
    pub certificate_type: CertificateType,
    /// This perspective's verdict: permitted, forbidden, or a lookup failure.
    pub outcome: CaaOutcome,
    /// The Relevant RRset, when one was found.
    pub relevant_rrset: Option<RrsetReport>,
    /// Every name of the climb, nearest first.
    pub steps: Vec<LookupStep>,
    /// Names above where the climb ended, asked at once with it and not
    /// needed (see [`lookup::lookup`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused: Vec<lookup::QueryAttempt>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CaaOutcome {
    /// No CAA restriction applies (no Relevant RRset, or none of its
    /// properties governs this certificate type), or a property authorises
    /// this CA.
    Permitted {
        /// Which of those, with the authorising property if any.
        reason: PermitReason,
    },
    /// The Relevant RRset does not authorise this CA.
    Forbidden {
        /// Why, with every rejected property.
        reason: ForbidReason,
    },
    /// The lookup failed and the failure does not count as permission.
    LookupFailed {
        /// The name whose lookup failed and each attempt's failure.
        failure: LookupFailure,
        /// The first BR 3.2.2.8 condition that did not hold.
        not_permission: NotPermission,
    },
    /// The lookup failed and BR 3.2.2.8 lets the failure count as permission.
    LookupFailurePermitted {
        /// The name whose lookup failed and each attempt's failure.
        failure: LookupFailure,
        /// The DNSSEC evidence that every name involved is Insecure.
        proof: InsecurityProof,
    },
}

impl CaaOutcome {
    /// Whether this perspective saw permission to issue.
    pub fn permits_issuance(&self) -> bool {
        matches!(
            self,
            Self::Permitted { .. } | Self::LookupFailurePermitted { .. }
        )
    }
}

/// The Relevant RRset as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RrsetReport {
    /// The name whose query found it (never an alias target).
    pub owner: String,
    /// Each property in presentation form, `flags tag "value"`.
    pub records: Vec<String>,
    /// Aliases (CNAME/DNAME targets) the resolver followed from `owner`, in
    /// order; empty when the owner held the records itself.
    pub cname_chain: Vec<String>,
    /// The AD flag of the answer: the resolver validated it with DNSSEC.
    pub authentic_data: bool,
    /// The answer's rcode mnemonic (`NOERROR`).
    pub rcode: String,
    /// The resolver that answered (its DoH URL).
    pub resolver: String,
}

/// Check CAA for `request` through `network`.
pub async fn check<N: Network>(
    network: &N,
    request: &CaaRequest,
) -> Result<CaaObservation, RequestError> {
    let target = validate(request)?;
    let lookup = lookup::lookup(network, &target).await;
    let mut relevant_rrset = None;
    let outcome = match lookup.outcome {
        LookupOutcome::NotFound => CaaOutcome::Permitted {
            reason: PermitReason::NoCaaRecords,
        },
        LookupOutcome::Found(rrset) => {
            let context = EvaluationContext {
                certificate_type: request.certificate_type,
                wildcard: target.wildcard,
                issuer_domain_names: &request.issuer_domain_names,
                account_uri: request.account_uri.as_deref(),
                validation_method: request.validation_method.as_deref(),
            };
            let decision = evaluate::evaluate(&rrset.properties, &context);
            relevant_rrset = Some(RrsetReport {
                owner: rrset.owner,
                records: rrset
                    .properties
                    .iter()
                    .map(property::Property::presentation)
                    .collect(),
                cname_chain: rrset.cname_chain,
                authentic_data: rrset.authentic_data,
                rcode: rrset.rcode,
                resolver: rrset.resolver,
            });
            match decision {
                Evaluation::Permitted { reason } => CaaOutcome::Permitted { reason },
                Evaluation::Forbidden { reason } => CaaOutcome::Forbidden { reason },
            }
        }
        LookupOutcome::Failed(failure) => {
            match lookup_failure::assess(network, &failure, request.allow_lookup_failure).await {
                Ok(proof) => CaaOutcome::LookupFailurePermitted { failure, proof },
                Err(not_permission) => CaaOutcome::LookupFailed {
                    failure,
                    not_permission,
                },
            }
        }
    };
    Ok(CaaObservation {
        domain: target.display_name(),
        lookup_name: target.lookup_name,
        wildcard: target.wildcard,
        certificate_type: request.certificate_type,
        outcome,
        relevant_rrset,
        steps: lookup.steps,
        unused: lookup.unused,
    })
}

fn validate(request: &CaaRequest) -> Result<CaaTarget, RequestError> {
    let target =
        CaaTarget::parse(&request.domain).map_err(|error| RequestError::Domain { error })?;
    if target.wildcard && request.certificate_type == CertificateType::SMime {
        return Err(RequestError::WildcardForSMime);
    }
    if request.issuer_domain_names.is_empty() {
        return Err(RequestError::NoIssuerDomainNames);
    }
    if let Some(name) = request
        .issuer_domain_names
        .iter()
        .find(|name| !value::is_issuer_domain_name(name))
    {
        return Err(RequestError::InvalidIssuerDomainName { name: name.clone() });
    }
    if let Some(method) = &request.validation_method
        && !value::is_label(method)
    {
        return Err(RequestError::InvalidValidationMethod {
            method: method.clone(),
        });
    }
    if request.account_uri.as_deref() == Some("") {
        return Err(RequestError::EmptyAccountUri);
    }
    Ok(target)
}

#[cfg(test)]
mod tests;
