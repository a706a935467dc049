//! The R4 type of any element, looked up in the validator's definitions: what a walker over
//! FHIR JSON outside this crate (the de-identifying export) needs to treat every element of
//! every resource type by what it is rather than by its name.

use crate::validate::defs::{Kind, defs};

/// What an element of a FHIR structure is, per the R4 definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// A primitive datatype, by its R4 name (`string`, `dateTime`, `code`, `uri`, ...).
    Primitive(&'static str),
    /// A complex datatype or backbone element, by the structure name its own elements are
    /// looked up under (`HumanName`, `Address`, `Observation.component`).
    Complex(&'static str),
    /// A whole resource of any type (`contained`, `Bundle.entry.resource`): look its
    /// elements up under its `resourceType`.
    Resource,
}

/// The type of the element `json_name` (as it appears in JSON: `valueQuantity`, `birthDate`;
/// without a leading `_`) of the structure `parent` (a resource type, a datatype or a
/// backbone path as returned in [`ElementType::Complex`]). `None` for an unknown structure
/// or element.
pub fn element_type(parent: &str, json_name: &str) -> Option<ElementType> {
    let defs = defs();
    let index = defs.struct_named(parent)?;
    let (_, ty) = defs.structs[usize::from(index)].resolve(json_name)?;
    Some(match ty.kind {
        Kind::Prim(prim) => ElementType::Primitive(prim.name()),
        Kind::Struct(i) => ElementType::Complex(defs.structs[usize::from(i)].name),
        Kind::Resource => ElementType::Resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_resolve_to_their_r4_types() {
        assert_eq!(element_type("Patient", "name"), Some(ElementType::Complex("HumanName")));
        assert_eq!(element_type("Patient", "birthDate"), Some(ElementType::Primitive("date")));
        assert_eq!(
            element_type("Observation", "valueQuantity"),
            Some(ElementType::Complex("Quantity"))
        );
        assert_eq!(
            element_type("Observation", "component"),
            Some(ElementType::Complex("Observation.component"))
        );
        assert_eq!(element_type("Device", "serialNumber"), Some(ElementType::Primitive("string")));
        assert_eq!(
            element_type("Location", "position"),
            Some(ElementType::Complex("Location.position"))
        );
        assert_eq!(element_type("Bundle.entry", "resource"), Some(ElementType::Resource));
        assert_eq!(element_type("Patient", "colour"), None);
        assert_eq!(element_type("Nothing", "id"), None);
    }
}
