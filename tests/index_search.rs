//! The searchable index against a real anvil: a patient and a doctor (category grant whose
//! wrapped keys ehr-index builds, relayed as an EIP-712 grant) upload records — just the index
//! part: real tags, random digests — and searches return exactly the matching records,
//! verified against the contract's accumulator at a block. A tampered event list is caught;
//! after a revocation the doctor's old keys match nothing new while the patient and a
//! still-trusted grantee (given the new epoch's keys) still find everything; tiny log pages
//! give the same answers.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::{ConsentRegistry, IConsentRegistry, RecordIndex, RoleRegistry};
use ehr_contracts::{Purpose, eip712, tx};
use ehr_crypto::{RecordId, SecretKey};
use ehr_index::grant::{NamedScope, grant_keys, wrap_epoch_share, wrap_grant};
use ehr_index::{
    Category, EntryBody, Error, FetchOptions, IndexClient, Keyword, MasterSecret, Query,
    SearchKeys, SearchResults, TagList, derive_master_secret, record_digest, verify_chain,
};
use ehr_store::{Cid, Codec};
use ehrkit_tests::TestChain;

const DAY: u64 = 24 * 60 * 60;

struct Cast {
    doctor: PrivateKeySigner,
    nurse: PrivateKeySigner,
    patient: PrivateKeySigner,
}

async fn register(chain: &TestChain) -> eyre::Result<Cast> {
    let roles = chain.deployment.role_registry;
    let (_hospital, staff) = chain.hospital_with_doctors(roles, "H", 2).await?;
    let [doctor, nurse] = <[_; 2]>::try_from(staff).expect("two staff");
    let patient = chain.patient(roles).await?;
    Ok(Cast { doctor, nurse, patient })
}

fn secret_of(signer: &PrivateKeySigner) -> SecretKey {
    SecretKey::from_slice(signer.to_bytes().as_slice()).expect("a valid key")
}

/// The digest of a CID of random content: what a record's envelope would give.
fn random_digest() -> B256 {
    let content = RecordId::random().expect("randomness").0;
    record_digest(&Cid::of_block(Codec::Raw, &content))
}

async fn now(provider: &DynProvider) -> eyre::Result<u64> {
    let block = provider.get_block_by_number(Default::default()).await?.expect("latest block");
    Ok(block.header.timestamp)
}

/// The patient grants `grantee` `scope` by an EIP-712 signature that the grantee relays; the
/// wrapped keys are built from the patient's master secret for the grantee's registered key.
async fn relayed_grant(
    chain: &TestChain,
    patient: &PrivateKeySigner,
    master: &MasterSecret,
    grantee: &PrivateKeySigner,
    scope: NamedScope,
) -> eyre::Result<()> {
    let d = &chain.deployment;
    let roles = RoleRegistry::new(d.role_registry, chain.reader());
    let registered_key = roles.publicKeyOf(grantee.address()).call().await?;
    let consent = ConsentRegistry::new(d.consent_registry, chain.reader());
    let epoch = consent.epochOf(patient.address()).call().await?;
    let keys = grant_keys(master, &master.category_naming_key(), epoch, &scope)?;
    let wrapped = wrap_grant(&keys, patient.address(), grantee.address(), &registered_key, epoch)?;
    let grant = IConsentRegistry::GrantRequest {
        patient: patient.address(),
        grantee: grantee.address(),
        scope: ehr_sdk::keys::contract_scope(keys.scope()).to_sol(),
        purpose: Purpose::Treatment.as_u8(),
        expiry: now(&chain.reader()).await? + 30 * DAY,
        epoch,
        wrappedKeys: wrapped,
    };
    let domain = eip712::consent_domain(&chain.reader(), d.consent_registry).await?;
    let nonce = consent.nonces(patient.address()).call().await?;
    let deadline = U256::from(now(&chain.reader()).await? + 3600);
    let signature = eip712::sign_grant(patient, &domain, &grant, nonce, deadline).await?;
    let as_grantee = ConsentRegistry::new(d.consent_registry, chain.provider(grantee));
    tx::send("relay the grant", as_grantee.grantWithSig(grant, nonce, deadline, signature)).await?;
    Ok(())
}

/// The opaque id of the category `name` for `patient`, from its master secret.
async fn category_of(
    chain: &TestChain,
    patient: &PrivateKeySigner,
    name: &str,
) -> eyre::Result<Category> {
    let d = &chain.deployment;
    let master = derive_master_secret(patient, d.chain_id, d.record_index).await?;
    Ok(SearchKeys::patient(master).category_id(name)?)
}

/// Adds a record (index part only) as `writer`, with the tags its keys give; returns its id.
async fn add_record(
    chain: &TestChain,
    writer: &PrivateKeySigner,
    patient: Address,
    keys: &SearchKeys,
    category: Category,
    words: &[&str],
) -> eyre::Result<u64> {
    let index = RecordIndex::new(chain.deployment.record_index, chain.provider(writer));
    let epoch = index.stateOf(patient).call().await?.epoch;
    let category_keys = keys.category_keys(epoch, &category).expect("the writer holds the keys");
    let digest = random_digest();
    let keywords: Vec<Keyword> = words.iter().map(|w| Keyword::new(w)).collect::<Result<_, _>>()?;
    let tags = TagList::build(category_keys.index_key(), &digest, &keywords)?;
    let call = index.addRecord(patient, digest, *category.as_bytes32(), epoch, tags.to_bytes());
    tx::send("add a record", call).await?;
    Ok(index.stateOf(patient).call().await?.records)
}

fn ids(results: &SearchResults) -> Vec<u64> {
    results.hits.iter().map(|h| h.record_id).collect()
}

#[tokio::test]
async fn verified_search_grants_revocation_and_paging() -> eyre::Result<()> {
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register(&chain).await?;
    let patient = cast.patient.address();
    let lab = category_of(&chain, &cast.patient, "lab").await?;
    let imaging = category_of(&chain, &cast.patient, "imaging").await?;

    // The patient's master secret, from a signature: the same every time.
    let master = derive_master_secret(&cast.patient, d.chain_id, d.record_index).await?;
    let again = derive_master_secret(&cast.patient, d.chain_id, d.record_index).await?;
    assert_eq!(master.as_bytes(), again.as_bytes());
    let patient_keys = SearchKeys::patient(master.clone());

    // The doctor gets the lab category, the nurse everything.
    relayed_grant(&chain, &cast.patient, &master, &cast.doctor, NamedScope::Category("lab".into()))
        .await?;
    relayed_grant(&chain, &cast.patient, &master, &cast.nurse, NamedScope::All).await?;
    let client = IndexClient::from_deployment(chain.reader(), &d);
    let latest = client.latest_block().await?;
    let doctor_keys = client.grantee_keys(patient, &secret_of(&cast.doctor), latest).await?;
    assert!(doctor_keys.unreadable.is_empty(), "{:?}", doctor_keys.unreadable);
    let doctor_keys = doctor_keys.keys;
    assert!(doctor_keys.category_keys(0, &lab).is_some());
    assert!(doctor_keys.category_keys(0, &imaging).is_none());

    // Records, by both writers; record 4 is corrected by record 5.
    let p = &cast.patient;
    let doc = &cast.doctor;
    assert_eq!(add_record(&chain, p, patient, &patient_keys, lab, &["HbA1c", "Diabète"]).await?, 1);
    add_record(&chain, doc, patient, &doctor_keys, lab, &["blood pressure", "diabète"]).await?;
    // A day passes before the imaging record (for the time filter below).
    let _: serde_json::Value =
        chain.reader().raw_request("evm_increaseTime".into(), (DAY,)).await?;
    add_record(&chain, p, patient, &patient_keys, imaging, &["knee", "diabète"]).await?;
    add_record(&chain, doc, patient, &doctor_keys, lab, &["hba1c"]).await?;
    let index = RecordIndex::new(d.record_index, chain.provider(doc));
    let epoch0 = doctor_keys.category_keys(0, &lab).unwrap();
    let digest = random_digest();
    let words = [Keyword::new("hba1c")?, Keyword::new("corrected")?];
    let tags = TagList::build(epoch0.index_key(), &digest, &words)?;
    let call = index.supersede(patient, 4, digest, *lab.as_bytes32(), 0, tags.to_bytes());
    tx::send("correct record 4", call).await?;

    // The patient finds exactly the matching records, verified at the latest block.
    let search = |keys: &SearchKeys, query: Query| {
        let (client, keys) = (&client, keys.clone());
        async move { client.search(patient, &keys, &query, None).await }
    };
    let head = client.latest_block().await?;
    let both = search(&patient_keys, Query::new(["diabète", "HBA1C"])?).await?;
    assert_eq!((ids(&both), both.verified_at_block), (vec![1], head));
    let any = search(&patient_keys, Query::new(["knee", "hba1c"])?.any()).await?;
    assert_eq!(ids(&any), [1, 3, 5], "record 4 is superseded");
    let in_lab = search(&patient_keys, Query::new(["diabète"])?.category(lab)).await?;
    assert_eq!((ids(&in_lab), in_lab.records_scanned, in_lab.not_readable), (vec![1, 2], 3, 0));
    let all = search(&patient_keys, Query::new(["diabète"])?).await?;
    assert_eq!(ids(&all), [1, 2, 3]);
    let hit = &all.hits[1];
    assert_eq!((hit.writer, hit.category, hit.epoch), (doc.address(), lab, 0));
    assert!(hit.timestamp > 0 && hit.block <= head);

    // Time filters on block timestamps: records 1 and 2 are a day older than record 3.
    let (first, third) = (all.hits[0].timestamp, all.hits[2].timestamp);
    assert!(third >= first + DAY);
    let later = search(&patient_keys, Query::new(["diabète"])?.since(third)).await?;
    assert_eq!(ids(&later), [3]);
    let earlier = search(&patient_keys, Query::new(["diabète"])?.until(third - 1)).await?;
    assert_eq!(ids(&earlier), [1, 2]);

    // The doctor reads the lab records only.
    let doctor_view = search(&doctor_keys, Query::new(["diabète"])?).await?;
    assert_eq!((ids(&doctor_view), doctor_view.not_readable), (vec![1, 2], 1));

    // A tampered event list given to the verifier is caught.
    let state = client.state_at(patient, head).await?;
    let entries = client.entries(patient, head).await?;
    assert!(verify_chain(entries.clone(), &state, head).is_ok());
    let mut dropped = entries.clone();
    dropped.remove(3);
    assert!(verify_chain(dropped, &state, head).is_err());
    let mut altered = entries.clone();
    if let EntryBody::Record { tags, .. } = &mut altered[1].body {
        let mut bytes = tags.to_vec();
        bytes[0] ^= 1;
        *tags = Bytes::from(bytes);
    }
    assert!(matches!(verify_chain(altered, &state, head), Err(Error::AccumulatorMismatch { .. })));

    // Timestamps come from the logs when the node gives them, else from (cached) headers.
    let mut without = client.verified_index(patient, Some(head)).await?;
    without.records.iter_mut().for_each(|r| r.block_timestamp = None);
    let query = Query::new(["diabète"])?;
    assert_eq!(client.search_verified(&without, &patient_keys, &query).await?, all);

    // Tiny pages (one block, one log per call) give the same answers.
    let paged = IndexClient::from_deployment(chain.reader(), &d)
        .with_options(FetchOptions { initial_block_range: 1, max_logs_per_call: 1 });
    let paged_any = paged
        .search(patient, &patient_keys, &Query::new(["knee", "hba1c"])?.any(), Some(head))
        .await?;
    assert_eq!(paged_any, any);

    // The patient revokes the doctor: epoch 1. The nurse is handed the new epoch's keys.
    let consent = ConsentRegistry::new(d.consent_registry, chain.provider(p));
    tx::send("revoke the doctor", consent.revoke(doc.address())).await?;
    assert_eq!(
        RecordIndex::new(d.record_index, chain.reader()).stateOf(patient).call().await?.epoch,
        1
    );
    let nurse_key = RoleRegistry::new(d.role_registry, chain.reader())
        .publicKeyOf(cast.nurse.address())
        .call()
        .await?;
    let share = wrap_epoch_share(
        &master,
        &master.category_naming_key(),
        patient,
        cast.nurse.address(),
        &nurse_key,
        1,
        &[NamedScope::All],
    )?;
    tx::send("share epoch 1 keys", consent.shareEpochKeys(cast.nurse.address(), share)).await?;
    let new_record = add_record(&chain, p, patient, &patient_keys, lab, &["diabète"]).await?;
    assert_eq!(new_record, 6);

    // The doctor's keys (re-read from chain: nothing new for it) match nothing new.
    let latest = client.latest_block().await?;
    let doctor_keys = client.grantee_keys(patient, &secret_of(doc), latest).await?.keys;
    assert!(doctor_keys.category_keys(1, &lab).is_none());
    let doctor_view = search(&doctor_keys, Query::new(["diabète"])?).await?;
    assert_eq!((ids(&doctor_view), doctor_view.not_readable), (vec![1, 2], 2));
    // Even forcing its old lab keys onto the new record: no match.
    let index_now = client.verified_index(patient, None).await?;
    let record = index_now.record(new_record).unwrap();
    let old_key = Keyword::new("diabète")?.key(epoch0.index_key());
    assert!(!record.tags.matches(&old_key, &record.digest));
    // The patient and the nurse find it.
    assert_eq!(ids(&search(&patient_keys, Query::new(["diabète"])?).await?), [1, 2, 3, 6]);
    let nurse_keys = client.grantee_keys(patient, &secret_of(&cast.nurse), latest).await?;
    assert!(nurse_keys.unreadable.is_empty(), "{:?}", nurse_keys.unreadable);
    assert_eq!(ids(&search(&nurse_keys.keys, Query::new(["diabète"])?).await?), [1, 2, 3, 6]);
    Ok(())
}

#[tokio::test]
async fn cached_searches_equal_full_ones_and_a_rolled_back_state_invalidates_the_cache()
-> eyre::Result<()> {
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register(&chain).await?;
    let patient = cast.patient.address();
    let p = &cast.patient;
    let lab = category_of(&chain, p, "lab").await?;
    let master = derive_master_secret(p, d.chain_id, d.record_index).await?;
    let keys = SearchKeys::patient(master);
    let provider = chain.reader();
    let query = Query::new(["diabète"])?;
    let client = IndexClient::from_deployment(provider.clone(), &d);
    // Every answer of the cached client must be an uncached client's answer at that block.
    let check = |expected: Vec<u64>| {
        let (client, keys, query, provider, d) = (&client, &keys, &query, &provider, &d);
        async move {
            let head = client.latest_block().await?;
            let cached = client.search(patient, keys, query, None).await?;
            let fresh = IndexClient::from_deployment(provider.clone(), d).without_cache();
            assert_eq!(cached, fresh.search(patient, keys, query, Some(head)).await?);
            assert_eq!(ids(&cached), expected);
            let at = client.cache().unwrap().get(patient).unwrap().index.at_block;
            assert_eq!(at, head);
            eyre::Ok(cached)
        }
    };

    for words in [&["diabète"][..], &["knee"], &["diabète", "hba1c"]] {
        add_record(&chain, p, patient, &keys, lab, words).await?;
    }
    check(vec![1, 3]).await?;
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await?;
    // Incremental: two more records, then nothing new at a later block.
    add_record(&chain, p, patient, &keys, lab, &["diabète"]).await?;
    add_record(&chain, p, patient, &keys, lab, &["other"]).await?;
    check(vec![1, 3, 4]).await?;
    let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await?;
    check(vec![1, 3, 4]).await?;
    let cached_block = client.latest_block().await?;

    // The chain rolls back to three records and grows past the cached block with one other
    // record: fewer entries than cached, so the cache is dropped and the search is full.
    let reverted: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await?;
    assert!(reverted);
    let snapshot: U256 = provider.raw_request("evm_snapshot".into(), ()).await?;
    while client.latest_block().await? < cached_block {
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await?;
    }
    add_record(&chain, p, patient, &keys, lab, &["knee", "diabète"]).await?;
    check(vec![1, 3, 4]).await?;
    let record4 = client.verified_index(patient, None).await?.record(4).unwrap().digest;

    // Rolled back again, and as many entries as cached but other ones: the accumulator
    // differs, the cache is dropped again.
    let reverted: bool = provider.raw_request("evm_revert".into(), (snapshot,)).await?;
    assert!(reverted);
    while client.latest_block().await? < cached_block + 1 {
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await?;
    }
    add_record(&chain, p, patient, &keys, lab, &["other"]).await?;
    let found = check(vec![1, 3]).await?;
    assert_eq!(found.records_scanned, 4);
    let now = client.verified_index(patient, None).await?;
    assert_ne!(now.record(4).unwrap().digest, record4);
    Ok(())
}

/// The verified index persisted for the next process (`IndexClient::with_cache_dir`): a new
/// client starts from the file and answers what an uncached one answers; a file forged to
/// carry an extra record (entries and stored state recomputed to agree, so it verifies on
/// its own) is refused against the chain's state, and the search falls back to the full
/// fetch; a truncated file is ignored the same way.
#[tokio::test]
async fn a_persisted_index_starts_warm_and_a_forged_one_injects_nothing() -> eyre::Result<()> {
    use ehr_index::{CachedIndex, IndexCache, IndexEntry, IndexState, LogPosition, accumulate};
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register(&chain).await?;
    let (p, patient) = (&cast.patient, cast.patient.address());
    let lab = category_of(&chain, p, "lab").await?;
    let keys = SearchKeys::patient(derive_master_secret(p, d.chain_id, d.record_index).await?);
    let query = Query::new(["hba1c"])?;
    for words in [&["hba1c"][..], &["knee"], &["hba1c", "diabetes"]] {
        add_record(&chain, p, patient, &keys, lab, words).await?;
    }
    let dir = tempfile::tempdir()?;
    let provider = chain.reader();
    let cached_client =
        || IndexClient::from_deployment(provider.clone(), &d).with_cache_dir(dir.path());
    let fresh = IndexClient::from_deployment(provider.clone(), &d).without_cache();
    let first = cached_client().search(patient, &keys, &query, None).await?;
    assert_eq!(ids(&first), [1, 3]);
    let files: Vec<_> = std::fs::read_dir(dir.path())?.collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 1, "one file per patient");
    let file = files[0].path();

    // A new process: the file is loaded and checked; nothing new on chain → no log fetch.
    add_record(&chain, p, patient, &keys, lab, &["hba1c"]).await?;
    let head = fresh.latest_block().await?;
    let warm = cached_client().search(patient, &keys, &query, Some(head)).await?;
    assert_eq!(warm, fresh.search(patient, &keys, &query, Some(head)).await?);
    assert_eq!(ids(&warm), [1, 3, 4]);

    // Forge: the real entries plus a fake record 5 under the patient's own tags, and a stored
    // state recomputed from them, so the file verifies in isolation.
    let real = fresh.verified_index(patient, Some(head)).await?;
    let mut entries: Vec<IndexEntry> = real.entries();
    let digest = random_digest();
    let tags = TagList::build(
        keys.category_keys(0, &lab).unwrap().index_key(),
        &digest,
        &[Keyword::new("hba1c")?],
    )?;
    entries.push(IndexEntry {
        position: LogPosition { block: head, log_index: 99 },
        block_hash: None,
        block_timestamp: None,
        record_id: 5,
        writer: patient,
        category: *lab.as_bytes32(),
        epoch: 0,
        body: EntryBody::Record { digest, tags: tags.to_bytes() },
    });
    let forged_state = IndexState {
        accumulator: accumulate(&entries),
        records: 5,
        entries: entries.len() as u64,
        epoch: 0,
    };
    let forged = verify_chain(entries, &forged_state, head)?;
    assert_eq!(forged.records.len(), 5, "the forgery verifies on its own");
    IndexCache::persistent(dir.path(), d.record_index)
        .insert(patient, CachedIndex { index: std::sync::Arc::new(forged), block_hash: None });
    let after_forgery = cached_client().search(patient, &keys, &query, Some(head)).await?;
    assert_eq!(ids(&after_forgery), [1, 3, 4], "the forged record is not shown");
    assert_eq!(after_forgery, fresh.search(patient, &keys, &query, Some(head)).await?);

    // A torn or truncated file: ignored, full fetch, same answer.
    let bytes = std::fs::read(&file)?;
    std::fs::write(&file, &bytes[..bytes.len() / 2])?;
    let after_truncation = cached_client().search(patient, &keys, &query, Some(head)).await?;
    assert_eq!(ids(&after_truncation), [1, 3, 4]);
    // …and the good file it writes back is loaded by the next client.
    let loaded =
        IndexCache::persistent(dir.path(), d.record_index).take(patient).expect("rewritten");
    assert_eq!(loaded.index.records.len(), 4);
    Ok(())
}

/// Supersedes record `record_id` as `writer` with a new record of `category`; the contract
/// checks only that the writer may write the category.
async fn supersede(
    chain: &TestChain,
    writer: &PrivateKeySigner,
    patient: Address,
    keys: &SearchKeys,
    record_id: u64,
    category: Category,
) -> eyre::Result<()> {
    let index = RecordIndex::new(chain.deployment.record_index, chain.provider(writer));
    let digest = random_digest();
    let tags = TagList::build(
        keys.category_keys(0, &category).expect("keys").index_key(),
        &digest,
        &[Keyword::new("corrected")?],
    )?;
    let call =
        index.supersede(patient, record_id, digest, *category.as_bytes32(), 0, tags.to_bytes());
    tx::send("supersede", call).await?;
    Ok(())
}

/// Any writer allowed a category could hide every record of it with `supersede` (the index
/// keeps no per-record writer). Against the real chain: the nurse's tombstone over the
/// doctor's record is mined, and ignored by every searcher, with an anomaly; the doctor's own
/// correction and the patient's count.
#[tokio::test]
async fn only_the_writer_or_the_patient_can_supersede_a_record() -> eyre::Result<()> {
    use ehr_index::Anomaly;
    let chain = TestChain::start(false).await?;
    let d = chain.deployment.clone();
    let cast = register(&chain).await?;
    let patient = cast.patient.address();
    let lab = category_of(&chain, &cast.patient, "lab").await?;
    let master = derive_master_secret(&cast.patient, d.chain_id, d.record_index).await?;
    let keys = SearchKeys::patient(master.clone());
    relayed_grant(&chain, &cast.patient, &master, &cast.doctor, NamedScope::Category("lab".into()))
        .await?;
    relayed_grant(&chain, &cast.patient, &master, &cast.nurse, NamedScope::All).await?;
    for _ in 0..3 {
        add_record(&chain, &cast.doctor, patient, &keys, lab, &["hba1c"]).await?;
    }
    supersede(&chain, &cast.nurse, patient, &keys, 1, lab).await?; // record 4: not honoured
    supersede(&chain, &cast.doctor, patient, &keys, 2, lab).await?; // record 5: its writer
    supersede(&chain, &cast.patient, patient, &keys, 3, lab).await?; // record 6: the patient
    let client = IndexClient::from_deployment(chain.reader(), &d);
    let index = client.verified_index(patient, None).await?;
    let superseded: Vec<Option<u64>> =
        (1..=3).map(|id| index.record(id).unwrap().superseded_by).collect();
    assert_eq!(superseded, [None, Some(5), Some(6)]);
    assert_eq!(
        index.anomalies,
        [Anomaly::TombstoneByOtherWriter {
            record_id: 1,
            superseded_by: 4,
            tombstone_writer: cast.nurse.address(),
            record_writer: cast.doctor.address(),
        }]
    );
    let found = client.search(patient, &keys, &Query::new(["hba1c"])?, None).await?;
    assert_eq!(ids(&found), [1], "the doctor's record 1 is still found");
    assert_eq!(found.anomalies.len(), 1);
    Ok(())
}
