// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IEmergencyPolicy
/// @notice What the consent registry asks before break-glass access opens: the patient's own
/// rules for it (which hospitals may break the glass, and for how long in total).
/// @dev Called by `ConsentRegistry.openEmergencyAccess` after its own checks and effects, in
/// the same transaction; a revert refuses the opening with the policy's custom error.
interface IEmergencyPolicy {
    /// @notice `doctor` of `hospital` opens break-glass access to `patient` until `until`; its
    /// access ran until `previousUntil` before (0 or a time already past when it was closed).
    /// Reverts unless the patient's policy allows it; records the hours it adds.
    function onEmergencyOpened(
        address patient,
        address doctor,
        address hospital,
        uint64 previousUntil,
        uint64 until
    ) external;
}
