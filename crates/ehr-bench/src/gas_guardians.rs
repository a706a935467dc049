//! Gas of guardians from real anvil receipts: the patient names 3 guardians (2 of 3) with a
//! real kit of the four default emergency categories over its epochs so far; two guardians
//! release their shares to a doctor whose break-glass access is open; the patient re-splits
//! at a new epoch, rules on a hospital and sets its policy.

use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::bindings::{ConsentRegistry, GuardianRegistry};
use ehr_contracts::tx;
use ehr_crypto::emergency_kit::{KitContext, KitGuardian, WRAPPED_SHARE_LEN, seal_kit};
use ehr_crypto::{GrantKeys, MasterSecret};

use crate::{Env, Results};

fn gas(receipt: &TransactionReceipt) -> f64 {
    receipt.gas_used as f64
}

/// A kit as the SDK builds it (fresh keys stand in for the patient's: the contract stores
/// the hash and emits the bytes, it cannot tell).
fn kit(
    patient: &PrivateKeySigner,
    guardians: &[PrivateKeySigner],
    epoch: u64,
) -> eyre::Result<Vec<u8>> {
    let master = MasterSecret::from_bytes([0x42; 32]);
    let naming = master.category_naming_key();
    let mut entries = Vec::new();
    for e in 0..=epoch {
        for name in ehr_sdk::guardians::DEFAULT_EMERGENCY_CATEGORIES {
            let name = ehr_index::category_name_bytes(name)?;
            let category = naming.category_id(&name);
            let keys = master.epoch_key(e).category_keys(&category);
            entries.push((e, GrantKeys::Category { category, name, keys }));
        }
    }
    let key = |s: &PrivateKeySigner| {
        ehr_crypto::SecretKey::from_slice(s.to_bytes().as_slice()).map(|k| k.public_key())
    };
    let guardians = guardians
        .iter()
        .map(|g| Ok(KitGuardian { address: g.address().0.0, key: key(g)? }))
        .collect::<eyre::Result<Vec<_>>>()?;
    let context = KitContext { patient: patient.address().0.0, epoch };
    Ok(seal_kit(&context, &key(patient)?, &guardians, 2, b"\x01", &entries)?)
}

pub(crate) async fn run(
    env: &Env,
    patient: &PrivateKeySigner,
    guardians: &[PrivateKeySigner],
    doctor: &PrivateKeySigner,
    hospital: alloy::primitives::Address,
    receipt_method: &str,
    results: &mut Results,
) -> eyre::Result<()> {
    let d = &env.deployment;
    let registry = |s: &PrivateKeySigner| {
        GuardianRegistry::new(d.guardian_registry().expect("a fresh deployment"), env.provider(s))
    };
    let consent = |s: &PrivateKeySigner| ConsentRegistry::new(d.consent_registry, env.provider(s));
    let epoch = consent(patient).epochOf(patient.address()).call().await?;
    let bytes = kit(patient, guardians, epoch)?;
    let list = guardians.iter().map(PrivateKeySigner::address).collect::<Vec<_>>();
    let r = tx::send(
        "set guardians",
        registry(patient).setGuardians(list, 2, epoch, bytes.clone().into()),
    )
    .await?;
    results.put(
        "gas.guardians.set",
        gas(&r),
        &format!(
            "patient's setGuardians: 3 guardians, 2 of 3, a {}-byte kit (4 categories × {} epochs): {receipt_method}",
            bytes.len(),
            epoch + 1
        ),
    );
    for (i, guardian) in guardians[..2].iter().enumerate() {
        let share = vec![0x5a; WRAPPED_SHARE_LEN];
        let index = (i + 1) as u8;
        let r = tx::send(
            "release",
            registry(guardian).releaseShare(
                patient.address(),
                doctor.address(),
                index,
                share.into(),
            ),
        )
        .await?;
        results.put(
            &format!("gas.guardians.release{}", i + 1),
            gas(&r),
            &format!("guardian's releaseShare to a break-glass doctor, release {} of 2: {receipt_method}", i + 1),
        );
    }
    tx::send("rotate the epoch", consent(patient).rotateEpoch()).await?;
    let bytes = kit(patient, guardians, epoch + 1)?;
    let r =
        tx::send("re-split", registry(patient).publishKit(epoch + 1, bytes.clone().into())).await?;
    results.put(
        "gas.guardians.publish_kit",
        gas(&r),
        &format!("patient's publishKit (a re-split), a {}-byte kit: {receipt_method}", bytes.len()),
    );
    let r = tx::send("deny", registry(patient).setHospitalRule(hospital, 2)).await?;
    results.put("gas.guardians.hospital_rule", gas(&r), receipt_method);
    let r = tx::send("policy", registry(patient).setEmergencyPolicy(false, 24 * 3600)).await?;
    results.put("gas.guardians.policy", gas(&r), receipt_method);
    Ok(())
}
