//! dag-pb nodes holding UnixFS file metadata: the byte-exact encoding kubo (boxo) writes, and
//! a strict decoder for reading blocks back.
//!
//! Encoding follows the dag-pb spec's canonical form: every link (field 2) before the data
//! (field 1); inside a link Hash (1), Name (2), Tsize (3). boxo always writes the Name, even
//! empty, so an unnamed link carries `12 00`; leaving it out would change every CID.

use crate::Cid;
use crate::varint;
use bytes::Bytes;

/// UnixFS `Data.Type` of a file.
const UNIXFS_FILE: u64 = 2;
/// UnixFS `Data.Type` of raw data (a leaf of an import without raw leaves).
const UNIXFS_RAW: u64 = 0;

/// One child as the parent node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Child {
    /// The child's CID.
    pub(crate) cid: Cid,
    /// Cumulative size of the child's DAG: its block plus everything below (dag-pb Tsize).
    pub(crate) tsize: u64,
    /// File bytes under the child (UnixFS blocksize).
    pub(crate) filesize: u64,
}

/// Encodes a UnixFS File node whose data lives entirely in `children`.
pub(crate) fn encode_file_node(children: &[Child]) -> Vec<u8> {
    let filesize: u64 = children.iter().map(|c| c.filesize).sum();
    let mut unixfs = Vec::with_capacity(4 + 11 * (children.len() + 1));
    unixfs.extend_from_slice(&[0x08, UNIXFS_FILE as u8, 0x18]);
    varint::encode(filesize, &mut unixfs);
    for child in children {
        // proto2 `repeated uint64` without [packed=true]: one key per element.
        unixfs.push(0x20);
        varint::encode(child.filesize, &mut unixfs);
    }

    let mut out = Vec::with_capacity(children.len() * 52 + unixfs.len() + 4);
    for child in children {
        let hash = child.cid.to_bytes();
        let link_len = 2 + hash.len() + 2 + 1 + varint::encoded_len(child.tsize);
        out.push(0x12);
        varint::encode(link_len as u64, &mut out);
        out.push(0x0a);
        varint::encode(hash.len() as u64, &mut out);
        out.extend_from_slice(&hash);
        out.extend_from_slice(&[0x12, 0x00]);
        out.push(0x18);
        varint::encode(child.tsize, &mut out);
    }
    out.push(0x0a);
    varint::encode(unixfs.len() as u64, &mut out);
    out.extend_from_slice(&unixfs);
    out
}

/// A decoded dag-pb node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PbNode {
    /// Links in order.
    pub(crate) links: Vec<Cid>,
    /// The Data field (a UnixFS message here), if present.
    pub(crate) data: Option<Bytes>,
}

/// Decodes a dag-pb block strictly (the spec's rules: only the known fields, links before
/// data, link fields in order, each at most once).
pub(crate) fn decode_node(block: &Bytes) -> Result<PbNode, String> {
    let mut reader = Reader::new(block);
    let mut links = Vec::new();
    let mut data = None;
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        if wire != 2 {
            return Err(format!("dag-pb field {field} has wire type {wire}, not 2"));
        }
        let bytes = reader.len_delimited()?;
        match field {
            2 if data.is_none() => links.push(decode_link(bytes)?),
            2 => return Err("dag-pb Links after Data".to_owned()),
            1 if data.is_none() => {
                let start = bytes.as_ptr() as usize - block.as_ptr() as usize;
                data = Some(block.slice(start..start + bytes.len()));
            }
            1 => return Err("dag-pb Data twice".to_owned()),
            _ => return Err(format!("unknown dag-pb field {field}")),
        }
    }
    Ok(PbNode { links, data })
}

fn decode_link(bytes: &[u8]) -> Result<Cid, String> {
    let mut reader = Reader::new(bytes);
    let mut last_field = 0;
    let mut cid = None;
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        if field <= last_field {
            return Err(format!("dag-pb link field {field} repeated or out of order"));
        }
        last_field = field;
        match (field, wire) {
            (1, 2) => {
                let hash = reader.len_delimited()?;
                cid = Some(Cid::from_bytes(hash).map_err(|e| format!("dag-pb link to {e}"))?);
            }
            (2, 2) => {
                let name = reader.len_delimited()?;
                std::str::from_utf8(name).map_err(|_| "dag-pb link name is not UTF-8")?;
            }
            (3, 0) => {
                reader.varint()?;
            }
            _ => return Err(format!("dag-pb link field {field} with wire type {wire}")),
        }
    }
    cid.ok_or_else(|| "dag-pb link without Hash".to_owned())
}

/// What a readable UnixFS node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileNode {
    /// Bytes stored in the node itself, before the children's.
    pub(crate) data: Bytes,
    /// The declared total size, if any.
    pub(crate) filesize: Option<u64>,
    /// File bytes under each link, in link order.
    pub(crate) blocksizes: Vec<u64>,
}

/// Decodes the UnixFS `Data` message of a file (or raw) node. Unknown fields are skipped as
/// protobuf requires; anything that is not a file (a directory, a symlink...) is refused.
pub(crate) fn decode_unixfs(message: &Bytes) -> Result<FileNode, String> {
    let mut reader = Reader::new(message);
    let mut kind = None;
    let mut data = Bytes::new();
    let mut filesize = None;
    let mut blocksizes = Vec::new();
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        match (field, wire) {
            (1, 0) => kind = Some(reader.varint()?),
            (2, 2) => {
                let bytes = reader.len_delimited()?;
                let start = bytes.as_ptr() as usize - message.as_ptr() as usize;
                data = message.slice(start..start + bytes.len());
            }
            (3, 0) => filesize = Some(reader.varint()?),
            (4, 0) => blocksizes.push(reader.varint()?),
            // Packed encoding is legal protobuf for a repeated scalar, so accept it too.
            (4, 2) => {
                let mut packed = Reader::new(reader.len_delimited()?);
                while !packed.is_empty() {
                    blocksizes.push(packed.varint()?);
                }
            }
            _ => reader.skip(field, wire)?,
        }
    }
    match kind {
        Some(UNIXFS_FILE | UNIXFS_RAW) => Ok(FileNode { data, filesize, blocksizes }),
        Some(1) => Err("a UnixFS directory, not a file".to_owned()),
        Some(5) => Err("a UnixFS HAMT directory, not a file".to_owned()),
        Some(4) => Err("a UnixFS symlink, not a file".to_owned()),
        Some(other) => Err(format!("UnixFS type {other} is not a file")),
        None => Err("UnixFS data without a Type".to_owned()),
    }
}

/// A protobuf wire-format cursor.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let (value, used) =
            varint::decode(self.bytes).map_err(|e| format!("bad protobuf varint: {e:?}"))?;
        self.bytes = &self.bytes[used..];
        Ok(value)
    }

    fn key(&mut self) -> Result<(u64, u64), String> {
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err("protobuf field number 0".to_owned());
        }
        Ok((field, key & 7))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], String> {
        let len = usize::try_from(len).map_err(|_| "protobuf length too large")?;
        if len > self.bytes.len() {
            return Err("protobuf field runs past the end of the block".to_owned());
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()?;
        self.take(len)
    }

    fn skip(&mut self, field: u64, wire: u64) -> Result<(), String> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.len_delimited().map(drop),
            5 => self.take(4).map(drop),
            _ => Err(format!("protobuf field {field} has wire type {wire}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Codec;
    use proptest::prelude::*;

    /// The root block kubo 0.41 writes for 262145 zero bytes
    /// (`ipfs add --cid-version=1 --raw-leaves --chunker=size-262144`), from `ipfs block get`.
    const KUBO_TWO_LEAF_ROOT: &str = "122c0a2401551220\
        8a39d2abd3999ab73c34db2476849cddf303ce389b35826850f9a700589b4a90\
        1200188080\
        10122a0a2401551220\
        6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d\
        120018010a0c08021881801020808010\
        2001";

    fn unhex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn encodes_exactly_like_kubo() {
        let first = Cid::of_block(Codec::Raw, &[0u8; 262_144]);
        let second = Cid::of_block(Codec::Raw, &[0u8; 1]);
        let block = encode_file_node(&[
            Child { cid: first, tsize: 262_144, filesize: 262_144 },
            Child { cid: second, tsize: 1, filesize: 1 },
        ]);
        assert_eq!(block, unhex(KUBO_TWO_LEAF_ROOT));
        assert_eq!(
            Cid::of_block(Codec::DagPb, &block).to_string(),
            "bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki"
        );

        let node = decode_node(&Bytes::from(block)).unwrap();
        assert_eq!(node.links, [first, second]);
        let file = decode_unixfs(node.data.as_ref().unwrap()).unwrap();
        assert_eq!(file.filesize, Some(262_145));
        assert_eq!(file.blocksizes, [262_144, 1]);
        assert!(file.data.is_empty());
    }

    #[test]
    fn decoder_is_strict() {
        let child = Child { cid: Cid::of_block(Codec::Raw, b"x"), tsize: 1, filesize: 1 };
        let good = encode_file_node(&[child]);
        // Data before Links.
        let data_at = good.iter().rposition(|&b| b == 0x0a).unwrap();
        let mut reordered = good[data_at..].to_vec();
        reordered.extend_from_slice(&good[..data_at]);
        assert!(decode_node(&Bytes::from(reordered)).is_err());
        // An unknown field.
        let mut extra = good.clone();
        extra.extend_from_slice(&[0x1a, 0x00]);
        assert!(decode_node(&Bytes::from(extra)).is_err());
        // Truncated.
        assert!(decode_node(&Bytes::from(good[..good.len() - 1].to_vec())).is_err());
        // A directory is not a file.
        assert_eq!(
            decode_unixfs(&Bytes::from_static(&[0x08, 0x01])).unwrap_err(),
            "a UnixFS directory, not a file"
        );
        // Packed blocksizes and inline data are read.
        let file = decode_unixfs(&Bytes::from_static(&[
            0x08, 0x02, 0x12, 0x02, b'h', b'i', 0x18, 0x05, 0x22, 0x02, 0x01, 0x02,
        ]))
        .unwrap();
        assert_eq!(file.data.as_ref(), b"hi");
        assert_eq!(file.blocksizes, [1, 2]);
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes: Vec<u8>) {
            let bytes = Bytes::from(bytes);
            let _ = decode_node(&bytes);
            let _ = decode_unixfs(&bytes);
        }

        #[test]
        fn encode_decode_round_trip(sizes in proptest::collection::vec((1u64..1 << 40, any::<[u8; 32]>()), 1..40)) {
            let children: Vec<Child> = sizes
                .iter()
                .map(|&(size, digest)| Child { cid: Cid::new(Codec::Raw, digest), tsize: size, filesize: size })
                .collect();
            let block = Bytes::from(encode_file_node(&children));
            let node = decode_node(&block).unwrap();
            let cids: Vec<Cid> = children.iter().map(|c| c.cid).collect();
            prop_assert_eq!(node.links, cids);
            let file = decode_unixfs(node.data.as_ref().unwrap()).unwrap();
            prop_assert_eq!(file.filesize, Some(children.iter().map(|c| c.filesize).sum()));
            prop_assert_eq!(file.blocksizes, children.iter().map(|c| c.filesize).collect::<Vec<_>>());
        }
    }
}
