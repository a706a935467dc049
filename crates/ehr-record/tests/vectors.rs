//! Runs the shared FHIR vectors in `tests/vectors/fhir/` (at the repository root).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use ehr_record::{RecordInput, ResourceType};

fn vectors_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/fhir").join(sub)
}

/// `(file, columns...)` rows of `dir/expected.tsv`, and a check that they list exactly the
/// `.json` files present.
fn manifest(dir: &Path) -> Vec<(String, Vec<String>)> {
    let text = fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv readable");
    let rows: Vec<(String, Vec<String>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut cols = l.split('\t').map(str::to_owned);
            let file = cols.next().unwrap();
            (file, cols.collect())
        })
        .collect();
    let listed: BTreeSet<&str> = rows.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(listed.len(), rows.len(), "a file is listed twice in {}", dir.display());
    let present: BTreeSet<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(listed, present, "expected.tsv and the .json files of {} differ", dir.display());
    rows
}

#[test]
fn valid_vectors_validate_with_their_type_and_category() {
    let dir = vectors_dir("valid");
    let rows = manifest(&dir);
    assert!(rows.len() >= 10, "too few valid vectors");
    let mut types = BTreeSet::new();
    for (file, cols) in rows {
        let bytes = fs::read(dir.join(&file)).unwrap();
        let record = RecordInput::from_fhir_json(&bytes)
            .validate()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(record.resource_type().as_str(), cols[0], "{file}");
        assert_eq!(record.category().as_str(), cols[1], "{file}");
        assert_eq!(record.json(), bytes.as_slice(), "{file}: original bytes kept");
        types.insert(record.resource_type());
    }
    for t in [
        ResourceType::PATIENT,
        ResourceType::OBSERVATION,
        ResourceType::CONDITION,
        ResourceType::MEDICATION_REQUEST,
        ResourceType::DIAGNOSTIC_REPORT,
        ResourceType::DOCUMENT_REFERENCE,
        ResourceType::BUNDLE,
    ] {
        assert!(types.contains(&t), "no valid vector of type {t}");
    }
}

#[test]
fn invalid_vectors_fail_with_the_named_error() {
    let dir = vectors_dir("invalid");
    let rows = manifest(&dir);
    assert!(rows.len() >= 20, "too few invalid vectors");
    for (file, cols) in rows {
        let bytes = fs::read(dir.join(&file)).unwrap();
        let err = match RecordInput::from_fhir_json(&bytes).validate() {
            Ok(record) => panic!("{file} should fail with {}, but validated: {record:?}", cols[0]),
            Err(e) => e,
        };
        assert_eq!(err.kind(), cols[0], "{file}: {err}");
        let expected_path = (cols[1] != "-").then_some(cols[1].as_str());
        assert_eq!(err.path(), expected_path, "{file}: {err}");
        let message = err.to_string();
        assert!(message.len() > 30, "{file}: message too short to help: {message}");
    }
}

#[test]
fn valid_vectors_still_validate_through_a_reader() {
    let dir = vectors_dir("valid");
    for (file, _) in manifest(&dir) {
        let f = fs::File::open(dir.join(&file)).unwrap();
        let size = f.metadata().unwrap().len();
        RecordInput::from_fhir_reader(f, Some(size))
            .validate()
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}
