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
    /// ones later (`CheckSpec::for_perspectives`), which is always allowed.
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
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    fn names(list: &[&str]) -> Vec<DomainName> {
        list.iter().map(|n| DomainName::parse(n).unwrap()).collect()
    }

    fn fields(identities: &CaIdentities, body: serde_json::Value) -> Vec<String> {
        let request = CheckRequest::from_value(&body).unwrap();
        match identities.admit(&request) {
            Ok(()) => Vec::new(),
            Err(e) => e.issues().iter().map(|i| i.field.clone()).collect(),
        }
    }

    #[test]
    fn a_request_may_name_only_its_clients_identities() {
        let ours = CaIdentities::of_the_ca(&names(&["ca.example", "brand.example"]));
        let caa = |domains: serde_json::Value| {
            json!({"check_type": "caa", "domain_or_ip_target": "example.com",
                   "caa_check_parameters": {"caa_domains": domains}})
        };
        let persistent = |issuers: serde_json::Value| {
            json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
                   "dcv_check_parameters": {"validation_method": "dns-persistent",
                       "issuer_domain_names": issuers, "account_uri": "https://ca.example/acct/1"}})
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(fields(&ours, caa(json!(["ca.example"]))), none);
        assert_eq!(
            fields(&ours, caa(json!(["brand.example", "ca.example"]))),
            none
        );
        assert_eq!(
            fields(
                &ours,
                json!({"check_type": "caa", "domain_or_ip_target": "example.com"})
            ),
            none
        );
        assert_eq!(
            fields(&ours, caa(json!(["ca.example", "other-ca.example"]))),
            ["caa_check_parameters.caa_domains[1]"]
        );
        assert_eq!(
            fields(&ours, persistent(json!(["other-ca.example"]))),
            ["dcv_check_parameters.issuer_domain_names[0]"]
        );
        assert_eq!(fields(&ours, persistent(json!(["ca.example"]))), none);
        // Other methods name no CA identity.
        let http = json!({"check_type": "dcv", "domain_or_ip_target": "example.com",
            "dcv_check_parameters": {"validation_method": "acme-http-01", "token": "t", "key_authorization": "t.k"}});
        assert_eq!(fields(&ours, http), none);
    }
}
