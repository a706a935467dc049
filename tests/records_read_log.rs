//! Reads in the audit trail, against a real anvil: a grantee's fetch and search are logged on
//! chain before their results are handed over; the patient's `audit` opens them ("fetched
//! record 1", "searched \"hba1c\" and found record 1"); the public event carries neither the
//! record number nor the keyword; `--no-log` is refused until the patient flags the grant; a
//! log sealed in another reader's name does not open as that reader; a stranger cannot log.

use crate::records_support::*;
use alloy::primitives::Bytes;
use ehr_contracts::bindings::RecordIndex;
use ehr_contracts::{Purpose, tx};
use ehr_crypto::read_log::{ReadKind, ReadLogBinding, ReadSet, seal_reads};
use ehr_sdk::Error;
use ehr_sdk::audit::{AuditEvent, ReadAction, audit};
use ehr_sdk::fetch::{FetchOutput, fetch, fetch_with};
use ehr_sdk::journal::Journal;
use ehr_sdk::read_log::{ReadLogReport, ReadLogging};
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};

/// The `ReadsLogged` entries of the patient's trail, as the patient sees them.
async fn reads_seen_by_patient(world: &World) -> eyre::Result<Vec<AuditEvent>> {
    let patient = world.patient.chain().address()?;
    let trail = audit(&world.patient, patient, None).await?;
    Ok(trail
        .entries
        .into_iter()
        .filter(|e| matches!(e.event, AuditEvent::ReadsLogged { .. }))
        .map(|e| e.event)
        .collect())
}

fn sink() -> FetchOutput {
    FetchOutput::Writer(Box::new(std::io::sink()))
}

#[tokio::test(flavor = "multi_thread")]
async fn grantee_reads_are_logged_sealed_to_the_patient_and_unlogged_only_where_allowed()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let doctor = world.doctor.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(&dir.path().join("data"));
    let request =
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into())).keywords(["hba1c"]);
    let record = upload(&world.patient, &journal, request).await?.record_id;
    world.grant(&world.doctor, NamedScope::Category("lab".into()), Purpose::Treatment).await?;

    // The patient reading its own records logs nothing.
    let own = fetch(&world.patient, patient, record, sink()).await?;
    assert_eq!(own.read_log, ReadLogReport::OwnRecords);
    assert!(reads_seen_by_patient(&world).await?.is_empty());

    // The doctor's fetch and search are logged, one transaction each.
    let fetched = fetch(&world.doctor, patient, record, sink()).await?;
    let ReadLogReport::Logged { txs } = &fetched.read_log else {
        panic!("a grantee's fetch is logged: {:?}", fetched.read_log)
    };
    assert_eq!(txs.len(), 1);
    let found = search(
        &world.doctor,
        patient,
        &SearchRequest { keywords: vec!["hba1c".into()], ..Default::default() },
    )
    .await?;
    assert_eq!(found.hits.len(), 1);
    assert!(matches!(found.read_log, ReadLogReport::Logged { .. }));

    let reads = reads_seen_by_patient(&world).await?;
    assert_eq!(reads.len(), 2, "{reads:?}");
    match &reads[0] {
        AuditEvent::ReadsLogged { reader, action, record_ids, unopenable, .. } => {
            assert_eq!(*reader, doctor);
            assert_eq!(*action, Some(ReadAction::Fetch));
            assert_eq!(record_ids.as_deref(), Some(&[record][..]));
            assert!(!unopenable);
        }
        other => panic!("{other:?}"),
    }
    match &reads[1] {
        AuditEvent::ReadsLogged { action, record_ids, keywords, .. } => {
            assert_eq!(*action, Some(ReadAction::Search));
            assert_eq!(record_ids.as_deref(), Some(&[record][..]));
            assert_eq!(keywords.as_deref(), Some(&["hba1c".to_owned()][..]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reads[0].describe(), format!("{doctor} fetched record {record}"));
    assert_eq!(
        reads[1].describe(),
        format!("{doctor} searched \"hba1c\" and found record {record}")
    );

    // Anyone else reading the trail learns that the doctor read, not what.
    let public = audit(&world.nurse, patient, None).await?;
    let seen: Vec<_> = public
        .entries
        .iter()
        .filter(|e| matches!(e.event, AuditEvent::ReadsLogged { .. }))
        .collect();
    assert_eq!(seen.len(), 2);
    for entry in seen {
        let AuditEvent::ReadsLogged { action, record_ids, keywords, .. } = &entry.event else {
            unreachable!()
        };
        assert!(action.is_none() && record_ids.is_none() && keywords.is_none());
        assert!(!entry.summary.contains("hba1c"), "{}", entry.summary);
    }

    // --no-log is refused while the grant does not allow it, and nothing is read or logged.
    let err =
        fetch_with(&world.doctor, patient, record, sink(), ReadLogging::Skip).await.unwrap_err();
    assert!(matches!(err, Error::ReadLogRequired { .. }), "{err}");
    let skip = SearchRequest {
        keywords: vec!["hba1c".into()],
        logging: ReadLogging::Skip,
        ..Default::default()
    };
    let err = search(&world.doctor, patient, &skip).await.unwrap_err();
    assert!(matches!(err, Error::ReadLogRequired { .. }), "{err}");
    // A search that matches nothing still needs a flagged All grant to go unlogged.
    let nothing = SearchRequest { keywords: vec!["absent".into()], ..skip.clone() };
    let err = search(&world.doctor, patient, &nothing).await.unwrap_err();
    assert!(matches!(err, Error::ReadLogRequired { .. }), "{err}");
    assert_eq!(reads_seen_by_patient(&world).await?.len(), 2);

    // The patient flags the lab grant: the doctor may now read without a log.
    let lab = NamedScope::Category("lab".into());
    ehr_sdk::consent::set_unlogged_reads(&world.patient, doctor, &lab, true).await?;
    let grants = ehr_sdk::consent::stored_grants(&world.patient, patient).await?;
    assert!(grants.iter().any(|g| g.grant.grantee == doctor && g.unlogged_reads));
    let quiet = fetch_with(&world.doctor, patient, record, sink(), ReadLogging::Skip).await?;
    assert_eq!(quiet.read_log, ReadLogReport::Skipped);
    assert_eq!(search(&world.doctor, patient, &skip).await?.read_log, ReadLogReport::Skipped);
    assert_eq!(reads_seen_by_patient(&world).await?.len(), 2, "nothing new was logged");
    // Re-granting the scope logs again.
    world.grant(&world.doctor, lab, Purpose::Treatment).await?;
    let err =
        fetch_with(&world.doctor, patient, record, sink(), ReadLogging::Skip).await.unwrap_err();
    assert!(matches!(err, Error::ReadLogRequired { .. }), "{err}");

    // The nurse, also a grantee now, submits a log sealed in the doctor's name: the chain
    // names the nurse as the reader, and the log does not open as the nurse's.
    world.grant(&world.nurse, NamedScope::All, Purpose::Treatment).await?;
    let d = world.chain.deployment.clone();
    let patient_key = ehr_crypto::public_key_for_address(
        &ehr_sdk::roles::registered_public_key(&world.patient, patient).await?,
        &patient.0.0,
    )?;
    let in_doctors_name = ReadLogBinding {
        chain_id: d.chain_id,
        record_index: d.record_index.0.0,
        patient: patient.0.0,
        reader: doctor.0.0,
    };
    let forged = seal_reads(
        &patient_key,
        &in_doctors_name,
        &ReadSet::new(ReadKind::Fetch, vec![99], vec![]),
    )?;
    let index = RecordIndex::new(d.record_index, world.nurse.chain().writer()?.clone());
    tx::send("log reads", index.logReads(patient, Bytes::from(forged.clone()))).await?;
    let reads = reads_seen_by_patient(&world).await?;
    let AuditEvent::ReadsLogged { reader, unopenable, record_ids, .. } = reads.last().unwrap()
    else {
        unreachable!()
    };
    assert_eq!(*reader, world.nurse.chain().address()?);
    assert!(unopenable, "a log sealed for another reader does not open");
    assert!(record_ids.is_none());

    // The real trail, as FHIR: a Bundle of AuditEvent the R4 validator accepts, the reads in
    // it; the grants as Consent, the flagged one carrying the read-without-log action.
    let bundle = ehr_sdk::fhir_audit::audit_as_fhir(&world.patient, patient, None).await?;
    let report = ehr_record::validate_fhir_json(&serde_json::to_vec(&bundle)?);
    assert!(report.is_valid(), "{:?}", report.errors);
    let events: Vec<&serde_json::Value> =
        bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).collect();
    let reads: Vec<_> =
        events.iter().filter(|e| e["subtype"][0]["code"] == "readsLogged").collect();
    assert_eq!(reads.len(), 3);
    assert_eq!(reads[0]["action"], "R");
    assert_eq!(reads[1]["type"]["code"], "110112", "a search is a DICOM Query");
    let consents = ehr_sdk::fhir_audit::grants_as_fhir(&world.patient, patient).await?;
    let report = ehr_record::validate_fhir_json(&serde_json::to_vec(&consents)?);
    assert!(report.is_valid(), "{:?}", report.errors);
    assert_eq!(consents["entry"].as_array().unwrap().len(), 2, "the lab grant and the nurse's");

    // A stranger (no grant) cannot log at all.
    let stranger = world.stranger().await?;
    let index = RecordIndex::new(d.record_index, stranger.chain().writer()?.clone());
    let err =
        tx::send("log reads", index.logReads(patient, Bytes::from(forged))).await.unwrap_err();
    assert_eq!(err.revert_reason().map(|r| r.error_name()), Some("IndexNotGrantee"), "{err}");
    Ok(())
}
