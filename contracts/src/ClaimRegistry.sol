// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IClaimRegistry} from "./interfaces/IClaimRegistry.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "./interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/// @title ClaimRegistry
/// @notice Insurance claims over a patient's records. The patient files a claim naming an
/// insurer and the records it covers; the insurer must already hold access to every one of
/// them in the consent registry (the patient grants Insurance-purpose Record grants first,
/// which carry each record's data key). The insurer, its account or its active staff, moves
/// the claim to review and decides it. Every step is an event that names the patient.
/// @dev Rules are the other registries': who is a patient and an insurer comes from the role
/// registry, which records exist from the record index (`stateOf(patient).records`: a
/// patient's records are numbered from 1), and whether the insurer may read them from the
/// consent registry's `hasAccess`, the one access rule.
///
/// Storage: a claim is four packed words plus one word per four records after the second:
/// - word 0, what every transition reads and writes: insurer, status, decidedAt;
/// - word 1: patient, submittedAt, the number of records;
/// - word 2: the commitment to the amount and currency (never the amount: it is PHI-adjacent
///   and travels encrypted to the insurer and the patient, in the event only);
/// - word 3: the first two record ids;
/// - `moreRecordIds`: the other record ids, four per word.
/// So a claim over one or two records costs four new slots, and `startReview` and `decide`
/// write word 0 only.
contract ClaimRegistry is IClaimRegistry {
    // ---------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------

    /// @notice The most records one claim may cover.
    uint256 public constant MAX_RECORDS = 64;
    /// @notice The highest decision reason code (codes are 1 to `MAX_DECISION_CODE`, see `decide`).
    uint16 public constant MAX_DECISION_CODE = 8;
    /// @notice The longest encrypted decision reason: ECIES (33-byte point, 16-byte tag) of 256
    /// bytes of text.
    uint256 public constant MAX_ENCRYPTED_REASON_LENGTH = 305;
    /// @dev The shortest non-empty encrypted reason: ECIES of one byte.
    uint256 private constant _MIN_ENCRYPTED_REASON_LENGTH = 50;
    /// @notice The longest sealed terms, in bytes (the client's are 200: two ECIES of 51 bytes).
    uint256 public constant MAX_SEALED_TERMS_LENGTH = 512;

    /// @dev The record ids stored inline in word 2.
    uint256 private constant _INLINE_RECORDS = 2;

    // ---------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------

    /// @dev A stored claim (see the contract's @dev for the layout). `status` is None exactly
    /// when no claim has this id.
    struct _Claim {
        // Word 0 (20 + 1 + 8 bytes).
        address insurer;
        ClaimStatus status;
        uint64 decidedAt;
        // Word 1 (20 + 8 + 4 bytes).
        address patient;
        uint64 submittedAt;
        uint32 recordCount;
        // Word 2.
        bytes32 termsCommitment;
        // Word 3 (8 + 8 bytes).
        uint64 recordId0;
        uint64 recordId1;
        // Words 3 to 18, written only as far as the claim has records.
        uint64[MAX_RECORDS - _INLINE_RECORDS] moreRecordIds;
    }

    IRoleRegistry private immutable _roles;
    IConsentRegistry private immutable _consent;
    IRecordIndex private immutable _index;

    mapping(uint256 claimId => _Claim) private _claims;
    uint256 private _claimCount;

    /// @notice Deploys the registry on top of the other three contracts.
    /// @param roles_ The role registry: patients, insurers and their staff.
    /// @param consent_ The consent registry, whose `hasAccess` decides whether the insurer may
    /// read a record.
    /// @param index_ The record index, which numbers every patient's records.
    constructor(IRoleRegistry roles_, IConsentRegistry consent_, IRecordIndex index_) {
        _roles = roles_;
        _consent = consent_;
        _index = index_;
    }

    // ---------------------------------------------------------------------------------
    // Claims
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IClaimRegistry
    /// @dev Checks, in order: `ClaimNotPatient(caller)` unless the caller is a registered
    /// patient; `ClaimInvalidInsurer` unless `insurer` is an active organization of kind
    /// Insurer; `ClaimInvalidRecords` unless 1 to `MAX_RECORDS` ids, none repeated;
    /// `ClaimInvalidTerms` unless the commitment is non-zero and the sealed terms are 1 to
    /// `MAX_SEALED_TERMS_LENGTH` bytes (the contract cannot open them: the insurer checks them);
    /// then per record, in the given order, `ClaimUnknownRecord` unless 1 ≤ id ≤ the
    /// patient's record count, and `ClaimRecordNotGranted` unless
    /// `hasAccess(caller, insurer, Record(id))`. Stores the ids in the given order and emits
    /// `ClaimSubmitted`.
    function submitClaim(
        address insurer,
        uint64[] calldata recordIds,
        bytes32 termsCommitment,
        bytes calldata sealedTerms
    ) external returns (uint256 claimId) {
        if (!_roles.isPatient(msg.sender)) revert ClaimNotPatient(msg.sender);
        if (!_roles.isActiveOrganizationOfKind(insurer, IRoleRegistry.OrgKind.Insurer)) {
            revert ClaimInvalidInsurer(insurer);
        }
        uint256 count = recordIds.length;
        if (count == 0 || count > MAX_RECORDS || _hasRepeat(recordIds)) {
            revert ClaimInvalidRecords(count, MAX_RECORDS);
        }
        uint256 sealedLength = sealedTerms.length;
        if (termsCommitment == bytes32(0) || sealedLength == 0 || sealedLength > MAX_SEALED_TERMS_LENGTH) {
            revert ClaimInvalidTerms(termsCommitment, sealedLength);
        }
        uint64 known = _index.stateOf(msg.sender).records;
        for (uint256 i; i < count; ++i) {
            uint64 recordId = recordIds[i];
            if (recordId == 0 || recordId > known) revert ClaimUnknownRecord(recordId);
            IConsentRegistry.Scope memory scope =
                IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Record, bytes32(uint256(recordId)));
            if (!_consent.hasAccess(msg.sender, insurer, scope)) revert ClaimRecordNotGranted(recordId);
        }

        claimId = ++_claimCount;
        _Claim storage stored = _claims[claimId];
        stored.insurer = insurer;
        stored.status = ClaimStatus.Submitted;
        stored.patient = msg.sender;
        stored.submittedAt = uint64(block.timestamp);
        stored.recordCount = uint32(count);
        stored.termsCommitment = termsCommitment;
        stored.recordId0 = recordIds[0];
        if (count > 1) stored.recordId1 = recordIds[1];
        for (uint256 i = _INLINE_RECORDS; i < count; ++i) {
            stored.moreRecordIds[i - _INLINE_RECORDS] = recordIds[i];
        }
        emit ClaimSubmitted(claimId, msg.sender, insurer, recordIds, termsCommitment, sealedTerms);
    }

    /// @inheritdoc IClaimRegistry
    /// @dev Reverts `ClaimUnknown`, then `ClaimNotInsurer` (see `_requireInsurer`), then
    /// `ClaimInvalidTransition` unless the claim is Submitted. Emits `ClaimReviewStarted`.
    function startReview(uint256 claimId) external {
        _Claim storage stored = _claims[claimId];
        (address insurer, ClaimStatus status) = (stored.insurer, stored.status);
        _requireInsurer(claimId, insurer, status);
        if (status != ClaimStatus.Submitted) revert ClaimInvalidTransition(claimId, status);

        stored.status = ClaimStatus.UnderReview;
        emit ClaimReviewStarted(claimId, stored.patient, insurer, msg.sender);
    }

    /// @inheritdoc IClaimRegistry
    /// @dev Reverts `ClaimUnknown`, then `ClaimNotInsurer` (see `_requireInsurer`), then
    /// `ClaimInvalidTransition` unless the claim is UnderReview, then `ClaimInvalidReason`
    /// unless the code is 1 to `MAX_DECISION_CODE` and the encrypted reason empty or 50 to
    /// `MAX_ENCRYPTED_REASON_LENGTH` bytes. Sets the status to Approved or Rejected and
    /// `decidedAt` to now; emits `ClaimDecided`.
    function decide(uint256 claimId, bool approved, uint16 reasonCode, bytes calldata encryptedReason)
        external
    {
        _Claim storage stored = _claims[claimId];
        (address insurer, ClaimStatus status) = (stored.insurer, stored.status);
        _requireInsurer(claimId, insurer, status);
        if (status != ClaimStatus.UnderReview) revert ClaimInvalidTransition(claimId, status);
        uint256 length = encryptedReason.length;
        if (
            reasonCode == 0 || reasonCode > MAX_DECISION_CODE
                || (length != 0
                    && (length < _MIN_ENCRYPTED_REASON_LENGTH || length > MAX_ENCRYPTED_REASON_LENGTH))
        ) revert ClaimInvalidReason(reasonCode, length);

        stored.status = approved ? ClaimStatus.Approved : ClaimStatus.Rejected;
        stored.decidedAt = uint64(block.timestamp);
        emit ClaimDecided(claimId, stored.patient, insurer, msg.sender, approved, reasonCode, encryptedReason);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IClaimRegistry
    /// @dev All fields are zero (status None, no records) for an unknown id.
    function claim(uint256 claimId) external view returns (Claim memory result) {
        _Claim storage stored = _claims[claimId];
        uint256 count = stored.recordCount;
        uint64[] memory recordIds = new uint64[](count);
        if (count > 0) recordIds[0] = stored.recordId0;
        if (count > 1) recordIds[1] = stored.recordId1;
        for (uint256 i = _INLINE_RECORDS; i < count; ++i) {
            recordIds[i] = stored.moreRecordIds[i - _INLINE_RECORDS];
        }
        result = Claim({
            patient: stored.patient,
            insurer: stored.insurer,
            status: stored.status,
            submittedAt: stored.submittedAt,
            decidedAt: stored.decidedAt,
            termsCommitment: stored.termsCommitment,
            recordIds: recordIds
        });
    }

    /// @inheritdoc IClaimRegistry
    function claimCount() external view returns (uint256) {
        return _claimCount;
    }

    /// @inheritdoc IClaimRegistry
    function canReview(uint256 claimId, address account) external view returns (bool) {
        address insurer = _claims[claimId].insurer;
        return insurer != address(0) && _isInsurerOrStaff(insurer, account);
    }

    /// @inheritdoc IClaimRegistry
    function roles() external view returns (address) {
        return address(_roles);
    }

    /// @inheritdoc IClaimRegistry
    function consent() external view returns (address) {
        return address(_consent);
    }

    /// @inheritdoc IClaimRegistry
    function index() external view returns (address) {
        return address(_index);
    }

    // ---------------------------------------------------------------------------------
    // Internal helpers
    // ---------------------------------------------------------------------------------

    /// @dev Reverts `ClaimUnknown` when no claim has this id, then `ClaimNotInsurer` unless the
    /// caller is the claim's insurer account or a staff member of it (`orgOf(caller) ==
    /// insurer`) and the insurer is still an active organization of kind Insurer (so staff of
    /// a removed insurer, and the removed insurer itself, move nothing).
    function _requireInsurer(uint256 claimId, address insurer, ClaimStatus status) private view {
        if (status == ClaimStatus.None) revert ClaimUnknown(claimId);
        if (!_isInsurerOrStaff(insurer, msg.sender)) revert ClaimNotInsurer(claimId, msg.sender);
    }

    /// @dev The insurer rule of `_requireInsurer`: one registry call for the insurer's own
    /// account, two for a staff member, one for anyone else.
    function _isInsurerOrStaff(address insurer, address account) private view returns (bool) {
        if (account != insurer && _roles.orgOf(account) != insurer) return false;
        return _roles.isActiveOrganizationOfKind(insurer, IRoleRegistry.OrgKind.Insurer);
    }

    /// @dev True when some id appears twice (at most 64 ids: a quadratic scan of calldata is
    /// cheaper than any set).
    function _hasRepeat(uint64[] calldata recordIds) private pure returns (bool) {
        uint256 count = recordIds.length;
        for (uint256 i = 1; i < count; ++i) {
            uint64 id = recordIds[i];
            for (uint256 j; j < i; ++j) {
                if (recordIds[j] == id) return true;
            }
        }
        return false;
    }
}
