// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {GuardianRegistry} from "../src/GuardianRegistry.sol";
import {IGuardianRegistry} from "../src/interfaces/IGuardianRegistry.sol";
import {GuardianHandler} from "./handlers/GuardianHandler.sol";
import {Test} from "./utils/Test.sol";

/// @notice Invariants of GuardianRegistry and the break-glass policy under random kits,
/// re-splits, openings, closings, releases, rules, caps, confirmations, doctor removals and
/// time, driven by `GuardianHandler`.
contract GuardianRegistryInvariants is Test {
    GuardianHandler internal handler;
    GuardianRegistry internal guardians;
    ConsentRegistry internal consent;

    function setUp() public {
        handler = new GuardianHandler();
        guardians = handler.guardians();
        consent = handler.consent();
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = GuardianHandler.resetGuardians.selector;
        selectors[1] = GuardianHandler.resplit.selector;
        selectors[2] = GuardianHandler.open.selector;
        selectors[3] = GuardianHandler.close.selector;
        selectors[4] = GuardianHandler.release.selector;
        selectors[5] = GuardianHandler.rule.selector;
        selectors[6] = GuardianHandler.policy.selector;
        selectors[7] = GuardianHandler.confirm.selector;
        selectors[8] = GuardianHandler.toggleDoctor.selector;
        selectors[9] = GuardianHandler.warp.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice No emergency read without t on-chain releases: the threshold counts only
    /// releases that succeeded for the current kit, each by a distinct guardian.
    function invariant_thresholdNeedsThatManyReleases() public view {
        address patient = handler.patient();
        IGuardianRegistry.Guardianship memory set = guardians.guardianshipOf(patient);
        for (uint256 i; i < 2; ++i) {
            address doctor = handler.doctors(i);
            (uint16 bits, uint8 count) = guardians.releasesOf(patient, doctor);
            uint256 ghost = handler.ghostReleases(doctor, set.kitId);
            assertEq(count, ghost, "count = successful releases of the current kit");
            uint256 popcount;
            for (uint16 b = bits; b != 0; b >>= 1) {
                popcount += b & 1;
            }
            assertEq(popcount, count, "one bit per releasing guardian");
            assertLe(count, set.guardians.length);
            if (guardians.thresholdReached(patient, doctor)) assertGe(ghost, set.threshold);
        }
    }

    /// @notice No release and no opening the policy refuses ever succeeded.
    function invariant_policyHolds() public view {
        assertEq(handler.unexpectedSuccesses(), 0);
    }

    /// @notice A doctor's time since the patient's confirmation never passes the largest cap
    /// the handler sets (10 days; the cap may be lowered later, and releases then stop).
    function invariant_usedStaysWithinTheCap() public view {
        address patient = handler.patient();
        for (uint256 i; i < 2; ++i) {
            assertLe(guardians.emergencyUsedOf(patient, handler.doctors(i)), 10 days);
        }
    }
}
