#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use mpic_core::check::{CheckParameters, DcvCheckParameters};

use super::*;

#[derive(Parser)]
struct Caa {
    #[command(flatten)]
    args: CaaArgs,
}

#[derive(Parser)]
struct Dcv {
    #[command(flatten)]
    args: DcvArgs,
}

fn dcv(argv: &[&str]) -> Result<CheckRequest, Vec<String>> {
    let parsed = Dcv::try_parse_from(std::iter::once("dcv").chain(argv.iter().copied())).unwrap();
    validate(&dcv_request(&parsed.args)).map_err(|e| describe(&e, true))
}

#[test]
fn caa_flags_become_open_mpic_fields() {
    let parsed = Caa::try_parse_from([
        "caa",
        "Example.COM",
        "--caa-domain",
        "ca.example",
        "--caa-domain",
        "other.example",
        "--s-mime",
        "--account-uri",
        "https://acme.example/acct/1",
        "--validation-method",
        "dns-01",
        "--allow-lookup-failure",
    ])
    .unwrap();
    let request = caa_request(&parsed.args);
    assert_eq!(
        request,
        json!({
            "check_type": "caa",
            "domain_or_ip_target": "Example.COM",
            "caa_check_parameters": {
                "caa_domains": ["ca.example", "other.example"],
                "certificate_type": "s-mime",
                "x_account_uri": "https://acme.example/acct/1",
                "x_validation_method": "dns-01",
                "allow_lookup_failure": true,
            },
        })
    );
    let checked = validate(&request).unwrap();
    assert_eq!(checked.target.to_string(), "example.com");
    let bare = caa_request(&Caa::try_parse_from(["caa", "example.com"]).unwrap().args);
    assert!(bare.get("caa_check_parameters").is_none());
}

#[test]
fn dcv_flags_become_the_methods_parameters() {
    let http01 = dcv(&[
        "acme-http-01",
        "example.com",
        "--token",
        "tok",
        "--key-authorization",
        "tok.thumb",
    ])
    .unwrap();
    assert!(matches!(
        http01.parameters,
        CheckParameters::Dcv(DcvCheckParameters::AcmeHttp01(_))
    ));
    let change = dcv(&[
        "dns-change",
        "example.com",
        "--challenge-value",
        "rv",
        "--record-type",
        "txt",
        "--prefix",
        "_ca",
        "--exact",
    ])
    .unwrap();
    match change.parameters {
        CheckParameters::Dcv(DcvCheckParameters::DnsChange(p)) => {
            assert!(p.exact_match());
            assert_eq!(p.prefix(), Some("_ca"));
        }
        other => panic!("{other:?}"),
    }
    let persistent = dcv(&[
        "dns-persistent",
        "example.com",
        "--issuer-domain",
        "ca.example",
        "--account-uri",
        "https://acme.example/acct/1",
    ]);
    assert!(persistent.is_ok(), "{persistent:?}");
}

#[test]
fn problems_name_the_field_and_the_flag() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["acme-http-01", "example.com", "--key-authorization", "t.k"],
            "dcv_check_parameters.token: ",
        ),
        (
            &[
                "acme-http-01",
                "example.com",
                "--token",
                "t",
                "--key-authorization",
                "t.k",
                "--prefix",
                "_x",
            ],
            "dcv_check_parameters.dns_name_prefix: ",
        ),
        (
            &["acme-dns-01", "exa mple.com", "--key-authorization", "t.k"],
            "domain_or_ip_target: ",
        ),
        (
            &[
                "website-change",
                "example.com",
                "--challenge-value",
                "v",
                "--http-token-path",
                "../x",
            ],
            "dcv_check_parameters.http_token_path: ",
        ),
    ];
    for (argv, want) in cases {
        let problems = dcv(argv).unwrap_err();
        let line = problems
            .iter()
            .find(|p| p.starts_with(want))
            .unwrap_or_else(|| panic!("{argv:?}: {problems:?}"));
        assert!(line.contains("(set with "), "{line}");
    }
}

#[test]
fn an_unknown_method_is_refused_by_the_parser() {
    assert!(Dcv::try_parse_from(["dcv", "acme-http-02", "example.com"]).is_err());
}
