#![doc = include_str!("../README.md")]

pub mod accounts;
mod atomic_file;
pub mod audit;
mod audit_guardians;
pub mod claims;
pub mod consent;
pub mod content;
mod dates;
pub mod deploy;
pub mod devnet;
pub mod emergency;
pub mod emergency_keys;
mod error;
pub mod export;
pub mod fetch;
pub mod guardians;
pub mod journal;
pub mod keys;
mod keystore_file;
mod logs;
pub mod parse;
pub mod pipeline;
pub mod record_keys;
pub mod records;
pub mod relay;
pub mod requests;
pub mod roles;
pub mod rotation;
pub mod search;
mod serde_text;
pub mod session;
pub mod storage;
pub mod time;

pub use ehr_index::grant::NamedScope;
pub use error::{Error, Result};
pub use session::{Chain, Session, SessionConfig, TxInfo, load_deployment};
