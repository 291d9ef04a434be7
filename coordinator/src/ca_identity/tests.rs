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
