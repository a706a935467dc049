// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {GuardianRegistry} from "../src/GuardianRegistry.sol";
import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {IGuardianRegistry} from "../src/interfaces/IGuardianRegistry.sol";
import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";

/// @notice GuardianRegistry: guardian sets and kits, share releases, and the break-glass
/// policy the consent registry applies (deny list, allow-only, renewal cap), on the wired stack.
contract GuardianRegistryTest is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant G1_PK = 0x6001;
    uint256 internal constant G2_PK = 0x6002;
    uint256 internal constant G3_PK = 0x6003;
    uint64 internal constant CAP = 72 hours;

    GuardianRegistry internal guardians;
    address internal alice;
    address internal g1;
    address internal g2;
    address internal g3;
    address internal hospital2 = address(0x1004);
    address internal doctor2 = address(0x2004);
    bytes internal kit = hex"01020304";
    bytes internal share = new bytes(81);

    function setUp() public {
        vm.warp(T0);
        (index, roles, consent, guardians) = _newGuardedStack(admin);
        _setUpOrgs();
        _addOrg(hospital2, IRoleRegistry.OrgKind.Hospital, "General");
        _addStaff(hospital2, doctor2);
        alice = _registerPatient(ALICE_PK);
        // A relative (a patient), a lab and a hospital as guardians, each with its key.
        g1 = _registerPatient(G1_PK);
        g2 = vm.addr(G2_PK);
        _addOrg(g2, IRoleRegistry.OrgKind.Lab, "Guardian Lab");
        vm.prank(g2);
        roles.registerPublicKey(publicKeyOf(G2_PK));
        g3 = vm.addr(G3_PK);
        _addOrg(g3, IRoleRegistry.OrgKind.Hospital, "Guardian Hospital");
        vm.prank(g3);
        roles.registerPublicKey(publicKeyOf(G3_PK));
    }

    function _three() internal view returns (address[] memory list) {
        list = new address[](3);
        (list[0], list[1], list[2]) = (g1, g2, g3);
    }

    function _setTwoOfThree() internal {
        vm.prank(alice);
        guardians.setGuardians(_three(), 2, 0, kit);
    }

    function _open(address who, uint64 duration) internal {
        vm.prank(who);
        consent.openEmergencyAccess(alice, 2, "", duration);
    }

    function _release(address guardian, uint8 which, address to) internal {
        vm.prank(guardian);
        guardians.releaseShare(alice, to, which, share);
    }

    // ---------------------------------------------------------------------------------
    // Guardian sets and kits
    // ---------------------------------------------------------------------------------

    function test_setGuardians_storesSetAndKitHash() public {
        vm.expectEmit(true, true, false, true, address(guardians));
        emit IGuardianRegistry.GuardiansSet(alice, 1, 2, _three());
        vm.expectEmit(true, true, false, true, address(guardians));
        emit IGuardianRegistry.EmergencyKitPublished(alice, 1, 0, kit);
        _setTwoOfThree();
        IGuardianRegistry.Guardianship memory set = guardians.guardianshipOf(alice);
        assertEq(set.guardians.length, 3);
        assertEq(set.guardians[1], g2);
        assertEq(set.threshold, 2);
        assertEq(set.setId, 1);
        assertEq(set.kitId, 1);
        assertEq(set.kitHash, keccak256(kit));
        assertEq(guardians.kitHashOf(alice), keccak256(kit));
    }

    function test_setGuardians_badThresholdOrCount() public {
        address[] memory list = _three();
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidThreshold.selector, 4, 3));
        guardians.setGuardians(list, 4, 0, kit);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidThreshold.selector, 0, 3));
        guardians.setGuardians(list, 0, 0, kit);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidCount.selector, 0, 16));
        guardians.setGuardians(new address[](0), 1, 0, kit);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidCount.selector, 17, 16));
        guardians.setGuardians(new address[](17), 1, 0, kit);
        vm.stopPrank();
        assertEq(guardians.guardianshipOf(alice).setId, 0, "nothing stored");
    }

    function test_setGuardians_badGuardians() public {
        address[] memory list = _three();
        vm.startPrank(alice);
        // The hospital has no public key registered.
        list[2] = hospital;
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianWithoutPublicKey.selector, hospital));
        guardians.setGuardians(list, 2, 0, kit);
        list[2] = alice;
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidGuardian.selector, alice));
        guardians.setGuardians(list, 2, 0, kit);
        list[2] = outsider;
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidGuardian.selector, outsider));
        guardians.setGuardians(list, 2, 0, kit);
        list[2] = g1;
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianDuplicate.selector, g1));
        guardians.setGuardians(list, 2, 0, kit);
        vm.stopPrank();
        vm.prank(doctor);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotPatient.selector, doctor));
        guardians.setGuardians(_three(), 2, 0, kit);
    }

    function test_setGuardians_badKit() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianWrongEpoch.selector, 1, 0));
        guardians.setGuardians(_three(), 2, 1, kit);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidKit.selector, 0));
        guardians.setGuardians(_three(), 2, 0, "");
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidKit.selector, 24_577));
        guardians.setGuardians(_three(), 2, 0, new bytes(24_577));
        vm.stopPrank();
    }

    function test_publishKit_newKitEndsOldReleases() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        _release(g1, 1, doctor);
        (uint16 bits, uint8 count) = guardians.releasesOf(alice, doctor);
        assertEq(bits, 1);
        assertEq(count, 1);
        vm.prank(alice);
        consent.rotateEpoch();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianWrongEpoch.selector, 0, 1));
        guardians.publishKit(0, kit);
        vm.prank(alice);
        guardians.publishKit(1, hex"05");
        (bits, count) = guardians.releasesOf(alice, doctor);
        assertEq(count, 0, "the new kit has no releases yet");
        assertEq(guardians.guardianshipOf(alice).kitId, 2);
        assertEq(guardians.guardianshipOf(alice).epoch, 1);
        // g1 may release the new kit's share.
        _release(g1, 1, doctor);
        (, count) = guardians.releasesOf(alice, doctor);
        assertEq(count, 1);
    }

    function test_publishKit_andClear_needGuardians() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNoGuardians.selector, alice));
        guardians.publishKit(0, kit);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNoGuardians.selector, alice));
        guardians.clearGuardians();
        vm.stopPrank();
        _setTwoOfThree();
        vm.prank(alice);
        guardians.clearGuardians();
        assertEq(guardians.kitHashOf(alice), bytes32(0));
        assertEq(guardians.guardianshipOf(alice).guardians.length, 0);
        _open(doctor, 1 hours);
        vm.prank(g1);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNoGuardians.selector, alice));
        guardians.releaseShare(alice, doctor, 1, share);
    }

    function test_newSet_endsTheOldSetsReleases() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        _release(g1, 1, doctor);
        _release(g2, 2, doctor);
        assertTrue(guardians.thresholdReached(alice, doctor));
        // The patient replaces its guardians: g3 alone, 1 of 1.
        address[] memory one = new address[](1);
        one[0] = g3;
        vm.prank(alice);
        guardians.setGuardians(one, 1, 0, kit);
        assertFalse(guardians.thresholdReached(alice, doctor), "the old set's releases do not count");
        (uint16 bits, uint8 count) = guardians.releasesOf(alice, doctor);
        assertEq(uint256(bits) + count, 0);
        // g1 is no guardian any more; g3 is number 1.
        vm.prank(g1);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotGuardian.selector, alice, g1, 1));
        guardians.releaseShare(alice, doctor, 1, share);
        _release(g3, 1, doctor);
        assertTrue(guardians.thresholdReached(alice, doctor));
        IGuardianRegistry.Guardianship memory set = guardians.guardianshipOf(alice);
        assertEq(set.guardians.length, 1);
        assertEq(set.setId, 2);
        assertEq(set.kitId, 2);
    }

    // ---------------------------------------------------------------------------------
    // Releases
    // ---------------------------------------------------------------------------------

    function test_releaseShare_thresholdAndChain() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        vm.expectEmit(true, true, true, true, address(guardians));
        emit IGuardianRegistry.ShareReleased(alice, doctor, g2, 1, 2, share);
        _release(g2, 2, doctor);
        assertFalse(guardians.thresholdReached(alice, doctor), "one of two");
        bytes32 head = keccak256(abi.encode(bytes32(0), uint64(1), g2, uint8(2), keccak256(share)));
        assertEq(guardians.releaseChainOf(alice, doctor), head);
        _release(g3, 3, doctor);
        assertTrue(guardians.thresholdReached(alice, doctor));
        head = keccak256(abi.encode(head, uint64(1), g3, uint8(3), keccak256(share)));
        assertEq(guardians.releaseChainOf(alice, doctor), head);
        (uint16 bits, uint8 count) = guardians.releasesOf(alice, doctor);
        assertEq(bits, 6);
        assertEq(count, 2);
        assertFalse(guardians.thresholdReached(alice, doctor2), "per doctor");
    }

    function test_releaseShare_refusals() public {
        _setTwoOfThree();
        // No emergency open.
        vm.prank(g1);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianNoOpenEmergency.selector, alice, doctor)
        );
        guardians.releaseShare(alice, doctor, 1, share);
        _open(doctor, 1 hours);
        // Wrong guardian for the index, index out of range, a stranger.
        vm.prank(g1);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotGuardian.selector, alice, g1, 2));
        guardians.releaseShare(alice, doctor, 2, share);
        vm.prank(g1);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotGuardian.selector, alice, g1, 4));
        guardians.releaseShare(alice, doctor, 4, share);
        vm.prank(outsider);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianNotGuardian.selector, alice, outsider, 1)
        );
        guardians.releaseShare(alice, doctor, 1, share);
        // Malformed share.
        vm.prank(g1);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidShare.selector, 0));
        guardians.releaseShare(alice, doctor, 1, "");
        // Twice.
        _release(g1, 1, doctor);
        vm.prank(g1);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianAlreadyReleased.selector, alice, doctor, g1)
        );
        guardians.releaseShare(alice, doctor, 1, share);
        // Expired.
        vm.warp(T0 + 1 hours + 1);
        vm.prank(g2);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianNoOpenEmergency.selector, alice, doctor)
        );
        guardians.releaseShare(alice, doctor, 2, share);
    }

    function test_releaseShare_refusedForClosedEmergency() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        vm.prank(alice);
        consent.closeEmergencyAccess(alice, doctor);
        vm.prank(g1);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianNoOpenEmergency.selector, alice, doctor)
        );
        guardians.releaseShare(alice, doctor, 1, share);
    }

    function test_removedDoctor_losesAccessAndReleases() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        _release(g1, 1, doctor);
        _addStaffRemoval(hospital, doctor);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()), "revoking the doctor ends its access");
        vm.prank(g2);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianDoctorInactive.selector, doctor));
        guardians.releaseShare(alice, doctor, 2, share);
    }

    function _addStaffRemoval(address org, address staff) internal {
        vm.prank(org);
        roles.removeStaff(staff);
    }

    function test_releaseShare_refusedWhenHospitalDeniedAfterOpening() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        vm.prank(alice);
        guardians.setHospitalRule(hospital, IGuardianRegistry.HospitalRule.Denied);
        vm.prank(g1);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianHospitalNotAllowed.selector, alice, hospital)
        );
        guardians.releaseShare(alice, doctor, 1, share);
    }

    // ---------------------------------------------------------------------------------
    // Policy, through the consent registry
    // ---------------------------------------------------------------------------------

    function test_denyList_blocksOpening() public {
        vm.prank(alice);
        guardians.setHospitalRule(hospital, IGuardianRegistry.HospitalRule.Denied);
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianHospitalNotAllowed.selector, alice, hospital)
        );
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        assertEq(consent.emergencyUntil(alice, doctor), 0, "nothing opened");
        _open(doctor2, 1 hours);
        assertEq(consent.emergencyUntil(alice, doctor2), T0 + 1 hours, "another hospital still may");
    }

    function test_allowedOnly_admitsOnlyAllowedHospitals() public {
        vm.startPrank(alice);
        guardians.setEmergencyPolicy(true, 0);
        guardians.setHospitalRule(hospital2, IGuardianRegistry.HospitalRule.Allowed);
        vm.stopPrank();
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianHospitalNotAllowed.selector, alice, hospital)
        );
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        _open(doctor2, 1 hours);
        assertTrue(guardians.hospitalAllowed(alice, hospital2));
        assertFalse(guardians.hospitalAllowed(alice, hospital));
    }

    function test_renewalCap_defaultStopsEndlessRenewal() public {
        _open(doctor, 72 hours);
        vm.warp(T0 + 71 hours);
        // Renewing now would add 71 hours: 143 in total.
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGuardianRegistry.GuardianRenewalCapExceeded.selector, alice, doctor, 143 hours, CAP
            )
        );
        consent.openEmergencyAccess(alice, 2, "", 72 hours);
        assertEq(consent.emergencyUntil(alice, doctor), T0 + 72 hours, "unchanged");
        // The patient confirms: the doctor may go on.
        vm.prank(alice);
        guardians.confirmEmergency(doctor);
        _open(doctor, 72 hours);
        assertEq(guardians.emergencyUsedOf(alice, doctor), 71 hours);
    }

    function test_renewalCap_patientsOwnCap() public {
        vm.prank(alice);
        guardians.setEmergencyPolicy(false, 8 hours);
        _open(doctor, 6 hours);
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGuardianRegistry.GuardianRenewalCapExceeded.selector, alice, doctor, 9 hours, 8 hours
            )
        );
        consent.openEmergencyAccess(alice, 2, "", 9 hours);
        // Shortening adds nothing.
        _open(doctor, 1 hours);
        assertEq(guardians.emergencyUsedOf(alice, doctor), 6 hours);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidRenewalCap.selector, 366 days, 365 days)
        );
        guardians.setEmergencyPolicy(false, 366 days);
    }

    function test_renewalCap_loweredCapStopsReleases() public {
        _setTwoOfThree();
        _open(doctor, 6 hours);
        vm.prank(alice);
        guardians.setEmergencyPolicy(false, 1 hours);
        vm.prank(g1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IGuardianRegistry.GuardianRenewalCapExceeded.selector, alice, doctor, 6 hours, 1 hours
            )
        );
        guardians.releaseShare(alice, doctor, 1, share);
    }

    function test_onEmergencyOpened_onlyConsent() public {
        vm.expectRevert(
            abi.encodeWithSelector(IGuardianRegistry.GuardianNotConsentRegistry.selector, outsider)
        );
        vm.prank(outsider);
        guardians.onEmergencyOpened(alice, doctor, hospital, 0, uint64(T0 + 1));
    }

    function test_wire_onceByDeployer() public {
        GuardianRegistry fresh = new GuardianRegistry(roles);
        vm.prank(outsider);
        vm.expectRevert(IGuardianRegistry.GuardianWiring.selector);
        fresh.wire(consent);
        vm.expectRevert(IGuardianRegistry.GuardianWiring.selector);
        fresh.wire(IConsentRegistry(address(0)));
        fresh.wire(consent);
        vm.expectRevert(IGuardianRegistry.GuardianWiring.selector);
        fresh.wire(consent);
        // Unwired, a fresh registry refuses kits.
        GuardianRegistry unwired = new GuardianRegistry(roles);
        vm.prank(alice);
        vm.expectRevert(IGuardianRegistry.GuardianWiring.selector);
        unwired.setGuardians(_three(), 2, 0, kit);
    }

    function test_policyCalls_needPatient() public {
        vm.startPrank(doctor);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotPatient.selector, doctor));
        guardians.setEmergencyPolicy(true, 0);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotPatient.selector, doctor));
        guardians.setHospitalRule(hospital, IGuardianRegistry.HospitalRule.Denied);
        vm.expectRevert(abi.encodeWithSelector(IGuardianRegistry.GuardianNotPatient.selector, doctor));
        guardians.confirmEmergency(doctor);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------
    // No supersede under break-glass
    // ---------------------------------------------------------------------------------

    function test_breakGlass_addsButCannotSupersede() public {
        bytes32 category = bytes32(uint256(0xC0FFEE) << 128);
        bytes memory tags = new bytes(128);
        _open(doctor, 1 hours);
        vm.prank(doctor);
        index.addRecord(alice, keccak256("r1"), category, 0, tags);
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexBreakGlassCannotSupersede.selector, alice, doctor)
        );
        index.supersede(alice, 1, keccak256("r2"), category, 0, tags);
        // A grant lets it correct.
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: alice,
            grantee: doctor,
            scope: _categoryScope(category),
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(T0 + 1 days),
            epoch: 0,
            wrappedKeys: hex"01"
        });
        vm.prank(alice);
        consent.grant(req);
        vm.prank(doctor);
        index.supersede(alice, 1, keccak256("r2"), category, 0, tags);
        // An outsider still gets the usual error.
        vm.prank(outsider);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexNotAuthorized.selector, alice, outsider, category)
        );
        index.supersede(alice, 1, keccak256("r3"), category, 0, tags);
    }

    // ---------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------

    function testFuzz_setGuardians_thresholdBounds(uint8 threshold, uint8 count) public {
        count = uint8(bound(count, 1, 3));
        address[] memory list = new address[](count);
        address[] memory all = _three();
        for (uint256 i; i < count; ++i) {
            list[i] = all[i];
        }
        vm.prank(alice);
        if (threshold == 0 || threshold > count) {
            vm.expectRevert(
                abi.encodeWithSelector(IGuardianRegistry.GuardianInvalidThreshold.selector, threshold, count)
            );
        }
        guardians.setGuardians(list, threshold, 0, kit);
    }

    function testFuzz_renewalCap_neverExceeded(uint64 cap, uint64[4] memory durations, uint32[4] memory gaps)
        public
    {
        cap = uint64(bound(cap, 1, 365 days));
        vm.prank(alice);
        guardians.setEmergencyPolicy(false, cap);
        uint256 total;
        uint64 until;
        for (uint256 i; i < 4; ++i) {
            vm.warp(block.timestamp + gaps[i] % 4 days);
            uint64 duration = uint64(bound(durations[i], 1, 72 hours));
            uint64 newUntil = uint64(block.timestamp) + duration;
            uint64 from = until > block.timestamp ? until : uint64(block.timestamp);
            uint256 adds = newUntil > from ? newUntil - from : 0;
            vm.prank(doctor);
            if (total + adds > cap) {
                vm.expectRevert();
                consent.openEmergencyAccess(alice, 2, "", duration);
            } else {
                consent.openEmergencyAccess(alice, 2, "", duration);
                total += adds;
                until = newUntil;
            }
            assertEq(guardians.emergencyUsedOf(alice, doctor), total);
            assertLe(total, cap);
        }
    }
}
