//! The record workflows against a real anvil and the embedded LocalStore: the patient and a
//! doctor with a lab grant upload FHIR records and a PDF; searches return exactly what each
//! may read, verified at a block; fetches give back the original bytes (a wrapped PDF as the
//! PDF itself); a nurse without grants finds and decrypts nothing; a doctor cannot write or
//! read outside its category; duplicates, unknown patients and bad keywords are refused.

use std::sync::{Arc, Mutex};

use crate::records_support::*;
use ehr_contracts::Purpose;
use ehr_record::Category;
use ehr_sdk::Error;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::{EntryStatus, Journal};
use ehr_sdk::records::{RecordSource, UploadProgress, UploadRequest, UploadStage, upload};
use ehr_sdk::search::{SearchRequest, search};

fn ids(report: &ehr_sdk::search::SearchReport) -> Vec<u64> {
    report.hits.iter().map(|h| h.record_id).collect()
}

fn query(words: &[&str]) -> SearchRequest {
    SearchRequest { keywords: words.iter().map(|w| w.to_string()).collect(), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_search_fetch_by_patient_and_granted_doctor() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let journal_dir = tempfile::tempdir()?;
    let journal = Journal::new(journal_dir.path());
    world.grant(&world.doctor, NamedScope::Category("lab".into()), Purpose::Treatment).await?;

    // 1: the patient's own lab result; 2: its diagnosis; 3: a lab PDF the doctor uploads;
    // 4: a 3 MiB lab file (several store chunks: a dag-pb CID), uploaded by the doctor.
    let request = UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()))
        .keywords(["HbA1c", "diabetes"]);
    let first = upload(&world.patient, &journal, request).await?;
    assert_eq!((first.record_id, first.category.as_str(), first.epoch), (1, "lab", 0));
    assert_eq!(first.resource_type, "Observation");
    assert!(first.cid.to_string().starts_with("bafkrei"), "a small envelope is one raw block");
    let request = UploadRequest::new(patient, RecordSource::FhirJson(DIABETES_JSON.into()))
        .keywords(["diabetes", "type 2"]);
    let second = upload(&world.patient, &journal, request).await?;
    assert_eq!((second.record_id, second.category.as_str()), (2, "diagnosis"));

    let pdf = ehr_record::sample_pdf("HbA1c 7.8 percent");
    let request = UploadRequest::new(
        patient,
        RecordSource::Bytes {
            file_name: "hba1c-report.pdf".into(),
            content_type: None,
            bytes: pdf.clone(),
        },
    )
    .category(Category::LAB)
    .keywords(["HbA1c", "report"]);
    let third = upload(&world.doctor, &journal, request).await?;
    assert_eq!((third.record_id, third.content_type.as_deref()), (3, Some("application/pdf")));

    let big: Vec<u8> =
        (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let big_path = journal_dir.path().join("scan.bin");
    std::fs::write(&big_path, &big)?;
    let seen: Arc<Mutex<Vec<UploadProgress>>> = Arc::default();
    let progress = {
        let seen = Arc::clone(&seen);
        Arc::new(move |p: UploadProgress| seen.lock().unwrap().push(p))
    };
    let request =
        UploadRequest::new(patient, RecordSource::File { path: big_path, content_type: None })
            .category(Category::LAB)
            .keywords(["raw data"])
            .progress(progress);
    let fourth = upload(&world.doctor, &journal, request).await?;
    assert!(fourth.cid.to_string().starts_with("bafybei"), "a large envelope is a dag-pb DAG");
    let seen = seen.lock().unwrap().clone();
    for stage in [UploadStage::Reading, UploadStage::Encrypting, UploadStage::Indexing] {
        assert!(seen.iter().any(|p| p.stage == stage), "{stage:?} reported: {seen:?}");
    }
    let last_encrypting = seen.iter().rev().find(|p| p.stage == UploadStage::Encrypting).unwrap();
    assert_eq!(Some(last_encrypting.done), last_encrypting.total);
    assert!(journal.entries()?.iter().all(|e| e.status == EntryStatus::Done));

    // The patient finds everything; the doctor only lab records.
    let found = search(&world.patient, patient, &query(&["diabetes"])).await?;
    assert_eq!(ids(&found), [1, 2]);
    let head = world.patient.chain().head().await?.0;
    assert_eq!(found.verified_at_block, head);
    let found = search(
        &world.patient,
        patient,
        &SearchRequest { any: true, ..query(&["report", "type 2"]) },
    )
    .await?;
    assert_eq!(ids(&found), [2, 3]);
    let found = search(&world.doctor, patient, &query(&["hba1c"])).await?;
    assert_eq!((ids(&found), found.not_readable), (vec![1, 3], 1));
    let found = search(&world.doctor, patient, &query(&["diabetes"])).await?;
    assert_eq!(ids(&found), [1], "the diagnosis is not the doctor's category");
    let lab_only = SearchRequest { category: Some("diagnosis".into()), ..query(&["diabetes"]) };
    assert_eq!(ids(&search(&world.patient, patient, &lab_only).await?), [2]);

    // Fetches give back the original bytes.
    let out = journal_dir.path().join("hba1c.json");
    let fetched = fetch(&world.patient, patient, 1, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, HBA1C_JSON.as_bytes());
    assert_eq!(
        (fetched.resource_type.as_str(), fetched.content_type.as_str()),
        ("Observation", "application/fhir+json")
    );
    let out = journal_dir.path().join("report.pdf");
    let fetched = fetch(&world.doctor, patient, 3, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, pdf, "the PDF comes back unframed");
    assert_eq!(fetched.file_name.as_deref(), Some("hba1c-report.pdf"));
    assert_eq!(fetched.sha256, third.content_sha256, "the SHA-256 recorded at upload");
    let out = journal_dir.path().join("scan-copy.bin");
    fetch(&world.patient, patient, 4, FetchOutput::File(out.clone())).await?;
    assert!(std::fs::read(&out)? == big);
    let buffer = SharedBuffer::default();
    fetch(&world.doctor, patient, 1, FetchOutput::Writer(Box::new(buffer.clone()))).await?;
    assert_eq!(buffer.0.lock().unwrap().as_slice(), HBA1C_JSON.as_bytes());

    // The doctor cannot read the diagnosis, nor write one; nothing is left behind.
    let out = journal_dir.path().join("diagnosis.json");
    let err = fetch(&world.doctor, patient, 2, FetchOutput::File(out.clone())).await.unwrap_err();
    assert!(matches!(err, Error::NoRecordKey { record_id: 2, .. }), "{err}");
    assert!(!out.exists());
    let leftovers = std::fs::read_dir(journal_dir.path())?
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".partial"))
        .count();
    assert_eq!(leftovers, 0);
    let request = UploadRequest::new(patient, RecordSource::FhirJson(METFORMIN_JSON.into()));
    let err = upload(&world.doctor, &journal, request).await.unwrap_err();
    assert!(
        matches!(err, Error::NotAuthorized { ref category, .. } if category == "prescription"),
        "{err}"
    );
    let err = fetch(&world.patient, patient, 9, FetchOutput::File(out.clone())).await.unwrap_err();
    assert!(matches!(err, Error::UnknownRecord { record: 9, .. }), "{err}");

    // A nurse with no grant finds nothing, decrypts nothing, writes nothing.
    let err = search(&world.nurse, patient, &query(&["diabetes"])).await.unwrap_err();
    assert!(matches!(err, Error::NoSearchKeys { .. }), "{err}");
    let err = fetch(&world.nurse, patient, 1, FetchOutput::File(out.clone())).await.unwrap_err();
    assert!(matches!(err, Error::NoRecordKey { .. }), "{err}");
    let request = UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()));
    let err = upload(&world.nurse, &journal, request).await.unwrap_err();
    assert!(matches!(err, Error::NotAuthorized { .. }), "{err}");

    // Bad input: an unknown patient, an empty keyword, the same content twice.
    let stranger = world.stranger().await?.chain().address()?;
    let err = search(&world.doctor, stranger, &query(&["x"])).await.unwrap_err();
    assert!(matches!(err, Error::UnknownPatient { .. }), "{err}");
    let request =
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into())).keywords([" "]);
    let err = upload(&world.patient, &journal, request).await.unwrap_err();
    assert!(matches!(err, Error::Index(ehr_index::Error::EmptyKeyword)), "{err}");
    let request = UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()));
    let err = upload(&world.patient, &journal, request).await.unwrap_err();
    assert!(matches!(err, Error::Duplicate { record_id: Some(1), .. }), "{err}");
    let request = UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()))
        .allow_duplicate(true);
    assert_eq!(upload(&world.patient, &journal, request).await?.record_id, 5);
    let request = UploadRequest::new(
        patient,
        RecordSource::FhirJson(br#"{"resourceType":"Observation"}"#.to_vec()),
    );
    let err = upload(&world.patient, &journal, request).await.unwrap_err();
    // Every problem, not only the first: no status, no code.
    let Error::InvalidFhir { problems, truncated: false } = &err else { panic!("{err}") };
    let paths: Vec<_> = problems.iter().map(|p| p.path()).collect();
    assert_eq!(paths, [Some("Observation.status"), Some("Observation.code")], "{err}");
    Ok(())
}

/// Collects what a fetch writes.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
