//! Reads a fuzz input as a stream of small decisions.
//!
//! Structured targets (CAA evaluation, redirects) decode their bytes with
//! [`Input`] in a fixed, documented order, so seeds can be written by hand
//! and libFuzzer's mutations map to meaningful changes. An exhausted input
//! reads as zeros, so every byte string is a valid input.

/// A cursor over the fuzz input.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next byte, or 0 at the end.
    pub fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&first, rest)) => {
                self.rest = rest;
                first
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// Up to `len` bytes (fewer at the end).
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        head
    }

    /// A length byte, then that many bytes.
    pub fn short_bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.byte());
        self.bytes(len)
    }

    /// An element of `table` chosen by the next byte.
    pub fn pick<'t, T>(&mut self, table: &'t [T]) -> &'t T {
        &table[usize::from(self.byte()) % table.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_order_and_zeros_at_the_end() {
        let mut input = Input::new(&[1, 2, 3, 2, b'a', b'b', b'c']);
        assert_eq!(input.byte(), 1);
        assert_eq!(input.u16(), 0x0203);
        assert_eq!(input.short_bytes(), b"ab");
        assert_eq!(input.bytes(5), b"c");
        assert!(input.is_empty());
        assert_eq!(input.byte(), 0);
        assert_eq!(input.short_bytes(), b"");
    }
}
