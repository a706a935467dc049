//! Property tests: no input makes the crate panic, and what validates round-trips a frame.

use std::io::Read;

use ehr_record::{Limits, RecordInput, read_frame};
use proptest::prelude::*;

/// Arbitrary JSON text, biased towards FHIR-looking objects.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        prop_oneof![
            Just("final".to_owned()),
            Just("2024-02-29".to_owned()),
            Just("#m1".to_owned()),
            Just("urn:uuid:c757873d-ec9a-4326-a141-556f43239520".to_owned()),
            ".{0,12}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    let key = prop_oneof![
        Just("resourceType".to_owned()),
        Just("status".to_owned()),
        Just("code".to_owned()),
        Just("coding".to_owned()),
        Just("subject".to_owned()),
        Just("reference".to_owned()),
        Just("contained".to_owned()),
        Just("entry".to_owned()),
        Just("resource".to_owned()),
        Just("extension".to_owned()),
        Just("url".to_owned()),
        Just("valueString".to_owned()),
        Just("_given".to_owned()),
        Just("given".to_owned()),
        Just("name".to_owned()),
        Just("id".to_owned()),
        "[a-zA-Z_]{1,10}",
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

const TYPES: [&str; 9] = [
    "Patient",
    "Observation",
    "Condition",
    "MedicationRequest",
    "Medication",
    "DiagnosticReport",
    "DocumentReference",
    "Bundle",
    "Encounter",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = RecordInput::from_fhir_json(&bytes).validate();
        let _ = read_frame(bytes.as_slice(), &Limits::default());
    }

    #[test]
    fn random_json_never_panics(value in json_value(), ty in 0..TYPES.len()) {
        let mut value = value;
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("resourceType".into(), TYPES[ty].into());
        }
        let bytes = serde_json::to_vec(&value).unwrap();
        if let Ok(record) = RecordInput::from_fhir_json(&bytes).validate() {
            // Whatever validates also frames and reads back.
            let mut frame = Vec::new();
            record.framed(std::io::empty()).read_to_end(&mut frame).unwrap();
            let (decoded, _) = read_frame(frame.as_slice(), &Limits::default()).unwrap();
            prop_assert_eq!(decoded, record);
        }
    }

    #[test]
    fn mutated_vectors_never_panic(file in 0usize..11, cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/fhir/valid");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut bytes = std::fs::read(&files[file % files.len()]).unwrap();
        let at = cut.index(bytes.len());
        bytes[at] = byte;
        let _ = RecordInput::from_fhir_json(&bytes).validate();
        bytes.truncate(at);
        let _ = RecordInput::from_fhir_json(&bytes).validate();
    }

    #[test]
    fn any_file_wraps_and_round_trips(content in prop::collection::vec(any::<u8>(), 1..2048), name in "[a-zA-Z0-9 ._/-]{0,24}") {
        let record = RecordInput::wrap_bytes(&name, None, &content).validate().unwrap();
        let mut frame = Vec::new();
        record.framed(content.as_slice()).read_to_end(&mut frame).unwrap();
        let (decoded, mut body) = read_frame(frame.as_slice(), &Limits::default()).unwrap();
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        prop_assert_eq!(decoded, record);
        prop_assert_eq!(out, content);
    }
}
