// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {RoleHandler} from "./handlers/RoleHandler.sol";
import {Test} from "./utils/Test.sol";

/// @notice Invariants of RoleRegistry under random organization, staff and patient changes.
contract RoleRegistryInvariants is Test {
    RoleHandler internal handler;
    RoleRegistry internal roles;
    address[] internal _accounts;

    function setUp() public {
        handler = new RoleHandler();
        roles = handler.roles();
        for (uint256 i; i < handler.accountCount(); ++i) {
            _accounts.push(handler.accounts(i));
        }
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = RoleHandler.addOrganization.selector;
        selectors[1] = RoleHandler.removeOrganization.selector;
        selectors[2] = RoleHandler.addStaff.selector;
        selectors[3] = RoleHandler.removeStaff.selector;
        selectors[4] = RoleHandler.registerPatient.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    function fail(string memory message) internal pure {
        assertTrue(false, message);
    }

    /// @notice The registry accepts exactly the calls the model allows, and every view (the
    /// packed one-slot records decoded by `roleOf`, `orgOf`, `isActive*`, `isPatient`) agrees
    /// with the model: one role per account, staff active only with an active organization,
    /// doctors only in active hospitals and labs.
    function invariant_viewsMatchModel() public view {
        assertEq(handler.mismatches(), 0, "accept/reject mismatch");
        for (uint256 i; i < _accounts.length; ++i) {
            address account = _accounts[i];
            RoleHandler.Model memory m = handler.model(account);
            bool activeOrg = m.role == IRoleRegistry.Role.Organization && m.active;
            bool isStaff = m.role == IRoleRegistry.Role.Staff;
            RoleHandler.Model memory org = handler.model(m.org);
            bool staffActive = isStaff && org.role == IRoleRegistry.Role.Organization && org.active;

            bool isDoctor = staffActive && org.kind != IRoleRegistry.OrgKind.Insurer;
            bool isPatient = m.role == IRoleRegistry.Role.Patient;
            address orgOf = isStaff ? m.org : address(0);

            // Compare first and assert only on a mismatch: an assertion cheatcode per view and
            // account after every call would dominate the campaign's run time.
            if (roles.roleOf(account) != m.role) {
                assertEq(uint256(roles.roleOf(account)), uint256(m.role), "roleOf");
            }
            if (roles.orgOf(account) != orgOf) assertEq(roles.orgOf(account), orgOf, "orgOf");
            if (roles.isActiveOrganization(account) != activeOrg) fail("isActiveOrganization");
            if (roles.isActiveParticipant(account) != (activeOrg || staffActive)) {
                fail("isActiveParticipant");
            }
            if (roles.isActiveDoctor(account) != isDoctor) fail("isActiveDoctor");
            if (roles.isPatient(account) != isPatient) fail("isPatient");
            if (m.role == IRoleRegistry.Role.Organization) {
                IRoleRegistry.Organization memory stored = roles.organization(account);
                if (stored.kind != m.kind || stored.active != m.active) fail("organization");
            }
        }
    }

    /// @notice A registered patient's stored key hashes to its address.
    function invariant_patientKeysMatchAddresses() public view {
        for (uint256 i; i < _accounts.length; ++i) {
            if (!roles.isPatient(_accounts[i])) continue;
            bytes memory key = roles.publicKeyOf(_accounts[i]);
            assertEq(key.length, 64);
            assertEq(address(uint160(uint256(keccak256(key)))), _accounts[i]);
        }
    }
}
