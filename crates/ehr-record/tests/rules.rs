//! The rules added with the definition-driven validator, each through the public API: one
//! input that breaks the rule (kind, rule key and path asserted) and, where it sharpens the
//! rule, a close one that keeps it.

use ehr_record::{FhirReport, JsonContent, MAX_REPORTED_ERRORS, RecordError, sniff_json};

fn report(json: &str) -> FhirReport {
    ehr_record::validate_fhir_json(json.as_bytes())
}

/// `(kind, rule key, path)` of every error.
fn errors(json: &str) -> Vec<(&'static str, Option<&'static str>, String)> {
    report(json)
        .errors
        .iter()
        .map(|e| {
            let key = match e {
                RecordError::ConstraintViolated { key, .. } => Some(*key),
                _ => None,
            };
            (e.kind(), key, e.path().unwrap_or("-").to_owned())
        })
        .collect()
}

#[track_caller]
fn breaks(json: &str, key: &'static str, path: &str) {
    assert_eq!(errors(json), [("ConstraintViolated", Some(key), path.to_owned())], "{json}");
}

#[track_caller]
fn valid(json: &str) {
    let r = report(json);
    assert!(
        r.is_valid(),
        "{json}: {:?}",
        r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
}

fn patient(extra: &str) -> String {
    format!(r#"{{"resourceType":"Patient",{extra}}}"#)
}

fn narrative(div: &str) -> String {
    patient(&format!(r#""text":{{"status":"generated","div":"{div}"}}"#))
}

const NS: &str = r#"xmlns=\"http://www.w3.org/1999/xhtml\""#;

#[test]
fn narrative_txt_1_allows_only_basic_html() {
    valid(&narrative(&format!(
        r#"<div {NS}><p>Jane <b>Doe</b></p><table><tr><td colspan=\"2\">x</td></tr></table></div>"#
    )));
    breaks(
        &narrative(&format!(r#"<div {NS}><iframe src=\"x\"></iframe></div>"#)),
        "txt-1",
        "Patient.text.div",
    );
    breaks(
        &narrative(&format!(r#"<div {NS}><p onmouseover=\"x()\">a</p></div>"#)),
        "txt-1",
        "Patient.text.div",
    );
    breaks(
        &narrative(&format!(r#"<div {NS}><font color=\"red\">a</font></div>"#)),
        "txt-1",
        "Patient.text.div",
    );
}

#[test]
fn narrative_txt_2_needs_content_and_must_be_well_formed() {
    breaks(&narrative(&format!(r#"<div {NS}> <p/> </div>"#)), "txt-2", "Patient.text.div");
    valid(&narrative(&format!(r##"<div {NS}><img src=\"#photo\"/></div>"##)));
    let unclosed = errors(&narrative(&format!(r#"<div {NS}><p>a</div>"#)));
    assert_eq!(unclosed, [("InvalidFormat", None, "Patient.text.div".to_owned())]);
}

#[test]
fn attachment_hash_is_the_sha1_of_the_data() {
    // "hello" and its SHA-1, base64.
    let photo = |hash: &str| {
        patient(&format!(
            r#""photo":[{{"contentType":"text/plain","data":"aGVsbG8=","hash":"{hash}"}}]"#
        ))
    };
    valid(&photo("qvTGHdzF6KLavt4PO0gs2a6pQ00="));
    breaks(&photo("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "att-hash", "Patient.photo[0].hash");
}

#[test]
fn periods_do_not_end_before_they_start() {
    let period = |start: &str, end: &str| {
        patient(&format!(
            r#""name":[{{"family":"X","period":{{"start":"{start}","end":"{end}"}}}}]"#
        ))
    };
    valid(&period("2020-01-01", "2020-01-01"));
    valid(&period("2020-05", "2020-05-10")); // compared at the coarser precision
    valid(&period("2020-01-01T10:00:00+02:00", "2020-01-01T09:00:00Z"));
    breaks(&period("2021", "2020-12-31"), "per-1", "Patient.name[0].period");
    breaks(
        &period("2020-01-01T10:00:00Z", "2020-01-01T11:00:00+02:00"),
        "per-1",
        "Patient.name[0].period",
    );
}

#[test]
fn ranges_have_low_at_most_high() {
    let range = |low: u32, high: u32| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"valueRange":{{"low":{{"value":{low},"unit":"mg"}},"high":{{"value":{high},"unit":"mg"}}}}}}"#
        )
    };
    valid(&range(1, 2));
    breaks(&range(3, 2), "rng-2", "Observation.valueRange");
}

#[test]
fn contained_ids_are_distinct() {
    let json = r##"{"resourceType":"MedicationRequest","status":"active","intent":"order",
        "contained":[{"resourceType":"Medication","id":"m"},{"resourceType":"Medication","id":"m"}],
        "medicationReference":{"reference":"#m"},"subject":{"reference":"Patient/1"}}"##;
    breaks(json, "contained-id-unique", "MedicationRequest.contained[1].id");
}

#[test]
fn extension_urls_carry_no_version() {
    let json = patient(
        r#""extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace|4.0.1","valueAddress":{"city":"X"}}]"#,
    );
    breaks(&json, "ext-url-version", "Patient.extension[0].url");
}

#[test]
fn resource_ids_have_no_extensions() {
    let json = patient(
        r#""id":"1","_id":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}"#,
    );
    breaks(&json, "id-extension", "Patient.id");
}

#[test]
fn core_extensions_are_used_where_and_as_defined() {
    // humanname-mothers-family belongs on HumanName.family (the HL7 case maiden-name).
    let mothers = r#"{"url":"http://hl7.org/fhir/StructureDefinition/humanname-mothers-family","valueString":"X"}"#;
    valid(&patient(&format!(r#""name":[{{"family":"Y","_family":{{"extension":[{mothers}]}}}}]"#)));
    breaks(
        &patient(&format!(r#""name":[{{"family":"Y","extension":[{mothers}]}}]"#)),
        "ext-context",
        "Patient.name[0].extension[0]",
    );
    // patient-birthPlace takes an Address.
    breaks(
        &patient(
            r#""extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueString":"X"}]"#,
        ),
        "ext-value-type",
        "Patient.extension[0]",
    );
    // Extensions R4 does not define are not judged.
    valid(&patient(r#""extension":[{"url":"https://example.net/fhir/x","valueString":"X"}]"#));
}

fn transaction(entries: &str) -> String {
    format!(r#"{{"resourceType":"Bundle","type":"transaction","entry":[{entries}]}}"#)
}

const PATIENT_ENTRY: &str = r#"{"fullUrl":"urn:uuid:4b8a6c2e-6a1d-4a53-8f0e-3f3e0e7c9a10","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}"#;

fn observation_entry(subject: &str) -> String {
    format!(
        r#"{{"fullUrl":"urn:uuid:9d0f6a0e-1b8c-4d2a-a6c5-1f2e3d4c5b6a","resource":{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"{subject}"}}}},"request":{{"method":"POST","url":"Observation"}}}}"#
    )
}

#[test]
fn urn_uuid_references_resolve_inside_the_bundle() {
    valid(&transaction(&format!(
        "{PATIENT_ENTRY},{}",
        observation_entry("urn:uuid:4b8a6c2e-6a1d-4a53-8f0e-3f3e0e7c9a10")
    )));
    breaks(
        &transaction(&format!(
            "{PATIENT_ENTRY},{}",
            observation_entry("urn:uuid:00000000-0000-4000-8000-000000000000")
        )),
        "bundle-reference",
        "Bundle.entry[1].resource.ofType(Observation).subject.reference",
    );
}

#[test]
fn references_point_at_types_the_element_allows() {
    // Observation.subject: Patient, Group, Device, Location — not Medication.
    let medication = r#"{"fullUrl":"urn:uuid:4b8a6c2e-6a1d-4a53-8f0e-3f3e0e7c9a10","resource":{"resourceType":"Medication"},"request":{"method":"POST","url":"Medication"}}"#;
    let at = "Bundle.entry[1].resource.ofType(Observation).subject.reference";
    breaks(
        &transaction(&format!(
            "{medication},{}",
            observation_entry("urn:uuid:4b8a6c2e-6a1d-4a53-8f0e-3f3e0e7c9a10")
        )),
        "reference-target",
        at,
    );
    let relative = r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/1"}}"#;
    breaks(relative, "reference-target", "Observation.subject.reference");
    valid(&relative.replace("Medication/1", "Group/1"));
}

#[test]
fn every_problem_is_reported_up_to_the_limit() {
    let three =
        report(r#"{"resourceType":"Patient","gender":"f","birthDate":"1984-02-30","hair":"red"}"#);
    let kinds: Vec<_> = three.errors.iter().map(RecordError::kind).collect();
    assert_eq!(kinds, ["NotInValueSet", "InvalidFormat", "UnknownElement"]);
    assert!(!three.truncated);

    let names: Vec<String> = (0..150).map(|i| format!(r#"{{"use":"bad{i}"}}"#)).collect();
    let many = report(&patient(&format!(r#""name":[{}]"#, names.join(","))));
    assert_eq!(many.errors.len(), MAX_REPORTED_ERRORS);
    assert!(many.truncated);
    assert_eq!(many.errors[99].path(), Some("Patient.name[99].use"));
    assert!(many.errors.iter().all(|e| e.kind() == "NotInValueSet"));
}

#[test]
fn bundle_paging_links_and_search_entries() {
    let links = r#"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"https://x/Patient"},{"relation":"self","url":"https://x/Patient?a=b"}]}"#;
    breaks(links, "bdl-link-unique", "Bundle.link[1]");
    let outcome = r#"{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","id":"1"},"search":{"mode":"outcome"}}]}"#;
    breaks(outcome, "bdl-search-outcome", "Bundle.entry[0].resource");
}

#[test]
fn versioned_references_pick_out_one_entry() {
    let entry = |version: &str| {
        format!(
            r#"{{"fullUrl":"https://x/fhir/Observation/o","resource":{{"resourceType":"Observation","id":"o","meta":{{"versionId":"{version}"}},"status":"final","code":{{"text":"x"}}}}}}"#
        )
    };
    let list = |reference: &str| {
        format!(
            r#"{{"fullUrl":"https://x/fhir/List/l","resource":{{"resourceType":"List","id":"l","status":"current","mode":"working","entry":[{{"item":{{"reference":"{reference}"}}}}]}}}}"#
        )
    };
    let bundle = |reference: &str| {
        format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[{},{},{}]}}"#,
            list(reference),
            entry("1"),
            entry("2")
        )
    };
    let at = "Bundle.entry[0].resource.ofType(List).entry[0].item.reference";
    valid(&bundle("Observation/o/_history/2"));
    breaks(&bundle("Observation/o/_history/3"), "bundle-reference-version", at);
    breaks(&bundle("Observation/o"), "bundle-reference-ambiguous", at);
}

#[test]
fn coding_systems_are_absolute() {
    let obs = |system: &str| {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"{system}","code":"1"}}]}}}}"#
        )
    };
    valid(&obs("urn:oid:2.16.840.1.113883.6.1"));
    breaks(&obs("Location!"), "coding-system-absolute", "Observation.code.coding[0].system");
}

#[test]
fn fhir_json_is_told_apart_by_content() {
    assert_eq!(sniff_json(br#"{"resourceType":"Observation"}"#), JsonContent::FhirResource);
    assert_eq!(sniff_json(br#"{"patient":"x"}"#), JsonContent::OtherJson);
    assert_eq!(sniff_json(b"not json"), JsonContent::NotJson);
}
