#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn raw_caa_rdata() {
    type Parsed<'a> = Option<(u8, &'a [u8], &'a [u8])>;
    let cases: &[(&[u8], Parsed)] = &[
        (
            b"\x00\x05issueca.example",
            Some((0, b"issue", b"ca.example")),
        ),
        (
            b"\x80\x0ccontactemaila@b.example",
            Some((128, b"contactemail", b"a@b.example")),
        ),
        (b"\x00\x03tag", Some((0, b"tag", b""))),
        (b"\x00\x06tag", None),
        (b"\x00\x00", None),
        (b"\x00", None),
        (b"", None),
    ];
    for (rdata, expected) in cases {
        let parsed = parse_caa_rdata(rdata);
        let expected = expected.map(|(flags, tag, value)| CaaProperty {
            flags,
            tag: tag.to_vec(),
            value: value.to_vec(),
        });
        assert_eq!(parsed, expected, "{rdata:?}");
    }
}
