//! Key material an RPC node invents, drops or alters, against a real anvil behind a lying
//! proxy. The consent registry commits to every piece of key material it hands out
//! (`keyChainOf`); a grantee folds the key events it is shown into the same chain and uses no
//! key unless both agree. Without that check, one forged `AccessGranted` carrying keys the
//! forger chose makes an honest doctor encrypt and tag its next record under them.

use std::sync::{Arc, Mutex};

use crate::records_support::*;
use crate::security_support::{HttpProxy, Verdict};
use alloy::primitives::B256;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ConsentRegistry::{AccessGranted, EpochKeysShared};
use ehr_contracts::bindings::IConsentRegistry;
use ehr_index::{GrantKeys, MasterSecret};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::upload;
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Chain, Error, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyAttack {
    /// A second `AccessGranted` for the pair, carrying an All key the forger chose.
    ForgeGrant,
    /// An `EpochKeysShared` for the pair that the patient never sent.
    ForgeShare,
    /// The pair's real `AccessGranted` left out.
    Drop,
    /// The real grant's key material with one byte flipped.
    Alter,
}

fn is_event(log: &serde_json::Value, address: &str, signature: B256) -> bool {
    log["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(address))
        && log["topics"][0].as_str().is_some_and(|t| t.eq_ignore_ascii_case(&signature.to_string()))
}

/// `template` (a real log) turned into `event`, one log index later.
fn forged_log(
    template: &serde_json::Value,
    event: alloy::primitives::LogData,
) -> serde_json::Value {
    let mut forged = template.clone();
    forged["topics"] =
        event.topics().iter().map(|t| serde_json::Value::from(t.to_string())).collect();
    forged["data"] = format!("0x{}", alloy::hex::encode(&event.data)).into();
    let index =
        u64::from_str_radix(template["logIndex"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
    forged["logIndex"] = format!("0x{:x}", index + 1).into();
    forged
}

#[tokio::test(flavor = "multi_thread")]
async fn key_material_the_chain_never_handed_out_is_refused() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let doctor = world.doctor.chain().address()?;
    world
        .grant(
            &world.doctor,
            ehr_sdk::NamedScope::Category("lab".into()),
            ehr_contracts::Purpose::Treatment,
        )
        .await?;
    let journal_dir = tempfile::tempdir()?;
    let journal = Journal::new(journal_dir.path());
    let lab_record = |word: &str| lab_note(patient, word);
    // Honest: the doctor writes one lab record.
    upload(&world.doctor, &journal, lab_record("honest")).await?;

    // What a forger can build from public data alone: key material it chose, wrapped to the
    // doctor's registered public key, for the patient's current epoch.
    let forger_master = MasterSecret::from_bytes([0x66; 32]);
    let doctor_public = ehr_sdk::roles::public_key(world.doctor.chain().signer()?);
    let forged_keys = ehr_index::grant::wrap_grant(
        &GrantKeys::All {
            epoch: forger_master.epoch_key(0),
            naming: forger_master.category_naming_key(),
        },
        patient,
        doctor,
        &doctor_public,
        0,
    )?;
    let consent = world.chain.deployment.consent_registry.to_string();
    let all_scope = IConsentRegistry::Scope { kind: 0, value: B256::ZERO };
    let forged_grant = AccessGranted {
        patient,
        grantee: doctor,
        scopeId: B256::from(ehr_index::GrantScope::All.scope_id()),
        scope: all_scope,
        purpose: 0,
        expiry: u64::MAX / 2,
        epoch: 0,
        submitter: patient,
        wrappedKeys: forged_keys.clone(),
    }
    .encode_log_data();
    let forged_share =
        EpochKeysShared { patient, grantee: doctor, epoch: 0, wrappedKeys: forged_keys }
            .encode_log_data();

    let anvil = world.chain.stack.anvil().rpc_url().clone();
    let proxy = HttpProxy::start(&anvil)?;
    let attack: Arc<Mutex<Option<KeyAttack>>> = Arc::default();
    let applied = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let (attack, applied) = (attack.clone(), applied.clone());
        proxy.after(move |req, resp| {
            let Some(current) = *attack.lock().unwrap() else { return Verdict::Pass };
            if req.rpc_method().as_deref() != Some("eth_getLogs") {
                return Verdict::Pass;
            }
            let mut body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            let Some(logs) = body["result"].as_array_mut() else { return Verdict::Pass };
            let Some(at) =
                logs.iter().position(|l| is_event(l, &consent, AccessGranted::SIGNATURE_HASH))
            else {
                return Verdict::Pass;
            };
            match current {
                KeyAttack::ForgeGrant => {
                    let forged = forged_log(&logs[at], forged_grant.clone());
                    logs.insert(at + 1, forged);
                }
                KeyAttack::ForgeShare => {
                    let forged = forged_log(&logs[at], forged_share.clone());
                    logs.insert(at + 1, forged);
                }
                KeyAttack::Drop => {
                    logs.remove(at);
                }
                KeyAttack::Alter => {
                    let data = logs[at]["data"].as_str().unwrap().to_owned();
                    let mut bytes = alloy::hex::decode(&data[2..]).unwrap();
                    let last = bytes.len() - 40; // inside the wrapped keys, before the padding
                    bytes[last] ^= 0x01;
                    logs[at]["data"] = format!("0x{}", alloy::hex::encode(bytes)).into();
                }
            }
            applied.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            resp.body = serde_json::to_vec(&body).unwrap();
            Verdict::Pass
        });
    }
    let doctor_via_proxy = || async {
        let chain =
            Chain::connect(proxy.url("/"), Some(world.doctor.chain().signer()?.clone())).await?;
        eyre::Ok(
            Session::with_deployment(chain, world.chain.deployment.clone(), Some(&world.store_url))
                .await?,
        )
    };
    let records_on_chain = || async {
        let state = {
            let client = world.patient.index_client();
            client.state_at(patient, client.latest_block().await?).await?
        };
        eyre::Ok(state.records)
    };

    let mut table = Vec::new();
    for kind in [KeyAttack::ForgeGrant, KeyAttack::ForgeShare, KeyAttack::Drop, KeyAttack::Alter] {
        *attack.lock().unwrap() = Some(kind);
        let before = applied.load(std::sync::atomic::Ordering::SeqCst);
        let view = doctor_via_proxy().await?;
        let records = records_on_chain().await?;
        match upload(&view, &journal, lab_record(&format!("{kind:?}"))).await {
            Err(Error::Index(e @ ehr_index::Error::KeyMaterialMismatch { .. })) => {
                table.push(format!("{kind:?}: upload → {e}"))
            }
            other => panic!("{kind:?}: the upload was not refused for its key material: {other:?}"),
        }
        assert!(applied.load(std::sync::atomic::Ordering::SeqCst) > before, "{kind:?} applied");
        assert_eq!(records_on_chain().await?, records, "{kind:?}: nothing is indexed");
        match search(&view, patient, &SearchRequest::default()).await {
            Err(Error::Index(ehr_index::Error::KeyMaterialMismatch { grantee, .. })) => {
                assert_eq!(grantee, doctor);
                table.push(format!("{kind:?}: search refused"));
            }
            other => panic!("{kind:?}: the search was not refused: {other:?}"),
        }
    }
    *attack.lock().unwrap() = None;
    println!("\n{}", table.join("\n"));

    // The honest node again: the doctor reads and writes as before.
    let view = doctor_via_proxy().await?;
    upload(&view, &journal, lab_record("after")).await?;
    let found = search(&view, patient, &SearchRequest::default()).await?;
    assert_eq!(found.hits.len(), 2);
    Ok(())
}
