//! `mpic check caa|dcv` arguments -> an Open MPIC request, validated by
//! mpic-core exactly as the HTTP API validates one; problems name the field
//! and the flag that sets it.

use clap::Args;
use mpic_core::check::{CheckRequest, RequestError, RequestIssue, ValidationMethod};
use serde_json::{Map, Value, json};

/// `mpic check caa`.
#[derive(Debug, Clone, Args)]
pub struct CaaArgs {
    /// The domain name to check.
    pub domain: String,
    /// An issuer domain name that identifies the CA in CAA records (repeat for
    /// several). Required without --config, which supplies
    /// defaults.caa_issuer_domains.
    #[arg(long = "caa-domain", value_name = "DOMAIN")]
    pub caa_domains: Vec<String>,
    /// Check `issuemail` for an S/MIME certificate instead of `issue`.
    #[arg(long)]
    pub s_mime: bool,
    /// The ACME account URI of the issuance (RFC 8657 accounturi).
    #[arg(long, value_name = "URI")]
    pub account_uri: Option<String>,
    /// The validation method of the issuance (RFC 8657 validationmethods),
    /// e.g. dns-01 or http-01.
    #[arg(long, value_name = "METHOD")]
    pub validation_method: Option<String>,
    /// Let a CAA lookup failure count as permission where BR 3.2.2.8 allows
    /// it (retried, outside the CA, DNSSEC-insecure).
    #[arg(long)]
    pub allow_lookup_failure: bool,
}

/// `mpic check dcv`.
#[derive(Debug, Clone, Args)]
pub struct DcvArgs {
    /// The validation method.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(
        ValidationMethod::ALL.map(ValidationMethod::as_str)
    ))]
    pub method: String,
    /// The domain name (or IP address) to validate.
    pub domain: String,
    /// ACME challenge token (acme-http-01).
    #[arg(long)]
    pub token: Option<String>,
    /// ACME key authorization, `<token>.<account key thumbprint>`
    /// (acme-http-01; acme-dns-01, dns-account-01 and acme-tls-alpn-01 hash it).
    #[arg(long)]
    pub key_authorization: Option<String>,
    /// SHA-256 of the key authorization (base64url; hex for acme-tls-alpn-01).
    #[arg(long)]
    pub key_authorization_hash: Option<String>,
    /// The Random Value, Request Token, address or contact expected.
    #[arg(long)]
    pub challenge_value: Option<String>,
    /// Path below /.well-known/pki-validation/ (website-change).
    #[arg(long)]
    pub http_token_path: Option<String>,
    /// http or https (website-change).
    #[arg(long, value_parser = ["http", "https"])]
    pub url_scheme: Option<String>,
    /// A regex the page must also match (website-change).
    #[arg(long)]
    pub match_regex: Option<String>,
    /// TXT, CNAME or CAA (dns-change); A or AAAA (ip-address).
    #[arg(long)]
    pub record_type: Option<String>,
    /// A label starting with `_` put before the domain (dns-change).
    #[arg(long)]
    pub prefix: Option<String>,
    /// The record must equal the value, not just contain it (dns-change).
    #[arg(long)]
    pub exact: bool,
    /// Compare the challenge value ignoring ASCII case (website-change,
    /// dns-change TXT; Open MPIC `require_exact_case: false`).
    #[arg(long)]
    pub ignore_case: bool,
    /// ACME account URI (dns-persistent, dns-account-01).
    #[arg(long)]
    pub account_uri: Option<String>,
    /// The CA's issuer domain name (dns-persistent; repeat for several).
    #[arg(long = "issuer-domain", value_name = "DOMAIN")]
    pub issuer_domains: Vec<String>,
}

/// The Open MPIC request for `mpic check caa`.
pub fn caa_request(args: &CaaArgs) -> Value {
    let mut params = Map::new();
    if !args.caa_domains.is_empty() {
        params.insert("caa_domains".into(), json!(args.caa_domains));
    }
    if args.s_mime {
        params.insert("certificate_type".into(), json!("s-mime"));
    }
    if let Some(uri) = &args.account_uri {
        params.insert("x_account_uri".into(), json!(uri));
    }
    if let Some(method) = &args.validation_method {
        params.insert("x_validation_method".into(), json!(method));
    }
    if args.allow_lookup_failure {
        params.insert("allow_lookup_failure".into(), json!(true));
    }
    let mut request = json!({"check_type": "caa", "domain_or_ip_target": args.domain});
    if !params.is_empty() {
        request["caa_check_parameters"] = Value::Object(params);
    }
    request
}

/// The Open MPIC request for `mpic check dcv`: only the flags given, so
/// validation says which a method lacks or does not take.
pub fn dcv_request(args: &DcvArgs) -> Value {
    let mut params = Map::new();
    params.insert("validation_method".into(), json!(args.method));
    let mut text = |field: &str, value: &Option<String>| {
        if let Some(value) = value {
            params.insert(field.into(), json!(value));
        }
    };
    text("token", &args.token);
    text("key_authorization", &args.key_authorization);
    text("key_authorization_hash", &args.key_authorization_hash);
    text("challenge_value", &args.challenge_value);
    text("http_token_path", &args.http_token_path);
    text("url_scheme", &args.url_scheme);
    text("match_regex", &args.match_regex);
    text(
        "dns_record_type",
        &args.record_type.as_ref().map(|t| t.to_ascii_uppercase()),
    );
    text("dns_name_prefix", &args.prefix);
    // Open MPIC 3.8 names dns-persistent's `expected_account_uri`.
    let account_field = if args.method == "dns-persistent" {
        "expected_account_uri"
    } else {
        "account_uri"
    };
    text(account_field, &args.account_uri);
    if args.exact {
        params.insert("require_exact_match".into(), json!(true));
    }
    if args.ignore_case {
        params.insert("require_exact_case".into(), json!(false));
    }
    if !args.issuer_domains.is_empty() {
        params.insert("issuer_domain_names".into(), json!(args.issuer_domains));
    }
    json!({
        "check_type": "dcv",
        "domain_or_ip_target": args.domain,
        "dcv_check_parameters": params,
    })
}

/// The command-line argument that sets a request field, for error messages.
fn flag_for(field: &str) -> Option<&'static str> {
    let last = field.rsplit('.').next().unwrap_or(field);
    let last = last.split('[').next().unwrap_or(last);
    Some(match last {
        "domain_or_ip_target" => "<DOMAIN>",
        "validation_method" => "<METHOD>",
        "caa_domains" => "--caa-domain",
        "certificate_type" => "--s-mime",
        "x_account_uri" => "--account-uri",
        "x_validation_method" => "--validation-method",
        "allow_lookup_failure" => "--allow-lookup-failure",
        "token" => "--token",
        "key_authorization" => "--key-authorization",
        "key_authorization_hash" => "--key-authorization-hash",
        "challenge_value" => "--challenge-value",
        "http_token_path" => "--http-token-path",
        "url_scheme" => "--url-scheme",
        "match_regex" => "--match-regex",
        "dns_record_type" => "--record-type",
        "dns_name_prefix" => "--prefix",
        "require_exact_match" => "--exact",
        "account_uri" | "expected_account_uri" => "--account-uri",
        "require_exact_case" => "--ignore-case",
        "issuer_domain_names" => "--issuer-domain",
        _ => return None,
    })
}

/// One line per problem: the field, what is wrong, and the flag to change.
pub fn describe(error: &RequestError, from_flags: bool) -> Vec<String> {
    match error {
        RequestError::NotJson(detail) => vec![format!("request is not JSON: {detail}")],
        RequestError::Invalid(issues) => issues
            .iter()
            .map(|RequestIssue { field, message }| match flag_for(field) {
                Some(flag) if from_flags => format!("{field}: {message} (set with {flag})"),
                _ => format!("{field}: {message}"),
            })
            .collect(),
    }
}

/// Validates `request` as the API would.
pub fn validate(request: &Value) -> Result<CheckRequest, RequestError> {
    CheckRequest::from_value(request)
}

#[cfg(test)]
mod tests;
