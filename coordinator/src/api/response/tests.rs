#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn reason_kinds_are_the_serialised_ones() {
    let reasons = [
        NonCorroboration::Timeout,
        NonCorroboration::Unreachable { detail: "x".into() },
        NonCorroboration::BadSignature,
        NonCorroboration::Stale,
        NonCorroboration::WrongNonce,
        NonCorroboration::UnknownPerspective,
        NonCorroboration::InvalidReport { detail: "x".into() },
        NonCorroboration::PerspectiveError { detail: "x".into() },
        NonCorroboration::Mismatch { detail: "x".into() },
    ];
    for reason in reasons {
        let json = serde_json::to_value(&reason).unwrap();
        assert_eq!(json["kind"], reason_kind(&reason), "{reason:?}");
    }
}

#[test]
fn error_types_say_what_failed() {
    let dcv = match CheckRequest::from_value(&serde_json::json!({
        "check_type": "dcv",
        "domain_or_ip_target": "example.com",
        "dcv_check_parameters": {"validation_method": "acme-dns-01", "key_authorization": "a.b"},
    }))
    .unwrap()
    .parameters
    {
        CheckParameters::Dcv(p) => p,
        CheckParameters::Caa(_) => panic!("not dcv"),
    };
    let not = |reason| ResultStatus::NotCorroborated { reason };
    let mismatch = || NonCorroboration::Mismatch { detail: "x".into() };
    let error = || NonCorroboration::PerspectiveError { detail: "x".into() };
    let table: Vec<(CheckType, Option<&DcvCheckParameters>, ResultStatus, &str)> = vec![
        (
            CheckType::Dcv,
            Some(&dcv),
            not(mismatch()),
            "validation:acme-dns-01",
        ),
        (
            CheckType::Dcv,
            Some(&dcv),
            not(error()),
            "validation:acme-dns-01",
        ),
        (CheckType::Caa, None, not(mismatch()), "caa:forbidden"),
        (CheckType::Caa, None, not(error()), "caa:lookup_failed"),
        (
            CheckType::Caa,
            None,
            not(NonCorroboration::Timeout),
            "mpic:timeout",
        ),
        (
            CheckType::Dcv,
            Some(&dcv),
            not(NonCorroboration::BadSignature),
            "mpic:bad_signature",
        ),
        (
            CheckType::Caa,
            None,
            ResultStatus::Cancelled,
            "mpic:cancelled",
        ),
    ];
    for (check_type, params, status, expected) in table {
        assert_eq!(
            error_type(check_type, params, &status),
            expected,
            "{status:?}"
        );
    }
}
