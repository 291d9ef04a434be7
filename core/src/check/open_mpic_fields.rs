//! The fields Open MPIC's models give each validation method beyond its
//! challenge: fixed values (the only one accepted) and defaults.
//!
//! One table serves both directions: reading a request (a fixed field may
//! be sent, but only with its value) and echoing it in an API response
//! (Open MPIC echoes the parameters with every default filled in). The
//! values are those of the reference models (`open-mpic-core` 6.5.0,
//! `check_parameters.py`).

use serde_json::Value;

use super::ValidationMethod;

/// A JSON scalar the table can hold as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    /// JSON `null`.
    Null,
    /// A JSON boolean.
    Bool(bool),
    /// A JSON string.
    Text(&'static str),
}

impl Literal {
    /// The literal as a JSON value.
    pub fn to_value(self) -> Value {
        match self {
            Literal::Null => Value::Null,
            Literal::Bool(b) => Value::Bool(b),
            Literal::Text(text) => Value::from(text),
        }
    }
}

/// What the table says of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Only this value is accepted (absent and `null` mean it too). A fixed
    /// `Null` is a field the method does not use: `""` is accepted too.
    Fixed,
    /// Used when the field is absent.
    Default,
}

/// One field of one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    /// The field's name in `dcv_check_parameters`, e.g. `dns_record_type`.
    pub name: &'static str,
    /// The fixed value, or the default.
    pub value: Literal,
    /// Whether `value` is the only value accepted or the default.
    pub rule: Rule,
}

const fn fixed(name: &'static str, value: Literal) -> FieldRule {
    FieldRule {
        name,
        value,
        rule: Rule::Fixed,
    }
}

const fn default(name: &'static str, value: Literal) -> FieldRule {
    FieldRule {
        name,
        value,
        rule: Rule::Default,
    }
}

use Literal::{Bool, Null, Text};

const EXACT_CASE: FieldRule = fixed("require_exact_case", Bool(true));
const ANY_CASE: FieldRule = fixed("require_exact_case", Bool(false));
const NO_PREFIX: FieldRule = fixed("dns_name_prefix", Null);
const NO_HEADERS: FieldRule = default("http_headers", Null);

const WEBSITE_CHANGE: &[FieldRule] = &[
    default("url_scheme", Text("http")),
    NO_HEADERS,
    default("match_regex", Null),
    default("require_exact_case", Bool(true)),
];
const DNS_CHANGE: &[FieldRule] = &[
    default("dns_name_prefix", Null),
    default("require_exact_match", Bool(false)),
    default("require_exact_case", Bool(true)),
];
const DNS_PERSISTENT: &[FieldRule] = &[
    fixed("dns_record_type", Text("TXT")),
    fixed("dns_name_prefix", Text("_validation-persist")),
    ANY_CASE,
];
const ACME_HTTP_01: &[FieldRule] = &[NO_HEADERS, EXACT_CASE];
const ACME_DNS_01: &[FieldRule] = &[
    fixed("dns_record_type", Text("TXT")),
    fixed("dns_name_prefix", Text("_acme-challenge")),
    EXACT_CASE,
];
const ACME_TLS_ALPN_01: &[FieldRule] = &[ANY_CASE];
const CONTACT_EMAIL_TXT: &[FieldRule] = &[
    fixed("dns_record_type", Text("TXT")),
    fixed("dns_name_prefix", Text("_validation-contactemail")),
    ANY_CASE,
];
const CONTACT_PHONE_TXT: &[FieldRule] = &[
    fixed("dns_record_type", Text("TXT")),
    fixed("dns_name_prefix", Text("_validation-contactphone")),
    ANY_CASE,
];
// Open MPIC lets a prefix be given to these; the BR methods look at the
// domain itself (and, for CAA, its ancestors), so none is taken.
const CONTACT_CAA: &[FieldRule] = &[fixed("dns_record_type", Text("CAA")), NO_PREFIX, ANY_CASE];
const IP_ADDRESS: &[FieldRule] = &[NO_PREFIX, ANY_CASE];
const REVERSE_ADDRESS_LOOKUP: &[FieldRule] =
    &[fixed("dns_record_type", Text("PTR")), NO_PREFIX, ANY_CASE];

/// The table for `method`. `dns-change`'s `require_exact_case` defaults to
/// true but is forced to false for CNAME and CAA, which the caller applies
/// ([`super::DnsChangeParameters::exact_case`]).
pub fn field_rules(method: ValidationMethod) -> &'static [FieldRule] {
    use ValidationMethod as M;
    match method {
        M::WebsiteChange => WEBSITE_CHANGE,
        M::DnsChange => DNS_CHANGE,
        M::DnsPersistent => DNS_PERSISTENT,
        M::AcmeHttp01 => ACME_HTTP_01,
        M::AcmeDns01 => ACME_DNS_01,
        M::AcmeTlsAlpn01 => ACME_TLS_ALPN_01,
        M::ContactEmailTxt => CONTACT_EMAIL_TXT,
        M::ContactPhoneTxt => CONTACT_PHONE_TXT,
        M::ContactEmailCaa | M::ContactPhoneCaa => CONTACT_CAA,
        M::IpAddress => IP_ADDRESS,
        M::ReverseAddressLookup => REVERSE_ADDRESS_LOOKUP,
        // Ours: no Open MPIC model.
        M::DnsAccount01 => &[],
    }
}

#[cfg(test)]
mod tests;
