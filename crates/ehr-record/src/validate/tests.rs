//! Unit tests of the validator: one or more per rule, each checking the error kind and path.

use crate::ResourceType;
use crate::error::RecordError;
use crate::json::parse;

fn check(json: &str) -> Result<ResourceType, RecordError> {
    super::validate(&parse(json.as_bytes()).expect("test JSON parses"))
}

/// Asserts `json` fails with `kind` at `path`.
#[track_caller]
fn fails(json: &str, kind: &str, path: &str) {
    match check(json) {
        Ok(t) => panic!("expected {kind} at {path}, but {t} validated: {json}"),
        Err(e) => {
            assert_eq!((e.kind(), e.path().unwrap_or("")), (kind, path), "{e}");
        }
    }
}

#[track_caller]
fn passes(json: &str) -> ResourceType {
    check(json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

const OBS: &str = r#""resourceType":"Observation","status":"final","code":{"text":"x"}"#;

fn obs(extra: &str) -> String {
    if extra.is_empty() { format!("{{{OBS}}}") } else { format!("{{{OBS},{extra}}}") }
}

#[test]
fn minimal_resources_of_each_type() {
    assert_eq!(passes(r#"{"resourceType":"Patient"}"#), ResourceType::PATIENT);
    assert_eq!(passes(&obs("")), ResourceType::OBSERVATION);
    passes(r#"{"resourceType":"Condition","subject":{"reference":"Patient/1"}}"#);
    passes(
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/1"}}"#,
    );
    passes(r#"{"resourceType":"Medication"}"#);
    passes(r#"{"resourceType":"DiagnosticReport","status":"final","code":{"text":"x"}}"#);
    passes(
        r#"{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"title":"x"}}]}"#,
    );
    passes(r#"{"resourceType":"Bundle","type":"collection"}"#);
}

#[test]
fn not_an_object_and_resource_type_problems() {
    let err = super::validate(&parse(b"[1]").unwrap()).unwrap_err();
    assert_eq!(err.kind(), "NotAnObject");
    assert!(err.to_string().contains("an array"), "{err}");
    fails(r#"{"status":"final"}"#, "MissingResourceType", "Resource");
    fails(r#"{"resourceType":7}"#, "WrongType", "Resource.resourceType");
    fails(r#"{"resourceType":"Encountr"}"#, "UnknownResourceType", "Resource");
    fails(r#"{"resourceType":"DomainResource"}"#, "UnknownResourceType", "Resource");
    fails(r#"{"resourceType":"patient"}"#, "UnknownResourceType", "Resource");
}

#[test]
fn required_elements() {
    fails(r#"{"resourceType":"Observation","status":"final"}"#, "MissingField", "Observation.code");
    fails(
        r#"{"resourceType":"Observation","code":{"text":"x"}}"#,
        "MissingField",
        "Observation.status",
    );
    fails(r#"{"resourceType":"Condition"}"#, "MissingField", "Condition.subject");
    fails(
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}"#,
        "MissingField",
        "MedicationRequest.medication[x]",
    );
    fails(
        r#"{"resourceType":"MedicationRequest","status":"active","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/1"}}"#,
        "MissingField",
        "MedicationRequest.intent",
    );
    fails(
        r#"{"resourceType":"DiagnosticReport","code":{"text":"x"}}"#,
        "MissingField",
        "DiagnosticReport.status",
    );
    fails(
        r#"{"resourceType":"DocumentReference","status":"current"}"#,
        "MissingField",
        "DocumentReference.content",
    );
    fails(
        r#"{"resourceType":"DocumentReference","status":"current","content":[{"format":{"code":"x"}}]}"#,
        "MissingField",
        "DocumentReference.content[0].attachment",
    );
    fails(r#"{"resourceType":"Bundle"}"#, "MissingField", "Bundle.type");
    fails(
        &obs(r#""component":[{"valueString":"a"}]"#),
        "MissingField",
        "Observation.component[0].code",
    );
    fails(
        &obs(r#""extension":[{"valueString":"a"}]"#),
        "MissingField",
        "Observation.extension[0].url",
    );
}

#[test]
fn unknown_elements() {
    fails(&obs(r#""foo":1"#), "UnknownElement", "Observation.foo");
    fails(&obs(r#""Status":"final""#), "UnknownElement", "Observation.Status");
    fails(&obs(r#""valueFoo":1"#), "UnknownElement", "Observation.valueFoo");
    fails(&obs(r#""code2":{}"#), "UnknownElement", "Observation.code2");
    fails(
        &obs(r#""subject":{"reference":"Patient/1","foo":true}"#),
        "UnknownElement",
        "Observation.subject.foo",
    );
    fails(&obs(r#""_code":{"id":"x"}"#), "UnknownElement", "Observation._code");
    // A Bundle is not a DomainResource.
    fails(
        r#"{"resourceType":"Bundle","type":"collection","text":{"status":"empty","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}"#,
        "UnknownElement",
        "Bundle.text",
    );
    // Inherited elements are fine where R4 has them.
    passes(&obs(
        r#""id":"a1","meta":{"versionId":"1","lastUpdated":"2024-01-01T00:00:00Z","profile":["http://x/p"]},"implicitRules":"http://x","language":"en","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>"},"extension":[{"url":"http://x/e","valueString":"v"}],"modifierExtension":[{"url":"http://x/m","valueBoolean":true}]"#,
    ));
}

#[test]
fn wrong_json_types() {
    fails(&obs(r#""category":{"text":"x"}"#), "WrongType", "Observation.category");
    fails(&obs(r#""subject":[{"reference":"a"}]"#), "WrongType", "Observation.subject");
    fails(&obs(r#""issued":20240101"#), "WrongType", "Observation.issued");
    fails(&obs(r#""valueBoolean":"true""#), "WrongType", "Observation.valueBoolean");
    fails(&obs(r#""valueInteger":"5""#), "WrongType", "Observation.valueInteger");
    fails(&obs(r#""subject":"Patient/1""#), "WrongType", "Observation.subject");
    fails(
        r#"{"resourceType":"Patient","name":[{"given":"Ann"}]}"#,
        "WrongType",
        "Patient.name[0].given",
    );
    fails(r#"{"resourceType":"Patient","gender":["male"]}"#, "WrongType", "Patient.gender");
}

#[test]
fn primitive_formats() {
    fails(
        r#"{"resourceType":"Patient","birthDate":"1990-13-01"}"#,
        "InvalidFormat",
        "Patient.birthDate",
    );
    fails(
        r#"{"resourceType":"Patient","birthDate":"1990-02-30"}"#,
        "InvalidFormat",
        "Patient.birthDate",
    );
    fails(
        &obs(r#""effectiveDateTime":"2024-01-01T10:00:00""#),
        "InvalidFormat",
        "Observation.effectiveDateTime",
    );
    fails(&obs(r#""issued":"2024-01-01""#), "InvalidFormat", "Observation.issued");
    fails(&obs(r#""id":"has space""#), "InvalidFormat", "Observation.id");
    fails(&obs(r#""valueInteger":1.5"#), "InvalidFormat", "Observation.valueInteger");
    fails(&obs(r#""valueInteger":3000000000"#), "InvalidFormat", "Observation.valueInteger");
    fails(
        &obs(r#""method":{"coding":[{"system":"http://loinc.org","code":" 718-7"}]}"#),
        "InvalidFormat",
        "Observation.method.coding[0].code",
    );
    fails(
        &obs(r#""method":{"coding":[{"system":"http://lo inc.org"}]}"#),
        "InvalidFormat",
        "Observation.method.coding[0].system",
    );
    fails(
        r#"{"resourceType":"Patient","photo":[{"contentType":"image/png","data":"not base64!"}]}"#,
        "InvalidFormat",
        "Patient.photo[0].data",
    );
    fails(
        r#"{"resourceType":"Patient","photo":[{"contentType":"png","data":"aGk="}]}"#,
        "InvalidFormat",
        "Patient.photo[0].contentType",
    );
    fails(&obs(r#""valueTime":"10:00""#), "InvalidFormat", "Observation.valueTime");
    passes(&obs(r#""valueTime":"10:00:00""#));
    passes(&obs(r#""effectiveDateTime":"2024""#));
    passes(&obs(r#""effectiveInstant":"2024-01-01T10:00:00.123+05:30""#));
}

#[test]
fn empty_values() {
    fails(&obs(r#""category":[]"#), "EmptyValue", "Observation.category");
    fails(&obs(r#""subject":{}"#), "EmptyValue", "Observation.subject");
    fails(&obs(r#""subject":null"#), "EmptyValue", "Observation.subject");
    fails(&obs(r#""valueString":"""#), "EmptyValue", "Observation.valueString");
    fails(&obs(r#""category":[null]"#), "EmptyValue", "Observation.category[0]");
    fails(
        r#"{"resourceType":"Patient","name":[{"given":["a",null]}]}"#,
        "EmptyValue",
        "Patient.name[0].given[1]",
    );
}

#[test]
fn value_sets() {
    fails(
        r#"{"resourceType":"Observation","status":"done","code":{"text":"x"}}"#,
        "NotInValueSet",
        "Observation.status",
    );
    fails(
        r#"{"resourceType":"Observation","status":"Final","code":{"text":"x"}}"#,
        "NotInValueSet",
        "Observation.status",
    );
    fails(r#"{"resourceType":"Patient","gender":"M"}"#, "NotInValueSet", "Patient.gender");
    fails(r#"{"resourceType":"Bundle","type":"list"}"#, "NotInValueSet", "Bundle.type");
    fails(
        &obs(r#""valueQuantity":{"value":1,"comparator":"=="}"#),
        "NotInValueSet",
        "Observation.valueQuantity.comparator",
    );
    let err =
        check(r#"{"resourceType":"Observation","status":"done","code":{"text":"x"}}"#).unwrap_err();
    assert!(err.to_string().contains("final, preliminary, registered"), "{err}");
}

#[test]
fn choice_elements() {
    fails(
        &obs(r#""valueString":"a","valueBoolean":true"#),
        "ChoiceConflict",
        "Observation.value[x]",
    );
    fails(
        &obs(
            r#""valueString":"a","_valueBoolean":{"extension":[{"url":"http://x","valueString":"y"}]}"#,
        ),
        "ChoiceConflict",
        "Observation.value[x]",
    );
    passes(&obs(r#""valueString":"a","_valueString":{"id":"v1"}"#));
    let err = check(&obs(r#""valueString":"a","valueBoolean":true"#)).unwrap_err();
    assert!(err.to_string().contains("valueString and valueBoolean"), "{err}");
}

#[test]
fn primitive_extensions() {
    passes(
        r#"{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}"#,
    );
    passes(
        r#"{"resourceType":"Patient","name":[{"given":["Ann",null],"_given":[null,{"extension":[{"url":"http://x","valueString":"y"}]}]}]}"#,
    );
    fails(
        r#"{"resourceType":"Patient","name":[{"given":["Ann"],"_given":[null,null]}]}"#,
        "ConstraintViolated",
        "Patient.name[0].given",
    );
    fails(r#"{"resourceType":"Patient","_birthDate":"x"}"#, "WrongType", "Patient._birthDate");
    fails(
        r#"{"resourceType":"Patient","_birthDate":{"foo":1}}"#,
        "UnknownElement",
        "Patient._birthDate.foo",
    );
    fails(
        r#"{"resourceType":"Patient","_birthDate":{"id":"a"}}"#,
        "ConstraintViolated",
        "Patient._birthDate",
    );
    // Attributes have no `_` form.
    fails(
        &obs(r#""extension":[{"url":"http://x","_url":{"id":"a"},"valueString":"v"}]"#),
        "UnknownElement",
        "Observation.extension[0]._url",
    );
}

#[test]
fn extensions() {
    fails(
        &obs(r#""extension":[{"url":"http://x"}]"#),
        "ConstraintViolated",
        "Observation.extension[0]",
    );
    fails(
        &obs(
            r#""extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}]"#,
        ),
        "ConstraintViolated",
        "Observation.extension[0]",
    );
    passes(&obs(
        r#""extension":[{"url":"http://x","extension":[{"url":"y","valueCodeableConcept":{"text":"b"}}]}]"#,
    ));
    fails(
        &obs(r#""extension":[{"url":"http://x","valueWidget":1}]"#),
        "UnknownElement",
        "Observation.extension[0].valueWidget",
    );
    passes(&obs(
        r#""extension":[{"url":"http://x","valueExpression":{"language":"text/fhirpath","expression":"1"}}]"#,
    ));
}

#[test]
fn datatype_invariants() {
    fails(
        &obs(r#""valueQuantity":{"value":1,"code":"mg"}"#),
        "ConstraintViolated",
        "Observation.valueQuantity",
    );
    // SimpleQuantity's profile leaves `comparator` out.
    fails(
        &obs(r#""referenceRange":[{"low":{"value":1,"comparator":"<"}}]"#),
        "UnknownElement",
        "Observation.referenceRange[0].low.comparator",
    );
    fails(
        &obs(r#""referenceRange":[{"type":{"text":"normal"}}]"#),
        "ConstraintViolated",
        "Observation.referenceRange[0]",
    );
    fails(
        r#"{"resourceType":"Patient","telecom":[{"value":"555"}]}"#,
        "ConstraintViolated",
        "Patient.telecom[0]",
    );
    fails(
        r#"{"resourceType":"Patient","photo":[{"data":"aGk="}]}"#,
        "ConstraintViolated",
        "Patient.photo[0]",
    );
    fails(
        r#"{"resourceType":"Patient","contact":[{"gender":"male"}]}"#,
        "ConstraintViolated",
        "Patient.contact[0]",
    );
    fails(
        &obs(r#""valueRatio":{"numerator":{"value":1}}"#),
        "ConstraintViolated",
        "Observation.valueRatio",
    );
    fails(&obs(r#""subject":{"id":"a"}"#), "ConstraintViolated", "Observation.subject");
    fails(
        &obs(r#""dataAbsentReason":{"text":"x"},"valueString":"a""#),
        "ConstraintViolated",
        "Observation",
    );
    fails(
        r#"{"resourceType":"Condition","subject":{"reference":"Patient/1"},"abatementString":"gone","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}"#,
        "ConstraintViolated",
        "Condition",
    );
    fails(
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"text":"x"},"subject":{"reference":"Patient/1"},"dosageInstruction":[{"timing":{"repeat":{"period":1}}}]}"#,
        "ConstraintViolated",
        "MedicationRequest.dosageInstruction[0].timing.repeat",
    );
    fails(
        r#"{"resourceType":"Condition","subject":{"reference":"Patient/1"},"onsetAge":{"value":-3,"unit":"a","system":"http://unitsofmeasure.org","code":"a"}}"#,
        "ConstraintViolated",
        "Condition.onsetAge",
    );
}

#[test]
fn timing_rules() {
    let timing = |repeat: &str| {
        format!(
            r#"{{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{{"text":"x"}},"subject":{{"reference":"Patient/1"}},"dosageInstruction":[{{"timing":{{"repeat":{repeat}}}}}]}}"#
        )
    };
    let at = "MedicationRequest.dosageInstruction[0].timing.repeat";
    passes(&timing(r#"{"frequency":3,"period":1,"periodUnit":"d","timeOfDay":["08:00:00"]}"#));
    fails(&timing(r#"{"duration":2}"#), "ConstraintViolated", at);
    fails(&timing(r#"{"periodMax":2}"#), "ConstraintViolated", at);
    fails(&timing(r#"{"countMax":2}"#), "ConstraintViolated", at);
    // R3 and R4 have no tim-3 (DSTU2 forbade frequency with when): both together are valid.
    passes(&timing(r#"{"frequency":2,"period":1,"periodUnit":"d","when":["AC"]}"#));
    fails(&timing(r#"{"offset":30}"#), "ConstraintViolated", at);
    fails(&timing(r#"{"offset":30,"when":["C"]}"#), "ConstraintViolated", at);
    passes(&timing(r#"{"offset":30,"when":["AC"]}"#));
    fails(&timing(r#"{"timeOfDay":["08:00:00"],"when":["AC"]}"#), "ConstraintViolated", at);
    fails(&timing(r#"{"period":-1,"periodUnit":"d"}"#), "ConstraintViolated", at);
    fails(&timing(r#"{"periodUnit":"days"}"#), "NotInValueSet", &format!("{at}.periodUnit"));
    fails(
        &timing(r#"{"dayOfWeek":["mon","funday"]}"#),
        "NotInValueSet",
        &format!("{at}.dayOfWeek[1]"),
    );
}

#[test]
fn unknown_type_names_are_not_echoed_when_they_look_like_text() {
    let err = check(r#"{"resourceType":"Jane Doe, HIV clinic"}"#).unwrap_err().to_string();
    assert!(!err.contains("Jane"), "{err}");
    let err = check(r#"{"resourceType":"Encountr"}"#).unwrap_err().to_string();
    assert!(err.contains("`Encountr`"), "{err}");
}

#[test]
fn narrative_is_safe_xhtml() {
    let text = |div: &str| obs(&format!(r#""text":{{"status":"generated","div":"{div}"}}"#));
    passes(&text(
        r#"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">Hb <b>13</b> (click on=here)</p></div>"#,
    ));
    fails(&text("<div>x</div>"), "InvalidFormat", "Observation.text.div");
    fails(
        &text(r#"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"#),
        "ConstraintViolated",
        "Observation.text.div",
    );
    fails(
        &text(
            r#"<div xmlns=\"http://www.w3.org/1999/xhtml\"><img src=\"x\" onerror=\"alert(1)\"/></div>"#,
        ),
        "ConstraintViolated",
        "Observation.text.div",
    );
    fails(
        &text(
            r#"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"JavaScript:x()\">a</a></div>"#,
        ),
        "ConstraintViolated",
        "Observation.text.div",
    );
}

#[test]
fn contained_resources_and_local_references() {
    let mr = |contained: &str, med: &str| {
        format!(
            r#"{{"resourceType":"MedicationRequest","contained":[{contained}],"status":"active","intent":"order",{med},"subject":{{"reference":"Patient/1"}}}}"#
        )
    };
    let med = r#"{"resourceType":"Medication","id":"m1","code":{"text":"x"}}"#;
    passes(&mr(med, r##""medicationReference":{"reference":"#m1"}"##));
    fails(
        &mr(med, r##""medicationReference":{"reference":"#m2"}"##),
        "ConstraintViolated",
        "MedicationRequest.medicationReference.reference",
    );
    fails(
        &mr(med, r#""medicationCodeableConcept":{"text":"x"}"#),
        "ConstraintViolated",
        "MedicationRequest.contained[0]",
    );
    // Any resource type may be contained, but a reference names a type its element allows.
    fails(
        &mr(
            r#"{"resourceType":"Substance","id":"e","code":{"text":"x"}}"#,
            r##""medicationReference":{"reference":"#e"}"##,
        ),
        "ConstraintViolated",
        "MedicationRequest.medicationReference.reference",
    );
    fails(
        &mr(
            r#"{"resourceType":"Medication","id":"m1","meta":{"versionId":"2"}}"#,
            r##""medicationReference":{"reference":"#m1"}"##,
        ),
        "ConstraintViolated",
        "MedicationRequest.contained[0].ofType(Medication)",
    );
    fails(
        &mr(
            r#"{"resourceType":"Medication","id":"m1","contained":[{"resourceType":"Medication","id":"x"}]}"#,
            r##""medicationReference":{"reference":"#m1"}"##,
        ),
        "ConstraintViolated",
        "MedicationRequest.contained[0].ofType(Medication)",
    );
    fails(
        &mr(
            r#"{"resourceType":"Medication","id":"m1","status":"bad"}"#,
            r##""medicationReference":{"reference":"#m1"}"##,
        ),
        "NotInValueSet",
        "MedicationRequest.contained[0].ofType(Medication).status",
    );
    // A contained resource may instead refer to its container.
    passes(&mr(
        r##"{"resourceType":"Medication","id":"m1","manufacturer":{"reference":"#"}}"##,
        r#""medicationCodeableConcept":{"text":"x"}"#,
    ));
}

fn bundle(kind: &str, entries: &str) -> String {
    format!(r#"{{"resourceType":"Bundle","type":"{kind}","entry":[{entries}]}}"#)
}

#[test]
fn bundles_validate_entries_recursively() {
    let good = format!(
        r#"{{"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{}}}"#,
        obs("")
    );
    passes(&bundle("collection", &good));
    let bad = r#"{"resource":{"resourceType":"Observation","status":"final"}}"#;
    fails(
        &bundle("collection", &format!("{good},{bad}")),
        "MissingField",
        "Bundle.entry[1].resource.ofType(Observation).code",
    );
    fails(
        &bundle("collection", r#"{"resource":{"resourceType":"Encounter"}}"#),
        "MissingField",
        "Bundle.entry[0].resource.ofType(Encounter).status",
    );
    fails(
        &bundle("collection", r#"{"resource":{"status":"final"}}"#),
        "MissingResourceType",
        "Bundle.entry[0].resource",
    );
    fails(&bundle("collection", r#"{"resource":[]}"#), "WrongType", "Bundle.entry[0].resource");
    fails(
        &bundle("collection", r#"{"fullUrl":"urn:uuid:1"}"#),
        "ConstraintViolated",
        "Bundle.entry[0]",
    );
    // Nested bundle.
    let inner = bundle("collection", bad);
    fails(
        &bundle("collection", &format!(r#"{{"resource":{inner}}}"#)),
        "MissingField",
        "Bundle.entry[0].resource.ofType(Bundle).entry[0].resource.ofType(Observation).code",
    );
}

#[test]
fn bundle_invariants() {
    let entry = format!(r#"{{"resource":{}}}"#, obs(""));
    fails(
        r#"{"resourceType":"Bundle","type":"collection","total":1}"#,
        "ConstraintViolated",
        "Bundle",
    );
    fails(&bundle("transaction", &entry), "ConstraintViolated", "Bundle.entry[0]");
    fails(
        &bundle(
            "collection",
            &format!(
                r#"{{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}"#,
                obs("")
            ),
        ),
        "ConstraintViolated",
        "Bundle.entry[0]",
    );
    passes(&bundle(
        "transaction",
        &format!(r#"{{"resource":{},"request":{{"method":"POST","url":"Observation"}}}}"#, obs("")),
    ));
    fails(
        &bundle(
            "transaction",
            &format!(
                r#"{{"resource":{},"request":{{"method":"FETCH","url":"Observation"}}}}"#,
                obs("")
            ),
        ),
        "NotInValueSet",
        "Bundle.entry[0].request.method",
    );
    fails(
        &bundle(
            "collection",
            &format!(r#"{{"resource":{},"search":{{"mode":"match"}}}}"#, obs("")),
        ),
        "ConstraintViolated",
        "Bundle.entry[0]",
    );
    // A search match is a server's resource: it has an id (HL7 validator case bundle-id-3).
    let searchset = |resource: &str| {
        format!(
            r#"{{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{{"resource":{resource},"search":{{"mode":"match"}}}}]}}"#
        )
    };
    passes(&searchset(&obs(r#""id":"1""#)));
    fails(&searchset(&obs("")), "ConstraintViolated", "Bundle.entry[0].resource");
    fails(&bundle("document", &entry), "ConstraintViolated", "Bundle");
    let response = format!(r#"{{"resource":{},"response":{{"status":"201 Created"}}}}"#, obs(""));
    passes(&bundle("transaction-response", &response));
    fails(&bundle("transaction-response", &entry), "ConstraintViolated", "Bundle.entry[0]");
    fails(&bundle("batch", &response), "ConstraintViolated", "Bundle.entry[0]");
    let history = format!(
        r#"{{"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{},"request":{{"method":"PUT","url":"Observation/1"}},"response":{{"status":"200"}}}}"#,
        obs("")
    );
    passes(&bundle("history", &format!("{history},{history}")));
    fails(&bundle("message", &entry), "ConstraintViolated", "Bundle");
}

#[test]
fn full_urls() {
    let with = |url: &str, id: &str| {
        bundle("collection", &format!(r#"{{"fullUrl":"{url}","resource":{{{OBS},"id":"{id}"}}}}"#))
    };
    passes(&with("https://example.org/fhir/Observation/a1", "a1"));
    passes(&with("urn:uuid:c757873d-ec9a-4326-a141-556f43239520", "a1"));
    fails(
        &with("https://example.org/fhir/Observation/a2", "a1"),
        "ConstraintViolated",
        "Bundle.entry[0].fullUrl",
    );
    fails(
        &with("https://example.org/fhir/Patient/a1", "a1"),
        "ConstraintViolated",
        "Bundle.entry[0].fullUrl",
    );
    fails(
        &with("https://example.org/fhir/Observation/a1/_history/2", "a1"),
        "ConstraintViolated",
        "Bundle.entry[0].fullUrl",
    );
    fails(&with("Observation/a1", "a1"), "InvalidFormat", "Bundle.entry[0].fullUrl");
    fails(&with("urn:uuid:123", "a1"), "InvalidFormat", "Bundle.entry[0].fullUrl");
    let twice = format!(
        r#"{{"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{}}}"#,
        obs("")
    );
    fails(
        &bundle("collection", &format!("{twice},{twice}")),
        "ConstraintViolated",
        "Bundle.entry[1].fullUrl",
    );
}

#[test]
fn errors_come_in_document_order() {
    // Both problems exist; the first in the document is reported.
    fails(
        r#"{"resourceType":"Observation","foo":1,"status":"done"}"#,
        "UnknownElement",
        "Observation.foo",
    );
    fails(
        r#"{"resourceType":"Observation","status":"done","foo":1}"#,
        "NotInValueSet",
        "Observation.status",
    );
}
