// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {RecordIndex} from "../src/RecordIndex.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {RecordIndexHandler} from "./handlers/RecordIndexHandler.sol";
import {Test} from "./utils/Test.sol";

/// @notice Invariants of RecordIndex wired to the real registries, under random role changes,
/// grants, revocations, emergency access, time jumps and writes by random actors, all driven
/// by `RecordIndexHandler`.
contract RecordIndexInvariants is Test {
    RecordIndexHandler internal handler;
    RecordIndex internal index;
    RoleRegistry internal roles;
    ConsentRegistry internal consent;

    address[] internal _patients;
    address[] internal _actors;
    bytes32[] internal _categories;

    function setUp() public {
        handler = new RecordIndexHandler();
        index = handler.index();
        roles = handler.roles();
        consent = handler.consent();
        for (uint256 i; i < handler.patientCount(); ++i) {
            _patients.push(handler.patients(i));
        }
        for (uint256 i; i < handler.actorCount(); ++i) {
            _actors.push(handler.actors(i));
        }
        for (uint256 i; i < handler.categoryCount(); ++i) {
            _categories.push(handler.categories(i));
        }

        // Writes and grants three times as often as role changes, revocations, rotations and emergencies,
        // so that many writes meet an active doctor holding a valid grant.
        bytes4[] memory selectors = new bytes4[](18);
        selectors[0] = RecordIndexHandler.toggleOrganization.selector;
        selectors[1] = RecordIndexHandler.moveStaff.selector;
        selectors[2] = RecordIndexHandler.registerLatePatient.selector;
        selectors[3] = RecordIndexHandler.revoke.selector;
        selectors[4] = RecordIndexHandler.openEmergency.selector;
        selectors[5] = RecordIndexHandler.closeEmergency.selector;
        selectors[6] = RecordIndexHandler.warp.selector;
        for (uint256 i; i < 3; ++i) {
            selectors[7 + i] = RecordIndexHandler.grant.selector;
            selectors[10 + i] = RecordIndexHandler.addRecord.selector;
        }
        selectors[13] = RecordIndexHandler.addRecords.selector;
        selectors[14] = RecordIndexHandler.addRecords.selector;
        selectors[15] = RecordIndexHandler.supersede.selector;
        selectors[16] = RecordIndexHandler.supersede.selector;
        selectors[17] = RecordIndexHandler.rotate.selector;
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

    /// @notice (1) For every patient the stored accumulator equals the reference recomputation
    /// (IRecordIndex's formula) over the handler's ghost list of successful entries, and the
    /// record and entry counts match it.
    function invariant_accumulatorMatchesGhostEntries() public view {
        for (uint256 p; p < _patients.length; ++p) {
            RecordIndexHandler.Entry[] memory entries = handler.entriesOf(_patients[p]);
            bytes32 acc;
            uint256 records;
            for (uint256 i; i < entries.length; ++i) {
                RecordIndexHandler.Entry memory e = entries[i];
                if (e.kind == 0) {
                    records++;
                    acc = keccak256(
                        abi.encodePacked(
                            acc, e.recordId, e.digest, e.tagsHash, uint8(0), e.category, e.epoch, e.writer
                        )
                    );
                } else {
                    acc = keccak256(
                        abi.encodePacked(
                            acc,
                            e.recordId,
                            bytes32(uint256(e.supersededBy)),
                            keccak256(""),
                            uint8(1),
                            e.category,
                            e.epoch,
                            e.writer
                        )
                    );
                }
            }
            IRecordIndex.IndexState memory state = index.stateOf(_patients[p]);
            assertEq(state.accumulator, acc, "accumulator");
            assertEq(state.records, records, "records");
            assertEq(state.entries, entries.length, "entries");
        }
    }

    /// @notice (2) Only authorized writers ever succeed: every successful write was allowed by
    /// the registries' rule at that moment (with the right epoch and an existing record to
    /// supersede), every refused attempt reverted, and no valid authorized write failed.
    function invariant_onlyAuthorizedWritesSucceed() public view {
        assertEq(handler.unexpectedSuccesses(), 0, "a refused write succeeded");
        assertEq(handler.missedWrites(), 0, "an allowed write failed");
    }

    /// @notice (3) Mirror soundness: for every patient, actor and category, `canWrite` equals
    /// `(actor == patient && isPatient(patient)) || (isActiveDoctor(actor) && hasAccess(patient,
    /// actor, Category(category)))`, and the mirror alone (`mirrorAllows`) equals that rule
    /// without emergency access (sound, and complete for grants).
    function invariant_mirrorMatchesTheRegistries() public atHandlerTime {
        for (uint256 p; p < _patients.length; ++p) {
            address patient = _patients[p];
            for (uint256 a; a < _actors.length; ++a) {
                address actor = _actors[a];
                for (uint256 c; c < _categories.length; ++c) {
                    bytes32 category = _categories[c];
                    bool expected = handler.rule(patient, actor, category);
                    if (index.canWrite(patient, actor, category) != expected) fail("canWrite != the rule");
                    bool mirrored = handler.ruleWithoutEmergency(patient, actor, category);
                    if (index.mirrorAllows(patient, actor, category) != mirrored) fail("mirror != the rule");
                }
            }
        }
    }

    /// @notice (4) The index's epoch of every patient is the consent registry's.
    function invariant_epochMatchesConsent() public view {
        for (uint256 p; p < _patients.length; ++p) {
            assertEq(index.stateOf(_patients[p]).epoch, consent.epochOf(_patients[p]), "epoch");
        }
    }

    event log_named_uint(string key, uint256 val);

    /// @notice Logs (with -vvv) how often each path succeeded in the run: the invariants are
    /// only as strong as the writes they saw.
    function afterInvariant() external {
        string[7] memory keys = [
            "addRecord.ok.patient",
            "addRecord.ok.doctorMirror",
            "addRecord.ok.doctorFallback",
            "addRecords.ok",
            "supersede.ok",
            "addRecord",
            "grant"
        ];
        for (uint256 i; i < keys.length; ++i) {
            emit log_named_uint(keys[i], handler.calls(keys[i]));
        }
    }
}
