//! Interrupted uploads against a real anvil: records stored and journaled but not indexed are
//! finished by `resume` without loss and without indexing anything twice — also when the
//! index transaction was mined before the interruption — and an entry whose key epoch moved
//! (a revocation in between) is reported as needing a re-upload every time, never dropped.
//! Batched uploads index many records in few transactions.

use crate::records_support::*;
use alloy::primitives::Address;
use ehr_contracts::bindings::RecordIndex;
use ehr_contracts::{Purpose, tx};
use ehr_sdk::journal::{EntryStatus, Journal};
use ehr_sdk::records::{
    BatchItem, BatchOptions, RecordSource, ResumeOutcome, UploadRequest, resume, store_and_journal,
    upload_many,
};
use ehr_sdk::search::{SearchRequest, search};

async fn records_on_chain(world: &World, patient: Address) -> eyre::Result<u64> {
    Ok(world.patient.index().stateOf(patient).call().await?.records)
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_indexes_each_pending_record_once_and_reports_stale_epochs() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());

    // Two records stored and journaled; then the process "dies" before indexing.
    let a = store_and_journal(
        &world.patient,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into())).keywords(["hba1c"]),
    )
    .await?;
    let b = store_and_journal(
        &world.patient,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(DIABETES_JSON.into()))
            .keywords(["diabetes"]),
    )
    .await?;
    assert_eq!(records_on_chain(&world, patient).await?, 0);
    // A's transaction was actually mined before the crash; the journal does not know it.
    let index = RecordIndex::new(
        world.chain.deployment.record_index,
        world.patient.chain().writer()?.clone(),
    );
    let call = index.addRecord(
        patient,
        a.entry.digest,
        a.entry.category_id,
        a.entry.epoch,
        a.entry.tags.clone(),
    );
    tx::send("index A behind the journal's back", call).await?;
    assert_eq!(journal.read(&a.entry.id)?.status, EntryStatus::Pending);

    let report = resume(&world.patient, &journal).await?;
    assert_eq!((report.indexed(), report.needs_reupload(), report.still_pending()), (2, 0, 0));
    let outcome_of = |id: &str| report.entries.iter().find(|e| e.id == id).unwrap().outcome.clone();
    assert_eq!(outcome_of(&a.entry.id), ResumeOutcome::AlreadyIndexed { record_id: 1 });
    assert!(matches!(outcome_of(&b.entry.id), ResumeOutcome::Indexed { record_id: 2, .. }));
    assert_eq!(records_on_chain(&world, patient).await?, 2, "nothing was indexed twice");
    assert_eq!(journal.read(&b.entry.id)?.record_id, Some(2));
    // Both are searchable, and running resume again does nothing.
    let words = SearchRequest {
        keywords: vec!["hba1c".into(), "diabetes".into()],
        any: true,
        ..Default::default()
    };
    let found = search(&world.patient, patient, &words).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [1, 2]);
    assert!(resume(&world.patient, &journal).await?.entries.is_empty());

    // C is stored in epoch 0; a revocation moves the patient to epoch 1 before it is indexed.
    let c = store_and_journal(
        &world.patient,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(METFORMIN_JSON.into())),
    )
    .await?;
    world.grant(&world.doctor, NamedScope::Category("lab".into()), Purpose::Treatment).await?;
    ehr_sdk::consent::revoke(&world.patient, world.doctor.chain().address()?).await?;
    for _ in 0..2 {
        let report = resume(&world.patient, &journal).await?;
        assert_eq!(report.needs_reupload(), 1, "{report:?}");
        let entry = &report.entries[0];
        assert_eq!(entry.id, c.entry.id);
        let ResumeOutcome::NeedsReupload { reason } = &entry.outcome else { panic!("{entry:?}") };
        assert!(reason.contains("epoch moved from 0 to 1"), "{reason}");
    }
    assert_eq!(journal.read(&c.entry.id)?.status, EntryStatus::NeedsReupload);
    assert_eq!(records_on_chain(&world, patient).await?, 2);
    // Its content may be uploaded again (the stale entry does not count as a duplicate).
    let again = ehr_sdk::records::upload(
        &world.patient,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(METFORMIN_JSON.into())),
    )
    .await?;
    assert_eq!((again.record_id, again.epoch), (3, 1));

    // A pending entry of another writer is left for that writer, who finishes it.
    world.grant(&world.nurse, NamedScope::Category("lab".into()), Purpose::Treatment).await?;
    let d = store_and_journal(
        &world.nurse,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()))
            .allow_duplicate(true),
    )
    .await?;
    let report = resume(&world.patient, &journal).await?;
    let entry = report.entries.iter().find(|e| e.id == d.entry.id).unwrap();
    let nurse = world.nurse.chain().address()?;
    assert_eq!(entry.outcome, ResumeOutcome::OtherWriter { writer: nurse });
    let report = resume(&world.nurse, &journal).await?;
    let entry = report.entries.iter().find(|e| e.id == d.entry.id).unwrap();
    assert!(matches!(entry.outcome, ResumeOutcome::Indexed { record_id: 4, .. }), "{entry:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn batched_uploads_pipeline_store_and_index() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());
    let items: Vec<BatchItem> = (0..10)
        .map(|i| BatchItem {
            source: RecordSource::Bytes {
                file_name: format!("note-{i}.txt"),
                content_type: Some("text/plain".into()),
                bytes: format!("progress note {i}").into_bytes(),
            },
            category: None,
            keywords: vec![format!("note {i}"), "progress".into()],
        })
        .collect();
    let options = BatchOptions { batch_size: 4, ..BatchOptions::default() };
    let report = upload_many(&world.patient, &journal, patient, items, options).await?;
    let ids: Vec<u64> = report.records.iter().map(|r| r.record_id).collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert!(report.transactions.len() >= 3 && report.transactions.len() <= 10, "{report:?}");
    assert!(report.records.iter().all(|r| r.category == "note"));
    assert_eq!(records_on_chain(&world, patient).await?, 10);
    assert!(journal.entries()?.iter().all(|e| e.status == EntryStatus::Done));
    let found = search(
        &world.patient,
        patient,
        &SearchRequest { keywords: vec!["note 7".into()], ..Default::default() },
    )
    .await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [8]);

    // Records are prepared concurrently: the same new content twice in one batch is still
    // refused as a duplicate, and stored and journaled once.
    let twice: Vec<BatchItem> = (0..2)
        .map(|_| BatchItem {
            source: RecordSource::Bytes {
                file_name: "same.txt".into(),
                content_type: Some("text/plain".into()),
                bytes: b"the same note".to_vec(),
            },
            category: None,
            keywords: vec!["same".into()],
        })
        .collect();
    let refused = upload_many(&world.patient, &journal, patient, twice, BatchOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(refused, ehr_sdk::Error::Duplicate { .. }), "{refused:?}");
    assert_eq!(journal.entries()?.len(), 11);
    assert!(records_on_chain(&world, patient).await? <= 11);
    Ok(())
}
