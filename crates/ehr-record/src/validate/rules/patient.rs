//! `Patient` (R4) invariants.

use crate::error::RecordError;
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, has, rule};

type Outcome = Result<(), RecordError>;

/// pat-1.
pub(super) fn contact(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        has(obj, "name") || has(obj, "telecom") || has(obj, "address") || has(obj, "organization"),
        path,
        "pat-1",
        "a contact has a name, telecom, address or organization",
    )
}
