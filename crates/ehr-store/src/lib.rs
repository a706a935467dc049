#![doc = include_str!("../README.md")]

mod balanced;
mod base32;
mod blob_file;
mod cid;
mod config;
mod dag;
mod error;
mod kubo;
mod local;
mod pinning;
mod placement;
mod replicated;
mod source;
mod store;
mod varint;
mod verify;
mod writeback;

pub use balanced::{CHUNK_SIZE, CidHasher, MAX_LINKS, compute_cid};
pub use cid::{Cid, CidParseError, Codec};
pub use config::{
    DEFAULT_FACTOR, DEFAULT_TOKEN_ENV, StoreOptions, StoreUrl, StoreUrlError, open_store,
};
pub use error::{Error, Result};
pub use kubo::KuboStore;
pub use local::{GcReport, LocalStore};
pub use pinning::{Pin, PinState, PinStatus, PinningOptions, PinningServiceStore};
pub use placement::{Holding, NodeFailure, NodeHolding, Placement, Repair};
pub use replicated::ReplicatedStore;
pub use source::BlobSource;
pub use store::{BlobStore, BlobStoreExt, ByteStream, DEFAULT_MAX_BLOB_SIZE, ProviderNode};
