//! The request as the response echoes it: as sent, with Open MPIC's
//! defaults filled in and the ignored fields left out, as the reference
//! server echoes its parsed model.
//!
//! | response field | from the request |
//! |---|---|
//! | `domain_or_ip_target` | as sent (the normalised target is `x_mpic.target`) |
//! | `request_orchestration_parameters` | as sent, with `max_attempts` and `cohort_for_single_attempt` `null` when absent; `null` when not sent |
//! | `caa_check_parameters` | as sent with `certificate_type` `tls-server`, `caa_domains` `null` and `allow_lookup_failure` `false` when absent; `null` when not sent |
//! | `dcv_check_parameters` | as sent with the method's defaults and fixed fields ([`open_mpic_fields`]) |
//!
//! Values are echoed as sent, not re-encoded: a `key_authorization_hash` in
//! upper-case hex comes back in upper-case hex.

use mpic_core::check::open_mpic_fields::{Rule, field_rules};
use mpic_core::check::{CheckParameters, CheckRequest, DcvCheckParameters};
use serde::Serialize;
use serde_json::{Map, Value};

/// The echoed parts of a response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Echo {
    pub domain_or_ip_target: Value,
    pub request_orchestration_parameters: Value,
    #[serde(flatten)]
    pub check_parameters: EchoedParameters,
}

/// The check's parameters, under the key its check type uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EchoedParameters {
    Caa { caa_check_parameters: Value },
    Dcv { dcv_check_parameters: Value },
}

/// The orchestration fields echoed as `null` when absent: those the 3.9
/// schema makes nullable (`perspective_count` and `quorum_count` are not,
/// so they are echoed only as sent).
const NULLABLE_ORCHESTRATION_FIELDS: [&str; 2] = ["max_attempts", "cohort_for_single_attempt"];

impl Echo {
    /// The echo of `body`, which was read as `request` with `ignored`
    /// fields set aside.
    pub fn new(body: &Value, request: &CheckRequest, ignored: &[String]) -> Self {
        let field = |name: &str| {
            let value = body.get(name).cloned().unwrap_or(Value::Null);
            without_ignored(value, name, ignored)
        };
        let orchestration = with_defaults(
            field("orchestration_parameters"),
            NULLABLE_ORCHESTRATION_FIELDS
                .iter()
                .map(|name| (*name, Value::Null)),
        );
        let check_parameters = match &request.parameters {
            CheckParameters::Caa(_) => EchoedParameters::Caa {
                caa_check_parameters: with_defaults(
                    field("caa_check_parameters"),
                    [
                        ("certificate_type", Value::from("tls-server")),
                        ("caa_domains", Value::Null),
                        ("allow_lookup_failure", Value::Bool(false)),
                    ],
                ),
            },
            CheckParameters::Dcv(parameters) => EchoedParameters::Dcv {
                dcv_check_parameters: dcv_with_defaults(field("dcv_check_parameters"), parameters),
            },
        };
        Self {
            domain_or_ip_target: field("domain_or_ip_target"),
            request_orchestration_parameters: orchestration,
            check_parameters,
        }
    }
}

/// `value` (found at `path`) without the ignored fields below it.
fn without_ignored(mut value: Value, path: &str, ignored: &[String]) -> Value {
    if ignored.iter().any(|i| i == path) {
        return Value::Null;
    }
    if let Value::Object(map) = &mut value {
        let prefix = format!("{path}.");
        map.retain(|key, _| !ignored.contains(&format!("{prefix}{key}")));
    }
    value
}

/// An object with `defaults` for its absent (or `null`) fields; `null`
/// stays `null`.
fn with_defaults<'a>(value: Value, defaults: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    for (name, default) in defaults {
        fill(&mut map, name, default);
    }
    Value::Object(map)
}

fn fill(map: &mut Map<String, Value>, name: &str, value: Value) {
    match map.get_mut(name) {
        Some(existing) if !existing.is_null() => {}
        Some(existing) => *existing = value,
        None => {
            map.insert(name.to_owned(), value);
        }
    }
}

fn dcv_with_defaults(value: Value, parameters: &DcvCheckParameters) -> Value {
    let rules = field_rules(parameters.method());
    let mut value = with_defaults(
        value,
        rules.iter().map(|rule| (rule.name, rule.value.to_value())),
    );
    if let Value::Object(map) = &mut value {
        for rule in rules.iter().filter(|rule| rule.rule == Rule::Fixed) {
            // A fixed "no prefix" may have been sent as "": echo what was
            // used, the fixed value.
            map.insert(rule.name.to_owned(), rule.value.to_value());
        }
        if let DcvCheckParameters::DnsChange(p) = parameters {
            // Open MPIC forces it for CNAME and CAA.
            map.insert("require_exact_case".into(), Value::Bool(p.exact_case()));
        }
    }
    value
}

#[cfg(test)]
mod tests;
