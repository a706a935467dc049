// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {ConsentHandler} from "./handlers/ConsentHandler.sol";
import {Test} from "./utils/Test.sol";

/// @notice Invariants of ConsentRegistry under random sequences of grants (direct, signed,
/// forged, malleated, replayed, stale), revocations (direct and signed), requests, approvals
/// (direct and signed), denials, emergency access, lab removal and time jumps, all driven by
/// `ConsentHandler` for a fixed cast whose keys it knows.
/// @dev The cast and the scope set are copied into this contract's storage once, and the ghost
/// grants are fetched in one call per patient, to keep the per-call checks cheap.
contract ConsentRegistryInvariants is Test {
    ConsentHandler internal handler;
    ConsentRegistry internal consent;
    RoleRegistry internal roles;

    address[] internal _patients;
    address[] internal _grantees;
    IConsentRegistry.Scope[] internal _scopes;

    function setUp() public {
        handler = new ConsentHandler();
        consent = handler.consent();
        roles = handler.roles();
        for (uint256 i; i < handler.patientCount(); ++i) {
            _patients.push(handler.patients(i));
        }
        for (uint256 i; i < handler.granteeCount(); ++i) {
            _grantees.push(handler.grantees(i));
        }
        for (uint256 i; i < handler.scopeCount(); ++i) {
            _scopes.push(handler.scopeAt(i));
        }

        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = ConsentHandler.grant.selector;
        selectors[1] = ConsentHandler.grantAsStranger.selector;
        selectors[2] = ConsentHandler.grantWithSig.selector;
        selectors[3] = ConsentHandler.grantWithBadSig.selector;
        selectors[4] = ConsentHandler.replayGrant.selector;
        selectors[5] = ConsentHandler.revoke.selector;
        selectors[6] = ConsentHandler.revokeWithSig.selector;
        selectors[7] = ConsentHandler.requestAccess.selector;
        selectors[8] = ConsentHandler.approveRequest.selector;
        selectors[9] = ConsentHandler.approveRequestWithSig.selector;
        selectors[10] = ConsentHandler.denyRequest.selector;
        selectors[11] = ConsentHandler.openEmergency.selector;
        selectors[12] = ConsentHandler.closeEmergency.selector;
        selectors[13] = ConsentHandler.toggleLab.selector;
        selectors[14] = ConsentHandler.warp.selector;
        selectors[15] = ConsentHandler.setUnloggedReads.selector;
        selectors[16] = ConsentHandler.setUnloggedReadsAsStranger.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    modifier atHandlerTime() {
        vm.warp(handler.currentTime());
        _;
    }

    function fail(string memory message) internal pure {
        assertTrue(false, message);
    }

    function _valid(ConsentHandler.GhostGrant memory ghost) internal view returns (bool) {
        return ghost.exists && ghost.expiry > block.timestamp;
    }

    /// @notice (1) Every stored grant was created by the patient's own call or the patient's
    /// valid signature: the registry's grants equal the ghost record of authorised creations
    /// (the handler records a grant only when such a call succeeded), and no forged,
    /// malleated, replayed, stale-epoch or stranger call ever succeeded.
    function invariant_grantsComeFromAuthorisedPaths() public atHandlerTime {
        assertEq(handler.unexpectedSuccesses(), 0, "a forbidden call succeeded");
        uint256 scopeCount = _scopes.length;
        for (uint256 p; p < _patients.length; ++p) {
            address patient = _patients[p];
            ConsentHandler.GhostGrant[] memory ghosts = handler.ghostGrantsOf(patient);
            for (uint256 g; g < _grantees.length; ++g) {
                address grantee = _grantees[g];
                uint256 stored;
                for (uint256 s; s < scopeCount; ++s) {
                    ConsentHandler.GhostGrant memory ghost = ghosts[g * scopeCount + s];
                    IConsentRegistry.GrantInfo memory info = consent.grantOf(patient, grantee, _scopes[s]);
                    if (ghost.exists) stored++;
                    // Compare first and assert only on a mismatch: assertion cheatcodes on every
                    // field of every grant would dominate the campaign's run time.
                    if (
                        info.expiry != ghost.expiry || info.epoch != ghost.epoch
                            || info.grantedAt != ghost.grantedAt || info.purpose != ghost.purpose
                            || info.active != _valid(ghost)
                    ) {
                        assertEq(info.expiry, ghost.expiry, "expiry");
                        assertEq(info.epoch, ghost.epoch, "epoch");
                        assertEq(info.grantedAt, ghost.grantedAt, "grantedAt");
                        assertEq(uint256(info.purpose), uint256(ghost.purpose), "purpose");
                        assertEq(info.active, _valid(ghost), "active");
                    }
                }
                uint256 listed = consent.scopeIdsOf(patient, grantee).length;
                if (listed != stored) assertEq(listed, stored, "scope list");
            }
        }
    }

    /// @notice (1b) A grantee may skip logging reads only under a grant the patient itself
    /// flagged, and only until that grant is replaced, revoked or expires.
    function invariant_unloggedReadsOnlyWhereThePatientAllowed() public atHandlerTime {
        uint256 scopeCount = _scopes.length;
        for (uint256 p; p < _patients.length; ++p) {
            address patient = _patients[p];
            ConsentHandler.GhostGrant[] memory ghosts = handler.ghostGrantsOf(patient);
            for (uint256 g; g < _grantees.length; ++g) {
                for (uint256 s; s < scopeCount; ++s) {
                    ConsentHandler.GhostGrant memory ghost = ghosts[g * scopeCount + s];
                    bool allowed = consent.unloggedReadsAllowed(patient, _grantees[g], _scopes[s]);
                    bool expected = ghost.unloggedReads && _valid(ghost);
                    if (allowed != expected) assertEq(allowed, expected, "unlogged reads");
                }
            }
        }
    }

    /// @notice (2) After a revocation the pair has no stored grant and no grant-based access
    /// to any scope until the patient grants again; only open emergency access of an active
    /// doctor may remain.
    function invariant_revokedPairsHaveNoAccess() public atHandlerTime {
        for (uint256 p; p < _patients.length; ++p) {
            address patient = _patients[p];
            for (uint256 g; g < _grantees.length; ++g) {
                address grantee = _grantees[g];
                if (!handler.revokedSinceGrant(patient, grantee)) continue;
                assertEq(consent.scopeIdsOf(patient, grantee).length, 0, "revoked pair keeps scopes");
                bool emergency =
                    consent.emergencyUntil(patient, grantee) != 0 && roles.isActiveDoctor(grantee);
                for (uint256 s; s < _scopes.length; ++s) {
                    if (consent.grantOf(patient, grantee, _scopes[s]).active) fail("revoked grant active");
                    bool access = consent.hasAccess(patient, grantee, _scopes[s]);
                    if (access != emergency) assertEq(access, emergency, "access after revoke");
                }
            }
        }
    }

    /// @notice (3) Nonces only move through successful signed operations: each patient's nonce
    /// equals the number of its signatures the registry accepted, so no nonce served twice.
    function invariant_noncesCountSignedOperations() public view {
        for (uint256 p; p < _patients.length; ++p) {
            assertEq(consent.nonces(_patients[p]), handler.signedOps(_patients[p]), "nonce");
        }
        assertEq(consent.nonces(handler.relayer()), 0);
    }

    /// @notice (4) A patient's epoch equals the number of its successful revocations.
    function invariant_epochCountsRevocations() public view {
        for (uint256 p; p < _patients.length; ++p) {
            assertEq(consent.epochOf(_patients[p]), handler.revocations(_patients[p]), "epoch");
        }
    }

    /// @notice (5) `hasAccess` is exactly the model: a valid exact-scope or All grant held by
    /// an active participant, or open emergency access held by an active doctor. Participant
    /// and doctor status come from the handler's own model of the cast (checked against the
    /// role registry), not from the registry the contract under test consults.
    function invariant_hasAccessMatchesModel() public atHandlerTime {
        uint256 scopeCount = _scopes.length;
        uint256 granteeCount = _grantees.length;
        bool[] memory participant = new bool[](granteeCount);
        bool[] memory doctor = new bool[](granteeCount);
        for (uint256 g; g < granteeCount; ++g) {
            (participant[g], doctor[g]) = handler.granteeStatus(g);
        }
        // Spot-check the role model against the registry on the grantee the lab toggle affects.
        if (roles.isActiveParticipant(_grantees[2]) != participant[2]) fail("role model");
        for (uint256 p; p < _patients.length; ++p) {
            address patient = _patients[p];
            ConsentHandler.GhostGrant[] memory ghosts = handler.ghostGrantsOf(patient);
            uint64[] memory emergencyUntil = handler.ghostEmergencyOf(patient);
            for (uint256 g; g < granteeCount; ++g) {
                bool emergency = doctor[g] && emergencyUntil[g] > block.timestamp;
                bool all = _valid(ghosts[g * scopeCount]);
                for (uint256 s; s < scopeCount; ++s) {
                    bool granted = all || _valid(ghosts[g * scopeCount + s]);
                    bool expected = (granted && participant[g]) || emergency;
                    bool actual = consent.hasAccess(patient, _grantees[g], _scopes[s]);
                    if (actual != expected) assertEq(actual, expected, "hasAccess");
                }
            }
        }
    }

    /// @notice (6) Request ids are sequential and requests and emergency access follow the ghost record.
    function invariant_requestsAndEmergencyMatchGhost() public atHandlerTime {
        uint256 count = consent.requestCount();
        assertEq(count, handler.requestCount(), "request count");
        if (count != 0) {
            ConsentHandler.GhostRequest memory ghost = handler.ghostRequest(count);
            IConsentRegistry.AccessRequest memory stored = consent.accessRequest(count);
            assertEq(stored.requester, ghost.requester);
            assertEq(stored.patient, ghost.patient);
            assertEq(stored.expiresAt, ghost.expiresAt);
        }
        for (uint256 id = 1; id <= count; ++id) {
            IConsentRegistry.RequestStatus status = consent.accessRequest(id).status;
            IConsentRegistry.RequestStatus expected = handler.ghostRequest(id).status;
            if (status != expected) assertEq(uint256(status), uint256(expected), "status");
        }
        address doctor = handler.DOCTOR();
        for (uint256 p; p < _patients.length; ++p) {
            uint64 until = handler.ghostEmergency(_patients[p], doctor);
            assertEq(
                consent.emergencyUntil(_patients[p], doctor), until > block.timestamp ? until : 0, "emergency"
            );
        }
    }
}
