//! Gas of the main operations in each build of the contracts (`abi/`, `abi/cancun/`,
//! `abi/shanghai/`), each build deployed to its own fresh anvil. anvil runs prague, which
//! runs every older build too, so the figures differ only by the code: OpenZeppelin 5.4's
//! loops where 5.7 uses MCOPY, and whatever else the compiler does per target.
//!
//! Each operation gets two figures: the whole transaction's `gasUsed`, and its execution gas
//! (`gasUsed` less the 21,000 base and the calldata's 4/16 gas per zero/non-zero byte). Digests,
//! tags and wrapped keys are random, so calldata cost varies by a few dozen gas between runs;
//! the execution gas depends on the code alone, and is what tells the builds apart.

use alloy::consensus::Transaction;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::{ConsentRegistry, RecordIndex, RoleRegistry};
use ehr_contracts::{EvmBuild, OrgKind, tx};
use ehr_index::grant::NamedScope;
use ehr_index::{SearchKeys, TagList, derive_master_secret};

use crate::gas::{grant_request, keywords, random_digest};
use crate::{Env, Results, public_key};

/// The operations measured per build: the figure keys and how each was measured.
const OPERATIONS: [(&str, &str); 3] = [
    ("register_patient", "registerPatient"),
    ("grant", "the patient's grant(), new Category scope, wrapped keys for one grantee"),
    (
        "add_record.k10",
        "a doctor's addRecord with a Category grant, 10 keywords (16 tags), not the patient's first record",
    ),
];

/// The figure key of `operation` in `build`.
pub(crate) fn key(build: EvmBuild, operation: &str) -> String {
    format!("gas.build.{build}.{operation}")
}

/// The operations' names, for the report.
pub(crate) fn operations() -> impl Iterator<Item = &'static str> {
    OPERATIONS.iter().map(|(name, _)| *name)
}

pub(crate) async fn run(results: &mut Results) -> eyre::Result<()> {
    for build in EvmBuild::ALL {
        let env = Env::start_build(false, Some(build)).await?;
        assert_eq!(env.deployment.evm_build, build, "the build asked for is deployed");
        let receipts = measure(&env).await?;
        for ((name, what), receipt) in OPERATIONS.iter().zip(receipts) {
            let method = format!(
                "{what}, {build} build of the contracts on a fresh anvil (prague): gasUsed of the \
                 transaction's receipt in this run"
            );
            results.put(&key(build, name), receipt.gas_used as f64, &method);
            let input = env
                .reader()
                .get_transaction_by_hash(receipt.transaction_hash)
                .await?
                .ok_or_else(|| eyre::eyre!("the {name} transaction is gone"))?
                .inner
                .input()
                .clone();
            let execution = receipt.gas_used - intrinsic_gas(&input);
            let method = format!(
                "the same transaction's gasUsed less 21,000 and its calldata (4 gas per zero byte, \
                 16 per other byte): what the {build} code spent"
            );
            results.put(&format!("{}.execution", key(build, name)), execution as f64, &method);
        }
    }
    Ok(())
}

/// The base and calldata gas of a call with `input` (EIP-2028 prices; no access list).
fn intrinsic_gas(input: &[u8]) -> u64 {
    21_000 + input.iter().map(|b| if *b == 0 { 4 } else { 16 }).sum::<u64>()
}

/// registerPatient, grant and a doctor's addRecord (k = 10), in `OPERATIONS` order.
async fn measure(env: &Env) -> eyre::Result<[TransactionReceipt; 3]> {
    let d = &env.deployment;
    let roles = |s: &PrivateKeySigner| RoleRegistry::new(d.role_registry, env.provider(s));
    let hospital = env.account().await?;
    let kind = OrgKind::Hospital.as_u8();
    let as_admin = roles(&env.admin);
    tx::send("add hospital", as_admin.addOrganization(hospital.address(), kind, "H".into()))
        .await?;
    let doctor = env.account().await?;
    tx::send("add staff", roles(&hospital).addStaff(doctor.address())).await?;
    tx::send("staff key", roles(&doctor).registerPublicKey(public_key(&doctor))).await?;

    let patient = env.account().await?;
    let registered =
        tx::send("register", roles(&patient).registerPatient(public_key(&patient))).await?;

    let master = derive_master_secret(&patient, d.chain_id, d.record_index).await?;
    let lab = SearchKeys::patient(master.clone()).category_id("lab")?;
    let lab_scope = NamedScope::Category("lab".into());
    let request = grant_request(env, &patient, &master, doctor.address(), &lab_scope).await?;
    let consent = ConsentRegistry::new(d.consent_registry, env.provider(&patient));
    let granted = tx::send("grant", consent.grant(request)).await?;

    let keys = SearchKeys::patient(master);
    let category_keys = keys.category_keys(0, &lab).expect("the patient holds every key");
    let add = |writer: &PrivateKeySigner, salt: &str| {
        let digest = random_digest();
        let tags =
            TagList::build(category_keys.index_key(), &digest, &keywords(10, salt)).expect("tags");
        let index = RecordIndex::new(d.record_index, env.provider(writer));
        let (patient, category) = (patient.address(), *lab.as_bytes32());
        async move {
            tx::send("add record", index.addRecord(patient, digest, category, 0, tags.to_bytes()))
                .await
        }
    };
    // The patient's first record pays for its counters; the doctor's is the one measured.
    add(&patient, "p").await?;
    let added = add(&doctor, "d").await?;
    Ok([registered, granted, added])
}
