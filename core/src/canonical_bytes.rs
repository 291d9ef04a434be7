//! The length-prefixed, fixed-order byte strings that this crate signs.
//!
//! Signing serialised JSON would need a canonical JSON form; instead each
//! signed message is: an ASCII magic naming the message type (so bytes signed
//! as one type can never verify as another), a version byte, then fields in a
//! fixed order. Integers are big-endian; variable-length fields carry their
//! length first (one byte for short fixed-bound fields, four bytes otherwise).
//! Decoding is strict: every byte is accounted for, strings are UTF-8, and
//! nothing trails the last field. So each message has exactly one encoding.

/// Builds one signed message.
pub(crate) struct Writer {
    buf: Vec<u8>,
}

/// A field too long for its length prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` is {len} bytes, more than its length prefix can say")]
pub(crate) struct TooLong {
    pub(crate) field: &'static str,
    pub(crate) len: usize,
}

impl Writer {
    pub(crate) fn new(magic: &[u8], version: u8) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(magic);
        buf.push(version);
        Self { buf }
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.buf.extend_from_slice(&value.to_be_bytes());
    }

    /// IEEE 754 binary64 bits, big-endian.
    pub(crate) fn f64(&mut self, value: f64) {
        self.u64(value.to_bits());
    }

    pub(crate) fn fixed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// One length byte, then the bytes.
    pub(crate) fn short_bytes(&mut self, field: &'static str, bytes: &[u8]) -> Result<(), TooLong> {
        let len = u8::try_from(bytes.len()).map_err(|_| TooLong {
            field,
            len: bytes.len(),
        })?;
        self.u8(len);
        self.fixed(bytes);
        Ok(())
    }

    /// Four length bytes, then the bytes.
    pub(crate) fn bytes(&mut self, field: &'static str, bytes: &[u8]) -> Result<(), TooLong> {
        self.count(field, bytes.len())?;
        self.fixed(bytes);
        Ok(())
    }

    /// A four-byte count or length.
    pub(crate) fn count(&mut self, field: &'static str, len: usize) -> Result<(), TooLong> {
        let len = u32::try_from(len).map_err(|_| TooLong { field, len })?;
        self.u32(len);
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Bytes that are not a well-formed message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("does not start with the magic `{0}`")]
    BadMagic(&'static str),
    #[error("ends inside field `{0}`")]
    Truncated(&'static str),
    #[error("field `{0}` is not UTF-8")]
    NotUtf8(&'static str),
    #[error("field `{field}` is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0} bytes after the last field")]
    Trailing(usize),
}

/// Reads one message, field by field, in the order it was written.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the magic; returns the reader and the version byte.
    pub(crate) fn open(
        bytes: &'a [u8],
        magic: &'static [u8],
        magic_name: &'static str,
    ) -> Result<(Self, u8), DecodeError> {
        let rest = bytes
            .strip_prefix(magic)
            .ok_or(DecodeError::BadMagic(magic_name))?;
        let mut reader = Self { rest };
        let version = reader.u8("version")?;
        Ok((reader, version))
    }

    pub(crate) fn fixed<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(DecodeError::Truncated(field))?;
        self.rest = rest;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.fixed::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.fixed(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.fixed(field)?))
    }

    pub(crate) fn f64(&mut self, field: &'static str) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(self.u64(field)?))
    }

    fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.rest.len() {
            return Err(DecodeError::Truncated(field));
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    pub(crate) fn short_bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u8(field)?;
        self.take(field, usize::from(len))
    }

    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.count(field)?;
        self.take(field, len)
    }

    pub(crate) fn string(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes(field)?).map_err(|_| DecodeError::NotUtf8(field))
    }

    /// A four-byte count; callers read that many items, each of which must be
    /// present, so a huge count fails as truncation rather than allocating.
    pub(crate) fn count(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let count = self.u32(field)?;
        usize::try_from(count).map_err(|_| DecodeError::Truncated(field))
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests;
