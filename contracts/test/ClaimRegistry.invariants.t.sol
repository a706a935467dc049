// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ClaimRegistry} from "../src/ClaimRegistry.sol";
import {IClaimRegistry} from "../src/interfaces/IClaimRegistry.sol";
import {ClaimHandler} from "./handlers/ClaimHandler.sol";
import {Test} from "./utils/Test.sol";

/// @notice Invariants of ClaimRegistry on the real registries and index, under random
/// records, grants, revocations, role changes, time jumps, submissions, reviews and decisions,
/// all driven by `ClaimHandler`.
contract ClaimRegistryInvariants is Test {
    ClaimHandler internal handler;
    ClaimRegistry internal claims;

    function setUp() public {
        handler = new ClaimHandler();
        claims = handler.claims();

        // Claim calls twice as often as the state changes around them, grants three times.
        bytes4[] memory selectors = new bytes4[](14);
        selectors[0] = ClaimHandler.addRecord.selector;
        selectors[1] = ClaimHandler.revoke.selector;
        selectors[2] = ClaimHandler.toggleOrganization.selector;
        selectors[3] = ClaimHandler.moveStaff.selector;
        selectors[4] = ClaimHandler.warp.selector;
        for (uint256 i; i < 3; ++i) {
            selectors[5 + i] = ClaimHandler.grant.selector;
        }
        for (uint256 i; i < 2; ++i) {
            selectors[8 + i] = ClaimHandler.submitClaim.selector;
            selectors[10 + i] = ClaimHandler.startReview.selector;
            selectors[12 + i] = ClaimHandler.decide.selector;
        }
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice (1) Status only moves forward along the allowed edges: the handler's ghost of
    /// every claim moves only Submitted → UnderReview → Approved | Rejected (it counts any
    /// other edge a successful call took), and every stored claim equals its ghost, so the
    /// contract's statuses took exactly those edges. `decidedAt` is set exactly once decided.
    function invariant_statusMovesForwardOnly() public view {
        assertEq(handler.illegalEdges(), 0, "a transition took an edge not allowed");
        for (uint256 id = 1; id <= handler.ghostCount(); ++id) {
            IClaimRegistry.Claim memory c = claims.claim(id);
            ClaimHandler.Ghost memory g = handler.ghost(id);
            assertEq(uint8(c.status), uint8(g.status), "status");
            bool decided = c.status == IClaimRegistry.ClaimStatus.Approved
                || c.status == IClaimRegistry.ClaimStatus.Rejected;
            assertEq(c.decidedAt != 0, decided, "decidedAt exactly when decided");
            assertEq(c.decidedAt, g.decidedAt, "decidedAt");
            if (decided) assertGe(c.decidedAt, c.submittedAt);
        }
        uint256 next = handler.ghostCount() + 1;
        assertEq(
            uint8(claims.claim(next).status),
            uint8(IClaimRegistry.ClaimStatus.None),
            "no claim past the count"
        );
    }

    /// @notice (2) Only the named insurer (its account or its staff, while it is an active
    /// insurer) ever moved a claim, and no allowed move was refused.
    function invariant_onlyTheNamedInsurerMovesClaims() public view {
        assertEq(handler.movesByOthers(), 0, "a claim was moved by someone else");
        assertEq(handler.unexpectedSuccesses(), 0, "a refused call succeeded");
        assertEq(handler.missedCalls(), 0, "an allowed call failed");
    }

    /// @notice (3) Every claim's records were readable by its insurer (`hasAccess` of each
    /// Record scope) when it was filed, and the stored claim is what was filed.
    function invariant_recordsWereGrantedAtSubmission() public view {
        assertEq(handler.ungrantedSubmissions(), 0, "a claim covers a record its insurer could not read");
        assertEq(claims.claimCount(), handler.ghostCount(), "claim count");
        for (uint256 id = 1; id <= handler.ghostCount(); ++id) {
            IClaimRegistry.Claim memory c = claims.claim(id);
            ClaimHandler.Ghost memory g = handler.ghost(id);
            assertEq(c.patient, g.patient, "patient");
            assertEq(c.insurer, g.insurer, "insurer");
            assertEq(c.submittedAt, g.submittedAt, "submittedAt");
            assertEq(c.termsCommitment, g.termsCommitment, "terms commitment");
            assertEq(c.recordIds.length, g.recordIds.length, "record count");
            for (uint256 i; i < g.recordIds.length; ++i) {
                assertEq(c.recordIds[i], g.recordIds[i], "record id");
            }
        }
    }

    event log_named_uint(string key, uint256 val);

    /// @notice Logs (with -vvv) how often each claim call succeeded in the run: the
    /// invariants are only as strong as the calls they saw.
    function afterInvariant() external {
        string[6] memory keys =
            ["submitClaim", "submitClaim.ok", "startReview.ok", "decide.ok", "grant", "toggleOrganization"];
        for (uint256 i; i < keys.length; ++i) {
            emit log_named_uint(keys[i], handler.calls(keys[i]));
        }
    }
}
