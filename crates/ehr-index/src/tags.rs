//! Search tags: one per distinct keyword of a record, padded with random dummies to a bucket,
//! sorted; and matching a query keyword against a record's list.
//!
//! `tag(w, record) = HMAC-SHA256(K_w, "ehrkit/v1/tag" ‖ digest)[..16]`, where `digest` is the
//! record's on-chain `digest` (the SHA-256 digest of its envelope's CID). The same keyword in
//! two records gives unrelated tags, so a tag says nothing about any other record, past or
//! future: without `K_w` nobody can link records by keyword, and a searcher learns matches
//! only for records it tests with a key it holds.

use std::collections::BTreeSet;
use std::fmt;

use alloy::primitives::{B256, Bytes};
use ehr_crypto::IndexKey;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::keyword::{Keyword, KeywordKey};
use crate::{Error, Result, labels};

/// Length of one tag in bytes.
pub const TAG_LEN: usize = 16;

/// The tag counts a list may have; it is padded to the smallest that fits.
pub const BUCKETS: [usize; 4] = [8, 16, 32, 64];

/// The most distinct keywords one record can be indexed under.
pub const MAX_KEYWORDS: usize = 64;

/// One 16-byte search tag.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub [u8; TAG_LEN]);

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", alloy::hex::encode(self.0))
    }
}

impl KeywordKey {
    /// This keyword's tag for the record whose on-chain digest is `digest`.
    pub fn tag(&self, digest: &B256) -> Tag {
        KeywordTagger::new(self).tag(digest)
    }
}

/// A keyword key made ready to tag many records: the HMAC key schedule and the label are
/// absorbed once, so each record costs only the digest and the finalization.
#[derive(Clone)]
pub struct KeywordTagger(Hmac<Sha256>);

impl KeywordTagger {
    /// Prepares `key`.
    pub fn new(key: &KeywordKey) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(labels::TAG);
        Self(mac)
    }

    /// The keyword's tag for the record whose on-chain digest is `digest`.
    pub fn tag(&self, digest: &B256) -> Tag {
        let mut mac = self.0.clone();
        mac.update(digest.as_slice());
        let out = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&out[..TAG_LEN]);
        Tag(tag)
    }
}

impl fmt::Debug for KeywordTagger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeywordTagger([redacted])")
    }
}

/// The on-chain `digest` of a record stored under `cid`: the SHA-256 digest inside the CID.
pub fn record_digest(cid: &ehr_store::Cid) -> B256 {
    B256::from(*cid.digest())
}

/// The smallest bucket holding `count` tags, if any does.
pub fn bucket_for(count: usize) -> Option<usize> {
    BUCKETS.iter().copied().find(|bucket| *bucket >= count)
}

/// A record's tag list: a bucket's worth of tags, sorted ascending (the event's `tags` bytes
/// are their concatenation).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TagList(Vec<Tag>);

impl TagList {
    /// Builds the list for a record: one tag per distinct keyword, padded with random dummies
    /// from the operating system's CSPRNG.
    ///
    /// More than [`MAX_KEYWORDS`] distinct keywords is [`Error::TooManyKeywords`].
    pub fn build(index_key: &IndexKey, digest: &B256, keywords: &[Keyword]) -> Result<Self> {
        Self::build_with_rng(index_key, digest, keywords, &mut OsRng)
    }

    /// [`TagList::build`] with a caller-supplied random source (test vectors).
    pub fn build_with_rng(
        index_key: &IndexKey,
        digest: &B256,
        keywords: &[Keyword],
        rng: &mut impl RngCore,
    ) -> Result<Self> {
        let distinct: BTreeSet<&Keyword> = keywords.iter().collect();
        let bucket =
            bucket_for(distinct.len()).ok_or(Error::TooManyKeywords { count: distinct.len() })?;
        let mut tags: BTreeSet<Tag> =
            distinct.iter().map(|w| w.key(index_key).tag(digest)).collect();
        // A set, so that a dummy equal to a real tag (or two equal dummies) is drawn again:
        // the list always holds exactly one tag per keyword plus distinct dummies.
        while tags.len() < bucket {
            let mut dummy = [0u8; TAG_LEN];
            rng.try_fill_bytes(&mut dummy).map_err(|_| Error::Randomness)?;
            tags.insert(Tag(dummy));
        }
        Ok(Self(tags.into_iter().collect()))
    }

    /// Parses an event's `tags` bytes: a bucket's worth of 16-byte tags.
    ///
    /// The list is sorted here if it was not (a writer that does not sort leaks which tags are
    /// real, but its tags still match); [`TagList::was_sorted`] tells the caller.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, bool)> {
        let count = bytes.len() / TAG_LEN;
        if !bytes.len().is_multiple_of(TAG_LEN) || !BUCKETS.contains(&count) {
            return Err(Error::InvalidTagList { len: bytes.len() });
        }
        let mut tags: Vec<Tag> = bytes
            .chunks_exact(TAG_LEN)
            .map(|chunk| Tag(chunk.try_into().expect("chunks are TAG_LEN bytes")))
            .collect();
        let sorted = Self::was_sorted(&tags);
        if !sorted {
            tags.sort_unstable();
        }
        Ok((Self(tags), sorted))
    }

    /// Whether `tags` is in ascending order (equal neighbours allowed).
    pub fn was_sorted(tags: &[Tag]) -> bool {
        tags.windows(2).all(|pair| pair[0] <= pair[1])
    }

    /// The tags, ascending.
    pub fn tags(&self) -> &[Tag] {
        &self.0
    }

    /// The number of tags (a bucket size).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list is empty (never, for a list built or parsed here).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The concatenated bytes, as `addRecord` takes them.
    pub fn to_bytes(&self) -> Bytes {
        self.0.iter().flat_map(|tag| tag.0).collect::<Vec<u8>>().into()
    }

    /// Whether `tag` is in the list (binary search).
    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.binary_search(tag).is_ok()
    }

    /// Whether the record whose digest is `digest` carries `keyword` under `keyword_key`.
    pub fn matches(&self, keyword_key: &KeywordKey, digest: &B256) -> bool {
        self.contains(&keyword_key.tag(digest))
    }

    /// [`TagList::matches`] with a prepared key.
    pub fn matches_tagger(&self, tagger: &KeywordTagger, digest: &B256) -> bool {
        self.contains(&tagger.tag(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keywords(words: &[&str]) -> Vec<Keyword> {
        words.iter().map(|w| Keyword::new(w).unwrap()).collect()
    }

    fn index_key(byte: u8) -> IndexKey {
        IndexKey::from_bytes([byte; 32])
    }

    #[test]
    fn lists_are_padded_to_buckets_sorted_and_match() {
        let key = index_key(1);
        let digest = B256::repeat_byte(7);
        for (count, bucket) in [(0, 8), (1, 8), (8, 8), (9, 16), (17, 32), (33, 64), (64, 64)] {
            let words: Vec<String> = (0..count).map(|i| format!("word {i}")).collect();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let list = TagList::build(&key, &digest, &keywords(&words)).unwrap();
            assert_eq!(list.len(), bucket);
            assert!(TagList::was_sorted(list.tags()));
            assert_eq!(TagList::from_bytes(&list.to_bytes()).unwrap(), (list.clone(), true));
            for word in keywords(&words) {
                assert!(list.matches(&word.key(&key), &digest));
            }
            assert!(!list.matches(&Keyword::new("absent").unwrap().key(&key), &digest));
        }
        let words: Vec<String> = (0..65).map(|i| format!("w{i}")).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(matches!(
            TagList::build(&key, &digest, &keywords(&words)),
            Err(Error::TooManyKeywords { count: 65 })
        ));
    }

    #[test]
    fn duplicate_keywords_count_once() {
        let list = TagList::build(
            &index_key(1),
            &B256::ZERO,
            &keywords(&["Lab", "lab", " LAB ", "x1", "x2", "x3", "x4", "x5", "x6", "x7"]),
        )
        .unwrap();
        assert_eq!(list.len(), 8);
    }

    #[test]
    fn bad_lengths_are_refused_and_unsorted_lists_sorted() {
        for len in [0, 16, 7 * 16, 8 * 16 + 1, 128 * 16] {
            assert!(matches!(
                TagList::from_bytes(&vec![0; len]),
                Err(Error::InvalidTagList { .. })
            ));
        }
        let mut bytes = vec![0u8; 8 * 16];
        bytes[0] = 0xff;
        let (list, sorted) = TagList::from_bytes(&bytes).unwrap();
        assert!(!sorted);
        assert_eq!(list.tags().last().unwrap().0[0], 0xff);
    }

    proptest! {
        #[test]
        fn one_keyword_tags_unrelated_across_records(
            digests in proptest::collection::btree_set(any::<[u8; 32]>(), 2..20),
            word in "[a-z]{1,12}",
        ) {
            let key = Keyword::new(&word).unwrap().key(&index_key(3));
            let tags: BTreeSet<Tag> = digests.iter().map(|d| key.tag(&B256::from(*d))).collect();
            prop_assert_eq!(tags.len(), digests.len());
        }

        #[test]
        fn no_match_without_the_right_key(digest in any::<[u8; 32]>(), word in "[a-z]{1,12}") {
            let digest = B256::from(digest);
            let owner = index_key(1);
            let list = TagList::build(&owner, &digest, &keywords(&[&word])).unwrap();
            let keyword = Keyword::new(&word).unwrap();
            prop_assert!(list.matches(&keyword.key(&owner), &digest));
            prop_assert!(!list.matches(&keyword.key(&index_key(2)), &digest));
        }
    }
}
