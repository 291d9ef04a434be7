//! The CA identities a request may speak for.
//!
//! A CAA check evaluates the domain's records against issuer domain names
//! (`caa_check_parameters.caa_domains`), and a dns-persistent check looks for
//! a record naming the CA (`dcv_check_parameters.issuer_domain_names`). Both
//! come in the request, so without a rule any API client could check CAA *as
//! another CA* and get a "valid" that says nothing about this CA's right to
//! issue. Each client therefore has the identities it may use
//! (`[[api.client]] caa_domains`, `issuer_domain_names`; by default the
//! configured `defaults.caa_issuer_domains`), and a request naming any other
//! is refused with the field. The CLI with `--config` uses the defaults.

use mpic_core::check::{
    CheckParameters, CheckRequest, DcvCheckParameters, RequestError, RequestIssue,
};
use mpic_core::name::DomainName;

/// What one caller may name as the CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaIdentities {
    /// Allowed in `caa_check_parameters.caa_domains`.
    pub caa_domains: Vec<DomainName>,
    /// Allowed in a dns-persistent check's `issuer_domain_names`.
    pub issuer_domain_names: Vec<DomainName>,
}

impl CaIdentities {
    /// The CA's configured issuer domain names, for both.
    pub fn of_the_ca(caa_issuer_domains: &[DomainName]) -> Self {
        Self {
            caa_domains: caa_issuer_domains.to_vec(),
            issuer_domain_names: caa_issuer_domains.to_vec(),
        }
    }

    /// Refuses `request` if it names an identity not allowed here, naming
    /// every such field. A CAA check that names none gets the configured
    /// ones later (`check_call::for_perspectives`), which is always allowed.
    pub fn admit(&self, request: &CheckRequest) -> Result<(), RequestError> {
        let (field, named, allowed) = match &request.parameters {
            CheckParameters::Caa(caa) => (
                "caa_check_parameters.caa_domains",
                caa.caa_domains.as_deref().unwrap_or_default(),
                &self.caa_domains,
            ),
            CheckParameters::Dcv(DcvCheckParameters::DnsPersistent(persistent)) => (
                "dcv_check_parameters.issuer_domain_names",
                persistent.issuer_domain_names.as_slice(),
                &self.issuer_domain_names,
            ),
            CheckParameters::Dcv(_) => return Ok(()),
        };
        let issues: Vec<RequestIssue> = named
            .iter()
            .enumerate()
            .filter(|(_, name)| !allowed.contains(name))
            .map(|(i, name)| RequestIssue {
                field: format!("{field}[{i}]"),
                message: format!(
                    "`{name}` is not a CA identity this client may use (allowed: {}); \
                     a check as another CA would say nothing about this CA's right to issue",
                    list(allowed)
                ),
            })
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(RequestError::Invalid(issues))
        }
    }
}

fn list(names: &[DomainName]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names
        .iter()
        .map(DomainName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
