//! What the coordinator asks a perspective to do: the check as the CA sent it
//! ([`CheckSpec`]) and the body of the signed request ([`CheckCall`]).
//!
//! The check is carried as the Open MPIC request JSON object, opaque here, so
//! that the typed request model can replace it without changing the wire.

use serde::{Deserialize, Serialize};

/// Open MPIC `check_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    Caa,
    Dcv,
}

impl CheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Caa => "caa",
            CheckType::Dcv => "dcv",
        }
    }
}

/// One check to corroborate: an Open MPIC request object and the two fields
/// the coordinator itself needs from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSpec {
    /// `domain_or_ip_target`; selects the cohort and appears in logs.
    pub target: String,
    pub check_type: CheckType,
    /// The Open MPIC request object, sent to perspectives as it is.
    pub request: serde_json::Value,
}

/// An Open MPIC request the coordinator cannot even route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckSpecError {
    #[error("check request is not JSON: {0}")]
    NotJson(String),
    #[error("check request is not a JSON object")]
    NotAnObject,
    #[error("check request has no string `domain_or_ip_target`")]
    NoTarget,
    #[error("check request `check_type` is missing or not \"caa\" or \"dcv\"")]
    BadCheckType,
}

impl CheckSpec {
    /// Reads the routing fields of an Open MPIC request. The perspectives
    /// validate the rest.
    pub fn from_json(json: &[u8]) -> Result<Self, CheckSpecError> {
        let request: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| CheckSpecError::NotJson(e.to_string()))?;
        Self::from_value(request)
    }

    /// As [`CheckSpec::from_json`], from parsed JSON.
    pub fn from_value(request: serde_json::Value) -> Result<Self, CheckSpecError> {
        let object = request.as_object().ok_or(CheckSpecError::NotAnObject)?;
        let target = object
            .get("domain_or_ip_target")
            .and_then(|v| v.as_str())
            .filter(|t| !t.trim().is_empty())
            .ok_or(CheckSpecError::NoTarget)?
            .to_owned();
        let check_type = object
            .get("check_type")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(CheckSpecError::BadCheckType)?;
        Ok(Self {
            target,
            check_type,
            request,
        })
    }
}

/// The JSON body the coordinator signs and posts to `{perspective}/v1/check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckCall {
    /// The perspective the coordinator means to reach; it refuses a call for
    /// another id, so a request cannot be redirected to a different worker.
    pub perspective_id: String,
    /// The Open MPIC check request object.
    pub check: serde_json::Value,
    /// The CA's CAA issuer domain names.
    pub caa_issuer_domains: Vec<String>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn reads_routing_fields_and_keeps_the_request() {
        let json = br#"{"check_type":"caa","domain_or_ip_target":"example.com","caa_check_parameters":{"caa_domains":["ca.example"]}}"#;
        let spec = CheckSpec::from_json(json).unwrap();
        assert_eq!(spec.target, "example.com");
        assert_eq!(spec.check_type, CheckType::Caa);
        assert_eq!(
            spec.request["caa_check_parameters"]["caa_domains"][0],
            "ca.example"
        );
    }

    #[test]
    fn refuses_what_cannot_be_routed() {
        let cases: [(&[u8], CheckSpecError); 5] = [
            (
                b"{",
                CheckSpecError::NotJson("EOF while parsing an object at line 1 column 1".into()),
            ),
            (b"[]", CheckSpecError::NotAnObject),
            (br#"{"check_type":"caa"}"#, CheckSpecError::NoTarget),
            (
                br#"{"check_type":"caa","domain_or_ip_target":" "}"#,
                CheckSpecError::NoTarget,
            ),
            (
                br#"{"check_type":"dns","domain_or_ip_target":"example.com"}"#,
                CheckSpecError::BadCheckType,
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(
                CheckSpec::from_json(json),
                Err(expected),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn call_json_has_the_agreed_fields() {
        let call = CheckCall {
            perspective_id: "cf-fra".into(),
            check: serde_json::json!({"check_type": "caa", "domain_or_ip_target": "example.com"}),
            caa_issuer_domains: vec!["ca.example".into()],
            attempt: 2,
        };
        let value = serde_json::to_value(&call).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "perspective_id": "cf-fra",
                "check": {"check_type": "caa", "domain_or_ip_target": "example.com"},
                "caa_issuer_domains": ["ca.example"],
                "attempt": 2
            })
        );
        assert_eq!(serde_json::from_value::<CheckCall>(value).unwrap(), call);
    }
}
