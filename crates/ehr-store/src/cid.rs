//! CIDv1 with a sha2-256 multihash: the only kind of content address this crate makes or
//! accepts. Printed as multibase base32 lower (`b...`), like kubo prints CIDv1.

use crate::base32::{self, Base32Error};
use crate::varint::{self, VarintError};
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Multicodec of a raw block (a leaf: the bytes themselves).
const RAW_CODE: u64 = 0x55;
/// Multicodec of a dag-pb block (a UnixFS node with links).
const DAG_PB_CODE: u64 = 0x70;
/// Multihash code of sha2-256.
const SHA2_256_CODE: u64 = 0x12;
/// Length of a sha2-256 digest.
const DIGEST_LEN: usize = 32;
/// Length of a binary CID: version, codec, hash code, digest length (one byte each), digest.
pub(crate) const BINARY_LEN: usize = 4 + DIGEST_LEN;
/// Longest CID string looked at; real ones are 59 characters. Stops huge inputs early.
const MAX_TEXT_LEN: usize = 128;

/// What a block's bytes are: the codec part of a CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Codec {
    /// `raw` (0x55): the block is file data, a leaf.
    Raw,
    /// `dag-pb` (0x70): the block is a protobuf node linking to other blocks.
    DagPb,
}

impl Codec {
    /// The multicodec number.
    pub fn code(self) -> u64 {
        match self {
            Codec::Raw => RAW_CODE,
            Codec::DagPb => DAG_PB_CODE,
        }
    }
}

/// A content identifier: CIDv1, codec raw or dag-pb, sha2-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    codec: Codec,
    digest: [u8; DIGEST_LEN],
}

impl Cid {
    /// A CID from its parts.
    pub const fn new(codec: Codec, digest: [u8; 32]) -> Self {
        Self { codec, digest }
    }

    /// The CID of `block` stored with `codec`.
    pub fn of_block(codec: Codec, block: &[u8]) -> Self {
        Self::new(codec, Sha256::digest(block).into())
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The sha2-256 digest of the block.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// Whether `block` is the block this CID names (its sha2-256 digest matches).
    pub fn matches(&self, block: &[u8]) -> bool {
        Sha256::digest(block)[..] == self.digest[..]
    }

    /// The binary form (36 bytes), as it appears inside dag-pb links.
    pub fn to_bytes(&self) -> [u8; BINARY_LEN] {
        let mut out = [0u8; BINARY_LEN];
        // Every number here is below 0x80, so each varint is one byte.
        out[0] = 1;
        out[1] = self.codec.code() as u8;
        out[2] = SHA2_256_CODE as u8;
        out[3] = DIGEST_LEN as u8;
        out[4..].copy_from_slice(&self.digest);
        out
    }

    /// Parses the binary form strictly (no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        parse_binary(bytes).map_err(|reason| Error::InvalidCid {
            input: format!("0x{}", hex_prefix(bytes)),
            reason,
        })
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", base32::encode(&self.to_bytes()))
    }
}

impl fmt::Debug for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cid({self})")
    }
}

impl FromStr for Cid {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        parse_text(text).map_err(|reason| Error::InvalidCid {
            input: text.chars().take(MAX_TEXT_LEN).collect(),
            reason,
        })
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a string or byte string is not a CID this crate accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CidParseError {
    /// The input is empty.
    Empty,
    /// Longer than any CID this crate accepts.
    TooLong {
        /// The input's length in bytes.
        len: usize,
    },
    /// A CIDv0 (`Qm...`, base58): this crate only uses CIDv1.
    CidV0,
    /// The multibase prefix is not `b` (base32 lower).
    UnsupportedMultibase {
        /// The prefix character found.
        prefix: char,
    },
    /// A character that is not base32 lower (`a-z2-7`).
    InvalidBase32 {
        /// Position in the string, counting the multibase prefix.
        position: usize,
        /// The character.
        found: char,
    },
    /// Base32 whose length or final bits do not come from encoding bytes.
    NonCanonicalBase32,
    /// The bytes end before the CID does.
    Truncated,
    /// A varint that is too long or not minimally encoded.
    InvalidVarint,
    /// A CID version other than 1.
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// A codec other than raw (0x55) or dag-pb (0x70).
    UnsupportedCodec {
        /// The multicodec found.
        codec: u64,
    },
    /// A multihash other than sha2-256 (0x12).
    UnsupportedHash {
        /// The multihash code found.
        code: u64,
    },
    /// A sha2-256 multihash whose digest length is not 32.
    DigestLength {
        /// The length declared.
        len: u64,
    },
    /// Bytes after the digest.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for CidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty"),
            Self::TooLong { len } => write!(f, "{len} bytes is too long for a CID"),
            Self::CidV0 => write!(f, "a CIDv0 (Qm...); only CIDv1 (b...) is accepted"),
            Self::UnsupportedMultibase { prefix } => write!(
                f,
                "multibase prefix {prefix:?} is not supported; only base32 lower (b...) is"
            ),
            Self::InvalidBase32 { position, found } => {
                write!(f, "{found:?} at position {position} is not base32 lower")
            }
            Self::NonCanonicalBase32 => write!(f, "not canonical base32 (length or final bits)"),
            Self::Truncated => write!(f, "truncated"),
            Self::InvalidVarint => write!(f, "a varint is too long or not minimally encoded"),
            Self::UnsupportedVersion { version } => {
                write!(f, "CID version {version} is not supported; only 1 is")
            }
            Self::UnsupportedCodec { codec } => write!(
                f,
                "codec {codec:#x} is not supported; only raw (0x55) and dag-pb (0x70) are"
            ),
            Self::UnsupportedHash { code } => {
                write!(f, "multihash {code:#x} is not supported; only sha2-256 (0x12) is")
            }
            Self::DigestLength { len } => {
                write!(f, "a sha2-256 digest is 32 bytes, not {len}")
            }
            Self::TrailingBytes { count } => write!(f, "{count} bytes after the digest"),
        }
    }
}

fn parse_text(text: &str) -> std::result::Result<Cid, CidParseError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(CidParseError::TooLong { len: text.len() });
    }
    let mut chars = text.chars();
    match chars.next() {
        None => Err(CidParseError::Empty),
        Some('b') => {
            let bytes = base32::decode(chars.as_str()).map_err(|e| match e {
                Base32Error::InvalidChar { position, found } => {
                    CidParseError::InvalidBase32 { position: position + 1, found }
                }
                Base32Error::NonCanonical => CidParseError::NonCanonicalBase32,
            })?;
            if bytes.is_empty() {
                return Err(CidParseError::Truncated);
            }
            parse_binary(&bytes)
        }
        // A base58 sha2-256 multihash always starts "Qm" and is 46 characters long.
        Some('Q') if text.len() == 46 && text.starts_with("Qm") => Err(CidParseError::CidV0),
        Some(prefix) => Err(CidParseError::UnsupportedMultibase { prefix }),
    }
}

fn parse_binary(bytes: &[u8]) -> std::result::Result<Cid, CidParseError> {
    if bytes.is_empty() {
        return Err(CidParseError::Empty);
    }
    if bytes.len() > MAX_TEXT_LEN {
        return Err(CidParseError::TooLong { len: bytes.len() });
    }
    // A binary CIDv0 is a bare sha2-256 multihash: 0x12 0x20 + digest.
    if bytes.len() == 34 && bytes[0] == 0x12 && bytes[1] == 0x20 {
        return Err(CidParseError::CidV0);
    }
    let mut rest = bytes;
    let mut next = || -> std::result::Result<u64, CidParseError> {
        let (value, used) = varint::decode_minimal(rest).map_err(|e| match e {
            VarintError::Truncated => CidParseError::Truncated,
            VarintError::Overflow | VarintError::NonMinimal => CidParseError::InvalidVarint,
        })?;
        rest = &rest[used..];
        Ok(value)
    };
    let version = next()?;
    if version != 1 {
        return Err(CidParseError::UnsupportedVersion { version });
    }
    let codec = match next()? {
        RAW_CODE => Codec::Raw,
        DAG_PB_CODE => Codec::DagPb,
        codec => return Err(CidParseError::UnsupportedCodec { codec }),
    };
    let code = next()?;
    if code != SHA2_256_CODE {
        return Err(CidParseError::UnsupportedHash { code });
    }
    let len = next()?;
    if len != DIGEST_LEN as u64 {
        return Err(CidParseError::DigestLength { len });
    }
    if rest.len() < DIGEST_LEN {
        return Err(CidParseError::Truncated);
    }
    if rest.len() > DIGEST_LEN {
        return Err(CidParseError::TrailingBytes { count: rest.len() - DIGEST_LEN });
    }
    let mut digest = [0u8; DIGEST_LEN];
    digest.copy_from_slice(rest);
    Ok(Cid::new(codec, digest))
}

/// The first bytes in hex, for error messages about binary CIDs.
fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(MAX_TEXT_LEN).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(text: &str) -> CidParseError {
        match text.parse::<Cid>() {
            Err(Error::InvalidCid { reason, .. }) => reason,
            other => panic!("{text:?} parsed to {other:?}"),
        }
    }

    #[test]
    fn known_cids() {
        // kubo: `printf '' | ipfs add --cid-version=1 --raw-leaves` and `printf a | ...`.
        let empty: Cid =
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku".parse().unwrap();
        assert_eq!(empty, Cid::of_block(Codec::Raw, b""));
        let a: Cid = "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm".parse().unwrap();
        assert_eq!(a, Cid::of_block(Codec::Raw, b"a"));
        assert!(a.matches(b"a"));
        assert!(!a.matches(b"b"));
        let node: Cid =
            "bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki".parse().unwrap();
        assert_eq!(node.codec(), Codec::DagPb);
        assert_eq!(node.to_string(), "bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki");
        assert_eq!(Cid::from_bytes(&node.to_bytes()).unwrap(), node);
    }

    #[test]
    fn specific_parse_errors() {
        let good = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
        assert_eq!(reason(""), CidParseError::Empty);
        assert_eq!(reason("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"), CidParseError::CidV0);
        assert_eq!(
            reason(&good.to_uppercase()),
            CidParseError::UnsupportedMultibase { prefix: 'B' }
        );
        assert_eq!(
            reason("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA"),
            CidParseError::UnsupportedMultibase { prefix: 'z' }
        );
        assert_eq!(
            reason(&good.replacen('w', "1", 1)),
            CidParseError::InvalidBase32 { position: 9, found: '1' }
        );
        assert_eq!(reason(&good[..good.len() - 1]), CidParseError::NonCanonicalBase32);
        assert_eq!(reason("b"), CidParseError::Truncated);
        assert_eq!(reason(&"b".repeat(200)), CidParseError::TooLong { len: 200 });

        let binary = Cid::of_block(Codec::Raw, b"x").to_bytes();
        let text = |bytes: &[u8]| format!("b{}", base32::encode(bytes));
        let mut v2 = binary;
        v2[0] = 2;
        assert_eq!(reason(&text(&v2)), CidParseError::UnsupportedVersion { version: 2 });
        let mut cbor = binary;
        cbor[1] = 0x71;
        assert_eq!(reason(&text(&cbor)), CidParseError::UnsupportedCodec { codec: 0x71 });
        let mut blake = binary;
        blake[2] = 0x1e;
        assert_eq!(reason(&text(&blake)), CidParseError::UnsupportedHash { code: 0x1e });
        let mut short = binary;
        short[3] = 20;
        assert_eq!(reason(&text(&short)), CidParseError::DigestLength { len: 20 });
        assert_eq!(reason(&text(&binary[..30])), CidParseError::Truncated);
        let mut long = binary.to_vec();
        long.push(0);
        assert_eq!(reason(&text(&long)), CidParseError::TrailingBytes { count: 1 });
        let non_minimal = [0x81, 0x00, 0x55, 0x12, 0x20];
        assert_eq!(reason(&text(&non_minimal)), CidParseError::InvalidVarint);
        let mut v0 = vec![0x12, 0x20];
        v0.extend_from_slice(&[7; 32]);
        assert!(matches!(
            Cid::from_bytes(&v0),
            Err(Error::InvalidCid { reason: CidParseError::CidV0, .. })
        ));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let cid = Cid::of_block(Codec::DagPb, b"node");
        let json = serde_json::to_string(&cid).unwrap();
        assert_eq!(json, format!("\"{cid}\""));
        assert_eq!(serde_json::from_str::<Cid>(&json).unwrap(), cid);
        assert!(serde_json::from_str::<Cid>("\"bafy\"").is_err());
    }

    fn any_cid() -> impl Strategy<Value = Cid> {
        (any::<bool>(), any::<[u8; 32]>())
            .prop_map(|(raw, digest)| Cid::new(if raw { Codec::Raw } else { Codec::DagPb }, digest))
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(cid in any_cid()) {
            let text = cid.to_string();
            prop_assert_eq!(text.len(), 59);
            prop_assert!(text.starts_with("bafk") || text.starts_with("bafy"));
            prop_assert_eq!(text.parse::<Cid>().unwrap(), cid);
            prop_assert_eq!(Cid::from_bytes(&cid.to_bytes()).unwrap(), cid);
        }

        #[test]
        fn parsing_arbitrary_strings_never_panics(text in ".{0,80}") {
            let _ = text.parse::<Cid>();
        }

        #[test]
        fn parsing_arbitrary_base32_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            let text = format!("b{}", base32::encode(&bytes));
            match text.parse::<Cid>() {
                Ok(cid) => {
                    let binary = cid.to_bytes();
                    prop_assert_eq!(binary.as_slice(), bytes.as_slice());
                }
                Err(Error::InvalidCid { .. }) => {}
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
            let _ = Cid::from_bytes(&bytes);
        }

        #[test]
        fn a_changed_character_is_rejected_or_another_cid(cid in any_cid(), at in 1usize..59, ch in "[a-z2-7A-Z0-9=]") {
            let mut text = cid.to_string();
            text.replace_range(at..at + 1, &ch);
            if let Ok(other) = text.parse::<Cid>() {
                prop_assert_eq!(other.to_string(), text);
            }
        }
    }
}
