//! RFC 4648 base32, lower case, no padding: the multibase `b` encoding kubo prints CIDv1 in.

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Why a base32 string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base32Error {
    /// A character outside `a-z2-7` (upper case and `=` padding included).
    InvalidChar {
        /// Index in the decoded string.
        position: usize,
        /// The character.
        found: char,
    },
    /// A length no byte string encodes to, or non-zero bits after the last byte: accepting
    /// these would give one byte string several spellings.
    NonCanonical,
}

/// Encodes `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[usize::from((buffer >> bits) & 0x1f)] as char);
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[usize::from((buffer << (5 - bits)) & 0x1f)] as char);
    }
    out
}

/// Decodes a canonical encoding (what [`encode`] produces, nothing else).
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    // 8 characters carry 5 bytes; a tail of 1, 3 or 6 characters cannot end on a byte.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(Base32Error::NonCanonical);
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u16 = 0;
    let mut bits = 0;
    for (position, found) in text.chars().enumerate() {
        let value = match found {
            'a'..='z' => found as u8 - b'a',
            '2'..='7' => found as u8 - b'2' + 26,
            _ => return Err(Base32Error::InvalidChar { position, found }),
        };
        buffer = (buffer << 5) | u16::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err(Base32Error::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 section 10, lower-cased and without padding.
        for (plain, encoded) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn rejects_non_canonical_input() {
        assert_eq!(decode("MZXQ"), Err(Base32Error::InvalidChar { position: 0, found: 'M' }));
        assert_eq!(decode("mzx"), Err(Base32Error::NonCanonical));
        // "mzxr" has a set bit after the two bytes of "fo".
        assert_eq!(decode("mzxr"), Err(Base32Error::NonCanonical));
        assert!(matches!(decode("mzxq===="), Err(Base32Error::InvalidChar { found: '=', .. })));
    }

    proptest! {
        #[test]
        fn round_trip(bytes: Vec<u8>) {
            prop_assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decoding_never_panics(text: String) {
            let _ = decode(&text);
        }
    }
}
