//! Fuzzing by property test (cargo-fuzz needs a nightly toolchain; see docs/security.md): FHIR
//! validation never panics on arbitrary bytes or on byte-mutated valid resources, and a
//! resource that validates after a mutation is still valid JSON of the same resource type.
//!
//! Cases: `EHR_FUZZ_CASES` (default 2,000; the long run in docs/security.md used 100,000).

use ehr_record::RecordInput;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("EHR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

const OBSERVATION: &str = r#"{"resourceType":"Observation","id":"obs-1","status":"final",
"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"HbA1c"},
"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2025-03-14T08:30:00-05:00",
"valueQuantity":{"value":7.8,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = RecordInput::from_fhir_json(&bytes).validate();
    }

    #[test]
    fn mutated_resources_never_panic(edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6)) {
        let mut bytes = OBSERVATION.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let at = at % bytes.len().max(1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at.min(bytes.len()), byte),
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => {}
            }
        }
        if let Ok(record) = RecordInput::from_fhir_json(&bytes).validate() {
            let value: serde_json::Value = serde_json::from_slice(record.json()).expect("valid JSON");
            prop_assert!(value["resourceType"].is_string());
        }
    }

    #[test]
    fn wrapped_files_with_arbitrary_names_never_panic(name in ".{0,300}", content in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = RecordInput::wrap_bytes(&name, None, &content).validate();
    }
}
