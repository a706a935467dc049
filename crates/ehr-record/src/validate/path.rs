//! FHIR paths for error messages, built cheaply while walking and rendered only on error.

use std::fmt;

/// A position in a resource: a chain of segments from the root, on the stack.
#[derive(Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    /// The start of the path: a resource type (`Observation`) or placeholder (`Resource`).
    Root(&'a str),
    /// `.name`
    Field(&'a str),
    /// `.name[x]` (a choice element as a whole).
    Choice(&'a str),
    /// `[i]`
    Index(usize),
    /// `.ofType(Type)` (the resource inside `Bundle.entry.resource` or `contained`).
    OfType(&'a str),
}

impl<'a> Path<'a> {
    /// A path that starts at `root`.
    pub(crate) fn root(root: &'a str) -> Path<'a> {
        Path { parent: None, segment: Segment::Root(root) }
    }

    /// `self.name`
    pub(crate) fn field(&'a self, name: &'a str) -> Path<'a> {
        Path { parent: Some(self), segment: Segment::Field(name) }
    }

    /// `self.name[x]`
    pub(crate) fn choice(&'a self, name: &'a str) -> Path<'a> {
        Path { parent: Some(self), segment: Segment::Choice(name) }
    }

    /// `self[index]`
    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path { parent: Some(self), segment: Segment::Index(index) }
    }

    /// `self.ofType(type_name)`
    pub(crate) fn of_type(&'a self, type_name: &'a str) -> Path<'a> {
        Path { parent: Some(self), segment: Segment::OfType(type_name) }
    }

    /// The rendered path, e.g. `Bundle.entry[0].resource.ofType(Observation).code`.
    pub(crate) fn render(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            fmt::Display::fmt(parent, f)?;
        }
        match self.segment {
            Segment::Root(name) => f.write_str(name),
            Segment::Field(name) => write!(f, ".{name}"),
            Segment::Choice(name) => write!(f, ".{name}[x]"),
            Segment::Index(i) => write!(f, "[{i}]"),
            Segment::OfType(name) => write!(f, ".ofType({name})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fhir_paths() {
        let root = Path::root("Bundle");
        let entry = root.field("entry");
        let first = entry.index(0);
        let res = first.field("resource");
        let obs = res.of_type("Observation");
        assert_eq!(obs.field("code").render(), "Bundle.entry[0].resource.ofType(Observation).code");
        assert_eq!(
            obs.choice("value").render(),
            "Bundle.entry[0].resource.ofType(Observation).value[x]"
        );
    }
}
