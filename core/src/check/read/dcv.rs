//! Reading `dcv_check_parameters`: the fields of each validation method.

use std::collections::BTreeMap;

use super::*;
use crate::check::open_mpic_fields::{Literal, Rule, field_rules};
use crate::check::syntax::{is_token_path, is_underscore_label};

pub(super) fn read_dcv(mut fields: Fields<'_>, issues: &mut Issues) -> Option<DcvCheckParameters> {
    let method_name = fields.required_string("validation_method", issues)?;
    let Some(method) = ValidationMethod::from_name(method_name) else {
        let known: Vec<&str> = ValidationMethod::ALL.iter().map(|m| m.as_str()).collect();
        issues.add(
            fields.path("validation_method"),
            format!("`{method_name}` is not one of {}", known.join(", ")),
        );
        // The other fields depend on the method: do not report them as unknown.
        return None;
    };
    let before = issues.count();
    read_pinned(&mut fields, method, issues);
    let parameters = match method {
        ValidationMethod::AcmeHttp01 => {
            read_acme_http_01(&mut fields, issues).map(DcvCheckParameters::AcmeHttp01)
        }
        ValidationMethod::AcmeDns01 => read_digest(&mut fields, DigestEncoding::Base64Url, issues)
            .map(|key_authorization_digest| {
                DcvCheckParameters::AcmeDns01(AcmeDns01Parameters {
                    key_authorization_digest,
                })
            }),
        ValidationMethod::AcmeTlsAlpn01 => read_digest(&mut fields, DigestEncoding::Hex, issues)
            .map(|key_authorization_digest| {
                DcvCheckParameters::AcmeTlsAlpn01(AcmeTlsAlpn01Parameters {
                    key_authorization_digest,
                })
            }),
        ValidationMethod::WebsiteChange => {
            read_website_change(&mut fields, issues).map(DcvCheckParameters::WebsiteChange)
        }
        ValidationMethod::DnsChange => {
            read_dns_change(&mut fields, issues).map(DcvCheckParameters::DnsChange)
        }
        ValidationMethod::ContactEmailTxt => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactEmailTxt)
        }
        ValidationMethod::ContactEmailCaa => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactEmailCaa)
        }
        ValidationMethod::ContactPhoneTxt => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactPhoneTxt)
        }
        ValidationMethod::ContactPhoneCaa => {
            read_contact(&mut fields, issues).map(DcvCheckParameters::ContactPhoneCaa)
        }
        ValidationMethod::IpAddress => {
            read_ip_address(&mut fields, issues).map(DcvCheckParameters::IpAddress)
        }
        ValidationMethod::ReverseAddressLookup => {
            read_reverse_lookup(&mut fields, issues).map(DcvCheckParameters::ReverseAddressLookup)
        }
        ValidationMethod::DnsPersistent => {
            read_dns_persistent(&mut fields, issues).map(DcvCheckParameters::DnsPersistent)
        }
        ValidationMethod::DnsAccount01 => {
            let account_uri = read_required_uri(&mut fields, "account_uri", issues);
            let digest = read_digest(&mut fields, DigestEncoding::Base64Url, issues);
            account_uri
                .zip(digest)
                .map(|(account_uri, key_authorization_digest)| {
                    DcvCheckParameters::DnsAccount01(DnsAccount01Parameters {
                        account_uri,
                        key_authorization_digest,
                    })
                })
        }
    };
    fields.finish(issues);
    if issues.count() > before {
        return None;
    }
    parameters
}

/// The fields Open MPIC's models fix for `method` ([`open_mpic_fields`]):
/// sent with their value they carry no choice; with another, they are
/// refused, as Open MPIC refuses them.
fn read_pinned(fields: &mut Fields<'_>, method: ValidationMethod, issues: &mut Issues) {
    for rule in field_rules(method) {
        match (rule.rule, rule.value) {
            (Rule::Default, _) => {}
            (Rule::Fixed, Literal::Null) => {
                if fields
                    .string(rule.name, issues)
                    .is_some_and(|value| !value.is_empty())
                {
                    issues.add(
                        fields.path(rule.name),
                        format!("{method} looks up the domain itself (BR 3.2.2.4); a prefix label is not used"),
                    );
                }
            }
            (Rule::Fixed, value) => fields.pinned(rule.name, value.to_value(), issues),
        }
    }
}

/// The token and key authorization are only required to be present: one
/// that cannot be an RFC 8555 key authorization fails the check at the
/// perspective ([`crate::dcv::UnusableChallenge`]), as in Open MPIC.
fn read_acme_http_01(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<AcmeHttp01Parameters> {
    let token = fields.required_string("token", issues);
    let key_authorization = fields.required_string("key_authorization", issues);
    let http_headers = read_headers(fields, issues);
    Some(AcmeHttp01Parameters {
        token: token?.to_owned(),
        key_authorization: key_authorization?.to_owned(),
        http_headers,
    })
}

#[derive(Clone, Copy)]
enum DigestEncoding {
    Base64Url,
    Hex,
}

/// `key_authorization_hash`, or (extension) `key_authorization` to hash.
fn read_digest(
    fields: &mut Fields<'_>,
    encoding: DigestEncoding,
    issues: &mut Issues,
) -> Option<[u8; 32]> {
    let has_hash = fields.has("key_authorization_hash");
    let has_key_authorization = fields.has("key_authorization");
    let hash = fields.string("key_authorization_hash", issues);
    let key_authorization = fields.string("key_authorization", issues);
    match (has_hash, has_key_authorization) {
        (true, true) => {
            issues.add(
                fields.path("key_authorization"),
                "give key_authorization_hash or key_authorization, not both",
            );
            None
        }
        (false, false) => {
            issues.add(fields.path("key_authorization_hash"), "missing");
            None
        }
        (true, false) => {
            let (decoded, expected) = match encoding {
                DigestEncoding::Base64Url => (
                    data_encoding::BASE64URL_NOPAD.decode(hash?.as_bytes()),
                    "base64url without padding",
                ),
                DigestEncoding::Hex => (
                    data_encoding::HEXLOWER_PERMISSIVE.decode(hash?.as_bytes()),
                    "hex",
                ),
            };
            match decoded
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            {
                Some(digest) => Some(digest),
                None => {
                    issues.add(
                        fields.path("key_authorization_hash"),
                        format!("must be the {expected} encoding of a 32-byte SHA-256 digest"),
                    );
                    None
                }
            }
        }
        (false, true) => {
            let key_authorization = key_authorization?;
            if key_authorization.is_empty() {
                issues.add(fields.path("key_authorization"), "must not be empty");
                return None;
            }
            Some(key_authorization_digest(key_authorization))
        }
    }
}

fn read_website_change(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<WebsiteChangeParameters> {
    let path = fields.required_string("http_token_path", issues);
    if let Some(path) = path
        && !is_token_path(path)
    {
        issues.add(
            fields.path("http_token_path"),
            "must be `/`-separated segments of letters, digits and `-._~`, without `.` or `..` segments or a leading `/`",
        );
    }
    let challenge_value = fields.required_string("challenge_value", issues);
    if let (Some(path), Some(value)) = (path, challenge_value)
        && path.contains(value)
    {
        // BR 3.2.2.4.18: the value must not appear in the request itself,
        // or a server echoing the URL would pass.
        issues.add(
            fields.path("challenge_value"),
            "must not appear in http_token_path (BR 3.2.2.4.18)",
        );
    }
    // Compiled here, once; a pattern that does not compile fails the check
    // at the perspective (DcvFailure::InvalidRegex), as in Open MPIC.
    let match_regex = fields
        .string("match_regex", issues)
        .filter(|r| !r.is_empty());
    let url_scheme = match fields.string("url_scheme", issues) {
        Some("http") => Some(UrlScheme::Http),
        Some("https") => Some(UrlScheme::Https),
        Some(other) => {
            issues.add(
                fields.path("url_scheme"),
                format!("`{other}` is not `http` or `https`"),
            );
            None
        }
        None => None,
    };
    let http_headers = read_headers(fields, issues);
    let require_exact_case = fields.boolean("require_exact_case", issues);
    Some(WebsiteChangeParameters {
        http_token_path: path?.to_owned(),
        challenge_value: challenge_value?.to_owned(),
        match_regex: match_regex.map(MatchRegex::new),
        url_scheme,
        http_headers,
        require_exact_case,
    })
}

/// Headers a caller may not set: they frame or route the exchange, which
/// is the perspective's to do (the Host comes from the challenge URL).
pub const REFUSED_HTTP_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "expect",
];

/// `http_headers`: sent with each GET of the check, except those in
/// [`REFUSED_HTTP_HEADERS`], which are refused naming the header.
fn read_headers(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<BTreeMap<String, String>> {
    let headers = fields.string_map("http_headers", issues)?;
    let before = issues.count();
    for (name, value) in &headers {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                "is not an HTTP header name",
            );
        } else if REFUSED_HTTP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                format!(
                    "{name} frames or routes the exchange and is set by the perspective, \
                     not by the request"
                ),
            );
        }
        if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            issues.add(
                format!("{}.{name}", fields.path("http_headers")),
                "header values cannot contain CR, LF or NUL",
            );
        }
    }
    (issues.count() == before).then_some(headers)
}

fn read_dns_change(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<DnsChangeParameters> {
    let challenge_value = fields.required_string("challenge_value", issues);
    let record_type = match fields.required_string("dns_record_type", issues) {
        Some("TXT") => Some(DnsChangeRecordType::Txt),
        Some("CNAME") => Some(DnsChangeRecordType::Cname),
        Some("CAA") => Some(DnsChangeRecordType::Caa),
        Some(other) => {
            issues.add(
                fields.path("dns_record_type"),
                format!("`{other}` is not `TXT`, `CNAME` or `CAA`"),
            );
            None
        }
        None => None,
    };
    let prefix = fields.string("dns_name_prefix", issues);
    if let Some(prefix) = prefix
        && !prefix.is_empty()
        && !is_underscore_label(prefix)
    {
        issues.add(
            fields.path("dns_name_prefix"),
            "must be one label starting with `_` (BR 3.2.2.4.7), at most 63 octets of letters, digits, `-` and `_`",
        );
    }
    let require_exact_match = fields.boolean("require_exact_match", issues);
    let require_exact_case = fields.boolean("require_exact_case", issues);
    Some(DnsChangeParameters {
        challenge_value: challenge_value?.to_owned(),
        dns_record_type: record_type?,
        dns_name_prefix: prefix.map(str::to_owned),
        require_exact_match,
        require_exact_case,
    })
}

/// Any non-empty value; one that is not an email address or a global phone
/// number fails the check at the perspective, as in Open MPIC.
fn read_contact(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<ContactParameters> {
    let value = fields.required_string("challenge_value", issues)?;
    Some(ContactParameters {
        challenge_value: value.to_owned(),
    })
}

fn read_ip_address(fields: &mut Fields<'_>, issues: &mut Issues) -> Option<IpAddressParameters> {
    let address = fields.required_string("challenge_value", issues);
    let record_type = match fields.required_string("dns_record_type", issues) {
        Some("A") => Some(AddressRecordType::A),
        Some("AAAA") => Some(AddressRecordType::Aaaa),
        Some(other) => {
            issues.add(
                fields.path("dns_record_type"),
                format!("`{other}` is not `A` or `AAAA`"),
            );
            None
        }
        None => None,
    };
    Some(IpAddressParameters {
        challenge_value: address?.to_owned(),
        dns_record_type: record_type?,
    })
}

fn read_reverse_lookup(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<ReverseAddressLookupParameters> {
    let value = fields.required_string("challenge_value", issues)?;
    // A PTR target is written with its root dot as often as without.
    let name = value.strip_suffix('.').unwrap_or(value);
    let path = fields.path("challenge_value");
    read_domain(&path, name, issues)
        .map(|challenge_value| ReverseAddressLookupParameters { challenge_value })
}

fn read_dns_persistent(
    fields: &mut Fields<'_>,
    issues: &mut Issues,
) -> Option<DnsPersistentParameters> {
    let names = if fields.has("issuer_domain_names") {
        fields.string_list("issuer_domain_names", issues)
    } else {
        fields.known("issuer_domain_names");
        issues.add(fields.path("issuer_domain_names"), "missing");
        None
    };
    let names = names.and_then(|items| {
        if items.is_empty() {
            issues.add(fields.path("issuer_domain_names"), "must not be empty");
            return None;
        }
        let before = issues.count();
        let parsed: Vec<DomainName> = items
            .into_iter()
            .filter_map(|(path, text)| read_domain(&path, text, issues))
            .collect();
        (issues.count() == before).then_some(parsed)
    });
    // Open MPIC 3.8 names it expected_account_uri; account_uri was ours.
    let account_uri = if fields.has("account_uri") && !fields.has("expected_account_uri") {
        fields.known("expected_account_uri");
        read_required_uri(fields, "account_uri", issues)
    } else {
        if fields.has("account_uri") {
            issues.add(
                fields.path("account_uri"),
                "give expected_account_uri or account_uri (another name for it), not both",
            );
        }
        fields.known("account_uri");
        read_required_uri(fields, "expected_account_uri", issues)
    };
    Some(DnsPersistentParameters {
        issuer_domain_names: names?,
        account_uri: account_uri?,
    })
}
