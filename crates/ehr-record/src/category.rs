//! Record categories: the short names consent scopes are written in.

use std::fmt;
use std::str::FromStr;

use crate::error::{RecordError, shown};

/// Longest category name in bytes. The name is stored on chain as a left-aligned,
/// zero-padded `bytes32`; keeping at least one zero byte makes the end of the name
/// unambiguous.
pub const MAX_CATEGORY_LEN: usize = 31;

/// A record category such as `lab` or `imaging`: what consent scopes are written in.
///
/// The set is open (any valid name works), and a name is valid when it is 1 to
/// [`MAX_CATEGORY_LEN`] bytes of lowercase ASCII letters, digits and single hyphens, starts
/// with a letter and does not end with a hyphen (`mental-health`, `covid19`). There is one
/// spelling per category: no uppercase, no spaces, so the on-chain `bytes32` of a name is
/// unique.
///
/// ```
/// use ehr_record::Category;
///
/// let lab: Category = "lab".parse()?;
/// assert_eq!(lab, Category::LAB);
/// assert_eq!(&lab.as_bytes32()[..4], b"lab\0");
/// assert!("Lab".parse::<Category>().is_err());
/// # Ok::<(), ehr_record::RecordError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category {
    /// Left-aligned name, zero-padded; byte 31 is always zero.
    bytes: [u8; 32],
}

impl Category {
    /// Laboratory results (Observation category `laboratory`, lab DiagnosticReports).
    pub const LAB: Category = Category::from_static("lab");
    /// Imaging: radiology reports, DICOM and image files.
    pub const IMAGING: Category = Category::from_static("imaging");
    /// Prescriptions and medications (MedicationRequest, Medication).
    pub const PRESCRIPTION: Category = Category::from_static("prescription");
    /// Diagnoses and problems (Condition).
    pub const DIAGNOSIS: Category = Category::from_static("diagnosis");
    /// Clinical notes and other documents (DocumentReference that is not imaging).
    pub const NOTE: Category = Category::from_static("note");
    /// Vital signs (Observation category `vital-signs`).
    pub const VITALS: Category = Category::from_static("vitals");
    /// Demographics (Patient).
    pub const DEMOGRAPHICS: Category = Category::from_static("demographics");

    /// The well-known categories, in the order above.
    pub const WELL_KNOWN: [Category; 7] = [
        Category::LAB,
        Category::IMAGING,
        Category::PRESCRIPTION,
        Category::DIAGNOSIS,
        Category::NOTE,
        Category::VITALS,
        Category::DEMOGRAPHICS,
    ];

    /// Validates `name` as a category.
    pub fn new(name: &str) -> Result<Category, RecordError> {
        if let Some(reason) = problem(name.as_bytes()) {
            return Err(RecordError::InvalidCategory { name: shown(name), reason });
        }
        let mut bytes = [0u8; 32];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Category { bytes })
    }

    /// For the constants: the same rules, checked at compile time.
    pub(crate) const fn from_static(name: &'static str) -> Category {
        if problem(name.as_bytes()).is_some() {
            panic!("invalid built-in category name");
        }
        let mut bytes = [0u8; 32];
        let mut i = 0;
        while i < name.len() {
            bytes[i] = name.as_bytes()[i];
            i += 1;
        }
        Category { bytes }
    }

    /// Reads a category from its on-chain form: the name left-aligned, then only zero bytes.
    pub fn from_bytes32(bytes: &[u8; 32]) -> Result<Category, RecordError> {
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(32);
        let name = &bytes[..len];
        let invalid = |reason| RecordError::InvalidCategory {
            name: shown(&String::from_utf8_lossy(name)),
            reason,
        };
        if bytes[len..].iter().any(|&b| b != 0) {
            return Err(invalid("the bytes32 has non-zero bytes after the name's end"));
        }
        if let Some(reason) = problem(name) {
            return Err(invalid(reason));
        }
        Ok(Category { bytes: *bytes })
    }

    /// The on-chain form: the name's bytes left-aligned in 32 bytes, zero-padded (as Solidity's
    /// `bytes32("lab")`).
    pub fn as_bytes32(&self) -> [u8; 32] {
        self.bytes
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let len = self.bytes.iter().position(|&b| b == 0).unwrap_or(MAX_CATEGORY_LEN);
        // Only ASCII was ever stored (see `problem`), so this cannot fail.
        std::str::from_utf8(&self.bytes[..len]).unwrap_or_default()
    }
}

/// Why `name` is not a valid category, or `None` when it is.
const fn problem(name: &[u8]) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > MAX_CATEGORY_LEN {
        return Some("it is longer than 31 bytes");
    }
    if !name[0].is_ascii_lowercase() {
        return Some("it must start with a lowercase ASCII letter");
    }
    if name[name.len() - 1] == b'-' {
        return Some("it must not end with a hyphen");
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if b.is_ascii_uppercase() {
            return Some("it has uppercase letters (categories are lowercase)");
        }
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Some("it has a character other than a-z, 0-9 and '-'");
        }
        if b == b'-' && i > 0 && name[i - 1] == b'-' {
            return Some("it has two hyphens in a row");
        }
        i += 1;
    }
    None
}

impl FromStr for Category {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::new(s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Category({:?})", self.as_str())
    }
}

impl AsRef<str> for Category {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> &'static str {
        match Category::new(name) {
            Err(RecordError::InvalidCategory { reason, .. }) => reason,
            other => panic!("{name:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn accepts_well_formed_names() {
        for name in ["lab", "a", "mental-health", "covid19", "x-1-2", &"a".repeat(31)] {
            let c = Category::new(name).unwrap();
            assert_eq!(c.as_str(), name);
            assert_eq!(c.to_string(), name);
        }
    }

    #[test]
    fn rejects_each_rule() {
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason(&"a".repeat(32)), "it is longer than 31 bytes");
        assert_eq!(reason("1lab"), "it must start with a lowercase ASCII letter");
        assert_eq!(reason("-lab"), "it must start with a lowercase ASCII letter");
        assert_eq!(reason("Lab"), "it must start with a lowercase ASCII letter");
        assert_eq!(reason("lAb"), "it has uppercase letters (categories are lowercase)");
        assert_eq!(reason("lab-"), "it must not end with a hyphen");
        assert_eq!(reason("la b"), "it has a character other than a-z, 0-9 and '-'");
        assert_eq!(reason("labé"), "it has a character other than a-z, 0-9 and '-'");
        assert_eq!(reason("la\0b"), "it has a character other than a-z, 0-9 and '-'");
        assert_eq!(reason("a--b"), "it has two hyphens in a row");
    }

    #[test]
    fn bytes32_round_trips_and_is_left_aligned() {
        for c in Category::WELL_KNOWN {
            let b = c.as_bytes32();
            assert_eq!(&b[..c.as_str().len()], c.as_str().as_bytes());
            assert!(b[c.as_str().len()..].iter().all(|&x| x == 0));
            assert_eq!(Category::from_bytes32(&b).unwrap(), c);
        }
        let longest = Category::new(&"z".repeat(31)).unwrap();
        assert_eq!(Category::from_bytes32(&longest.as_bytes32()).unwrap(), longest);
    }

    #[test]
    fn bytes32_rejects_garbage() {
        let mut b = Category::LAB.as_bytes32();
        b[10] = 1;
        assert_eq!(
            Category::from_bytes32(&b).unwrap_err().kind(),
            "InvalidCategory",
            "a byte after the terminator"
        );
        assert!(Category::from_bytes32(&[0u8; 32]).is_err(), "empty name");
        assert!(Category::from_bytes32(&[b'a'; 32]).is_err(), "32 bytes, no terminator");
        let mut upper = [0u8; 32];
        upper[..3].copy_from_slice(b"LAB");
        assert!(Category::from_bytes32(&upper).is_err());
    }

    #[test]
    fn parses_and_formats() {
        let c: Category = "imaging".parse().unwrap();
        assert_eq!(c, Category::IMAGING);
        assert_eq!(format!("{c:?}"), "Category(\"imaging\")");
        assert_eq!(c.as_ref(), "imaging");
    }
}
