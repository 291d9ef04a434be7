#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

#[test]
fn parses_common_spellings() {
    let cases = [
        ("ARIN", Rir::Arin),
        ("arin", Rir::Arin),
        ("RIPE NCC", Rir::RipeNcc),
        ("ripe-ncc", Rir::RipeNcc),
        ("RIPE_NCC", Rir::RipeNcc),
        ("ripe", Rir::RipeNcc),
        ("RIPENCC", Rir::RipeNcc),
        ("APNIC", Rir::Apnic),
        ("LACNIC", Rir::Lacnic),
        ("AfriNIC", Rir::Afrinic),
    ];
    for (text, rir) in cases {
        assert_eq!(text.parse::<Rir>(), Ok(rir), "{text}");
    }
    for text in ["", "IANA", "RIPE NCC X", "ncc"] {
        assert_eq!(
            text.parse::<Rir>(),
            Err(UnknownRir(text.to_owned())),
            "{text}"
        );
    }
}

#[test]
fn names_and_codes_round_trip() {
    for rir in Rir::ALL {
        let json = serde_json::to_string(&rir).unwrap();
        assert_eq!(json, format!("\"{}\"", rir.as_str()));
        assert_eq!(serde_json::from_str::<Rir>(&json).unwrap(), rir);
        assert_eq!(rir.to_string().parse::<Rir>(), Ok(rir));
        assert_eq!(Rir::from_code(rir.code()), Some(rir));
    }
    assert_eq!(serde_json::to_string(&Rir::RipeNcc).unwrap(), "\"ripe\"");
    assert_eq!(Rir::from_code(0), None);
    assert_eq!(Rir::from_code(6), None);
}
