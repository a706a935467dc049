//! The upload pipeline through the SDK: one 1 KB FHIR record end to end, and batched
//! `upload_many` throughput, with the embedded store and with kubo.

use std::time::{Duration, Instant};

use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{OrgKind, Purpose};
use ehr_sdk::consent::GrantSpec;
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{BatchItem, BatchOptions, RecordSource, UploadRequest};
use ehr_sdk::{Chain, Session};
use ehr_store::StoreUrl;

use crate::{Env, Results, Sizes, percentile};

/// A valid FHIR R4 Observation of exactly 1024 bytes, distinct per `i`.
pub(crate) fn fhir_1kb(i: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"resourceType":"Observation","id":"obs-{i}","status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}}],"text":"HbA1c"}},"subject":{{"reference":"Patient/pat-4711"}},"effectiveDateTime":"2025-03-14T08:30:00Z","valueQuantity":{{"value":7.{},"unit":"%","system":"http://unitsofmeasure.org","code":"%"}},"note":[{{"text":""#,
        i % 10
    );
    let tail = "\"}]}";
    let pad = 1024usize.saturating_sub(head.len() + tail.len());
    let mut out = head.into_bytes();
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(tail.as_bytes());
    out
}

async fn session(env: &Env, signer: &PrivateKeySigner, store: &StoreUrl) -> eyre::Result<Session> {
    let chain = Chain::connect(env.stack.anvil().rpc_url(), Some(signer.clone())).await?;
    Ok(Session::with_deployment(chain, env.deployment.clone(), Some(store)).await?)
}

pub(crate) async fn run(env: &Env, sizes: &Sizes, results: &mut Results) -> eyre::Result<()> {
    let local_dir = tempfile::Builder::new().prefix("ehr-bench-blobs-").tempdir()?;
    let local: StoreUrl = format!("local:{}", local_dir.path().display()).parse()?;
    let mut stores = vec![("local", local)];
    match env.stack.kubo() {
        Some(node) => stores.push(("kubo", format!("kubo:{}", node.api_url()).parse()?)),
        None => results.note("kubo was not started: kubo figures missing".into()),
    }
    for (name, store) in stores {
        let admin = session(env, &env.admin, &store).await?;
        let hospital = env.account().await?;
        ehr_sdk::roles::add_organization(
            &admin,
            hospital.address(),
            OrgKind::Hospital,
            "General Hospital",
        )
        .await?;
        let hospital = session(env, &hospital, &store).await?;
        let doctor_key = env.account().await?;
        ehr_sdk::roles::add_staff(&hospital, doctor_key.address()).await?;
        let doctor = session(env, &doctor_key, &store).await?;
        ehr_sdk::roles::register_public_key(&doctor).await?;
        let patient_key = env.account().await?;
        let patient = session(env, &patient_key, &store).await?;
        ehr_sdk::roles::register_patient(&patient).await?;
        let spec = GrantSpec {
            grantee: doctor_key.address(),
            scope: ehr_sdk::NamedScope::All,
            purpose: Purpose::Treatment,
            duration: Duration::from_secs(30 * 86_400),
            record_key: None,
        };
        ehr_sdk::consent::grant(&patient, spec).await?;
        let journal_dir = tempfile::tempdir()?;
        let journal = Journal::new(journal_dir.path());

        // Warm-up (first record of the patient, connection set-up), not timed.
        let warm = UploadRequest::new(patient_key.address(), RecordSource::FhirJson(fhir_1kb(0)))
            .keywords(["hba1c", "diabetes"])
            .allow_duplicate(true);
        ehr_sdk::records::upload(&doctor, &journal, warm).await?;
        let mut samples = Vec::new();
        for i in 0..sizes.single_uploads {
            let request =
                UploadRequest::new(patient_key.address(), RecordSource::FhirJson(fhir_1kb(i + 1)))
                    .keywords([
                        "hba1c",
                        "diabetes",
                        "lab",
                        "2025",
                        "glucose",
                        "a1c",
                        "endocrine",
                        "followup",
                        "metformin",
                        "type2",
                    ])
                    .allow_duplicate(true);
            let start = Instant::now();
            ehr_sdk::records::upload(&doctor, &journal, request).await?;
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let method = format!(
            "ehr_sdk::records::upload by a doctor with an All grant: one 1024-byte FHIR R4 \
             Observation, 10 keywords: writer set-up (patient key, epoch, grant keys from the \
             chain) → validate → encrypt → store ({name}) → journal → addRecord sent and its \
             receipt read (anvil automine); {} uploads after one warm-up; wall-clock ms",
            sizes.single_uploads
        );
        results.put(&format!("upload.single.{name}.p50_ms"), percentile(&samples, 50.0), &method);
        results.put(&format!("upload.single.{name}.p95_ms"), percentile(&samples, 95.0), &method);

        let n = sizes.batched_records;
        let items: Vec<BatchItem> = (0..n)
            .map(|i| BatchItem {
                source: RecordSource::FhirJson(fhir_1kb(100_000 + i)),
                category: None,
                keywords: vec!["hba1c".into(), "diabetes".into(), format!("batch{}", i % 50)],
            })
            .collect();
        let start = Instant::now();
        let report = ehr_sdk::records::upload_many(
            &doctor,
            &journal,
            patient_key.address(),
            items,
            BatchOptions { batch_size: 256, allow_duplicate: true, progress: None },
        )
        .await?;
        let secs = start.elapsed().as_secs_f64();
        eyre::ensure!(report.records.len() == n, "uploaded {} of {n}", report.records.len());
        results.put(
            &format!("upload.batched.{name}.records_per_s"),
            n as f64 / secs,
            &format!(
                "ehr_sdk::records::upload_many by the doctor: {n} distinct 1 KB FHIR records (3 keywords), \
                 batch size 256, encryption into the {name} store pipelined with addRecords \
                 transactions ({} sent); records / wall-clock seconds from the call to its return",
                report.transactions.len()
            ),
        );
    }
    Ok(())
}
