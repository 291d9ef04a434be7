#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn answer(rcode: ResponseCode, ad: bool) -> Result<DnsAnswer, DnsError> {
    Ok(DnsAnswer {
        name: "x".into(),
        rtype: PROBE_TYPE,
        rcode,
        records: Vec::new(),
        cname_chain: Vec::new(),
        authentic_data: ad,
        resolver: "r".into(),
        checking_disabled: false,
        extended_errors: Vec::new(),
    })
}

#[test]
fn only_servfail_for_bogus_and_authenticated_noerror_for_signed_pass() {
    let names = DnssecTestNames::default();
    let kind = |bogus, signed| judge("r", &names, bogus, signed).failure;
    assert_eq!(
        kind(
            answer(ResponseCode::ServFail, false),
            answer(ResponseCode::NoError, true)
        ),
        None
    );
    // A non-validating resolver: the bogus data comes back.
    assert!(matches!(
        kind(
            answer(ResponseCode::NoError, false),
            answer(ResponseCode::NoError, false)
        ),
        Some(SelfTestFailure::BogusAccepted { .. })
    ));
    // One that fails everything is no validator either.
    assert!(matches!(
        kind(
            answer(ResponseCode::ServFail, false),
            answer(ResponseCode::ServFail, false)
        ),
        Some(SelfTestFailure::SignedNotAuthenticated { .. })
    ));
    assert!(matches!(
        kind(
            answer(ResponseCode::ServFail, false),
            answer(ResponseCode::NoError, false)
        ),
        Some(SelfTestFailure::SignedNotAuthenticated { ad: 0, .. })
    ));
    assert!(matches!(
        kind(Err(DnsError::Timeout), answer(ResponseCode::NoError, true)),
        Some(SelfTestFailure::NoResponse { .. })
    ));
}

#[test]
fn a_test_without_resolvers_does_not_pass() {
    let test = DnssecSelfTest::without_resolvers();
    assert!(!test.passed());
    assert!(test.summary().starts_with("failed"));
}
