//! The domain-separation labels this crate adds to `ehr_crypto::labels` (the key hierarchy's
//! labels live there). Changing any of these is a format version bump.

/// HMAC-SHA256 prefix deriving a keyword key from an index key; the normalized keyword follows.
pub const KEYWORD_KEY: &[u8] = b"ehrkit/v1/keyword";
/// HMAC-SHA256 prefix deriving a record's tag from a keyword key; the record's digest follows.
pub const TAG: &[u8] = b"ehrkit/v1/tag";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_label_is_a_prefix_of_another_across_crates() {
        let mut all: Vec<&[u8]> = ehr_crypto::labels::ALL.to_vec();
        all.extend([KEYWORD_KEY, TAG]);
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                assert!(i == j || !b.starts_with(a), "{a:?} prefixes {b:?}");
            }
            assert!(a.starts_with(b"ehrkit/v1/") || a.starts_with(b"ehrkit/v2/"));
        }
    }
}
