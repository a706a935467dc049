//! The real FHIR data of `../shared/fhir-corpus` (beside the repository): official R4
//! examples, US Core examples, HL7's validator test cases with their expected outcomes, and
//! Synthea patient bundles. None of it was written for ehrkit.

use std::fs;
use std::path::{Path, PathBuf};

use ehr_record::{FhirReport, validate_fhir_json};

/// The corpus directory; panics (failing the test) when it is missing.
fn corpus(folder: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fhir-corpus");
    let dir = root.join(folder);
    assert!(
        dir.is_dir(),
        "the FHIR corpus is missing: expected {} (a checkout of the shared data beside the \
         repository, see shared/fhir-corpus/README.md)",
        dir.display()
    );
    dir
}

/// The `.json` files of a corpus folder (without `_`-prefixed metadata), sorted.
fn files(folder: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(corpus(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    out.sort();
    out
}

fn validate(path: &Path) -> FhirReport {
    validate_fhir_json(&fs::read(path).unwrap())
}

fn describe(report: &FhirReport) -> String {
    report
        .errors
        .iter()
        .map(|e| format!("\n    {} at {}: {e}", e.kind(), e.path().unwrap_or("-")))
        .collect()
}

/// Examples of the corpus that are not valid R4, each refused for one documented reason.
struct KnownInvalid {
    file: &'static str,
    /// The error kind and, for `ConstraintViolated`, the rule key every error has.
    kind: &'static str,
    key: Option<&'static str>,
    /// How many errors (one per offending element).
    errors: usize,
    /// Why the example is invalid R4 (checked by hand against the spec and HL7's validator).
    #[allow(dead_code, reason = "documentation of the table")]
    reason: &'static str,
}

/// Official R4 examples that break R4. HL7 publishes them as examples, but its own Java
/// validator reports the same problems as errors (BUNDLE_ENTRY_URL_MATCHES_TYPE_ID,
/// "Invalid Resource target type").
const OFFICIAL_INVALID: [KnownInvalid; 6] = [
    KnownInvalid {
        file: "Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json",
        kind: "ConstraintViolated",
        key: Some("fullUrl-id"),
        errors: 1,
        reason: "entry[2].fullUrl is …/Patient/pat12 but the resource's id is pat2 (R4 \
                 Bundle.entry.fullUrl: it SHALL NOT disagree with the resource's id)",
    },
    KnownInvalid {
        file: "Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json",
        kind: "ConstraintViolated",
        key: Some("fullUrl-id"),
        errors: 1,
        reason: "entry[3].fullUrl is …/Patient/pat12 but the resource's id is pat2",
    },
    KnownInvalid {
        file: "Bundle-lri-example.json",
        kind: "ConstraintViolated",
        key: Some("fullUrl-id"),
        errors: 16,
        reason: "entries 1..16 have fullUrls …/Observation/lri-<id> for resources whose id \
                 is <id> (e.g. lri-gramstain1 for gramstain1)",
    },
    KnownInvalid {
        file: "DiagnosticReport-example-pgx.json",
        kind: "ConstraintViolated",
        key: Some("att-hash"),
        errors: 1,
        reason: "presentedForm[0].hash is 40 hex digits (not base64) and not the SHA-1 of \
                 its data (R4 Attachment.hash: base64 SHA-1 of the data)",
    },
    KnownInvalid {
        file: "MedicationRequest-medrx0301.json",
        kind: "ConstraintViolated",
        key: Some("reference-target"),
        errors: 1,
        reason: "dispenseRequest.performer refers to a Practitioner; R4 allows \
                 Reference(Organization) only",
    },
    KnownInvalid {
        file: "Observation-clinical-gender.json",
        kind: "ConstraintViolated",
        key: Some("reference-target"),
        errors: 1,
        reason: "performer refers to an Encounter; R4 allows Practitioner, PractitionerRole, \
                 Organization, CareTeam, Patient, RelatedPerson",
    },
];

/// US Core examples that break R4 (beyond anything profile-specific).
const US_CORE_INVALID: [KnownInvalid; 1] = [KnownInvalid {
    file: "diagnosticreport-cbc.json",
    kind: "MissingField",
    key: None,
    errors: 1,
    reason: "text has a status but no div; R4 Narrative.div is 1..1",
}];

/// Validates every file of `folder`: those in `known` must fail exactly as listed, all others
/// must be accepted with a category. Returns the number of files and the deviations.
fn check_folder(folder: &str, known: &[KnownInvalid]) -> (usize, Vec<String>) {
    let all = files(folder);
    let mut problems = Vec::new();
    for path in &all {
        let report = validate(path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match known.iter().find(|k| k.file == name) {
            Some(k) => {
                let as_listed = report.errors.len() == k.errors
                    && report.errors.iter().all(|e| {
                        e.kind() == k.kind
                            && k.key
                                .is_none_or(|key| e.to_string().contains(&format!("rule {key}:")))
                    });
                if !as_listed {
                    problems.push(format!(
                        "{name} (known invalid) fails otherwise:{}",
                        describe(&report)
                    ));
                }
            }
            None if !report.is_valid() || report.category.is_none() => {
                problems.push(format!("{name}:{}", describe(&report)));
            }
            None => {}
        }
    }
    for k in known {
        assert!(all.iter().any(|p| p.ends_with(k.file)), "{} is not in {folder}", k.file);
    }
    (all.len(), problems)
}

#[test]
fn official_r4_examples_are_accepted_except_the_invalid_ones() {
    let (total, problems) = check_folder("official-r4", &OFFICIAL_INVALID);
    assert_eq!(total, 298, "the corpus README lists 298 official examples");
    assert!(problems.is_empty(), "{} of {total}:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn us_core_examples_are_accepted_except_the_invalid_one() {
    let (total, problems) = check_folder("us-core-9.0.0", &US_CORE_INVALID);
    assert_eq!(total, 189, "the corpus README lists 189 US Core examples");
    assert!(problems.is_empty(), "{} of {total}:\n{}", problems.len(), problems.join("\n"));
}

/// One case of HL7's validator test suite, as `_expected-outcomes.json` lists it.
#[derive(serde::Deserialize)]
struct Case {
    file: String,
    name: String,
    expected_errors: Vec<(String, String)>,
}

/// HL7 validator cases whose expected errors are all outside what ehrkit checks; ehrkit
/// accepts them (asserted, so a new rule that catches one shows up here).
const OUT_OF_SCOPE: [(&str, &str); 10] = [
    ("obs-temp-code2", "terminology: a SNOMED CT code that does not exist"),
    ("bundle-id-5", "terminology: a CVX display name that differs from CVX's"),
    ("obs-temp-bad", "profiles: the vital-signs profile's required LOINC code (bodytemp)"),
    (
        "obs-vs-1",
        "profiles (the bp profile's LOINC code) and an extension from an IG (cardx-htn) that \
         cannot be resolved offline",
    ),
    ("pat-dob-ext", "an extension defined outside R4 (validitron.unimelb.edu.au), unresolvable"),
    ("patient-with-turvakielto", "an extension of the Finnish base profiles, unresolvable"),
    (
        "pat-example-extensions",
        "an example.org extension: unresolvable, and HL7's policy against example URLs",
    ),
    ("dr-example-org", "HL7 validator policy: example.org URLs in Attachment.url (not an R4 rule)"),
    (
        "pat-security-bad-string",
        "HL7's optional security checks (HTML in a string); the same text is expected valid \
         in pat-security-good2",
    ),
    ("signatures-example-2", "digital signature verification (Bundle.signature)"),
];

#[test]
fn hl7_validator_cases_match_the_expected_outcome() {
    let dir = corpus("hl7-validator-tests");
    let cases: Vec<Case> =
        serde_json::from_slice(&fs::read(dir.join("_expected-outcomes.json")).unwrap()).unwrap();
    assert_eq!(cases.len(), 58, "57 files, one of them run under two reference policies");
    let mut mismatches = Vec::new();
    let mut matched = 0;
    for case in &cases {
        let report = validate(&dir.join(&case.file));
        let excluded = OUT_OF_SCOPE.iter().any(|(name, _)| *name == case.name);
        let expected_valid = case.expected_errors.is_empty() || excluded;
        if report.is_valid() == expected_valid {
            matched += 1;
        } else {
            mismatches.push(format!(
                "{} ({}): expected {}, ehrkit {}{}\n  HL7: {:?}",
                case.name,
                case.file,
                if expected_valid { "valid" } else { "invalid" },
                if report.is_valid() { "valid" } else { "invalid" },
                describe(&report),
                case.expected_errors
            ));
        }
    }
    for (name, _) in OUT_OF_SCOPE {
        let case = cases.iter().find(|c| c.name == name).expect("excluded case exists");
        assert!(
            !case.expected_errors.is_empty(),
            "{name}: HL7 expects it valid, no exclusion needed"
        );
    }
    assert!(mismatches.is_empty(), "{} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    assert_eq!(matched, 58);
}

#[test]
fn synthea_patient_bundles_validate_and_get_a_category() {
    let bundles = files("synthea-r4");
    assert_eq!(bundles.len(), 4);
    for path in bundles {
        let report = validate(&path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(report.is_valid(), "{name}:{}", describe(&report));
        let entries: usize = report.resource_counts.iter().map(|(_, n)| n).sum();
        assert!(entries > 100, "{name}: {entries} resources");
        assert!(report.resource_counts.len() >= 10, "{name}: {:?}", report.resource_counts);
        // A whole patient record mixes categories: one record of the bundle category.
        assert_eq!(report.category.map(|c| c.as_str().to_owned()).as_deref(), Some("summary"));
    }
}
