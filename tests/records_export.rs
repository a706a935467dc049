//! The research export against a real anvil: the patient makes it and seals it to a
//! researcher, who needs no grant and opens it with its own key; nobody else opens it; the
//! files hold none of the fixtures' identifiers, only bare years as dates, shuffled under
//! random names; the manifest names no category, record number or patient. And the export
//! cannot be matched back to the on-chain timeline by date differences.

use crate::records_support::*;
use ehr_sdk::Error;
use ehr_sdk::export::{export_deidentified, export_sealed, open_sealed};
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use serde_json::Value;

/// Every string in `value` at an element named like a date, recursively.
fn dates(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                let datey = key.contains("Date")
                    || key.starts_with("date")
                    || key == "issued"
                    || key == "start"
                    || key == "end"
                    || key == "recorded";
                match child {
                    Value::String(s) if datey => out.push(s.clone()),
                    other => dates(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| dates(i, out)),
        _ => {}
    }
}

fn read_dir(dir: &std::path::Path) -> eyre::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.push((name, std::fs::read_to_string(&path)?));
    }
    Ok(out)
}

/// An Observation on `day` of March 2025 (the on-chain timeline: one upload per record).
fn observation(day: u32) -> String {
    format!(
        r#"{{"resourceType": "Observation", "status": "final",
            "code": {{"coding": [{{"system": "http://loinc.org", "code": "4548-4"}}]}},
            "subject": {{"reference": "Patient/pat-4711"}},
            "effectiveDateTime": "2025-03-{day:02}T08:30:00Z",
            "valueQuantity": {{"value": {day}.5, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_patient_seals_a_safe_harbor_export_to_a_researcher_who_alone_opens_it()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let researcher = world.researcher.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(&dir.path().join("data"));
    for json in [PATIENT_JSON, HBA1C_JSON, DIABETES_JSON, METFORMIN_JSON] {
        let request =
            UploadRequest::new(patient, RecordSource::FhirJson(json.into())).keywords(["fixture"]);
        upload(&world.patient, &journal, request).await?;
    }
    let pdf = RecordSource::Bytes {
        file_name: "Okonkwo-discharge.pdf".into(),
        content_type: None,
        bytes: ehr_record::sample_pdf("Adaeze Okonkwo"),
    };
    upload(&world.patient, &journal, UploadRequest::new(patient, pdf)).await?;

    // Nobody but the patient exports: the researcher holds no key of the patient at all.
    let err =
        export_deidentified(&world.researcher, patient, &dir.path().join("r")).await.unwrap_err();
    assert!(matches!(err, Error::ExportNotPatient { .. }), "{err}");

    let sealed = dir.path().join("study.sealed");
    let report = export_sealed(&world.patient, researcher, &sealed).await?;
    assert_eq!(report.records.len(), 5);
    assert_eq!(report.sealed_to, Some(researcher));
    let bytes = std::fs::read(&sealed)?;
    for identifier in IDENTIFIERS {
        assert!(!bytes.windows(identifier.len()).any(|w| w == identifier.as_bytes()));
    }
    // Only the researcher opens it.
    let err = open_sealed(&world.doctor, &sealed, &dir.path().join("doctor")).unwrap_err();
    assert!(matches!(err, Error::Crypto(_)), "{err}");
    let out = dir.path().join("opened");
    let manifest = open_sealed(&world.researcher, &sealed, &out)?;
    assert_eq!(manifest.records.len(), 5);

    let files = read_dir(&out)?;
    assert_eq!(files.len(), 6, "five records and the manifest");
    for (name, text) in &files {
        for identifier in IDENTIFIERS {
            assert!(!text.contains(identifier), "{identifier} is in {name}");
        }
        assert!(!text.to_lowercase().contains(&patient.to_string().to_lowercase()), "{name}");
        if name == "manifest.json" {
            assert!(!text.contains("category") && !text.contains("recordId"), "{text}");
            continue;
        }
        assert!(name.len() == 21 && name.ends_with(".json"), "a random name: {name}");
        let mut found = Vec::new();
        dates(&serde_json::from_str(text)?, &mut found);
        for date in found {
            assert!(date.len() == 4 && date.parse::<u32>().is_ok(), "{name}: {date} is not a year");
        }
    }
    let person = files
        .iter()
        .map(|(_, t)| serde_json::from_str::<Value>(t).unwrap())
        .find(|v| v["resourceType"] == "Patient")
        .unwrap();
    assert_eq!(person["birthDate"], "1968");
    assert_eq!(person["gender"], "female", "coded content stays");

    // An export goes into an empty directory only.
    let err = open_sealed(&world.researcher, &sealed, &out).unwrap_err();
    assert!(matches!(err, Error::ExportDirNotEmpty { .. }), "{err}");

    // A limited data set by an anonymizer configuration: dates stay, direct identifiers go,
    // and the manifest says it is not Safe Harbor.
    let lds = dir.path().join("lds");
    let method = ehr_sdk::export::Method::Configured(ehr_sdk::anonymizer::limited_data_set());
    ehr_sdk::export::export_deidentified_with(&world.patient, patient, &lds, &method).await?;
    let files = read_dir(&lds)?;
    for (name, text) in &files {
        for identifier in
            ["Okonkwo", "Adaeze", "555-0142", "123-45-6789", "Wisteria", "adaeze.ol@example.org"]
        {
            assert!(!text.contains(identifier), "{identifier} is in {name}");
        }
    }
    let manifest = &files.iter().find(|(n, _)| n == "manifest.json").unwrap().1;
    assert!(manifest.contains("NOT Safe Harbor"), "{manifest}");
    assert!(files.iter().any(|(_, t)| t.contains("1968-04-23")), "dates are kept");
    Ok(())
}

/// The on-chain timeline says when each record was written (block times, in record order);
/// the records' own dates follow it. An export that kept day-precise dates (even shifted by
/// one offset) or record order would let anyone line the two up by their differences. Here:
/// every exported date is the same bare year, so every difference is zero, and the file
/// order changes from export to export.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_cannot_be_matched_to_the_on_chain_timeline_by_date_differences()
-> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
    let dir = tempfile::tempdir()?;
    let journal = Journal::new(&dir.path().join("data"));
    // Six records on distinct days of one month: their day differences are a fingerprint.
    let days = [3u32, 6, 13, 25, 17, 7];
    for &day in &days {
        let request = UploadRequest::new(patient, RecordSource::FhirJson(observation(day).into()));
        upload(&world.patient, &journal, request).await?;
    }
    let mut orders = Vec::new();
    for run in 0..3 {
        let out = dir.path().join(format!("export-{run}"));
        let report = export_deidentified(&world.patient, patient, &out).await?;
        let mut differences = Vec::new();
        let mut values = Vec::new();
        let mut years = Vec::new();
        for record in &report.records {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(out.join(&record.file))?)?;
            let date = v["effectiveDateTime"].as_str().unwrap().to_owned();
            assert_eq!(date, "2025", "only the year is left");
            years.push(date.parse::<i64>()?);
            values.push(v["valueQuantity"]["value"].as_f64().unwrap());
        }
        for a in &years {
            for b in &years {
                differences.push(a - b);
            }
        }
        assert!(differences.iter().all(|d| *d == 0), "no difference to match on: {differences:?}");
        orders.push(values);
    }
    // Record order is not export order: three shuffles of six records do not all come out
    // in upload order (chance 1 in 720^3), nor all the same.
    let uploaded: Vec<f64> = days.iter().map(|d| f64::from(*d) + 0.5).collect();
    assert!(orders.iter().any(|o| *o != uploaded), "{orders:?}");
    assert!(orders.windows(2).any(|w| w[0] != w[1]), "{orders:?}");
    Ok(())
}
