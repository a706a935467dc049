//! De-identified research export against a real anvil: a researcher with a research-purpose
//! grant exports what it covers; the files contain none of the fixtures' names, phone
//! numbers, e-mail, addresses or identifiers; every date moved by the same number of days; the
//! manifest lists paths, never values. A treatment grant is not enough.

use crate::records_support::*;
use ehr_contracts::Purpose;
use ehr_sdk::Error;
use ehr_sdk::export::export_deidentified;
use ehr_sdk::journal::Journal;
use ehr_sdk::records::{RecordSource, UploadRequest, upload};
use serde_json::Value;

/// Days between two `YYYY-MM-DD` prefixes, by counting from a fixed epoch.
fn day_number(date: &str) -> i64 {
    let (y, m, d) = (
        date[0..4].parse::<i64>().unwrap(),
        date[5..7].parse::<i64>().unwrap(),
        date[8..10].parse::<i64>().unwrap(),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
}

#[tokio::test(flavor = "multi_thread")]
async fn research_export_removes_identifiers_and_shifts_dates_consistently() -> eyre::Result<()> {
    let world = World::start(false).await?;
    let patient = world.patient.chain().address()?;
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

    // A treatment grant does not allow an export.
    world.grant(&world.doctor, NamedScope::All, Purpose::Treatment).await?;
    let err =
        export_deidentified(&world.doctor, patient, &dir.path().join("doctor")).await.unwrap_err();
    assert!(matches!(err, Error::NoResearchGrant { .. }), "{err}");

    // The researcher's research grants cover every category but prescriptions.
    for category in ["lab", "diagnosis", "demographics", "note"] {
        world
            .grant(&world.researcher, NamedScope::Category(category.into()), Purpose::Research)
            .await?;
    }
    let out = dir.path().join("export");
    let report = export_deidentified(&world.researcher, patient, &out).await?;
    assert_eq!(report.records.len(), 4, "{report:?}");
    assert_eq!(report.not_covered, 1, "the prescription is not covered");
    let pdf_entry = report.records.iter().find(|r| r.resource_type == "DocumentReference").unwrap();
    assert!(pdf_entry.attachment_omitted);

    // No identifier anywhere in the export, the manifest included.
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&out)? {
        let path = entry?.path();
        texts.push((path.clone(), std::fs::read_to_string(&path)?));
    }
    assert_eq!(texts.len(), 5, "four records and the manifest");
    for (path, text) in &texts {
        for identifier in IDENTIFIERS {
            assert!(!text.contains(identifier), "{identifier} is in {}", path.display());
        }
        assert!(
            !text.contains(&patient.to_string()),
            "the patient's address is in {}",
            path.display()
        );
        assert!(!text.to_lowercase().contains(&patient.to_string().to_lowercase()));
    }

    // Every date moved by the same non-zero number of days.
    let read = |file: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(file)).unwrap()).unwrap()
    };
    let by_type =
        |ty: &str| report.records.iter().find(|r| r.resource_type == ty).unwrap().file.clone();
    let observation = read(&by_type("Observation"));
    let condition = read(&by_type("Condition"));
    let person = read(&by_type("Patient"));
    let shift =
        day_number(observation["effectiveDateTime"].as_str().unwrap()) - day_number("2025-03-14");
    assert_ne!(shift, 0);
    assert!(shift.abs() <= 365);
    assert_eq!(
        day_number(observation["issued"].as_str().unwrap()) - day_number("2025-03-14"),
        shift
    );
    assert_eq!(
        day_number(condition["onsetDateTime"].as_str().unwrap()) - day_number("2025-03-20"),
        shift
    );
    assert_eq!(
        day_number(condition["recordedDate"].as_str().unwrap()) - day_number("2025-03-21"),
        shift
    );
    assert_eq!(day_number(person["birthDate"].as_str().unwrap()) - day_number("1968-04-23"), shift);
    assert_eq!(
        &observation["effectiveDateTime"].as_str().unwrap()[10..],
        "T08:30:00-05:00",
        "time of day kept"
    );
    // Clinical content stays.
    assert_eq!(observation["valueQuantity"]["value"], 7.8);
    assert_eq!(observation["code"]["coding"][0]["code"], "4548-4");
    assert_eq!(person["gender"], "female");

    // The manifest says what was removed, by path.
    let manifest = read("manifest.json");
    let records = manifest["records"].as_array().unwrap();
    let patient_entry = records.iter().find(|r| r["resourceType"] == "Patient").unwrap();
    let removed: Vec<&str> =
        patient_entry["removed"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for path in
        ["Patient.name", "Patient.telecom", "Patient.address", "Patient.identifier", "Patient.id"]
    {
        assert!(removed.contains(&path), "{path} in {removed:?}");
    }
    assert_eq!(patient_entry["shifted"], serde_json::json!(["Patient.birthDate"]));

    // An export goes into an empty directory only; the patient may export its own records.
    let err = export_deidentified(&world.patient, patient, &out).await.unwrap_err();
    assert!(matches!(err, Error::ExportDirNotEmpty { .. }), "{err}");
    let own = export_deidentified(&world.patient, patient, &dir.path().join("own")).await?;
    assert_eq!((own.records.len(), own.not_covered), (5, 0));
    Ok(())
}
