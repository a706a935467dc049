//! A short description of a record, for listings.

use crate::ResourceType;
use crate::json::Node;

/// Longest summary title, in characters.
const TITLE_MAX: usize = 120;

/// What a record is about, in a few words. Taken from the resource itself, so it is health
/// data like the record: keep it encrypted with the record, never put it on chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// A human-readable title: the code's text or display, the file name of a document, or
    /// the resource type when nothing better exists. At most 120 characters.
    pub title: String,
    /// The clinically relevant date or time as written in the resource (effective, issued,
    /// authored, recorded, onset or document date; the timestamp of a Bundle), if any.
    pub date: Option<String>,
    /// The status code (`final`, `active`, ...), or for a Condition its clinical status.
    pub status: Option<String>,
    /// The number of entries, for a Bundle.
    pub entries: Option<usize>,
}

impl Summary {
    pub(crate) fn of(resource_type: ResourceType, node: &Node) -> Summary {
        let title = match resource_type {
            ResourceType::PATIENT => Some("Patient demographics".to_owned()),
            ResourceType::OBSERVATION
            | ResourceType::CONDITION
            | ResourceType::DIAGNOSTIC_REPORT
            | ResourceType::MEDICATION => concept_text(node.get("code")),
            ResourceType::MEDICATION_REQUEST => concept_text(node.get("medicationCodeableConcept"))
                .or_else(|| text(node.get("medicationReference").and_then(|r| r.get("display")))),
            ResourceType::DOCUMENT_REFERENCE => node
                .items("content")
                .iter()
                .find_map(|c| text(c.get("attachment").and_then(|a| a.get("title"))))
                .or_else(|| text(node.get("description")))
                .or_else(|| concept_text(node.get("type"))),
            ResourceType::BUNDLE => {
                let kind = node.get("type").and_then(Node::as_str).unwrap_or("collection");
                Some(format!("Bundle ({kind}, {} entries)", node.items("entry").len()))
            }
            _ => concept_text(node.get("code")).or_else(|| concept_text(node.get("type"))),
        };
        let date = [
            "effectiveDateTime",
            "effectiveInstant",
            "issued",
            "authoredOn",
            "recordedDate",
            "onsetDateTime",
            "date",
            "timestamp",
        ]
        .iter()
        .find_map(|key| text(node.get(key)))
        .or_else(|| text(node.get("effectivePeriod").and_then(|p| p.get("start"))));
        let status = match resource_type {
            ResourceType::CONDITION => node
                .get("clinicalStatus")
                .and_then(|c| c.items("coding").iter().find_map(|c| text(c.get("code")))),
            _ => text(node.get("status")),
        };
        Summary {
            title: shorten(title.unwrap_or_else(|| resource_type.as_str().to_owned())),
            date,
            status,
            entries: (resource_type == ResourceType::BUNDLE).then(|| node.items("entry").len()),
        }
    }
}

fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::as_str).map(str::to_owned)
}

/// `text`, else the first coding's display, else its code.
fn concept_text(concept: Option<&Node>) -> Option<String> {
    let concept = concept?;
    text(concept.get("text"))
        .or_else(|| concept.items("coding").iter().find_map(|c| text(c.get("display"))))
        .or_else(|| concept.items("coding").iter().find_map(|c| text(c.get("code"))))
}

fn shorten(title: String) -> String {
    let clean: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() <= TITLE_MAX {
        return clean;
    }
    let mut cut: String = clean.chars().take(TITLE_MAX - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn summary(json: &str) -> Summary {
        let node = parse(json.as_bytes()).unwrap();
        let rt = node.get("resourceType").and_then(Node::as_str).unwrap().parse().unwrap();
        Summary::of(rt, &node)
    }

    #[test]
    fn observation_summary() {
        let s = summary(
            r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"code":"718-7","display":"Hemoglobin"}]},"effectiveDateTime":"2024-01-02"}"#,
        );
        assert_eq!(s.title, "Hemoglobin");
        assert_eq!(s.date.as_deref(), Some("2024-01-02"));
        assert_eq!(s.status.as_deref(), Some("final"));
        assert_eq!(s.entries, None);
    }

    #[test]
    fn fallbacks_and_bundles() {
        assert_eq!(summary(r#"{"resourceType":"Condition"}"#).title, "Condition");
        let b = summary(r#"{"resourceType":"Bundle","type":"searchset","entry":[{},{}]}"#);
        assert_eq!(b.title, "Bundle (searchset, 2 entries)");
        assert_eq!(b.entries, Some(2));
        let long =
            format!(r#"{{"resourceType":"Medication","code":{{"text":"{}"}}}}"#, "x".repeat(300));
        assert_eq!(summary(&long).title.chars().count(), TITLE_MAX);
    }
}
