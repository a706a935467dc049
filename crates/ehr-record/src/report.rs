//! Validation that reports every problem of a FHIR JSON document, for tools (`ehr validate`)
//! that show them all instead of stopping at the first.

use std::collections::BTreeMap;

use crate::error::RecordError;
use crate::{Category, ResourceType, default_category, json, validate};

/// Most problems [`validate_fhir_json`] reports; [`FhirReport::truncated`] says there were
/// more.
pub const MAX_REPORTED_ERRORS: usize = validate::MAX_ERRORS;

/// What [`validate_fhir_json`] found in one document.
#[derive(Debug)]
#[non_exhaustive]
pub struct FhirReport {
    /// The top-level resource type, when the document names an R4 type.
    pub resource_type: Option<ResourceType>,
    /// How many resources of each type the document holds: itself, Bundle entries
    /// (recursively) and contained resources, in type-name order.
    pub resource_counts: Vec<(ResourceType, usize)>,
    /// The category a record of it would get without an explicit one.
    pub category: Option<Category>,
    /// Every problem, in document order, at most [`MAX_REPORTED_ERRORS`]; each has a
    /// [`kind`](RecordError::kind) and, where it applies, a FHIR [`path`](RecordError::path).
    pub errors: Vec<RecordError>,
    /// More problems were found than are listed (the whole document is always checked).
    pub truncated: bool,
}

impl FhirReport {
    /// No problems: the document would be accepted as a record.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn failed(err: RecordError) -> FhirReport {
        FhirReport {
            resource_type: None,
            resource_counts: Vec::new(),
            category: None,
            errors: vec![err],
            truncated: false,
        }
    }
}

/// Validates FHIR R4 JSON like [`RecordInput::validate`](crate::RecordInput::validate), but
/// reports every problem (up to [`MAX_REPORTED_ERRORS`]) instead of the first, with the
/// resource types found and the category it would get.
///
/// ```
/// let report = ehr_record::validate_fhir_json(
///     br#"{"resourceType": "Observation", "status": "done", "colour": "red"}"#,
/// );
/// let found: Vec<_> = report.errors.iter().map(|e| (e.kind(), e.path())).collect();
/// assert_eq!(found, [
///     ("NotInValueSet", Some("Observation.status")),
///     ("UnknownElement", Some("Observation.colour")),
///     ("MissingField", Some("Observation.code")),
/// ]);
/// ```
pub fn validate_fhir_json(bytes: &[u8]) -> FhirReport {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return FhirReport::failed(RecordError::Empty);
    }
    let node = match json::parse(bytes) {
        Ok(node) => node,
        Err(err) => return FhirReport::failed(err),
    };
    let outcome = validate::validate_all(&node, MAX_REPORTED_ERRORS);
    let mut errors = outcome.errors;
    let mut truncated = outcome.truncated;
    let category = outcome.resource_type.and_then(|t| match default_category::derive(t, &node) {
        Ok(c) => Some(c),
        Err(err) => {
            if errors.len() < MAX_REPORTED_ERRORS {
                errors.push(err);
            } else {
                truncated = true;
            }
            None
        }
    });
    let counts: BTreeMap<ResourceType, usize> = outcome.counts;
    FhirReport {
        resource_type: outcome.resource_type,
        resource_counts: counts.into_iter().collect(),
        category,
        errors,
        truncated,
    }
}
