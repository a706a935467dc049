// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {RecordIndex} from "../src/RecordIndex.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IAccessHooks} from "../src/interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice The deployed stack (index, role registry and consent registry wired together), the
/// cast, and the helpers every RecordIndex test uses, including the reference accumulator.
abstract contract RecordIndexBase is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant BOB_PK = 0xB0B;
    uint256 internal constant CAROL_PK = 0xCA401;

    /// @dev Categories as clients send them: a patient's opaque ids (16 bytes of HMAC, then
    /// zeros; docs/protocol.md §2.2), never names. These are tests/vectors/index/keys.json's
    /// ids of "lab" and "imaging" (every byte non-zero: the calldata worst case) and one more.
    bytes32 internal constant LAB = 0x837c9eb0c9f5acadcda01a53368810c300000000000000000000000000000000;
    bytes32 internal constant IMAGING = 0x37b411678f7be74163d6d4252d11212400000000000000000000000000000000;
    bytes32 internal constant NOTES = 0x5e0f2a9c7d41b3e8a6c19f02d4b7e35100000000000000000000000000000000;
    /// @dev Another category id of the patient (the lab tech's grant in the gas tests).
    bytes32 internal constant PRESCRIPTION =
        0xc4d1e7a3958b2f06e1d37a9bc05f48e200000000000000000000000000000000;

    address internal doctor2 = address(0x2004);
    address internal doctor3 = address(0x2005);
    address internal alice;
    address internal bob;
    address internal carol; // never registers

    function setUp() public virtual {
        vm.warp(T0);
        _deployStack();
        _addOrganizations();
        _addStaff(hospital, doctor);
        _addStaff(hospital, doctor2);
        _addStaff(hospital, doctor3);
        _addStaff(lab, tech);
        _addStaff(insurer, clerk);

        alice = _registerPatient(ALICE_PK);
        bob = _registerPatient(BOB_PK);
        carol = vm.addr(CAROL_PK);
    }

    // ---------------------------------------------------------------------------------
    // Helpers: cast and consent
    // ---------------------------------------------------------------------------------

    function _grant(address patient, address grantee, IConsentRegistry.Scope memory scope, uint256 duration)
        internal
    {
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: patient,
            grantee: grantee,
            scope: scope,
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(block.timestamp + duration),
            epoch: consent.epochOf(patient),
            wrappedKeys: hex"04a1b2c3"
        });
        vm.prank(patient);
        consent.grant(req);
    }

    function _grantCategory(address patient, address grantee, bytes32 category) internal {
        _grant(patient, grantee, _categoryScope(category), 30 days);
    }

    function _grantAll(address patient, address grantee) internal {
        _grant(patient, grantee, _allScope(), 30 days);
    }

    function _revoke(address patient, address grantee) internal {
        vm.prank(patient);
        consent.revoke(grantee);
    }

    function _epoch(address patient) internal view returns (uint64) {
        return consent.epochOf(patient);
    }

    // ---------------------------------------------------------------------------------
    // Helpers: records
    // ---------------------------------------------------------------------------------

    /// @dev `count` pseudo-random 16-byte tags.
    function _tags(uint256 count, uint256 seed) internal pure returns (bytes memory tags) {
        tags = new bytes(count * 16);
        for (uint256 i; i < count; ++i) {
            bytes16 tag = bytes16(keccak256(abi.encode(seed, i)));
            assembly {
                mstore(add(add(tags, 0x20), mul(i, 16)), tag)
            }
        }
    }

    function _digest(uint256 seed) internal pure returns (bytes32) {
        return keccak256(abi.encode("digest", seed));
    }

    function _add(address writer, address patient, bytes32 category, uint256 seed)
        internal
        returns (uint64 recordId)
    {
        bytes memory tags = _tags(16, seed);
        uint64 epoch = _epoch(patient);
        vm.prank(writer);
        recordId = index.addRecord(patient, _digest(seed), category, epoch, tags);
    }

    /// @dev `_add`, expected to revert `IndexNotAuthorized(patient, writer, category)`.
    function _addRefused(address writer, address patient, bytes32 category, uint256 seed) internal {
        bytes memory tags = _tags(16, seed);
        uint64 epoch = _epoch(patient);
        vm.prank(writer);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexNotAuthorized.selector, patient, writer, category)
        );
        index.addRecord(patient, _digest(seed), category, epoch, tags);
    }

    /// @dev Tries `addRecord` as `writer` and returns whether it succeeded.
    function _tryAdd(address writer, address patient, bytes32 category) internal returns (bool ok) {
        bytes memory data = abi.encodeCall(
            IRecordIndex.addRecord, (patient, _digest(1), category, _epoch(patient), _tags(8, 1))
        );
        vm.prank(writer);
        (ok,) = address(index).call(data);
    }

    /// @dev A sealed read log with a `padded`-byte plaintext (its bytes are opaque to the
    /// contract; non-zero, as ciphertext is, so calldata costs what it would).
    function _sealed(uint256 padded, uint8 fill) internal pure returns (bytes memory out) {
        out = new bytes(49 + padded);
        for (uint256 i; i < out.length; ++i) {
            out[i] = bytes1(fill);
        }
    }
}

/// @notice Unit and fuzz tests of RecordIndex against the real registries.
contract RecordIndexTest is RecordIndexBase {
    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    function _expectRecordAdded(
        address patient,
        uint64 recordId,
        address writer,
        bytes32 digest,
        bytes32 category,
        uint64 epoch,
        bytes memory tags
    ) internal {
        vm.expectEmit(true, true, true, true, address(index));
        emit IRecordIndex.RecordAdded(patient, recordId, writer, digest, category, epoch, tags);
    }

    function _assertState(address patient, bytes32 acc, uint256 records, uint256 entries, uint256 epoch)
        internal
        view
    {
        IRecordIndex.IndexState memory state = index.stateOf(patient);
        assertEq(state.accumulator, acc, "accumulator");
        assertEq(state.records, records, "records");
        assertEq(state.entries, entries, "entries");
        assertEq(state.epoch, epoch, "epoch");
    }

    function _input(bytes32 category, uint256 seed) internal pure returns (IRecordIndex.RecordInput memory) {
        return IRecordIndex.RecordInput(_digest(seed), category, _tags(8, seed));
    }

    function _addAs(address writer, address patient, bytes32 category, bytes memory tags, uint256 seed)
        internal
        returns (uint64)
    {
        uint64 epoch = _epoch(patient);
        vm.prank(writer);
        return index.addRecord(patient, _digest(seed), category, epoch, tags);
    }

    function _freshStack() internal returns (RecordIndex fresh, RoleRegistry r, ConsentRegistry c) {
        fresh = new RecordIndex();
        r = new RoleRegistry(1 days, admin, IAccessHooks(address(fresh)));
        c = new ConsentRegistry(r, IAccessHooks(address(fresh)), NO_POLICY);
    }

    // ---------------------------------------------------------------------------------
    // Constructor, wiring and views
    // ---------------------------------------------------------------------------------

    function test_constructor_unwired() public {
        RecordIndex fresh = new RecordIndex();
        assertEq(fresh.wirer(), address(this));
        assertEq(fresh.roles(), address(0));
        assertEq(fresh.consent(), address(0));
        assertEq(fresh.MAX_BATCH(), 256);
    }

    function test_wire_setsRegistriesOnce() public {
        (RecordIndex fresh, RoleRegistry r, ConsentRegistry c) = _freshStack();
        fresh.wire(address(r), address(c));
        assertEq(fresh.roles(), address(r));
        assertEq(fresh.consent(), address(c));
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.wire(address(r), address(c));
    }

    function test_wire_reverts() public {
        (RecordIndex fresh, RoleRegistry r, ConsentRegistry c) = _freshStack();
        vm.prank(outsider);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.wire(address(r), address(c));
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.wire(address(0), address(c));
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.wire(address(r), address(0));
        assertEq(fresh.roles(), address(0));
    }

    function test_views_wired() public view {
        assertEq(index.roles(), address(roles));
        assertEq(index.consent(), address(consent));
        assertEq(roles.hooks(), address(index));
        assertEq(consent.hooks(), address(index));
    }

    /// @dev The hand-managed layout documented in RecordIndex's @dev: namespace prefixes are
    /// keccak256 of their names with the low 160 (161) bits cleared, OR-ed with the address.
    function test_storageLayout_matchesTheDocumentation() public {
        uint256 patients = uint256(keccak256("ehrkit.RecordIndex.patients")) & ~((uint256(1) << 161) - 1);
        uint256 staffNs = uint256(keccak256("ehrkit.RecordIndex.staff")) & ~((uint256(1) << 160) - 1);
        uint256 orgs = uint256(keccak256("ehrkit.RecordIndex.orgs")) & ~((uint256(1) << 160) - 1);
        bytes32 grants = keccak256("ehrkit.RecordIndex.grants");
        _grantCategory(alice, doctor, LAB);
        _add(doctor, alice, LAB, 1);
        uint256 accSlot = patients | (uint256(uint160(alice)) << 1);
        IRecordIndex.IndexState memory state = index.stateOf(alice);
        assertEq(vm.load(address(index), bytes32(accSlot)), state.accumulator);
        // records 1, entries 1, epoch 0, registered.
        assertEq(uint256(vm.load(address(index), bytes32(accSlot | 1))), 1 | (1 << 64) | (1 << 192));
        assertEq(
            vm.load(address(index), bytes32(staffNs | uint160(doctor))), bytes32(uint256(uint160(hospital)))
        );
        assertEq(uint256(vm.load(address(index), bytes32(orgs | uint160(hospital)))), 1);
        assertEq(uint256(vm.load(address(index), bytes32(orgs | uint160(insurer)))), 0);
        bytes32 grantSlot = keccak256(abi.encode(alice, doctor, keccak256(abi.encode(uint8(1), LAB)), grants));
        assertEq(
            uint256(vm.load(address(index), grantSlot)),
            consent.grantOf(alice, doctor, _categoryScope(LAB)).expiry
        );
        // Solidity's own variables stay at slots 0 and 1.
        assertEq(vm.load(address(index), bytes32(0)), bytes32(uint256(uint160(address(roles)))));
        assertEq(vm.load(address(index), bytes32(uint256(1))), bytes32(uint256(uint160(address(consent)))));
    }

    function test_stateOf_unknownPatientIsZero() public view {
        _assertState(carol, bytes32(0), 0, 0, 0);
        _assertState(alice, bytes32(0), 0, 0, 0);
    }

    // ---------------------------------------------------------------------------------
    // Hooks: access control and the mirror
    // ---------------------------------------------------------------------------------

    function test_hooks_revertBeforeWiring() public {
        (RecordIndex fresh, RoleRegistry r, ConsentRegistry c) = _freshStack();
        bytes32[] memory ids = new bytes32[](0);
        vm.startPrank(address(r));
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.onOrganizationChanged(hospital, true);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.onStaffChanged(doctor, hospital);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.onPatientRegistered(alice);
        vm.stopPrank();
        vm.startPrank(address(c));
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.onGrant(alice, doctor, bytes32(0), 1);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.onRevoke(alice, doctor, ids, 1);
        vm.stopPrank();
        // So a registry wired to an unwired index cannot change anything yet.
        vm.prank(admin);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        r.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
    }

    function test_hooks_onlyTheRightRegistry() public {
        bytes32[] memory ids = new bytes32[](0);
        address[3] memory strangers = [outsider, address(consent), alice];
        for (uint256 i; i < strangers.length; ++i) {
            vm.startPrank(strangers[i]);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnauthorizedHook.selector, strangers[i]));
            index.onOrganizationChanged(outsider, true);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnauthorizedHook.selector, strangers[i]));
            index.onStaffChanged(outsider, hospital);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnauthorizedHook.selector, strangers[i]));
            index.onPatientRegistered(outsider);
            vm.stopPrank();
        }
        strangers[1] = address(roles);
        for (uint256 i; i < strangers.length; ++i) {
            vm.startPrank(strangers[i]);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnauthorizedHook.selector, strangers[i]));
            index.onGrant(alice, outsider, bytes32(0), type(uint64).max);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnauthorizedHook.selector, strangers[i]));
            index.onRevoke(alice, outsider, ids, 7);
            vm.stopPrank();
        }
        assertFalse(index.mirrorAllows(alice, outsider, LAB));
        assertEq(index.stateOf(alice).epoch, 0);
    }

    function test_hooks_registriesFeedTheMirror() public {
        // Patients register through the role registry; the mirror knows them.
        assertTrue(index.mirrorAllows(alice, alice, LAB));
        assertFalse(index.mirrorAllows(carol, carol, LAB));
        _registerPatient(CAROL_PK);
        assertTrue(index.mirrorAllows(carol, carol, LAB));
        // A grant reaches the mirror; a Record grant does not authorize writing.
        assertFalse(index.mirrorAllows(alice, doctor, LAB));
        _grant(alice, doctor, _recordScope(1), 1 days);
        assertFalse(index.mirrorAllows(alice, doctor, LAB));
        _grantCategory(alice, doctor, LAB);
        assertTrue(index.mirrorAllows(alice, doctor, LAB));
        assertFalse(index.mirrorAllows(alice, doctor, IMAGING));
        assertFalse(index.mirrorAllows(bob, doctor, LAB));
        // Staff removal, organization removal and re-adding are mirrored.
        vm.prank(admin);
        roles.removeOrganization(hospital);
        assertFalse(index.mirrorAllows(alice, doctor, LAB));
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        assertTrue(index.mirrorAllows(alice, doctor, LAB));
        vm.prank(hospital);
        roles.removeStaff(doctor);
        assertFalse(index.mirrorAllows(alice, doctor, LAB));
        // Revocation deletes the grant and moves the epoch.
        vm.prank(hospital);
        roles.addStaff(doctor);
        assertTrue(index.mirrorAllows(alice, doctor, LAB));
        _revoke(alice, doctor);
        assertFalse(index.mirrorAllows(alice, doctor, LAB));
        assertEq(index.stateOf(alice).epoch, 1);
    }

    // ---------------------------------------------------------------------------------
    // addRecord
    // ---------------------------------------------------------------------------------

    function test_addRecord_patientStoresAndEmits() public {
        bytes memory tags = _tags(16, 1);
        _expectRecordAdded(alice, 1, alice, _digest(1), LAB, 0, tags);
        vm.prank(alice);
        uint64 id = index.addRecord(alice, _digest(1), LAB, 0, tags);
        assertEq(id, 1);
        _assertState(alice, _refRecord(bytes32(0), 1, _digest(1), tags, LAB, 0, alice), 1, 1, 0);
        _assertState(bob, bytes32(0), 0, 0, 0);
    }

    function test_addRecord_chainsAcrossWriters() public {
        _grantCategory(alice, doctor, LAB);
        _grantAll(alice, doctor2);
        _grantCategory(alice, tech, IMAGING);
        uint64 epoch = _epoch(alice);
        bytes32 acc;
        address[4] memory writers = [alice, doctor, doctor2, tech];
        bytes32[4] memory categories = [NOTES, LAB, NOTES, IMAGING];
        for (uint256 i; i < 4; ++i) {
            bytes memory tags = _tags(8 << (i % 4), i); // 8, 16, 32, 64 tags
            _expectRecordAdded(alice, uint64(i + 1), writers[i], _digest(i), categories[i], epoch, tags);
            vm.prank(writers[i]);
            assertEq(index.addRecord(alice, _digest(i), categories[i], epoch, tags), i + 1);
            acc = _refRecord(acc, uint64(i + 1), _digest(i), tags, categories[i], epoch, writers[i]);
            _assertState(alice, acc, i + 1, i + 1, epoch);
        }
    }

    function test_addRecord_everyTagBucket() public {
        for (uint256 n = 8; n <= 64; n *= 2) {
            _addAs(alice, alice, LAB, _tags(n, n), n);
        }
        assertEq(index.stateOf(alice).records, 4);
    }

    function test_addRecord_revertsOnZeroDigest() public {
        vm.prank(alice);
        vm.expectRevert(IRecordIndex.IndexZeroDigest.selector);
        index.addRecord(alice, bytes32(0), bytes32(0), 0, ""); // the digest before the rest of the record
    }

    function test_addRecord_checksTheEpochFirst() public {
        // As a one-record addRecords does (the batch's epoch before its records).
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 9, 0));
        index.addRecord(alice, bytes32(0), bytes32(0), 9, "");
    }

    function test_addRecord_revertsOnZeroCategory() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidCategory.selector, bytes32(0)));
        index.addRecord(alice, _digest(1), bytes32(0), 0, ""); // before the tags
    }

    function test_addRecord_revertsOnInvalidTags() public {
        uint256[9] memory lengths = [uint256(0), 16, 112, 127, 129, 384, 768, 1040, 2048];
        for (uint256 i; i < lengths.length; ++i) {
            bytes memory tags = new bytes(lengths[i]);
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidTags.selector, lengths[i]));
            index.addRecord(alice, _digest(1), LAB, 0, tags); // before the writer
        }
    }

    function test_addRecord_revertsOnWrongEpoch() public {
        bytes memory tags = _tags(8, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 1, 0));
        index.addRecord(alice, _digest(1), LAB, 1, tags);
        // The epoch is checked before the writer.
        vm.prank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 3, 0));
        index.addRecord(alice, _digest(1), LAB, 3, tags);
    }

    function test_addRecord_wrongEpochAfterRevoke() public {
        _grantCategory(alice, doctor, LAB);
        _grantAll(alice, doctor2);
        _add(doctor2, alice, LAB, 1);
        _revoke(alice, doctor);
        assertEq(index.stateOf(alice).epoch, 1);
        bytes memory tags = _tags(8, 2);
        vm.prank(doctor2);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 0, 1));
        index.addRecord(alice, _digest(2), LAB, 0, tags);
        vm.prank(doctor2);
        index.addRecord(alice, _digest(2), LAB, 1, tags);
        _assertState(
            alice,
            _refRecord(
                _refRecord(bytes32(0), 1, _digest(1), _tags(16, 1), LAB, 0, doctor2),
                2,
                _digest(2),
                tags,
                LAB,
                1,
                doctor2
            ),
            2,
            2,
            1
        );
    }

    function test_addRecord_doctorWithCategoryGrant() public {
        _grantCategory(alice, doctor, LAB);
        assertEq(_add(doctor, alice, LAB, 1), 1);
        _addRefused(doctor, alice, IMAGING, 2);
        _addRefused(doctor, bob, LAB, 3);
    }

    function test_addRecord_doctorWithAllGrant() public {
        _grantAll(alice, doctor);
        _add(doctor, alice, LAB, 1);
        _add(doctor, alice, IMAGING, 2);
        _add(doctor, alice, NOTES, 3);
        assertEq(index.stateOf(alice).records, 3);
    }

    function test_addRecord_labStaffWrite() public {
        _grantCategory(alice, tech, LAB);
        _add(tech, alice, LAB, 1);
    }

    function test_addRecord_revertsForUnauthorizedWriters() public {
        // Grants that do not make a writer: an insurer's staff, an organization account, a
        // Record scope, another category, another patient's grant.
        _grantAll(alice, clerk);
        _grantAll(alice, lab);
        _grant(alice, doctor, _recordScope(1), 1 days);
        _grantCategory(alice, doctor2, IMAGING);
        _grantAll(bob, doctor3);
        address[6] memory writers = [clerk, lab, doctor, doctor2, doctor3, outsider];
        for (uint256 i; i < writers.length; ++i) {
            _addRefused(writers[i], alice, LAB, i);
            assertFalse(index.canWrite(alice, writers[i], LAB));
        }
        // Patients write only for themselves, and only once registered.
        _addRefused(bob, alice, LAB, 7);
        _addRefused(carol, carol, LAB, 8);
        _registerPatient(CAROL_PK);
        _add(carol, carol, LAB, 8);
    }

    function test_addRecord_expiredGrant() public {
        _grant(alice, doctor, _categoryScope(LAB), 1 hours);
        vm.warp(block.timestamp + 1 hours - 1);
        _add(doctor, alice, LAB, 1);
        vm.warp(block.timestamp + 1);
        _addRefused(doctor, alice, LAB, 2);
        // An expired Category grant does not hide a valid All grant.
        _grantAll(alice, doctor);
        _add(doctor, alice, LAB, 2);
    }

    function test_addRecord_revokedGrant() public {
        _grantCategory(alice, doctor, LAB);
        _grantAll(alice, doctor);
        _add(doctor, alice, LAB, 1);
        _revoke(alice, doctor);
        _addRefused(doctor, alice, LAB, 2); // the current epoch, still refused
        _grantCategory(alice, doctor, LAB);
        _add(doctor, alice, LAB, 2);
    }

    function test_addRecord_deactivatedDoctor() public {
        _grantCategory(alice, doctor, LAB);
        vm.prank(hospital);
        roles.removeStaff(doctor);
        _addRefused(doctor, alice, LAB, 1);
        // Re-joining (any hospital or lab) restores the still-valid grant.
        vm.prank(lab);
        roles.addStaff(doctor);
        _add(doctor, alice, LAB, 1);
    }

    function test_addRecord_removedOrganizationThenReAdded() public {
        _grantCategory(alice, doctor, LAB);
        vm.prank(admin);
        roles.removeOrganization(hospital);
        _addRefused(doctor, alice, LAB, 1);
        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        _add(doctor, alice, LAB, 1);
        assertTrue(index.mirrorAllows(alice, doctor, LAB));
    }

    function test_addRecord_organizationReAddedAsInsurer() public {
        _grantCategory(alice, doctor, LAB);
        vm.startPrank(admin);
        roles.removeOrganization(hospital);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Insurer, "St. Mary Insurance");
        vm.stopPrank();
        _addRefused(doctor, alice, LAB, 1);
        vm.startPrank(admin);
        roles.removeOrganization(hospital);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Lab, "St. Mary Lab");
        vm.stopPrank();
        _add(doctor, alice, LAB, 1);
    }

    function test_addRecord_emergencyFallback() public {
        assertFalse(index.canWrite(alice, doctor3, LAB));
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        // Not mirrored; the registries allow it, for every category.
        assertFalse(index.mirrorAllows(alice, doctor3, LAB));
        assertTrue(index.canWrite(alice, doctor3, LAB));
        _add(doctor3, alice, LAB, 1);
        _add(doctor3, alice, IMAGING, 2);
        // Not for another patient; and it ends when closed.
        _addRefused(doctor3, bob, LAB, 3);
        vm.prank(alice);
        consent.closeEmergencyAccess(alice, doctor3);
        assertFalse(index.canWrite(alice, doctor3, LAB));
        _addRefused(doctor3, alice, LAB, 3);
    }

    function test_addRecord_emergencyEndsWithTimeAndStatus() public {
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.warp(block.timestamp + 1 hours);
        _addRefused(doctor3, alice, LAB, 1);
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.prank(admin);
        roles.removeOrganization(hospital);
        _addRefused(doctor3, alice, LAB, 1);
    }

    function test_addRecord_beforeWiringReverts() public {
        (RecordIndex fresh,,) = _freshStack();
        bytes memory tags = _tags(8, 1);
        vm.prank(alice);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.addRecord(alice, _digest(1), LAB, 0, tags);
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](1);
        records[0] = _input(LAB, 1);
        vm.prank(alice);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.addRecords(alice, 0, records);
        vm.prank(alice);
        vm.expectRevert(IRecordIndex.IndexWiring.selector);
        fresh.logReads(alice, new bytes(49 + 32));
        assertFalse(fresh.canWrite(alice, alice, LAB));
    }

    // ---------------------------------------------------------------------------------
    // addRecords
    // ---------------------------------------------------------------------------------

    function test_addRecords_chainsEmitsAndStoresOnce() public {
        _grantAll(alice, doctor);
        _add(alice, alice, NOTES, 50); // record 1
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](4);
        records[0] = _input(LAB, 1);
        records[1] = _input(LAB, 2);
        records[2] = IRecordIndex.RecordInput(_digest(3), IMAGING, _tags(64, 3));
        records[3] = _input(LAB, 4);
        bytes32 acc = index.stateOf(alice).accumulator;
        for (uint256 i; i < 4; ++i) {
            _expectRecordAdded(
                alice, uint64(i + 2), doctor, records[i].digest, records[i].category, 0, records[i].tags
            );
            acc = _refRecord(
                acc, uint64(i + 2), records[i].digest, records[i].tags, records[i].category, 0, doctor
            );
        }
        vm.prank(doctor);
        assertEq(index.addRecords(alice, 0, records), 2);
        _assertState(alice, acc, 5, 5, 0);
    }

    function test_addRecords_equalsSequentialAdds() public {
        _grantAll(alice, doctor);
        _grantAll(bob, doctor);
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](5);
        for (uint256 i; i < 5; ++i) {
            records[i] = _input(i % 2 == 0 ? LAB : IMAGING, i);
            vm.prank(doctor);
            index.addRecord(bob, records[i].digest, records[i].category, 0, records[i].tags);
        }
        vm.prank(doctor);
        index.addRecords(alice, 0, records);
        assertEq(index.stateOf(alice).accumulator, index.stateOf(bob).accumulator);
    }

    function test_addRecords_batchSizeBounds() public {
        IRecordIndex.RecordInput[] memory none = new IRecordIndex.RecordInput[](0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidBatchSize.selector, 0, 256));
        index.addRecords(alice, 0, none);
        IRecordIndex.RecordInput[] memory tooMany = new IRecordIndex.RecordInput[](257);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidBatchSize.selector, 257, 256));
        index.addRecords(alice, 0, tooMany);
        IRecordIndex.RecordInput[] memory max = new IRecordIndex.RecordInput[](256);
        for (uint256 i; i < 256; ++i) {
            max[i] = _input(LAB, i);
        }
        vm.prank(alice);
        assertEq(index.addRecords(alice, 0, max), 1);
        assertEq(index.stateOf(alice).records, 256);
    }

    function test_addRecords_checksEveryRecord() public {
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](3);
        records[0] = _input(LAB, 1);
        records[1] = _input(LAB, 2);
        records[2] = _input(LAB, 3);
        records[1].digest = bytes32(0);
        vm.prank(alice);
        vm.expectRevert(IRecordIndex.IndexZeroDigest.selector);
        index.addRecords(alice, 0, records);
        records[1].digest = _digest(2);
        records[2].category = bytes32(0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidCategory.selector, bytes32(0)));
        index.addRecords(alice, 0, records);
        records[2].category = LAB;
        records[0].tags = new bytes(200);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidTags.selector, 200));
        index.addRecords(alice, 0, records);
        records[0].tags = _tags(8, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 4, 0));
        index.addRecords(alice, 4, records);
        _assertState(alice, bytes32(0), 0, 0, 0);
    }

    function test_addRecords_authorizesEveryCategory() public {
        _grantCategory(alice, doctor, LAB);
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](3);
        records[0] = _input(LAB, 1);
        records[1] = _input(LAB, 2);
        records[2] = _input(IMAGING, 3);
        vm.prank(doctor);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexNotAuthorized.selector, alice, doctor, IMAGING)
        );
        index.addRecords(alice, 0, records);
        // Alternating categories are each checked again (only the last one is cached).
        _grantCategory(alice, doctor, IMAGING);
        records[1].category = IMAGING;
        vm.prank(doctor);
        index.addRecords(alice, 0, records);
        assertEq(index.stateOf(alice).records, 3);
        // By emergency access (the registry fallback) too.
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.prank(doctor3);
        index.addRecords(alice, 0, records);
        assertEq(index.stateOf(alice).records, 6);
    }

    // ---------------------------------------------------------------------------------
    // supersede
    // ---------------------------------------------------------------------------------

    function test_supersede_tombstoneThenRecord() public {
        _grantCategory(alice, doctor, LAB);
        _add(alice, alice, LAB, 1);
        _add(doctor, alice, LAB, 2);
        bytes32 acc = index.stateOf(alice).accumulator;
        bytes memory tags = _tags(32, 9);

        vm.expectEmit(true, true, true, true, address(index));
        emit IRecordIndex.RecordSuperseded(alice, 1, doctor, 3, LAB, 0);
        _expectRecordAdded(alice, 3, doctor, _digest(9), LAB, 0, tags);
        vm.prank(doctor);
        assertEq(index.supersede(alice, 1, _digest(9), LAB, 0, tags), 3);

        acc = _refTombstone(acc, 1, 3, LAB, 0, doctor);
        acc = _refRecord(acc, 3, _digest(9), tags, LAB, 0, doctor);
        _assertState(alice, acc, 3, 4, 0);
        // The new record can be superseded too, by the patient.
        vm.prank(alice);
        assertEq(index.supersede(alice, 3, _digest(10), LAB, 0, tags), 4);
        _assertState(
            alice,
            _refRecord(_refTombstone(acc, 3, 4, LAB, 0, alice), 4, _digest(10), tags, LAB, 0, alice),
            4,
            6,
            0
        );
    }

    function test_supersede_reverts() public {
        _grantCategory(alice, doctor, LAB);
        _add(alice, alice, LAB, 1);
        bytes memory tags = _tags(8, 2);
        vm.startPrank(doctor);
        vm.expectRevert(IRecordIndex.IndexZeroDigest.selector);
        index.supersede(alice, 1, bytes32(0), LAB, 0, tags);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidCategory.selector, bytes32(0)));
        index.supersede(alice, 1, _digest(2), bytes32(0), 0, tags);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidTags.selector, 0));
        index.supersede(alice, 1, _digest(2), LAB, 0, "");
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnknownRecord.selector, alice, 0));
        index.supersede(alice, 0, _digest(2), LAB, 0, tags);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnknownRecord.selector, alice, 2));
        index.supersede(alice, 2, _digest(2), LAB, 0, tags);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexUnknownRecord.selector, bob, 1));
        index.supersede(bob, 1, _digest(2), LAB, 0, tags);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 1, 0));
        index.supersede(alice, 1, _digest(2), LAB, 1, tags);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexNotAuthorized.selector, alice, doctor, IMAGING)
        );
        index.supersede(alice, 1, _digest(2), IMAGING, 0, tags);
        vm.stopPrank();
        vm.prank(outsider);
        vm.expectRevert(
            abi.encodeWithSelector(IRecordIndex.IndexNotAuthorized.selector, alice, outsider, LAB)
        );
        index.supersede(alice, 1, _digest(2), LAB, 0, tags);
        _assertState(alice, _refRecord(bytes32(0), 1, _digest(1), _tags(16, 1), LAB, 0, alice), 1, 1, 0);
    }

    // ---------------------------------------------------------------------------------
    // logReads
    // ---------------------------------------------------------------------------------

    function test_logReads_currentGrantees() public {
        bytes memory sealedReads = _sealed(32, 7);
        _grant(alice, doctor, _recordScope(7), 1 days); // any scope counts
        _grantAll(alice, lab); // organizations too
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        address[3] memory readers = [doctor, lab, doctor3];
        for (uint256 i; i < readers.length; ++i) {
            vm.expectEmit(true, true, true, true, address(index));
            emit IRecordIndex.ReadsLogged(alice, readers[i], sealedReads);
            vm.prank(readers[i]);
            index.logReads(alice, sealedReads);
        }
    }

    function test_logReads_revertsForNonGrantees() public {
        _grant(alice, doctor, _categoryScope(LAB), 1 hours);
        _grantAll(alice, doctor2);
        _grantAll(alice, tech);
        vm.prank(hospital);
        roles.removeStaff(doctor2);
        vm.prank(admin);
        roles.removeOrganization(lab);
        _revoke(alice, doctor);
        _grant(alice, doctor, _categoryScope(LAB), 1 hours);
        vm.warp(block.timestamp + 1 hours);
        // Expired, removed staff, removed organization, no grant, the patient itself, another patient.
        address[6] memory strangers = [doctor, doctor2, tech, outsider, alice, bob];
        for (uint256 i; i < strangers.length; ++i) {
            vm.prank(strangers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(IRecordIndex.IndexNotGrantee.selector, alice, strangers[i])
            );
            index.logReads(alice, _sealed(32, 1));
        }
    }

    /// The reader of a log is always the caller: a grantee of Alice cannot put a read in
    /// another account's name, nor a log of Alice's under Bob's patient.
    function test_logReads_readerIsAlwaysTheCaller() public {
        _grantAll(alice, doctor);
        vm.recordLogs();
        vm.prank(doctor);
        index.logReads(alice, _sealed(32, 3));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], IRecordIndex.ReadsLogged.selector);
        assertEq(logs[0].topics[1], bytes32(uint256(uint160(alice))));
        assertEq(logs[0].topics[2], bytes32(uint256(uint160(doctor))));
        vm.prank(doctor);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexNotGrantee.selector, bob, doctor));
        index.logReads(bob, _sealed(32, 3));
    }

    function test_logReads_lengthIsABucket() public {
        _grantAll(alice, doctor);
        uint256[4] memory bad = [uint256(0), 49, 49 + 31, 49 + 4096 * 2];
        for (uint256 i; i < bad.length; ++i) {
            vm.prank(doctor);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidReadLog.selector, bad[i]));
            index.logReads(alice, new bytes(bad[i]));
        }
        for (uint256 k = 5; k <= 12; ++k) {
            vm.prank(doctor);
            index.logReads(alice, new bytes(49 + (1 << k)));
        }
    }

    /// Any length other than 49 + 2^k (k = 5 to 12) is refused before anything else is read,
    /// so a log never shows an exact size.
    function testFuzz_logReads_lengths(uint16 length) public {
        _grantAll(alice, doctor);
        uint256 padded = length > 49 ? length - 49 : 0;
        bool valid = padded >= 32 && padded <= 4096 && padded & (padded - 1) == 0;
        vm.prank(doctor);
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidReadLog.selector, length));
        }
        index.logReads(alice, new bytes(length));
    }

    /// Whoever calls, the log names the caller or fails: no account but a grantee of the
    /// patient ever gets a read logged.
    function testFuzz_logReads_onlyGrantees(address caller) public {
        vm.assume(caller != doctor && caller != address(0));
        _grantAll(alice, doctor);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexNotGrantee.selector, alice, caller));
        index.logReads(alice, _sealed(32, 9));
    }

    // ---------------------------------------------------------------------------------
    // canWrite
    // ---------------------------------------------------------------------------------

    function test_canWrite_followsTheRule() public {
        assertTrue(index.canWrite(alice, alice, LAB));
        assertFalse(index.canWrite(alice, alice, bytes32(0)));
        assertFalse(index.canWrite(carol, carol, LAB));
        assertFalse(index.canWrite(alice, bob, LAB));
        assertFalse(index.canWrite(alice, doctor, LAB));
        _grantCategory(alice, doctor, LAB);
        assertTrue(index.canWrite(alice, doctor, LAB));
        assertFalse(index.canWrite(alice, doctor, IMAGING));
        assertFalse(index.canWrite(alice, doctor, bytes32(0)));
        _grantAll(alice, clerk);
        assertFalse(index.canWrite(alice, clerk, LAB));
    }

    // ---------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------

    function testFuzz_addRecord_tagLengths(uint256 length) public {
        length = bound(length, 0, 2100);
        bytes memory tags = new bytes(length);
        bool valid = length == 128 || length == 256 || length == 512 || length == 1024;
        vm.prank(alice);
        if (!valid) vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidTags.selector, length));
        index.addRecord(alice, _digest(1), LAB, 0, tags);
        assertEq(index.stateOf(alice).records, valid ? 1 : 0);
    }

    function testFuzz_addRecords_batchSize(uint256 size) public {
        size = bound(size, 0, MAX + 20);
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](size);
        bytes memory tags = _tags(8, 1);
        for (uint256 i; i < size; ++i) {
            records[i] = IRecordIndex.RecordInput(bytes32(i + 1), LAB, tags);
        }
        bool valid = size >= 1 && size <= MAX;
        vm.prank(alice);
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidBatchSize.selector, size, MAX));
        }
        index.addRecords(alice, 0, records);
        IRecordIndex.IndexState memory state = index.stateOf(alice);
        assertEq(state.records, valid ? size : 0);
        assertEq(state.entries, valid ? size : 0);
    }

    uint256 internal constant MAX = 256;

    function testFuzz_addRecord_category(bytes32 category) public {
        _grantAll(alice, doctor);
        _grantCategory(alice, doctor2, LAB);
        if (category == bytes32(0)) {
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexInvalidCategory.selector, category));
            index.addRecord(alice, _digest(1), category, 0, _tags(8, 1));
            return;
        }
        _add(alice, alice, category, 1);
        _add(doctor, alice, category, 2);
        if (category != LAB) _addRefused(doctor2, alice, category, 3);
        else _add(doctor2, alice, category, 3);
        assertEq(index.stateOf(alice).records, category == LAB ? 3 : 2);
    }

    function testFuzz_addRecord_epoch(uint64 given, uint8 revocations) public {
        revocations = uint8(bound(revocations, 0, 6));
        for (uint256 i; i < revocations; ++i) {
            _grantAll(alice, clerk);
            _revoke(alice, clerk);
        }
        assertEq(index.stateOf(alice).epoch, revocations);
        bytes memory tags = _tags(8, 1);
        vm.prank(alice);
        if (given != revocations) {
            vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, given, revocations));
        }
        index.addRecord(alice, _digest(1), LAB, given, tags);
    }

    function testFuzz_addRecord_randomWriter(address random, uint8 pick, bytes32 category) public {
        vm.assume(category != bytes32(0));
        // Half the time a cast member (holding various grants), else any address.
        address[10] memory cast = [doctor, doctor2, doctor3, tech, clerk, lab, hospital, bob, carol, outsider];
        address writer = pick % 2 == 0 ? cast[(pick / 2) % cast.length] : random;
        vm.assume(writer != alice);
        _grantAll(alice, doctor);
        _grantCategory(alice, doctor2, category);
        _grantAll(alice, clerk);
        _grantAll(alice, lab);
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        bool expected =
            roles.isActiveDoctor(writer) && consent.hasAccess(alice, writer, _categoryScope(category));
        assertEq(index.canWrite(alice, writer, category), expected);
        if (!expected) _addRefused(writer, alice, category, 1);
        else _add(writer, alice, category, 1);
    }

    /// @dev A random sequence of adds, batches and supersedes by the patient and a doctor
    /// against the reference accumulator.
    function testFuzz_accumulator_matchesReference(uint256 seed) public {
        _grantAll(alice, doctor);
        bytes32 acc;
        uint64 records;
        uint64 entries;
        for (uint256 step; step < 6; ++step) {
            uint256 r = uint256(keccak256(abi.encode(seed, step)));
            address writer = r & 1 == 0 ? alice : doctor;
            bytes32 category = (r >> 1) & 1 == 0 ? LAB : IMAGING;
            bytes memory tags = _tags(8 << ((r >> 2) % 4), r);
            uint256 action = (r >> 4) % 3;
            if (action == 1 && records > 0) {
                uint64 target = uint64((r >> 8) % records) + 1;
                vm.prank(writer);
                index.supersede(alice, target, _digest(r), category, 0, tags);
                acc = _refTombstone(acc, target, records + 1, category, 0, writer);
                acc = _refRecord(acc, ++records, _digest(r), tags, category, 0, writer);
                entries += 2;
            } else if (action == 2) {
                IRecordIndex.RecordInput[] memory batch = new IRecordIndex.RecordInput[](3);
                for (uint256 i; i < 3; ++i) {
                    batch[i] = IRecordIndex.RecordInput(_digest(r + i), category, tags);
                }
                vm.prank(writer);
                index.addRecords(alice, 0, batch);
                for (uint256 i; i < 3; ++i) {
                    acc = _refRecord(acc, ++records, _digest(r + i), tags, category, 0, writer);
                }
                entries += 3;
            } else {
                vm.prank(writer);
                index.addRecord(alice, _digest(r), category, 0, tags);
                acc = _refRecord(acc, ++records, _digest(r), tags, category, 0, writer);
                entries += 1;
            }
            _assertState(alice, acc, records, entries, 0);
        }
    }
}

/// @notice Whole-transaction gas of the index's writes and of the registry functions that now
/// call hooks.
/// @dev Method: every measured call is the FIRST call of its test, made with a low-level call
/// so its calldata is known exactly; the state it needs was built in `setUp`, which forge runs
/// as a separate transaction, so at the start of each test every slot is cold and its
/// "original" value (which EIP-2200/3529 SSTORE pricing uses) is the committed one, exactly as
/// in a fresh transaction. `vm.lastCallGas()` gives the callee's execution gas (the top frame
/// of a real transaction, whose target account is warm: the CALL cost the test pays is not
/// part of it). The whole transaction is then
///   max(21,000 + 4·zero + 16·non-zero calldata bytes + execution − refund (≤ 1/5),
///       21,000 + 10·(zero + 4·non-zero))           (EIP-7623 calldata floor, Prague).
/// Run with -vv to print the numbers. The access-list variant (EIP-2930) adds 2,400 per listed
/// address and 1,900 per listed slot and saves 2,000 per slot (2,100 → 100) and 2,500 per
/// called registry (2,600 → 100); it is computed here from the measured slot counts.
contract RecordIndexGasTest is RecordIndexBase {
    event log_named_uint(string key, uint256 val);

    address internal dave;
    RoleRegistry internal plainRoles;
    ConsentRegistry internal plainConsent;

    function setUp() public override {
        super.setUp();
        // The same registries without hooks, with the same cast, as the baseline.
        plainRoles = new RoleRegistry(1 days, admin, IAccessHooks(address(0)));
        plainConsent = new ConsentRegistry(plainRoles, IAccessHooks(address(0)), NO_POLICY);
        vm.startPrank(admin);
        plainRoles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        plainRoles.addOrganization(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        vm.stopPrank();
        vm.startPrank(hospital);
        plainRoles.addStaff(doctor);
        plainRoles.addStaff(doctor2);
        vm.stopPrank();
        for (uint256 i; i < 2; ++i) {
            uint256 pk = i == 0 ? ALICE_PK : BOB_PK;
            bytes memory key = publicKeyOf(pk);
            vm.prank(vm.addr(pk));
            plainRoles.registerPatient(key);
        }
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: alice,
            grantee: doctor,
            scope: _categoryScope(LAB),
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(block.timestamp + 30 days),
            epoch: 0,
            wrappedKeys: hex"04a1b2c3"
        });
        vm.prank(alice);
        plainConsent.grant(req);

        dave = _registerPatient(0xDA7E);
        // Alice has records already; the doctor holds a lab grant, doctor2 an All grant,
        // doctor3 only open emergency access; tech holds a lab grant too (lab staff).
        _grantCategory(alice, doctor, LAB);
        _grantAll(alice, doctor2);
        _grantCategory(alice, tech, LAB);
        vm.prank(doctor3);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        _add(alice, alice, LAB, 100);
        _add(doctor, alice, LAB, 101);
        _grantCategory(alice, tech, PRESCRIPTION);
        // The doctor may also write for dave, who has no record yet (first-record case).
        _grantCategory(dave, doctor, LAB);
    }

    /// @dev Whole-transaction gas of `data` sent by `from` to `to` (see the contract's @dev).
    function _measure(address from, address to, bytes memory data, string memory label)
        internal
        returns (uint256 txGas)
    {
        // Building `data` may have read storage (an epoch, say): make every contract cold again.
        vm.cool(address(index));
        vm.cool(address(roles));
        vm.cool(address(consent));
        vm.cool(address(plainRoles));
        vm.cool(address(plainConsent));
        vm.prank(from);
        (bool ok, bytes memory ret) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        Vm.Gas memory gas = vm.lastCallGas();
        (uint256 zeros, uint256 nonZeros) = _count(data);
        uint256 standard = 21_000 + 4 * zeros + 16 * nonZeros + gas.gasTotalUsed;
        uint256 refund = gas.gasRefunded > 0 ? uint256(int256(gas.gasRefunded)) : 0;
        if (refund > standard / 5) refund = standard / 5;
        standard -= refund;
        uint256 floor = 21_000 + 10 * (zeros + 4 * nonZeros);
        txGas = standard > floor ? standard : floor;
        emit log_named_uint(label, txGas);
        emit log_named_uint("  execution", gas.gasTotalUsed);
        emit log_named_uint("  calldata", 4 * zeros + 16 * nonZeros);
    }

    function _count(bytes memory data) internal pure returns (uint256 zeros, uint256 nonZeros) {
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) zeros++;
            else nonZeros++;
        }
    }

    function _addData(address patient, bytes32 category, uint256 tagCount, uint256 seed)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeCall(
            IRecordIndex.addRecord, (patient, _digest(seed), category, _epoch(patient), _tags(tagCount, seed))
        );
    }

    function _batchData(address patient, uint256 count, uint256 tagCount)
        internal
        view
        returns (bytes memory)
    {
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](count);
        for (uint256 i; i < count; ++i) {
            records[i] = IRecordIndex.RecordInput(_digest(1000 + i), LAB, _tags(tagCount, 1000 + i));
        }
        return abi.encodeCall(IRecordIndex.addRecords, (patient, _epoch(patient), records));
    }

    /// @dev The access-list version: `slots` cold slots of the index and `calls` cold registry
    /// calls listed (the index address itself is listed only when slots are).
    function _withAccessList(uint256 txGas, uint256 slots, uint256 addresses)
        internal
        pure
        returns (uint256)
    {
        return txGas + 2_400 * addresses + 1_900 * slots - 2_000 * slots;
    }

    // ----- addRecord: the target (doctor, category grant, 10 keywords → 16-tag bucket) -----

    function test_gas_addRecord_doctorCategory_k10() public {
        uint256 txGas = _measure(
            doctor, address(index), _addData(alice, LAB, 16, 1), "addRecord doctor/category k=10 (16 tags)"
        );
        assertLe(txGas, 50_000, "the 50k budget");
        emit log_named_uint("  with EIP-2930 access list (index + 5 slots)", _withAccessList(txGas, 5, 1));
    }

    /// @dev Every category id costs the same whatever its name's length: 16 non-zero bytes at
    /// most (each non-zero calldata byte costs 12 more than a zero one), then 16 zero bytes.
    function test_gas_addRecord_doctorOtherCategory_k10() public {
        uint256 txGas = _measure(
            tech,
            address(index),
            _addData(alice, PRESCRIPTION, 16, 1),
            "addRecord lab tech/another category id k=10"
        );
        assertLe(txGas, 50_000, "the 50k budget");
    }

    function test_gas_addRecord_doctorCategory_k1() public {
        _measure(doctor, address(index), _addData(alice, LAB, 8, 1), "addRecord doctor/category k=1 (8 tags)");
    }

    function test_gas_addRecord_doctorCategory_k50() public {
        _measure(
            doctor, address(index), _addData(alice, LAB, 64, 1), "addRecord doctor/category k=50 (64 tags)"
        );
    }

    function test_gas_addRecord_doctorAll_k10() public {
        uint256 txGas = _measure(
            doctor2, address(index), _addData(alice, LAB, 16, 1), "addRecord doctor/All k=10 (16 tags)"
        );
        emit log_named_uint("  with EIP-2930 access list (index + 6 slots)", _withAccessList(txGas, 6, 1));
    }

    function test_gas_addRecord_labTechCategory_k10() public {
        _measure(
            tech, address(index), _addData(alice, LAB, 16, 1), "addRecord lab tech/category k=10 (16 tags)"
        );
    }

    function test_gas_addRecord_patient_k10() public {
        _measure(alice, address(index), _addData(alice, LAB, 16, 1), "addRecord patient k=10 (16 tags)");
    }

    function test_gas_addRecord_emergencyFallback_k10() public {
        uint256 txGas = _measure(
            doctor3, address(index), _addData(alice, LAB, 16, 1), "addRecord emergency fallback k=10"
        );
        // Index: 6 slots (2 patient, staff, org, 2 grants) + roles: 2 slots + consent: 4 slots
        // (2 grants, emergency; plus hasAccess's isActiveDoctor re-reads the warm role slots).
        emit log_named_uint(
            "  with EIP-2930 access list (3 addresses, 12 slots, 2 calls)",
            _withAccessList(txGas, 12, 3) - 2 * 2_500
        );
    }

    function test_gas_addRecord_doctorFirstRecord_k10() public {
        _measure(
            doctor,
            address(index),
            _addData(dave, LAB, 16, 1),
            "addRecord doctor first record of patient k=10"
        );
    }

    function test_gas_addRecord_patientFirstRecord_k10() public {
        _measure(dave, address(index), _addData(dave, LAB, 16, 1), "addRecord patient first record k=10");
    }

    // ----- batches -----

    function test_gas_addRecords_10_k10() public {
        uint256 txGas =
            _measure(doctor, address(index), _batchData(alice, 10, 16), "addRecords x10 k=10 (total)");
        emit log_named_uint("  per record", txGas / 10);
    }

    function test_gas_addRecords_100_k10() public {
        uint256 txGas =
            _measure(doctor, address(index), _batchData(alice, 100, 16), "addRecords x100 k=10 (total)");
        emit log_named_uint("  per record", txGas / 100);
    }

    // ----- supersede and logReads -----

    function test_gas_supersede_doctor_k10() public {
        bytes memory data = abi.encodeCall(
            IRecordIndex.supersede, (alice, uint64(1), _digest(7), LAB, _epoch(alice), _tags(16, 7))
        );
        _measure(doctor, address(index), data, "supersede doctor/category k=10");
    }

    function test_gas_logReads_smallest() public {
        bytes memory data = abi.encodeCall(IRecordIndex.logReads, (alice, _sealed(32, 0xa5)));
        _measure(doctor, address(index), data, "logReads 81 bytes (category grantee)");
    }

    function test_gas_logReads_256() public {
        bytes memory data = abi.encodeCall(IRecordIndex.logReads, (alice, _sealed(256, 0xa5)));
        _measure(doctor, address(index), data, "logReads 305 bytes (category grantee)");
    }

    // ----- registry functions that now call hooks (baseline: the same registries without hooks) -----

    /// @dev Measures `data` against the hooked registry, then against its hook-less twin (a
    /// separate contract, so its storage is just as cold), and logs both and the difference.
    function _measurePair(address from, address hooked, address plain, bytes memory data, string memory label)
        internal
    {
        uint256 with = _measure(from, hooked, data, string.concat(label, " (with hook)"));
        uint256 without = _measure(from, plain, data, string.concat(label, " (no hooks)"));
        if (with >= without) {
            emit log_named_uint(string.concat(label, ": added by the hook"), with - without);
        } else {
            emit log_named_uint(string.concat(label, ": saved (!) with the hook"), without - with);
        }
    }

    function test_gas_registry_addOrganization() public {
        bytes memory data = abi.encodeCall(
            IRoleRegistry.addOrganization, (address(0x1010), IRoleRegistry.OrgKind.Hospital, "General")
        );
        _measurePair(admin, address(roles), address(plainRoles), data, "roles.addOrganization");
    }

    function test_gas_registry_removeOrganization() public {
        bytes memory data = abi.encodeCall(IRoleRegistry.removeOrganization, (lab));
        _measurePair(admin, address(roles), address(plainRoles), data, "roles.removeOrganization");
    }

    function test_gas_registry_addStaff() public {
        bytes memory data = abi.encodeCall(IRoleRegistry.addStaff, (address(0x2099)));
        _measurePair(hospital, address(roles), address(plainRoles), data, "roles.addStaff");
    }

    function test_gas_registry_removeStaff() public {
        bytes memory data = abi.encodeCall(IRoleRegistry.removeStaff, (doctor2));
        _measurePair(hospital, address(roles), address(plainRoles), data, "roles.removeStaff");
    }

    function test_gas_registry_registerPatient() public {
        uint256 pk = 0xE11E;
        bytes memory data = abi.encodeCall(IRoleRegistry.registerPatient, (publicKeyOf(pk)));
        _measurePair(vm.addr(pk), address(roles), address(plainRoles), data, "roles.registerPatient");
    }

    function _grantData(address patient, address grantee, IConsentRegistry.Scope memory scope)
        internal
        view
        returns (bytes memory)
    {
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: patient,
            grantee: grantee,
            scope: scope,
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(block.timestamp + 30 days),
            epoch: consent.epochOf(patient),
            wrappedKeys: _tags(8, 5) // 128 bytes of key material
        });
        return abi.encodeCall(IConsentRegistry.grant, (req));
    }

    function test_gas_registry_grant_newCategory() public {
        bytes memory data = _grantData(bob, doctor, _categoryScope(LAB));
        _measurePair(bob, address(consent), address(plainConsent), data, "consent.grant new Category");
    }

    function test_gas_registry_grant_replaceCategory() public {
        bytes memory data = _grantData(alice, doctor, _categoryScope(LAB));
        _measurePair(alice, address(consent), address(plainConsent), data, "consent.grant replace Category");
    }

    function test_gas_registry_grant_newRecord() public {
        bytes memory data = _grantData(bob, doctor, _recordScope(1));
        _measurePair(
            bob, address(consent), address(plainConsent), data, "consent.grant new Record (not reported)"
        );
    }

    function test_gas_registry_revoke_oneScope() public {
        bytes memory data = abi.encodeCall(IConsentRegistry.revoke, (doctor));
        _measurePair(alice, address(consent), address(plainConsent), data, "consent.revoke 1 scope");
    }

    function test_gas_registry_approveRequest() public {
        vm.prank(doctor2);
        uint256 id = consent.requestAccess(
            bob, _categoryScope(LAB), IConsentRegistry.Purpose.Treatment, 1 days, 1, ""
        );
        vm.prank(doctor2);
        plainConsent.requestAccess(
            bob, _categoryScope(LAB), IConsentRegistry.Purpose.Treatment, 1 days, 1, ""
        );
        bytes memory data = abi.encodeCall(
            IConsentRegistry.approveRequest, (id, uint64(block.timestamp + 30 days), _tags(8, 5))
        );
        _measurePair(bob, address(consent), address(plainConsent), data, "consent.approveRequest");
    }
}
