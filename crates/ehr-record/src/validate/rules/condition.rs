//! `Condition` (R4) invariants.

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, has, has_choice, member, rule};

type Outcome = Result<(), RecordError>;

const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

/// Whether `concept` has a coding of `system` with one of `codes`.
fn has_coding(concept: Option<&Node>, system: &str, codes: &[&str]) -> bool {
    concept.is_some_and(|c| {
        c.items("coding").iter().any(|coding| {
            coding.get("system").and_then(Node::as_str) == Some(system)
                && coding
                    .get("code")
                    .and_then(Node::as_str)
                    .is_some_and(|code| codes.contains(&code))
        })
    })
}

/// con-1.
pub(super) fn stage(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        has(obj, "summary") || has(obj, "assessment"),
        path,
        "con-1",
        "a stage has a summary or an assessment",
    )
}

/// con-2.
pub(super) fn evidence(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(has(obj, "code") || has(obj, "detail"), path, "con-2", "evidence has a code or a detail")
}

/// con-4, con-5.
pub(super) fn condition(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    let clinical = member(obj, "clinicalStatus");
    rule(
        !has_choice(obj, "abatement")
            || has_coding(clinical, CLINICAL, &["inactive", "resolved", "remission"]),
        path,
        "con-4",
        "a condition with an abatement has clinicalStatus inactive, resolved or remission \
         (system http://terminology.hl7.org/CodeSystem/condition-clinical)",
    )?;
    rule(
        clinical.is_none()
            || !has_coding(member(obj, "verificationStatus"), VERIFICATION, &["entered-in-error"]),
        path,
        "con-5",
        "a condition whose verificationStatus is entered-in-error has no clinicalStatus",
    )
}
