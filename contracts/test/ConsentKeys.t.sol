// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "../src/interfaces/IRecordIndex.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";

/// @notice The key lifecycle of the consent registry: epoch rotation, key generations with their
/// key-check values, and the chain that commits to every piece of key material handed out.
contract ConsentKeysTest is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    bytes24 internal constant CHECK_1 = bytes24(keccak256("check 1"));
    bytes24 internal constant CHECK_2 = bytes24(keccak256("check 2"));
    bytes32 internal constant LAB = bytes32("lab");

    address internal alice;

    function setUp() public {
        vm.warp(T0);
        _deployStack();
        _setUpOrgs();
        alice = _registerPatient(ALICE_PK);
    }

    function _grant(address grantee, IConsentRegistry.Scope memory scope, bytes memory keys) internal {
        _grantFrom(alice, grantee, scope, uint64(block.timestamp + 30 days), keys);
    }

    /// @dev The chain step as the interface documents it, computed independently.
    function _link(bytes32 head, uint64 epoch, bytes32 scopeId, bytes memory keys)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(head, epoch, scopeId, keccak256(keys))) & ~bytes32(uint256(0xff));
    }

    // ---------------------------------------------------------------------------------
    // rotateEpoch
    // ---------------------------------------------------------------------------------

    function test_rotateEpoch_advancesTheEpochAndTheIndexMirror() public {
        _grant(doctor, _categoryScope(LAB), hex"01");
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.EpochRotated(alice, 1);
        vm.prank(alice);
        consent.rotateEpoch();
        assertEq(consent.epochOf(alice), 1);
        (uint64 generation, uint64 epoch) = consent.keysOf(alice);
        assertEq(generation, 0);
        assertEq(epoch, 1);
        // The grant stays, but writing with the old epoch's keys is refused by the index.
        assertTrue(consent.hasAccess(alice, doctor, _categoryScope(LAB)));
        vm.expectRevert(abi.encodeWithSelector(IRecordIndex.IndexWrongEpoch.selector, 0, 1));
        vm.prank(doctor);
        index.addRecord(alice, keccak256("r"), LAB, 0, _tags());
        vm.prank(doctor);
        index.addRecord(alice, keccak256("r"), LAB, 1, _tags());
        // A grant signed for the old epoch can no longer be stored.
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentWrongEpoch.selector, 0, 1));
        vm.prank(alice);
        consent.grant(
            IConsentRegistry.GrantRequest({
                patient: alice,
                grantee: tech,
                scope: _allScope(),
                purpose: IConsentRegistry.Purpose.Treatment,
                expiry: uint64(block.timestamp + 1 days),
                epoch: 0,
                wrappedKeys: hex"01"
            })
        );
    }

    function test_rotateEpoch_onlyPatients() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.rotateEpoch();
    }

    // ---------------------------------------------------------------------------------
    // Key generations
    // ---------------------------------------------------------------------------------

    function test_setupKeys_thenRotateKeys() public {
        (bytes24 none, uint64 noStart) = consent.generationOf(alice, 1);
        assertEq(none, bytes24(0));
        assertEq(noStart, 0);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.KeysRotated(alice, 1, 0, CHECK_1);
        vm.prank(alice);
        consent.setupKeys(CHECK_1);
        (uint64 generation, uint64 epoch) = consent.keysOf(alice);
        assertEq(generation, 1);
        assertEq(epoch, 0);
        (bytes24 check, uint64 start) = consent.generationOf(alice, 1);
        assertEq(check, CHECK_1);
        assertEq(start, 0);
    }

    /// @dev Nonce, epoch and generation share one storage word: any sequence of the calls that
    /// move them moves each exactly as a separate counter would.
    function testFuzz_keyState_nonceEpochAndGenerationStayIndependent(uint8[12] memory ops) public {
        uint256 nonce;
        uint64 epoch;
        uint64 generation;
        for (uint256 i; i < ops.length; ++i) {
            uint8 op = ops[i] % 4;
            vm.startPrank(alice);
            if (op == 0) {
                consent.invalidateNonce();
                ++nonce;
            } else if (op == 1) {
                consent.rotateEpoch();
                ++epoch;
            } else if (generation == 0) {
                consent.setupKeys(CHECK_1);
                generation = 1;
            } else {
                consent.rotateKeys(CHECK_2);
                ++generation;
                ++epoch;
            }
            vm.stopPrank();
            assertEq(consent.nonces(alice), nonce, "nonce");
            (uint64 g, uint64 e) = consent.keysOf(alice);
            assertEq(g, generation, "generation");
            assertEq(e, epoch, "epoch");
            assertEq(consent.epochOf(alice), epoch, "epochOf");
        }
        // setupKeys still refuses a second setup once the nonce bits are set.
        if (generation != 0) {
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentKeysAlreadySetUp.selector, alice));
            vm.prank(alice);
            consent.setupKeys(CHECK_2);
        }
    }

    function test_setupKeys_afterNonceUse_isNotMistakenForAlreadySetUp() public {
        vm.startPrank(alice);
        consent.invalidateNonce();
        consent.setupKeys(CHECK_1);
        vm.stopPrank();
        (uint64 generation, uint64 epoch) = consent.keysOf(alice);
        assertEq(generation, 1);
        assertEq(epoch, 0);
        assertEq(consent.nonces(alice), 1);
    }

    function test_setupKeys_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.setupKeys(CHECK_1);
        vm.expectRevert(IConsentRegistry.ConsentInvalidKeyCheck.selector);
        vm.prank(alice);
        consent.setupKeys(bytes24(0));
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentKeysNotSetUp.selector, alice));
        vm.prank(alice);
        consent.rotateKeys(CHECK_2);

        vm.prank(alice);
        consent.setupKeys(CHECK_1);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentKeysAlreadySetUp.selector, alice));
        vm.prank(alice);
        consent.setupKeys(CHECK_2);
        vm.expectRevert(IConsentRegistry.ConsentInvalidKeyCheck.selector);
        vm.prank(alice);
        consent.rotateKeys(bytes24(0));
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.rotateKeys(CHECK_2);
    }

    function test_rotateKeys_startsANewGenerationAtANewEpoch() public {
        vm.prank(alice);
        consent.setupKeys(CHECK_1);
        _grantAll(doctor);
        vm.prank(alice);
        consent.revoke(doctor); // epoch 1, generation 1

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.KeysRotated(alice, 2, 2, CHECK_2);
        vm.prank(alice);
        consent.rotateKeys(CHECK_2);

        (uint64 generation, uint64 epoch) = consent.keysOf(alice);
        assertEq(generation, 2);
        assertEq(epoch, 2);
        (bytes24 check1, uint64 start1) = consent.generationOf(alice, 1);
        (bytes24 check2, uint64 start2) = consent.generationOf(alice, 2);
        assertEq(check1, CHECK_1);
        assertEq(start1, 0);
        assertEq(check2, CHECK_2);
        assertEq(start2, 2);
        // The index mirrors the new epoch.
        vm.prank(alice);
        index.addRecord(alice, keccak256("r"), LAB, 2, _tags());
        // A later revoke keeps the generation.
        _grantAll(doctor);
        vm.prank(alice);
        consent.revoke(doctor);
        (generation, epoch) = consent.keysOf(alice);
        assertEq(generation, 2);
        assertEq(epoch, 3);
    }

    /// @dev Eight distinct tags in ascending order (what the index accepts).
    function _tags() internal pure returns (bytes memory tags) {
        for (uint256 i = 1; i <= 8; ++i) {
            tags = bytes.concat(tags, bytes16(uint128(i)));
        }
    }

    function _grantAll(address grantee) internal {
        _grant(grantee, _allScope(), hex"01");
    }

    // ---------------------------------------------------------------------------------
    // Key-material chain
    // ---------------------------------------------------------------------------------

    function test_keyChain_commitsToEveryGrantAndShare_andSurvivesRevoke() public {
        assertEq(consent.keyChainOf(alice, doctor), bytes32(0));
        bytes32 labId = consent.scopeIdOf(_categoryScope(LAB));
        bytes32 allId = consent.scopeIdOf(_allScope());

        _grant(doctor, _categoryScope(LAB), hex"aa01");
        bytes32 head = _link(bytes32(0), 0, labId, hex"aa01");
        assertEq(consent.keyChainOf(alice, doctor), head);

        _grant(doctor, _allScope(), hex"aa02");
        head = _link(head, 0, allId, hex"aa02");
        assertEq(consent.keyChainOf(alice, doctor), head);

        // Replacing a grant of the same scope is a link too (new key material).
        _grant(doctor, _allScope(), hex"aa03");
        head = _link(head, 0, allId, hex"aa03");
        assertEq(consent.keyChainOf(alice, doctor), head);
        assertEq(consent.scopeIdsOf(alice, doctor).length, 2);

        _grantAll(tech);
        vm.prank(alice);
        consent.revoke(tech); // epoch 1
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"bb01");
        head = _link(head, 1, bytes32(0), hex"bb01");
        assertEq(consent.keyChainOf(alice, doctor), head);

        // Revoking clears the grants but not the chain; the next grant extends it.
        vm.prank(alice);
        consent.revoke(doctor); // epoch 2
        assertEq(consent.scopeIdsOf(alice, doctor).length, 0);
        assertEq(consent.keyChainOf(alice, doctor), head);
        _grant(doctor, _categoryScope(LAB), hex"cc01");
        head = _link(head, 2, labId, hex"cc01");
        assertEq(consent.keyChainOf(alice, doctor), head);
        assertEq(consent.scopeIdsOf(alice, doctor).length, 1);
        assertEq(consent.scopeIdsOf(alice, doctor)[0], labId);
    }

    function testFuzz_keyChain_matchesTheReference(bytes[4] memory material, uint8 shares) public {
        bytes32 head;
        for (uint256 i; i < material.length; ++i) {
            bytes memory keys = material[i].length == 0 ? bytes(hex"01") : material[i];
            if (keys.length > 4096) keys = hex"02";
            if (shares & (1 << i) != 0 && i > 0) {
                vm.prank(alice);
                consent.shareEpochKeys(doctor, keys);
                head = _link(head, 0, bytes32(0), keys);
            } else {
                _grant(doctor, _recordScope(i + 1), keys);
                head = _link(head, 0, consent.scopeIdOf(_recordScope(i + 1)), keys);
            }
            assertEq(consent.keyChainOf(alice, doctor), head);
        }
    }
}
