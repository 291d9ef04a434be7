//! What the coordinator asks a perspective to do: the validated Open MPIC
//! request ([`CheckSpec`]) and, per perspective, the body of the signed
//! request (mpic-core's [`CheckCall`], the same type the worker parses).

use mpic_core::check::{CheckParameters, CheckRequest, RequestError};
use mpic_core::name::DomainName;

pub use mpic_core::check::CheckType;
pub use mpic_core::perspective::CheckCall;

/// One check to corroborate: a validated Open MPIC request and the two
/// fields the coordinator routes and logs by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// `domain_or_ip_target`, normalised; selects the cohort, appears in logs.
    pub target: String,
    pub check_type: CheckType,
    pub request: CheckRequest,
}

impl CheckSpec {
    /// Parses and validates an Open MPIC request body; every problem is
    /// reported with its field.
    pub fn from_json(json: &[u8]) -> Result<Self, RequestError> {
        CheckRequest::from_json(json).map(Self::new)
    }

    /// As [`CheckSpec::from_json`], from parsed JSON.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, RequestError> {
        CheckRequest::from_value(value).map(Self::new)
    }

    pub fn new(request: CheckRequest) -> Self {
        Self {
            target: request.target.to_string(),
            check_type: request.check_type(),
            request,
        }
    }

    /// The request as sent to perspectives: a CAA check without
    /// `caa_domains` gets the CA's configured issuer domain names, so every
    /// perspective evaluates against the same, explicit identities.
    pub fn for_perspectives(&self, caa_issuer_domains: &[DomainName]) -> CheckRequest {
        let mut request = self.request.clone();
        if let CheckParameters::Caa(params) = &mut request.parameters
            && params.caa_domains.as_ref().is_none_or(Vec::is_empty)
        {
            params.caa_domains = Some(caa_issuer_domains.to_vec());
        }
        request
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn names(list: &[&str]) -> Vec<DomainName> {
        list.iter().map(|n| DomainName::parse(n).unwrap()).collect()
    }

    #[test]
    fn routes_by_normalised_target_and_type() {
        let spec = CheckSpec::from_json(
            br#"{"check_type":"caa","domain_or_ip_target":"WWW.Example.COM"}"#,
        )
        .unwrap();
        assert_eq!(spec.target, "www.example.com");
        assert_eq!(spec.check_type, CheckType::Caa);
    }

    #[test]
    fn invalid_requests_name_the_field() {
        let err =
            CheckSpec::from_json(br#"{"check_type":"caa","domain_or_ip_target":"exa mple.com"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("domain_or_ip_target"), "{err}");
    }

    #[test]
    fn caa_domains_default_to_the_configured_issuers_only_when_absent() {
        let configured = names(&["ca.example"]);
        let absent =
            CheckSpec::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#)
                .unwrap();
        let given = CheckSpec::from_json(
            br#"{"check_type":"caa","domain_or_ip_target":"example.com","caa_check_parameters":{"caa_domains":["other.example"]}}"#,
        )
        .unwrap();
        let domains = |spec: &CheckSpec| match spec.for_perspectives(&configured).parameters {
            CheckParameters::Caa(p) => p.caa_domains.unwrap(),
            CheckParameters::Dcv(_) => panic!("not caa"),
        };
        assert_eq!(domains(&absent), configured);
        assert_eq!(domains(&given), names(&["other.example"]));
    }
}
