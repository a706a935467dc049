//! Unsigned LEB128 varints: the multiformats flavour inside CIDs (minimal, at most 9 bytes)
//! and the protobuf flavour inside dag-pb and UnixFS messages.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More bytes than the flavour allows, or a value above `u64::MAX`.
    Overflow,
    /// A longer encoding than needed (multiformats forbids it so every value has one form).
    NonMinimal,
}

/// Appends `value` as a varint.
pub(crate) fn encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes [`encode`] writes for `value`.
pub(crate) fn encoded_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Reads a protobuf varint (up to 10 bytes); returns the value and the bytes consumed.
pub(crate) fn decode(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    decode_with(bytes, 10)
}

/// Reads a multiformats unsigned varint: at most 9 bytes and minimally encoded.
pub(crate) fn decode_minimal(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let (value, used) = decode_with(bytes, 9)?;
    if used != encoded_len(value) {
        return Err(VarintError::NonMinimal);
    }
    Ok((value, used))
}

fn decode_with(bytes: &[u8], max_len: usize) -> Result<(u64, usize), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if i >= max_len {
            return Err(VarintError::Overflow);
        }
        let part = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        // The tenth byte may only carry the one remaining bit of a u64.
        if shift == 63 && part > 1 {
            return Err(VarintError::Overflow);
        }
        value |= part << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        encode(262_144, &mut out);
        assert_eq!(out, [0x80, 0x80, 0x10]);
        out.clear();
        encode(0, &mut out);
        assert_eq!(out, [0]);
        assert_eq!(decode(&[0x80, 0x80, 0x10]), Ok((262_144, 3)));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(decode_minimal(&[0x81, 0x00]), Err(VarintError::NonMinimal));
        assert_eq!(decode(&[0xff; 11]), Err(VarintError::Overflow));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(decode(&max), Ok((u64::MAX, 10)));
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(decode(&too_big), Err(VarintError::Overflow));
        assert_eq!(decode_minimal(&max), Err(VarintError::Overflow));
    }

    proptest! {
        #[test]
        fn round_trip(value: u64) {
            let mut out = Vec::new();
            encode(value, &mut out);
            prop_assert_eq!(out.len(), encoded_len(value));
            prop_assert_eq!(decode(&out), Ok((value, out.len())));
            if out.len() <= 9 {
                prop_assert_eq!(decode_minimal(&out), Ok((value, out.len())));
            }
        }

        #[test]
        fn decoding_never_panics(bytes: Vec<u8>) {
            let _ = decode(&bytes);
            let _ = decode_minimal(&bytes);
        }
    }
}
