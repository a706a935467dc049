// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ClaimRegistry} from "../src/ClaimRegistry.sol";
import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {RecordIndex} from "../src/RecordIndex.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IAccessHooks} from "../src/interfaces/IAccessHooks.sol";
import {IClaimRegistry} from "../src/interfaces/IClaimRegistry.sol";
import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice The whole stack (index, role registry, consent registry wired together, and the
/// claim registry on top), the cast, and the helpers every ClaimRegistry test uses.
abstract contract ClaimRegistryBase is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant BOB_PK = 0xB0B;
    uint256 internal constant CAROL_PK = 0xCA401;
    uint256 internal constant MAX = 64;

    bytes32 internal constant LAB = bytes32("lab");
    /// @dev A claim's terms as the client sends them: a commitment and sealed bytes (the
    /// contract opens neither).
    bytes32 internal constant TERMS = keccak256("ehrkit test claim terms");
    bytes internal constant SEALED = hex"5eed";
    /// @dev Stands for a reviewer's words encrypted to the patient: the shortest ciphertext (50 bytes).
    bytes internal constant _SEALED_WORDS =
        hex"5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed";

    ClaimRegistry internal claims;

    address internal insurer2 = address(0x1004);
    address internal clerk2 = address(0x2004);
    address internal alice;
    address internal bob;
    address internal carol; // never registers

    function setUp() public virtual {
        vm.warp(T0);
        _deployStack();
        claims = new ClaimRegistry(roles, consent, index);

        _addOrganizations();
        _addOrg(insurer2, IRoleRegistry.OrgKind.Insurer, "Beta Mutual");
        _addStaff(hospital, doctor);
        _addStaff(insurer, clerk);
        _addStaff(insurer2, clerk2);

        alice = _registerPatient(ALICE_PK);
        bob = _registerPatient(BOB_PK);
        carol = vm.addr(CAROL_PK);
    }

    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    /// @dev `count` records for `patient`, written by the patient.
    function _addRecords(address patient, uint256 count) internal {
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](count);
        bytes memory tags = new bytes(128);
        for (uint256 i; i < count; ++i) {
            records[i] = IRecordIndex.RecordInput(keccak256(abi.encode(patient, i)), LAB, tags);
        }
        uint64 epoch = consent.epochOf(patient);
        vm.prank(patient);
        index.addRecords(patient, epoch, records);
    }

    function _grantScope(
        address patient,
        address grantee,
        IConsentRegistry.Scope memory scope,
        uint256 duration
    ) internal {
        IConsentRegistry.GrantRequest memory req =
            IConsentRegistry.GrantRequest({
                patient: patient,
                grantee: grantee,
                scope: scope,
                purpose: IConsentRegistry.Purpose.Insurance,
                expiry: uint64(block.timestamp + duration),
                epoch: consent.epochOf(patient),
                wrappedKeys: hex"01a1b2c3"
            });
        vm.prank(patient);
        consent.grant(req);
    }

    /// @dev Insurance-purpose Record grants of every listed record, as the SDK gives them.
    function _grantRecords(address patient, address grantee, uint64[] memory recordIds) internal {
        for (uint256 i; i < recordIds.length; ++i) {
            _grantScope(patient, grantee, _recordScope(recordIds[i]), 90 days);
        }
    }

    function _grantAll(address patient, address grantee) internal {
        _grantScope(patient, grantee, _allScope(), 90 days);
    }

    function _ids(uint64 a) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](1);
        ids[0] = a;
    }

    function _ids(uint64 a, uint64 b) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](2);
        (ids[0], ids[1]) = (a, b);
    }

    function _ids(uint64 a, uint64 b, uint64 c) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](3);
        (ids[0], ids[1], ids[2]) = (a, b, c);
    }

    /// @dev 1, 2, ..., count.
    function _range(uint256 count) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = uint64(i + 1);
        }
    }

    /// @dev Alice files a claim with the insurer over `ids` (terms: `TERMS`, `SEALED`).
    function _submit(uint64[] memory ids) internal returns (uint256 claimId) {
        vm.prank(alice);
        claimId = claims.submitClaim(insurer, ids, TERMS, SEALED);
    }

    function _startReview(uint256 claimId, address reviewer) internal {
        vm.prank(reviewer);
        claims.startReview(claimId);
    }

    function _decide(uint256 claimId, address reviewer, bool approved) internal {
        vm.prank(reviewer);
        claims.decide(claimId, approved, 1, _SEALED_WORDS);
    }
}

/// @notice Unit and fuzz tests of ClaimRegistry against the real registries and index.
contract ClaimRegistryTest is ClaimRegistryBase {
    function setUp() public override {
        super.setUp();
        // Alice has six records; the insurer holds Insurance grants for records 1 to 5.
        _addRecords(alice, 6);
        _grantRecords(alice, insurer, _range(5));
    }

    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    function _expectNotInsurer(uint256 claimId, address caller) internal {
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimNotInsurer.selector, claimId, caller));
    }

    function _expectTransition(uint256 claimId, IClaimRegistry.ClaimStatus status) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTransition.selector, claimId, status)
        );
    }

    function _expectInvalidRecords(uint256 count) internal {
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidRecords.selector, count, MAX));
    }

    function _status(uint256 claimId) internal view returns (IClaimRegistry.ClaimStatus) {
        return claims.claim(claimId).status;
    }

    function _assertIds(uint64[] memory actual, uint64[] memory expected) internal pure {
        assertEq(actual.length, expected.length, "record count");
        for (uint256 i; i < expected.length; ++i) {
            assertEq(actual[i], expected[i], "record id");
        }
    }

    // ---------------------------------------------------------------------------------
    // Constructor and views
    // ---------------------------------------------------------------------------------

    function test_constructor_setsTheRegistries() public view {
        assertEq(claims.roles(), address(roles));
        assertEq(claims.consent(), address(consent));
        assertEq(claims.index(), address(index));
        assertEq(claims.MAX_RECORDS(), MAX);
        assertEq(claims.MAX_DECISION_CODE(), 8);
        assertEq(claims.MAX_ENCRYPTED_REASON_LENGTH(), 305);
        assertEq(claims.claimCount(), 0);
    }

    function test_claim_unknownIdIsZero() public view {
        for (uint256 id; id < 3; ++id) {
            IClaimRegistry.Claim memory c = claims.claim(id);
            assertEq(c.patient, address(0));
            assertEq(c.insurer, address(0));
            assertEq(uint8(c.status), uint8(IClaimRegistry.ClaimStatus.None));
            assertEq(c.submittedAt, 0);
            assertEq(c.decidedAt, 0);
            assertEq(c.termsCommitment, bytes32(0));
            assertEq(c.recordIds.length, 0);
        }
    }

    // ---------------------------------------------------------------------------------
    // submitClaim
    // ---------------------------------------------------------------------------------

    function test_submitClaim_storesAndEmits() public {
        uint64[] memory ids = _ids(3, 1);
        vm.expectEmit(true, true, true, true, address(claims));
        emit IClaimRegistry.ClaimSubmitted(1, alice, insurer, ids, TERMS, SEALED);
        uint256 claimId = _submit(ids);

        assertEq(claimId, 1, "ids start at 1");
        assertEq(claims.claimCount(), 1);
        IClaimRegistry.Claim memory c = claims.claim(1);
        assertEq(c.patient, alice);
        assertEq(c.insurer, insurer);
        assertEq(uint8(c.status), uint8(IClaimRegistry.ClaimStatus.Submitted));
        assertEq(c.submittedAt, T0);
        assertEq(c.decidedAt, 0);
        assertEq(c.termsCommitment, TERMS);
        _assertIds(c.recordIds, ids);
    }

    function test_submitClaim_idsCountUpAcrossPatients() public {
        _addRecords(bob, 1);
        _grantRecords(bob, insurer2, _ids(1));
        assertEq(_submit(_ids(1)), 1);
        vm.prank(bob);
        assertEq(claims.submitClaim(insurer2, _ids(1), TERMS, SEALED), 2);
        assertEq(_submit(_ids(1)), 3, "the same records may be claimed again");
        assertEq(claims.claimCount(), 3);
        assertEq(claims.claim(2).patient, bob);
        assertEq(claims.claim(2).insurer, insurer2);
    }

    function test_submitClaim_everyListLength() public {
        // Inline (1, 2), then 1, 2, 3, 4 more per word, then the maximum: all read back in order.
        _addRecords(alice, MAX - 6);
        _grantAll(alice, insurer);
        uint256[8] memory lengths = [uint256(1), 2, 3, 5, 6, 7, 33, MAX];
        for (uint256 k; k < lengths.length; ++k) {
            uint64[] memory ids = new uint64[](lengths[k]);
            for (uint256 i; i < ids.length; ++i) {
                ids[i] = uint64(MAX - i); // descending: the given order is kept
            }
            uint256 claimId = _submit(ids);
            _assertIds(claims.claim(claimId).recordIds, ids);
        }
    }

    function test_submitClaim_allGrantCoversEveryRecord() public {
        _grantAll(alice, insurer2);
        vm.prank(alice);
        uint256 claimId = claims.submitClaim(insurer2, _ids(6, 2), TERMS, SEALED);
        assertEq(claims.claim(claimId).insurer, insurer2);
    }

    function test_submitClaim_supersededRecordsStillExist() public {
        vm.prank(alice);
        index.supersede(alice, 1, keccak256("v2"), LAB, 0, new bytes(128)); // record 7 replaces 1
        _grantRecords(alice, insurer, _ids(7));
        uint256 claimId = _submit(_ids(1, 7));
        _assertIds(claims.claim(claimId).recordIds, _ids(1, 7));
    }

    function test_submitClaim_revertsForNonPatients() public {
        address[6] memory callers = [carol, outsider, doctor, insurer, clerk, hospital];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimNotPatient.selector, callers[i]));
            claims.submitClaim(insurer, _ids(1), TERMS, SEALED);
        }
    }

    function test_submitClaim_revertsForNonInsurers() public {
        address[7] memory notInsurers = [hospital, lab, clerk, bob, outsider, address(0), alice];
        for (uint256 i; i < notInsurers.length; ++i) {
            vm.prank(alice);
            vm.expectRevert(
                abi.encodeWithSelector(IClaimRegistry.ClaimInvalidInsurer.selector, notInsurers[i])
            );
            claims.submitClaim(notInsurers[i], _ids(1), TERMS, SEALED);
        }
        vm.prank(admin);
        roles.removeOrganization(insurer);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidInsurer.selector, insurer));
        claims.submitClaim(insurer, _ids(1), TERMS, SEALED);
    }

    function test_submitClaim_revertsOnRecordCount() public {
        _expectInvalidRecords(0);
        _submit(new uint64[](0));
        _addRecords(alice, MAX);
        _grantAll(alice, insurer);
        _expectInvalidRecords(MAX + 1);
        _submit(_range(MAX + 1));
        _submit(_range(MAX));
    }

    function test_submitClaim_revertsOnRepeats() public {
        _expectInvalidRecords(2);
        _submit(_ids(1, 1));
        _expectInvalidRecords(3);
        _submit(_ids(1, 2, 1));
        _expectInvalidRecords(3);
        _submit(_ids(2, 3, 3));
        uint64[] memory ids = _range(MAX);
        ids[MAX - 1] = 1;
        _expectInvalidRecords(MAX);
        _submit(ids);
    }

    function test_submitClaim_revertsOnInvalidTerms() public {
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTerms.selector, bytes32(0), 2));
        claims.submitClaim(insurer, _ids(1), bytes32(0), SEALED);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTerms.selector, TERMS, 0));
        claims.submitClaim(insurer, _ids(1), TERMS, "");
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTerms.selector, TERMS, 513));
        claims.submitClaim(insurer, _ids(1), TERMS, new bytes(513));
        claims.submitClaim(insurer, _ids(1), TERMS, new bytes(512));
        vm.stopPrank();
        assertEq(claims.claim(1).termsCommitment, TERMS);
    }

    function test_submitClaim_revertsOnUnknownRecords() public {
        uint64[3] memory unknown = [uint64(0), 7, type(uint64).max];
        for (uint256 i; i < unknown.length; ++i) {
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimUnknownRecord.selector, unknown[i]));
            claims.submitClaim(insurer, _ids(1, unknown[i]), TERMS, SEALED);
        }
        // Bob has no records at all; alice's numbers mean nothing for him.
        _grantAll(bob, insurer);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimUnknownRecord.selector, uint64(1)));
        claims.submitClaim(insurer, _ids(1), TERMS, SEALED);
    }

    function test_submitClaim_revertsOnRecordsNotGranted() public {
        // Record 6 was never granted; the first refused record is named.
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, uint64(6)));
        claims.submitClaim(insurer, _ids(1, 6, 2), TERMS, SEALED);
        // Grants to the insurer's staff, to another insurer, or of a category do not count.
        _grantRecords(alice, clerk, _ids(6));
        _grantRecords(alice, insurer2, _ids(6));
        _grantScope(alice, insurer, IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Category, LAB), 1 days);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, uint64(6)));
        claims.submitClaim(insurer, _ids(6), TERMS, SEALED);
    }

    function test_submitClaim_revertsOnExpiredOrRevokedGrants() public {
        _grantScope(alice, insurer2, _recordScope(1), 1 hours);
        vm.warp(T0 + 1 hours);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, uint64(1)));
        claims.submitClaim(insurer2, _ids(1), TERMS, SEALED);

        vm.prank(alice);
        consent.revoke(insurer);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, uint64(2)));
        claims.submitClaim(insurer, _ids(2), TERMS, SEALED);
    }

    function test_submitClaim_checkOrder() public {
        // Patient first, then insurer, records, amount, and per record existence then access.
        vm.prank(carol);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimNotPatient.selector, carol));
        claims.submitClaim(hospital, new uint64[](0), TERMS, SEALED);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidInsurer.selector, hospital));
        claims.submitClaim(hospital, new uint64[](0), TERMS, SEALED);
        vm.prank(alice);
        _expectInvalidRecords(0);
        claims.submitClaim(insurer, new uint64[](0), TERMS, SEALED);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTerms.selector, bytes32(0), 2));
        claims.submitClaim(insurer, _ids(6, 9), bytes32(0), SEALED);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, uint64(6)));
        claims.submitClaim(insurer, _ids(6, 9), TERMS, SEALED);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimUnknownRecord.selector, uint64(9)));
        claims.submitClaim(insurer, _ids(9, 6), TERMS, SEALED);
        assertEq(claims.claimCount(), 0);
    }

    // ---------------------------------------------------------------------------------
    // startReview
    // ---------------------------------------------------------------------------------

    function test_startReview_byTheInsurer() public {
        uint256 claimId = _submit(_ids(1));
        vm.expectEmit(true, true, true, true, address(claims));
        emit IClaimRegistry.ClaimReviewStarted(claimId, alice, insurer, insurer);
        _startReview(claimId, insurer);
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.UnderReview));
        assertEq(claims.claim(claimId).decidedAt, 0);
    }

    function test_startReview_byActiveStaff() public {
        uint256 claimId = _submit(_ids(1));
        assertTrue(claims.canReview(claimId, clerk));
        vm.expectEmit(true, true, true, true, address(claims));
        emit IClaimRegistry.ClaimReviewStarted(claimId, alice, insurer, clerk);
        _startReview(claimId, clerk);
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.UnderReview));
    }

    function test_startReview_revertsOnUnknownClaims() public {
        _submit(_ids(1));
        uint256[3] memory unknown = [uint256(0), 2, type(uint256).max];
        for (uint256 i; i < unknown.length; ++i) {
            vm.prank(insurer);
            vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimUnknown.selector, unknown[i]));
            claims.startReview(unknown[i]);
        }
    }

    function test_startReview_revertsForEveryoneElse() public {
        uint256 claimId = _submit(_ids(1));
        address[8] memory others = [alice, bob, doctor, hospital, lab, insurer2, clerk2, outsider];
        for (uint256 i; i < others.length; ++i) {
            assertFalse(claims.canReview(claimId, others[i]));
            vm.prank(others[i]);
            _expectNotInsurer(claimId, others[i]);
            claims.startReview(claimId);
        }
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.Submitted));
    }

    function test_startReview_revertsForRemovedStaff() public {
        uint256 claimId = _submit(_ids(1));
        vm.prank(insurer);
        roles.removeStaff(clerk);
        vm.prank(clerk);
        _expectNotInsurer(claimId, clerk);
        claims.startReview(claimId);
    }

    function test_startReview_revertsWhileTheInsurerIsRemoved() public {
        uint256 claimId = _submit(_ids(1));
        vm.prank(admin);
        roles.removeOrganization(insurer);
        for (uint256 i; i < 2; ++i) {
            address caller = i == 0 ? insurer : clerk;
            vm.prank(caller);
            _expectNotInsurer(claimId, caller);
            claims.startReview(claimId);
        }
        // Re-added as a hospital it is no insurer; re-added as an insurer it reviews again.
        vm.prank(admin);
        roles.addOrganization(insurer, IRoleRegistry.OrgKind.Hospital, "Acme Clinic");
        vm.prank(clerk);
        _expectNotInsurer(claimId, clerk);
        claims.startReview(claimId);
        vm.startPrank(admin);
        roles.removeOrganization(insurer);
        roles.addOrganization(insurer, IRoleRegistry.OrgKind.Insurer, "Acme Health");
        vm.stopPrank();
        _startReview(claimId, clerk);
    }

    function test_startReview_revertsOnceUnderReviewOrDecided() public {
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, clerk);
        vm.prank(insurer);
        _expectTransition(claimId, IClaimRegistry.ClaimStatus.UnderReview);
        claims.startReview(claimId);
        _decide(claimId, insurer, true);
        vm.prank(clerk);
        _expectTransition(claimId, IClaimRegistry.ClaimStatus.Approved);
        claims.startReview(claimId);

        uint256 rejected = _submit(_ids(2));
        _startReview(rejected, insurer);
        _decide(rejected, insurer, false);
        vm.prank(insurer);
        _expectTransition(rejected, IClaimRegistry.ClaimStatus.Rejected);
        claims.startReview(rejected);
    }

    function test_startReview_checksTheCallerBeforeTheState() public {
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, insurer);
        vm.prank(outsider);
        _expectNotInsurer(claimId, outsider);
        claims.startReview(claimId);
    }

    function test_startReview_needsNoGrantAnymore() public {
        // The access was checked at submission; revoking it later does not freeze the claim.
        uint256 claimId = _submit(_ids(1));
        vm.prank(alice);
        consent.revoke(insurer);
        _startReview(claimId, insurer);
        _decide(claimId, insurer, false);
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.Rejected));
    }

    // ---------------------------------------------------------------------------------
    // decide
    // ---------------------------------------------------------------------------------

    function test_decide_approves() public {
        uint256 claimId = _submit(_ids(1, 2));
        _startReview(claimId, clerk);
        vm.warp(T0 + 3 days);
        vm.expectEmit(true, true, true, true, address(claims));
        emit IClaimRegistry.ClaimDecided(claimId, alice, insurer, insurer, true, 1, _SEALED_WORDS);
        _decide(claimId, insurer, true);
        IClaimRegistry.Claim memory c = claims.claim(claimId);
        assertEq(uint8(c.status), uint8(IClaimRegistry.ClaimStatus.Approved));
        assertEq(c.decidedAt, T0 + 3 days);
        assertEq(c.submittedAt, T0);
        // Nothing else changed.
        assertEq(c.patient, alice);
        assertEq(c.insurer, insurer);
        assertEq(c.termsCommitment, TERMS);
        _assertIds(c.recordIds, _ids(1, 2));
    }

    function test_decide_rejectsWithAReason() public {
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, insurer);
        vm.expectEmit(true, true, true, true, address(claims));
        emit IClaimRegistry.ClaimDecided(claimId, alice, insurer, clerk, false, 3, _SEALED_WORDS);
        vm.prank(clerk);
        claims.decide(claimId, false, 3, _SEALED_WORDS);
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.Rejected));
        assertEq(claims.claim(claimId).decidedAt, T0);
    }

    function test_decide_revertsOnTheReason() public {
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, insurer);
        uint16[2] memory badCodes = [uint16(0), 9];
        for (uint256 i; i < badCodes.length; ++i) {
            vm.prank(insurer);
            vm.expectRevert(
                abi.encodeWithSelector(IClaimRegistry.ClaimInvalidReason.selector, badCodes[i], 0)
            );
            claims.decide(claimId, true, badCodes[i], "");
        }
        uint256[4] memory badLengths = [uint256(1), 49, 306, 1000];
        for (uint256 i; i < badLengths.length; ++i) {
            vm.prank(insurer);
            vm.expectRevert(
                abi.encodeWithSelector(IClaimRegistry.ClaimInvalidReason.selector, 1, badLengths[i])
            );
            claims.decide(claimId, true, 1, new bytes(badLengths[i]));
        }
        vm.prank(insurer);
        claims.decide(claimId, true, 8, new bytes(305));
    }

    function test_decide_withoutWords_andAtTheShortestCiphertext() public {
        uint256 first = _submit(_ids(1));
        _startReview(first, insurer);
        vm.prank(insurer);
        claims.decide(first, true, 1, "");
        uint256 second = _submit(_ids(1));
        _startReview(second, insurer);
        vm.prank(insurer);
        claims.decide(second, false, 4, new bytes(50));
        assertEq(uint8(_status(second)), uint8(IClaimRegistry.ClaimStatus.Rejected));
    }

    function testFuzz_decide_acceptsExactlyTheValidReasons(uint16 code, uint256 length, bool approved)
        public
    {
        length = bound(length, 0, 400);
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, insurer);
        bool valid = code >= 1 && code <= 8 && (length == 0 || (length >= 50 && length <= 305));
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimInvalidReason.selector, code, length));
        }
        vm.prank(clerk);
        claims.decide(claimId, approved, code, new bytes(length));
        IClaimRegistry.ClaimStatus expected = !valid
            ? IClaimRegistry.ClaimStatus.UnderReview
            : (approved ? IClaimRegistry.ClaimStatus.Approved : IClaimRegistry.ClaimStatus.Rejected);
        assertEq(uint8(_status(claimId)), uint8(expected));
    }

    function test_decide_revertsUnlessUnderReview() public {
        uint256 claimId = _submit(_ids(1));
        vm.prank(insurer);
        _expectTransition(claimId, IClaimRegistry.ClaimStatus.Submitted);
        claims.decide(claimId, true, 1, "");
        _startReview(claimId, insurer);
        _decide(claimId, clerk, true);
        // A double decision, either way, by anyone of the insurer.
        for (uint256 i; i < 2; ++i) {
            vm.prank(i == 0 ? insurer : clerk);
            _expectTransition(claimId, IClaimRegistry.ClaimStatus.Approved);
            claims.decide(claimId, i == 0, 1, "");
        }
        // An invalid reason on a decided claim reports the state, the more useful error.
        vm.prank(insurer);
        _expectTransition(claimId, IClaimRegistry.ClaimStatus.Approved);
        claims.decide(claimId, false, 0, "");
    }

    function test_decide_revertsOnUnknownClaimsAndForOthers() public {
        vm.prank(insurer);
        vm.expectRevert(abi.encodeWithSelector(IClaimRegistry.ClaimUnknown.selector, uint256(1)));
        claims.decide(1, true, 1, "");
        uint256 claimId = _submit(_ids(1));
        _startReview(claimId, insurer);
        address[6] memory others = [alice, doctor, insurer2, clerk2, outsider, hospital];
        for (uint256 i; i < others.length; ++i) {
            vm.prank(others[i]);
            _expectNotInsurer(claimId, others[i]);
            claims.decide(claimId, true, 1, "");
        }
        assertEq(uint8(_status(claimId)), uint8(IClaimRegistry.ClaimStatus.UnderReview));
    }

    function test_lifecycle_eventsNameThePatientForTheAuditTrail() public {
        vm.recordLogs();
        uint256 claimId = _submit(_ids(4));
        _startReview(claimId, clerk);
        _decide(claimId, insurer, true);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 3);
        bytes32[3] memory topics = [
            IClaimRegistry.ClaimSubmitted.selector,
            IClaimRegistry.ClaimReviewStarted.selector,
            IClaimRegistry.ClaimDecided.selector
        ];
        for (uint256 i; i < logs.length; ++i) {
            assertEq(logs[i].emitter, address(claims));
            assertEq(logs[i].topics[0], topics[i]);
            assertEq(logs[i].topics[1], bytes32(claimId), "claim id: topic 1");
            assertEq(logs[i].topics[2], bytes32(uint256(uint160(alice))), "patient: topic 2");
            assertEq(logs[i].topics[3], bytes32(uint256(uint160(insurer))), "insurer: topic 3");
        }
    }

    // ---------------------------------------------------------------------------------
    // Fuzz
    // ---------------------------------------------------------------------------------

    /// @dev Random lists over records 0 to 9 (alice has 6; the insurer may read 1 to 5):
    /// exactly the contract's verdict, in its check order.
    function testFuzz_submitClaim_recordLists(uint256 length, uint256 seed) public {
        length = bound(length, 0, 12);
        uint64[] memory ids = new uint64[](length);
        for (uint256 i; i < length; ++i) {
            ids[i] = uint64(uint256(keccak256(abi.encode(seed, i))) % 10);
        }
        bytes memory expected;
        bool repeat;
        for (uint256 i; i < length; ++i) {
            for (uint256 j; j < i; ++j) {
                if (ids[i] == ids[j]) repeat = true;
            }
        }
        if (length == 0 || repeat) {
            expected = abi.encodeWithSelector(IClaimRegistry.ClaimInvalidRecords.selector, length, MAX);
        } else {
            for (uint256 i; i < length && expected.length == 0; ++i) {
                if (ids[i] == 0 || ids[i] > 6) {
                    expected = abi.encodeWithSelector(IClaimRegistry.ClaimUnknownRecord.selector, ids[i]);
                } else if (ids[i] == 6) {
                    expected = abi.encodeWithSelector(IClaimRegistry.ClaimRecordNotGranted.selector, ids[i]);
                }
            }
        }
        if (expected.length != 0) vm.expectRevert(expected);
        uint256 claimId = _submit(ids);
        if (expected.length == 0) {
            assertEq(claimId, 1);
            _assertIds(claims.claim(claimId).recordIds, ids);
        } else {
            assertEq(claims.claimCount(), 0);
        }
    }

    /// @dev Any distinct ids of a patient with many records, granted by an All grant, read
    /// back in the given order (covers the packing of every position).
    function testFuzz_submitClaim_storesAnyList(uint256 length, uint256 seed) public {
        length = bound(length, 1, MAX);
        _addRecords(alice, 200);
        _grantAll(alice, insurer);
        uint64[] memory ids = new uint64[](length);
        for (uint256 i; i < length; ++i) {
            // Distinct: a random start and a random odd step modulo 206 cover distinct values
            // only when the step is coprime to 206 = 2 × 103, i.e. odd and not 103.
            uint256 step = 2 * (seed % 51) + 1;
            ids[i] = uint64(1 + ((seed >> 8) + i * step) % 206);
        }
        uint256 claimId = _submit(ids);
        _assertIds(claims.claim(claimId).recordIds, ids);
    }

    function testFuzz_submitClaim_terms(bytes32 commitment, uint256 length) public {
        length = bound(length, 0, 600);
        bool valid = commitment != bytes32(0) && length != 0 && length <= 512;
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IClaimRegistry.ClaimInvalidTerms.selector, commitment, length)
            );
        }
        vm.prank(alice);
        claims.submitClaim(insurer, _ids(1), commitment, new bytes(length));
        if (valid) assertEq(claims.claim(1).termsCommitment, commitment);
    }

    function testFuzz_transitions_randomCaller(address caller) public {
        uint256 claimId = _submit(_ids(1));
        bool allowed = caller == insurer || caller == clerk;
        assertEq(claims.canReview(claimId, caller), allowed);
        if (!allowed) _expectNotInsurer(claimId, caller);
        vm.prank(caller);
        claims.startReview(claimId);
        if (!allowed) return;
        if (caller == insurer) _decide(claimId, clerk, true);
        else _decide(claimId, insurer, true);
    }
}

/// @notice Whole-transaction gas of the claim registry's calls.
/// @dev The method of `RecordIndexGasTest`: each measured call is the first of its test, its
/// state built in `setUp` (a separate transaction), so every slot is cold and its original
/// value the committed one; the whole transaction is 21,000 + calldata + the callee's
/// execution − refund, or the EIP-7623 calldata floor if higher. Run with -vv for the numbers.
contract ClaimRegistryGasTest is ClaimRegistryBase {
    event log_named_uint(string key, uint256 val);

    uint256 internal submitted;
    uint256 internal underReview;

    function setUp() public override {
        super.setUp();
        _addRecords(alice, 6);
        _grantRecords(alice, insurer, _range(6));
        // One claim exists already (the count is warm-started), one waits for review, one for
        // a decision.
        submitted = _submit(_ids(6));
        underReview = _submit(_ids(5));
        _startReview(underReview, clerk);
    }

    function _measure(address from, bytes memory data, string memory label) internal returns (uint256 txGas) {
        vm.cool(address(claims));
        vm.cool(address(roles));
        vm.cool(address(consent));
        vm.cool(address(index));
        vm.prank(from);
        (bool ok, bytes memory ret) = address(claims).call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        Vm.Gas memory gas = vm.lastCallGas();
        (uint256 zeros, uint256 nonZeros) = (0, 0);
        for (uint256 i; i < data.length; ++i) {
            if (data[i] == 0) zeros++;
            else nonZeros++;
        }
        uint256 standard = 21_000 + 4 * zeros + 16 * nonZeros + gas.gasTotalUsed;
        uint256 refund = gas.gasRefunded > 0 ? uint256(int256(gas.gasRefunded)) : 0;
        if (refund > standard / 5) refund = standard / 5;
        standard -= refund;
        uint256 floor = 21_000 + 10 * (zeros + 4 * nonZeros);
        txGas = standard > floor ? standard : floor;
        emit log_named_uint(label, txGas);
        emit log_named_uint("  execution", gas.gasTotalUsed);
    }

    /// @dev What the client sends: two ECIES of 51 bytes (insurer's and patient's copies),
    /// 200 random-looking (non-zero) bytes.
    function _realSealedTerms() internal pure returns (bytes memory sealedTerms) {
        sealedTerms = new bytes(200);
        for (uint256 i; i < 200; ++i) {
            sealedTerms[i] = 0x5a;
        }
    }

    function test_gas_submitClaim_1record() public {
        _measure(
            alice,
            abi.encodeCall(IClaimRegistry.submitClaim, (insurer, _ids(1), TERMS, _realSealedTerms())),
            "submitClaim 1 record"
        );
    }

    function test_gas_submitClaim_5records() public {
        _measure(
            alice,
            abi.encodeCall(IClaimRegistry.submitClaim, (insurer, _range(5), TERMS, _realSealedTerms())),
            "submitClaim 5 records"
        );
    }

    function test_gas_startReview_insurer() public {
        _measure(insurer, abi.encodeCall(IClaimRegistry.startReview, (submitted)), "startReview (insurer)");
    }

    function test_gas_startReview_staff() public {
        _measure(clerk, abi.encodeCall(IClaimRegistry.startReview, (submitted)), "startReview (staff)");
    }

    function test_gas_decide_staff() public {
        _measure(
            clerk,
            abi.encodeCall(IClaimRegistry.decide, (underReview, true, uint16(1), _SEALED_WORDS)),
            "decide (staff, 19-byte reason)"
        );
    }

    function test_gas_decide_insurer() public {
        _measure(
            insurer,
            abi.encodeCall(IClaimRegistry.decide, (underReview, false, uint16(1), _SEALED_WORDS)),
            "decide (insurer, 19-byte reason)"
        );
    }
}
