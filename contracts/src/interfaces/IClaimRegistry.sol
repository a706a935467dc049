// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IClaimRegistry
/// @notice Insurance claims over a patient's records: the patient files a claim naming an
/// insurer and exactly the records it covers (after granting that insurer Insurance-purpose
/// access to each of them in the consent registry); the insurer reviews and decides. Every
/// step is an event, so the audit trail shows the whole life of a claim.
/// @dev States: Submitted → UnderReview → Approved | Rejected. Only the named insurer (the
/// organization's account or its active staff) moves a claim on.
interface IClaimRegistry {
    /// @notice Where a claim stands.
    enum ClaimStatus {
        None,
        Submitted,
        UnderReview,
        Approved,
        Rejected
    }

    /// @notice A stored claim.
    struct Claim {
        address patient;
        address insurer;
        ClaimStatus status;
        uint64 submittedAt;
        uint64 decidedAt;
        /// @dev Commitment to the claimed amount and currency (docs/protocol.md §2.7):
        /// keccak256("ehrkit/v2/claim-commitment" ‖ uint128 amount ‖ bytes3 currency ‖ bytes32 salt).
        bytes32 termsCommitment;
        uint64[] recordIds;
    }

    /// @notice A patient filed claim `claimId` with `insurer` over `recordIds`.
    event ClaimSubmitted(
        uint256 indexed claimId,
        address indexed patient,
        address indexed insurer,
        uint64[] recordIds,
        bytes32 termsCommitment,
        bytes sealedTerms
    );
    /// @notice The insurer (`reviewer`: its account or a staff member) started reviewing.
    /// @dev `patient` is indexed (as in `ClaimSubmitted`, topic 2) so that a patient's audit
    /// trail finds every step of its claims with one topic filter.
    event ClaimReviewStarted(
        uint256 indexed claimId, address indexed patient, address indexed insurer, address reviewer
    );
    /// @notice The insurer decided, for the reason `reasonCode` (1 to `MAX_DECISION_CODE`, see
    /// `decide`); `encryptedReason` holds the reviewer's words, if any, encrypted to the patient.
    /// @dev `patient` is indexed for the audit trail, as in `ClaimReviewStarted`.
    event ClaimDecided(
        uint256 indexed claimId,
        address indexed patient,
        address indexed insurer,
        address reviewer,
        bool approved,
        uint16 reasonCode,
        bytes encryptedReason
    );

    /// @notice The caller is not a registered patient.
    error ClaimNotPatient(address account);
    /// @notice `insurer` is not an active organization of kind Insurer.
    error ClaimInvalidInsurer(address insurer);
    /// @notice A claim names 1 to `max` records, each at most once.
    error ClaimInvalidRecords(uint256 count, uint256 max);
    /// @notice The patient has no record `recordId` in the index.
    error ClaimUnknownRecord(uint64 recordId);
    /// @notice The insurer holds no access to record `recordId` (grant it first, purpose insurance).
    error ClaimRecordNotGranted(uint64 recordId);
    /// @notice The terms commitment must be non-zero and the sealed terms 1 to
    /// `MAX_SEALED_TERMS_LENGTH` bytes.
    error ClaimInvalidTerms(bytes32 termsCommitment, uint256 sealedTermsLength);
    /// @notice No claim has this id.
    error ClaimUnknown(uint256 claimId);
    /// @notice `caller` is neither the claim's insurer nor active staff of it.
    error ClaimNotInsurer(uint256 claimId, address caller);
    /// @notice The claim is `status`; this step is not allowed from there.
    error ClaimInvalidTransition(uint256 claimId, ClaimStatus status);
    /// @notice A decision needs a reason code of 1 to `MAX_DECISION_CODE`, and its words, when
    /// given, must be an ECIES ciphertext of 1 to 256 bytes of text (50 to 305 bytes).
    error ClaimInvalidReason(uint16 reasonCode, uint256 encryptedReasonLength);

    /// @notice Files a claim as the calling patient.
    /// @param insurer The insurer organization's account.
    /// @param recordIds The records the claim covers (1 to MAX_RECORDS, no repeats); the insurer
    /// must already hold access to each (`hasAccess(patient, insurer, Record(id))`).
    /// @param termsCommitment Commitment to the amount and currency claimed (stored; the
    /// amount itself never goes on chain).
    /// @param sealedTerms The amount, currency and salt ECIES-encrypted to the insurer and to
    /// the patient (emitted, not stored), so both can check them against the commitment.
    /// @return claimId The new claim's id (ids start at 1).
    function submitClaim(
        address insurer,
        uint64[] calldata recordIds,
        bytes32 termsCommitment,
        bytes calldata sealedTerms
    ) external returns (uint256 claimId);

    /// @notice Moves a submitted claim to review (caller: the insurer or its active staff).
    function startReview(uint256 claimId) external;

    /// @notice Approves or rejects a claim under review (caller: the insurer or its active staff).
    /// @param reasonCode Why, as a code (clients name them): 1 covered, 2 partly covered, 3 not
    /// covered by the plan, 4 information missing, 5 not medically necessary, 6 out of network,
    /// 7 duplicate claim, 8 other.
    /// @param encryptedReason The reviewer's words, ECIES-encrypted to the patient, or empty:
    /// no free text about a patient's care goes on chain in clear.
    function decide(uint256 claimId, bool approved, uint16 reasonCode, bytes calldata encryptedReason)
        external;

    /// @notice A stored claim.
    function claim(uint256 claimId) external view returns (Claim memory);

    /// @notice The number of claims filed so far (the last id).
    function claimCount() external view returns (uint256);

    /// @notice Whether `account` may move claim `claimId` on now: the claim's insurer account
    /// or a staff member of it, while the insurer is an active insurer. False for an unknown id.
    function canReview(uint256 claimId, address account) external view returns (bool);

    /// @notice The role registry this registry consults.
    function roles() external view returns (address);

    /// @notice The consent registry this registry consults.
    function consent() external view returns (address);

    /// @notice The record index this registry consults.
    function index() external view returns (address);
}
