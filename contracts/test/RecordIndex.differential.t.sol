// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice `addRecord` is hand-written assembly for gas; `addRecords` runs the same rule through
/// the shared helpers. For any one record, from the same state, the two must agree byte for
/// byte: success, return or revert data, every event (emitter, topics, data) and the patient's
/// index state afterwards. A change to either copy that the other does not get fails here.
contract RecordIndexDifferentialTest is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    bytes32 internal constant LAB = bytes32(uint256(0x1ab));
    bytes32 internal constant IMAGING = bytes32(uint256(0x1a6e));

    address internal alice;

    function setUp() public {
        vm.warp(T0);
        _deployStack();
        _setUpOrgs();
        alice = _registerPatient(ALICE_PK);
        // The doctor holds a lab grant, the tech an All grant that expires; the clerk none.
        _grantFrom(alice, doctor, _categoryScope(LAB), uint64(block.timestamp + 30 days), hex"01");
        _grantFrom(alice, tech, _allScope(), uint64(block.timestamp + 1 days), hex"01");
    }

    struct Outcome {
        bool ok;
        bytes data;
        Vm.Log[] logs;
        IRecordIndex.IndexState state;
    }

    function _run(address writer, bytes memory call) internal returns (Outcome memory out) {
        vm.recordLogs();
        vm.prank(writer);
        (out.ok, out.data) = address(index).call(call);
        out.logs = vm.getRecordedLogs();
        out.state = index.stateOf(alice);
    }

    /// @dev One fuzzed record and the state it meets.
    struct Case {
        bytes32 digest;
        uint8 categoryPick;
        uint8 tagsPick;
        uint8 writerPick;
        bool wrongEpoch;
        bool earlierRecords;
        bool rotated;
        bool late;
    }

    /// @dev One record, chosen to reach every check: zero or real digests, the granted, another
    /// or the zero category, every tag length around the buckets, the right or a wrong epoch,
    /// writers with a Category grant, an All grant (expired or not), none, and the patient;
    /// optionally after earlier records (a non-empty accumulator) or a rotated epoch.
    function testFuzz_addRecord_matchesAOneRecordBatch(Case memory c) public {
        (address writer, IRecordIndex.RecordInput memory record, uint64 epoch) = _prepare(c);
        uint256 snapshot = vm.snapshotState();
        Outcome memory single = _run(
            writer,
            abi.encodeCall(
                IRecordIndex.addRecord, (alice, record.digest, record.category, epoch, record.tags)
            )
        );
        vm.revertToState(snapshot);
        IRecordIndex.RecordInput[] memory batch = new IRecordIndex.RecordInput[](1);
        batch[0] = record;
        Outcome memory batched = _run(writer, abi.encodeCall(IRecordIndex.addRecords, (alice, epoch, batch)));
        _assertSame(single, batched);
    }

    function _prepare(Case memory c)
        internal
        returns (address writer, IRecordIndex.RecordInput memory record, uint64 epoch)
    {
        record.digest = c.digest != bytes32(0) && uint256(c.digest) % 7 == 0 ? bytes32(0) : c.digest;
        record.category = [LAB, IMAGING, bytes32(0), bytes32(uint256(1) << 255)][c.categoryPick % 4];
        uint256 tagsLength = [uint256(0), 16, 127, 128, 256, 384, 512, 1024, 2048, 129][c.tagsPick % 10];
        writer = [doctor, tech, clerk, alice, outsider][c.writerPick % 5];
        if (c.earlierRecords) {
            uint64 current = consent.epochOf(alice); // before the prank, which one call consumes
            vm.prank(alice);
            index.addRecord(alice, keccak256("earlier"), LAB, current, new bytes(128));
        }
        if (c.rotated) {
            vm.prank(alice);
            consent.rotateEpoch();
        }
        if (c.late) vm.warp(block.timestamp + 2 days); // the tech's All grant has expired
        epoch = consent.epochOf(alice) + (c.wrongEpoch ? 1 : 0);
        record.tags = new bytes(tagsLength);
        for (uint256 i; i < tagsLength; ++i) {
            record.tags[i] = bytes1(uint8(i * 31 + 7));
        }
    }

    function _assertSame(Outcome memory single, Outcome memory batched) internal pure {
        assertEq(single.ok, batched.ok, "success");
        assertEq(single.data, batched.data, "return or revert data");
        assertEq(single.logs.length, batched.logs.length, "event count");
        for (uint256 i; i < single.logs.length; ++i) {
            assertEq(single.logs[i].emitter, batched.logs[i].emitter, "emitter");
            assertEq(abi.encode(single.logs[i].topics), abi.encode(batched.logs[i].topics), "topics");
            assertEq(single.logs[i].data, batched.logs[i].data, "event data");
        }
        assertEq(single.state.accumulator, batched.state.accumulator, "accumulator");
        assertEq(single.state.records, batched.state.records, "records");
        assertEq(single.state.entries, batched.state.entries, "entries");
        assertEq(single.state.epoch, batched.state.epoch, "epoch");
    }

    /// @dev The cases the fuzzer must not miss, pinned: a success by each kind of writer, and a
    /// record that is wrong twice over (zero digest and wrong epoch), which both paths must
    /// refuse with the same first error.
    function test_addRecord_matchesAOneRecordBatch_pinnedCases() public {
        testFuzz_addRecord_matchesAOneRecordBatch(Case(keccak256("a"), 0, 3, 0, false, false, false, false));
        testFuzz_addRecord_matchesAOneRecordBatch(Case(keccak256("b"), 1, 4, 1, false, true, false, false));
        testFuzz_addRecord_matchesAOneRecordBatch(Case(keccak256("c"), 1, 7, 3, false, true, true, false));
        testFuzz_addRecord_matchesAOneRecordBatch(Case(bytes32(0), 0, 3, 0, true, false, false, false));
        testFuzz_addRecord_matchesAOneRecordBatch(Case(keccak256("d"), 1, 3, 1, false, false, false, true));
    }
}
