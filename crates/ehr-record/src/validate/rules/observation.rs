//! `Observation` (R4) invariants.

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, has, has_choice, member, rule};

type Outcome = Result<(), RecordError>;

fn obs_6(obj: &Obj, path: &Path<'_>) -> Outcome {
    rule(
        !has(obj, "dataAbsentReason") || !has_choice(obj, "value"),
        path,
        "obs-6",
        "dataAbsentReason is only allowed when there is no value[x]",
    )
}

/// `(system, code)` of each coding of a CodeableConcept.
fn codings(concept: Option<&Node>) -> Vec<(Option<&str>, &str)> {
    concept
        .map(|c| c.items("coding"))
        .unwrap_or_default()
        .iter()
        .filter_map(|coding| {
            let code = coding.get("code")?.as_str()?;
            Some((coding.get("system").and_then(Node::as_str), code))
        })
        .collect()
}

/// obs-3.
pub(super) fn reference_range(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        has(obj, "low") || has(obj, "high") || has(obj, "text"),
        path,
        "obs-3",
        "a reference range has at least a low, a high or a text",
    )
}

/// obs-6 on components.
pub(super) fn component(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    obs_6(obj, path)
}

/// obs-6, obs-7.
pub(super) fn observation(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    obs_6(obj, path)?;
    // obs-7: a component with the observation's own code means the value belongs there.
    let own = codings(member(obj, "code"));
    let repeats_code = member(obj, "component")
        .and_then(Node::as_array)
        .unwrap_or_default()
        .iter()
        .any(|c| codings(c.get("code")).iter().any(|cc| own.contains(cc)));
    rule(
        !(repeats_code && has_choice(obj, "value")),
        path,
        "obs-7",
        "when a component has the same code as the observation, the observation itself \
         has no value[x]",
    )
}
