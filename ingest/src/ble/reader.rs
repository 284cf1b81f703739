//! A bounds-checked little-endian cursor over a notification's bytes.
//!
//! Every decoder reads through this so that a short frame becomes a
//! [`BleError::Truncated`] naming the field, never an index panic.

use super::BleError;

/// Reads fixed-size fields from the front of a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], BleError> {
        let end = self.pos.checked_add(n).ok_or(BleError::Truncated {
            field,
            needed: n,
            available: self.remaining(),
        })?;
        match self.bytes.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(BleError::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, BleError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, BleError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u16_be(&mut self, field: &'static str) -> Result<u16, BleError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u24(&mut self, field: &'static str) -> Result<u32, BleError> {
        let b = self.take(3, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, BleError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Fails when bytes are left over, for characteristics with a fixed size.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), BleError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(BleError::TooLong { what, extra }),
        }
    }
}

/// Decodes a hex string (upper or lower case, optional spaces, `:` or `-`
/// between bytes) into bytes.
pub fn decode_hex(s: &str) -> Result<Vec<u8>, BleError> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b' ' | b':' | b'-' | b'\t'))
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err(BleError::BadHex(format!(
            "odd number of hex digits in {s:?}"
        )));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = hex_val(pair[0]);
            let lo = hex_val(pair[1]);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok(h << 4 | l),
                _ => Err(BleError::BadHex(format!("not a hex digit in {s:?}"))),
            }
        })
        .collect()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
