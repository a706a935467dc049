// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IAccessHooks} from "../src/interfaces/IAccessHooks.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {HooksRecorder} from "./utils/HooksRecorder.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";

contract RoleRegistryTest is EhrFixture {
    uint48 internal constant ADMIN_DELAY = 2 days;
    uint256 internal constant PATIENT_PK = 0xA11CE;
    uint256 internal constant OTHER_PK = 0xB0B;

    address internal patient;
    bytes internal patientKey;

    function setUp() public {
        vm.warp(T0);
        roles = new RoleRegistry(ADMIN_DELAY, admin, NO_HOOKS);
        patient = vm.addr(PATIENT_PK);
        patientKey = publicKeyOf(PATIENT_PK);
    }

    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    function _registerPatient() internal {
        vm.prank(patient);
        roles.registerPatient(patientKey);
    }

    function _name(uint256 length) internal pure returns (string memory) {
        bytes memory name = new bytes(length);
        for (uint256 i; i < length; ++i) {
            name[i] = "a";
        }
        return string(name);
    }

    // ---------------------------------------------------------------------------------
    // Constructor and admin
    // ---------------------------------------------------------------------------------

    function test_constructor_setsAdminAndDelay() public view {
        assertEq(roles.defaultAdmin(), admin);
        assertEq(roles.owner(), admin);
        assertEq(roles.defaultAdminDelay(), ADMIN_DELAY);
        assertTrue(roles.hasRole(roles.DEFAULT_ADMIN_ROLE(), admin));
    }

    function test_constructor_revertsOnZeroAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, address(0)
            )
        );
        new RoleRegistry(ADMIN_DELAY, address(0), NO_HOOKS);
    }

    function test_supportsInterface() public view {
        assertTrue(roles.supportsInterface(type(IRoleRegistry).interfaceId));
        assertTrue(roles.supportsInterface(type(IAccessControl).interfaceId));
        assertTrue(roles.supportsInterface(type(IAccessControlDefaultAdminRules).interfaceId));
        assertTrue(roles.supportsInterface(type(IERC165).interfaceId));
        assertFalse(roles.supportsInterface(0xffffffff));
    }

    function test_adminTransfer_twoStep() public {
        address newAdmin = address(0xAD2);
        vm.prank(admin);
        roles.beginDefaultAdminTransfer(newAdmin);
        (address pending, uint48 schedule) = roles.pendingDefaultAdmin();
        assertEq(pending, newAdmin);
        assertEq(schedule, block.timestamp + ADMIN_DELAY);

        // Too early.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, schedule
            )
        );
        vm.prank(newAdmin);
        roles.acceptDefaultAdminTransfer();

        // Only the pending admin may accept.
        vm.warp(uint256(schedule) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, outsider
            )
        );
        vm.prank(outsider);
        roles.acceptDefaultAdminTransfer();

        vm.prank(newAdmin);
        roles.acceptDefaultAdminTransfer();
        assertEq(roles.defaultAdmin(), newAdmin);
        assertFalse(roles.hasRole(roles.DEFAULT_ADMIN_ROLE(), admin));

        // The old admin lost its powers, the new one has them.
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, admin, roles.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");

        vm.prank(newAdmin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        assertTrue(roles.isActiveOrganization(hospital));
    }

    function test_adminTransfer_cancel() public {
        address newAdmin = address(0xAD2);
        vm.prank(admin);
        roles.beginDefaultAdminTransfer(newAdmin);
        vm.prank(admin);
        roles.cancelDefaultAdminTransfer();
        (address pending,) = roles.pendingDefaultAdmin();
        assertEq(pending, address(0));

        vm.warp(block.timestamp + ADMIN_DELAY + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlInvalidDefaultAdmin.selector, newAdmin
            )
        );
        vm.prank(newAdmin);
        roles.acceptDefaultAdminTransfer();
        assertEq(roles.defaultAdmin(), admin);
    }

    function test_adminTransfer_onlyAdminCanBegin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, roles.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(outsider);
        roles.beginDefaultAdminTransfer(outsider);
    }

    function test_grantRole_defaultAdminIsEnforced() public {
        bytes32 adminRole = roles.DEFAULT_ADMIN_ROLE();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector
            )
        );
        vm.prank(admin);
        roles.grantRole(adminRole, outsider);
    }

    // ---------------------------------------------------------------------------------
    // addOrganization
    // ---------------------------------------------------------------------------------

    function test_addOrganization_storesAndEmits() public {
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.OrganizationAdded(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");

        assertEq(uint8(roles.roleOf(hospital)), uint8(IRoleRegistry.Role.Organization));
        IRoleRegistry.Organization memory org = roles.organization(hospital);
        assertEq(uint8(org.kind), uint8(IRoleRegistry.OrgKind.Hospital));
        assertTrue(org.active);
        assertEq(org.name, "St. Mary");
        assertTrue(roles.isActiveOrganization(hospital));
        assertTrue(roles.isActiveOrganizationOfKind(hospital, IRoleRegistry.OrgKind.Hospital));
        assertFalse(roles.isActiveOrganizationOfKind(hospital, IRoleRegistry.OrgKind.Lab));
        assertTrue(roles.isActiveParticipant(hospital));
        assertFalse(roles.isActiveDoctor(hospital));
        assertFalse(roles.isPatient(hospital));
        assertEq(roles.orgOf(hospital), address(0));
    }

    function test_addOrganization_revertsForNonAdmin() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, roles.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(outsider);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
    }

    function test_addOrganization_revertsOnZeroAddress() public {
        vm.expectRevert(IRoleRegistry.RoleZeroAddress.selector);
        vm.prank(admin);
        roles.addOrganization(address(0), IRoleRegistry.OrgKind.Hospital, "St. Mary");
    }

    function test_addOrganization_nameBounds() public {
        vm.expectRevert(IRoleRegistry.RoleInvalidName.selector);
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "");

        string memory tooLong = _name(65);
        vm.expectRevert(IRoleRegistry.RoleInvalidName.selector);
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, tooLong);

        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, _name(64));
        assertEq(roles.organization(hospital).name, _name(64));
        _addOrg(lab, IRoleRegistry.OrgKind.Lab, "L");
        assertEq(roles.organization(lab).name, "L");
    }

    function test_addOrganization_revertsForActiveOrganization() public {
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, hospital, IRoleRegistry.Role.Organization
            )
        );
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Lab, "Other");
    }

    function test_addOrganization_revertsForStaff() public {
        _setUpOrgs();
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, doctor, IRoleRegistry.Role.Staff
            )
        );
        vm.prank(admin);
        roles.addOrganization(doctor, IRoleRegistry.OrgKind.Hospital, "Private practice");
    }

    function test_addOrganization_revertsForPatient() public {
        _registerPatient();
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Patient
            )
        );
        vm.prank(admin);
        roles.addOrganization(patient, IRoleRegistry.OrgKind.Hospital, "Me");
    }

    function test_addOrganization_reactivatesRemovedOrganization() public {
        _setUpOrgs();
        vm.prank(admin);
        roles.removeOrganization(hospital);
        assertFalse(roles.isActiveDoctor(doctor));

        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.OrganizationAdded(hospital, IRoleRegistry.OrgKind.Lab, "St. Mary Labs");
        _addOrg(hospital, IRoleRegistry.OrgKind.Lab, "St. Mary Labs");

        IRoleRegistry.Organization memory org = roles.organization(hospital);
        assertEq(uint8(org.kind), uint8(IRoleRegistry.OrgKind.Lab));
        assertTrue(org.active);
        assertEq(org.name, "St. Mary Labs");
        // Its staff are active again, now as staff of a lab.
        assertTrue(roles.isActiveParticipant(doctor));
        assertTrue(roles.isActiveDoctor(doctor));
        assertEq(roles.orgOf(doctor), hospital);
    }

    // ---------------------------------------------------------------------------------
    // removeOrganization
    // ---------------------------------------------------------------------------------

    function test_removeOrganization_deactivatesOrgAndStaff() public {
        _setUpOrgs();
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.OrganizationRemoved(hospital);
        vm.prank(admin);
        roles.removeOrganization(hospital);

        // The role stays, the active flag goes.
        assertEq(uint8(roles.roleOf(hospital)), uint8(IRoleRegistry.Role.Organization));
        IRoleRegistry.Organization memory org = roles.organization(hospital);
        assertFalse(org.active);
        assertEq(org.name, "St. Mary");
        assertEq(uint8(org.kind), uint8(IRoleRegistry.OrgKind.Hospital));
        assertFalse(roles.isActiveOrganization(hospital));
        assertFalse(roles.isActiveOrganizationOfKind(hospital, IRoleRegistry.OrgKind.Hospital));
        assertFalse(roles.isActiveParticipant(hospital));
        // Staff keep their role and organization but are inactive.
        assertEq(uint8(roles.roleOf(doctor)), uint8(IRoleRegistry.Role.Staff));
        assertEq(roles.orgOf(doctor), hospital);
        assertFalse(roles.isActiveParticipant(doctor));
        assertFalse(roles.isActiveDoctor(doctor));
        // Other organizations are unaffected.
        assertTrue(roles.isActiveDoctor(tech));
    }

    function test_removeOrganization_revertsForNonAdmin() public {
        _setUpOrgs();
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, hospital, roles.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(hospital);
        roles.removeOrganization(hospital);
    }

    function test_removeOrganization_revertsForNonOrganization() public {
        _setUpOrgs();
        _registerPatient();
        address[4] memory accounts = [outsider, doctor, patient, address(0)];
        for (uint256 i; i < accounts.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, accounts[i]));
            vm.prank(admin);
            roles.removeOrganization(accounts[i]);
        }
    }

    function test_removeOrganization_revertsWhenAlreadyRemoved() public {
        _setUpOrgs();
        vm.prank(admin);
        roles.removeOrganization(lab);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, lab));
        vm.prank(admin);
        roles.removeOrganization(lab);
    }

    // ---------------------------------------------------------------------------------
    // addStaff
    // ---------------------------------------------------------------------------------

    function test_addStaff_storesAndEmits() public {
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        vm.expectEmit(true, true, false, true, address(roles));
        emit IRoleRegistry.StaffAdded(hospital, doctor);
        _addStaff(hospital, doctor);

        assertEq(uint8(roles.roleOf(doctor)), uint8(IRoleRegistry.Role.Staff));
        assertEq(roles.orgOf(doctor), hospital);
        assertTrue(roles.isActiveParticipant(doctor));
        assertTrue(roles.isActiveDoctor(doctor));
        assertFalse(roles.isActiveOrganization(doctor));
        assertFalse(roles.isPatient(doctor));
    }

    function test_addStaff_doctorDependsOnOrgKind() public {
        _setUpOrgs();
        assertTrue(roles.isActiveDoctor(doctor));
        assertTrue(roles.isActiveDoctor(tech));
        assertFalse(roles.isActiveDoctor(clerk));
        assertTrue(roles.isActiveParticipant(clerk));
    }

    function test_addStaff_revertsForNonOrganization() public {
        _setUpOrgs();
        _registerPatient();
        address[4] memory callers = [outsider, doctor, patient, admin];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, callers[i]));
            vm.prank(callers[i]);
            roles.addStaff(address(0x9999));
        }
    }

    function test_addStaff_revertsForRemovedOrganization() public {
        _setUpOrgs();
        vm.prank(admin);
        roles.removeOrganization(hospital);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, hospital));
        vm.prank(hospital);
        roles.addStaff(address(0x9999));
    }

    function test_addStaff_revertsOnZeroAddress() public {
        _setUpOrgs();
        vm.expectRevert(IRoleRegistry.RoleZeroAddress.selector);
        vm.prank(hospital);
        roles.addStaff(address(0));
    }

    function test_addStaff_revertsWhenRoleHeld() public {
        _setUpOrgs();
        _registerPatient();

        // Staff of another organization, and already staff of this one.
        vm.expectRevert(
            abi.encodeWithSelector(IRoleRegistry.RoleAlreadyAssigned.selector, tech, IRoleRegistry.Role.Staff)
        );
        vm.prank(hospital);
        roles.addStaff(tech);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, doctor, IRoleRegistry.Role.Staff
            )
        );
        vm.prank(hospital);
        roles.addStaff(doctor);

        // A patient, another organization, and the organization itself.
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Patient
            )
        );
        vm.prank(hospital);
        roles.addStaff(patient);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, lab, IRoleRegistry.Role.Organization
            )
        );
        vm.prank(hospital);
        roles.addStaff(lab);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, hospital, IRoleRegistry.Role.Organization
            )
        );
        vm.prank(hospital);
        roles.addStaff(hospital);
    }

    // ---------------------------------------------------------------------------------
    // removeStaff
    // ---------------------------------------------------------------------------------

    function test_removeStaff_clearsRoleAndEmits() public {
        _setUpOrgs();
        vm.expectEmit(true, true, false, true, address(roles));
        emit IRoleRegistry.StaffRemoved(hospital, doctor);
        vm.prank(hospital);
        roles.removeStaff(doctor);

        assertEq(uint8(roles.roleOf(doctor)), uint8(IRoleRegistry.Role.None));
        assertEq(roles.orgOf(doctor), address(0));
        assertFalse(roles.isActiveParticipant(doctor));
        assertFalse(roles.isActiveDoctor(doctor));
    }

    function test_removeStaff_accountMayJoinAnotherOrganization() public {
        _setUpOrgs();
        vm.prank(hospital);
        roles.removeStaff(doctor);
        _addStaff(lab, doctor);
        assertEq(roles.orgOf(doctor), lab);
        assertTrue(roles.isActiveDoctor(doctor));
    }

    function test_removeStaff_accountMayRegisterAsPatient() public {
        _setUpOrgs();
        _addStaff(hospital, patient);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Staff
            )
        );
        vm.prank(patient);
        roles.registerPatient(patientKey);

        vm.prank(hospital);
        roles.removeStaff(patient);
        _registerPatient();
        assertTrue(roles.isPatient(patient));
    }

    function test_removeStaff_revertsForNonOrganization() public {
        _setUpOrgs();
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, doctor));
        vm.prank(doctor);
        roles.removeStaff(doctor);

        vm.prank(admin);
        roles.removeOrganization(hospital);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotOrganization.selector, hospital));
        vm.prank(hospital);
        roles.removeStaff(doctor);
    }

    function test_removeStaff_revertsWhenNotStaffOfCaller() public {
        _setUpOrgs();
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotStaffOf.selector, hospital, tech));
        vm.prank(hospital);
        roles.removeStaff(tech);

        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotStaffOf.selector, hospital, outsider));
        vm.prank(hospital);
        roles.removeStaff(outsider);

        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotStaffOf.selector, hospital, lab));
        vm.prank(hospital);
        roles.removeStaff(lab);

        vm.prank(hospital);
        roles.removeStaff(doctor);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleNotStaffOf.selector, hospital, doctor));
        vm.prank(hospital);
        roles.removeStaff(doctor);
    }

    // ---------------------------------------------------------------------------------
    // registerPatient
    // ---------------------------------------------------------------------------------

    function test_registerPatient_storesAndEmits() public {
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.PatientRegistered(patient);
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.PublicKeyRegistered(patient, patientKey);
        _registerPatient();

        assertTrue(roles.isPatient(patient));
        assertEq(uint8(roles.roleOf(patient)), uint8(IRoleRegistry.Role.Patient));
        assertEq(roles.publicKeyOf(patient), patientKey);
        assertFalse(roles.isActiveParticipant(patient));
        assertFalse(roles.isActiveDoctor(patient));
        assertEq(roles.orgOf(patient), address(0));
    }

    function test_registerPatient_revertsOnKeyLength() public {
        uint256[4] memory lengths = [uint256(0), 33, 63, 65];
        for (uint256 i; i < lengths.length; ++i) {
            bytes memory key = new bytes(lengths[i]);
            vm.expectRevert(
                abi.encodeWithSelector(IRoleRegistry.RoleInvalidPublicKeyLength.selector, lengths[i])
            );
            vm.prank(patient);
            roles.registerPatient(key);
        }
        // The 65-byte SEC1 form with its 0x04 prefix is rejected too.
        bytes memory prefixed = abi.encodePacked(bytes1(0x04), patientKey);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleInvalidPublicKeyLength.selector, 65));
        vm.prank(patient);
        roles.registerPatient(prefixed);
    }

    function test_registerPatient_revertsOnKeyMismatch() public {
        bytes memory otherKey = publicKeyOf(OTHER_PK);
        vm.expectRevert(
            abi.encodeWithSelector(IRoleRegistry.RolePublicKeyMismatch.selector, patient, vm.addr(OTHER_PK))
        );
        vm.prank(patient);
        roles.registerPatient(otherKey);
    }

    function test_registerPatient_revertsWhenAlreadyRegistered() public {
        _registerPatient();
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Patient
            )
        );
        vm.prank(patient);
        roles.registerPatient(patientKey);
    }

    function test_registerPatient_revertsForOrganization() public {
        // An organization whose admin account is the key holder.
        _addOrg(patient, IRoleRegistry.OrgKind.Insurer, "Self");
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Organization
            )
        );
        vm.prank(patient);
        roles.registerPatient(patientKey);

        // Still an organization (inactive) after removal.
        vm.prank(admin);
        roles.removeOrganization(patient);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRoleRegistry.RoleAlreadyAssigned.selector, patient, IRoleRegistry.Role.Organization
            )
        );
        vm.prank(patient);
        roles.registerPatient(patientKey);
    }

    // ---------------------------------------------------------------------------------
    // registerPublicKey
    // ---------------------------------------------------------------------------------

    function test_registerPublicKey_anyAccount() public {
        _setUpOrgs();
        _addStaff(hospital, patient); // the key holder is a doctor here
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.PublicKeyRegistered(patient, patientKey);
        vm.prank(patient);
        roles.registerPublicKey(patientKey);
        assertEq(roles.publicKeyOf(patient), patientKey);
        assertEq(uint8(roles.roleOf(patient)), uint8(IRoleRegistry.Role.Staff));

        // Replacing (re-registering) emits again.
        vm.expectEmit(true, false, false, true, address(roles));
        emit IRoleRegistry.PublicKeyRegistered(patient, patientKey);
        vm.prank(patient);
        roles.registerPublicKey(patientKey);
        assertEq(roles.publicKeyOf(patient), patientKey);
    }

    function test_registerPublicKey_withoutRole() public {
        vm.prank(patient);
        roles.registerPublicKey(patientKey);
        assertEq(roles.publicKeyOf(patient), patientKey);
        assertEq(uint8(roles.roleOf(patient)), uint8(IRoleRegistry.Role.None));
        // The key does not stop the account from registering as a patient later.
        _registerPatient();
        assertTrue(roles.isPatient(patient));
    }

    function test_registerPublicKey_revertsOnKeyLength() public {
        bytes memory key = new bytes(63);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleInvalidPublicKeyLength.selector, 63));
        vm.prank(patient);
        roles.registerPublicKey(key);
    }

    function test_registerPublicKey_revertsOnKeyMismatch() public {
        bytes memory otherKey = publicKeyOf(OTHER_PK);
        vm.expectRevert(
            abi.encodeWithSelector(IRoleRegistry.RolePublicKeyMismatch.selector, outsider, vm.addr(OTHER_PK))
        );
        vm.prank(outsider);
        roles.registerPublicKey(otherKey);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    function test_views_unknownAccount() public view {
        assertEq(uint8(roles.roleOf(outsider)), uint8(IRoleRegistry.Role.None));
        assertEq(roles.orgOf(outsider), address(0));
        IRoleRegistry.Organization memory org = roles.organization(outsider);
        assertEq(uint8(org.kind), 0);
        assertFalse(org.active);
        assertEq(org.name, "");
        assertFalse(roles.isActiveOrganization(outsider));
        assertFalse(roles.isActiveOrganizationOfKind(outsider, IRoleRegistry.OrgKind.Hospital));
        assertFalse(roles.isActiveDoctor(outsider));
        assertFalse(roles.isActiveParticipant(outsider));
        assertFalse(roles.isPatient(outsider));
        assertEq(roles.publicKeyOf(outsider), "");
        assertFalse(roles.isActiveDoctor(address(0)));
        assertFalse(roles.isActiveParticipant(address(0)));
    }

    function test_organization_ofStaffIsEmpty() public {
        _setUpOrgs();
        IRoleRegistry.Organization memory org = roles.organization(doctor);
        assertFalse(org.active);
        assertEq(org.name, "");
    }

    function test_isActiveDoctor_readsAtMostTwoSlots() public {
        _setUpOrgs();
        vm.record();
        assertTrue(roles.isActiveDoctor(doctor));
        (bytes32[] memory reads,) = vm.accesses(address(roles));
        assertEq(reads.length, 2);

        vm.record();
        assertTrue(roles.isActiveParticipant(doctor));
        (reads,) = vm.accesses(address(roles));
        assertEq(reads.length, 2);

        vm.record();
        assertTrue(roles.isActiveParticipant(hospital));
        (reads,) = vm.accesses(address(roles));
        assertEq(reads.length, 1);
    }

    // ---------------------------------------------------------------------------------
    // Hooks (the record index's mirror)
    // ---------------------------------------------------------------------------------

    function test_hooks_noneByDefault() public view {
        assertEq(roles.hooks(), address(0));
    }

    function test_hooks_reportEveryChange() public {
        HooksRecorder recorder = new HooksRecorder();
        roles = new RoleRegistry(ADMIN_DELAY, admin, IAccessHooks(address(recorder)));
        assertEq(roles.hooks(), address(recorder));
        address hooks = address(recorder);

        // Organizations: hospitals and labs write, insurers do not; removal stops writing.
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onOrganizationChanged, (hospital, true)));
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onOrganizationChanged, (lab, true)));
        _addOrg(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onOrganizationChanged, (insurer, false)));
        _addOrg(insurer, IRoleRegistry.OrgKind.Insurer, "Acme Health");
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onOrganizationChanged, (lab, false)));
        vm.prank(admin);
        roles.removeOrganization(lab);
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onOrganizationChanged, (lab, false)));
        _addOrg(lab, IRoleRegistry.OrgKind.Insurer, "Quest Insurance"); // re-added as an insurer

        // Staff join with their organization and leave with none.
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onStaffChanged, (doctor, hospital)));
        _addStaff(hospital, doctor);
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onStaffChanged, (doctor, address(0))));
        vm.prank(hospital);
        roles.removeStaff(doctor);

        // Patients.
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onPatientRegistered, (patient)));
        _registerPatient();
        assertEq(recorder.calls(), 8);

        // Keys alone change nothing the index mirrors.
        vm.prank(patient);
        roles.registerPublicKey(patientKey);
        assertEq(recorder.calls(), 8);
    }

    function test_hooks_failureRevertsTheChange() public {
        HooksRecorder recorder = new HooksRecorder();
        roles = new RoleRegistry(ADMIN_DELAY, admin, IAccessHooks(address(recorder)));
        _addOrg(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        recorder.setFailing(true);
        vm.prank(admin);
        vm.expectRevert(HooksRecorder.HooksRecorderFailure.selector);
        roles.removeOrganization(hospital);
        assertTrue(roles.isActiveOrganization(hospital));
        vm.prank(hospital);
        vm.expectRevert(HooksRecorder.HooksRecorderFailure.selector);
        roles.addStaff(doctor);
        vm.prank(patient);
        vm.expectRevert(HooksRecorder.HooksRecorderFailure.selector);
        roles.registerPatient(patientKey);
        assertFalse(roles.isPatient(patient));
    }

    // ---------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------

    function testFuzz_registerPatient_anyKey(uint256 privateKey) public {
        privateKey = bound(privateKey, 1, SECP256K1_N - 1);
        address account = vm.addr(privateKey);
        bytes memory key = publicKeyOf(privateKey);
        vm.prank(account);
        roles.registerPatient(key);
        assertTrue(roles.isPatient(account));
        assertEq(roles.publicKeyOf(account), key);
    }

    function testFuzz_registerPatient_rejectsForeignKey(uint256 privateKey, address caller) public {
        privateKey = bound(privateKey, 1, SECP256K1_N - 1);
        address owner = vm.addr(privateKey);
        vm.assume(caller != owner);
        bytes memory key = publicKeyOf(privateKey);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RolePublicKeyMismatch.selector, caller, owner));
        vm.prank(caller);
        roles.registerPatient(key);
    }

    function testFuzz_registerPatient_rejectsBadLength(uint256 length) public {
        length = bound(length, 0, 200);
        vm.assume(length != 64);
        bytes memory key = new bytes(length);
        vm.expectRevert(abi.encodeWithSelector(IRoleRegistry.RoleInvalidPublicKeyLength.selector, length));
        vm.prank(patient);
        roles.registerPatient(key);
    }

    function testFuzz_addOrganization_nameLength(uint256 length, uint8 kindSeed) public {
        length = bound(length, 0, 130);
        IRoleRegistry.OrgKind kind = IRoleRegistry.OrgKind(kindSeed % 3);
        string memory name = _name(length);
        if (length == 0 || length > 64) vm.expectRevert(IRoleRegistry.RoleInvalidName.selector);
        vm.prank(admin);
        roles.addOrganization(hospital, kind, name);
        if (length != 0 && length <= 64) {
            assertTrue(roles.isActiveOrganizationOfKind(hospital, kind));
            assertEq(roles.isActiveDoctor(hospital), false);
        }
    }

    function testFuzz_staffLifecycle(address staff, uint8 kindSeed) public {
        vm.assume(staff != address(0) && staff != hospital);
        IRoleRegistry.OrgKind kind = IRoleRegistry.OrgKind(kindSeed % 3);
        _addOrg(hospital, kind, "Org");
        _addStaff(hospital, staff);
        assertTrue(roles.isActiveParticipant(staff));
        assertEq(roles.isActiveDoctor(staff), kind != IRoleRegistry.OrgKind.Insurer);

        vm.prank(admin);
        roles.removeOrganization(hospital);
        assertFalse(roles.isActiveParticipant(staff));
        assertFalse(roles.isActiveDoctor(staff));

        _addOrg(hospital, kind, "Org");
        assertTrue(roles.isActiveParticipant(staff));
        vm.prank(hospital);
        roles.removeStaff(staff);
        assertEq(uint8(roles.roleOf(staff)), uint8(IRoleRegistry.Role.None));
        assertFalse(roles.isActiveParticipant(staff));
    }
}
