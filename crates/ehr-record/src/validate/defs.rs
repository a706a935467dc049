//! The R4 (4.0.1) definitions the validator walks: generated from HL7's StructureDefinitions
//! and ValueSets by `scripts/fhir-defs/generate.mjs` into `defs/fhir-r4.json`, embedded in
//! the binary, and indexed once on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::validate::rules::{self, Check};
use crate::validate::schema::Prim;

/// Most elements a structure may have.
pub(crate) const MAX_FIELDS: usize = 256;

/// The generated definitions, as committed.
const DEFS_JSON: &str = include_str!("../../defs/fhir-r4.json");

/// The indexed definitions.
pub(crate) struct Defs {
    /// Every structure (datatype, resource, backbone element by path), by index.
    pub(crate) structs: Vec<StructDef>,
    /// Structure index by name (`Observation`, `Quantity`, `Observation.component`).
    by_name: HashMap<&'static str, u16>,
    /// The concrete resource types, sorted.
    pub(crate) resource_types: Vec<&'static str>,
    /// Codes of each enumerable required value set, sorted.
    pub(crate) value_sets: Vec<ValueSet>,
    /// Allowed contexts (`HumanName.family`, `Patient`, `Element`) of core extensions.
    pub(crate) extension_contexts: HashMap<&'static str, Vec<&'static str>>,
    /// The value types (`Coding`, `uri`) of core extensions; empty for complex extensions.
    pub(crate) extension_types: HashMap<&'static str, Vec<&'static str>>,
}

/// A required value set.
pub(crate) struct ValueSet {
    /// Its codes, sorted.
    pub(crate) codes: Vec<&'static str>,
}

/// A complex datatype, resource or backbone element.
pub(crate) struct StructDef {
    /// Its name or path (`Observation.component`).
    pub(crate) name: &'static str,
    /// A resource (has `resourceType`, no `ele-1`).
    pub(crate) is_resource: bool,
    /// Its elements, in definition order.
    pub(crate) fields: Vec<FieldDef>,
    /// JSON name (`valueQuantity`) → (field index, type index), sorted by name.
    lookup: Vec<(&'static str, u16, u8)>,
    /// Hand-written R4 invariants of this structure.
    pub(crate) check: Option<Check>,
}

/// An element.
pub(crate) struct FieldDef {
    /// Its name (without `[x]`).
    pub(crate) name: &'static str,
    /// Minimum cardinality.
    pub(crate) min: u32,
    /// Maximum cardinality; `None` for `*`.
    pub(crate) max: Option<u32>,
    /// A choice element (`value[x]`).
    pub(crate) choice: bool,
    /// An XML attribute or the narrative: no `_name` sibling.
    pub(crate) attr: bool,
    /// Its types (one unless a choice).
    pub(crate) types: Vec<TypeRef>,
    /// A required binding whose codes are known (index into `Defs::value_sets`).
    pub(crate) binding: Option<u16>,
    /// For `Reference` elements: the resource types allowed as targets (`None`: any).
    pub(crate) targets: Option<Vec<&'static str>>,
}

impl FieldDef {
    /// Whether the element repeats (a JSON array).
    pub(crate) fn many(&self) -> bool {
        self.max != Some(1)
    }
}

/// A type an element may have.
#[derive(Clone, Copy)]
pub(crate) struct TypeRef {
    /// The type's code as it appears in choice names (`Quantity` for `valueQuantity`).
    pub(crate) code: &'static str,
    /// What it is.
    pub(crate) kind: Kind,
}

/// The kinds of types.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A primitive datatype.
    Prim(Prim),
    /// A structure (index into `Defs::structs`).
    Struct(u16),
    /// A whole resource of any type (`contained`, `Bundle.entry.resource`).
    Resource,
}

impl Defs {
    /// The structure named `name`.
    pub(crate) fn struct_named(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    /// Whether `name` is a concrete R4 resource type.
    pub(crate) fn is_resource_type(&self, name: &str) -> bool {
        self.resource_types.binary_search(&name).is_ok()
    }
}

impl StructDef {
    /// The element and type a JSON name (without `_`) stands for.
    pub(crate) fn resolve(&self, json_name: &str) -> Option<(&FieldDef, TypeRef)> {
        self.resolve_indexed(json_name).map(|(_, field, ty)| (field, ty))
    }

    /// [`resolve`](Self::resolve), with the element's index in `fields`.
    pub(crate) fn resolve_indexed(&self, json_name: &str) -> Option<(usize, &FieldDef, TypeRef)> {
        let i = self.lookup.binary_search_by(|(n, _, _)| (*n).cmp(json_name)).ok()?;
        let (_, f, t) = self.lookup[i];
        let field = &self.fields[usize::from(f)];
        Some((usize::from(f), field, field.types[usize::from(t)]))
    }
}

/// The definitions, loaded on first use.
pub(crate) fn defs() -> &'static Defs {
    static DEFS: OnceLock<Defs> = OnceLock::new();
    DEFS.get_or_init(|| load(DEFS_JSON).expect("the embedded FHIR definitions are consistent"))
}

#[derive(Deserialize)]
struct RawValueSet<'a> {
    #[serde(borrow)]
    codes: Vec<&'a str>,
}

#[derive(Deserialize)]
struct RawField<'a> {
    n: &'a str,
    min: u32,
    #[serde(default = "one")]
    max: i64,
    #[serde(default)]
    x: u8,
    #[serde(default)]
    a: u8,
    #[serde(borrow)]
    t: Vec<&'a str>,
    vs: Option<u16>,
    #[serde(borrow)]
    r: Option<Vec<&'a str>>,
}

fn one() -> i64 {
    1
}

/// `structs` is a JSON object; read it as (name, fields) pairs in file order.
mod struct_map {
    use serde::de::{Deserializer, MapAccess, Visitor};
    use std::fmt;

    pub(super) fn pairs<'de, D, V>(d: D) -> Result<Vec<(&'de str, V)>, D::Error>
    where
        D: Deserializer<'de>,
        V: serde::Deserialize<'de>,
    {
        struct Pairs<V>(std::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> Visitor<'de> for Pairs<V> {
            type Value = Vec<(&'de str, V)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(out)
            }
        }
        d.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

/// A raw definitions file with `structs` as a map.
#[derive(Deserialize)]
struct RawFile<'a> {
    #[serde(borrow)]
    resource_types: Vec<&'a str>,
    #[serde(borrow, deserialize_with = "struct_map::pairs")]
    structs: Vec<(&'a str, Vec<RawField<'a>>)>,
    #[serde(borrow)]
    value_sets: Vec<RawValueSet<'a>>,
    #[serde(borrow)]
    extension_contexts: HashMap<&'a str, Vec<&'a str>>,
    #[serde(borrow)]
    extension_types: HashMap<&'a str, Vec<&'a str>>,
}

fn load(json: &'static str) -> Result<Defs, String> {
    let raw: RawFile<'static> = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let by_name: HashMap<&'static str, u16> = raw
        .structs
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, u16::try_from(i).expect("fewer than 65536 structures")))
        .collect();
    let mut structs = Vec::with_capacity(raw.structs.len());
    for (name, raw_fields) in raw.structs {
        // The walker keeps the elements seen in a 256-bit set (R4's largest has 54).
        if raw_fields.len() > MAX_FIELDS {
            return Err(format!(
                "{name} has {} elements, more than {MAX_FIELDS}",
                raw_fields.len()
            ));
        }
        let mut fields = Vec::with_capacity(raw_fields.len());
        for f in raw_fields {
            let types = f
                .t
                .iter()
                .map(|t| type_ref(t, &by_name).ok_or_else(|| format!("{name}.{}: type {t}", f.n)))
                .collect::<Result<Vec<_>, _>>()?;
            fields.push(FieldDef {
                name: f.n,
                min: f.min,
                max: u32::try_from(f.max).ok(),
                choice: f.x == 1,
                attr: f.a == 1,
                types,
                binding: f.vs,
                targets: f.r,
            });
        }
        let mut lookup = Vec::new();
        for (fi, field) in fields.iter().enumerate() {
            let fi = u16::try_from(fi).map_err(|e| e.to_string())?;
            if field.choice {
                for (ti, ty) in field.types.iter().enumerate() {
                    let json_name: &'static str = Box::leak(choice_name(field.name, ty.code));
                    lookup.push((json_name, fi, u8::try_from(ti).map_err(|e| e.to_string())?));
                }
            } else {
                lookup.push((field.name, fi, 0));
            }
        }
        lookup.sort_unstable_by_key(|(n, _, _)| *n);
        let is_resource = raw.resource_types.binary_search(&name).is_ok();
        structs.push(StructDef {
            name,
            is_resource,
            fields,
            lookup,
            check: rules::for_struct(name),
        });
    }
    let value_sets = raw
        .value_sets
        .into_iter()
        .map(|vs| {
            let mut codes = vs.codes;
            codes.sort_unstable();
            ValueSet { codes }
        })
        .collect();
    Ok(Defs {
        structs,
        by_name,
        resource_types: raw.resource_types,
        value_sets,
        extension_contexts: raw.extension_contexts,
        extension_types: raw.extension_types,
    })
}

/// `value` + `Quantity` → `valueQuantity`; leaked once per choice type at load time.
fn choice_name(name: &str, code: &str) -> Box<str> {
    let mut out = String::with_capacity(name.len() + code.len());
    out.push_str(name);
    let mut chars = code.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
        out.push_str(chars.as_str());
    }
    out.into_boxed_str()
}

/// Resolves a type string of the generated file: a primitive (`string`), a datatype
/// (`Quantity`), a profiled datatype (`Quantity/SimpleQuantity`), a backbone element
/// (`@Observation.component`) or `Resource`.
fn type_ref(t: &'static str, by_name: &HashMap<&'static str, u16>) -> Option<TypeRef> {
    if let Some(path) = t.strip_prefix('@') {
        return Some(TypeRef { code: "BackboneElement", kind: Kind::Struct(*by_name.get(path)?) });
    }
    if t == "Resource" {
        return Some(TypeRef { code: t, kind: Kind::Resource });
    }
    let (code, structure) = t.split_once('/').unwrap_or((t, t));
    if let Some(prim) = Prim::from_name(code) {
        return Some(TypeRef { code, kind: Kind::Prim(prim) });
    }
    Some(TypeRef { code, kind: Kind::Struct(*by_name.get(structure)?) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_load_and_cover_r4() {
        let d = defs();
        assert_eq!(d.resource_types.len(), 146);
        assert!(d.is_resource_type("Encounter") && !d.is_resource_type("DomainResource"));
        let obs = &d.structs[usize::from(d.struct_named("Observation").unwrap())];
        let (field, ty) = obs.resolve("valueQuantity").unwrap();
        assert_eq!((field.name, field.choice, ty.code), ("value", true, "Quantity"));
        assert!(obs.resolve("value").is_none());
        let (status, _) = obs.resolve("status").unwrap();
        let vs = &d.value_sets[usize::from(status.binding.unwrap())];
        assert_eq!(
            vs.codes,
            [
                "amended",
                "cancelled",
                "corrected",
                "entered-in-error",
                "final",
                "preliminary",
                "registered",
                "unknown"
            ]
        );
        let item = &d.structs[usize::from(d.struct_named("Questionnaire.item").unwrap())];
        let (nested, ty) = item.resolve("item").unwrap();
        assert!(nested.many());
        assert!(ty.kind == Kind::Struct(d.struct_named("Questionnaire.item").unwrap()));
    }

    /// The committed file says which package it was generated from, and that is the package
    /// the generator pins (`node scripts/fhir-defs/generate.mjs --check` regenerates it).
    #[test]
    fn definitions_name_the_package_the_generator_pins() {
        let script = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../scripts/fhir-defs/generate.mjs"),
        )
        .unwrap();
        let constant = |name: &str| {
            let line = script.lines().find(|l| l.starts_with(&format!("const {name} = "))).unwrap();
            line.split('\'').nth(1).unwrap().to_owned()
        };
        let source: serde_json::Value = serde_json::from_str(DEFS_JSON).unwrap();
        let source = &source["source"];
        assert_eq!(source["package"], constant("PACKAGE").as_str());
        assert_eq!(source["version"], constant("VERSION").as_str());
        assert_eq!(source["tarball_sha256"], constant("TARBALL_SHA256").as_str());
        assert_eq!(source["fhir_version"], "4.0.1");
    }
}
