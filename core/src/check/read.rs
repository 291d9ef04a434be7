//! The strict reader: an Open MPIC request body, checked field by field
//! into a [`CheckRequest`], every problem named by its field path.

use std::fmt;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod dcv;

use super::fields::{Fields, Issues};
use super::syntax::is_caa_parameter_word;
use super::unique_keys::{FirstDuplicate, UniqueKeys};
use super::*;
use crate::name::{DomainName, Target, ip_from_reverse_name};
pub use dcv::REFUSED_HTTP_HEADERS;
use dcv::read_dcv;

/// What reading does with a field the request format does not define.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// Refuse the request, naming the field (perspectives, the CLI, and the
    /// API under `[api] reject_unknown_fields`).
    #[default]
    Refuse,
    /// Skip it and name it in [`ReadRequest::ignored_fields`] (the API by
    /// default, as Open MPIC's models ignore unknown fields).
    Ignore,
}

/// A request read with [`CheckRequest::read_json`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    /// The validated request.
    pub request: CheckRequest,
    /// Dotted paths of the unknown fields that were skipped, in the order
    /// found (empty under [`UnknownFields::Refuse`]).
    pub ignored_fields: Vec<String>,
}

/// One problem with a request: which field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestIssue {
    /// Dotted path of the field (`dcv_check_parameters.token`,
    /// `caa_check_parameters.caa_domains[1]`), or `(body)`.
    pub field: String,
    /// What is wrong with it, e.g. `missing` or `must be a string`.
    pub message: String,
}

impl fmt::Display for RequestIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum RequestError {
    /// The body is not JSON at all.
    #[error("request body is not JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not a valid request; every issue found.
    #[error("invalid request: {}", join_issues(.0))]
    Invalid(Vec<RequestIssue>),
}

impl RequestError {
    /// The issues (empty for [`RequestError::NotJson`]).
    pub fn issues(&self) -> &[RequestIssue] {
        match self {
            RequestError::NotJson(_) => &[],
            RequestError::Invalid(issues) => issues,
        }
    }
}

fn join_issues(issues: &[RequestIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl CheckRequest {
    /// Parse and validate an Open MPIC request body. A key repeated in any
    /// object refuses the body, naming the key (see `unique_keys`).
    /// Unknown fields are refused (see [`CheckRequest::read_json`]).
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        Self::read_json(body, UnknownFields::Refuse).map(|read| read.request)
    }

    /// As [`CheckRequest::from_json`], with unknown fields handled as
    /// `unknown` says.
    pub fn read_json(body: &[u8], unknown: UnknownFields) -> Result<ReadRequest, RequestError> {
        Self::read_value(&parse_unique_keys(body)?, unknown)
    }

    /// Validate an already-parsed request body; unknown fields are refused.
    pub fn from_value(value: &Value) -> Result<Self, RequestError> {
        Self::read_value(value, UnknownFields::Refuse).map(|read| read.request)
    }

    /// As [`CheckRequest::from_value`], with unknown fields handled as
    /// `unknown` says.
    pub fn read_value(value: &Value, unknown: UnknownFields) -> Result<ReadRequest, RequestError> {
        let mut issues = Issues::new(unknown);
        let request = read_request(value, &mut issues);
        match request {
            Some(request) if issues.count() == 0 => Ok(ReadRequest {
                request,
                ignored_fields: issues.ignored,
            }),
            _ => {
                if issues.count() == 0 {
                    // Defensive: a refusal always names a reason.
                    issues.add("(body)", "invalid request");
                }
                Err(RequestError::Invalid(issues.found))
            }
        }
    }
}

/// The same strict validation as [`CheckRequest::from_json`], repeated keys
/// included.
impl<'de> Deserialize<'de> for CheckRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let found = FirstDuplicate::default();
        let value = UniqueKeys::root(&found).deserialize(deserializer)?;
        Self::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// Parse a JSON body, refusing a key repeated in any object (naming it).
pub fn parse_unique_keys(body: &[u8]) -> Result<Value, RequestError> {
    let found = FirstDuplicate::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = UniqueKeys::root(&found)
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (value, found.path()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(path)) => Err(RequestError::Invalid(vec![duplicate_key_issue(path)])),
        (Err(e), None) => Err(RequestError::NotJson(e.to_string())),
    }
}

fn duplicate_key_issue(field: String) -> RequestIssue {
    RequestIssue {
        field,
        message: "this key appears more than once in its object; each key may appear once, \
                  because JSON parsers disagree on which repeat wins"
            .into(),
    }
}

fn read_request(value: &Value, issues: &mut Issues) -> Option<CheckRequest> {
    let mut body = Fields::root(value, issues)?;

    let check_type = match body.required_string("check_type", issues) {
        Some("caa") => Some(CheckType::Caa),
        Some("dcv") => Some(CheckType::Dcv),
        Some(other) => {
            issues.add("check_type", format!("`{other}` is not `caa` or `dcv`"));
            None
        }
        None => None,
    };
    let target_text = body.required_string("domain_or_ip_target", issues);
    let trace_identifier = body.string("trace_identifier", issues).map(str::to_owned);
    let orchestration_parameters = body
        .object("orchestration_parameters", issues)
        .and_then(|fields| read_orchestration(fields, issues));

    let caa = match (check_type, body.object("caa_check_parameters", issues)) {
        (Some(CheckType::Caa), Some(fields)) => read_caa(fields, issues),
        (Some(CheckType::Caa), None) => Some(CaaCheckParameters::default()),
        (Some(CheckType::Dcv), Some(_)) => {
            // Not a field of a DCV request: unknown to it, as to Open MPIC.
            issues.unknown("caa_check_parameters".into());
            None
        }
        _ => None,
    };
    let dcv = match check_type {
        Some(CheckType::Dcv) => body
            .required_object("dcv_check_parameters", issues)
            .and_then(|fields| read_dcv(fields, issues)),
        _ => {
            if body.has("dcv_check_parameters") && check_type == Some(CheckType::Caa) {
                issues.unknown("dcv_check_parameters".into());
            }
            body.known("dcv_check_parameters");
            None
        }
    };
    body.finish(issues);

    let method = dcv.as_ref().map(DcvCheckParameters::method);
    let target = target_text.and_then(|text| read_target(text, method, issues));

    let target = target?;
    let parameters = match check_type? {
        CheckType::Caa => {
            if target.ip().is_some() {
                issues.add(
                    "domain_or_ip_target",
                    "CAA applies to domain names, not IP addresses",
                );
                return None;
            }
            CheckParameters::Caa(caa?)
        }
        CheckType::Dcv => {
            let dcv = dcv?;
            if let Err(refusal) = dcv.method().check_target(&target) {
                issues.add("domain_or_ip_target", refusal.to_string());
                return None;
            }
            CheckParameters::Dcv(dcv)
        }
    };
    Some(CheckRequest {
        target,
        trace_identifier,
        orchestration_parameters,
        parameters,
    })
}

fn read_target(
    text: &str,
    method: Option<ValidationMethod>,
    issues: &mut Issues,
) -> Option<Target> {
    if method == Some(ValidationMethod::ReverseAddressLookup) {
        // Open MPIC clients send the reverse-lookup name itself; it stands for
        // exactly one address, which is what is being validated.
        if let Ok(ip) = ip_from_reverse_name(text) {
            return Some(Target::Ip(ip));
        }
    }
    match Target::parse(text) {
        Ok(target) => Some(target),
        Err(error) => {
            issues.add("domain_or_ip_target", error.to_string());
            None
        }
    }
}

fn read_orchestration(
    mut fields: Fields<'_>,
    issues: &mut Issues,
) -> Option<OrchestrationParameters> {
    let before = issues.count();
    let parameters = OrchestrationParameters {
        perspective_count: fields.count("perspective_count", issues),
        quorum_count: fields.count("quorum_count", issues),
        max_attempts: fields.integer("max_attempts", issues),
        cohort_for_single_attempt: fields.integer("cohort_for_single_attempt", issues),
    };
    if parameters.perspective_count == Some(0) {
        issues.add(fields.path("perspective_count"), "must be at least 1");
    }
    if let (Some(perspectives), Some(quorum)) =
        (parameters.perspective_count, parameters.quorum_count)
        && quorum > perspectives
    {
        issues.add(
            fields.path("quorum_count"),
            format!("{quorum} is more than perspective_count ({perspectives})"),
        );
    }
    fields.finish(issues);
    (issues.count() == before).then_some(parameters)
}

fn read_caa(mut fields: Fields<'_>, issues: &mut Issues) -> Option<CaaCheckParameters> {
    let before = issues.count();
    let certificate_type = match fields.string("certificate_type", issues) {
        Some("tls-server") => Some(CertificateType::TlsServer),
        Some("s-mime") => Some(CertificateType::SMime),
        Some(other) => {
            issues.add(
                fields.path("certificate_type"),
                format!("`{other}` is not `tls-server` or `s-mime`"),
            );
            None
        }
        None => None,
    };
    let caa_domains = fields.string_list("caa_domains", issues).map(|items| {
        items
            .into_iter()
            .filter_map(|(path, text)| read_domain(&path, text, issues))
            .collect::<Vec<_>>()
    });
    let allow_lookup_failure = fields.boolean("allow_lookup_failure", issues);
    let x_account_uri = fields
        .string("x_account_uri", issues)
        .and_then(|uri| read_uri(&fields.path("x_account_uri"), uri, issues));
    let x_validation_method = fields
        .string("x_validation_method", issues)
        .and_then(|method| {
            if is_caa_parameter_word(method) {
                Some(method.to_owned())
            } else {
                issues.add(
                    fields.path("x_validation_method"),
                    "must be an RFC 8657 validation method name (letters, digits, inner hyphens)",
                );
                None
            }
        });
    fields.finish(issues);
    (issues.count() == before).then_some(CaaCheckParameters {
        certificate_type,
        caa_domains,
        allow_lookup_failure,
        x_account_uri,
        x_validation_method,
    })
}

fn read_domain(path: &str, text: &str, issues: &mut Issues) -> Option<DomainName> {
    match DomainName::parse(text) {
        Ok(name) => Some(name),
        Err(error) => {
            issues.add(path, error.to_string());
            None
        }
    }
}

fn read_required_uri(
    fields: &mut Fields<'_>,
    key: &'static str,
    issues: &mut Issues,
) -> Option<String> {
    let text = fields.required_string(key, issues)?;
    read_uri(&fields.path(key), text, issues)
}

/// An absolute URI, kept exactly as given (RFC 8657 compares `accounturi`
/// as a string).
fn read_uri(path: &str, text: &str, issues: &mut Issues) -> Option<String> {
    let usable = url::Url::parse(text).is_ok()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b';');
    if usable {
        Some(text.to_owned())
    } else {
        issues.add(path, "must be an absolute URI without spaces or `;`");
        None
    }
}
