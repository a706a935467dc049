// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IEmergencyPolicy} from "./IEmergencyPolicy.sol";

/// @title IGuardianRegistry
/// @notice Threshold guardians for break-glass reading, and the patient's break-glass policy.
/// A patient names n guardians (registered accounts with a public key) and a threshold t, and
/// publishes an *emergency kit*: the keys of the categories it marked for emergencies, sealed
/// under a fresh emergency key whose Shamir shares (Feldman-verifiable) are each wrapped to
/// one guardian. The kit travels in an event; the registry keeps its hash. When a doctor opens
/// break-glass access, each guardian that agrees re-wraps its share to the doctor and posts it
/// here (`releaseShare`): with t releases the doctor reads the emergency categories, and every
/// release is on chain, in the patient's audit trail.
/// @dev The registry never sees a key: kits and shares are opaque bytes whose format is
/// docs/protocol.md §2.8. What it guarantees is that a client reading events through an
/// untrusted RPC node can check them against state: `kitHashOf` commits to the current kit,
/// `releaseChainOf` chains every release to a doctor, like `IConsentRegistry.keyChainOf`.
interface IGuardianRegistry is IEmergencyPolicy {
    /// @notice How the patient rules on one hospital's break-glass openings.
    enum HospitalRule {
        Default,
        Allowed,
        Denied
    }

    /// @notice A patient's guardians and current kit.
    struct Guardianship {
        address[] guardians;
        uint8 threshold;
        uint64 setId;
        uint64 kitId;
        uint64 epoch;
        bytes32 kitHash;
    }

    /// @notice A patient's break-glass policy.
    struct EmergencyPolicy {
        bool allowedOnly;
        uint64 renewalCap;
    }

    /// @notice Emitted when the patient names its guardians (share i of every kit of this set
    /// is wrapped to `guardians[i - 1]`).
    event GuardiansSet(address indexed patient, uint64 indexed setId, uint8 threshold, address[] guardians);
    /// @notice Emitted when the patient removes its guardians (kits and releases end with them).
    event GuardiansCleared(address indexed patient, uint64 setId);
    /// @notice Emitted with every kit (at `setGuardians` and at each re-split for a new epoch).
    event EmergencyKitPublished(address indexed patient, uint64 indexed kitId, uint64 epoch, bytes kit);
    /// @notice Emitted when guardian number `index` hands `doctor` its share of kit `kitId`.
    event ShareReleased(
        address indexed patient,
        address indexed doctor,
        address indexed guardian,
        uint64 kitId,
        uint8 index,
        bytes wrappedShare
    );
    /// @notice Emitted when the patient sets its break-glass policy.
    event EmergencyPolicySet(address indexed patient, bool allowedOnly, uint64 renewalCap);
    /// @notice Emitted when the patient rules on one hospital.
    event HospitalRuleSet(address indexed patient, address indexed hospital, HospitalRule rule);
    /// @notice Emitted when the patient confirms a doctor's break-glass access, resetting the
    /// hours it used against the renewal cap.
    event EmergencyRenewalConfirmed(address indexed patient, address indexed doctor, uint64 used);

    /// @notice The caller (or the account named) is not a registered patient.
    error GuardianNotPatient(address account);
    /// @notice The threshold must be 1 to the number of guardians.
    error GuardianInvalidThreshold(uint256 threshold, uint256 guardians);
    /// @notice A patient names 1 to `max` guardians.
    error GuardianInvalidCount(uint256 count, uint256 max);
    /// @notice A guardian must be a registered patient or an active participant other than the
    /// patient itself (and not zero).
    error GuardianInvalidGuardian(address guardian);
    /// @notice A guardian must have registered a 64-byte public key (its share is wrapped to it).
    error GuardianWithoutPublicKey(address guardian);
    /// @notice The same guardian is named twice.
    error GuardianDuplicate(address guardian);
    /// @notice A kit must be 1 to `MAX_KIT_LENGTH` bytes.
    error GuardianInvalidKit(uint256 length);
    /// @notice The kit names epoch `given`, but the patient's current epoch is `current`.
    error GuardianWrongEpoch(uint64 given, uint64 current);
    /// @notice The patient has no guardians (or no kit).
    error GuardianNoGuardians(address patient);
    /// @notice `caller` is not guardian number `index` of the patient's current set.
    error GuardianNotGuardian(address patient, address caller, uint8 index);
    /// @notice No open break-glass access for (patient, doctor): never opened, closed or ended.
    error GuardianNoOpenEmergency(address patient, address doctor);
    /// @notice The doctor is no longer an active doctor of an active hospital.
    error GuardianDoctorInactive(address doctor);
    /// @notice The patient's policy does not allow break-glass access from `hospital`.
    error GuardianHospitalNotAllowed(address patient, address hospital);
    /// @notice The guardian already released its share of the current kit to the doctor.
    error GuardianAlreadyReleased(address patient, address doctor, address guardian);
    /// @notice A wrapped share must be 1 to `MAX_SHARE_LENGTH` bytes.
    error GuardianInvalidShare(uint256 length);
    /// @notice The doctor's break-glass access would add up to `used` seconds since the
    /// patient last confirmed it, more than the patient's cap of `cap`.
    error GuardianRenewalCapExceeded(address patient, address doctor, uint64 used, uint64 cap);
    /// @notice A renewal cap is 0 (the default, `DEFAULT_RENEWAL_CAP`) or 1 s to `max`.
    error GuardianInvalidRenewalCap(uint64 cap, uint64 max);
    /// @notice Only the consent registry may report break-glass openings.
    error GuardianNotConsentRegistry(address caller);
    /// @notice `wire` was called by someone other than the deployer, twice, or with zero; or
    /// the registry is used before it was wired.
    error GuardianWiring();

    /// @notice Names the caller's (a patient's) guardians and threshold, with the first kit of
    /// the set for the current epoch `epoch`. Replaces any earlier set.
    function setGuardians(address[] calldata guardians, uint8 threshold, uint64 epoch, bytes calldata kit)
        external;

    /// @notice Publishes a new kit for the caller's current guardians and epoch `epoch` (a
    /// re-split, after the epoch changed). Earlier kits' releases no longer count.
    function publishKit(uint64 epoch, bytes calldata kit) external;

    /// @notice Removes the caller's guardians.
    function clearGuardians() external;

    /// @notice As guardian number `index` of `patient`, hands `doctor` its share of the
    /// current kit, re-wrapped to the doctor. Only while the doctor's break-glass access is
    /// open, the doctor active and the patient's policy allows its hospital.
    function releaseShare(address patient, address doctor, uint8 index, bytes calldata wrappedShare) external;

    /// @notice Sets the caller's break-glass policy: `allowedOnly` admits only hospitals it
    /// allowed (else every hospital it did not deny); `renewalCap` is the most seconds a
    /// doctor's access may add up to before the patient confirms it (0: the default).
    function setEmergencyPolicy(bool allowedOnly, uint64 renewalCap) external;

    /// @notice Rules on one hospital's break-glass openings for the caller.
    function setHospitalRule(address hospital, HospitalRule rule) external;

    /// @notice Confirms `doctor`'s break-glass access: the time it used starts again at zero.
    function confirmEmergency(address doctor) external;

    /// @notice The patient's guardians and current kit (empty when none).
    function guardianshipOf(address patient) external view returns (Guardianship memory);

    /// @notice The keccak256 of the patient's current kit, zero when none.
    function kitHashOf(address patient) external view returns (bytes32);

    /// @notice The releases to `doctor` of the current kit: a bit per guardian index (bit i-1
    /// for guardian i) and their number.
    function releasesOf(address patient, address doctor) external view returns (uint16 released, uint8 count);

    /// @notice True when at least the threshold of guardians released the current kit to the
    /// doctor: the on-chain condition of any break-glass read.
    function thresholdReached(address patient, address doctor) external view returns (bool);

    /// @notice The head of the chain of every release to (patient, doctor): starts at zero;
    /// each `ShareReleased` sets it to `keccak256(abi.encode(head, kitId, guardian, index,
    /// keccak256(wrappedShare)))`. Never reset.
    function releaseChainOf(address patient, address doctor) external view returns (bytes32);

    /// @notice The patient's break-glass policy; `renewalCap` is the effective cap.
    function emergencyPolicyOf(address patient) external view returns (EmergencyPolicy memory);

    /// @notice How the patient rules on `hospital`.
    function hospitalRuleOf(address patient, address hospital) external view returns (HospitalRule);

    /// @notice Whether the patient's policy admits break-glass access from `hospital`.
    function hospitalAllowed(address patient, address hospital) external view returns (bool);

    /// @notice Seconds of break-glass access `doctor` added up for `patient` since the
    /// patient last confirmed it.
    function emergencyUsedOf(address patient, address doctor) external view returns (uint64);
}
