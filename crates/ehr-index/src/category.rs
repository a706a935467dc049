//! Record categories as the contracts store them: a short ASCII name left-aligned in 32 bytes.

use std::fmt;

use alloy::primitives::B256;

use crate::{Error, Result};

/// A record category, e.g. `lab`: 1 to 31 bytes of printable ASCII, left-aligned in a
/// `bytes32` (the rule is `ehr_contracts::category_bytes32`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(B256);

impl Category {
    /// The category called `name`.
    pub fn new(name: &str) -> Result<Self> {
        ehr_contracts::category_bytes32(name)
            .map(Self)
            .map_err(|_| Error::InvalidCategory(name.to_owned()))
    }

    /// A category as read from chain, taken as is (the contract only checks it is non-zero).
    pub fn from_bytes32(value: B256) -> Self {
        Self(value)
    }

    /// The `bytes32` the contracts use.
    pub fn as_bytes32(&self) -> &B256 {
        &self.0
    }

    /// The name, with trailing zero bytes removed (non-UTF-8 bytes replaced).
    pub fn name(&self) -> String {
        let end = self.0.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl fmt::Debug for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Category({:?})", self.name())
    }
}

impl std::str::FromStr for Category {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_left_aligned_and_validated() {
        let lab = Category::new("lab").unwrap();
        assert_eq!(&lab.as_bytes32()[..4], b"lab\0");
        assert_eq!(lab.name(), "lab");
        assert_eq!(format!("{lab} {lab:?}"), "lab Category(\"lab\")");
        for bad in ["", "a b", "é", &"x".repeat(32)] {
            assert!(matches!(Category::new(bad), Err(Error::InvalidCategory(_))), "{bad:?}");
        }
        assert!(Category::new(&"x".repeat(31)).is_ok());
    }
}
