use super::*;

#[test]
fn every_method_fixes_or_defaults_require_exact_case_except_our_own() {
    for method in ValidationMethod::ALL {
        let has = field_rules(method)
            .iter()
            .any(|r| r.name == "require_exact_case");
        assert_eq!(has, method != ValidationMethod::DnsAccount01, "{method}");
    }
}
