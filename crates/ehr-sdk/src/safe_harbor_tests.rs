//! Safe Harbor's 18 identifiers as a table over the real FHIR corpus (`../shared/fhir-corpus`
//! beside the repository): every corpus resource gets one planted marker per identifier kind
//! that applies to its type, then is de-identified; no marker survives, every remaining date
//! is a bare year, no element of an identifying type is left, and ages over 89 read 90+.

use std::path::Path;

use serde_json::{Value, json};

use super::*;

const YEAR: i32 = 2026;

/// (Safe Harbor identifier, resource types it is planted into, where, the marker).
fn plantings() -> Vec<(&'static str, &'static str, Value, &'static str)> {
    vec![
        (
            "A names",
            "*",
            json!({"contained": [{"resourceType": "Patient", "name": [{"family": "Zqxname", "given": ["Zqxgiven"]}]}]}),
            "Zqxname",
        ),
        ("A names", "Patient", json!({"name": [{"text": "Zqxfull Name"}]}), "Zqxfull"),
        (
            "B geography",
            "Patient",
            json!({"address": [{"line": ["12 Zqxstreet"], "city": "Zqxcity", "district": "Zqxcounty", "state": "MA", "postalCode": "02139-4307"}]}),
            "Zqxstreet",
        ),
        (
            "B geography",
            "Patient",
            json!({"address": [{"city": "Zqxtown", "postalCode": "03601"}]}),
            "Zqxtown",
        ),
        (
            "B geography",
            "Location",
            json!({"position": {"longitude": -71.123456, "latitude": 42.987654}}),
            "42.987654",
        ),
        ("C dates", "Patient", json!({"birthDate": "1931-07-14"}), "1931"),
        ("C dates", "*", json!({"meta": {"lastUpdated": "2019-11-05T08:09:10Z"}}), "2019-11-05"),
        (
            "D telephone",
            "Patient",
            json!({"telecom": [{"system": "phone", "value": "555-0199-7731"}]}),
            "555-0199-7731",
        ),
        (
            "E fax",
            "Organization",
            json!({"telecom": [{"system": "fax", "value": "555-0198-4412"}]}),
            "555-0198-4412",
        ),
        (
            "F e-mail",
            "Practitioner",
            json!({"telecom": [{"system": "email", "value": "zqx@example.org"}]}),
            "zqx@example.org",
        ),
        (
            "G SSN",
            "Patient",
            json!({"identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "987-65-4329"}]}),
            "987-65-4329",
        ),
        (
            "H medical record number",
            "*",
            json!({"identifier": [{"type": {"text": "MRN"}, "value": "MRN-ZQX-0042"}]}),
            "MRN-ZQX-0042",
        ),
        ("I health plan number", "Coverage", json!({"subscriberId": "SUB-ZQX-771"}), "SUB-ZQX-771"),
        (
            "J account number",
            "*",
            json!({"contained": [{"resourceType": "Account", "status": "active",
                                  "identifier": [{"value": "ACCT-ZQX-55"}]}]}),
            "ACCT-ZQX-55",
        ),
        (
            "K certificate/licence",
            "Practitioner",
            json!({"qualification": [{"identifier": [{"value": "LIC-ZQX-9"}], "code": {"text": "MD"}}]}),
            "LIC-ZQX-9",
        ),
        (
            "L vehicle identifiers",
            "*",
            json!({"contained": [{"resourceType": "Basic", "code": {"text": "vehicle"}, "identifier": [{"value": "VIN-ZQX-1HGCM"}]}]}),
            "VIN-ZQX-1HGCM",
        ),
        (
            "M device identifiers",
            "Device",
            json!({"serialNumber": "SN-ZQX-0815", "lotNumber": "LOT-ZQX-77", "udiCarrier": [{"deviceIdentifier": "UDI-ZQX-01", "carrierHRF": "(01)ZQX"}]}),
            "ZQX-0815",
        ),
        (
            "M device identifiers",
            "Immunization",
            json!({"lotNumber": "LOT-ZQX-IMM"}),
            "LOT-ZQX-IMM",
        ),
        (
            "N web URLs",
            "*",
            json!({"implicitRules": "https://zqx.example.org/rules"}),
            "zqx.example.org",
        ),
        ("O IP addresses", "Device", json!({"url": "http://10.77.13.42/device"}), "10.77.13.42"),
        (
            "P biometrics",
            "Patient",
            json!({"photo": [{"contentType": "image/png", "data": "WlFYYmlvbWV0cmlj"}]}),
            "WlFYYmlvbWV0cmlj",
        ),
        (
            "Q photographs",
            "Patient",
            json!({"photo": [{"url": "https://zqx.example.org/face.jpg"}]}),
            "face.jpg",
        ),
        (
            "R other unique characteristics",
            "*",
            json!({"text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Zqxnarrative</div>"}}),
            "Zqxnarrative",
        ),
        (
            "R other unique characteristics",
            "*",
            json!({"extension": [{"url": "http://zqx.example.org/ext", "valueString": "Zqxextension"}]}),
            "Zqxextension",
        ),
        (
            "R other unique characteristics",
            "Observation",
            json!({"note": [{"text": "Zqxnote about the patient"}]}),
            "Zqxnote",
        ),
        ("element ids", "*", json!({"id": "zqx-resource-id"}), "zqx-resource-id"),
    ]
}

fn corpus_files() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fhir-corpus");
    let mut files = Vec::new();
    for dir in ["official-r4", "us-core-9.0.0", "synthea-r4"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Plants `planting` into every resource of a matching type in `value` (Bundle entries too).
fn plant(value: &mut Value, types: &str, planting: &Value) -> usize {
    let mut planted = 0;
    if let Some(entries) = value.get_mut("entry").and_then(Value::as_array_mut) {
        for entry in entries {
            if let Some(resource) = entry.get_mut("resource") {
                planted += plant(resource, types, planting);
            }
        }
    }
    if let Some(contained) = value.get_mut("contained").and_then(Value::as_array_mut) {
        for resource in contained {
            planted += plant(resource, types, planting);
        }
    }
    let rt = value.get("resourceType").and_then(Value::as_str).unwrap_or("").to_owned();
    if (types == "*" || types == rt) && rt != "Bundle" {
        for (k, v) in planting.as_object().unwrap() {
            value[k] = v.clone();
        }
        planted += 1;
    }
    planted
}

/// Every element left, with its type: none may be of an identifying type.
fn check_types(value: &Value, name: &str, path: &str, problems: &mut Vec<String>) {
    let Value::Object(object) = value else { return };
    for (key, child) in object {
        if key == "resourceType" {
            continue;
        }
        let here = format!("{path}.{key}");
        let Some(ty) = element_type(name, key) else {
            problems.push(format!("{here}: unknown element survived"));
            continue;
        };
        let items: Vec<&Value> = match child {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for item in items {
            match ty {
                ElementType::Primitive("date" | "dateTime") => {
                    if !item
                        .as_str()
                        .is_some_and(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
                    {
                        problems.push(format!("{here}: {item} is not a bare year"));
                    }
                }
                ElementType::Primitive(
                    p @ ("string" | "markdown" | "uri" | "url" | "canonical" | "instant" | "time"
                    | "base64Binary" | "id" | "oid" | "uuid"),
                ) => {
                    let allowed = matches!(
                        (name, key.as_str(), p),
                        ("Coding", "display", _)
                            | ("Quantity", "unit", _)
                            | ("Coding" | "Quantity", "system", "uri")
                            | ("Reference", "display", _)
                    );
                    if !allowed {
                        problems.push(format!("{here}: a {p} survived"));
                    }
                }
                ElementType::Primitive(_) => {}
                ElementType::Complex(
                    c @ ("HumanName" | "ContactPoint" | "Identifier" | "Attachment" | "Narrative"
                    | "Annotation" | "Extension" | "Meta" | "Location.position"),
                ) => {
                    problems.push(format!("{here}: a {c} survived"));
                }
                ElementType::Complex("Address") => {
                    for k in item.as_object().into_iter().flat_map(|o| o.keys()) {
                        if !matches!(
                            k.as_str(),
                            "state" | "country" | "postalCode" | "use" | "type"
                        ) {
                            problems.push(format!("{here}.{k}: below the state"));
                        }
                    }
                    if let Some(zip) = item.get("postalCode").and_then(Value::as_str)
                        && zip.len() != 3
                    {
                        problems.push(format!("{here}.postalCode: {zip} is not 3 digits"));
                    }
                }
                ElementType::Complex(c) => check_types(item, c, &here, problems),
                ElementType::Resource => {
                    let rt = item.get("resourceType").and_then(Value::as_str).unwrap_or("");
                    check_types(item, rt, &here, problems);
                }
            }
        }
    }
}

#[test]
fn no_safe_harbor_identifier_survives_anywhere_in_the_corpus() {
    let files = corpus_files();
    assert!(
        files.len() > 450,
        "the corpus is beside the repository (shared/fhir-corpus/README.md)"
    );
    let table = plantings();
    let mut planted_per_kind = vec![0usize; table.len()];
    let mut problems = Vec::new();
    for path in &files {
        let original: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        if original.get("resourceType").is_none() {
            continue;
        }
        for (i, (kind, types, planting, marker)) in table.iter().enumerate() {
            let mut resource = original.clone();
            let planted = plant(&mut resource, types, planting);
            if planted == 0 {
                continue;
            }
            planted_per_kind[i] += planted;
            deidentify(&mut resource, YEAR);
            let text = serde_json::to_string(&resource).unwrap();
            if text.contains(marker) {
                problems.push(format!("{}: {kind} marker {marker} survived", path.display()));
            }
        }
        let mut resource = original.clone();
        deidentify(&mut resource, YEAR);
        let rt = resource["resourceType"].as_str().unwrap_or("").to_owned();
        check_types(&resource, &rt, &rt, &mut problems);
    }
    for ((kind, types, _, _), n) in table.iter().zip(&planted_per_kind) {
        assert!(*n > 0, "{kind} was never planted (no {types} in the corpus)");
    }
    problems.truncate(40);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn ages_over_89_read_90_or_older_and_zip_codes_keep_three_digits() {
    let mut condition = json!({
        "resourceType": "Condition",
        "subject": {"reference": "Patient/1"},
        "onsetAge": {"value": 93, "unit": "years", "system": "http://unitsofmeasure.org", "code": "a"},
        "recordedDate": "2024-03-05"
    });
    deidentify(&mut condition, YEAR);
    assert_eq!(condition["onsetAge"]["value"], 90);
    assert_eq!(condition["onsetAge"]["comparator"], ">=");
    assert_eq!(condition["recordedDate"], "2024");
    assert_eq!(condition["subject"], json!({"display": "redacted"}));
    let mut young = json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"},
                           "onsetAge": {"value": 89, "unit": "years", "code": "a"}});
    deidentify(&mut young, YEAR);
    assert_eq!(young["onsetAge"]["value"], 89);
    assert!(young["onsetAge"].get("comparator").is_none());

    let mut patient = json!({"resourceType": "Patient", "birthDate": "1930-01-01",
        "address": [{"postalCode": "02139"}, {"postalCode": "03601"}, {"postalCode": "8"}]});
    deidentify(&mut patient, YEAR);
    assert!(patient.get("birthDate").is_none(), "born 96 years ago: 90 or older");
    assert_eq!(patient["address"][0]["postalCode"], "021", "{patient}");
    assert_eq!(patient["address"][1]["postalCode"], "000", "036 is a restricted area");
    assert_eq!(patient["address"][2]["postalCode"], "000");
    let mut patient = json!({"resourceType": "Patient", "birthDate": "1990-06-30"});
    deidentify(&mut patient, YEAR);
    assert_eq!(patient["birthDate"], "1990");
}
