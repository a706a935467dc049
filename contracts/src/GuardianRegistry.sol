// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IEmergencyPolicy} from "./interfaces/IEmergencyPolicy.sol";
import {IGuardianRegistry} from "./interfaces/IGuardianRegistry.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/// @title GuardianRegistry
/// @notice Threshold guardians who release a patient's emergency keys to a break-glass doctor,
/// and the patient's break-glass policy (which hospitals, how long in total), which the consent
/// registry asks before any break-glass opening (`onEmergencyOpened`).
/// @dev A contract of its own so that the consent registry's hot paths (grants, `hasAccess`)
/// stay as they are: the consent registry only calls `onEmergencyOpened`, and this registry
/// reads the consent registry's `emergencyUntil` and `epochOf`. Deployed before the consent
/// registry (which takes its address), then wired to it once by the deployer.
/// Storage per patient: one word with the set (threshold, count, set id, kit id, kit epoch),
/// the kit hash, the guardian list per set id (so a new set never has to clear the old one);
/// per (patient, doctor) one word of releases (kit id, guardian bitmap, count) and the release
/// chain head; the policy word, hospital rules and the seconds used against the cap.
contract GuardianRegistry is IGuardianRegistry {
    /// @notice The most guardians one patient names.
    uint256 public constant MAX_GUARDIANS = 16;
    /// @notice The longest kit, in bytes: with four emergency categories, about 40 epochs.
    uint256 public constant MAX_KIT_LENGTH = 24_576;
    /// @notice The longest wrapped share, in bytes.
    uint256 public constant MAX_SHARE_LENGTH = 256;
    /// @notice The renewal cap when the patient set none: the longest single opening.
    uint64 public constant DEFAULT_RENEWAL_CAP = 72 hours;
    /// @notice The highest renewal cap a patient may set.
    uint64 public constant MAX_RENEWAL_CAP = 365 days;

    /// @dev A patient's guardian set and current kit, one slot.
    struct _Set {
        uint8 threshold;
        uint8 count;
        uint64 setId;
        uint64 kitId;
        uint64 epoch;
    }

    IRoleRegistry private immutable _roles;
    /// @dev The account allowed to call `wire`.
    address private immutable _wirer;
    IConsentRegistry private _consent;

    mapping(address patient => _Set) private _sets;
    mapping(address patient => bytes32) private _kitHashes;
    mapping(address patient => mapping(uint64 setId => address[])) private _guardians;
    /// @dev kitId (bits 0-63) | released bitmap (64-79) | count (80-87).
    mapping(address patient => mapping(address doctor => uint256)) private _releases;
    mapping(address patient => mapping(address doctor => bytes32)) private _releaseChains;
    /// @dev renewalCap (bits 0-63) | allowedOnly (bit 64).
    mapping(address patient => uint256) private _policies;
    mapping(address patient => mapping(address hospital => HospitalRule)) private _hospitalRules;
    mapping(address patient => mapping(address doctor => uint64)) private _emergencyUsed;

    /// @notice Deploys an unwired registry on top of a role registry; the deployer calls
    /// `wire` once the consent registry exists.
    constructor(IRoleRegistry roles_) {
        _roles = roles_;
        _wirer = msg.sender;
    }

    /// @notice Wires the consent registry (deployer only, once, non-zero).
    function wire(IConsentRegistry consent_) external {
        if (msg.sender != _wirer || address(_consent) != address(0) || address(consent_) == address(0)) {
            revert GuardianWiring();
        }
        _consent = consent_;
    }

    // ---------------------------------------------------------------------------------
    // Guardians and kits
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts, in order: `GuardianNotPatient`, `GuardianInvalidCount` (1 to 16),
    /// `GuardianInvalidThreshold` (1 to n), per guardian `GuardianInvalidGuardian`,
    /// `GuardianWithoutPublicKey`, `GuardianDuplicate`; then the kit checks of `publishKit`.
    function setGuardians(address[] calldata guardians, uint8 threshold, uint64 epoch, bytes calldata kit)
        external
    {
        if (!_roles.isPatient(msg.sender)) revert GuardianNotPatient(msg.sender);
        uint256 count = guardians.length;
        if (count == 0 || count > MAX_GUARDIANS) revert GuardianInvalidCount(count, MAX_GUARDIANS);
        if (threshold == 0 || threshold > count) revert GuardianInvalidThreshold(threshold, count);
        for (uint256 i; i < count; ++i) {
            address guardian = guardians[i];
            _checkGuardian(msg.sender, guardian);
            for (uint256 j; j < i; ++j) {
                if (guardians[j] == guardian) revert GuardianDuplicate(guardian);
            }
        }
        _checkKit(msg.sender, epoch, kit.length);

        _Set memory set = _sets[msg.sender];
        set.threshold = threshold;
        set.count = uint8(count);
        ++set.setId;
        _guardians[msg.sender][set.setId] = guardians;
        emit GuardiansSet(msg.sender, set.setId, threshold, guardians);
        _storeKit(msg.sender, set, epoch, kit);
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts `GuardianNoGuardians`, `GuardianWrongEpoch` (not the consent registry's
    /// current epoch) or `GuardianInvalidKit` (1 to `MAX_KIT_LENGTH` bytes).
    function publishKit(uint64 epoch, bytes calldata kit) external {
        _Set memory set = _sets[msg.sender];
        if (set.count == 0) revert GuardianNoGuardians(msg.sender);
        _checkKit(msg.sender, epoch, kit.length);
        _storeKit(msg.sender, set, epoch, kit);
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts `GuardianNoGuardians` when there are none. The set id advances, so the old
    /// list and every release of its kits stop counting.
    function clearGuardians() external {
        _Set memory set = _sets[msg.sender];
        if (set.count == 0) revert GuardianNoGuardians(msg.sender);
        uint64 setId = set.setId + 1;
        _sets[msg.sender] = _Set({threshold: 0, count: 0, setId: setId, kitId: set.kitId, epoch: 0});
        delete _kitHashes[msg.sender];
        emit GuardiansCleared(msg.sender, setId);
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts, in order: `GuardianNoGuardians`, `GuardianNotGuardian` (the caller is not
    /// guardian `index` of the current set), `GuardianInvalidShare`, `GuardianNoOpenEmergency`,
    /// `GuardianDoctorInactive`, `GuardianHospitalNotAllowed`, `GuardianRenewalCapExceeded`
    /// (the patient lowered the cap below what the doctor used), `GuardianAlreadyReleased`.
    function releaseShare(address patient, address doctor, uint8 index, bytes calldata wrappedShare)
        external
    {
        _Set memory set = _sets[patient];
        if (set.count == 0) revert GuardianNoGuardians(patient);
        if (index == 0 || index > set.count || _guardians[patient][set.setId][index - 1] != msg.sender) {
            revert GuardianNotGuardian(patient, msg.sender, index);
        }
        if (wrappedShare.length == 0 || wrappedShare.length > MAX_SHARE_LENGTH) {
            revert GuardianInvalidShare(wrappedShare.length);
        }
        IConsentRegistry consent_ = _wiredConsent();
        if (consent_.emergencyUntil(patient, doctor) == 0) revert GuardianNoOpenEmergency(patient, doctor);
        address hospital = _activeHospitalOf(doctor);
        if (!_hospitalAllowed(patient, hospital)) revert GuardianHospitalNotAllowed(patient, hospital);
        uint64 used = _emergencyUsed[patient][doctor];
        uint64 cap = _renewalCap(patient);
        if (used > cap) revert GuardianRenewalCapExceeded(patient, doctor, used, cap);

        uint256 word = _releases[patient][doctor];
        // Releases of an earlier kit do not count for this one.
        if (uint64(word) != set.kitId) word = set.kitId;
        uint256 bit = uint256(1) << (63 + index);
        if (word & bit != 0) revert GuardianAlreadyReleased(patient, doctor, msg.sender);
        _releases[patient][doctor] = (word | bit) + (uint256(1) << 80);
        bytes32 head = keccak256(
            abi.encode(_releaseChains[patient][doctor], set.kitId, msg.sender, index, keccak256(wrappedShare))
        );
        _releaseChains[patient][doctor] = head;
        emit ShareReleased(patient, doctor, msg.sender, set.kitId, index, wrappedShare);
    }

    // ---------------------------------------------------------------------------------
    // Break-glass policy
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts `GuardianNotPatient` or `GuardianInvalidRenewalCap` (above 365 days).
    function setEmergencyPolicy(bool allowedOnly, uint64 renewalCap) external {
        if (!_roles.isPatient(msg.sender)) revert GuardianNotPatient(msg.sender);
        if (renewalCap > MAX_RENEWAL_CAP) revert GuardianInvalidRenewalCap(renewalCap, MAX_RENEWAL_CAP);
        _policies[msg.sender] = uint256(renewalCap) | (allowedOnly ? uint256(1) << 64 : 0);
        emit EmergencyPolicySet(msg.sender, allowedOnly, renewalCap);
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts `GuardianNotPatient`. Any address may be ruled on (a hospital not yet
    /// registered too), so that a denial can come first.
    function setHospitalRule(address hospital, HospitalRule rule) external {
        if (!_roles.isPatient(msg.sender)) revert GuardianNotPatient(msg.sender);
        _hospitalRules[msg.sender][hospital] = rule;
        emit HospitalRuleSet(msg.sender, hospital, rule);
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Reverts `GuardianNotPatient`. Emits the seconds used before the reset.
    function confirmEmergency(address doctor) external {
        if (!_roles.isPatient(msg.sender)) revert GuardianNotPatient(msg.sender);
        uint64 used = _emergencyUsed[msg.sender][doctor];
        delete _emergencyUsed[msg.sender][doctor];
        emit EmergencyRenewalConfirmed(msg.sender, doctor, used);
    }

    /// @inheritdoc IEmergencyPolicy
    /// @dev Only the wired consent registry (`GuardianNotConsentRegistry`). Reverts
    /// `GuardianHospitalNotAllowed`, or `GuardianRenewalCapExceeded` when the time the opening
    /// adds (`until` past the later of now and `previousUntil`) takes the doctor past the cap.
    function onEmergencyOpened(
        address patient,
        address doctor,
        address hospital,
        uint64 previousUntil,
        uint64 until
    ) external {
        if (msg.sender != address(_wiredConsent())) {
            revert GuardianNotConsentRegistry(msg.sender);
        }
        if (!_hospitalAllowed(patient, hospital)) revert GuardianHospitalNotAllowed(patient, hospital);
        uint64 from = previousUntil > block.timestamp ? previousUntil : uint64(block.timestamp);
        if (until <= from) return;
        uint64 used = _emergencyUsed[patient][doctor] + (until - from);
        uint64 cap = _renewalCap(patient);
        if (used > cap) revert GuardianRenewalCapExceeded(patient, doctor, used, cap);
        _emergencyUsed[patient][doctor] = used;
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IGuardianRegistry
    function guardianshipOf(address patient) external view returns (Guardianship memory) {
        _Set memory set = _sets[patient];
        address[] memory guardians = set.count == 0 ? new address[](0) : _guardians[patient][set.setId];
        return Guardianship({
            guardians: guardians,
            threshold: set.threshold,
            setId: set.setId,
            kitId: set.count == 0 ? 0 : set.kitId,
            epoch: set.epoch,
            kitHash: _kitHashes[patient]
        });
    }

    /// @inheritdoc IGuardianRegistry
    function kitHashOf(address patient) external view returns (bytes32) {
        return _kitHashes[patient];
    }

    /// @inheritdoc IGuardianRegistry
    /// @dev Zero for releases of an earlier kit, or when the patient has no guardians.
    function releasesOf(address patient, address doctor) public view returns (uint16 released, uint8 count) {
        _Set memory set = _sets[patient];
        uint256 word = _releases[patient][doctor];
        if (set.count == 0 || uint64(word) != set.kitId) return (0, 0);
        return (uint16(word >> 64), uint8(word >> 80));
    }

    /// @inheritdoc IGuardianRegistry
    function thresholdReached(address patient, address doctor) external view returns (bool) {
        (, uint8 count) = releasesOf(patient, doctor);
        uint8 threshold = _sets[patient].threshold;
        return threshold != 0 && count >= threshold;
    }

    /// @inheritdoc IGuardianRegistry
    function releaseChainOf(address patient, address doctor) external view returns (bytes32) {
        return _releaseChains[patient][doctor];
    }

    /// @inheritdoc IGuardianRegistry
    function emergencyPolicyOf(address patient) external view returns (EmergencyPolicy memory) {
        return
            EmergencyPolicy({
                allowedOnly: (_policies[patient] >> 64) & 1 == 1, renewalCap: _renewalCap(patient)
            });
    }

    /// @inheritdoc IGuardianRegistry
    function hospitalRuleOf(address patient, address hospital) external view returns (HospitalRule) {
        return _hospitalRules[patient][hospital];
    }

    /// @inheritdoc IGuardianRegistry
    function hospitalAllowed(address patient, address hospital) external view returns (bool) {
        return _hospitalAllowed(patient, hospital);
    }

    /// @inheritdoc IGuardianRegistry
    function emergencyUsedOf(address patient, address doctor) external view returns (uint64) {
        return _emergencyUsed[patient][doctor];
    }

    /// @notice The role registry this registry consults.
    function roles() external view returns (address) {
        return address(_roles);
    }

    /// @notice The consent registry it is wired to (zero before `wire`).
    function consent() external view returns (address) {
        return address(_consent);
    }

    // ---------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------

    /// @dev A guardian is a registered patient or an active participant (not the patient,
    /// not zero) with a registered public key.
    function _checkGuardian(address patient, address guardian) private view {
        if (
            guardian == address(0) || guardian == patient
                || !(_roles.isActiveParticipant(guardian) || _roles.isPatient(guardian))
        ) revert GuardianInvalidGuardian(guardian);
        if (_roles.publicKeyOf(guardian).length != 64) revert GuardianWithoutPublicKey(guardian);
    }

    /// @dev The kit checks: the epoch is the patient's current one, the kit 1 to 24,576 bytes.
    function _checkKit(address patient, uint64 epoch, uint256 length) private view {
        uint64 current = _wiredConsent().epochOf(patient);
        if (epoch != current) revert GuardianWrongEpoch(epoch, current);
        if (length == 0 || length > MAX_KIT_LENGTH) revert GuardianInvalidKit(length);
    }

    /// @dev Stores `set` with a new kit id for `kit`, emitting `EmergencyKitPublished`.
    function _storeKit(address patient, _Set memory set, uint64 epoch, bytes calldata kit) private {
        ++set.kitId;
        set.epoch = epoch;
        _sets[patient] = set;
        _kitHashes[patient] = keccak256(kit);
        emit EmergencyKitPublished(patient, set.kitId, epoch, kit);
    }

    /// @dev The doctor's hospital, reverting `GuardianDoctorInactive` unless the doctor is an
    /// active doctor of an active hospital.
    function _activeHospitalOf(address doctor) private view returns (address hospital) {
        hospital = _roles.orgOf(doctor);
        if (
            !_roles.isActiveDoctor(doctor)
                || !_roles.isActiveOrganizationOfKind(hospital, IRoleRegistry.OrgKind.Hospital)
        ) revert GuardianDoctorInactive(doctor);
    }

    /// @dev Denied never; with `allowedOnly` only Allowed; otherwise anything not Denied.
    function _hospitalAllowed(address patient, address hospital) private view returns (bool) {
        HospitalRule rule = _hospitalRules[patient][hospital];
        if (rule == HospitalRule.Denied) return false;
        return rule == HospitalRule.Allowed || (_policies[patient] >> 64) & 1 == 0;
    }

    /// @dev The patient's cap, or `DEFAULT_RENEWAL_CAP` when it set none.
    function _renewalCap(address patient) private view returns (uint64) {
        uint64 cap = uint64(_policies[patient]);
        return cap == 0 ? DEFAULT_RENEWAL_CAP : cap;
    }

    /// @dev The consent registry, reverting `GuardianWiring` before `wire`.
    function _wiredConsent() private view returns (IConsentRegistry consent_) {
        consent_ = _consent;
        if (address(consent_) == address(0)) revert GuardianWiring();
    }
}
