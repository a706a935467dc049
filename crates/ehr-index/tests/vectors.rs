//! Test vectors under `tests/vectors/index/`, shared with the Solidity tests.
//!
//! The normal tests rebuild every vector from its fixed inputs and compare byte for byte.
//! After an intentional format change, rewrite them with
//!
//! ```text
//! cargo test -p ehr-index --test integration -- --ignored vectors::regenerate_vectors
//! ```

use std::fs;
use std::path::PathBuf;

use crate::common::{Chain, TestRng, digest_of};
use alloy::primitives::{Address, B256};
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;
use ehr_crypto::patient_keys::{GrantParties, wrap_grant_keys_with_ephemeral};
use ehr_crypto::{DataKey, RecordId, SecretKey, raw_public_key};
use ehr_index::{
    Category, EntryBody, GrantKeys, Keyword, accumulate, category_name_bytes, master_secret,
    normalize_keyword, record_digest,
};
use serde_json::{Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/index")
}

fn hex0x(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn address(a: Address) -> String {
    hex0x(a)
}

/// Fixed test keys (not anvil's well-known ones).
const PATIENT_KEY: [u8; 32] = [0xa1; 32];
const DOCTOR_KEY: [u8; 32] = [0xd0; 32];
const CHAIN_ID: u64 = 31337;
const RECORD_INDEX: Address = Address::repeat_byte(0x5f);

fn signer(key: [u8; 32]) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::from(key)).unwrap()
}

fn secret(key: [u8; 32]) -> SecretKey {
    SecretKey::from_bytes(&key.into()).unwrap()
}

/// The parallel arrays of keys.json's grant items.
const GRANT_FIELDS: [&str; 7] = [
    "grantKinds",
    "grantScopeValues",
    "grantScopeIds",
    "grantAads",
    "grantEphemeralKeys",
    "grantPlaintexts",
    "grantItems",
];

/// The opaque id of `name` under the vector patient's naming key.
async fn category(name: &str) -> Category {
    ehr_index::SearchKeys::patient(master().await).category_id(name).unwrap()
}

async fn lab() -> Category {
    category("lab").await
}

async fn master() -> ehr_index::MasterSecret {
    master_secret::derive_master_secret(&signer(PATIENT_KEY), CHAIN_ID, RECORD_INDEX).await.unwrap()
}

async fn keys_vector() -> Value {
    let patient = signer(PATIENT_KEY);
    let hash = master_secret::signing_hash(patient.address(), CHAIN_ID, RECORD_INDEX);
    let signature = patient.sign_hash(&hash).await.unwrap().as_bytes();
    let master = master().await;
    let epochs = [0u64, 1, 7];
    let names = ["lab", "imaging"];
    let categories = [category(names[0]).await, category(names[1]).await];
    let record_ids = [RecordId([0x42; 16]), RecordId(std::array::from_fn(|i| i as u8))];
    let (mut epoch_keys, mut index_keys, mut data_keys) = (vec![], vec![], vec![]);
    for epoch in epochs {
        let epoch_key = master.epoch_key(epoch);
        epoch_keys.push(hex0x(epoch_key.as_bytes()));
        for category in &categories {
            let keys = epoch_key.category_keys(category.as_bytes32());
            index_keys.push(hex0x(keys.index_key().as_bytes()));
            data_keys.push(hex0x(keys.data_key_encryption_key().as_bytes()));
        }
    }
    let first = master.epoch_key(epochs[0]).category_keys(categories[0].as_bytes32());
    let key_ids: Vec<String> = record_ids.iter().map(|r| hex0x(first.key_id(r).0)).collect();

    // Grant items for each scope kind, to the doctor, in epoch 1, with fixed ephemeral keys.
    let grantee = secret(DOCTOR_KEY);
    let parties = GrantParties {
        patient: patient.address().0.0,
        grantee: ehr_crypto::eth_address(&grantee.public_key()),
        epoch: 1,
    };
    let grants = [
        GrantKeys::All { epoch: master.epoch_key(1), naming: master.category_naming_key() },
        GrantKeys::Category {
            category: categories[0].as_bytes32().0,
            name: category_name_bytes(names[0]).unwrap(),
            keys: master.epoch_key(1).category_keys(categories[0].as_bytes32()),
        },
        GrantKeys::Record { record: 3, key: DataKey::from_bytes([0x33; 32]) },
    ];
    let mut g = serde_json::Map::new();
    for field in GRANT_FIELDS {
        g.insert(field.into(), json!([]));
    }
    for (i, keys) in grants.iter().enumerate() {
        let scope = keys.scope();
        let ephemeral = [0x71 + i as u8; 32];
        let item = wrap_grant_keys_with_ephemeral(
            keys,
            &grantee.public_key(),
            &parties,
            &secret(ephemeral),
        )
        .unwrap();
        let plaintext = match keys {
            GrantKeys::All { epoch, naming } => [&epoch.as_bytes()[..], naming.as_bytes()].concat(),
            GrantKeys::Category { keys, name, .. } => {
                [&keys.index_key().as_bytes()[..], keys.data_key_encryption_key().as_bytes(), name]
                    .concat()
            }
            GrantKeys::Record { key, .. } => key.as_bytes().to_vec(),
        };
        let values = [
            json!(scope.kind()),
            json!(hex0x(scope.value())),
            json!(hex0x(scope.scope_id())),
            json!(hex0x(parties.aad(&scope))),
            json!(hex0x(ephemeral)),
            json!(hex0x(plaintext)),
            json!(hex0x(item)),
        ];
        for (field, value) in GRANT_FIELDS.into_iter().zip(values) {
            g.get_mut(field).unwrap().as_array_mut().unwrap().push(value);
        }
    }

    let mut out = json!({
        "comment": "ehrkit key hierarchy v2 (opaque category ids, grant items v2). masterSecret = HKDF-SHA256(ikm = signature (r‖s‖v, v 27/28, low s), salt = patient, info = \"ehrkit/v1/master-secret\"), signature = the patient's EIP-712 signature of MasterSecret(address patient,string purpose) in domain {name \"ehrkit\", version \"1\", chainId, verifyingContract = recordIndex}; epochKeys[i] = HKDF(ikm = masterSecret, salt = empty, info = \"ehrkit/v1/epoch\" ‖ be64(epochs[i])); categoryNamingKey = HKDF(ikm = masterSecret, salt = empty, info = \"ehrkit/v2/category-naming-key\"); categories[j] (the opaque on-chain ids) = HMAC-SHA256(categoryNamingKey, \"ehrkit/v2/category-id\" ‖ categoryNames[j])[..16] ‖ 16 zero bytes, categoryNames[j] = the name left-aligned in 32 bytes; indexKeys/dataKeys[i * len(categories) + j] = HKDF(ikm = epochKeys[i], salt = empty, info = \"ehrkit/v1/index\" or \"ehrkit/v1/data\" ‖ categories[j]); keyIds[k] = HMAC-SHA256(dataKeys[0], \"ehrkit/v1/key-id\" ‖ recordIds[k])[..16]; grant items for the grantee in grantEpoch: 0x02 ‖ kind ‖ ECIES(purpose \"ehrkit/v1/grant-keys\", aad = patient ‖ grantee ‖ be64(grantEpoch) ‖ scopeId, plaintext), plaintext = All: epochKey ‖ categoryNamingKey, Category: indexKey ‖ dataKey ‖ name[32], Record: the data key, scopeId = keccak256(abi.encode(uint8 kind, bytes32 value)), ECIES as tests/vectors/envelope/ecies.json with the given ephemeral secret keys",
        "patientPrivateKey": hex0x(PATIENT_KEY),
        "patient": address(patient.address()),
        "chainId": CHAIN_ID,
        "recordIndex": address(RECORD_INDEX),
        "purpose": master_secret::PURPOSE,
        "signingHash": hex0x(hash),
        "signature": hex0x(signature),
        "masterSecret": hex0x(master.as_bytes()),
        "epochs": epochs,
        "epochKeys": epoch_keys,
        "categoryNamingKey": hex0x(master.category_naming_key().as_bytes()),
        "categoryNames": names.iter().map(|n| hex0x(category_name_bytes(n).unwrap())).collect::<Vec<_>>(),
        "categories": categories.iter().map(|c| hex0x(c.as_bytes32())).collect::<Vec<_>>(),
        "indexKeys": index_keys,
        "dataKeys": data_keys,
        "recordIds": record_ids.iter().map(|r| hex0x(r.0)).collect::<Vec<_>>(),
        "keyIds": key_ids,
        "granteePrivateKey": hex0x(DOCTOR_KEY),
        "grantee": address(Address::from(parties.grantee)),
        "granteePublicKey": hex0x(raw_public_key(&grantee.public_key())),
        "grantEpoch": 1,
        "generation": generation_vector(&patient, 1).await,
        "generations": generations_vector(&patient).await,
    });
    out.as_object_mut().unwrap().extend(g);
    out
}

/// A patient after one key rotation: generation 1 from epoch 0, generation 2 from
/// `startEpochs[1]`. Each epoch's key from the generation that covers it, the naming key and
/// category ids from generation 1's, as `SearchKeys::patient_generations` derives them.
async fn generations_vector(patient: &PrivateKeySigner) -> Value {
    let start_epochs = [0u64, 3];
    let mut masters = Vec::new();
    for (generation, start) in (1u64..).zip(start_epochs) {
        masters.push((start, generation_master(patient, generation).await.1));
    }
    let keys = ehr_index::SearchKeys::patient_generations(masters);
    let epochs = [2u64, 3, 4];
    let lab = keys.category_id("lab").unwrap();
    let all: Vec<String> = epochs
        .iter()
        .map(|&e| {
            let epoch_key = keys.epoch_key(e).unwrap();
            hex0x([&epoch_key.as_bytes()[..], keys.naming_key().unwrap().as_bytes()].concat())
        })
        .collect();
    let lab_keys: Vec<String> = epochs
        .iter()
        .map(|&e| {
            let k = keys.category_keys(e, &lab).unwrap();
            hex0x([&k.index_key().as_bytes()[..], k.data_key_encryption_key().as_bytes()].concat())
        })
        .collect();
    json!({
        "comment": "two key generations: generation 1 (as in `generation`) covers epochs from startEpochs[0], generation 2 from startEpochs[1]; allPlaintexts[i] = the All grant plaintext of epochs[i] = epochKey(masterSecret of the generation covering it) ‖ categoryNamingKey, categoryNamingKey and labId from generation 1's master secret; labKeys[i] = indexKey ‖ dataKey of lab in epochs[i]",
        "second": generation_vector(patient, 2).await,
        "startEpochs": start_epochs,
        "epochs": epochs,
        "categoryNamingKey": hex0x(keys.naming_key().unwrap().as_bytes()),
        "labId": hex0x(lab.as_bytes32()),
        "allPlaintexts": all,
        "labKeys": lab_keys,
    })
}

/// The vector patient's default recovery secret of `generation` and the master secret it gives.
async fn generation_master(
    patient: &PrivateKeySigner,
    generation: u64,
) -> (ehr_crypto::RecoverySecret, ehr_index::MasterSecret) {
    let recovery = ehr_crypto::RecoverySecret::from_account_key(
        &PATIENT_KEY,
        CHAIN_ID,
        &RECORD_INDEX.0.0,
        generation,
    );
    let master = master_secret::derive_generation_master_secret(
        patient,
        CHAIN_ID,
        RECORD_INDEX,
        generation,
        &recovery,
    )
    .await
    .unwrap();
    (recovery, master)
}

/// Key generation `generation`: the v2 message, the default recovery secret and its code, the
/// master secret and its key-check value.
async fn generation_vector(patient: &PrivateKeySigner, generation: u64) -> Value {
    let (recovery, master) = generation_master(patient, generation).await;
    let hash = master_secret::generation_signing_hash(
        patient.address(),
        generation,
        CHAIN_ID,
        RECORD_INDEX,
    );
    let signature = patient.sign_hash(&hash).await.unwrap().normalized_s().as_bytes();
    json!({
        "comment": "key generation g >= 1: signature = EIP-712 MasterSecret(address patient,uint64 generation,string purpose) in domain {name \"ehrkit\", version \"2\", chainId, verifyingContract = recordIndex} (canonical: low s, v 27/28); masterSecret = HKDF-SHA256(ikm = signature ‖ recoverySecret, salt = patient ‖ be64(g), info = \"ehrkit/v2/master-secret\"); keyCheck = HMAC-SHA256(masterSecret, \"ehrkit/v2/key-check\")[..24]; recoveryCode = \"ehr2\" then hex(recoverySecret ‖ SHA-256(\"ehrkit/v2/recovery-code\" ‖ recoverySecret)[..2]) in dash-separated groups of 4; recoverySecret (default) = HKDF-SHA256(ikm = patientPrivateKey, salt = empty, info = \"ehrkit/v2/recovery-secret\" ‖ be64(chainId) ‖ recordIndex ‖ be64(g))",
        "generation": generation,
        "signingHash": hex0x(hash),
        "signature": hex0x(signature),
        "recoverySecret": hex0x(recovery.as_bytes()),
        "recoveryCode": recovery.to_code().as_str(),
        "masterSecret": hex0x(master.as_bytes()),
        "keyCheck": hex0x(master.key_check()),
    })
}

async fn tags_vector() -> Value {
    let master = master().await;
    let index_key = master.epoch_key(0).category_keys(lab().await.as_bytes32()).index_key().clone();
    let words = ["diabète", "blood pressure", "hba1c", "血压", "σοφία", "x"];
    let keywords: Vec<Keyword> = words.iter().map(|w| Keyword::new(w).unwrap()).collect();
    let cid = ehr_store::Cid::of_block(ehr_store::Codec::Raw, b"an envelope");
    let digests = [digest_of("record 1"), digest_of("record 2"), record_digest(&cid)];
    let mut tags = Vec::new();
    for keyword in &keywords {
        for digest in &digests {
            let mut padded = [0u8; 32];
            padded[..16].copy_from_slice(&keyword.key(&index_key).tag(digest).0);
            tags.push(hex0x(padded));
        }
    }
    json!({
        "comment": "ehrkit search tags v1. indexKey = keys.json indexKeys[0] (epoch 0, the id of \"lab\"); keywords are normalized (trim, NFKC, lowercase, NFKC, whitespace runs to one space); keywordKeys[i] = HMAC-SHA256(indexKey, \"ehrkit/v1/keyword\" ‖ utf8(keywords[i])); tags[i * len(digests) + j] = HMAC-SHA256(keywordKeys[i], \"ehrkit/v1/tag\" ‖ digests[j])[..16] left-aligned in bytes32; the last digest is the SHA-256 digest inside the CID of the raw block \"an envelope\"",
        "indexKey": hex0x(index_key.as_bytes()),
        "keywords": words,
        "keywordKeys": keywords.iter().map(|k| hex0x(k.key(&index_key).as_bytes())).collect::<Vec<_>>(),
        "digests": digests.iter().map(hex0x).collect::<Vec<_>>(),
        "tags": tags,
    })
}

async fn accumulator_vector() -> Value {
    let patient = signer(PATIENT_KEY).address();
    let doctor = signer(DOCTOR_KEY).address();
    let words = |n: usize| (0..n).map(|i| format!("keyword {i}")).collect::<Vec<_>>();
    let mut chain = Chain::new(master().await);
    chain.rng = TestRng::new("ehrkit accumulator vector dummies");
    let lab = lab().await;
    let add = |chain: &mut Chain, writer, n: usize, label: &str| {
        let w = words(n);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        chain.add(writer, lab, 0, digest_of(label), &w)
    };
    add(&mut chain, patient, 3, "record 1"); // 8 tags
    add(&mut chain, doctor, 10, "record 2"); // 16
    add(&mut chain, patient, 0, "record 3"); // 8
    let w = words(20);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    chain.supersede(2, doctor, lab, 0, digest_of("record 4"), &w); // tombstone, then 32
    add(&mut chain, doctor, 40, "record 5"); // 64
    add(&mut chain, patient, 8, "record 6"); // 8

    let mut accumulators = Vec::new();
    for i in 1..=chain.entries.len() {
        accumulators.push(hex0x(accumulate(&chain.entries[..i])));
    }
    let e = &chain.entries;
    json!({
        "comment": "ehrkit index accumulator v1, per IRecordIndex: acc_0 = 0; record: acc_n = keccak256(abi.encodePacked(acc_{n-1}, uint64 recordId, bytes32 digest, keccak256(tags), uint8(0), bytes32 category, uint64 epoch, address writer)); tombstone: acc_n = keccak256(abi.encodePacked(acc_{n-1}, uint64 recordId, bytes32(uint256(supersededBy)), keccak256(\"\"), uint8(1), bytes32 category, uint64 epoch, address writer)). Entry 4 is the tombstone of record 2, immediately followed by its superseding record 4 (same writer, category, epoch). Tags are real (keys.json indexKeys[0]) with deterministic dummies; digests are SHA-256 of \"record N\"",
        "patientPrivateKey": hex0x(PATIENT_KEY),
        "patient": address(patient),
        "doctorPrivateKey": hex0x(DOCTOR_KEY),
        "doctor": address(doctor),
        "category": hex0x(lab.as_bytes32()),
        "kinds": e.iter().map(|x| x.kind()).collect::<Vec<_>>(),
        "recordIds": e.iter().map(|x| x.record_id).collect::<Vec<_>>(),
        "supersededBy": e.iter().map(|x| match x.body {
            EntryBody::Tombstone { superseded_by } => superseded_by,
            EntryBody::Record { .. } => 0,
        }).collect::<Vec<_>>(),
        "digests": e.iter().map(|x| match &x.body {
            EntryBody::Record { digest, .. } => hex0x(digest),
            EntryBody::Tombstone { .. } => hex0x(B256::ZERO),
        }).collect::<Vec<_>>(),
        "writers": e.iter().map(|x| address(x.writer)).collect::<Vec<_>>(),
        "epochs": e.iter().map(|x| x.epoch).collect::<Vec<_>>(),
        "tags": e.iter().map(|x| match &x.body {
            EntryBody::Record { tags, .. } => hex0x(tags),
            EntryBody::Tombstone { .. } => "0x".to_owned(),
        }).collect::<Vec<_>>(),
        "accumulators": accumulators,
    })
}

async fn all() -> [(&'static str, Value); 3] {
    [
        ("keys.json", keys_vector().await),
        ("tags.json", tags_vector().await),
        ("accumulator.json", accumulator_vector().await),
    ]
}

fn stored(file: &str) -> Value {
    let text = fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
#[ignore = "rewrites the stored vectors"]
async fn regenerate_vectors() {
    fs::create_dir_all(dir()).unwrap();
    for (file, value) in all().await {
        fs::write(dir().join(file), serde_json::to_string_pretty(&value).unwrap() + "\n").unwrap();
    }
}

#[tokio::test]
async fn vectors_match_the_implementation() {
    for (file, value) in all().await {
        let text = fs::read_to_string(dir().join(file)).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap() + "\n", "{file}");
    }
}

/// Checks the stored files independently of how they were generated.
#[test]
fn stored_vectors_are_consistent() {
    let tags = stored("tags.json");
    for keyword in tags["keywords"].as_array().unwrap() {
        let keyword = keyword.as_str().unwrap();
        assert_eq!(normalize_keyword(keyword).unwrap(), keyword, "stored keywords are normalized");
    }
    let acc = stored("accumulator.json");
    let n = acc["kinds"].as_array().unwrap().len();
    assert!(n >= 6);
    for field in
        ["recordIds", "supersededBy", "digests", "writers", "epochs", "tags", "accumulators"]
    {
        assert_eq!(acc[field].as_array().unwrap().len(), n, "{field}");
    }
    let mut sizes = std::collections::BTreeSet::new();
    for (kind, tags) in acc["kinds"].as_array().unwrap().iter().zip(acc["tags"].as_array().unwrap())
    {
        let len = (tags.as_str().unwrap().len() - 2) / 2;
        if kind == 0 {
            sizes.insert(len / 16);
        } else {
            assert_eq!(len, 0);
        }
    }
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [8, 16, 32, 64]);
    let writers: std::collections::BTreeSet<&str> =
        acc["writers"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert_eq!(writers.len(), 2);
}
