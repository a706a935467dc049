//! Size padding: every envelope's total length is a Padmé value.
//!
//! Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and Communication
//! with PURBs", PETS 2019) rounds a length `L` up so that only its top `⌊log2 ⌊log2 L⌋⌋ + 1`
//! bits may be non-zero:
//!
//! ```text
//! E = ⌊log2 L⌋,  S = ⌊log2 E⌋ + 1,  mask = 2^(E−S) − 1,  padme(L) = (L + mask) & !mask
//! ```
//!
//! A stored size then reveals `O(log log L)` bits, at a cost of at most 11.1% (in practice
//! ≤ 12%) extra bytes.
//!
//! The bucket is applied to the *whole envelope* (header + chunks + tags), so what a storage
//! node sees is exactly a Padmé value. The padding itself lives inside the encrypted chunks
//! (see `docs/envelope.md`), which makes the stream length `S` (plaintext + marker + zeros)
//! the free variable. With chunk size `C` and header length `H` the envelope length is
//!
//! ```text
//! envelope(S) = H + S + 16·⌈S/C⌉        (S ≥ 1)
//! ```
//!
//! which skips 16 values at every chunk boundary (adding one byte past `k·C` adds a whole new
//! tag). The canonical padded length is therefore the smallest Padmé value `≥ envelope(L + 1)`
//! that `envelope` can reach. For power-of-two chunk sizes the search moves past an
//! unreachable bucket within a few steps (see the `search_is_short` test); it is capped anyway.

use crate::{Error, Result};

/// AES-GCM tag bytes added to every chunk.
const TAG: u64 = 16;

/// Cap on unreachable buckets skipped; never hit for power-of-two chunk sizes.
const MAX_SEARCH: usize = 64;

/// The Padmé bucket for `len`: the smallest value `≥ len` whose binary form has only its top
/// `⌊log2 ⌊log2 len⌋⌋ + 1` bits set. `None` if the bucket does not fit in a `u64`.
pub fn padme(len: u64) -> Option<u64> {
    if len < 2 {
        return Some(len);
    }
    let e = len.ilog2();
    let s = e.ilog2() + 1;
    let mask = (1u64 << (e - s)) - 1;
    Some(len.checked_add(mask)? & !mask)
}

/// Total envelope length for a header of `header_len` bytes, `chunk_size`-byte chunks and a
/// `plaintext_len`-byte record: the stored size, always a Padmé value.
pub fn padded_envelope_len(header_len: u64, chunk_size: u64, plaintext_len: u64) -> Result<u64> {
    let stream = padded_stream_len(header_len, chunk_size, plaintext_len)?;
    envelope_len(header_len, chunk_size, stream).ok_or(Error::TooLarge)
}

/// Length of the padded plaintext stream (record ‖ 0x80 ‖ zeros) for a record, chosen so that
/// the envelope length is the smallest reachable Padmé value.
pub(crate) fn padded_stream_len(
    header_len: u64,
    chunk_size: u64,
    plaintext_len: u64,
) -> Result<u64> {
    search(header_len, chunk_size, plaintext_len).map(|(stream, _)| stream)
}

fn search(header_len: u64, chunk_size: u64, plaintext_len: u64) -> Result<(u64, usize)> {
    let shortest = plaintext_len.checked_add(1).ok_or(Error::TooLarge)?;
    let minimum = envelope_len(header_len, chunk_size, shortest).ok_or(Error::TooLarge)?;
    let mut target = padme(minimum).ok_or(Error::TooLarge)?;
    for skipped in 0..MAX_SEARCH {
        if let Some(stream) = stream_len(header_len, chunk_size, target) {
            return Ok((stream, skipped));
        }
        target = target.checked_add(1).and_then(padme).ok_or(Error::TooLarge)?;
    }
    Err(Error::TooLarge)
}

/// Plaintext lengths the final chunk can have if it is the chunk starting at stream offset
/// `start`, in increasing order: the reachable Padmé values whose stream ends in that chunk.
/// Every one of them is the canonical length of some record (the one needing no padding).
pub(crate) fn final_chunk_lens(header_len: u64, chunk_size: u64, start: u64) -> Vec<u64> {
    let mut lens = Vec::new();
    let (Some(lowest), Some(highest)) = (
        envelope_len(header_len, chunk_size, start + 1),
        envelope_len(header_len, chunk_size, start + chunk_size),
    ) else {
        return lens;
    };
    let mut target = padme(lowest);
    while let Some(value) = target.filter(|&v| v <= highest) {
        if let Some(stream) = stream_len(header_len, chunk_size, value) {
            lens.push(stream - start);
        }
        target = value.checked_add(1).and_then(padme);
    }
    lens
}

/// Envelope length for a padded stream of `stream` bytes, or `None` on overflow or when the
/// stream would need more chunks than the 32-bit STREAM counter allows.
pub(crate) fn envelope_len(header_len: u64, chunk_size: u64, stream: u64) -> Option<u64> {
    let chunks = stream.div_ceil(chunk_size);
    // Positions 0..u32::MAX: the writer never uses the last counter value.
    if chunks > u64::from(u32::MAX) {
        return None;
    }
    header_len.checked_add(stream)?.checked_add(chunks.checked_mul(TAG)?)
}

/// Inverse of [`envelope_len`]: the stream length giving exactly `envelope` bytes, if any.
fn stream_len(header_len: u64, chunk_size: u64, envelope: u64) -> Option<u64> {
    let body = envelope.checked_sub(header_len)?;
    // Smallest body: one chunk with one byte (the padding marker) and its tag.
    let past_first = body.checked_sub(TAG + 1)?;
    let full_chunks = past_first / (chunk_size + TAG);
    let last = past_first % (chunk_size + TAG) + 1;
    if last > chunk_size {
        return None;
    }
    let stream = full_chunks * chunk_size + last;
    (envelope_len(header_len, chunk_size, stream)? == envelope).then_some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn padme_known_values() {
        // Values worked by hand from the paper's definition.
        let cases = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (7, 7),
            (8, 8),
            (9, 10),
            (10, 10),
            (11, 12),
            (100, 104),
            (1000, 1024),
            (1024, 1024),
            (1025, 1088),
            (65_537, 67_584),
            (1_000_000, 1_015_808),
            (1 << 30, 1 << 30),
            ((1 << 30) + 1, (1 << 30) + (1 << 25)),
        ];
        for (len, bucket) in cases {
            assert_eq!(padme(len), Some(bucket), "padme({len})");
        }
        assert_eq!(padme(u64::MAX), None);
    }

    #[test]
    fn tiny_envelope_lengths() {
        // H = 100, C = 4096: 0-byte record → stream 1 → 100 + 1 + 16 = 117 → padme 120.
        assert_eq!(padded_envelope_len(100, 4096, 0).unwrap(), 120);
        assert_eq!(padded_stream_len(100, 4096, 0).unwrap(), 4);
    }

    #[test]
    fn unreachable_bucket_is_skipped() {
        // H = 0, C = 4096: envelope 4128 = 4096 + 32 would need a 2-chunk stream of 4096
        // bytes, which only costs one tag; 4112..4128 is unreachable.
        assert_eq!(stream_len(0, 4096, 4112), Some(4096));
        for e in 4113..=4128 {
            assert_eq!(stream_len(0, 4096, e), None, "{e}");
        }
        assert_eq!(stream_len(0, 4096, 4129), Some(4097));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn padme_is_a_bucket_above_len(len in 0u64..(1 << 62)) {
            let b = padme(len).unwrap();
            prop_assert!(b >= len);
            prop_assert_eq!(padme(b), Some(b));
            if len >= 256 {
                // At most 12% overhead (the paper's bound is 11.1%).
                prop_assert!(u128::from(b - len) * 100 <= u128::from(len) * 12);
            }
            // The low E − S bits are cleared.
            if len >= 2 {
                let e = len.ilog2();
                prop_assert!(b.trailing_zeros() >= e - (e.ilog2() + 1));
            }
        }

        #[test]
        fn padme_is_monotone(a in 0u64..(1 << 50), d in 0u64..(1 << 20)) {
            prop_assert!(padme(a).unwrap() <= padme(a + d).unwrap());
        }

        #[test]
        fn envelope_lands_on_a_bucket(
            header in 150u64..12_000,
            log_chunk in 12u32..=22,
            len in prop_oneof![0u64..70_000, 0u64..(1 << 34)],
        ) {
            let chunk = 1u64 << log_chunk;
            let stream = padded_stream_len(header, chunk, len).unwrap();
            prop_assert!(stream > len);
            let total = envelope_len(header, chunk, stream).unwrap();
            prop_assert_eq!(padme(total), Some(total));
            prop_assert_eq!(padded_envelope_len(header, chunk, len).unwrap(), total);
            // Smallest: no shorter stream ≥ len + 1 reaches a Padmé value.
            let minimum = envelope_len(header, chunk, len + 1).unwrap();
            prop_assert!(total >= minimum);
            prop_assert!((total - minimum) * 100 <= minimum * 25);
        }

        #[test]
        fn search_is_short(
            header in 150u64..12_000,
            log_chunk in 12u32..=22,
            len in 0u64..(1 << 40),
        ) {
            let (_, skipped) = search(header, 1 << log_chunk, len).unwrap();
            prop_assert!(skipped <= 16, "skipped {} buckets", skipped);
        }

        #[test]
        fn stream_len_inverts_envelope_len(
            header in 0u64..12_000,
            log_chunk in 12u32..=22,
            stream in 1u64..(1 << 36),
        ) {
            let chunk = 1u64 << log_chunk;
            let total = envelope_len(header, chunk, stream).unwrap();
            prop_assert_eq!(stream_len(header, chunk, total), Some(stream));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn final_chunk_lens_are_exactly_the_canonical_ones(
            header in 150u64..6_000,
            chunk_index in prop_oneof![0u64..4, 0u64..100_000],
        ) {
            let chunk = 4096;
            let start = chunk_index * chunk;
            let mut brute = Vec::new();
            for record_in_chunk in 0..chunk {
                let stream = padded_stream_len(header, chunk, start + record_in_chunk).unwrap();
                if stream - start <= chunk && brute.last() != Some(&(stream - start)) {
                    brute.push(stream - start);
                }
            }
            prop_assert_eq!(final_chunk_lens(header, chunk, start), brute);
        }
    }
}
