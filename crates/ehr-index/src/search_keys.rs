//! The keys a searcher holds: the patient's master secret, or what grants handed a grantee.

use std::collections::BTreeMap;
use std::fmt;

use alloy::primitives::B256;
use ehr_crypto::{CategoryKeys, CategoryNamingKey, DataKey, EpochKey, GrantKeys, MasterSecret};

use crate::category::{Category, category_name_bytes, name_from_bytes};
use crate::{Error, Result};

/// What a searcher can derive keys from.
///
/// The patient holds its [`MasterSecret`] and so every epoch's keys. A grantee holds, per
/// epoch, an epoch key (All grants) or some categories' keys (Category grants), unwrapped from
/// the consent registry's events ([`crate::grant`]); and record data keys from Record grants,
/// which open envelopes but cannot search. Records of an (epoch, category) the searcher has
/// no key for are skipped by a search and counted as not readable.
///
/// Categories are opaque ids on chain. The patient and All grantees hold the naming key and
/// compute the id of any name; a Category grant names its one category. Ids map back to names
/// only for names the holder knows: those of its Category grants, and those it was told
/// ([`SearchKeys::learn_names`], e.g. the well-known categories).
///
/// Every key zeroizes on drop; `Debug` shows only what kinds of keys are held.
#[derive(Clone, Default)]
pub struct SearchKeys {
    /// The patient's master secrets, each with the first epoch it covers, ascending.
    masters: Vec<(u64, MasterSecret)>,
    epochs: BTreeMap<u64, EpochKey>,
    categories: BTreeMap<(u64, B256), CategoryKeys>,
    records: BTreeMap<u64, DataKey>,
    naming: Option<CategoryNamingKey>,
    names: BTreeMap<B256, String>,
}

impl SearchKeys {
    /// The patient's keys: everything, in every epoch.
    pub fn patient(master: MasterSecret) -> Self {
        Self::patient_generations(vec![(0, master)])
    }

    /// The patient's keys over several key generations: each master secret with the first
    /// epoch whose keys derive from it (the consent registry's `generationOf`). The category
    /// naming key is the first generation's: category ids must stay equal across epochs and
    /// generations (a grant's scope and a record's category are compared on chain), so a key
    /// rotation does not change them.
    pub fn patient_generations(mut masters: Vec<(u64, MasterSecret)>) -> Self {
        masters.sort_by_key(|(start, _)| *start);
        let naming = masters.first().map(|(_, first)| first.category_naming_key());
        Self { masters, naming, ..Self::default() }
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
            GrantKeys::All { epoch: key, naming } => {
                self.epochs.insert(epoch, key);
                self.naming = Some(naming);
            }
            GrantKeys::Category { category, name, keys } => {
                if let Some(name) = name_from_bytes(&name) {
                    self.names.insert(B256::from(category), name);
                }
                self.categories.insert((epoch, B256::from(category)), keys);
            }
            GrantKeys::Record { record, key } => {
                self.records.insert(record, key);
            }
        }
    }

    /// The on-chain id of the category called `name`: computed with the naming key (patient,
    /// All grantee), or the id a Category grant gave for that name.
    /// [`Error::UnknownCategoryName`] when neither applies, [`Error::InvalidCategory`] for a
    /// malformed name.
    pub fn category_id(&self, name: &str) -> Result<Category> {
        let bytes = category_name_bytes(name)?;
        if let Some(naming) = &self.naming {
            return Ok(Category::from_bytes32(B256::from(naming.category_id(&bytes))));
        }
        self.names
            .iter()
            .find(|(_, known)| known.as_str() == name)
            .map(|(id, _)| Category::from_bytes32(*id))
            .ok_or_else(|| Error::UnknownCategoryName(name.to_owned()))
    }

    /// The name of the category `id`, if known here.
    pub fn category_name(&self, id: &Category) -> Option<&str> {
        self.names.get(id.as_bytes32()).map(String::as_str)
    }

    /// The category's name if known, else its id (`#…`): how reports show a category.
    pub fn describe_category(&self, id: &Category) -> String {
        self.category_name(id).map_or_else(|| id.to_string(), str::to_owned)
    }

    /// Records the ids of `names` so that [`Self::category_name`] maps them back. Needs the
    /// naming key (patient, All grantee); without it nothing is learned and this returns false.
    /// Malformed names are skipped.
    pub fn learn_names<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> bool {
        let Some(naming) = &self.naming else { return false };
        for name in names {
            if let Ok(bytes) = category_name_bytes(name) {
                self.names.insert(B256::from(naming.category_id(&bytes)), name.to_owned());
            }
        }
        true
    }

    /// The naming key, when held (patient, All grantee).
    pub fn naming_key(&self) -> Option<&CategoryNamingKey> {
        self.naming.as_ref()
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
                    .map(|(e, c)| (e, self.describe_category(&Category::from_bytes32(*c))))
                    .collect::<Vec<_>>(),
            )
            .field("record_keys", &self.records.keys().collect::<Vec<_>>())
            .field("naming_key", &self.naming.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grantee_keys_cover_exactly_their_epochs_and_categories() {
        let master = MasterSecret::from_bytes([9; 32]);
        let patient = SearchKeys::patient(master.clone());
        let lab = patient.category_id("lab").unwrap();
        let imaging = patient.category_id("imaging").unwrap();
        let mut keys = SearchKeys::new();
        let lab0 = master.epoch_key(0).category_keys(lab.as_bytes32());
        let name = category_name_bytes("lab").unwrap();
        keys.insert(
            0,
            GrantKeys::Category { category: lab.as_bytes32().0, name, keys: lab0.clone() },
        );
        assert_eq!(keys.category_id("lab").unwrap(), lab);
        assert_eq!(keys.category_name(&lab), Some("lab"));
        assert!(
            matches!(keys.category_id("imaging"), Err(Error::UnknownCategoryName(n)) if n == "imaging")
        );
        assert!(!keys.learn_names(["imaging"]), "no naming key yet");
        let naming = master.category_naming_key();
        keys.insert(2, GrantKeys::All { epoch: master.epoch_key(2), naming });
        assert_eq!(keys.category_id("imaging").unwrap(), imaging, "the All grant's naming key");
        assert_eq!(keys.describe_category(&imaging), imaging.to_string());
        assert!(keys.learn_names(["imaging", "not a name"]));
        assert_eq!(keys.describe_category(&imaging), "imaging");
        let got = keys.category_keys(0, &lab).unwrap();
        assert_eq!(got.index_key().as_bytes(), lab0.index_key().as_bytes());
        assert!(keys.category_keys(0, &imaging).is_none());
        assert!(keys.category_keys(1, &lab).is_none());
        let derived = keys.category_keys(2, &imaging).unwrap();
        let expected = master.epoch_key(2).category_keys(imaging.as_bytes32());
        assert_eq!(derived.index_key().as_bytes(), expected.index_key().as_bytes());
        assert_eq!(keys.epochs(), Some(vec![0, 2]));

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
