//! The keys a searcher holds: the patient's master secret, or what grants handed a grantee.

use std::collections::BTreeMap;
use std::fmt;

use alloy::primitives::B256;
use ehr_crypto::{CategoryKeys, DataKey, EpochKey, GrantKeys, MasterSecret};

use crate::category::Category;

/// What a searcher can derive keys from.
///
/// The patient holds its [`MasterSecret`] and so every epoch's keys. A grantee holds, per
/// epoch, an epoch key (All grants) or some categories' keys (Category grants), unwrapped from
/// the consent registry's events ([`crate::grant`]); and record data keys from Record grants,
/// which open envelopes but cannot search. Records of an (epoch, category) the searcher has
/// no key for are skipped by a search and counted as not readable.
///
/// Every key zeroizes on drop; `Debug` shows only what kinds of keys are held.
#[derive(Clone, Default)]
pub struct SearchKeys {
    /// The patient's master secrets, each with the first epoch it covers, ascending.
    masters: Vec<(u64, MasterSecret)>,
    epochs: BTreeMap<u64, EpochKey>,
    categories: BTreeMap<(u64, B256), CategoryKeys>,
    records: BTreeMap<u64, DataKey>,
}

impl SearchKeys {
    /// The patient's keys: everything, in every epoch.
    pub fn patient(master: MasterSecret) -> Self {
        Self::patient_generations(vec![(0, master)])
    }

    /// The patient's keys over several key generations: each master secret with the first
    /// epoch whose keys derive from it (the consent registry's `generationOf`).
    pub fn patient_generations(mut masters: Vec<(u64, MasterSecret)>) -> Self {
        masters.sort_by_key(|(start, _)| *start);
        Self { masters, ..Self::default() }
    }

    /// The master secret `epoch`'s keys derive from (patient only).
    fn master_of(&self, epoch: u64) -> Option<&MasterSecret> {
        self.masters.iter().rev().find(|(start, _)| *start <= epoch).map(|(_, m)| m)
    }

    /// No keys yet (a grantee adds what its grants carry).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds key material a grant of epoch `epoch` carried. A later key for the same scope
    /// and epoch replaces the earlier one.
    pub fn insert(&mut self, epoch: u64, keys: GrantKeys) {
        match keys {
            GrantKeys::All(key) => {
                self.epochs.insert(epoch, key);
            }
            GrantKeys::Category { category, keys } => {
                self.categories.insert((epoch, B256::from(category)), keys);
            }
            GrantKeys::Record { record, key } => {
                self.records.insert(record, key);
            }
        }
    }

    /// Whether these are the patient's own keys.
    pub fn is_patient(&self) -> bool {
        !self.masters.is_empty()
    }

    /// The key of `epoch`, if held or derivable (patient, or an All grant of that epoch).
    pub fn epoch_key(&self, epoch: u64) -> Option<EpochKey> {
        if self.is_patient() {
            return self.master_of(epoch).map(|master| master.epoch_key(epoch));
        }
        self.epochs.get(&epoch).cloned()
    }

    /// The index and data keys of (`epoch`, `category`), if held or derivable.
    pub fn category_keys(&self, epoch: u64, category: &Category) -> Option<CategoryKeys> {
        if let Some(key) = self.epoch_key(epoch) {
            return Some(key.category_keys(category.as_bytes32()));
        }
        self.categories.get(&(epoch, *category.as_bytes32())).cloned()
    }

    /// The data key a Record grant carried for record `record_id`.
    pub fn record_key(&self, record_id: u64) -> Option<&DataKey> {
        self.records.get(&record_id)
    }

    /// The epochs for which some key is held (all of them for the patient: `None`).
    pub fn epochs(&self) -> Option<Vec<u64>> {
        if self.is_patient() {
            return None;
        }
        let mut epochs: Vec<u64> =
            self.epochs.keys().copied().chain(self.categories.keys().map(|(e, _)| *e)).collect();
        epochs.sort_unstable();
        epochs.dedup();
        Some(epochs)
    }
}

impl fmt::Debug for SearchKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchKeys")
            .field("patient", &self.is_patient())
            .field("epoch_keys", &self.epochs.keys().collect::<Vec<_>>())
            .field(
                "category_keys",
                &self
                    .categories
                    .keys()
                    .map(|(e, c)| (e, Category::from_bytes32(*c)))
                    .collect::<Vec<_>>(),
            )
            .field("record_keys", &self.records.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grantee_keys_cover_exactly_their_epochs_and_categories() {
        let master = MasterSecret::from_bytes([9; 32]);
        let lab = Category::new("lab").unwrap();
        let imaging = Category::new("imaging").unwrap();
        let mut keys = SearchKeys::new();
        let lab0 = master.epoch_key(0).category_keys(lab.as_bytes32());
        keys.insert(0, GrantKeys::Category { category: lab.as_bytes32().0, keys: lab0.clone() });
        keys.insert(2, GrantKeys::All(master.epoch_key(2)));
        let got = keys.category_keys(0, &lab).unwrap();
        assert_eq!(got.index_key().as_bytes(), lab0.index_key().as_bytes());
        assert!(keys.category_keys(0, &imaging).is_none());
        assert!(keys.category_keys(1, &lab).is_none());
        let derived = keys.category_keys(2, &imaging).unwrap();
        let expected = master.epoch_key(2).category_keys(imaging.as_bytes32());
        assert_eq!(derived.index_key().as_bytes(), expected.index_key().as_bytes());
        assert_eq!(keys.epochs(), Some(vec![0, 2]));

        let patient = SearchKeys::patient(master.clone());
        let got = patient.category_keys(7, &lab).unwrap();
        let expected = master.epoch_key(7).category_keys(lab.as_bytes32());
        assert_eq!(got.index_key().as_bytes(), expected.index_key().as_bytes());
        assert_eq!(patient.epochs(), None);
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let master = MasterSecret::from_bytes([0xab; 32]);
        let mut keys = SearchKeys::patient(master);
        keys.insert(0, GrantKeys::Record { record: 3, key: DataKey::from_bytes([0xcd; 32]) });
        let printed = format!("{keys:?}");
        assert!(!printed.contains("ab") && !printed.contains("171") && !printed.contains("205"));
    }
}
