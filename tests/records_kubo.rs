//! The record workflows with a real kubo node as the blob store: uploads by the patient and by
//! a doctor with a category grant, verified search, and fetches that rebuild the envelope's
//! CID from the on-chain digest (raw for one block, dag-pb for a larger envelope) and give
//! back the original bytes; a grantee without the category can neither find nor decrypt.

use crate::records_support::*;
use ehr_contracts::Purpose;
use ehr_record::Category;
use ehr_sdk::Error;
use ehr_sdk::fetch::{FetchOutput, fetch};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use ehr_sdk::search::{SearchRequest, search};
use ehr_store::Codec;

#[tokio::test(flavor = "multi_thread")]
async fn round_trip_through_kubo() -> eyre::Result<()> {
    let world = World::start(true).await?;
    assert!(world.store_url.to_string().starts_with("kubo:"), "{}", world.store_url);
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(dir.path());
    world.grant(&world.doctor, NamedScope::Category("imaging".into()), Purpose::Treatment).await?;
    world.grant(&world.nurse, NamedScope::Category("lab".into()), Purpose::Treatment).await?;

    let lab = upload(
        &world.patient,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into())).keywords(["hba1c"]),
    )
    .await?;
    assert_eq!(lab.cid.codec(), Codec::Raw);
    // An imaging file of 1 MiB + 3 bytes, in DICOM's shape (preamble + "DICM").
    let mut dicom = vec![0u8; 128];
    dicom.extend_from_slice(b"DICM");
    dicom.extend((0..(1 << 20) - 129u32).map(|i| (i % 251) as u8));
    let path = dir.path().join("knee.dcm");
    std::fs::write(&path, &dicom)?;
    let scan = upload(
        &world.doctor,
        &journal,
        UploadRequest::new(patient, RecordSource::File { path, content_type: None })
            .keywords(["knee", "mri"]),
    )
    .await?;
    assert_eq!(scan.cid.codec(), Codec::DagPb);
    assert_eq!(
        (scan.category.as_str(), scan.content_type.as_deref()),
        ("imaging", Some("application/dicom"))
    );

    let words = SearchRequest { keywords: vec!["knee".into()], ..Default::default() };
    let found = search(&world.doctor, patient, &words).await?;
    assert_eq!(found.hits.iter().map(|h| h.record_id).collect::<Vec<_>>(), [2]);
    let out = dir.path().join("knee-copy.dcm");
    let fetched = fetch(&world.doctor, patient, 2, FetchOutput::File(out.clone())).await?;
    assert!(std::fs::read(&out)? == dicom);
    assert_eq!((fetched.cid, fetched.content_type.as_str()), (scan.cid, "application/dicom"));
    let out = dir.path().join("lab.json");
    fetch(&world.patient, patient, 1, FetchOutput::File(out.clone())).await?;
    assert_eq!(std::fs::read(&out)?, HBA1C_JSON.as_bytes());

    // The nurse holds lab only: it finds nothing about the knee and cannot open the scan.
    let found = search(&world.nurse, patient, &words).await?;
    assert!(found.hits.is_empty());
    assert_eq!(found.not_readable, 1);
    let err = fetch(&world.nurse, patient, 2, FetchOutput::File(dir.path().join("no.dcm")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoRecordKey { .. }), "{err}");
    // ... and the doctor cannot write lab records.
    let err = upload(
        &world.doctor,
        &journal,
        UploadRequest::new(patient, RecordSource::FhirJson(HBA1C_JSON.into()))
            .category(Category::LAB)
            .allow_duplicate(true),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotAuthorized { .. }), "{err}");
    Ok(())
}
