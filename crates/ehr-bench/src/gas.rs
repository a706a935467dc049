//! Gas per operation from real anvil receipts (`gasUsed` of the whole transaction), and the
//! SSTORE-per-keyword baseline for the same records.

use std::path::Path;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::{
    ConsentRegistry, IConsentRegistry, IRecordIndex, RecordIndex, RoleRegistry,
};
use ehr_contracts::{OrgKind, Purpose, Scope, eip712, tx};
use ehr_index::grant::{NamedScope, grant_keys, wrap_grant};
use ehr_index::{Category, Keyword, MasterSecret, SearchKeys, TagList, derive_master_secret};

use crate::{Env, Results, gas_claims, gas_guardians, public_key};

alloy::sol! {
    #[sol(rpc)]
    contract SstoreBaselineIndex {
        function allow(address writer) external;
        function addRecord(address patient, bytes32 digest, bytes32[] calldata tokens) external;
    }
}

const DAY: u64 = 86_400;

pub(crate) fn random_digest() -> B256 {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    B256::from(bytes)
}

pub(crate) fn keywords(n: usize, salt: &str) -> Vec<Keyword> {
    (0..n).map(|i| Keyword::new(&format!("{salt}kw{i}")).expect("valid keyword")).collect()
}

async fn now(env: &Env) -> eyre::Result<u64> {
    let block = env.reader().get_block_by_number(Default::default()).await?.expect("latest");
    Ok(block.header.timestamp)
}

fn gas(receipt: &TransactionReceipt) -> f64 {
    receipt.gas_used as f64
}

/// Patient grants `grantee` `scope` as a `GrantRequest`, wrapped keys included.
pub(crate) async fn grant_request(
    env: &Env,
    patient: &PrivateKeySigner,
    master: &MasterSecret,
    grantee: Address,
    scope: &NamedScope,
) -> eyre::Result<IConsentRegistry::GrantRequest> {
    let d = &env.deployment;
    let roles = RoleRegistry::new(d.role_registry, env.reader());
    let registered_key = roles.publicKeyOf(grantee).call().await?;
    let consent = ConsentRegistry::new(d.consent_registry, env.reader());
    let epoch = consent.epochOf(patient.address()).call().await?;
    let keys = grant_keys(master, &master.category_naming_key(), epoch, scope)?;
    let wrapped = wrap_grant(&keys, patient.address(), grantee, &registered_key, epoch)?;
    Ok(IConsentRegistry::GrantRequest {
        patient: patient.address(),
        grantee,
        scope: ehr_sdk::keys::contract_scope(keys.scope()).to_sol(),
        purpose: Purpose::Treatment.as_u8(),
        expiry: now(env).await? + 30 * DAY,
        epoch,
        wrappedKeys: wrapped,
    })
}

pub(crate) async fn run(
    env: &Env,
    baseline: Option<&Path>,
    results: &mut Results,
) -> eyre::Result<()> {
    let d = env.deployment.clone();
    let receipt_method = "gasUsed of the transaction's receipt on anvil (prague), in this run; \
                          every call is its own transaction, so its storage slots are cold";
    let roles = |s: &PrivateKeySigner| RoleRegistry::new(d.role_registry, env.provider(s));
    let consent = |s: &PrivateKeySigner| ConsentRegistry::new(d.consent_registry, env.provider(s));
    let index = |s: &PrivateKeySigner| RecordIndex::new(d.record_index, env.provider(s));

    let hospital = env.account().await?;
    let r = tx::send(
        "add hospital",
        roles(&env.admin).addOrganization(
            hospital.address(),
            OrgKind::Hospital.as_u8(),
            "General Hospital".into(),
        ),
    )
    .await?;
    results.put("gas.add_organization", gas(&r), receipt_method);
    let mut doctors = Vec::new();
    for i in 0..4 {
        let doc = env.account().await?;
        let r = tx::send("add staff", roles(&hospital).addStaff(doc.address())).await?;
        if i == 0 {
            results.put("gas.add_staff", gas(&r), receipt_method);
        }
        let r = tx::send("staff key", roles(&doc).registerPublicKey(public_key(&doc))).await?;
        if i == 0 {
            results.put("gas.register_public_key", gas(&r), receipt_method);
        }
        doctors.push(doc);
    }
    let patient = env.account().await?;
    let r = tx::send("register", roles(&patient).registerPatient(public_key(&patient))).await?;
    results.put("gas.register", gas(&r), &format!("registerPatient: {receipt_method}"));
    // Key generation 1 right after registering, as the SDK's register_patient does: every
    // later figure sees the patient's key-state word as a real patient's client leaves it.
    let check = |label: &str| B256::from(alloy::primitives::keccak256(label)).0[..24].try_into();
    let r = tx::send(
        "setup keys",
        consent(&patient).setupKeys(alloy::primitives::FixedBytes(check("g1")?)),
    )
    .await?;
    results.put(
        "gas.setup_keys",
        gas(&r),
        &format!("patient's setupKeys(keyCheck), key generation 1, right after registerPatient (as the SDK registers): {receipt_method}"),
    );
    let master = derive_master_secret(&patient, d.chain_id, d.record_index).await?;
    let patient_keys = SearchKeys::patient(master.clone());
    let lab: Category = patient_keys.category_id("lab")?;
    let lab_scope = &NamedScope::Category("lab".into());

    // Direct grant (patient sends) to doctor 0.
    let req = grant_request(env, &patient, &master, doctors[0].address(), lab_scope).await?;
    let r = tx::send("grant", consent(&patient).grant(req)).await?;
    results.put(
        "gas.grant.direct",
        gas(&r),
        &format!(
            "patient's grant(), Category scope, wrapped keys for one grantee: {receipt_method}"
        ),
    );
    // Relayed grant: doctor 1 submits the patient's EIP-712 signature.
    let req = grant_request(env, &patient, &master, doctors[1].address(), lab_scope).await?;
    let domain = eip712::consent_domain(&env.reader(), d.consent_registry).await?;
    let nonce = ConsentRegistry::new(d.consent_registry, env.reader())
        .nonces(patient.address())
        .call()
        .await?;
    let deadline = U256::from(now(env).await? + 3600);
    let sig = eip712::sign_grant(&patient, &domain, &req, nonce, deadline).await?;
    let r = tx::send("relay", consent(&doctors[1]).grantWithSig(req, nonce, deadline, sig)).await?;
    results.put(
        "gas.grant.relayed",
        gas(&r),
        &format!("grantWithSig sent by the grantee with the patient's EIP-712 signature, Category scope: {receipt_method}"),
    );

    // Request / approve (doctor 2).
    let as_doctor2 = consent(&doctors[2]);
    let call = as_doctor2.requestAccess(
        patient.address(),
        Scope::Category(*lab.as_bytes32()).to_sol(),
        Purpose::Treatment.as_u8(),
        7 * DAY,
        ehr_contracts::ReasonCode::Treatment.as_u16(),
        // What a 9-byte reason ("follow-up") encrypts to: 49 + 9 bytes.
        Bytes::from(vec![0x5a; 58]),
    );
    match tx::send("request", call).await {
        Ok(r) => {
            results.put("gas.request_access", gas(&r), receipt_method);
            let id = r
                .inner
                .logs()
                .iter()
                .find_map(|l| ConsentRegistry::AccessRequested::decode_log_data(l.data()).ok())
                .map(|e| e.requestId);
            if let Some(id) = id {
                let keys =
                    grant_request(env, &patient, &master, doctors[2].address(), lab_scope).await?;
                let expiry = now(env).await? + 30 * DAY;
                match tx::send(
                    "approve",
                    consent(&patient).approveRequest(id, expiry, keys.wrappedKeys),
                )
                .await
                {
                    Ok(r) => results.put("gas.approve_request", gas(&r), receipt_method),
                    Err(e) => results.note(format!("approveRequest not measured: {e}")),
                }
            }
        }
        Err(e) => results.note(format!("requestAccess not measured: {e}")),
    }

    // Records. The patient's first record, then the doctor's (Category grant).
    let epoch = ConsentRegistry::new(d.consent_registry, env.reader())
        .epochOf(patient.address())
        .call()
        .await?;
    let ck = patient_keys.category_keys(epoch, &lab).expect("the patient holds every key");
    let add = |writer: &PrivateKeySigner, k: usize, salt: &str| {
        let digest = random_digest();
        let words = keywords(k, salt);
        let tags = TagList::build(ck.index_key(), &digest, &words).expect("tags");
        let instance = index(writer);
        let patient = patient.address();
        let category = *lab.as_bytes32();
        async move {
            tx::send(
                "add record",
                instance.addRecord(patient, digest, category, epoch, tags.to_bytes()),
            )
            .await
        }
    };
    let r = add(&patient, 10, "p").await?;
    results.put("gas.add_record.patient_first.k10", gas(&r), receipt_method);
    let r = add(&patient, 10, "q").await?;
    results.put("gas.add_record.patient.k10", gas(&r), receipt_method);
    let doctor_method = |k: usize, tags: usize| {
        format!(
            "doctor's addRecord with a Category grant (consent check on chain included), {k} \
             keyword(s) → {tags} tags (bucket), category `lab`, not the patient's first record: {receipt_method}"
        )
    };
    let mut doctor_ids = Vec::new();
    for (k, tags) in [(1, 8), (10, 16), (50, 64)] {
        let r = add(&doctors[0], k, "d").await?;
        results.put(&format!("gas.add_record.k{k}"), gas(&r), &doctor_method(k, tags));
        doctor_ids.push(k);
    }

    // Batched: 10 and 256 records × 10 keywords.
    for n in [10usize, 256] {
        let records: Vec<IRecordIndex::RecordInput> = (0..n)
            .map(|i| {
                let digest = random_digest();
                let tags = TagList::build(ck.index_key(), &digest, &keywords(10, &format!("b{i}")))
                    .expect("tags");
                IRecordIndex::RecordInput {
                    digest,
                    category: *lab.as_bytes32(),
                    tags: tags.to_bytes(),
                }
            })
            .collect();
        let r = tx::send(
            "add records",
            index(&doctors[0]).addRecords(patient.address(), epoch, records),
        )
        .await?;
        let key = if n == 256 {
            "gas.add_record.batched_per_record.k10".to_owned()
        } else {
            format!("gas.add_record.batched{n}_per_record.k10")
        };
        results.put(
            &key,
            gas(&r) / n as f64,
            &format!("doctor's addRecords with {n} records × 10 keywords (16 tags each) in one transaction, gasUsed / {n}"),
        );
    }

    // Tombstone: supersede the doctor's k1 record (record 3: patient 1, 2, then doctor 3..).
    {
        let digest = random_digest();
        let tags = TagList::build(ck.index_key(), &digest, &keywords(10, "s"))?;
        let as_doctor = index(&doctors[0]);
        let call = as_doctor.supersede(
            patient.address(),
            3,
            digest,
            *lab.as_bytes32(),
            epoch,
            tags.to_bytes(),
        );
        match tx::send("supersede", call).await {
            Ok(r) => results.put(
                "gas.supersede.k10",
                gas(&r),
                &format!(
                    "doctor's supersede (tombstone + new record, 10 keywords): {receipt_method}"
                ),
            ),
            Err(e) => results.note(format!("supersede not measured: {e}")),
        }
    }
    // A logged read of the smallest bucket (one fetch, or a search with up to ~20 hits):
    // ECIES overhead + 32 bytes of padded plaintext, random as ciphertext is.
    let sealed = Bytes::from(
        [random_digest().0, random_digest().0, random_digest().0].concat()[..81].to_vec(),
    );
    let r = tx::send("log reads", index(&doctors[0]).logReads(patient.address(), sealed)).await?;
    results.put("gas.log_reads", gas(&r), receipt_method);

    // Emergency access by doctor 3 (no grant).
    let as_doctor3 = consent(&doctors[3]);
    let call = as_doctor3.openEmergencyAccess(
        patient.address(),
        ehr_contracts::ReasonCode::EmergencyTreatment.as_u16(),
        // What a 21-byte reason ("unconscious in the ER") encrypts to: 49 + 21 bytes.
        Bytes::from(vec![0x5a; 70]),
        3600,
    );
    match tx::send("emergency", call).await {
        Ok(r) => results.put("gas.emergency_open", gas(&r), receipt_method),
        Err(e) => results.note(format!("openEmergencyAccess not measured: {e}")),
    }
    // Revoke doctor 1.
    let r = tx::send("revoke", consent(&patient).revoke(doctors[1].address())).await?;
    results.put(
        "gas.revoke",
        gas(&r),
        &format!("patient's revoke() of a Category grantee (new key epoch): {receipt_method}"),
    );

    // Claims, on the patient's records 1-3.
    gas_claims::run(env, &patient, now(env).await?, receipt_method, results).await?;
    // Guardians: doctors 0-2 guard the patient, doctor 3's break-glass access is open.
    gas_guardians::run(
        env,
        &patient,
        &doctors[..3],
        &doctors[3],
        hospital.address(),
        receipt_method,
        results,
    )
    .await?;

    // The key lifecycle: re-sharing the new epoch (after the revoke above) with doctor 0, who
    // keeps its lab grant; rotating the epoch; setting up and rotating key generations.
    let d = &env.deployment;
    let epoch = consent(&patient).epochOf(patient.address()).call().await?;
    let doctor0_key = RoleRegistry::new(d.role_registry, env.reader())
        .publicKeyOf(doctors[0].address())
        .call()
        .await?;
    let shared = ehr_index::grant::wrap_epoch_share(
        &master,
        &master.category_naming_key(),
        patient.address(),
        doctors[0].address(),
        &doctor0_key,
        epoch,
        std::slice::from_ref(lab_scope),
    )?;
    let r =
        tx::send("share", consent(&patient).shareEpochKeys(doctors[0].address(), shared)).await?;
    results.put(
        "gas.share_epoch_keys",
        gas(&r),
        &format!("shareEpochKeys of one Category scope to a grantee (key-material chain updated): {receipt_method}"),
    );
    let r = tx::send("rotate epoch", consent(&patient).rotateEpoch()).await?;
    results.put(
        "gas.rotate_epoch",
        gas(&r),
        &format!("patient's rotateEpoch() (index mirror updated): {receipt_method}"),
    );
    let r = tx::send(
        "rotate keys",
        consent(&patient).rotateKeys(alloy::primitives::FixedBytes(check("g2")?)),
    )
    .await?;
    results.put(
        "gas.rotate_keys",
        gas(&r),
        &format!("patient's rotateKeys(keyCheck): generation 2 at a new epoch (index mirror updated): {receipt_method}"),
    );

    // Baseline.
    let Some(path) = baseline else {
        results.note("SSTORE baseline not measured: no --baseline artifact".into());
        return Ok(());
    };
    let artifact: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let code = artifact["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| eyre::eyre!("no bytecode in {}", path.display()))?;
    let code: Bytes = code.parse()?;
    let deployer = env.provider(&env.admin);
    let receipt = deployer
        .send_transaction(TransactionRequest::default().with_deploy_code(code))
        .await?
        .get_receipt()
        .await?;
    let at = receipt.contract_address.ok_or_else(|| eyre::eyre!("baseline not deployed"))?;
    let base = |s: &PrivateKeySigner| SstoreBaselineIndex::new(at, env.provider(s));
    tx::send("allow", base(&patient).allow(doctors[0].address())).await?;
    // Warm the patient's record counter like ehrkit's (not the first record).
    let tokens = |k: usize, digest: &B256| -> Vec<B256> {
        keywords(k, "d")
            .iter()
            .map(|w| {
                let t = w.key(ck.index_key()).tag(digest).0;
                let mut out = [0u8; 32];
                out[..16].copy_from_slice(&t);
                B256::from(out)
            })
            .collect()
    };
    let digest = random_digest();
    tx::send(
        "base first",
        base(&patient).addRecord(patient.address(), digest, tokens(10, &digest)),
    )
    .await?;
    for k in [1usize, 10, 50] {
        let digest = random_digest();
        let r = tx::send(
            "baseline add",
            base(&doctors[0]).addRecord(patient.address(), digest, tokens(k, &digest)),
        )
        .await?;
        let key = if k == 10 {
            "gas.add_record.k10.sstore_baseline".to_owned()
        } else {
            format!("gas.add_record.k{k}.sstore_baseline")
        };
        results.put(
            &key,
            gas(&r),
            &format!(
                "bench/contracts/SstoreBaselineIndex.sol (one fresh SSTORE per keyword token, Hu et al. \
                 INFOCOM 2018 layout; writer check one mapping read), doctor writes the same record \
                 shape ({k} keyword tokens of the same keyword keys), compiled by forge with the \
                 project's solc settings, deployed in this run: {receipt_method}"
            ),
        );
    }
    let ours = results.figures["gas.add_record.k10"];
    let theirs = results.figures["gas.add_record.k10.sstore_baseline"];
    results.put(
        "gas.add_record.k10.baseline_ratio",
        theirs / ours,
        "gas.add_record.k10.sstore_baseline / gas.add_record.k10 (how many times cheaper ehrkit is)",
    );
    Ok(())
}
