//! Keywords: normalization, and the per-(epoch, category) keyword key that tags derive from.

use std::fmt;

use ehr_crypto::IndexKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result, labels};

/// The longest keyword, in bytes of normalized UTF-8.
pub const MAX_KEYWORD_LEN: usize = 64;

/// Normalizes a keyword so that the writer and every searcher derive the same tag from what a
/// person typed: trim, Unicode NFKC, lowercase, internal whitespace runs collapsed to one
/// space.
///
/// NFKC runs again after lowercasing (a lowercase mapping can leave a string that NFKC would
/// still change), which makes the function idempotent. "Whitespace" and "lowercase" are
/// Unicode's `White_Space` property and default lowercase mapping (Rust's `char`).
///
/// Fails with [`Error::EmptyKeyword`] when nothing is left and [`Error::KeywordTooLong`]
/// beyond [`MAX_KEYWORD_LEN`] bytes.
pub fn normalize_keyword(raw: &str) -> Result<String> {
    let lowered: String = raw.nfkc().collect::<String>().to_lowercase().nfkc().collect();
    let mut normalized = String::with_capacity(lowered.len());
    for word in lowered.split_whitespace() {
        if !normalized.is_empty() {
            normalized.push(' ');
        }
        normalized.push_str(word);
    }
    if normalized.is_empty() {
        return Err(Error::EmptyKeyword);
    }
    if normalized.len() > MAX_KEYWORD_LEN {
        return Err(Error::KeywordTooLong { len: normalized.len() });
    }
    Ok(normalized)
}

/// A normalized keyword. What a patient searches for is sensitive: the text is zeroized on
/// drop and `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Zeroize, ZeroizeOnDrop)]
pub struct Keyword(String);

impl Keyword {
    /// Normalizes `raw` ([`normalize_keyword`]).
    pub fn new(raw: &str) -> Result<Self> {
        normalize_keyword(raw).map(Self)
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `K_w = HMAC-SHA256(K_idx, "ehrkit/v1/keyword" ‖ normalized UTF-8)`.
    pub fn key(&self, index_key: &IndexKey) -> KeywordKey {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(index_key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(labels::KEYWORD_KEY);
        mac.update(self.0.as_bytes());
        KeywordKey(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyword([redacted; {} bytes])", self.0.len())
    }
}

/// `K_w`: the key of one keyword in one (epoch, category). Anyone holding it can test every
/// record of that epoch and category for the keyword, and nothing else. Zeroized on drop;
/// `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeywordKey([u8; 32]);

impl KeywordKey {
    /// The raw key. Handle with care: copies are not zeroized for you.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeywordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeywordKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_case_width_compatibility_and_whitespace() {
        let cases = [
            ("  Blood\t\n  Pressure ", "blood pressure"),
            ("DIABÈTE", "diabète"),
            ("diabe\u{300}te", "diabète"),
            ("ＨｂＡ１ｃ", "hba1c"),
            ("ﬁbrosis", "fibrosis"),
            ("x\u{3000}\u{a0}y", "x y"),
            ("Ⅻ", "xii"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_keyword(raw).unwrap(), expected, "{raw:?}");
        }
    }

    #[test]
    fn empty_and_long_keywords_are_refused() {
        for raw in ["", "   ", "\u{3000}\t"] {
            assert!(matches!(normalize_keyword(raw), Err(Error::EmptyKeyword)));
        }
        assert_eq!(normalize_keyword(&"a".repeat(64)).unwrap().len(), 64);
        assert!(matches!(
            normalize_keyword(&"A".repeat(65)),
            Err(Error::KeywordTooLong { len: 65 })
        ));
        // Counted after normalization: 32 two-byte letters fit, 33 do not.
        assert!(normalize_keyword(&"É".repeat(32)).is_ok());
        assert!(matches!(
            normalize_keyword(&"É".repeat(33)),
            Err(Error::KeywordTooLong { len: 66 })
        ));
    }

    #[test]
    fn debug_hides_the_keyword() {
        let keyword = Keyword::new("hiv").unwrap();
        let key = keyword.key(&IndexKey::from_bytes([1; 32]));
        let printed = format!("{keyword:?} {key:?}");
        assert!(!printed.contains("hiv"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent(raw in "\\PC{0,40}") {
            if let Ok(once) = normalize_keyword(&raw) {
                prop_assert_eq!(normalize_keyword(&once).unwrap(), once);
            }
        }

        #[test]
        fn normalization_is_idempotent_on_any_chars(raw in proptest::collection::vec(any::<char>(), 0..24)) {
            let raw: String = raw.into_iter().collect();
            if let Ok(once) = normalize_keyword(&raw) {
                prop_assert_eq!(normalize_keyword(&once).unwrap(), once);
            }
        }
    }
}
