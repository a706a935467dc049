// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IAccessHooks
/// @notice What the role and consent registries tell the record index whenever write
/// authority changes, in the same transaction as the change.
/// @dev The record index must check "may this account write a record of this category for
/// this patient?" on every write. Asking both registries costs two cold calls and three cold
/// storage reads (≈15k gas, a third of the write budget), so the index keeps a mirror of
/// exactly the state that rule reads, fed by these hooks. `IConsentRegistry.hasAccess` stays
/// the one rule: the index falls back to it (for break-glass access) and the invariant tests
/// prove the mirror never authorizes a write the rule would refuse.
interface IAccessHooks {
    /// @notice An organization was added, re-added or removed. `writes` is true while it is an
    /// active hospital or lab (whose staff are doctors who may write records).
    function onOrganizationChanged(address org, bool writes) external;

    /// @notice A staff member joined `org`, or left it (`org` is zero).
    function onStaffChanged(address staff, address org) external;

    /// @notice A patient registered.
    function onPatientRegistered(address patient) external;

    /// @notice A grant with an All or Category scope was created or replaced (Record scopes do
    /// not authorize writes and are not reported). `scopeId` is
    /// `keccak256(abi.encode(kind, value))`, as in the consent registry.
    function onGrant(address patient, address grantee, bytes32 scopeId, uint64 expiry) external;

    /// @notice Every grant `patient` gave `grantee` was revoked; the patient's key epoch is now
    /// `newEpoch`. `scopeIds` lists the revoked grants' scopes.
    function onRevoke(address patient, address grantee, bytes32[] calldata scopeIds, uint64 newEpoch) external;

    /// @notice The patient's key epoch advanced without a revocation (`rotateEpoch`,
    /// `rotateKeys`); it is now `newEpoch`.
    function onEpochRotated(address patient, uint64 newEpoch) external;
}
