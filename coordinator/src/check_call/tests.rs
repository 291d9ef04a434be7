#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn names(list: &[&str]) -> Vec<DomainName> {
    list.iter().map(|n| DomainName::parse(n).unwrap()).collect()
}

#[test]
fn routes_by_normalised_target_and_type() {
    let request =
        CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"WWW.Example.COM"}"#)
            .unwrap();
    assert_eq!(request.target.to_string(), "www.example.com");
    assert_eq!(request.check_type(), CheckType::Caa);
}

#[test]
fn invalid_requests_name_the_field() {
    let err =
        CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"exa mple.com"}"#)
            .unwrap_err();
    assert!(err.to_string().contains("domain_or_ip_target"), "{err}");
}

#[test]
fn caa_domains_default_to_the_configured_issuers_only_when_absent() {
    let configured = names(&["ca.example"]);
    let absent =
        CheckRequest::from_json(br#"{"check_type":"caa","domain_or_ip_target":"example.com"}"#)
            .unwrap();
    let given = CheckRequest::from_json(
        br#"{"check_type":"caa","domain_or_ip_target":"example.com","caa_check_parameters":{"caa_domains":["other.example"]}}"#,
    )
    .unwrap();
    let domains = |request: &CheckRequest| match for_perspectives(request, &configured).parameters {
        CheckParameters::Caa(p) => p.caa_domains.unwrap(),
        CheckParameters::Dcv(_) => panic!("not caa"),
    };
    assert_eq!(domains(&absent), configured);
    assert_eq!(domains(&given), names(&["other.example"]));
}
