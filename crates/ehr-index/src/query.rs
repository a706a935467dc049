//! What a search asks for, and matching it against a verified index (the part that needs no
//! chain).

use std::collections::{BTreeSet, HashMap};

use crate::category::Category;
use crate::keyword::Keyword;
use crate::search_keys::SearchKeys;
use crate::tags::KeywordTagger;
use crate::verify::{VerifiedIndex, VerifiedRecord};
use crate::{Error, Result};

/// How a query's keywords combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchMode {
    /// Every keyword must be present (the default).
    #[default]
    All,
    /// At least one keyword must be present.
    Any,
}

/// A search: keywords (normalized), how they combine, and optional filters.
///
/// A query without keywords matches every readable record that passes the filters.
/// Superseded records never match.
#[derive(Debug, Clone, Default)]
pub struct Query {
    keywords: Vec<Keyword>,
    mode: MatchMode,
    category: Option<Category>,
    since: Option<u64>,
    until: Option<u64>,
}

impl Query {
    /// A query for `keywords` (each normalized; duplicates after normalization count once).
    pub fn new<I, S>(keywords: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set: BTreeSet<Keyword> =
            keywords.into_iter().map(|w| Keyword::new(w.as_ref())).collect::<Result<_>>()?;
        Ok(Self { keywords: set.into_iter().collect(), ..Self::default() })
    }

    /// Matches records carrying at least one of the keywords.
    pub fn any(mut self) -> Self {
        self.mode = MatchMode::Any;
        self
    }

    /// Sets how keywords combine.
    pub fn mode(mut self, mode: MatchMode) -> Self {
        self.mode = mode;
        self
    }

    /// Only records of `category`.
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Only records whose block timestamp is at least `timestamp` (Unix seconds).
    pub fn since(mut self, timestamp: u64) -> Self {
        self.since = Some(timestamp);
        self
    }

    /// Only records whose block timestamp is at most `timestamp` (Unix seconds).
    pub fn until(mut self, timestamp: u64) -> Self {
        self.until = Some(timestamp);
        self
    }

    /// The normalized keywords.
    pub fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    /// Whether the query filters on time (and so needs block timestamps).
    pub fn has_time_filter(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether a record written at `timestamp` passes the time filter.
    pub fn in_time_range(&self, timestamp: u64) -> bool {
        self.since.is_none_or(|since| timestamp >= since)
            && self.until.is_none_or(|until| timestamp <= until)
    }

    /// Checks that the filters make sense (`since` ≤ `until`).
    pub fn validate(&self) -> Result<()> {
        match (self.since, self.until) {
            (Some(since), Some(until)) if since > until => {
                Err(Error::InvalidTimeRange { since, until })
            }
            _ => Ok(()),
        }
    }
}

/// The records of a verified index that match a query's keywords and category (time is
/// filtered by the caller, which knows the block timestamps).
#[derive(Debug)]
pub struct KeywordMatches<'a> {
    /// Matching live records, in record order.
    pub records: Vec<&'a VerifiedRecord>,
    /// Live records of the query's category (every category without one) that were examined.
    pub scanned: usize,
    /// Of those, how many the searcher holds no key for.
    pub not_readable: usize,
}

/// The prepared keyword keys of one (epoch, category), or `None` without its keys.
type Taggers = Option<Vec<KeywordTagger>>;

/// Matches `query`'s keywords and category against every live record of `index` that
/// `keys` can read. Keyword keys are derived once per (epoch, category) and prepared for
/// tagging ([`KeywordTagger`]); consecutive records of the same (epoch, category) reuse them
/// without a map lookup, and nothing is allocated per record.
pub fn match_keywords<'a>(
    index: &'a VerifiedIndex,
    keys: &SearchKeys,
    query: &Query,
) -> KeywordMatches<'a> {
    let mut prepared: HashMap<(u64, Category), Taggers> = HashMap::new();
    let mut out = KeywordMatches { records: Vec::new(), scanned: 0, not_readable: 0 };
    let mut current: Option<((u64, Category), Taggers)> = None;
    for record in index.live_records() {
        if query.category.is_some_and(|c| c != record.category) {
            continue;
        }
        out.scanned += 1;
        let slot = (record.epoch, record.category);
        if current.as_ref().is_none_or(|(at, _)| *at != slot) {
            if let Some((at, taggers)) = current.take() {
                prepared.insert(at, taggers);
            }
            let taggers = prepared.remove(&slot).unwrap_or_else(|| {
                keys.category_keys(record.epoch, &record.category).map(|category_keys| {
                    query
                        .keywords
                        .iter()
                        .map(|w| KeywordTagger::new(&w.key(category_keys.index_key())))
                        .collect()
                })
            });
            current = Some((slot, taggers));
        }
        let Some((_, Some(taggers))) = &current else {
            out.not_readable += 1;
            continue;
        };
        let mut hits = taggers.iter().map(|t| record.tags.matches_tagger(t, &record.digest));
        let matched = match (taggers.is_empty(), query.mode) {
            (true, _) => true,
            (false, MatchMode::All) => hits.all(|hit| hit),
            (false, MatchMode::Any) => hits.any(|hit| hit),
        };
        if matched {
            out.records.push(record);
        }
    }
    out
}
