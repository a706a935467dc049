// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../../src/ConsentRegistry.sol";
import {GuardianRegistry} from "../../src/GuardianRegistry.sol";
import {RecordIndex} from "../../src/RecordIndex.sol";
import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IGuardianRegistry} from "../../src/interfaces/IGuardianRegistry.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {EhrHelpers} from "../utils/EhrFixture.sol";

/// @title GuardianHandler
/// @notice Drives the guarded stack for forge's invariant runner: one patient with three
/// guardians (2-of-3), two hospitals with a doctor each, and random kits, re-splits, openings,
/// closings, releases (by anyone, for any index), hospital rules, caps, confirmations, doctor
/// removals and time. Ghost state counts every release that succeeded, per (doctor, kit), and
/// every success the model says must fail.
contract GuardianHandler is EhrHelpers {
    address public constant ADMIN = address(0xAD);
    address public constant OUTSIDER = address(0x3001);

    RoleRegistry public immutable roles;
    ConsentRegistry public immutable consent;
    GuardianRegistry public immutable guardians;

    address public patient;
    address[3] public guardianList;
    address[2] public hospitals = [address(0x1001), address(0x1004)];
    address[2] public doctors = [address(0x2001), address(0x2004)];
    bool[2] public doctorActive = [true, true];
    uint256 public currentTime;

    /// @notice Successful releases per (doctor, kit id), each by a distinct guardian.
    mapping(address doctor => mapping(uint64 kitId => uint256)) public ghostReleases;
    /// @notice Successes the model says must fail (releases with no open emergency, by a
    /// stranger, to an inactive doctor or a refused hospital; openings from a refused hospital
    /// or past the cap). Must stay 0.
    uint256 public unexpectedSuccesses;

    constructor() {
        currentTime = T0;
        vm.warp(T0);
        RecordIndex index;
        (index, roles, consent, guardians) = _newGuardedStack(ADMIN);
        vm.startPrank(ADMIN);
        roles.addOrganization(hospitals[0], IRoleRegistry.OrgKind.Hospital, "A");
        roles.addOrganization(hospitals[1], IRoleRegistry.OrgKind.Hospital, "B");
        vm.stopPrank();
        for (uint256 i; i < 2; ++i) {
            vm.prank(hospitals[i]);
            roles.addStaff(doctors[i]);
        }
        patient = _registerPatientWith(roles, 0xA11CE);
        for (uint256 i; i < 3; ++i) {
            guardianList[i] = _registerPatientWith(roles, 0x6001 + i);
        }
        _setGuardians();
    }

    modifier atHandlerTime() {
        vm.warp(currentTime);
        _;
    }

    function _setGuardians() internal {
        address[] memory list = new address[](3);
        (list[0], list[1], list[2]) = (guardianList[0], guardianList[1], guardianList[2]);
        uint64 epoch = consent.epochOf(patient);
        vm.prank(patient);
        guardians.setGuardians(list, 2, epoch, hex"01");
    }

    function resetGuardians() external atHandlerTime {
        _setGuardians();
    }

    function resplit() external atHandlerTime {
        vm.startPrank(patient);
        consent.rotateEpoch();
        guardians.publishKit(consent.epochOf(patient), hex"02");
        vm.stopPrank();
    }

    function open(uint8 who, uint64 duration) external atHandlerTime {
        address doctor = doctors[who % 2];
        duration = uint64(bound(duration, 1, 72 hours));
        uint64 previous = consent.emergencyUntil(patient, doctor);
        uint64 until = uint64(block.timestamp) + duration;
        uint64 from = previous > block.timestamp ? previous : uint64(block.timestamp);
        uint256 adds = until > from ? until - from : 0;
        bool refused = !guardians.hospitalAllowed(patient, hospitals[who % 2])
            || (adds > 0
                && guardians.emergencyUsedOf(patient, doctor) + adds
                    > guardians.emergencyPolicyOf(patient).renewalCap);
        vm.prank(doctor);
        try consent.openEmergencyAccess(patient, 2, "", duration) {
            if (refused) ++unexpectedSuccesses;
        } catch {}
    }

    function close(uint8 who) external atHandlerTime {
        vm.prank(patient);
        try consent.closeEmergencyAccess(patient, doctors[who % 2]) {} catch {}
    }

    function release(uint8 caller, uint8 index, uint8 who) external atHandlerTime {
        address doctor = doctors[who % 2];
        address sender = caller % 4 == 3 ? OUTSIDER : guardianList[caller % 4];
        index = uint8(bound(index, 0, 4));
        IGuardianRegistry.Guardianship memory set = guardians.guardianshipOf(patient);
        bool isGuardian = index >= 1 && index <= 3 && guardianList[index - 1] == sender;
        bool allowed = isGuardian && consent.emergencyUntil(patient, doctor) != 0 && doctorActive[who % 2]
            && guardians.hospitalAllowed(patient, hospitals[who % 2])
            && guardians.emergencyUsedOf(patient, doctor) <= guardians.emergencyPolicyOf(patient).renewalCap;
        vm.prank(sender);
        try guardians.releaseShare(patient, doctor, index, hex"aa") {
            if (!allowed) ++unexpectedSuccesses;
            ++ghostReleases[doctor][set.kitId];
        } catch {}
    }

    function rule(uint8 which, uint8 choice) external atHandlerTime {
        vm.prank(patient);
        guardians.setHospitalRule(hospitals[which % 2], IGuardianRegistry.HospitalRule(choice % 3));
    }

    function policy(bool allowedOnly, uint64 cap) external atHandlerTime {
        vm.prank(patient);
        guardians.setEmergencyPolicy(allowedOnly, uint64(bound(cap, 0, 10 days)));
    }

    function confirm(uint8 who) external atHandlerTime {
        vm.prank(patient);
        guardians.confirmEmergency(doctors[who % 2]);
    }

    function toggleDoctor(uint8 who) external atHandlerTime {
        uint256 i = who % 2;
        vm.prank(hospitals[i]);
        if (doctorActive[i]) roles.removeStaff(doctors[i]);
        else roles.addStaff(doctors[i]);
        doctorActive[i] = !doctorActive[i];
    }

    function warp(uint32 seconds_) external {
        currentTime += seconds_ % 3 days;
        vm.warp(currentTime);
    }
}
