//! Every answer other than 200, in one JSON shape.
//!
//! `{"error": "<kind>", "message": "…"}`, and for 400
//! `validation_issues: [{"issue_type", "field", "message"}]` with every
//! problem found. `error` and `issue_type` follow Open MPIC's spellings
//! (`request-validation-failed`, `invalid-perspective-count`, `empty-challenge-value`,
//! `invalid-quorum-count`); `field` is our addition, the dotted path of the
//! field at fault.

use std::time::Duration;

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mpic_core::check::{RequestError, RequestIssue};
use serde::{Deserialize, Serialize};

use crate::orchestration::{COHORT_FIELD, PERSPECTIVE_COUNT_FIELD, QUORUM_COUNT_FIELD, Refused};

/// `error` of a refused request body (Open MPIC's key).
pub const REQUEST_VALIDATION_FAILED: &str = "request-validation-failed";
/// How long a client told 503 should wait, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// One problem with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationIssue {
    /// A stable, machine-readable kind: `malformed-json`, `unknown-field`,
    /// `missing-field`, `invalid-value`, `invalid-perspective-count`,
    /// `invalid-quorum-count`, `invalid-cohort-for-single-attempt`.
    pub issue_type: String,
    /// Dotted path of the field (`dcv_check_parameters.token`), or `(body)`.
    pub field: String,
    pub message: String,
}

impl ValidationIssue {
    fn new(field: &str, message: &str) -> Self {
        Self {
            issue_type: issue_type(field, message).to_owned(),
            field: field.to_owned(),
            message: format!("{field}: {message}"),
        }
    }
}

/// The kind of a request issue, from its field and core's message.
fn issue_type(field: &str, message: &str) -> &'static str {
    match field {
        PERSPECTIVE_COUNT_FIELD => "invalid-perspective-count",
        QUORUM_COUNT_FIELD => "invalid-quorum-count",
        COHORT_FIELD => "invalid-cohort-for-single-attempt",
        // Open MPIC's MpicRequestValidator names this one.
        "dcv_check_parameters.challenge_value" if message == "must not be empty" => {
            "empty-challenge-value"
        }
        _ => match message {
            "unknown field" => "unknown-field",
            "missing" => "missing-field",
            _ => "invalid-value",
        },
    }
}

/// Why a request was not answered with a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the request is not a valid Open MPIC request")]
    InvalidRequest(Vec<ValidationIssue>),
    #[error("the request body could not be read: {0}")]
    UnreadableBody(String),
    #[error("a valid API key is required (Authorization: Bearer <key> or x-api-key: <key>)")]
    Unauthorized,
    #[error("no such route")]
    NotFound,
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{limit} checks are already running; retry shortly")]
    Busy { limit: usize },
    #[error("the request did not finish within {} ms", after.as_millis())]
    Timeout { after: Duration },
    #[error("internal error: {0}")]
    Internal(String),
    /// The evidence store failed: a decision is then not answered (fail
    /// closed). Clients are told only that; the store's name and error go
    /// to the log.
    #[error("the evidence store is unavailable, so no decision is answered now: retry")]
    EvidenceStore(crate::evidence::StoreError),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) | ApiError::UnreadableBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::EvidenceStore(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` field.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) | ApiError::UnreadableBody(_) => REQUEST_VALIDATION_FAILED,
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound => "not-found",
            ApiError::TooLarge { .. } => "request-too-large",
            ApiError::Busy { .. } => "too-many-concurrent-checks",
            ApiError::Timeout { .. } => "request-timeout",
            ApiError::Internal(_) => "internal-error",
            ApiError::EvidenceStore(_) => "evidence-store-unavailable",
        }
    }
}

/// The JSON body of an error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_issues: Option<Vec<ValidationIssue>>,
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let issues = match &e {
            RequestError::NotJson(detail) => vec![ValidationIssue {
                issue_type: "malformed-json".into(),
                field: "(body)".into(),
                message: format!("request body is not JSON: {detail}"),
            }],
            RequestError::Invalid(issues) => issues
                .iter()
                .map(|RequestIssue { field, message }| ValidationIssue::new(field, message))
                .collect(),
        };
        ApiError::InvalidRequest(issues)
    }
}

impl From<Refused> for ApiError {
    fn from(e: Refused) -> Self {
        ApiError::InvalidRequest(
            e.0.iter()
                .map(|issue| ValidationIssue::new(&issue.field, &issue.message))
                .collect(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let validation_issues = match &self {
            ApiError::InvalidRequest(issues) => Some(issues.clone()),
            ApiError::UnreadableBody(detail) => Some(vec![ValidationIssue {
                issue_type: "unreadable-body".into(),
                field: "(body)".into(),
                message: detail.clone(),
            }]),
            _ => None,
        };
        let body = ErrorBody {
            error: self.kind().to_owned(),
            message: self.to_string(),
            validation_issues,
        };
        let json = serde_json::to_vec(&body)
            .unwrap_or_else(|_| b"{\"error\":\"internal-error\"}".to_vec());
        let mut response = (status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match self {
            ApiError::Unauthorized => {
                headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Busy { .. } | ApiError::EvidenceStore(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests;
