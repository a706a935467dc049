//! Guardian shares an RPC node or a guardian lies about, against a real anvil. The guardian
//! registry commits to the current emergency kit (`kitHashOf`) and chains every release to a
//! doctor (`releaseChainOf`); the doctor checks the events it is shown against both, and every
//! share against the kit's Feldman commitments. Without those checks a node could drop a
//! release (denying the emergency), replay or alter one, or hand the doctor a kit whose keys
//! it chose; a lying guardian could make the doctor reconstruct garbage.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::records_support::*;
use crate::security_support::{HttpProxy, Verdict};
use alloy::primitives::B256;
use alloy::sol_types::SolEvent;
use ehr_contracts::ReasonCode;
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::{
    EmergencyKitPublished, ShareReleased,
};
use ehr_sdk::emergency_keys::emergency_keys;
use ehr_sdk::guardians::{self, EmergencyScope};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::upload;
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Chain, Error, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// One `ShareReleased` left out.
    DropRelease,
    /// One `ShareReleased` sent twice.
    ReplayRelease,
    /// A byte of a released share flipped.
    AlterRelease,
    /// A byte of the kit flipped.
    AlterKit,
}

fn is_event(log: &serde_json::Value, address: &str, signature: B256) -> bool {
    log["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(address))
        && log["topics"][0].as_str().is_some_and(|t| t.eq_ignore_ascii_case(&signature.to_string()))
}

fn flip_in_data(log: &mut serde_json::Value, from_end: usize) {
    let data = log["data"].as_str().unwrap().to_owned();
    let mut bytes = alloy::hex::decode(&data[2..]).unwrap();
    let at = bytes.len() - from_end;
    bytes[at] ^= 0x01;
    log["data"] = format!("0x{}", alloy::hex::encode(bytes)).into();
}

#[tokio::test(flavor = "multi_thread")]
async fn guardian_shares_a_node_or_a_guardian_lies_about_are_refused() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let doctor = world.doctor.chain().address()?;
    let relative = world.stranger().await?;
    ehr_sdk::roles::register_patient(&relative).await?;
    let list = [
        world.nurse.chain().address()?,
        world.researcher.chain().address()?,
        relative.chain().address()?,
    ];
    let journal_dir = tempfile::tempdir()?;
    let journal = Journal::new(journal_dir.path());
    let record = upload(
        &world.patient,
        &journal,
        ehr_sdk::records::UploadRequest::new(
            patient,
            ehr_sdk::records::RecordSource::Bytes {
                file_name: "allergy.txt".into(),
                content_type: None,
                bytes: b"allergy: penicillin".to_vec(),
            },
        )
        .category(ehr_record::Category::new("allergy")?)
        .keywords(["penicillin".to_owned()]),
    )
    .await?;
    guardians::set_guardians(&world.patient, &list, 2, EmergencyScope::default()).await?;
    ehr_sdk::emergency::open(
        &world.doctor,
        patient,
        ReasonCode::EmergencyTreatment,
        None,
        Duration::from_secs(3600),
    )
    .await?;

    // A lying guardian: the relative unwraps its real share and releases a different value,
    // well wrapped to the doctor. It is named and does not count; with the nurse's honest
    // share that makes one of two: nothing readable.
    guardians::release(&world.nurse, patient, doctor).await?;
    let (head, _) = relative.chain().head().await?;
    let kit = guardians::current_kit(&relative, patient, head).await?.expect("a kit");
    let own = ehr_sdk::keys::signer_secret_key(&relative)?;
    let share = kit.kit.guardian_share(3, &own, &kit.context())?;
    let doctor_raw = ehr_sdk::roles::registered_public_key(&relative, doctor).await?;
    let doctor_key = ehr_crypto::public_key_for_address(&doctor_raw, &doctor.0.0)?;
    let lie = kit.kit.release_to(
        &share.tampered(),
        &relative.chain().address()?.0.0,
        &doctor_key,
        &kit.context(),
    )?;
    let as_relative = relative.guardians_as_signer()?;
    ehr_contracts::tx::send(
        "release a wrong share",
        as_relative.releaseShare(patient, doctor, 3, lie.into()),
    )
    .await?;
    let secret = ehr_sdk::keys::signer_secret_key(&world.doctor)?;
    let (head, _) = world.doctor.chain().head().await?;
    let got = emergency_keys(&world.doctor, patient, &secret, head).await?.expect("releases");
    assert_eq!(got.verified, 1);
    assert!(got.keys.is_empty(), "one verified share of two opens nothing");
    assert!(
        matches!(
            got.bad_shares.as_slice(),
            [(3, ehr_crypto::Error::ShareDoesNotVerify { index: 3 })]
        ),
        "{:?}",
        got.bad_shares
    );
    assert!(matches!(
        search(&world.doctor, patient, &SearchRequest::default()).await,
        Err(Error::NoSearchKeys { .. })
    ));
    guardians::release(&world.researcher, patient, doctor).await?;
    let found = search(&world.doctor, patient, &SearchRequest::default()).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [record.record_id]);

    // A lying node, behind a proxy.
    let registry = world.chain.deployment.guardian_registry()?.to_string();
    let anvil = world.chain.stack.anvil().rpc_url().clone();
    let proxy = HttpProxy::start(&anvil)?;
    let attack: Arc<Mutex<Option<Attack>>> = Arc::default();
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
            let signature = match current {
                Attack::AlterKit => EmergencyKitPublished::SIGNATURE_HASH,
                _ => ShareReleased::SIGNATURE_HASH,
            };
            let Some(at) = logs.iter().position(|l| is_event(l, &registry, signature)) else {
                return Verdict::Pass;
            };
            match current {
                Attack::DropRelease => {
                    logs.remove(at);
                }
                Attack::ReplayRelease => {
                    let copy = logs[at].clone();
                    logs.insert(at + 1, copy);
                }
                // Inside the wrapped share or the kit's sealed material, before the padding.
                Attack::AlterRelease | Attack::AlterKit => flip_in_data(&mut logs[at], 40),
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
    let mut table = Vec::new();
    for kind in [Attack::DropRelease, Attack::ReplayRelease, Attack::AlterRelease, Attack::AlterKit]
    {
        *attack.lock().unwrap() = Some(kind);
        let before = applied.load(std::sync::atomic::Ordering::SeqCst);
        let view = doctor_via_proxy().await?;
        match (kind, search(&view, patient, &SearchRequest::default()).await) {
            (Attack::AlterKit, Err(e @ Error::KitMismatch { .. }))
            | (_, Err(e @ Error::ReleaseChainMismatch { .. })) => {
                table.push(format!("{kind:?}: search → {e}"));
            }
            (_, other) => panic!("{kind:?}: the search was not refused: {other:?}"),
        }
        assert!(applied.load(std::sync::atomic::Ordering::SeqCst) > before, "{kind:?} applied");
    }
    *attack.lock().unwrap() = None;
    println!("\n{}", table.join("\n"));
    let view = doctor_via_proxy().await?;
    assert_eq!(search(&view, patient, &SearchRequest::default()).await?.hits.len(), 1);
    Ok(())
}
