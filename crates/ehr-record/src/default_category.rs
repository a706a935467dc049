//! The category a record gets when none is given explicitly. Never an error for valid
//! data, except when the resource names two different ehrkit categories itself.
//!
//! In order:
//! 1. a `category` coding with system [`CATEGORY_SYSTEM`] in the resource (wrapped files
//!    carry one) names the category;
//! 2. `Observation`: its category codings (observation-category, or US Core's `sdoh`),
//!    mapped by [`OBSERVATION_CATEGORIES`]; when several map, the one listed first there;
//!    none → `observation`;
//! 3. `DiagnosticReport`: its service section (HL7 v2 table 0074, or the LOINC
//!    radiology/pathology groups) → `imaging` or `lab`; other sections or none → `report`;
//! 4. `DocumentReference`: `imaging` when an attachment is `image/*` or DICOM, else `note`;
//! 5. `Bundle`: the category its entries share (entries of the types that accompany others,
//!    such as Patient, Practitioner or Medication, count only when they are all there is);
//!    entries of different categories make it a `summary`;
//! 6. any other type: the table of [`type_category::for_type`].

use crate::content_type::is_imaging;
use crate::error::RecordError;
use crate::json::Node;
use crate::type_category::{self as table, accompanies, for_type};
use crate::{CATEGORY_SYSTEM, Category, ResourceType};

const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const US_CORE_CATEGORY: &str = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category";
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

/// Observation category codes and their ehrkit categories, most specific (and most
/// sensitive) first: an Observation coded both `survey` and `sdoh` is `social-history`.
pub(crate) const OBSERVATION_CATEGORIES: [(&str, Category); 11] = [
    ("social-history", table::SOCIAL_HISTORY),
    ("sdoh", table::SOCIAL_HISTORY),
    ("laboratory", Category::LAB),
    ("imaging", Category::IMAGING),
    ("vital-signs", Category::VITALS),
    ("exam", table::EXAM),
    ("survey", table::ASSESSMENT),
    ("procedure", table::PROCEDURE),
    ("therapy", table::THERAPY),
    ("activity", table::ACTIVITY),
    ("functional-status", table::ASSESSMENT),
];

/// The default category of a validated resource of type `resource_type`.
pub(crate) fn derive(resource_type: ResourceType, node: &Node) -> Result<Category, RecordError> {
    if let Some(embedded) = embedded(resource_type, node)? {
        return Ok(embedded);
    }
    Ok(match resource_type {
        ResourceType::OBSERVATION => observation(node),
        ResourceType::DIAGNOSTIC_REPORT => diagnostic_report(node),
        ResourceType::DOCUMENT_REFERENCE => {
            let imaging = node.items("content").iter().any(|content| {
                content
                    .get("attachment")
                    .and_then(|a| a.get("contentType"))
                    .and_then(Node::as_str)
                    .is_some_and(is_imaging)
            });
            if imaging { Category::IMAGING } else { Category::NOTE }
        }
        ResourceType::BUNDLE => bundle(node)?,
        other => for_type(other),
    })
}

/// `(system, code)` of each coding of the resource's `category`.
fn category_codings(node: &Node) -> impl Iterator<Item = (Option<&str>, &str)> {
    node.items("category").iter().flat_map(|concept| {
        concept.items("coding").iter().filter_map(|coding| {
            let code = coding.get("code")?.as_str()?;
            Some((coding.get("system").and_then(Node::as_str), code))
        })
    })
}

fn observation(node: &Node) -> Category {
    let mut best: Option<usize> = None;
    for (system, code) in category_codings(node) {
        if system.is_some_and(|s| s != OBSERVATION_CATEGORY && s != US_CORE_CATEGORY) {
            continue; // another system's code may mean anything
        }
        if let Some(rank) = OBSERVATION_CATEGORIES.iter().position(|(c, _)| *c == code) {
            best = Some(best.map_or(rank, |b| b.min(rank)));
        }
    }
    best.map_or(table::OBSERVATION, |rank| OBSERVATION_CATEGORIES[rank].1)
}

fn diagnostic_report(node: &Node) -> Category {
    let mut lab = false;
    for (system, code) in category_codings(node) {
        match system {
            None | Some(V2_0074) if IMAGING_SECTIONS.contains(&code) => return Category::IMAGING,
            None | Some(V2_0074) if LAB_SECTIONS.contains(&code) => lab = true,
            Some(LOINC) if code == "LP29684-5" => return Category::IMAGING,
            Some(LOINC) if code == "LP7839-6" => lab = true,
            _ => {}
        }
    }
    if lab { Category::LAB } else { table::REPORT }
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

/// The category a Bundle's entries share, or `summary` when they differ.
fn bundle(node: &Node) -> Result<Category, RecordError> {
    let mut main: Option<Category> = None;
    let mut accompanying: Option<Category> = None;
    let mut mixed = false;
    let mut mixed_accompanying = false;
    for entry in node.items("entry") {
        let Some(resource) = entry.get("resource") else { continue };
        let Some(resource_type) = resource
            .get("resourceType")
            .and_then(Node::as_str)
            .and_then(|t| t.parse::<ResourceType>().ok())
        else {
            continue;
        };
        let category = derive(resource_type, resource)?;
        let (slot, flag) = if accompanies(resource_type) {
            (&mut accompanying, &mut mixed_accompanying)
        } else {
            (&mut main, &mut mixed)
        };
        match slot {
            Some(c) if *c != category => *flag = true,
            Some(_) => {}
            None => *slot = Some(category),
        }
    }
    Ok(match (main, accompanying) {
        (Some(c), _) if !mixed => c,
        (None, Some(c)) if !mixed_accompanying => c,
        _ => table::SUMMARY,
    })
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
        assert_eq!(derive_json(r#"{"resourceType":"Encounter"}"#).unwrap().as_str(), "encounter");
        assert_eq!(derive_json(r#"{"resourceType":"ValueSet"}"#).unwrap().as_str(), "other");
    }

    #[test]
    fn observations_by_category() {
        let cases = [
            ("laboratory", "lab"),
            ("vital-signs", "vitals"),
            ("imaging", "imaging"),
            ("social-history", "social-history"),
            ("survey", "assessment"),
            ("exam", "exam"),
            ("procedure", "procedure"),
            ("therapy", "therapy"),
            ("activity", "activity"),
        ];
        for (code, category) in cases {
            assert_eq!(derive_json(&obs(code)).unwrap().as_str(), category, "{code}");
        }
        let sdoh = r#"{"resourceType":"Observation","category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/us-core-category","code":"sdoh"}]}]}"#;
        assert_eq!(derive_json(sdoh).unwrap().as_str(), "social-history");
        let none = derive_json(r#"{"resourceType":"Observation"}"#).unwrap();
        assert_eq!(none.as_str(), "observation");
        let foreign = r#"{"resourceType":"Observation","category":[{"coding":[{"system":"http://example.org","code":"laboratory"}]}]}"#;
        assert_eq!(derive_json(foreign).unwrap().as_str(), "observation", "another system's code");
        // Several: the most specific one (first in OBSERVATION_CATEGORIES) wins.
        let two = r#"{"resourceType":"Observation","category":[{"coding":[{"code":"survey"}]},{"coding":[{"code":"social-history"}]}]}"#;
        assert_eq!(derive_json(two).unwrap().as_str(), "social-history");
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
        assert_eq!(derive_json(&dr(V2_0074, "EC")).unwrap().as_str(), "report");
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
    fn bundles_take_the_shared_category_or_summary() {
        let entries = |resources: &[&str]| {
            let list: Vec<String> =
                resources.iter().map(|r| format!(r#"{{"resource":{r}}}"#)).collect();
            format!(r#"{{"resourceType":"Bundle","entry":[{}]}}"#, list.join(","))
        };
        let patient = r#"{"resourceType":"Patient"}"#;
        let org = r#"{"resourceType":"Organization"}"#;
        let lab = obs("laboratory");
        let cond = r#"{"resourceType":"Condition"}"#;
        assert_eq!(derive_json(&entries(&[patient, org, &lab, &lab])).unwrap(), Category::LAB);
        assert_eq!(derive_json(&entries(&[patient])).unwrap(), Category::DEMOGRAPHICS);
        assert_eq!(derive_json(&entries(&[patient, org])).unwrap().as_str(), "summary");
        assert_eq!(derive_json(&entries(&[&lab, cond])).unwrap().as_str(), "summary");
        let nested = entries(&[&entries(&[&lab]), &lab]);
        assert_eq!(derive_json(&nested).unwrap(), Category::LAB);
        assert_eq!(derive_json(r#"{"resourceType":"Bundle"}"#).unwrap().as_str(), "summary");
        let embedded = format!(
            r#"{{"resourceType":"Observation","category":[{{"coding":[{{"system":"{CATEGORY_SYSTEM}","code":"lab"}},{{"system":"{CATEGORY_SYSTEM}","code":"imaging"}}]}}]}}"#
        );
        let err = derive_json(&entries(&[&embedded])).unwrap_err();
        assert_eq!(err.kind(), "CategoryNotDerivable", "two ehrkit categories stay an error");
    }
}
