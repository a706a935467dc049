//! The category a record gets when none is given explicitly.
//!
//! In order:
//! 1. a `category` coding with system [`CATEGORY_SYSTEM`] in the resource (wrapped files
//!    carry one) names the category;
//! 2. otherwise the resource type decides:
//!    - `Patient` → `demographics`; `Condition` → `diagnosis`;
//!      `MedicationRequest`, `Medication` → `prescription`;
//!    - `Observation` → by its category (observation-category): `laboratory` → `lab`,
//!      `vital-signs` → `vitals`, `imaging` → `imaging`; any other (or none) cannot be
//!      mapped safely and needs an explicit category;
//!    - `DiagnosticReport` → by its category (HL7 v2 table 0074 diagnostic service
//!      sections, or the LOINC radiology/pathology groups): imaging sections → `imaging`,
//!      laboratory sections → `lab`; others (cardiology, ...) need an explicit category;
//!    - `DocumentReference` → `imaging` when an attachment is `image/*` or
//!      `application/dicom`, else `note`;
//!    - `Bundle` → the one category its entries share (Patient and Medication entries,
//!      which accompany other data, do not count unless they are all there is); entries of
//!      different categories need an explicit category.
//!
//! A wrong category would let a consent grant for one kind of data reveal another, so
//! anything not clear-cut is an error ([`RecordError::CategoryNotDerivable`]) that asks for
//! an explicit category rather than a guess.

use std::collections::BTreeSet;

use crate::content_type::is_imaging;
use crate::error::{RecordError, shown};
use crate::json::Node;
use crate::{CATEGORY_SYSTEM, Category, ResourceType};

const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const LOINC: &str = "http://loinc.org";

/// v2-0074 sections that are imaging.
const IMAGING_SECTIONS: [&str; 10] =
    ["RAD", "CT", "NMR", "NMS", "RUS", "VUS", "OUS", "CUS", "RX", "XRC"];

/// v2-0074 sections that are laboratory.
const LAB_SECTIONS: [&str; 17] = [
    "LAB", "BG", "BLB", "CG", "CH", "CP", "GE", "HM", "IMM", "MB", "MCB", "MYC", "OSL", "SP", "SR",
    "TX", "VR",
];

/// The default category of a validated resource of type `resource_type`.
pub(crate) fn derive(resource_type: ResourceType, node: &Node) -> Result<Category, RecordError> {
    if let Some(embedded) = embedded(resource_type, node)? {
        return Ok(embedded);
    }
    let not_derivable =
        |reason: String| RecordError::CategoryNotDerivable { resource_type, reason };
    match resource_type {
        ResourceType::Patient => Ok(Category::DEMOGRAPHICS),
        ResourceType::Condition => Ok(Category::DIAGNOSIS),
        ResourceType::MedicationRequest | ResourceType::Medication => Ok(Category::PRESCRIPTION),
        ResourceType::Observation => by_codings(node, |system, code| {
            if system.is_some_and(|s| s != OBSERVATION_CATEGORY) {
                return None;
            }
            match code {
                "laboratory" => Some(Category::LAB),
                "vital-signs" => Some(Category::VITALS),
                "imaging" => Some(Category::IMAGING),
                _ => None,
            }
        })
        .map_err(not_derivable),
        ResourceType::DiagnosticReport => by_codings(node, |system, code| match system {
            None | Some(V2_0074) if IMAGING_SECTIONS.contains(&code) => Some(Category::IMAGING),
            None | Some(V2_0074) if LAB_SECTIONS.contains(&code) => Some(Category::LAB),
            Some(LOINC) if code == "LP29684-5" => Some(Category::IMAGING),
            Some(LOINC) if code == "LP7839-6" => Some(Category::LAB),
            _ => None,
        })
        .map_err(not_derivable),
        ResourceType::DocumentReference => {
            let imaging = node.items("content").iter().any(|content| {
                content
                    .get("attachment")
                    .and_then(|a| a.get("contentType"))
                    .and_then(Node::as_str)
                    .is_some_and(is_imaging)
            });
            Ok(if imaging { Category::IMAGING } else { Category::NOTE })
        }
        ResourceType::Bundle => bundle(node).map_err(not_derivable),
    }
}

/// A category coded with [`CATEGORY_SYSTEM`] in the resource's `category` element.
fn embedded(resource_type: ResourceType, node: &Node) -> Result<Option<Category>, RecordError> {
    let mut found: Option<Category> = None;
    for concept in node.items("category") {
        for coding in concept.items("coding") {
            if coding.get("system").and_then(Node::as_str) != Some(CATEGORY_SYSTEM) {
                continue;
            }
            let Some(code) = coding.get("code").and_then(Node::as_str) else {
                continue;
            };
            let category = Category::new(code)?;
            match found {
                Some(other) if other != category => {
                    return Err(RecordError::CategoryNotDerivable {
                        resource_type,
                        reason: format!(
                            "it carries two ehrkit categories ({other} and {category})"
                        ),
                    });
                }
                _ => found = Some(category),
            }
        }
    }
    Ok(found)
}

/// The single category that `map` gives the codings of `category` (system may be absent).
fn by_codings(
    node: &Node,
    map: impl Fn(Option<&str>, &str) -> Option<Category>,
) -> Result<Category, String> {
    let mut mapped = BTreeSet::new();
    let mut unmapped = BTreeSet::new();
    for concept in node.items("category") {
        for coding in concept.items("coding") {
            let Some(code) = coding.get("code").and_then(Node::as_str) else {
                continue;
            };
            let system = coding.get("system").and_then(Node::as_str);
            match map(system, code) {
                Some(category) => {
                    mapped.insert(category);
                }
                None => {
                    unmapped.insert(shown(code));
                }
            }
        }
    }
    let mut iter = mapped.iter();
    match (iter.next(), iter.next()) {
        (Some(one), None) => Ok(*one),
        (Some(_), Some(_)) => Err(format!(
            "its category codes map to several ehrkit categories ({})",
            join(mapped.iter().map(Category::as_str))
        )),
        (None, _) if unmapped.is_empty() => {
            Err("it has no category coding that ehrkit can map".to_owned())
        }
        (None, _) => Err(format!(
            "its category codes ({}) have no ehrkit equivalent",
            join(unmapped.iter().map(String::as_str))
        )),
    }
}

/// The category a Bundle's entries share.
fn bundle(node: &Node) -> Result<Category, String> {
    let mut main = BTreeSet::new();
    let mut accompanying = BTreeSet::new();
    for (i, entry) in node.items("entry").iter().enumerate() {
        let Some(resource) = entry.get("resource") else {
            continue;
        };
        let Some(resource_type) = resource
            .get("resourceType")
            .and_then(Node::as_str)
            .and_then(|t| t.parse::<ResourceType>().ok())
        else {
            continue;
        };
        let category = derive(resource_type, resource).map_err(|e| match e {
            RecordError::CategoryNotDerivable { reason, .. } => {
                format!("entry {i} ({resource_type}): {reason}")
            }
            other => format!("entry {i} ({resource_type}): {other}"),
        })?;
        if matches!(resource_type, ResourceType::Patient | ResourceType::Medication) {
            accompanying.insert(category);
        } else {
            main.insert(category);
        }
    }
    let set = if main.is_empty() { accompanying } else { main };
    let mut iter = set.iter();
    match (iter.next(), iter.next()) {
        (Some(one), None) => Ok(*one),
        (None, _) => Err("the bundle has no entry resources".to_owned()),
        (Some(_), Some(_)) => Err(format!(
            "its entries have different categories ({})",
            join(set.iter().map(Category::as_str))
        )),
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn derive_json(json: &str) -> Result<Category, RecordError> {
        let node = parse(json.as_bytes()).unwrap();
        let rt = node.get("resourceType").and_then(Node::as_str).unwrap().parse().unwrap();
        derive(rt, &node)
    }

    fn obs(category_code: &str) -> String {
        format!(
            r#"{{"resourceType":"Observation","category":[{{"coding":[{{"system":"{OBSERVATION_CATEGORY}","code":"{category_code}"}}]}}]}}"#
        )
    }

    #[test]
    fn by_resource_type() {
        assert_eq!(derive_json(r#"{"resourceType":"Patient"}"#).unwrap(), Category::DEMOGRAPHICS);
        assert_eq!(derive_json(r#"{"resourceType":"Condition"}"#).unwrap(), Category::DIAGNOSIS);
        assert_eq!(
            derive_json(r#"{"resourceType":"MedicationRequest"}"#).unwrap(),
            Category::PRESCRIPTION
        );
    }

    #[test]
    fn observations_by_category() {
        assert_eq!(derive_json(&obs("laboratory")).unwrap(), Category::LAB);
        assert_eq!(derive_json(&obs("vital-signs")).unwrap(), Category::VITALS);
        assert_eq!(derive_json(&obs("imaging")).unwrap(), Category::IMAGING);
        let err = derive_json(&obs("social-history")).unwrap_err();
        assert_eq!(err.kind(), "CategoryNotDerivable");
        assert!(err.to_string().contains("social-history"), "{err}");
        let none = derive_json(r#"{"resourceType":"Observation"}"#).unwrap_err();
        assert_eq!(none.kind(), "CategoryNotDerivable");
        let foreign = r#"{"resourceType":"Observation","category":[{"coding":[{"system":"http://example.org","code":"laboratory"}]}]}"#;
        assert!(derive_json(foreign).is_err(), "another system's code is not trusted");
        let two = r#"{"resourceType":"Observation","category":[{"coding":[{"code":"laboratory"}]},{"coding":[{"code":"vital-signs"}]}]}"#;
        assert!(derive_json(two).unwrap_err().to_string().contains("several"));
    }

    #[test]
    fn diagnostic_reports_by_section() {
        let dr = |system: &str, code: &str| {
            format!(
                r#"{{"resourceType":"DiagnosticReport","category":[{{"coding":[{{"system":"{system}","code":"{code}"}}]}}]}}"#
            )
        };
        assert_eq!(derive_json(&dr(V2_0074, "RAD")).unwrap(), Category::IMAGING);
        assert_eq!(derive_json(&dr(V2_0074, "HM")).unwrap(), Category::LAB);
        assert_eq!(derive_json(&dr(LOINC, "LP29684-5")).unwrap(), Category::IMAGING);
        assert!(derive_json(&dr(V2_0074, "EC")).is_err());
    }

    #[test]
    fn documents_by_content_type() {
        let doc = |ct: &str| {
            format!(
                r#"{{"resourceType":"DocumentReference","content":[{{"attachment":{{"contentType":"{ct}"}}}}]}}"#
            )
        };
        assert_eq!(derive_json(&doc("application/dicom")).unwrap(), Category::IMAGING);
        assert_eq!(derive_json(&doc("image/png")).unwrap(), Category::IMAGING);
        assert_eq!(derive_json(&doc("application/pdf")).unwrap(), Category::NOTE);
    }

    #[test]
    fn embedded_category_wins() {
        let json = format!(
            r#"{{"resourceType":"DocumentReference","category":[{{"coding":[{{"system":"{CATEGORY_SYSTEM}","code":"mental-health"}}]}}],"content":[{{"attachment":{{"contentType":"image/png"}}}}]}}"#
        );
        assert_eq!(derive_json(&json).unwrap().as_str(), "mental-health");
        let bad = json.replace("mental-health", "Mental Health");
        assert_eq!(derive_json(&bad).unwrap_err().kind(), "InvalidCategory");
    }

    #[test]
    fn bundles_need_one_shared_category() {
        let entries = |resources: &[&str]| {
            let list: Vec<String> =
                resources.iter().map(|r| format!(r#"{{"resource":{r}}}"#)).collect();
            format!(r#"{{"resourceType":"Bundle","entry":[{}]}}"#, list.join(","))
        };
        let patient = r#"{"resourceType":"Patient"}"#;
        let lab = obs("laboratory");
        let cond = r#"{"resourceType":"Condition"}"#;
        assert_eq!(derive_json(&entries(&[patient, &lab, &lab])).unwrap(), Category::LAB);
        assert_eq!(derive_json(&entries(&[patient])).unwrap(), Category::DEMOGRAPHICS);
        let mixed = derive_json(&entries(&[&lab, cond])).unwrap_err();
        assert!(mixed.to_string().contains("different categories (diagnosis, lab)"), "{mixed}");
        let nested = derive_json(&entries(&[&obs("exam")])).unwrap_err();
        assert!(nested.to_string().contains("entry 0 (Observation)"), "{nested}");
        assert!(derive_json(r#"{"resourceType":"Bundle"}"#).is_err());
    }
}
