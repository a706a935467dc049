//! Real clinical exports through `ehr upload` against a real anvil: the four Synthea patient
//! bundles of ../shared/fhir-corpus (nobody on the project wrote them) are recognised as
//! FHIR by their content, validated, uploaded under one derived category and fetched back
//! byte for byte; an invalid resource is refused with every problem, not only the first.

use crate::cli_support::Project;
use std::path::{Path, PathBuf};

const PW: [&str; 2] = ["--password-file", "pw"];

fn synthea_bundles() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fhir-corpus/synthea-r4");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the FHIR corpus is missing at {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "four Synthea bundles in {}", dir.display());
    files
}

#[test]
fn synthea_patient_bundles_upload_and_fetch_back_byte_for_byte() {
    let p = Project::with_stack();
    p.account("admin");
    p.account("alice");
    let with = |args: &[&str], who: &str| -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--account", who, PW[0], PW[1]]);
        p.json(&all)
    };
    with(&["deploy"], "admin");
    with(&["patient", "register"], "alice");
    let patient = p.json(&["account", "address", "alice"])["address"].as_str().unwrap().to_owned();
    for (n, bundle) in synthea_bundles().iter().enumerate() {
        let name = bundle.file_name().unwrap().to_string_lossy().into_owned();
        let local = p.path().join(&name);
        std::fs::copy(bundle, &local).unwrap();
        // No --fhir and no --category: the content says FHIR, the bundle its category.
        let report = with(&["upload", &name, "--keywords", "synthea"], "alice");
        assert_eq!(report["resourceType"], "Bundle", "{name}: {report}");
        assert_eq!(report["category"], "summary", "{name}: {report}");
        assert_eq!(report["recordId"], n as u64 + 1);
        let out = format!("back-{n}.json");
        let id = (n + 1).to_string();
        with(&["fetch", &id, "--patient", &patient, "-o", &out], "alice");
        assert!(
            std::fs::read(p.path().join(&out)).unwrap() == std::fs::read(bundle).unwrap(),
            "{name} came back byte for byte"
        );
    }
    let found = with(&["search", &patient, "synthea"], "alice");
    assert_eq!(found["hits"].as_array().unwrap().len(), 4);
}

#[test]
fn an_invalid_resource_is_refused_with_every_problem() {
    let p = Project::with_stack();
    p.account("admin");
    p.account("alice");
    for args in
        [&["deploy", "--account", "admin"][..], &["patient", "register", "--account", "alice"]]
    {
        let mut all = args.to_vec();
        all.extend(PW);
        p.json(&all);
    }
    // No status, no code, a date that does not exist, an unknown element.
    let bad =
        r#"{"resourceType": "Observation", "effectiveDateTime": "2025-02-30", "colour": "red"}"#;
    std::fs::write(p.path().join("bad.json"), bad).unwrap();
    let output =
        p.ehr().args(["upload", "bad.json", "--account", "alice", PW[0], PW[1]]).output().unwrap();
    let line = crate::cli_support::check_failure(&output, "upload of an invalid resource");
    assert!(line.contains("is not valid: 4 problems"), "{line}");
    for path in [
        "Observation.status",
        "Observation.code",
        "Observation.effectiveDateTime",
        "Observation.colour",
    ] {
        assert!(line.contains(path), "{path} is named: {line}");
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hint: `ehr validate FILE`"), "{stderr}");
    let uploads = p.path().join(".ehr/uploads");
    assert!(!uploads.exists() || std::fs::read_dir(uploads).unwrap().next().is_none());
}
