//! Open MPIC request bodies: `CheckRequest::from_json` on arbitrary bytes.
//!
//! Invariants:
//! - a refusal that is not "not JSON" names at least one field issue;
//! - the serde `Deserialize` path agrees with `from_json`;
//! - round trip: an accepted request serialises, the serialisation parses to
//!   an equal request, and serialising that gives the same bytes (so what
//!   the coordinator signs and forwards is exactly what it validated);
//! - the check type and the parameters agree;
//! - a domain target is the host of every URL built from it, never an IP
//!   address (a name whose last label reads as a number, such as
//!   `127.0x0.0x0.0x1`, would be fetched from an address nobody resolved).

use mpic_core::check::{CheckParameters, CheckRequest, CheckType, RequestError};
use mpic_core::name::Target;

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

    if let Target::Domain { name, .. } = &request.target {
        for scheme in ["http", "https"] {
            let text = format!("{scheme}://{}/.well-known/x", request.target.url_host());
            match url::Url::parse(&text).map(|url| url.host().map(|host| host.to_owned())) {
                Ok(Some(url::Host::Domain(host))) if host == name.as_str() => {}
                other => panic!("domain target {name} gives URL host {other:?}"),
            }
        }
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
