//! The CID vectors in `tests/vectors/cid/` (at the repository root) and the content
//! generators they name. Shared by ehr-store's own tests and the root package's
//! `tests/store_kubo.rs` (included there by path), so it only uses tokio and serde_json.
#![allow(dead_code)] // each including test uses a different part

use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// The vector file, relative to this file so every including package finds it.
const VECTORS: &str = include_str!("../../../../tests/vectors/cid/kubo-0.41.0.json");

/// One vector: generated content of a size and the CID kubo gives it.
#[derive(Debug, Clone)]
pub(crate) struct Vector {
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) generator: Generator,
    pub(crate) cid: String,
}

/// The content generators named in the vector file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generator {
    /// Every byte 0.
    Zeros,
    /// Byte at offset i is i mod 251.
    Pattern251,
    /// SplitMix64 outputs from the seed, little endian.
    SplitMix64(u64),
}

impl Generator {
    pub(crate) fn parse(text: &str) -> Self {
        match text {
            "zeros" => Self::Zeros,
            "pattern251" => Self::Pattern251,
            _ => {
                let seed = text
                    .strip_prefix("splitmix64:")
                    .unwrap_or_else(|| panic!("unknown generator {text:?}"));
                Self::SplitMix64(seed.parse().expect("a numeric seed"))
            }
        }
    }

    /// Fills `buf` with the content at `offset..offset + buf.len()`.
    pub(crate) fn fill(self, offset: u64, buf: &mut [u8]) {
        match self {
            Self::Zeros => buf.fill(0),
            Self::Pattern251 => {
                // Copy whole periods: fast even in unoptimised test builds.
                let period: Vec<u8> = (0..251u16).map(|b| b as u8).collect();
                let mut phase = (offset % 251) as usize;
                let mut rest = buf;
                while !rest.is_empty() {
                    let take = (251 - phase).min(rest.len());
                    let (head, tail) = rest.split_at_mut(take);
                    head.copy_from_slice(&period[phase..phase + take]);
                    rest = tail;
                    phase = 0;
                }
            }
            Self::SplitMix64(seed) => {
                // SplitMix64 is counter based: output k only depends on seed + (k + 1) * gamma.
                let mut at = offset;
                let mut i = 0;
                while i < buf.len() {
                    let word = splitmix64(seed.wrapping_add((at / 8 + 1).wrapping_mul(GAMMA)));
                    let bytes = word.to_le_bytes();
                    let from = (at % 8) as usize;
                    let take = (8 - from).min(buf.len() - i);
                    buf[i..i + take].copy_from_slice(&bytes[from..from + take]);
                    i += take;
                    at += take as u64;
                }
            }
        }
    }

    /// The first `size` bytes.
    pub(crate) fn bytes(self, size: u64) -> Vec<u8> {
        let mut out = vec![0u8; size as usize];
        self.fill(0, &mut out);
        out
    }

    /// The first `size` bytes as a reader (no buffer of the whole content).
    pub(crate) fn reader(self, size: u64) -> GeneratedReader {
        GeneratedReader { generator: self, offset: 0, size }
    }
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generated content as an `AsyncRead`.
#[derive(Debug)]
pub(crate) struct GeneratedReader {
    generator: Generator,
    offset: u64,
    size: u64,
}

impl AsyncRead for GeneratedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let left = self.size - self.offset;
        let len = (buf.remaining() as u64).min(left).min(1 << 20) as usize;
        let generator = self.generator;
        let offset = self.offset;
        generator.fill(offset, buf.initialize_unfilled_to(len));
        buf.advance(len);
        self.offset += len as u64;
        Poll::Ready(Ok(()))
    }
}

/// Every vector in the file.
pub(crate) fn vectors() -> Vec<Vector> {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).expect("the vector file is JSON");
    doc["vectors"]
        .as_array()
        .expect("a vectors array")
        .iter()
        .map(|v| Vector {
            name: v["name"].as_str().expect("name").to_owned(),
            size: v["size"].as_u64().expect("size"),
            generator: Generator::parse(v["generator"].as_str().expect("generator")),
            cid: v["cid"].as_str().expect("cid").to_owned(),
        })
        .collect()
}
