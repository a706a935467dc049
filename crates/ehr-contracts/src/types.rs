//! Rust-side names for the contracts' enums and the consent scope, so callers never pass a
//! bare `u8` where the contract expects a role, an organization kind or a purpose.

use crate::bindings::IConsentRegistry;
use crate::{Error, Result};
use alloy::primitives::{B256, U256};
use std::fmt;

/// The role an account holds in the `RoleRegistry` (`IRoleRegistry.Role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// No role (never registered, or removed).
    None,
    /// An organization (hospital, insurer, lab), identified by its admin account.
    Organization,
    /// Staff of an organization (doctor, technician, claims reviewer).
    Staff,
    /// A registered patient.
    Patient,
}

impl Role {
    /// Decodes the contract's `uint8`.
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::None,
            1 => Self::Organization,
            2 => Self::Staff,
            3 => Self::Patient,
            _ => {
                return Err(Error::UnknownEnumValue { name: "Role", value });
            }
        })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "no role",
            Self::Organization => "organization",
            Self::Staff => "staff",
            Self::Patient => "patient",
        })
    }
}

/// What an organization is (`IRoleRegistry.OrgKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    /// A hospital: its staff are doctors and may open emergency access.
    Hospital,
    /// An insurer: reviews claims.
    Insurer,
    /// A laboratory: its staff write results.
    Lab,
}

impl OrgKind {
    /// The contract's `uint8`.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Decodes the contract's `uint8`.
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Hospital,
            1 => Self::Insurer,
            2 => Self::Lab,
            _ => {
                return Err(Error::UnknownEnumValue { name: "OrgKind", value });
            }
        })
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hospital => "hospital",
            Self::Insurer => "insurer",
            Self::Lab => "lab",
        })
    }
}

/// Why access is granted (`IConsentRegistry.Purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Care of the patient.
    Treatment,
    /// An insurance claim.
    Insurance,
    /// Research on de-identified exports.
    Research,
    /// Break-glass access.
    Emergency,
}

impl Purpose {
    /// The contract's `uint8`.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Decodes the contract's `uint8`.
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::Treatment,
            1 => Self::Insurance,
            2 => Self::Research,
            3 => Self::Emergency,
            _ => {
                return Err(Error::UnknownEnumValue { name: "Purpose", value });
            }
        })
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Treatment => "treatment",
            Self::Insurance => "insurance",
            Self::Research => "research",
            Self::Emergency => "emergency",
        })
    }
}

/// A contract enum of `uint16` codes 1..=N with a name each, as typed and shown: the enum,
/// `ALL`, `as_u16`, `from_u16`, `name` and `Display`.
macro_rules! code_table {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:literal => $text:literal,)+ }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)+
        }

        impl $name {
            /// Every code, in order.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The contract's `uint16`.
            pub fn as_u16(self) -> u16 {
                self as u16
            }

            /// Decodes the contract's `uint16`.
            pub fn from_u16(value: u16) -> Result<Self> {
                Self::ALL.iter().copied().find(|c| c.as_u16() == value).ok_or(
                    Error::UnknownEnumValue {
                        name: stringify!($name),
                        value: u8::try_from(value).unwrap_or(u8::MAX),
                    },
                )
            }

            /// The code's name as typed and shown.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

code_table! {
    /// Why access is asked for or break-glass access opened: the consent registry's reason
    /// codes (after HL7 v3 PurposeOfUse). Sent in clear; any free text goes encrypted to the
    /// patient.
    ReasonCode {
        /// 1, TREAT.
        Treatment = 1 => "treatment",
        /// 2, ETREAT.
        EmergencyTreatment = 2 => "emergency-treatment",
        /// 3, HPAYMT.
        Payment = 3 => "payment",
        /// 4, HRESCH.
        Research = 4 => "research",
        /// 5, HOPERAT.
        Operations = 5 => "operations",
        /// 6, CAREMGT.
        CareCoordination = 6 => "care-coordination",
        /// 7, PATRQT.
        PatientRequest = 7 => "patient-request",
        /// 8, PUBHLTH.
        PublicHealth = 8 => "public-health",
        /// 9, HLEGAL.
        Legal = 9 => "legal",
    }
}

code_table! {
    /// Why an insurer decided a claim as it did: the claim registry's decision codes. Sent in
    /// clear; the reviewer's own words, if any, go encrypted to the patient.
    DecisionCode {
        /// 1: the care is covered.
        Covered = 1 => "covered",
        /// 2: part of it is covered.
        PartlyCovered = 2 => "partly-covered",
        /// 3: the plan does not cover it.
        NotCovered = 3 => "not-covered",
        /// 4: information is missing.
        InformationMissing = 4 => "information-missing",
        /// 5: not medically necessary.
        NotMedicallyNecessary = 5 => "not-medically-necessary",
        /// 6: out of network.
        OutOfNetwork = 6 => "out-of-network",
        /// 7: a duplicate claim.
        Duplicate = 7 => "duplicate",
        /// 8: another reason (say which in the words).
        Other = 8 => "other",
    }
}

impl ReasonCode {
    /// The usual code for a grant purpose.
    pub fn for_purpose(purpose: Purpose) -> Self {
        match purpose {
            Purpose::Treatment => Self::Treatment,
            Purpose::Insurance => Self::Payment,
            Purpose::Research => Self::Research,
            Purpose::Emergency => Self::EmergencyTreatment,
        }
    }
}

/// Where an insurance claim stands (`IClaimRegistry.ClaimStatus`): Submitted → UnderReview →
/// Approved | Rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimStatus {
    /// No claim (an unknown id).
    None,
    /// Filed by the patient, waiting for the insurer.
    Submitted,
    /// The insurer is reviewing it.
    UnderReview,
    /// The insurer approved it.
    Approved,
    /// The insurer rejected it.
    Rejected,
}

impl ClaimStatus {
    /// The contract's `uint8`.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Decodes the contract's `uint8`.
    pub fn from_u8(value: u8) -> Result<Self> {
        Ok(match value {
            0 => Self::None,
            1 => Self::Submitted,
            2 => Self::UnderReview,
            3 => Self::Approved,
            4 => Self::Rejected,
            _ => {
                return Err(Error::UnknownEnumValue { name: "ClaimStatus", value });
            }
        })
    }

    /// Whether the insurer has decided it.
    pub fn is_decided(self) -> bool {
        matches!(self, Self::Approved | Self::Rejected)
    }
}

impl fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "unknown",
            Self::Submitted => "submitted",
            Self::UnderReview => "under review",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        })
    }
}

/// What a grant covers (`IConsentRegistry.Scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every record of the patient.
    All,
    /// One category, by its opaque per-patient id (16 bytes of HMAC, then zeros): the
    /// contracts never see a category's name (`ehr_index::SearchKeys::category_id`).
    Category(B256),
    /// One record, by its number in the patient's index.
    Record(u64),
}

impl Scope {
    /// The contract's representation.
    pub fn to_sol(self) -> IConsentRegistry::Scope {
        let (kind, value) = match self {
            Self::All => (0u8, B256::ZERO),
            Self::Category(value) => (1, value),
            Self::Record(id) => (2, B256::from(U256::from(id))),
        };
        IConsentRegistry::Scope { kind, value }
    }

    /// Decodes the contract's representation.
    pub fn from_sol(scope: &IConsentRegistry::Scope) -> Result<Self> {
        match scope.kind {
            0 => Ok(Self::All),
            1 => Ok(Self::Category(scope.value)),
            2 => {
                let id = U256::from_be_bytes(scope.value.0);
                u64::try_from(id)
                    .map(Self::Record)
                    .map_err(|_| Error::UnknownEnumValue { name: "Scope", value: 2 })
            }
            kind => Err(Error::UnknownEnumValue { name: "ScopeKind", value: kind }),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Category(value) => {
                // An opaque id: its 16 leading bytes when the rest is zero, as ids are.
                let shown =
                    if value[16..].iter().all(|b| *b == 0) { &value[..16] } else { &value[..] };
                write!(f, "category:#{}", alloy::hex::encode(shown))
            }
            Self::Record(id) => write!(f, "record:{id}"),
        }
    }
}

/// A category name left-aligned in 32 bytes: 1 to 31 bytes of printable ASCII (`lab`). The
/// one rule for every category name in ehrkit; this form is hashed into the category's
/// opaque on-chain id and carried inside grants, and never goes on chain itself.
pub fn category_bytes32(name: &str) -> Result<B256> {
    let valid = !name.is_empty() && name.len() <= 31 && name.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(Error::InvalidCategory(name.to_owned()));
    }
    let mut bytes = [0u8; 32];
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    Ok(B256::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_scope_round_trips_through_the_contract_form() {
        let scope = Scope::Category(B256::right_padding_from(&[0xab; 16]));
        assert_eq!(scope.to_string(), format!("category:#{}", "ab".repeat(16)));
        assert_eq!(scope.to_sol().kind, 1);
        assert_eq!(Scope::from_sol(&scope.to_sol()).unwrap(), scope);
        assert_eq!(&category_bytes32("lab").unwrap()[..4], b"lab\0");
    }

    #[test]
    fn record_scope_encodes_the_number_as_uint256() {
        let sol = Scope::Record(7).to_sol();
        assert_eq!(sol.kind, 2);
        assert_eq!(U256::from_be_bytes(sol.value.0), U256::from(7));
        assert_eq!(Scope::from_sol(&sol).unwrap(), Scope::Record(7));
    }

    #[test]
    fn category_names_must_fit_and_be_printable() {
        assert!(category_bytes32("").is_err());
        assert!(category_bytes32(&"x".repeat(32)).is_err());
        assert!(category_bytes32("has space").is_err());
        assert!(category_bytes32(&"x".repeat(31)).is_ok());
    }

    #[test]
    fn unknown_enum_values_are_errors_not_panics() {
        assert!(Role::from_u8(4).is_err());
        assert!(OrgKind::from_u8(3).is_err());
        assert!(Purpose::from_u8(9).is_err());
        assert!(ClaimStatus::from_u8(5).is_err());
        assert_eq!(ClaimStatus::from_u8(2).unwrap(), ClaimStatus::UnderReview);
        assert_eq!(ClaimStatus::UnderReview.as_u8(), 2);
        let bad = IConsentRegistry::Scope { kind: 3, value: B256::ZERO };
        assert!(Scope::from_sol(&bad).is_err());
    }
}
