//! HIPAA Safe Harbor de-identification (45 CFR 164.514(b)(2)) of a FHIR R4 resource, driven
//! by the R4 definitions: every element of every resource type is treated by its *type*
//! (`ehr_record::element_type`), so a new element or resource type needs no list here.
//!
//! | Safe Harbor identifier | what happens |
//! | --- | --- |
//! | (A) names; (R) any other unique identifying characteristic | `HumanName` removed; every `string` and `markdown` element (free text: names of organizations and devices, notes, descriptions, `CodeableConcept.text`, `Device.serialNumber`, `lotNumber`, `Coverage.subscriberId`, ...) removed, except `Coding.display` and `Quantity.unit` (terminology) |
//! | (B) geography below the state | `Address` keeps `state` and `country` only, plus `postalCode` cut to its first 3 digits, or `000` for the 3-digit areas of 20,000 people or fewer; `Location.position` (latitude, longitude) removed |
//! | (C) dates except the year; ages over 89 | `date` and `dateTime` cut to the year; `instant` and `time` removed; an age (a `Quantity` in years, `Age`) over 89 becomes `90` with comparator `>=`; a `birthDate` more than 89 years ago is removed |
//! | (D–F) telephone, fax, e-mail | `ContactPoint` removed |
//! | (G–L) SSN, record, plan, account, certificate and licence numbers; (M) vehicle and (N) device ids and serials | `Identifier` removed, wherever it appears |
//! | (O) URLs; (P) IP addresses | `uri`, `url`, `canonical`, `oid`, `uuid` elements removed, except `Coding.system` and `Quantity.system` (code systems); `id` elements (resource and element ids) and `meta` removed |
//! | (Q) biometrics; full-face photographs | `Attachment` and every `base64Binary` removed (no file bytes are exported) |
//! | free text holding any of them | `Narrative` (`text`), `Annotation` (`note`), every `extension` and `modifierExtension`, primitive extensions (`_name`) removed |
//! | links between records | every `Reference` becomes `{"display": "redacted"}` (plus its `type`) |
//!
//! Elements the definitions do not know are removed too. What stays is coded and numeric
//! content: `code`, `Coding.system/code/display`, quantities, booleans, integers, decimals and
//! the years.

use serde_json::{Map, Value};

use ehr_record::{ElementType, element_type};

use crate::export::Deidentified;

/// 3-digit ZIP areas with 20,000 or fewer people (US Census 2000, as HHS's guidance
/// lists them): their ZIP codes become `000`.
pub const RESTRICTED_ZIP3: [&str; 17] = [
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
];

/// Strips `resource` (any R4 resource, a Bundle included) to what Safe Harbor allows, in
/// place. `current_year` decides which birth dates and ages are over 89.
pub fn deidentify(resource: &mut Value, current_year: i32) -> Deidentified {
    let mut done = Deidentified::default();
    let root = resource.get("resourceType").and_then(Value::as_str).unwrap_or("").to_owned();
    if let Value::Object(object) = resource {
        walk_resource(object, &root, &root, current_year, &mut done);
    }
    done
}

fn walk_resource(
    object: &mut Map<String, Value>,
    resource_type: &str,
    path: &str,
    year: i32,
    done: &mut Deidentified,
) {
    walk_struct(object, resource_type, path, year, done);
    if resource_type == "Patient"
        && let Some(born) = object.get("birthDate").and_then(Value::as_str)
        && born.get(..4).and_then(|y| y.parse::<i32>().ok()).is_some_and(|y| year - y > 89)
    {
        object.remove("birthDate");
        done.removed.push(format!("{path}.birthDate (90 or older)"));
    }
}

/// Walks the elements of a structure named `name` (for the definitions).
fn walk_struct(
    object: &mut Map<String, Value>,
    name: &str,
    path: &str,
    year: i32,
    done: &mut Deidentified,
) {
    let keys: Vec<String> = object.keys().cloned().collect();
    for key in keys {
        let child = format!("{path}.{key}");
        if key == "resourceType" {
            continue;
        }
        if key == "id" || key.starts_with('_') {
            object.remove(&key);
            done.removed.push(child);
            continue;
        }
        let Some(ty) = element_type(name, &key) else {
            object.remove(&key);
            done.removed.push(child);
            continue;
        };
        let keep = match object.get_mut(&key).expect("listed") {
            Value::Array(items) => {
                items.retain_mut(|item| visit(item, name, &key, ty, &child, year, done));
                !items.is_empty()
            }
            value => visit(value, name, &key, ty, &child, year, done),
        };
        if !keep {
            object.remove(&key);
        }
    }
    if name == "Address" {
        generalize_address(object, path, done);
    }
    if is_age(name, object) {
        cap_age(object, path, done);
    }
}

/// Treats one value of element `key` of `parent`; false when it is to be removed.
fn visit(
    value: &mut Value,
    parent: &str,
    key: &str,
    ty: ElementType,
    path: &str,
    year: i32,
    done: &mut Deidentified,
) -> bool {
    let removed = |done: &mut Deidentified| {
        done.removed.push(path.to_owned());
        false
    };
    match ty {
        ElementType::Primitive(prim) => match prim {
            "date" | "dateTime" => match value.as_str().and_then(|d| d.get(..4)) {
                Some(y) if y.len() == 4 && value.as_str().is_some_and(|d| d.len() > 4) => {
                    *value = Value::String(y.to_owned());
                    done.shifted.push(path.to_owned());
                    true
                }
                Some(_) => true,
                None => removed(done),
            },
            "instant" | "time" | "base64Binary" | "xhtml" | "oid" | "uuid" | "id" | "url"
            | "canonical" => removed(done),
            "uri" => {
                (parent == "Coding" || parent == "Quantity") && key == "system" || removed(done)
            }
            "string" | "markdown" => {
                (parent == "Coding" && key == "display")
                    || (parent == "Quantity" && key == "unit")
                    || (parent == "Address" && matches!(key, "state" | "country" | "postalCode"))
                    || removed(done)
            }
            _ => true,
        },
        ElementType::Complex(name) => match name {
            "HumanName" | "ContactPoint" | "Identifier" | "Attachment" | "Narrative"
            | "Annotation" | "Extension" | "Meta" | "Signature" | "Location.position" => {
                removed(done)
            }
            "Reference" => {
                let kept_type = value.get("type").cloned();
                let mut redacted = Map::new();
                if let Some(t) = kept_type {
                    redacted.insert("type".into(), t);
                }
                redacted.insert("display".into(), Value::String("redacted".into()));
                *value = Value::Object(redacted);
                done.removed.push(format!("{path} (reference redacted)"));
                true
            }
            _ => match value {
                Value::Object(object) => {
                    walk_struct(object, name, path, year, done);
                    !object.is_empty()
                }
                _ => removed(done),
            },
        },
        ElementType::Resource => match value {
            Value::Object(object) => {
                let Some(rt) = object.get("resourceType").and_then(Value::as_str) else {
                    return removed(done);
                };
                let rt = rt.to_owned();
                walk_resource(object, &rt, path, year, done);
                true
            }
            _ => removed(done),
        },
    }
}

/// Keeps an Address's state and country, and the first 3 digits of its ZIP code (`000` for
/// restricted areas); everything below the state is gone by then (`line`, `city`,
/// `district`, `text` are strings).
fn generalize_address(object: &mut Map<String, Value>, path: &str, done: &mut Deidentified) {
    for key in ["line", "city", "district", "text", "period"] {
        if object.remove(key).is_some() {
            done.removed.push(format!("{path}.{key}"));
        }
    }
    if let Some(zip) = object.get("postalCode").and_then(Value::as_str) {
        let zip3 = zip3(zip);
        object.insert("postalCode".into(), Value::String(zip3));
        done.removed.push(format!("{path}.postalCode (cut to 3 digits)"));
    }
}

/// The first 3 digits of a ZIP code, or `000` for a restricted area (or too few digits).
pub(crate) fn zip3(zip: &str) -> String {
    let digits: String = zip.chars().filter(char::is_ascii_digit).take(3).collect();
    if digits.len() < 3 || RESTRICTED_ZIP3.contains(&digits.as_str()) {
        "000".to_owned()
    } else {
        digits
    }
}

/// An `Age`, or a `Quantity` in years.
fn is_age(name: &str, object: &Map<String, Value>) -> bool {
    let in_years = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|u| matches!(u, "a" | "yr" | "year" | "years"))
    };
    (name == "Age" || name == "Quantity") && (in_years("code") || in_years("unit"))
}

/// Ages over 89 become "90 or older".
fn cap_age(object: &mut Map<String, Value>, path: &str, done: &mut Deidentified) {
    if object.get("value").and_then(Value::as_f64).is_some_and(|v| v > 89.0) {
        object.insert("value".into(), Value::from(90));
        object.insert("comparator".into(), Value::String(">=".into()));
        done.removed.push(format!("{path} (age 90 or older)"));
    }
}

#[cfg(test)]
#[path = "safe_harbor_tests.rs"]
mod tests;
