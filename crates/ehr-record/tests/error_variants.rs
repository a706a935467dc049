//! Every `RecordError` variant, produced through the public API, with a message that says
//! what is wrong and does not leak the input's values.

use std::collections::BTreeSet;
use std::io::{self, Read};

use ehr_record::{Category, Limits, RecordError, RecordInput, read_frame};

fn fhir(json: &str) -> RecordError {
    RecordInput::from_fhir_json(json.as_bytes()).validate().unwrap_err()
}

struct FailingReader;
impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "permission denied"))
    }
}

fn frame_error() -> RecordError {
    read_frame(
        &b"NOTAFRAME-------------------------------------------------"[..],
        &Limits::default(),
    )
    .map(|_| ())
    .unwrap_err()
}

fn attachment_mismatch() -> RecordError {
    let record = RecordInput::wrap_bytes("a.pdf", None, b"%PDF-1.7 one").validate().unwrap();
    let mut out = Vec::new();
    record
        .framed(&b"%PDF-1.7 two"[..])
        .read_to_end(&mut out)
        .map_err(RecordError::from)
        .unwrap_err()
}

fn all_errors() -> Vec<(&'static str, RecordError)> {
    vec![
        ("Empty", RecordInput::from_fhir_json(b"").validate().unwrap_err()),
        (
            "TooLarge",
            RecordInput::from_fhir_reader(&b"{}"[..], Some(1 << 40)).validate().unwrap_err(),
        ),
        ("Io", RecordInput::from_fhir_reader(FailingReader, None).validate().unwrap_err()),
        ("InvalidJson", fhir("{\"resourceType\": \"Patient\",}")),
        ("DuplicateKey", fhir(r#"{"resourceType":"Patient","gender":"male","gender":"female"}"#)),
        ("NotAnObject", fhir("\"Patient\"")),
        ("MissingResourceType", fhir(r#"{"gender":"male"}"#)),
        ("UnknownResourceType", fhir(r#"{"resourceType":"Appointmnt"}"#)),
        ("MissingField", fhir(r#"{"resourceType":"Condition"}"#)),
        ("UnknownElement", fhir(r#"{"resourceType":"Patient","sex":"male"}"#)),
        ("WrongType", fhir(r#"{"resourceType":"Patient","active":"yes"}"#)),
        ("InvalidFormat", fhir(r#"{"resourceType":"Patient","birthDate":"12/07/1984"}"#)),
        ("EmptyValue", fhir(r#"{"resourceType":"Patient","name":[]}"#)),
        ("NotInValueSet", fhir(r#"{"resourceType":"Patient","gender":"f"}"#)),
        (
            "ChoiceConflict",
            fhir(r#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#),
        ),
        ("ConstraintViolated", fhir(r#"{"resourceType":"Patient","telecom":[{"value":"x"}]}"#)),
        ("InvalidCategory", "Lab Results".parse::<Category>().unwrap_err()),
        (
            "CategoryNotDerivable",
            // Only a resource naming two ehrkit categories itself: valid data always gets one.
            fhir(&format!(
                r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"category":[{{"coding":[{{"system":"{s}","code":"lab"}},{{"system":"{s}","code":"imaging"}}]}}]}}"#,
                s = ehr_record::CATEGORY_SYSTEM
            )),
        ),
        ("InvalidFrame", frame_error()),
        ("AttachmentMismatch", attachment_mismatch()),
    ]
}

#[test]
fn every_variant_is_reachable_and_distinct() {
    let errors = all_errors();
    let mut kinds = BTreeSet::new();
    for (expected, err) in &errors {
        assert_eq!(err.kind(), *expected, "{err}");
        assert!(kinds.insert(err.kind()), "{expected} listed twice");
    }
    assert_eq!(kinds.len(), 20, "one case per variant");
}

#[test]
fn messages_explain_and_guide() {
    for (kind, err) in all_errors() {
        let message = err.to_string();
        assert!(message.len() >= 40, "{kind}: too terse: {message}");
        assert!(!message.contains('\n'), "{kind}: one line: {message}");
    }
    let missing = fhir(r#"{"resourceType":"Observation","status":"final"}"#).to_string();
    assert!(missing.contains("Observation.code") && missing.contains("add it"), "{missing}");
    let unknown = fhir(r#"{"resourceType":"Appointmnt"}"#).to_string();
    assert!(unknown.contains("Appointmnt") && unknown.contains("R4 resource type"), "{unknown}");
    let json = fhir("{\n\"resourceType\": \"Patient\",\n}").to_string();
    assert!(json.contains("line 3"), "{json}");
}

#[test]
fn messages_do_not_repeat_health_data() {
    let err = fhir(r#"{"resourceType":"Patient","birthDate":"1984-02-30"}"#).to_string();
    assert!(!err.contains("1984"), "{err}");
    let err = fhir(r#"{"resourceType":"Patient","active":"HIV positive"}"#).to_string();
    assert!(!err.contains("HIV"), "{err}");
}
