#![doc = include_str!("../README.md")]

pub mod accumulator;
pub mod cache;
mod cache_file;
mod category;
mod error;
pub mod grant;
mod grant_events;
mod keyword;
pub mod labels;
mod logs;
pub mod master_secret;
mod query;
mod search;
mod search_keys;
mod tags;
pub mod verify;

pub use accumulator::{EntryBody, IndexEntry, LogPosition, accumulate};
pub use cache::{CachePlan, CachedIndex, IndexCache};
pub use category::{Category, category_name_bytes};
pub use error::{Error, Result};
pub use grant_events::{GranteeKeys, KeyEvent, UnreadableGrant, key_chain_link};
pub use keyword::{Keyword, KeywordKey, MAX_KEYWORD_LEN, normalize_keyword};
pub use logs::FetchOptions;
pub use master_secret::{
    derive_master_secret, master_secret_from_signature, master_secret_from_wallet_signature,
};
pub use query::{KeywordMatches, MatchMode, Query, match_keywords};
pub use search::{IndexClient, SearchHit, SearchResults};
pub use search_keys::SearchKeys;
pub use tags::{
    BUCKETS, KeywordTagger, MAX_KEYWORDS, TAG_LEN, Tag, TagList, bucket_for, record_digest,
};
pub use verify::{
    Anomaly, IndexState, VerifiedIndex, VerifiedRecord, Verifier, extend_verified, verify_chain,
    verify_patient_chain,
};

pub use ehr_crypto::{
    CategoryKeys, CategoryNamingKey, EpochKey, GrantKeys, GrantScope, IndexKey, MasterSecret,
};
