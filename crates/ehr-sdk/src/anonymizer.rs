//! A research project's own de-identification rules, in the shape of Microsoft's FHIR
//! anonymizer configuration (`fhirVersion`, `fhirPathRules: [{path, method}]`,
//! `parameters`), for a **limited data set** (45 CFR 164.514(e)): dates, towns and ZIP codes
//! may stay, under a data use agreement. This is not Safe Harbor: whoever writes the rules
//! answers for what they keep. [`limited_data_set`] is a starting point.
//!
//! Rules are tried in order; the first whose path matches a node (or one of its ancestors)
//! decides for the node and everything below it; nodes no rule matches are kept, as in the
//! original tool. Supported paths: `nodesByType('T')`, `nodesByType('T').a.b`,
//! `R.a.b` and `R.nodesByType('T')` (`R` a resource type or `Resource`). Supported methods:
//! `keep`, `redact` (with `enablePartialDatesForRedact`, `enablePartialAgesForRedact`,
//! `enablePartialZipCodesForRedact`), `dateShift` (a per-resource offset of up to 50 days
//! either way, from `dateShiftKey` and the resource's type and id) and `cryptoHash`
//! (HMAC-SHA256 under `cryptoHashKey`, hex). Anything else (`generalize`, `encrypt`,
//! `substitute`, `perturb`, FHIRPath functions such as `where`) is refused with
//! [`AnonymizerError`], never silently ignored.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use ehr_record::{ElementType, element_type};

use crate::export::Deidentified;

/// HMAC-SHA256 prefix of a resource's date-shift offset; resource type and id follow.
const DATE_SHIFT_LABEL: &[u8] = b"ehrkit/v2/anonymizer/date-shift";

/// A configuration that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnonymizerError {
    /// Not an anonymizer configuration.
    #[error("not an anonymizer configuration: {0}")]
    Parse(String),
    /// Only R4.
    #[error("fhirVersion {0:?} is not supported: only R4")]
    Version(String),
    /// A rule's path is outside the supported forms.
    #[error(
        "rule {index}: path {path:?} is not supported (use nodesByType('T')[.a.b], R.a.b or R.nodesByType('T'))"
    )]
    Path {
        /// The rule's position, from 0.
        index: usize,
        /// Its path.
        path: String,
    },
    /// A rule's method is not supported.
    #[error(
        "rule {index}: method {method:?} is not supported (keep, redact, dateShift, cryptoHash)"
    )]
    Method {
        /// The rule's position, from 0.
        index: usize,
        /// Its method.
        method: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    fhir_version: Option<String>,
    fhir_path_rules: Vec<RawRule>,
    #[serde(default)]
    parameters: Parameters,
}

#[derive(Deserialize)]
struct RawRule {
    path: String,
    method: String,
}

/// The configuration's `parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    /// Key of `dateShift` offsets (empty: a fixed key, so offsets are reproducible only
    /// with the same key).
    #[serde(default)]
    pub date_shift_key: String,
    /// Key of `cryptoHash`.
    #[serde(default)]
    pub crypto_hash_key: String,
    /// `redact` keeps a date's year.
    #[serde(default)]
    pub enable_partial_dates_for_redact: bool,
    /// `redact` keeps an age of 89 or less.
    #[serde(default)]
    pub enable_partial_ages_for_redact: bool,
    /// `redact` keeps a ZIP code's first 3 digits (`000` in restricted areas).
    #[serde(default)]
    pub enable_partial_zip_codes_for_redact: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Keep,
    Redact,
    DateShift,
    CryptoHash,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// `nodesByType('T')` followed by element names.
    ByType { ty: String, then: Vec<String> },
    /// `R.a.b` (`R` may be `Resource`).
    ByPath { resource: String, path: Vec<String> },
    /// `R.nodesByType('T')`.
    TypeIn { resource: String, ty: String },
}

/// A parsed configuration.
#[derive(Debug, Clone)]
pub struct Anonymizer {
    rules: Vec<(Pattern, Method)>,
    parameters: Parameters,
}

/// The limited-data-set rules ehrkit ships: direct identifiers redacted (16 of Safe Harbor's
/// 18: not dates, and not town, city, state and ZIP code), dates and addresses kept.
pub fn limited_data_set() -> Anonymizer {
    Anonymizer::parse(include_str!("anonymizer_limited_data_set.json"))
        .expect("the shipped configuration parses")
}

fn by_type(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix("nodesByType('")?;
    let end = rest.find("')")?;
    Some((rest[..end].to_owned(), &rest[end + 2..]))
}

fn parse_pattern(path: &str) -> Option<Pattern> {
    let names = |rest: &str| -> Option<Vec<String>> {
        if rest.is_empty() {
            return Some(Vec::new());
        }
        let rest = rest.strip_prefix('.')?;
        let parts: Vec<String> = rest.split('.').map(str::to_owned).collect();
        parts.iter().all(|p| !p.is_empty() && p.chars().all(char::is_alphanumeric)).then_some(parts)
    };
    if let Some((ty, rest)) = by_type(path) {
        return Some(Pattern::ByType { ty, then: names(rest)? });
    }
    let (resource, rest) = path.split_once('.')?;
    if !resource.chars().all(char::is_alphanumeric) {
        return None;
    }
    if let Some((ty, tail)) = by_type(rest) {
        return tail.is_empty().then(|| Pattern::TypeIn { resource: resource.to_owned(), ty });
    }
    Some(Pattern::ByPath { resource: resource.to_owned(), path: names(&format!(".{rest}"))? })
}

/// One step from the resource down to a node: its JSON name and its R4 type name.
struct Step<'a> {
    name: &'a str,
    ty: &'a str,
}

/// Whether JSON name `key` is element `name` (`valueQuantity` is `value`).
fn same_element(key: &str, name: &str) -> bool {
    key == name
        || key
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
}

impl Pattern {
    fn matches(&self, resource: &str, steps: &[Step<'_>]) -> bool {
        match self {
            Pattern::ByType { ty, then } => {
                let n = then.len();
                steps.len() > n
                    && steps[steps.len() - 1 - n].ty == ty
                    && steps[steps.len() - n..]
                        .iter()
                        .zip(then)
                        .all(|(s, t)| same_element(s.name, t))
            }
            Pattern::ByPath { resource: r, path } => {
                (r == resource || r == "Resource")
                    && steps.len() == path.len()
                    && steps.iter().zip(path).all(|(s, p)| same_element(s.name, p))
            }
            Pattern::TypeIn { resource: r, ty } => {
                (r == resource || r == "Resource") && steps.last().is_some_and(|s| s.ty == ty)
            }
        }
    }
}

impl Anonymizer {
    /// Parses a configuration, refusing what it cannot apply.
    pub fn parse(json: &str) -> Result<Self, AnonymizerError> {
        let raw: RawConfig =
            serde_json::from_str(json).map_err(|e| AnonymizerError::Parse(e.to_string()))?;
        if let Some(version) = raw.fhir_version.filter(|v| v != "R4") {
            return Err(AnonymizerError::Version(version));
        }
        let mut rules = Vec::new();
        for (index, rule) in raw.fhir_path_rules.into_iter().enumerate() {
            let pattern = parse_pattern(&rule.path)
                .ok_or(AnonymizerError::Path { index, path: rule.path.clone() })?;
            let method = match rule.method.as_str() {
                "keep" => Method::Keep,
                "redact" => Method::Redact,
                "dateShift" => Method::DateShift,
                "cryptoHash" => Method::CryptoHash,
                other => return Err(AnonymizerError::Method { index, method: other.to_owned() }),
            };
            rules.push((pattern, method));
        }
        Ok(Self { rules, parameters: raw.parameters })
    }

    /// Applies the rules to `resource` (a Bundle included) in place.
    pub fn apply(&self, resource: &mut Value) -> Deidentified {
        let mut done = Deidentified::default();
        if let Value::Object(object) = resource {
            self.resource(object, &mut done, "");
        }
        done
    }

    fn resource(&self, object: &mut Map<String, Value>, done: &mut Deidentified, at: &str) {
        let rt = object.get("resourceType").and_then(Value::as_str).unwrap_or("").to_owned();
        let id = object.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
        let shift = self.shift_days(&rt, &id);
        let path = if at.is_empty() { rt.clone() } else { at.to_owned() };
        let mut steps = Vec::new();
        self.walk(object, &rt, &rt, &mut steps, None, shift, &path, done);
    }

    /// A resource's date-shift offset: 1 to 50 days, either way.
    fn shift_days(&self, resource_type: &str, id: &str) -> i64 {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.parameters.date_shift_key.as_bytes())
            .expect("HMAC takes any key");
        mac.update(DATE_SHIFT_LABEL);
        mac.update(resource_type.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        let out = mac.finalize().into_bytes();
        let r = u64::from_be_bytes(out[..8].try_into().expect("8 bytes"));
        let days = 1 + (r % 50) as i64;
        if r & (1 << 63) == 0 { days } else { -days }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        object: &mut Map<String, Value>,
        resource_type: &str,
        struct_name: &str,
        steps: &mut Vec<(String, String)>,
        inherited: Option<usize>,
        shift: i64,
        path: &str,
        done: &mut Deidentified,
    ) {
        let keys: Vec<String> = object.keys().cloned().collect();
        for key in keys {
            if key == "resourceType" {
                continue;
            }
            // Primitive extensions (`_birthDate`) can carry anything: never kept.
            if key.starts_with('_') {
                object.remove(&key);
                done.removed.push(format!("{path}.{key}"));
                continue;
            }
            let child = format!("{path}.{key}");
            let ty = element_type(struct_name, &key);
            let ty_name = match ty {
                Some(ElementType::Primitive(p)) => p.to_owned(),
                Some(ElementType::Complex(c)) => c.to_owned(),
                Some(ElementType::Resource) | None => String::new(),
            };
            steps.push((key.clone(), ty_name.clone()));
            let view: Vec<Step<'_>> = steps.iter().map(|(n, t)| Step { name: n, ty: t }).collect();
            let own = self.rules.iter().position(|(p, _)| p.matches(resource_type, &view));
            let rule = match (inherited, own) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let method = rule.map_or(Method::Keep, |i| self.rules[i].1);
            let keep = match object.get_mut(&key).expect("listed") {
                Value::Array(items) => {
                    items.retain_mut(|item| {
                        self.node(item, resource_type, ty, steps, rule, method, shift, &child, done)
                    });
                    !items.is_empty()
                }
                value => {
                    self.node(value, resource_type, ty, steps, rule, method, shift, &child, done)
                }
            };
            steps.pop();
            if !keep {
                object.remove(&key);
            }
        }
    }

    /// Treats one value; false when it is to be removed.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &self,
        value: &mut Value,
        resource_type: &str,
        ty: Option<ElementType>,
        steps: &mut Vec<(String, String)>,
        rule: Option<usize>,
        method: Method,
        shift: i64,
        path: &str,
        done: &mut Deidentified,
    ) -> bool {
        match (value, ty) {
            (Value::Object(object), Some(ElementType::Resource)) => {
                self.resource(object, done, path);
                true
            }
            // A complex node passes its rule down: `redact` removes every primitive below it
            // (keeping what the partial-redaction parameters keep), then the emptied node.
            (Value::Object(object), Some(ElementType::Complex(name))) => {
                self.walk(object, resource_type, name, steps, rule, shift, path, done);
                !object.is_empty()
            }
            (value, Some(ElementType::Primitive(prim))) => {
                self.primitive(value, prim, method, shift, path, done)
            }
            (_, _) => {
                // Unknown to the R4 definitions: kept only by an explicit keep.
                if method == Method::Keep && rule.is_some() {
                    return true;
                }
                done.removed.push(path.to_owned());
                false
            }
        }
    }

    fn primitive(
        &self,
        value: &mut Value,
        prim: &str,
        method: Method,
        shift: i64,
        path: &str,
        done: &mut Deidentified,
    ) -> bool {
        let p = &self.parameters;
        match method {
            Method::Keep => true,
            Method::Redact => {
                let text = value.as_str().unwrap_or("");
                if p.enable_partial_dates_for_redact
                    && matches!(prim, "date" | "dateTime")
                    && text.len() >= 4
                {
                    *value = Value::String(text[..4].to_owned());
                    done.shifted.push(path.to_owned());
                    return true;
                }
                if p.enable_partial_zip_codes_for_redact && path.ends_with(".postalCode") {
                    let zip3 = crate::safe_harbor::zip3(text);
                    *value = Value::String(zip3);
                    done.removed.push(format!("{path} (cut to 3 digits)"));
                    return true;
                }
                if p.enable_partial_ages_for_redact
                    && prim == "decimal"
                    && path.contains("Age.value")
                    && value.as_f64().is_some_and(|v| v <= 89.0)
                {
                    return true;
                }
                done.removed.push(path.to_owned());
                false
            }
            Method::DateShift => {
                match value.as_str().and_then(|d| crate::dates::shift_fhir_date(d, shift)) {
                    Some(shifted) => {
                        *value = Value::String(shifted);
                        done.shifted.push(path.to_owned());
                        true
                    }
                    None => true,
                }
            }
            Method::CryptoHash => {
                let text = match &*value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(p.crypto_hash_key.as_bytes())
                    .expect("HMAC takes any key");
                mac.update(text.as_bytes());
                *value = Value::String(hex::encode(mac.finalize().into_bytes()));
                done.removed.push(format!("{path} (hashed)"));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> Value {
        json!({
            "resourceType": "Patient", "id": "pat-4711",
            "name": [{"family": "Okonkwo", "given": ["Adaeze"]}],
            "telecom": [{"system": "phone", "value": "555-0142"}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "123-45-6789"}],
            "gender": "female", "birthDate": "1968-04-23",
            "address": [{"line": ["12 Wisteria Lane"], "city": "Fairview", "state": "MA",
                         "postalCode": "02139"}],
            "generalPractitioner": [{"reference": "Practitioner/dr-418", "display": "Dr Lindqvist"}]
        })
    }

    #[test]
    fn the_limited_data_set_keeps_dates_and_towns_and_drops_direct_identifiers() {
        let mut p = patient();
        limited_data_set().apply(&mut p);
        let text = p.to_string();
        for identifier in [
            "Okonkwo",
            "Adaeze",
            "555-0142",
            "123-45-6789",
            "Wisteria",
            "pat-4711",
            "dr-418",
            "Lindqvist",
        ] {
            assert!(!text.contains(identifier), "{identifier} in {text}");
        }
        assert_eq!(p["birthDate"], "1968-04-23", "a limited data set keeps dates");
        assert_eq!(p["address"][0]["city"], "Fairview", "and towns");
        assert_eq!(p["address"][0]["postalCode"], "02139", "and ZIP codes");
        assert_eq!(p["gender"], "female");
        assert_eq!(p["id"].as_str().unwrap().len(), 64, "ids hashed, not kept");
        let reference = p["generalPractitioner"][0]["reference"].as_str().unwrap();
        assert_eq!(reference.len(), 64, "references hashed: links survive, ids do not");
    }

    #[test]
    fn rules_apply_in_order_with_their_parameters() {
        let config = r#"{"fhirVersion": "R4", "fhirPathRules": [
            {"path": "Patient.birthDate", "method": "dateShift"},
            {"path": "nodesByType('Address').postalCode", "method": "redact"},
            {"path": "nodesByType('Address')", "method": "keep"},
            {"path": "Patient.name", "method": "redact"}],
            "parameters": {"dateShiftKey": "k", "enablePartialZipCodesForRedact": true}}"#;
        let anonymizer = Anonymizer::parse(config).unwrap();
        let mut p = patient();
        anonymizer.apply(&mut p);
        assert_ne!(p["birthDate"], "1968-04-23");
        assert_eq!(p["birthDate"].as_str().unwrap().len(), 10, "shifted, same precision");
        assert_eq!(p["address"][0]["postalCode"], "021", "the earlier rule wins");
        assert_eq!(p["address"][0]["city"], "Fairview");
        assert!(p.get("name").is_none());
        let mut again = patient();
        anonymizer.apply(&mut again);
        assert_eq!(
            again["birthDate"], p["birthDate"],
            "the same key shifts the same resource alike"
        );
    }

    #[test]
    fn what_cannot_be_applied_is_refused() {
        let rule = |path: &str, method: &str| {
            Anonymizer::parse(&format!(
                r#"{{"fhirVersion": "R4", "fhirPathRules": [{{"path": "{path}", "method": "{method}"}}]}}"#
            ))
        };
        assert!(matches!(
            rule("Patient.name", "generalize"),
            Err(AnonymizerError::Method { index: 0, .. })
        ));
        assert!(matches!(
            rule("Patient.name.where(use='official')", "redact"),
            Err(AnonymizerError::Path { .. })
        ));
        assert!(matches!(
            Anonymizer::parse(r#"{"fhirVersion": "Stu3", "fhirPathRules": []}"#),
            Err(AnonymizerError::Version(_))
        ));
        assert!(matches!(Anonymizer::parse("[]"), Err(AnonymizerError::Parse(_))));
    }
}
