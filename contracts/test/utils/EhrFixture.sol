// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../../src/ConsentRegistry.sol";
import {GuardianRegistry} from "../../src/GuardianRegistry.sol";
import {RecordIndex} from "../../src/RecordIndex.sol";
import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "../../src/interfaces/IConsentRegistry.sol";
import {IEmergencyPolicy} from "../../src/interfaces/IEmergencyPolicy.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {Test} from "./Test.sol";

/// @notice Stateless fixture helpers shared by the tests and the invariant handlers: deploying
/// the wired stack, registering a patient with its own key, and building consent scopes.
abstract contract EhrHelpers is Test {
    /// @dev Registries deployed standalone, without a record index.
    IAccessHooks internal constant NO_HOOKS = IAccessHooks(address(0));
    /// @dev A consent registry that asks no break-glass policy.
    IEmergencyPolicy internal constant NO_POLICY = IEmergencyPolicy(address(0));

    /// @dev The start time of every test and handler clock.
    uint256 internal constant T0 = 1_700_000_000;

    /// @dev A fresh index, role registry (admin delay 1 day) and consent registry, wired together.
    function _newStack(address admin_)
        internal
        returns (RecordIndex index_, RoleRegistry roles_, ConsentRegistry consent_)
    {
        index_ = new RecordIndex();
        (roles_, consent_) = _newRegistries(admin_, IAccessHooks(address(index_)));
        index_.wire(address(roles_), address(consent_));
    }

    /// @dev A fresh role registry (admin delay 1 day) and consent registry calling `hooks`.
    function _newRegistries(address admin_, IAccessHooks hooks)
        internal
        returns (RoleRegistry roles_, ConsentRegistry consent_)
    {
        roles_ = new RoleRegistry(1 days, admin_, hooks);
        consent_ = new ConsentRegistry(roles_, hooks, NO_POLICY);
    }

    /// @dev `_newStack` with a guardian registry as the consent registry's break-glass policy,
    /// deployed and wired in the order of the deployment code.
    function _newGuardedStack(address admin_)
        internal
        returns (
            RecordIndex index_,
            RoleRegistry roles_,
            ConsentRegistry consent_,
            GuardianRegistry guardians_
        )
    {
        index_ = new RecordIndex();
        roles_ = new RoleRegistry(1 days, admin_, IAccessHooks(address(index_)));
        guardians_ = new GuardianRegistry(roles_);
        consent_ = new ConsentRegistry(roles_, IAccessHooks(address(index_)), guardians_);
        index_.wire(address(roles_), address(consent_));
        guardians_.wire(consent_);
    }

    /// @dev Registers the account of `privateKey` as a patient of `registry`, with its own key.
    function _registerPatientWith(RoleRegistry registry, uint256 privateKey)
        internal
        returns (address account)
    {
        account = vm.addr(privateKey);
        bytes memory key = publicKeyOf(privateKey);
        vm.prank(account);
        registry.registerPatient(key);
    }

    function _allScope() internal pure returns (IConsentRegistry.Scope memory) {
        return IConsentRegistry.Scope(IConsentRegistry.ScopeKind.All, bytes32(0));
    }

    function _categoryScope(bytes32 name) internal pure returns (IConsentRegistry.Scope memory) {
        return IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Category, name);
    }

    function _recordScope(uint256 recordId) internal pure returns (IConsentRegistry.Scope memory) {
        return IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Record, bytes32(recordId));
    }

    /// @dev The reference accumulator step for a record, from the NatSpec of IRecordIndex.
    function _refRecord(
        bytes32 acc,
        uint64 recordId,
        bytes32 digest,
        bytes memory tags,
        bytes32 category,
        uint64 epoch,
        address writer
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(acc, recordId, digest, keccak256(tags), uint8(0), category, epoch, writer)
        );
    }

    /// @dev The reference accumulator step for a tombstone.
    function _refTombstone(
        bytes32 acc,
        uint64 recordId,
        uint64 supersededBy,
        bytes32 category,
        uint64 epoch,
        address writer
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                acc,
                recordId,
                bytes32(uint256(supersededBy)),
                keccak256(""),
                uint8(1),
                category,
                epoch,
                writer
            )
        );
    }
}

/// @notice The common test fixture: the deployed contracts, the usual cast (an admin, a
/// hospital, a lab and an insurer with one staff member each, and an outsider) and the helpers
/// that set them up.
abstract contract EhrFixture is EhrHelpers {
    RecordIndex internal index;
    RoleRegistry internal roles;
    ConsentRegistry internal consent;

    address internal admin = address(0xAD);
    address internal hospital = address(0x1001);
    address internal lab = address(0x1002);
    address internal insurer = address(0x1003);
    address internal doctor = address(0x2001);
    address internal tech = address(0x2002);
    address internal clerk = address(0x2003);
    address internal outsider = address(0x3001);

    /// @dev Deploys the index and both registries calling it, wired together, `admin` as admin.
    function _deployStack() internal {
        (index, roles, consent) = _newStack(admin);
    }

    /// @dev Deploys both registries standalone, without a record index, `admin` as admin.
    function _deployRegistries() internal {
        (roles, consent) = _newRegistries(admin, NO_HOOKS);
    }

    function _registerPatient(uint256 privateKey) internal returns (address account) {
        return _registerPatientWith(roles, privateKey);
    }

    function _addOrg(address org, IRoleRegistry.OrgKind kind, string memory name) internal {
        vm.prank(admin);
        roles.addOrganization(org, kind, name);
    }

    function _addStaff(address org, address staff) internal {
        vm.prank(org);
        roles.addStaff(staff);
    }

    /// @dev `patient` grants `grantee` `scope` for treatment until `expiry`, at its current epoch.
    function _grantFrom(
        address patient,
        address grantee,
        IConsentRegistry.Scope memory scope,
        uint64 expiry,
        bytes memory wrappedKeys
    ) internal {
        uint64 epoch = consent.epochOf(patient); // before the prank, which one call consumes
        vm.prank(patient);
        consent.grant(
            IConsentRegistry.GrantRequest({
                patient: patient,
                grantee: grantee,
                scope: scope,
                purpose: IConsentRegistry.Purpose.Treatment,
                expiry: expiry,
                epoch: epoch,
                wrappedKeys: wrappedKeys
            })
        );
    }

    /// @dev The admin adds the hospital, the lab and the insurer.
    function _addOrganizations() internal {
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        _addOrg(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        _addOrg(insurer, IRoleRegistry.OrgKind.Insurer, "Acme Health");
    }

    /// @dev The three organizations, each with its staff member: doctor, tech and clerk.
    function _setUpOrgs() internal {
        _addOrganizations();
        _addStaff(hospital, doctor);
        _addStaff(lab, tech);
        _addStaff(insurer, clerk);
    }
}
