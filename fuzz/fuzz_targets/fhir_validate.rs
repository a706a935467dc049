//! FHIR validation of arbitrary bytes: never panics; what validates is JSON with a
//! resourceType.
#![no_main]
use ehr_record::RecordInput;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = RecordInput::from_fhir_json(data).validate() {
        assert!(!record.json().is_empty());
    }
});
