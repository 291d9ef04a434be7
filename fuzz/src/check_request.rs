//! Open MPIC request bodies: `CheckRequest::from_json` on arbitrary bytes.
//!
//! Invariants:
//! - a refusal that is not "not JSON" names at least one field issue;
//! - the serde `Deserialize` path agrees with `from_json`;
//! - round trip: an accepted request serialises, the serialisation parses to
//!   an equal request, and serialising that gives the same bytes (so what
//!   the coordinator signs and forwards is exactly what it validated);
//! - the check type and the parameters agree.

use mpic_core::check::{CheckParameters, CheckRequest, CheckType, RequestError};

pub fn run(data: &[u8]) {
    let parsed = CheckRequest::from_json(data);
    let through_serde = serde_json::from_slice::<CheckRequest>(data);
    assert_eq!(
        parsed.is_ok(),
        through_serde.is_ok(),
        "from_json and Deserialize disagree"
    );

    let request = match parsed {
        Ok(request) => request,
        Err(RequestError::NotJson(_)) => return,
        Err(RequestError::Invalid(issues)) => {
            assert!(!issues.is_empty(), "refused without naming an issue");
            return;
        }
    };
    if let Ok(other) = &through_serde {
        assert_eq!(other, &request, "from_json and Deserialize differ");
    }
    match (&request.parameters, request.check_type()) {
        (CheckParameters::Caa(_), CheckType::Caa) | (CheckParameters::Dcv(_), CheckType::Dcv) => {}
        (_, check_type) => panic!("parameters do not match check type {check_type:?}"),
    }

    let json = match serde_json::to_vec(&request) {
        Ok(json) => json,
        Err(e) => panic!("an accepted request does not serialise: {e}"),
    };
    let again = match CheckRequest::from_json(&json) {
        Ok(again) => again,
        Err(e) => panic!(
            "serialised request {} is refused: {e}",
            String::from_utf8_lossy(&json)
        ),
    };
    assert_eq!(
        again,
        request,
        "round trip through {} changed the request",
        String::from_utf8_lossy(&json)
    );
    let json_again = match serde_json::to_vec(&again) {
        Ok(json) => json,
        Err(e) => panic!("re-parsed request does not serialise: {e}"),
    };
    assert_eq!(json_again, json, "serialisation is not stable");
}
