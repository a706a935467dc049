//! Threshold guardians against a real anvil: a patient names three guardians (2 of 3) and
//! publishes its emergency kit; a hospital doctor breaks the glass; with one release it reads
//! nothing, with two it reads the emergency categories (allergies, medications) and nothing
//! else; guardians refuse outside the policy (denied hospital, over the renewal cap, closed
//! emergency); the kit is re-split at the next epoch; every step is in the patient's audit
//! trail; and bad input gets specific errors with nothing changed.

use std::time::Duration;

use crate::records_support::*;
use alloy::primitives::Address;
use ehr_contracts::{ReasonCode, RevertReason};
use ehr_record::Category;
use ehr_sdk::emergency::{self, HospitalRule};
use ehr_sdk::emergency_keys::emergency_keys;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::guardians::{self, EmergencyScope, Refusal};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};
use ehr_sdk::{Error, Session};

/// A small text record of `category` for `patient`, keyword `word`.
fn note(patient: Address, category: &str, word: &str) -> UploadRequest {
    let bytes = format!("{category} note: {word}").into_bytes();
    UploadRequest::new(
        patient,
        RecordSource::Bytes { file_name: format!("{word}.txt"), content_type: None, bytes },
    )
    .category(Category::new(category).expect("a valid category"))
    .keywords([word.to_owned()])
}

/// The ids of the records `session` finds for `patient` (none without any key).
async fn readable(session: &Session, patient: Address) -> eyre::Result<Vec<u64>> {
    let report = match search(session, patient, &SearchRequest::default()).await {
        Err(Error::NoSearchKeys { .. }) => return Ok(Vec::new()),
        other => other?,
    };
    let mut ids: Vec<u64> = report.hits.iter().map(|h| h.record_id).collect();
    ids.sort_unstable();
    Ok(ids)
}

fn revert_name(error: &Error) -> Option<&'static str> {
    match error {
        Error::Contract(e) => e.revert_reason().map(RevertReason::error_name),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_of_three_guardians_let_a_break_glass_doctor_read_the_emergency_scope()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let doctor = world.doctor.chain().address()?;
    let hospital = world.hospital.chain().address()?;
    // Guardians: a nurse of the hospital, a lab's researcher and a relative (a patient).
    let relative = world.stranger().await?;
    ehr_sdk::roles::register_patient(&relative).await?;
    let cast = [&world.nurse, &world.researcher, &relative];
    let guardian_list: Vec<Address> =
        cast.iter().map(|s| s.chain().address()).collect::<Result<_, _>>()?;

    let journal_dir = tempfile::tempdir()?;
    let journal = Journal::new(journal_dir.path());
    let allergy = upload(&world.patient, &journal, note(patient, "allergy", "penicillin")).await?;
    let medication =
        upload(&world.patient, &journal, note(patient, "prescription", "warfarin")).await?;
    let lab = upload(&world.patient, &journal, lab_note(patient, "cholesterol")).await?;

    // Bad input: a specific error each, and nothing stored.
    let registry = world.patient.guardians()?;
    for (threshold, list) in [(4, &guardian_list[..]), (0, &guardian_list[..]), (1, &[][..])] {
        match guardians::set_guardians(&world.patient, list, threshold, EmergencyScope::default())
            .await
        {
            Err(Error::Crypto(ehr_crypto::Error::InvalidThreshold { .. })) => {}
            other => panic!("{threshold} of {}: {other:?}", list.len()),
        }
    }
    let keyless = world.hospital.chain().address()?;
    match guardians::set_guardians(
        &world.patient,
        &[guardian_list[0], keyless],
        1,
        EmergencyScope::default(),
    )
    .await
    {
        Err(Error::GuardianWithoutPublicKey { guardian }) => assert_eq!(guardian, keyless),
        other => panic!("a guardian without a public key: {other:?}"),
    }
    match guardians::set_guardians(
        &world.patient,
        &[guardian_list[0], guardian_list[0]],
        1,
        EmergencyScope::default(),
    )
    .await
    {
        Err(Error::DuplicateGuardian { guardian }) => assert_eq!(guardian, guardian_list[0]),
        other => panic!("a guardian twice: {other:?}"),
    }
    assert!(registry.guardianshipOf(patient).call().await?.guardians.is_empty(), "nothing stored");

    // The patient names its guardians, 2 of 3, for the default emergency scope.
    let kit =
        guardians::set_guardians(&world.patient, &guardian_list, 2, EmergencyScope::default())
            .await?;
    assert_eq!((kit.kit_id, kit.epoch, kit.threshold), (1, 0, 2));

    // No emergency yet: a guardian refuses, before sending anything.
    match guardians::release(&world.nurse, patient, doctor).await {
        Err(Error::ReleaseRefused { reason: Refusal::NotOpen, .. }) => {}
        other => panic!("release without an emergency: {other:?}"),
    }

    emergency::open(
        &world.doctor,
        patient,
        ReasonCode::EmergencyTreatment,
        None,
        Duration::from_secs(6 * 3600),
    )
    .await?;
    assert_eq!(readable(&world.doctor, patient).await?, Vec::<u64>::new(), "no release: nothing");

    // One release: still nothing readable.
    let first = guardians::release(&world.nurse, patient, doctor).await?;
    assert_eq!((first.index, first.released), (1, 1));
    assert_eq!(readable(&world.doctor, patient).await?, Vec::<u64>::new(), "t - 1: nothing");
    let out = tempfile::tempdir()?;
    match fetch(&world.doctor, patient, allergy.record_id, FetchOutput::File(out.path().join("a")))
        .await
    {
        Err(Error::NoRecordKey { .. }) => {}
        other => panic!("a fetch with one share: {other:?}"),
    }

    // The watcher of the second guardian releases: the doctor reads allergies and medications,
    // not the lab result.
    let (head, _) = world.patient.chain().head().await?;
    let outcomes = guardians::watch_once(&world.researcher, 0, head).await?;
    assert!(
        matches!(outcomes.as_slice(), [guardians::WatchOutcome::Released(r)] if r.index == 2),
        "{outcomes:?}"
    );
    assert_eq!(
        readable(&world.doctor, patient).await?,
        vec![allergy.record_id, medication.record_id],
        "t releases: the emergency scope and only it"
    );
    let fetched = fetch(
        &world.doctor,
        patient,
        allergy.record_id,
        FetchOutput::File(out.path().join("allergy.txt")),
    )
    .await?;
    assert_eq!(fetched.category, "allergy");
    assert_eq!(
        std::fs::read_to_string(out.path().join("allergy.txt"))?,
        "allergy note: penicillin"
    );
    match fetch(&world.doctor, patient, lab.record_id, FetchOutput::File(out.path().join("lab")))
        .await
    {
        Err(Error::NoRecordKey { .. }) => {}
        other => panic!("the lab record is outside the emergency scope: {other:?}"),
    }
    // The doctor may add an allergy under break-glass, with the released keys, but not
    // correct a record: that needs a grant.
    let added = upload(&world.doctor, &journal, note(patient, "allergy", "latex")).await?;
    let index = ehr_contracts::bindings::RecordIndex::new(
        world.chain.deployment.record_index,
        world.doctor.chain().writer()?.clone(),
    );
    let mut category = [0u8; 32];
    category[0] = 1;
    let call = index.supersede(
        patient,
        allergy.record_id,
        alloy::primitives::B256::repeat_byte(7),
        category.into(),
        0,
        vec![0u8; 128].into(),
    );
    let refused = ehr_contracts::tx::send("supersede under break-glass", call).await.unwrap_err();
    assert_eq!(
        refused.revert_reason().map(RevertReason::error_name),
        Some("IndexBreakGlassCannotSupersede"),
        "{refused}"
    );

    // Refusals outside the policy. A denied hospital:
    emergency::set_hospital_rule(&world.patient, hospital, HospitalRule::Denied).await?;
    match guardians::release(&relative, patient, doctor).await {
        Err(Error::ReleaseRefused {
            reason: Refusal::HospitalNotAllowed { hospital: h }, ..
        }) => {
            assert_eq!(h, hospital)
        }
        other => panic!("a denied hospital: {other:?}"),
    }
    // The contract holds the same rule if a guardian ignores it.
    let kit_now = guardians::current_kit(&relative, patient, head).await?.expect("a kit");
    let bogus = vec![1u8; 81];
    let as_relative = relative.guardians_as_signer()?;
    let call = as_relative.releaseShare(patient, doctor, 3, bogus.into());
    let refused = ehr_contracts::tx::send("release anyway", call).await.unwrap_err();
    assert!(refused.to_string().contains("does not admit hospital"), "{refused}");
    assert_eq!(kit_now.kit_id, 1);
    // ... and no new opening from it.
    let reopen = emergency::open(
        &world.doctor,
        patient,
        ReasonCode::EmergencyTreatment,
        None,
        Duration::from_secs(3600),
    )
    .await
    .unwrap_err();
    assert_eq!(revert_name(&reopen), Some("GuardianHospitalNotAllowed"), "{reopen}");
    emergency::set_hospital_rule(&world.patient, hospital, HospitalRule::Default).await?;
    // Over the renewal cap (the doctor used 6 hours; the patient lowers the cap to 1):
    emergency::set_policy(&world.patient, false, Some(Duration::from_secs(3600))).await?;
    match guardians::release(&relative, patient, doctor).await {
        Err(Error::ReleaseRefused { reason: Refusal::OverRenewalCap { used, cap }, .. }) => {
            assert_eq!((used, cap), (6 * 3600, 3600))
        }
        other => panic!("over the cap: {other:?}"),
    }
    let renew = emergency::open(
        &world.doctor,
        patient,
        ReasonCode::EmergencyTreatment,
        None,
        Duration::from_secs(72 * 3600),
    )
    .await
    .unwrap_err();
    assert_eq!(revert_name(&renew), Some("GuardianRenewalCapExceeded"), "{renew}");
    emergency::set_policy(&world.patient, false, None).await?;
    // A closed emergency:
    emergency::close(&world.patient, patient, doctor).await?;
    match guardians::release(&relative, patient, doctor).await {
        Err(Error::ReleaseRefused { reason: Refusal::NotOpen, .. }) => {}
        other => panic!("a closed emergency: {other:?}"),
    }
    // A watcher started from the first block (as `ehr guardian watch` does by default, to
    // catch up after being down) passes over the closed access rather than reporting it.
    let (head, _) = world.patient.chain().head().await?;
    let caught_up = guardians::watch_once(&relative, 0, head).await?;
    assert!(caught_up.is_empty(), "nothing to act on: {caught_up:?}");
    // A stranger is no guardian.
    match guardians::release(&world.doctor, patient, doctor).await {
        Err(Error::NotAGuardian { .. }) => {}
        other => panic!("a stranger: {other:?}"),
    }

    // The next epoch re-splits the kit: old releases stop counting, and two new ones let the
    // doctor read everything in scope, of both epochs.
    let rotated = ehr_sdk::rotation::rotate(&world.patient, Vec::new()).await?;
    let resplit = rotated.reshare.emergency_kit.expect("the kit is re-split");
    assert_eq!((resplit.kit_id, resplit.epoch), (2, 1));
    let newer = upload(&world.patient, &journal, note(patient, "allergy", "aspirin")).await?;
    emergency::confirm(&world.patient, doctor).await?;
    emergency::open(
        &world.doctor,
        patient,
        ReasonCode::EmergencyTreatment,
        None,
        Duration::from_secs(3600),
    )
    .await?;
    let secret = ehr_sdk::keys::signer_secret_key(&world.doctor)?;
    let (head, _) = world.patient.chain().head().await?;
    assert!(emergency_keys(&world.doctor, patient, &secret, head).await?.is_none());
    guardians::release(&world.nurse, patient, doctor).await?;
    guardians::release(&relative, patient, doctor).await?;
    assert_eq!(
        readable(&world.doctor, patient).await?,
        vec![allergy.record_id, medication.record_id, added.record_id, newer.record_id],
    );

    // The patient sees it all in its audit trail.
    let trail = ehr_sdk::audit::audit(&world.patient, patient, None).await?;
    let summaries: Vec<&str> = trail.entries.iter().map(|e| e.summary.as_str()).collect();
    let count = |needle: &str| summaries.iter().filter(|s| s.contains(needle)).count();
    assert_eq!(count("named 2 of 3 guardians"), 1, "{summaries:#?}");
    assert_eq!(count("published emergency kit"), 2);
    assert_eq!(count("emergency access opened by"), 2);
    assert_eq!(count(&format!("released its share of kit 1 to {doctor}")), 2);
    assert_eq!(count(&format!("released its share of kit 2 to {doctor}")), 2);
    assert_eq!(count(&format!("break-glass from hospital {hospital}: denied")), 1);
    assert_eq!(count("break-glass policy: any hospital not denied"), 2);

    // A rotation made where kits cannot be split (the page sends rotateEpoch from the wallet)
    // leaves the kit behind; the patient's next action through the SDK re-splits it.
    let consent = world.patient.consent_as_signer()?;
    ehr_contracts::tx::send("rotate as the page does", consent.rotateEpoch()).await?;
    assert!(guardians::kit_is_stale(&world.patient).await?, "the kit is behind the epoch");
    ehr_sdk::rotation::maintain(&world.patient).await?;
    assert!(!guardians::kit_is_stale(&world.patient).await?, "re-split on the next action");
    let registry = world.patient.guardians()?;
    let set = ehr_contracts::tx::call("read", registry.guardianshipOf(patient)).await?;
    assert_eq!((set.kitId, set.epoch), (3, 2), "kit 3 covers epoch 2");
    Ok(())
}
