#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use mpic_core::check::RequestIssue;

#[test]
fn request_issues_keep_their_field_and_get_a_kind() {
    let table: &[(&str, &str, &str)] = &[
        ("check_type", "missing", "missing-field"),
        (
            "caa_check_parameters.colour",
            "unknown field",
            "unknown-field",
        ),
        (
            "domain_or_ip_target",
            "`exa mple.com` is not a domain name",
            "invalid-value",
        ),
        (
            PERSPECTIVE_COUNT_FIELD,
            "must be at least 1",
            "invalid-perspective-count",
        ),
        (
            QUORUM_COUNT_FIELD,
            "3 is more than perspective_count (2)",
            "invalid-quorum-count",
        ),
        (
            COHORT_FIELD,
            "is 0; it must be from 1 to 3",
            "invalid-cohort-for-single-attempt",
        ),
    ];
    for &(field, message, kind) in table {
        let error = ApiError::from(RequestError::Invalid(vec![RequestIssue {
            field: field.into(),
            message: message.into(),
        }]));
        let ApiError::InvalidRequest(issues) = error else {
            panic!("not a validation error");
        };
        assert_eq!(issues[0].issue_type, kind, "{field}");
        assert_eq!(issues[0].field, field);
        assert!(issues[0].message.contains(message));
    }
}

#[test]
fn refused_overrides_are_validation_issues() {
    let error = ApiError::from(Refused(vec![RequestIssue {
        field: QUORUM_COUNT_FIELD.into(),
        message: "is 3; at least 4".into(),
    }]));
    assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error.kind(), REQUEST_VALIDATION_FAILED);
}

#[test]
fn statuses_and_headers() {
    type Header = Option<(&'static str, &'static str)>;
    let table: &[(ApiError, u16, Header)] = &[
        (
            ApiError::Unauthorized,
            401,
            Some(("www-authenticate", "Bearer")),
        ),
        (ApiError::Busy { limit: 2 }, 503, Some(("retry-after", "1"))),
        (ApiError::TooLarge { limit: 10 }, 413, None),
        (ApiError::NotFound, 404, None),
        (
            ApiError::Timeout {
                after: Duration::from_secs(1),
            },
            504,
            None,
        ),
        (ApiError::InvalidRequest(Vec::new()), 400, None),
    ];
    for (error, status, header) in table {
        let response = error.clone().into_response();
        assert_eq!(response.status().as_u16(), *status, "{error:?}");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        if let Some((name, value)) = header {
            assert_eq!(response.headers()[*name], *value, "{error:?}");
        }
    }
}
