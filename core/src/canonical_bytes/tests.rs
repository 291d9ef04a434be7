#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

const MAGIC: &[u8] = b"TEST";

fn sample() -> Vec<u8> {
    let mut w = Writer::new(MAGIC, 3);
    w.u64(0x0102_0304_0506_0708);
    w.short_bytes("s", b"ab").unwrap();
    w.bytes("b", "é".as_bytes()).unwrap();
    w.f64(-1.5);
    w.finish()
}

#[test]
fn layout_is_as_documented() {
    let expected: Vec<u8> = [
        &b"TEST"[..],
        &[3],
        &[1, 2, 3, 4, 5, 6, 7, 8],
        &[2, b'a', b'b'],
        &[0, 0, 0, 2, 0xc3, 0xa9],
        &(-1.5f64).to_bits().to_be_bytes(),
    ]
    .concat();
    assert_eq!(sample(), expected);
}

#[test]
fn reads_back_what_was_written() {
    let bytes = sample();
    let (mut r, version) = Reader::open(&bytes, MAGIC, "TEST").unwrap();
    assert_eq!(version, 3);
    assert_eq!(r.u64("n").unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(r.short_bytes("s").unwrap(), b"ab");
    assert_eq!(r.string("b").unwrap(), "é");
    assert_eq!(r.f64("f").unwrap(), -1.5);
    r.finish().unwrap();
}

#[test]
fn refuses_malformed_input() {
    assert_eq!(
        Reader::open(b"TESX\x01", MAGIC, "TEST").err(),
        Some(DecodeError::BadMagic("TEST"))
    );
    assert_eq!(
        Reader::open(b"TEST", MAGIC, "TEST").err(),
        Some(DecodeError::Truncated("version"))
    );

    let (mut r, _) = Reader::open(b"TEST\x01\x00\x00\x00\x05abc", MAGIC, "TEST").unwrap();
    assert_eq!(r.bytes("b"), Err(DecodeError::Truncated("b")));

    let (mut r, _) = Reader::open(b"TEST\x01\x00\x00\x00\x01\xff", MAGIC, "TEST").unwrap();
    assert_eq!(r.string("s"), Err(DecodeError::NotUtf8("s")));

    let (mut r, _) = Reader::open(b"TEST\x01\x07\x08", MAGIC, "TEST").unwrap();
    assert_eq!(r.u8("x").unwrap(), 7);
    assert_eq!(r.finish(), Err(DecodeError::Trailing(1)));
}
