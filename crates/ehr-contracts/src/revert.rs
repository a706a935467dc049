//! Revert data decoded into the contracts' custom errors, with messages that say what is wrong.

use crate::bindings::claim_registry::ClaimRegistry::ClaimRegistryErrors as K;
use crate::bindings::consent_registry::ConsentRegistry::ConsentRegistryErrors as C;
use crate::bindings::guardian_registry::GuardianRegistry::GuardianRegistryErrors as G;
use crate::bindings::record_index::RecordIndex::RecordIndexErrors as I;
use crate::bindings::role_registry::RoleRegistry::RoleRegistryErrors as R;
use crate::types::{ClaimStatus, Role};
use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{Panic, Revert, SolError, SolInterface};
use std::fmt;

/// Why a call reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertReason {
    /// A `RoleRegistry` custom error (including OpenZeppelin's AccessControl errors).
    Role(R),
    /// A `ConsentRegistry` custom error (including OpenZeppelin's nonce errors).
    Consent(C),
    /// A `RecordIndex` custom error.
    Index(I),
    /// A `ClaimRegistry` custom error.
    Claim(K),
    /// A `GuardianRegistry` custom error (also the break-glass policy's refusals, which reach
    /// callers of `ConsentRegistry.openEmergencyAccess`).
    Guardian(G),
    /// `revert("message")` / `require(…, "message")`.
    Message(String),
    /// A Solidity panic (arithmetic overflow, array bounds, …) with its code.
    Panic(U256),
    /// Revert data no known ABI describes.
    Unknown(Bytes),
}

impl RevertReason {
    /// Decodes raw revert data, trying every contract's errors.
    pub fn decode(data: &[u8]) -> Self {
        if let Ok(e) = R::abi_decode(data) {
            return Self::Role(e);
        }
        if let Ok(e) = C::abi_decode(data) {
            return Self::Consent(e);
        }
        if let Ok(e) = I::abi_decode(data) {
            return Self::Index(e);
        }
        if let Ok(e) = K::abi_decode(data) {
            return Self::Claim(e);
        }
        if let Ok(e) = G::abi_decode(data) {
            return Self::Guardian(e);
        }
        if let Ok(r) = Revert::abi_decode(data) {
            return Self::Message(r.reason);
        }
        if let Ok(p) = Panic::abi_decode(data) {
            return Self::Panic(p.code);
        }
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// The custom error's Solidity name (e.g. `ConsentInvalidSigner`), for matching in code.
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::Role(e) => role_error_name(e),
            Self::Consent(e) => consent_error_name(e),
            Self::Index(e) => index_error_name(e),
            Self::Claim(e) => claim_error_name(e),
            Self::Guardian(e) => crate::revert_guardian::guardian_error_name(e),
            Self::Message(_) => "Error",
            Self::Panic(_) => "Panic",
            Self::Unknown(_) => "Unknown",
        }
    }
}

fn role_name(value: u8) -> String {
    Role::from_u8(value).map(|r| r.to_string()).unwrap_or_else(|_| format!("role {value}"))
}

fn scope_kind_name(kind: u8) -> &'static str {
    match kind {
        0 => "all",
        1 => "category",
        2 => "record",
        _ => "unknown",
    }
}

fn status_name(status: u8) -> &'static str {
    match status {
        0 => "unknown",
        1 => "pending",
        2 => "approved",
        3 => "denied",
        _ => "invalid",
    }
}

fn role_error_name(e: &R) -> &'static str {
    match e {
        R::AccessControlBadConfirmation(_) => "AccessControlBadConfirmation",
        R::AccessControlEnforcedDefaultAdminDelay(_) => "AccessControlEnforcedDefaultAdminDelay",
        R::AccessControlEnforcedDefaultAdminRules(_) => "AccessControlEnforcedDefaultAdminRules",
        R::AccessControlInvalidDefaultAdmin(_) => "AccessControlInvalidDefaultAdmin",
        R::AccessControlUnauthorizedAccount(_) => "AccessControlUnauthorizedAccount",
        R::RoleAlreadyAssigned(_) => "RoleAlreadyAssigned",
        R::RoleInvalidName(_) => "RoleInvalidName",
        R::RoleInvalidPublicKeyLength(_) => "RoleInvalidPublicKeyLength",
        R::RoleNotOrganization(_) => "RoleNotOrganization",
        R::RoleNotStaffOf(_) => "RoleNotStaffOf",
        R::RolePublicKeyMismatch(_) => "RolePublicKeyMismatch",
        R::RoleZeroAddress(_) => "RoleZeroAddress",
        R::SafeCastOverflowedUintDowncast(_) => "SafeCastOverflowedUintDowncast",
    }
}

fn consent_error_name(e: &C) -> &'static str {
    match e {
        C::ConsentDurationTooLong(_) => "ConsentDurationTooLong",
        C::ConsentExpired(_) => "ConsentExpired",
        C::ConsentInvalidEmergencyDuration(_) => "ConsentInvalidEmergencyDuration",
        C::ConsentInvalidGrantee(_) => "ConsentInvalidGrantee",
        C::ConsentInvalidReason(_) => "ConsentInvalidReason",
        C::ConsentInvalidRequestTtl(_) => "ConsentInvalidRequestTtl",
        C::ConsentInvalidScope(_) => "ConsentInvalidScope",
        C::ConsentInvalidSignature(_) => "ConsentInvalidSignature",
        C::ConsentInvalidSigner(_) => "ConsentInvalidSigner",
        C::ConsentInvalidWrappedKeys(_) => "ConsentInvalidWrappedKeys",
        C::ConsentInvalidKeyCheck(_) => "ConsentInvalidKeyCheck",
        C::ConsentKeysAlreadySetUp(_) => "ConsentKeysAlreadySetUp",
        C::ConsentKeysNotSetUp(_) => "ConsentKeysNotSetUp",
        C::ConsentNoActiveGrant(_) => "ConsentNoActiveGrant",
        C::ConsentNoEmergencyAccess(_) => "ConsentNoEmergencyAccess",
        C::ConsentNotEmergencyParty(_) => "ConsentNotEmergencyParty",
        C::ConsentNotHospitalDoctor(_) => "ConsentNotHospitalDoctor",
        C::ConsentNotPatient(_) => "ConsentNotPatient",
        C::ConsentNotRequestPatient(_) => "ConsentNotRequestPatient",
        C::ConsentRequestExpired(_) => "ConsentRequestExpired",
        C::ConsentRequestMismatch(_) => "ConsentRequestMismatch",
        C::ConsentRequestNotPending(_) => "ConsentRequestNotPending",
        C::ConsentSignatureExpired(_) => "ConsentSignatureExpired",
        C::ConsentTooManyScopes(_) => "ConsentTooManyScopes",
        C::ConsentUnknownRequest(_) => "ConsentUnknownRequest",
        C::ConsentWrongEpoch(_) => "ConsentWrongEpoch",
        C::InvalidAccountNonce(_) => "InvalidAccountNonce",
        C::InvalidShortString(_) => "InvalidShortString",
        C::StringTooLong(_) => "StringTooLong",
    }
}

fn fmt_role(e: &R, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        R::AccessControlUnauthorizedAccount(e) => {
            write!(
                f,
                "{} lacks the role {} needed for this call (only the system admin may do this)",
                e.account, e.neededRole
            )
        }
        R::AccessControlBadConfirmation(_) => {
            f.write_str("an account may only renounce its own role")
        }
        R::AccessControlEnforcedDefaultAdminDelay(e) => {
            write!(
                f,
                "the admin transfer is scheduled for timestamp {}; accept it after that",
                e.schedule
            )
        }
        R::AccessControlEnforcedDefaultAdminRules(_) => {
            f.write_str("the admin role moves only by the two-step transfer (begin, then accept)")
        }
        R::AccessControlInvalidDefaultAdmin(e) => {
            write!(
                f,
                "{} is not the pending admin, so it cannot accept the admin transfer",
                e.defaultAdmin
            )
        }
        R::RoleAlreadyAssigned(e) => {
            write!(
                f,
                "{} is already registered as {}; one account holds one role",
                e.account,
                role_name(e.role)
            )
        }
        R::RoleInvalidName(_) => f.write_str("an organization name must be 1 to 64 bytes"),
        R::RoleInvalidPublicKeyLength(e) => write!(
            f,
            "the public key is {} bytes; expected 64 (uncompressed X ‖ Y without the 0x04 prefix)",
            e.length
        ),
        R::RoleNotOrganization(e) => write!(f, "{} is not an active organization", e.account),
        R::RoleNotStaffOf(e) => {
            write!(f, "{} is not on the staff of organization {}", e.staff, e.org)
        }
        R::RolePublicKeyMismatch(e) => write!(
            f,
            "the public key belongs to {}, not to the sender {}; register your own key",
            e.derived, e.account
        ),
        R::RoleZeroAddress(_) => f.write_str("the zero address cannot hold a role"),
        R::SafeCastOverflowedUintDowncast(e) => {
            write!(f, "value {} does not fit in {} bits", e.value, e.bits)
        }
    }
}

fn fmt_consent(e: &C, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        C::ConsentDurationTooLong(e) => {
            write!(
                f,
                "the grant expiry {} is too far ahead; a grant lasts at most {} seconds",
                e.expiry, e.maxDuration
            )
        }
        C::ConsentExpired(e) => {
            write!(f, "the grant expiry {} is not after the current time {}", e.expiry, e.nowTs)
        }
        C::ConsentInvalidEmergencyDuration(e) => write!(
            f,
            "emergency access of {} seconds is not allowed; it lasts 1 to {} seconds",
            e.duration, e.maxDuration
        ),
        C::ConsentInvalidGrantee(e) => {
            write!(
                f,
                "{} is not an active organization or staff member, so it cannot hold grants",
                e.grantee
            )
        }
        C::ConsentInvalidReason(e) => write!(
            f,
            "reason code {} with {} bytes of encrypted reason: the code must be 1 to 9 and the encrypted reason empty or 50 to 305 bytes (1 to 256 bytes of text)",
            e.reasonCode, e.encryptedReasonLength
        ),
        C::ConsentInvalidRequestTtl(e) => {
            write!(f, "a request stays open 1 second to 30 days, not {} seconds", e.ttl)
        }
        C::ConsentInvalidScope(e) => write!(
            f,
            "invalid {} scope value {} (all takes no value, category a non-empty name, record a number ≥ 1)",
            scope_kind_name(e.kind),
            e.value
        ),
        C::ConsentInvalidSignature(_) => {
            f.write_str("the signature is malformed or malleable (wrong length, high s or bad v)")
        }
        C::ConsentInvalidSigner(e) => write!(
            f,
            "the signature was made by {}, not by the patient {} (wrong key, chain or contract?)",
            e.signer, e.patient
        ),
        C::ConsentInvalidKeyCheck(_) => f.write_str("a key-check value must not be zero"),
        C::ConsentKeysAlreadySetUp(e) => write!(
            f,
            "patient {} already set up its keys; rotate them instead (`ehr rotate --keys`)",
            e.patient
        ),
        C::ConsentKeysNotSetUp(e) => {
            write!(f, "patient {} has not set up its keys yet (`ehr keys setup`)", e.patient)
        }
        C::ConsentInvalidWrappedKeys(e) => {
            write!(f, "wrapped key material must be 1 to 4096 bytes, not {}", e.length)
        }
        C::ConsentNoActiveGrant(e) => {
            write!(f, "{} holds no active grant from patient {}", e.grantee, e.patient)
        }
        C::ConsentNoEmergencyAccess(e) => {
            write!(f, "doctor {} has no open emergency access to patient {}", e.doctor, e.patient)
        }
        C::ConsentNotEmergencyParty(e) => {
            write!(
                f,
                "{} may not end this emergency access; only the patient or the doctor may",
                e.caller
            )
        }
        C::ConsentNotHospitalDoctor(e) => {
            write!(
                f,
                "{} is not an active doctor of an active hospital, so it cannot open emergency access",
                e.account
            )
        }
        C::ConsentNotPatient(e) => write!(f, "{} is not a registered patient", e.account),
        C::ConsentNotRequestPatient(e) => {
            write!(
                f,
                "{} is not the patient of request {}, so it cannot answer it",
                e.caller, e.requestId
            )
        }
        C::ConsentRequestExpired(e) => {
            write!(f, "request {} expired at {}", e.requestId, e.expiresAt)
        }
        C::ConsentRequestMismatch(e) => {
            write!(
                f,
                "the signed grant does not match request {} (grantee, scope or purpose differ)",
                e.requestId
            )
        }
        C::ConsentRequestNotPending(e) => {
            write!(f, "request {} is {}, not pending", e.requestId, status_name(e.status))
        }
        C::ConsentSignatureExpired(e) => {
            write!(
                f,
                "the signature's deadline {} has passed (now {}); sign again",
                e.deadline, e.nowTs
            )
        }
        C::ConsentTooManyScopes(e) => write!(
            f,
            "patient {} already gave {} the maximum of {} separately scoped grants",
            e.patient, e.grantee, e.max
        ),
        C::ConsentUnknownRequest(e) => write!(f, "there is no access request {}", e.requestId),
        C::ConsentWrongEpoch(e) => write!(
            f,
            "the grant was made for key epoch {} but the patient is at epoch {} (a revocation happened); sign again",
            e.given, e.current
        ),
        C::InvalidAccountNonce(e) => write!(
            f,
            "nonce already used or out of order for {} (next nonce is {}): the signature was replayed, is stale, or the patient voided it",
            e.account, e.currentNonce
        ),
        C::InvalidShortString(_) => f.write_str("invalid EIP-712 domain string"),
        C::StringTooLong(e) => write!(f, "string too long: {}", e.str),
    }
}

fn index_error_name(e: &I) -> &'static str {
    match e {
        I::IndexBreakGlassCannotSupersede(_) => "IndexBreakGlassCannotSupersede",
        I::IndexInvalidBatchSize(_) => "IndexInvalidBatchSize",
        I::IndexInvalidCategory(_) => "IndexInvalidCategory",
        I::IndexInvalidReadLog(_) => "IndexInvalidReadLog",
        I::IndexInvalidTags(_) => "IndexInvalidTags",
        I::IndexNotAuthorized(_) => "IndexNotAuthorized",
        I::IndexNotGrantee(_) => "IndexNotGrantee",
        I::IndexUnauthorizedHook(_) => "IndexUnauthorizedHook",
        I::IndexUnknownRecord(_) => "IndexUnknownRecord",
        I::IndexWiring(_) => "IndexWiring",
        I::IndexWrongEpoch(_) => "IndexWrongEpoch",
        I::IndexZeroDigest(_) => "IndexZeroDigest",
    }
}

fn fmt_index(e: &I, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        I::IndexBreakGlassCannotSupersede(e) => write!(
            f,
            "{} holds only break-glass access to patient {}: it may add records, not correct them (that needs a grant)",
            e.writer, e.patient
        ),
        I::IndexInvalidBatchSize(e) => {
            write!(f, "a batch holds 1 to {} records, not {}", e.max, e.size)
        }
        I::IndexInvalidCategory(e) => write!(f, "invalid category {}", e.category),
        I::IndexInvalidReadLog(e) => write!(
            f,
            "a sealed read log is 49 + 2^k bytes (k = 5 to 12), not {} bytes",
            e.length
        ),
        I::IndexInvalidTags(e) => write!(
            f,
            "a tag list is 8, 16, 32 or 64 tags of 16 bytes; {} bytes is not one of those",
            e.length
        ),
        I::IndexNotAuthorized(e) => write!(
            f,
            "{} may not add {} records for patient {}: it needs to be the patient, or an active doctor with a grant for that category",
            e.writer,
            crate::Scope::Category(e.category).to_string().trim_start_matches("category:"),
            e.patient
        ),
        I::IndexNotGrantee(e) => {
            write!(f, "{} holds no current grant from patient {}, so it cannot log a read", e.account, e.patient)
        }
        I::IndexUnauthorizedHook(e) => {
            write!(f, "{} is not one of the registries wired to this index", e.caller)
        }
        I::IndexUnknownRecord(e) => write!(f, "patient {} has no record {}", e.patient, e.recordId),
        I::IndexWiring(_) => f.write_str(
            "the record index is not wired to its registries (or already is); finish the deployment",
        ),
        I::IndexWrongEpoch(e) => write!(
            f,
            "the record was encrypted with key epoch {} but the patient is at epoch {}; fetch the new epoch keys and retry",
            e.given, e.current
        ),
        I::IndexZeroDigest(_) => f.write_str("a record digest must not be zero"),
    }
}

fn claim_error_name(e: &K) -> &'static str {
    match e {
        K::ClaimInvalidTerms(_) => "ClaimInvalidTerms",
        K::ClaimInvalidInsurer(_) => "ClaimInvalidInsurer",
        K::ClaimInvalidReason(_) => "ClaimInvalidReason",
        K::ClaimInvalidRecords(_) => "ClaimInvalidRecords",
        K::ClaimInvalidTransition(_) => "ClaimInvalidTransition",
        K::ClaimNotInsurer(_) => "ClaimNotInsurer",
        K::ClaimNotPatient(_) => "ClaimNotPatient",
        K::ClaimRecordNotGranted(_) => "ClaimRecordNotGranted",
        K::ClaimUnknown(_) => "ClaimUnknown",
        K::ClaimUnknownRecord(_) => "ClaimUnknownRecord",
    }
}

fn claim_status_name(status: u8) -> String {
    ClaimStatus::from_u8(status).map_or_else(|_| format!("in status {status}"), |s| s.to_string())
}

fn fmt_claim(e: &K, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        K::ClaimInvalidTerms(e) => write!(
            f,
            "a claim's terms must be a non-zero commitment {} and 1 to 512 bytes of sealed terms, not {}",
            e.termsCommitment, e.sealedTermsLength
        ),
        K::ClaimInvalidInsurer(e) => write!(
            f,
            "{} is not an active insurer organization, so no claim can be filed with it",
            e.insurer
        ),
        K::ClaimInvalidReason(e) => write!(
            f,
            "decision code {} with {} bytes of encrypted reason: the code must be 1 to 8 and the encrypted reason empty or 50 to 305 bytes (1 to 256 bytes of text)",
            e.reasonCode, e.encryptedReasonLength
        ),
        K::ClaimInvalidRecords(e) if e.count.is_zero() => {
            f.write_str("a claim must list at least one record")
        }
        K::ClaimInvalidRecords(e) if e.count > e.max => {
            write!(f, "a claim lists at most {} records, not {}", e.max, e.count)
        }
        K::ClaimInvalidRecords(e) => {
            write!(f, "a claim lists each record once; this list of {} repeats one", e.count)
        }
        K::ClaimInvalidTransition(e) => write!(
            f,
            "claim {} is {}: a claim is reviewed once submitted and decided once under review",
            e.claimId,
            claim_status_name(e.status)
        ),
        K::ClaimNotInsurer(e) => write!(
            f,
            "{} may not act on claim {}: only the claim's insurer or its active staff may, while the insurer is active",
            e.caller, e.claimId
        ),
        K::ClaimNotPatient(e) => {
            write!(f, "{} is not a registered patient, so it cannot file a claim", e.account)
        }
        K::ClaimRecordNotGranted(e) => write!(
            f,
            "the insurer holds no access to record {}; the patient grants it first (purpose insurance)",
            e.recordId
        ),
        K::ClaimUnknown(e) => write!(f, "there is no claim {}", e.claimId),
        K::ClaimUnknownRecord(e) => {
            write!(f, "the patient has no record {} (record numbers start at 1)", e.recordId)
        }
    }
}

impl fmt::Display for RevertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role(e) => fmt_role(e, f),
            Self::Consent(e) => fmt_consent(e, f),
            Self::Index(e) => fmt_index(e, f),
            Self::Claim(e) => fmt_claim(e, f),
            Self::Guardian(e) => crate::revert_guardian::fmt_guardian(e, f),
            Self::Message(m) => write!(f, "reverted: {m}"),
            Self::Panic(code) => write!(f, "the contract panicked with code {code:#x}"),
            Self::Unknown(data) if data.is_empty() => f.write_str("reverted without a reason"),
            Self::Unknown(data) => write!(f, "reverted with unrecognised data {data}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::consent_registry::ConsentRegistry::ConsentInvalidSigner;
    use crate::bindings::role_registry::RoleRegistry::RoleAlreadyAssigned;
    use alloy::primitives::Address;

    #[test]
    fn decodes_custom_errors_of_each_contract() {
        let signer = Address::repeat_byte(1);
        let patient = Address::repeat_byte(2);
        let data = ConsentInvalidSigner { signer, patient }.abi_encode();
        let reason = RevertReason::decode(&data);
        assert_eq!(reason.error_name(), "ConsentInvalidSigner");
        let text = reason.to_string();
        assert!(
            text.contains(&signer.to_string()) && text.contains(&patient.to_string()),
            "{text}"
        );

        let data = RoleAlreadyAssigned { account: patient, role: 3 }.abi_encode();
        let reason = RevertReason::decode(&data);
        assert_eq!(reason.error_name(), "RoleAlreadyAssigned");
        assert!(reason.to_string().contains("already registered as patient"));
    }

    #[test]
    fn decodes_claim_errors_into_sentences() {
        use crate::bindings::claim_registry::ClaimRegistry::{
            ClaimInvalidRecords, ClaimInvalidTransition, ClaimNotInsurer, ClaimRecordNotGranted,
            ClaimUnknownRecord,
        };
        let caller = Address::repeat_byte(7);
        let cases: [(Vec<u8>, &str, &str); 7] = [
            (
                ClaimInvalidTransition { claimId: U256::from(3), status: 3 }.abi_encode(),
                "ClaimInvalidTransition",
                "claim 3 is approved: a claim is reviewed once submitted and decided once under review",
            ),
            (
                ClaimNotInsurer { claimId: U256::from(2), caller }.abi_encode(),
                "ClaimNotInsurer",
                "may not act on claim 2",
            ),
            (
                ClaimRecordNotGranted { recordId: 9 }.abi_encode(),
                "ClaimRecordNotGranted",
                "the insurer holds no access to record 9",
            ),
            (
                ClaimUnknownRecord { recordId: 12 }.abi_encode(),
                "ClaimUnknownRecord",
                "the patient has no record 12",
            ),
            (
                ClaimInvalidRecords { count: U256::ZERO, max: U256::from(64) }.abi_encode(),
                "ClaimInvalidRecords",
                "at least one record",
            ),
            (
                ClaimInvalidRecords { count: U256::from(65), max: U256::from(64) }.abi_encode(),
                "ClaimInvalidRecords",
                "at most 64 records, not 65",
            ),
            (
                ClaimInvalidRecords { count: U256::from(3), max: U256::from(64) }.abi_encode(),
                "ClaimInvalidRecords",
                "repeats one",
            ),
        ];
        for (data, name, text) in cases {
            let reason = RevertReason::decode(&data);
            assert_eq!(reason.error_name(), name);
            assert!(reason.to_string().contains(text), "{reason}");
        }
    }

    #[test]
    fn decodes_string_reverts_panics_and_unknown_data() {
        let data = Revert::from("nope").abi_encode();
        assert_eq!(RevertReason::decode(&data), RevertReason::Message("nope".into()));
        let data = Panic::from(0x11u64).abi_encode();
        assert_eq!(RevertReason::decode(&data).error_name(), "Panic");
        assert_eq!(RevertReason::decode(&[1, 2, 3]).error_name(), "Unknown");
        assert_eq!(RevertReason::decode(&[]).to_string(), "reverted without a reason");
    }
}
