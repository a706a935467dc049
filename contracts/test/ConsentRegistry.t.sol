// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ConsentRegistry} from "../src/ConsentRegistry.sol";
import {RoleRegistry} from "../src/RoleRegistry.sol";
import {IAccessHooks} from "../src/interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "../src/interfaces/IConsentRegistry.sol";
import {IRoleRegistry} from "../src/interfaces/IRoleRegistry.sol";
import {HooksRecorder} from "./utils/HooksRecorder.sol";
import {EhrFixture} from "./utils/EhrFixture.sol";

contract ConsentRegistryTest is EhrFixture {
    uint256 internal constant ALICE_PK = 0xA11CE;
    uint256 internal constant BOB_PK = 0xB0B;
    uint256 internal constant MALLORY_PK = 0xBAD;
    uint256 internal constant HALF_N = SECP256K1_N / 2;

    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant SCOPE_TYPEHASH = keccak256("Scope(uint8 kind,bytes32 value)");
    bytes32 internal constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,Scope scope,uint8 purpose,uint64 expiry,uint64 epoch,bytes wrappedKeys,uint256 nonce,uint256 deadline)Scope(uint8 kind,bytes32 value)"
    );
    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,uint256 nonce,uint256 deadline)");

    uint64 internal constant MAX_GRANT = 3650 days;
    uint64 internal constant MAX_EMERGENCY = 72 hours;
    uint64 internal constant MAX_TTL = 30 days;

    address internal relayer = address(0x4001);
    address internal alice;
    address internal bob;
    address internal mallory;

    bytes internal keys = hex"04a1b2c3d4e5f60718293a4b5c6d7e8f";

    function setUp() public virtual {
        vm.warp(T0);
        _deployRegistries();
        _setUpOrgs();

        alice = _registerPatient(ALICE_PK);
        bob = _registerPatient(BOB_PK);
        mallory = vm.addr(MALLORY_PK);
    }

    // ---------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------

    function _request(address patient, address grantee, IConsentRegistry.Scope memory scope)
        internal
        view
        returns (IConsentRegistry.GrantRequest memory)
    {
        return IConsentRegistry.GrantRequest({
            patient: patient,
            grantee: grantee,
            scope: scope,
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(block.timestamp + 30 days),
            epoch: consent.epochOf(patient),
            wrappedKeys: keys
        });
    }

    function _grant(IConsentRegistry.GrantRequest memory req) internal {
        vm.prank(req.patient);
        consent.grant(req);
    }

    function _grantAll(address patient, address grantee) internal {
        _grant(_request(patient, grantee, _allScope()));
    }

    function _signGrant(
        uint256 privateKey,
        IConsentRegistry.GrantRequest memory req,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return signDigest(privateKey, consent.grantDigest(req, nonce, deadline));
    }

    function _signRevoke(
        uint256 privateKey,
        address patient,
        address grantee,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        return signDigest(privateKey, consent.revokeDigest(patient, grantee, nonce, deadline));
    }

    function _domainSeparator(address verifyingContract, uint256 chainId) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("ehrkit ConsentRegistry"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
    }

    /// @dev The Grant digest computed independently of the contract.
    function _expectedGrantDigest(
        IConsentRegistry.GrantRequest memory req,
        uint256 nonce,
        uint256 deadline,
        address verifyingContract,
        uint256 chainId
    ) internal pure returns (bytes32) {
        bytes32 scopeHash = keccak256(abi.encode(SCOPE_TYPEHASH, uint8(req.scope.kind), req.scope.value));
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                req.patient,
                req.grantee,
                scopeHash,
                uint8(req.purpose),
                req.expiry,
                req.epoch,
                keccak256(req.wrappedKeys),
                nonce,
                deadline
            )
        );
        return
            keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract, chainId), structHash));
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }

    /// @dev The error a relayed signature `sig` over `digest` must produce when it is not `patient`'s.
    function _expectBadSignature(bytes memory sig, bytes32 digest, address patient) internal {
        if (sig.length != 65) {
            vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
            return;
        }
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        address recovered = ecrecover(digest, v, r, s);
        if (uint256(s) > HALF_N || recovered == address(0) || (v != 27 && v != 28)) {
            vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidSigner.selector, recovered, patient)
            );
        }
    }

    function _scopeId(IConsentRegistry.Scope memory scope) internal pure returns (bytes32) {
        return keccak256(abi.encode(scope.kind, scope.value));
    }

    function _assertNoGrant(address patient, address grantee, IConsentRegistry.Scope memory scope)
        internal
        view
    {
        IConsentRegistry.GrantInfo memory info = consent.grantOf(patient, grantee, scope);
        assertFalse(info.active);
        assertEq(info.expiry, 0);
        assertEq(info.epoch, 0);
        assertEq(info.grantedAt, 0);
        assertEq(uint8(info.purpose), 0);
    }

    function _fileRequest(address requester, address patient, IConsentRegistry.Scope memory scope)
        internal
        returns (uint256)
    {
        vm.prank(requester);
        return consent.requestAccess(patient, scope, IConsentRegistry.Purpose.Treatment, 7 days, 1, "");
    }

    // ---------------------------------------------------------------------------------
    // Constructor, domain, views
    // ---------------------------------------------------------------------------------

    function test_constructor_setsRolesAndDomain() public view {
        assertEq(consent.roles(), address(roles));
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = consent.eip712Domain();
        assertEq(uint256(uint8(fields)), 0x0f);
        assertEq(name, "ehrkit ConsentRegistry");
        assertEq(version, "1");
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(consent));
        assertEq(salt, bytes32(0));
        assertEq(extensions.length, 0);
        assertEq(consent.DOMAIN_SEPARATOR(), _domainSeparator(address(consent), block.chainid));
    }

    function test_constants() public view {
        assertEq(consent.MAX_GRANT_DURATION(), MAX_GRANT);
        assertEq(consent.MAX_EMERGENCY_DURATION(), MAX_EMERGENCY);
        assertEq(consent.MAX_REQUEST_TTL(), MAX_TTL);
        assertEq(consent.MAX_SCOPES_PER_GRANTEE(), 32);
        assertEq(consent.MAX_REASON_CODE(), 9);
        assertEq(consent.MAX_ENCRYPTED_REASON_LENGTH(), 305);
        assertEq(consent.MAX_WRAPPED_KEYS_LENGTH(), 4096);
        assertEq(consent.SCOPE_TYPEHASH(), SCOPE_TYPEHASH);
        assertEq(consent.GRANT_TYPEHASH(), GRANT_TYPEHASH);
        assertEq(consent.REVOKE_TYPEHASH(), REVOKE_TYPEHASH);
    }

    function test_scopeIdOf_matchesAbiEncode() public view {
        assertEq(consent.scopeIdOf(_allScope()), keccak256(abi.encode(uint8(0), bytes32(0))));
        assertEq(
            consent.scopeIdOf(_allScope()), 0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5
        );
        assertEq(consent.scopeIdOf(_categoryScope("lab")), keccak256(abi.encode(uint8(1), bytes32("lab"))));
        assertEq(consent.scopeIdOf(_recordScope(7)), keccak256(abi.encode(uint8(2), bytes32(uint256(7)))));
    }

    function test_grantDigest_matchesIndependentComputation() public view {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("lab"));
        req.purpose = IConsentRegistry.Purpose.Research;
        assertEq(
            consent.grantDigest(req, 3, T0 + 1 hours),
            _expectedGrantDigest(req, 3, T0 + 1 hours, address(consent), block.chainid)
        );
    }

    function test_revokeDigest_matchesIndependentComputation() public view {
        bytes32 structHash = keccak256(abi.encode(REVOKE_TYPEHASH, alice, doctor, uint256(5), T0 + 60));
        bytes32 expected = keccak256(
            abi.encodePacked("\x19\x01", _domainSeparator(address(consent), block.chainid), structHash)
        );
        assertEq(consent.revokeDigest(alice, doctor, 5, T0 + 60), expected);
    }

    function test_views_defaults() public view {
        assertEq(consent.epochOf(alice), 0);
        assertEq(consent.nonces(alice), 0);
        assertEq(consent.requestCount(), 0);
        assertEq(consent.emergencyUntil(alice, doctor), 0);
        assertEq(consent.scopeIdsOf(alice, doctor).length, 0);
        _assertNoGrant(alice, doctor, _allScope());
        IConsentRegistry.AccessRequest memory req = consent.accessRequest(1);
        assertEq(req.requester, address(0));
        assertEq(uint8(req.status), uint8(IConsentRegistry.RequestStatus.None));
    }

    // ---------------------------------------------------------------------------------
    // grant
    // ---------------------------------------------------------------------------------

    function test_grant_storesAndEmits() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("lab"));
        req.purpose = IConsentRegistry.Purpose.Insurance;
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessGranted(
            alice, doctor, _scopeId(req.scope), req.scope, req.purpose, req.expiry, 0, alice, keys
        );
        _grant(req);

        IConsentRegistry.GrantInfo memory info = consent.grantOf(alice, doctor, req.scope);
        assertTrue(info.active);
        assertEq(info.expiry, req.expiry);
        assertEq(info.epoch, 0);
        assertEq(info.grantedAt, T0);
        assertEq(uint8(info.purpose), uint8(IConsentRegistry.Purpose.Insurance));
        bytes32[] memory ids = consent.scopeIdsOf(alice, doctor);
        assertEq(ids.length, 1);
        assertEq(ids[0], _scopeId(req.scope));
        assertTrue(consent.hasAccess(alice, doctor, req.scope));
        // Grants are per pair.
        assertFalse(consent.hasAccess(alice, tech, req.scope));
        assertFalse(consent.hasAccess(bob, doctor, req.scope));
    }

    function test_grant_toOrganizationAndEveryStaffKind() public {
        address[4] memory grantees = [hospital, insurer, tech, clerk];
        for (uint256 i; i < grantees.length; ++i) {
            _grantAll(alice, grantees[i]);
            assertTrue(consent.hasAccess(alice, grantees[i], _recordScope(1)));
        }
    }

    function test_grant_replacesSameScope() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(9));
        _grant(req);
        vm.warp(T0 + 100);
        req.expiry = uint64(T0 + 1 days);
        req.purpose = IConsentRegistry.Purpose.Research;
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessGranted(
            alice, doctor, _scopeId(req.scope), req.scope, req.purpose, req.expiry, 0, alice, keys
        );
        _grant(req);

        IConsentRegistry.GrantInfo memory info = consent.grantOf(alice, doctor, req.scope);
        assertEq(info.expiry, T0 + 1 days);
        assertEq(info.grantedAt, T0 + 100);
        assertEq(uint8(info.purpose), uint8(IConsentRegistry.Purpose.Research));
        assertEq(consent.scopeIdsOf(alice, doctor).length, 1);
    }

    function test_grant_revertsWhenPatientFieldIsNotCaller() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, bob));
        vm.prank(bob);
        consent.grant(req);
    }

    function test_grant_revertsForUnregisteredPatient() public {
        IConsentRegistry.GrantRequest memory req = _request(mallory, doctor, _allScope());
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, mallory));
        vm.prank(mallory);
        consent.grant(req);

        // Staff cannot grant either.
        req.patient = doctor;
        req.grantee = tech;
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.grant(req);
    }

    function test_grant_revertsForInvalidGrantee() public {
        vm.prank(hospital);
        roles.addStaff(address(0x2009));
        vm.prank(hospital);
        roles.removeStaff(address(0x2009));
        vm.prank(admin);
        roles.removeOrganization(lab);

        address[6] memory grantees = [outsider, bob, lab, tech, address(0x2009), address(0)];
        for (uint256 i; i < grantees.length; ++i) {
            IConsentRegistry.GrantRequest memory req = _request(alice, grantees[i], _allScope());
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidGrantee.selector, grantees[i])
            );
            vm.prank(alice);
            consent.grant(req);
        }
    }

    function test_grant_revertsForInvalidScope() public {
        IConsentRegistry.Scope[5] memory scopes = [
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind.All, bytes32(uint256(1))),
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind.All, bytes32("lab")),
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Category, bytes32(0)),
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Record, bytes32(0)),
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Record, bytes32(uint256(1) << 64))
        ];
        for (uint256 i; i < scopes.length; ++i) {
            IConsentRegistry.GrantRequest memory req = _request(alice, doctor, scopes[i]);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidScope.selector, scopes[i].kind, scopes[i].value
                )
            );
            vm.prank(alice);
            consent.grant(req);
        }
        // The largest record index is fine.
        _grant(_request(alice, doctor, _recordScope(type(uint64).max)));
    }

    function test_grant_expiryBoundaries() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());

        req.expiry = uint64(T0);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentExpired.selector, uint64(T0), uint64(T0))
        );
        vm.prank(alice);
        consent.grant(req);

        req.expiry = uint64(T0 - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentExpired.selector, uint64(T0 - 1), uint64(T0))
        );
        vm.prank(alice);
        consent.grant(req);

        req.expiry = 0;
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentExpired.selector, uint64(0), uint64(T0))
        );
        vm.prank(alice);
        consent.grant(req);

        req.expiry = uint64(T0 + MAX_GRANT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentDurationTooLong.selector, req.expiry, MAX_GRANT)
        );
        vm.prank(alice);
        consent.grant(req);

        req.expiry = type(uint64).max;
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentDurationTooLong.selector, req.expiry, MAX_GRANT)
        );
        vm.prank(alice);
        consent.grant(req);

        req.expiry = uint64(T0 + 1);
        _grant(req);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));

        req.expiry = uint64(T0 + MAX_GRANT);
        _grant(req);
        assertEq(consent.grantOf(alice, doctor, _allScope()).expiry, T0 + MAX_GRANT);
    }

    function test_grant_revertsForWrongEpoch() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.epoch = 1;
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentWrongEpoch.selector, uint64(1), uint64(0))
        );
        vm.prank(alice);
        consent.grant(req);

        // After a revocation the old epoch is stale.
        _grantAll(alice, tech);
        vm.prank(alice);
        consent.revoke(tech);
        req.epoch = 0;
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentWrongEpoch.selector, uint64(0), uint64(1))
        );
        vm.prank(alice);
        consent.grant(req);
        req.epoch = 1;
        _grant(req);
        assertEq(consent.grantOf(alice, doctor, _allScope()).epoch, 1);
    }

    function test_grant_wrappedKeysBounds() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.wrappedKeys = "";
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, 0));
        vm.prank(alice);
        consent.grant(req);

        req.wrappedKeys = new bytes(4097);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, 4097));
        vm.prank(alice);
        consent.grant(req);

        req.wrappedKeys = new bytes(4096);
        _grant(req);
        req.wrappedKeys = hex"01";
        _grant(req);
    }

    function test_grant_scopeCap() public {
        for (uint256 i = 1; i <= 32; ++i) {
            _grant(_request(alice, doctor, _recordScope(i)));
        }
        assertEq(consent.scopeIdsOf(alice, doctor).length, 32);

        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(33));
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentTooManyScopes.selector, alice, doctor, uint256(32))
        );
        vm.prank(alice);
        consent.grant(req);

        // Replacing an existing scope at the cap is fine; another grantee has its own cap.
        _grant(_request(alice, doctor, _recordScope(32)));
        _grant(_request(alice, tech, _recordScope(33)));

        // A revoke frees the pair's slots.
        vm.prank(alice);
        consent.revoke(doctor);
        req.epoch = 1;
        _grant(req);
        assertEq(consent.scopeIdsOf(alice, doctor).length, 1);
    }

    function test_grant_revertsOnOutOfRangeEnums() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory good = abi.encodeCall(IConsentRegistry.grant, (req));
        // Calldata: selector, offset of the struct (0x20), then the struct: patient, grantee,
        // scope.kind (+0x40), scope.value (+0x60), purpose (+0x80), expiry, ...
        bytes memory badKind = bytes.concat(good);
        bytes memory badPurpose = bytes.concat(good);
        assembly {
            mstore(add(badKind, add(0x44, 0x40)), 3) // scope.kind = 3
            mstore(add(badPurpose, add(0x44, 0x80)), 4) // purpose = 4
        }
        // The ABI decoder rejects them before any check runs: empty revert data.
        vm.prank(alice);
        (bool ok, bytes memory data) = address(consent).call(badKind);
        assertFalse(ok);
        assertEq(data.length, 0);
        vm.prank(alice);
        (ok, data) = address(consent).call(badPurpose);
        assertFalse(ok);
        assertEq(data.length, 0);
        vm.prank(alice);
        (ok,) = address(consent).call(good);
        assertTrue(ok);
    }

    function test_grantOf_inactiveAfterExpiry() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        _grant(req);
        vm.warp(req.expiry - 1);
        assertTrue(consent.grantOf(alice, doctor, _allScope()).active);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
        vm.warp(req.expiry);
        IConsentRegistry.GrantInfo memory info = consent.grantOf(alice, doctor, _allScope());
        assertFalse(info.active);
        assertEq(info.expiry, req.expiry);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
    }

    // ---------------------------------------------------------------------------------
    // setUnloggedReads
    // ---------------------------------------------------------------------------------

    function test_setUnloggedReads_flagsOneGrantUntilReplaced() public {
        IConsentRegistry.Scope memory lab = _categoryScope("lab");
        _grant(_request(alice, doctor, lab));
        _grantAll(alice, doctor);
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "logged by default");

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.UnloggedReadsSet(alice, doctor, _scopeId(lab), true);
        vm.prank(alice);
        consent.setUnloggedReads(doctor, lab, true);
        assertTrue(consent.unloggedReadsAllowed(alice, doctor, lab));
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, _allScope()), "only that grant");
        // The flag lives in the grant's own word and leaves every other field alone.
        IConsentRegistry.GrantInfo memory info = consent.grantOf(alice, doctor, lab);
        assertTrue(info.active);
        assertEq(info.expiry, uint64(T0 + 30 days));
        assertTrue(consent.hasAccess(alice, doctor, lab));

        vm.prank(alice);
        consent.setUnloggedReads(doctor, lab, false);
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "taken back");

        vm.prank(alice);
        consent.setUnloggedReads(doctor, lab, true);
        _grant(_request(alice, doctor, lab));
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "a replaced grant is logged again");
    }

    function test_setUnloggedReads_clearedByRevokeAndExpiry() public {
        IConsentRegistry.Scope memory lab = _categoryScope("lab");
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, lab);
        _grant(req);
        vm.prank(alice);
        consent.setUnloggedReads(doctor, lab, true);
        vm.warp(req.expiry);
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "expired");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, doctor));
        consent.setUnloggedReads(doctor, lab, true);

        _grant(_request(alice, doctor, lab));
        vm.prank(alice);
        consent.setUnloggedReads(doctor, lab, true);
        vm.prank(alice);
        consent.revoke(doctor);
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "revoked");
        _grant(_request(alice, doctor, lab));
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab), "granted again: logged");
    }

    function test_setUnloggedReads_onlyThePatientsOwnGrants() public {
        IConsentRegistry.Scope memory lab = _categoryScope("lab");
        _grant(_request(alice, doctor, lab));
        // The grantee, another patient, a stranger: each call names the caller's own grants,
        // of which none exists.
        address[3] memory callers = [doctor, bob, mallory];
        for (uint256 i; i < callers.length; ++i) {
            vm.prank(callers[i]);
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, callers[i], doctor)
            );
            consent.setUnloggedReads(doctor, lab, true);
        }
        assertFalse(consent.unloggedReadsAllowed(alice, doctor, lab));
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentInvalidScope.selector,
                IConsentRegistry.ScopeKind.All,
                bytes32(uint256(1))
            )
        );
        consent.setUnloggedReads(
            doctor, IConsentRegistry.Scope(IConsentRegistry.ScopeKind.All, bytes32(uint256(1))), true
        );
    }

    function testFuzz_setUnloggedReads_neverWithoutAStoredGrant(
        address caller,
        address grantee,
        bytes32 value
    ) public {
        IConsentRegistry.Scope memory scope = _categoryScope("lab");
        vm.assume(value != bytes32(0));
        scope.value = value;
        vm.prank(caller);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, caller, grantee)
        );
        consent.setUnloggedReads(grantee, scope, true);
        assertFalse(consent.unloggedReadsAllowed(caller, grantee, scope));
    }

    // ---------------------------------------------------------------------------------
    // grantWithSig
    // ---------------------------------------------------------------------------------

    function test_grantWithSig_relayed() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("imaging"));
        uint256 deadline = T0 + 1 hours;
        bytes memory sig = _signGrant(ALICE_PK, req, 0, deadline);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessGranted(
            alice, doctor, _scopeId(req.scope), req.scope, req.purpose, req.expiry, 0, relayer, keys
        );
        vm.prank(relayer);
        consent.grantWithSig(req, 0, deadline, sig);

        assertEq(consent.nonces(alice), 1);
        assertTrue(consent.grantOf(alice, doctor, req.scope).active);
        assertTrue(consent.hasAccess(alice, doctor, req.scope));
    }

    function test_invalidateNonce_voidsWithheldSignatures() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory grantSig = _signGrant(ALICE_PK, req, 0, T0 + 1 hours);
        bytes memory revokeSig = _signRevoke(ALICE_PK, alice, doctor, 0, T0 + 1 hours);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.NonceInvalidated(alice, 0);
        vm.prank(alice);
        consent.invalidateNonce();
        assertEq(consent.nonces(alice), 1);

        vm.expectRevert(abi.encodeWithSignature("InvalidAccountNonce(address,uint256)", alice, 1));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0 + 1 hours, grantSig);
        vm.expectRevert(abi.encodeWithSignature("InvalidAccountNonce(address,uint256)", alice, 1));
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0 + 1 hours, revokeSig);
        assertFalse(consent.hasAccess(alice, doctor, req.scope));

        // A signature over the next nonce still works.
        bytes memory fresh = _signGrant(ALICE_PK, req, 1, T0 + 1 hours);
        vm.prank(relayer);
        consent.grantWithSig(req, 1, T0 + 1 hours, fresh);
        assertTrue(consent.hasAccess(alice, doctor, req.scope));

        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.invalidateNonce();
    }

    function test_grantWithSig_patientMaySubmitOwnSignature() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        vm.prank(alice);
        consent.grantWithSig(req, 0, T0, sig);
        assertEq(consent.nonces(alice), 1);
    }

    function test_grantWithSig_deadlineBoundaries() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());

        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentSignatureExpired.selector, T0 - 1, T0));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0 - 1, sig);

        // Exactly now is accepted.
        sig = _signGrant(ALICE_PK, req, 0, T0);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);

        sig = _signGrant(ALICE_PK, req, 1, T0 + 1);
        vm.prank(relayer);
        consent.grantWithSig(req, 1, T0 + 1, sig);
        assertEq(consent.nonces(alice), 2);
    }

    function test_grantWithSig_deadlineCheckedBeforeSignature() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentSignatureExpired.selector, T0 - 1, T0));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0 - 1, hex"00");
    }

    function test_grantWithSig_revertsOnMalformedSignature() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);

        bytes[6] memory bad = [
            bytes(""),
            abi.encodePacked(r, s), // 64 bytes (ERC-2098 form is rejected)
            abi.encodePacked(r, s, v, uint8(0)), // 66 bytes
            abi.encodePacked(r, s, uint8(29)), // bad v
            abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27)), // high s
            abi.encodePacked(bytes32(0), bytes32(0), uint8(27)) // recovers to zero
        ];
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
            vm.prank(relayer);
            consent.grantWithSig(req, 0, T0, bad[i]);
        }
        assertEq(consent.nonces(alice), 0);
    }

    function test_grantWithSig_revertsOnWrongSigner() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(BOB_PK, req, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidSigner.selector, bob, alice));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    function test_grantWithSig_revertsOnTamperedGrant() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("lab"));
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        req.scope = _allScope();
        bytes32 digest = consent.grantDigest(req, 0, T0);
        _expectBadSignature(sig, digest, alice);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    function test_grantWithSig_revertsOnWrongNonceAndReplay() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig1 = _signGrant(ALICE_PK, req, 1, T0);
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 0));
        vm.prank(relayer);
        consent.grantWithSig(req, 1, T0, sig1);

        bytes memory sig0 = _signGrant(ALICE_PK, req, 0, T0);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig0);

        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 1));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig0);

        // The nonce-1 signature is now usable.
        vm.prank(relayer);
        consent.grantWithSig(req, 1, T0, sig1);
        assertEq(consent.nonces(alice), 2);
    }

    function test_grantWithSig_grantChecksRunAfterSignature() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, outsider, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidGrantee.selector, outsider));
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
        assertEq(consent.nonces(alice), 0);

        // A signature by a non-patient fails on the patient check once signer and nonce pass.
        IConsentRegistry.GrantRequest memory forged = _request(mallory, doctor, _allScope());
        sig = _signGrant(MALLORY_PK, forged, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, mallory));
        vm.prank(relayer);
        consent.grantWithSig(forged, 0, T0, sig);
    }

    function test_grantWithSig_staleAfterRevoke() public {
        // A signature made in epoch 0 cannot be submitted after a revocation.
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0 + 1 days);
        _grantAll(alice, tech);
        vm.prank(alice);
        consent.revoke(tech);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentWrongEpoch.selector, uint64(0), uint64(1))
        );
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0 + 1 days, sig);
    }

    function test_grantWithSig_otherChainOrContractInvalidates() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);

        ConsentRegistry other = new ConsentRegistry(roles, NO_HOOKS, NO_POLICY);
        _expectBadSignature(sig, other.grantDigest(req, 0, T0), alice);
        vm.prank(relayer);
        other.grantWithSig(req, 0, T0, sig);

        uint256 chainId = block.chainid;
        vm.chainId(chainId + 1);
        bytes32 digest = consent.grantDigest(req, 0, T0);
        assertEq(digest, _expectedGrantDigest(req, 0, T0, address(consent), chainId + 1));
        _expectBadSignature(sig, digest, alice);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);

        vm.chainId(chainId);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    // ---------------------------------------------------------------------------------
    // revoke / revokeWithSig
    // ---------------------------------------------------------------------------------

    function test_revoke_deletesAllScopesAndAdvancesEpoch() public {
        _grantAll(alice, doctor);
        _grant(_request(alice, doctor, _categoryScope("lab")));
        _grant(_request(alice, doctor, _recordScope(5)));
        _grantAll(alice, tech);
        _grantAll(bob, doctor);

        vm.expectEmit(true, true, false, true, address(consent));
        emit IConsentRegistry.AccessRevoked(alice, doctor, 1, alice);
        vm.prank(alice);
        consent.revoke(doctor);

        assertEq(consent.epochOf(alice), 1);
        assertEq(consent.scopeIdsOf(alice, doctor).length, 0);
        _assertNoGrant(alice, doctor, _allScope());
        _assertNoGrant(alice, doctor, _categoryScope("lab"));
        _assertNoGrant(alice, doctor, _recordScope(5));
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
        assertFalse(consent.hasAccess(alice, doctor, _categoryScope("lab")));
        assertFalse(consent.hasAccess(alice, doctor, _recordScope(5)));

        // Other pairs keep their grants (the tech now needs the new epoch's keys).
        assertTrue(consent.hasAccess(alice, tech, _allScope()));
        assertEq(consent.grantOf(alice, tech, _allScope()).epoch, 0);
        assertTrue(consent.hasAccess(bob, doctor, _allScope()));
        assertEq(consent.epochOf(bob), 0);
    }

    function test_revoke_expiredGrantStillRevocable() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        _grant(req);
        vm.warp(req.expiry + 1);
        vm.prank(alice);
        consent.revoke(doctor);
        assertEq(consent.epochOf(alice), 1);
    }

    function test_revoke_revertsWithoutGrant() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, doctor));
        vm.prank(alice);
        consent.revoke(doctor);

        _grantAll(alice, doctor);
        vm.prank(alice);
        consent.revoke(doctor);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, doctor));
        vm.prank(alice);
        consent.revoke(doctor);

        // A grantee cannot revoke on the patient's behalf.
        _grantAll(bob, doctor);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, doctor, bob));
        vm.prank(doctor);
        consent.revoke(bob);
    }

    function test_revoke_thenRegrant() public {
        _grantAll(alice, doctor);
        vm.prank(alice);
        consent.revoke(doctor);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(3));
        assertEq(req.epoch, 1);
        _grant(req);
        assertTrue(consent.hasAccess(alice, doctor, _recordScope(3)));
        assertFalse(consent.hasAccess(alice, doctor, _recordScope(4)));
    }

    function test_revokeWithSig_relayed() public {
        _grantAll(alice, doctor);
        bytes memory sig = _signRevoke(ALICE_PK, alice, doctor, 0, T0 + 10);
        vm.expectEmit(true, true, false, true, address(consent));
        emit IConsentRegistry.AccessRevoked(alice, doctor, 1, relayer);
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0 + 10, sig);
        assertEq(consent.nonces(alice), 1);
        assertEq(consent.epochOf(alice), 1);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
    }

    function test_revokeWithSig_reverts() public {
        _grantAll(alice, doctor);

        bytes memory sig = _signRevoke(ALICE_PK, alice, doctor, 0, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentSignatureExpired.selector, T0 - 1, T0));
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0 - 1, sig);

        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0, hex"deadbeef");

        sig = _signRevoke(BOB_PK, alice, doctor, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidSigner.selector, bob, alice));
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0, sig);

        sig = _signRevoke(ALICE_PK, alice, doctor, 7, T0);
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 0));
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 7, T0, sig);

        sig = _signRevoke(ALICE_PK, alice, tech, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, tech));
        vm.prank(relayer);
        consent.revokeWithSig(alice, tech, 0, T0, sig);

        sig = _signRevoke(ALICE_PK, alice, doctor, 0, T0);
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0, sig);

        // Replay: the nonce is spent (even after a new grant).
        _grant(_request(alice, doctor, _allScope()));
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 1));
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0, sig);
    }

    function test_revokeWithSig_highSRejected() public {
        _grantAll(alice, doctor);
        bytes memory sig = _signRevoke(ALICE_PK, alice, doctor, 0, T0);
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        bytes memory malleated =
            abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, 0, T0, malleated);
    }

    // ---------------------------------------------------------------------------------
    // shareEpochKeys
    // ---------------------------------------------------------------------------------

    function test_shareEpochKeys_emits() public {
        _grantAll(alice, doctor);
        _grantAll(alice, tech);
        vm.prank(alice);
        consent.revoke(tech);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.EpochKeysShared(alice, doctor, 1, hex"c0ffee");
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"c0ffee");
    }

    function test_shareEpochKeys_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, doctor));
        vm.prank(doctor);
        consent.shareEpochKeys(alice, hex"01");

        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, doctor));
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"01");

        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(1));
        req.expiry = uint64(T0 + 10);
        _grant(req);
        _grant(_request(alice, doctor, _recordScope(2))); // 30 days

        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, 0));
        vm.prank(alice);
        consent.shareEpochKeys(doctor, "");
        bytes memory tooLong = new bytes(4097);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, 4097));
        vm.prank(alice);
        consent.shareEpochKeys(doctor, tooLong);

        // One of two grants expired: still fine. Both expired: no active grant.
        vm.warp(T0 + 10);
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"01");
        vm.warp(T0 + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNoActiveGrant.selector, alice, doctor));
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"01");
    }

    function test_shareEpochKeys_refusesGranteesNoLongerActive() public {
        _grantAll(alice, doctor);
        _grantAll(alice, tech);
        vm.prank(alice);
        consent.revoke(tech);
        // The hospital lets the doctor go: its grant stays until revoked, new keys do not flow.
        vm.prank(hospital);
        roles.removeStaff(doctor);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidGrantee.selector, doctor));
        vm.prank(alice);
        consent.shareEpochKeys(doctor, hex"01");
    }

    // ---------------------------------------------------------------------------------
    // requestAccess
    // ---------------------------------------------------------------------------------

    function test_requestAccess_storesAndEmits() public {
        IConsentRegistry.Scope memory scope = _categoryScope("lab");
        vm.expectEmit(true, true, true, true, address(consent));
        bytes memory sealedReason = new bytes(80);
        sealedReason[0] = 0x02;
        emit IConsentRegistry.AccessRequested(
            1, alice, tech, scope, IConsentRegistry.Purpose.Research, uint64(T0 + 2 days), 4, sealedReason
        );
        vm.prank(tech);
        uint256 id =
            consent.requestAccess(alice, scope, IConsentRegistry.Purpose.Research, 2 days, 4, sealedReason);
        assertEq(id, 1);
        assertEq(consent.requestCount(), 1);

        IConsentRegistry.AccessRequest memory req = consent.accessRequest(1);
        assertEq(req.requester, tech);
        assertEq(req.patient, alice);
        assertEq(uint8(req.scope.kind), uint8(IConsentRegistry.ScopeKind.Category));
        assertEq(req.scope.value, bytes32("lab"));
        assertEq(uint8(req.purpose), uint8(IConsentRegistry.Purpose.Research));
        assertEq(uint8(req.status), uint8(IConsentRegistry.RequestStatus.Pending));
        assertEq(req.createdAt, T0);
        assertEq(req.expiresAt, T0 + 2 days);

        // Organizations may request too; ids increase.
        vm.prank(insurer);
        assertEq(consent.requestAccess(bob, _allScope(), IConsentRegistry.Purpose.Insurance, 1, 1, ""), 2);
        assertEq(consent.requestCount(), 2);
    }

    function test_requestAccess_revertsForNonParticipant() public {
        vm.prank(admin);
        roles.removeOrganization(hospital);
        address[4] memory callers = [outsider, bob, doctor, hospital];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidGrantee.selector, callers[i])
            );
            vm.prank(callers[i]);
            consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, 1 days, 1, "");
        }
    }

    function test_requestAccess_revertsForNonPatient() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, tech));
        vm.prank(doctor);
        consent.requestAccess(tech, _allScope(), IConsentRegistry.Purpose.Treatment, 1 days, 1, "");
    }

    function test_requestAccess_revertsForInvalidScope() public {
        IConsentRegistry.Scope memory scope = _recordScope(0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentInvalidScope.selector, IConsentRegistry.ScopeKind.Record, bytes32(0)
            )
        );
        vm.prank(doctor);
        consent.requestAccess(alice, scope, IConsentRegistry.Purpose.Treatment, 1 days, 1, "");
    }

    function test_requestAccess_reasonBounds() public {
        IConsentRegistry.Purpose treatment = IConsentRegistry.Purpose.Treatment;
        uint16[2] memory badCodes = [uint16(0), uint16(10)];
        for (uint256 i; i < badCodes.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidReason.selector, badCodes[i], uint256(0)
                )
            );
            vm.prank(doctor);
            consent.requestAccess(alice, _allScope(), treatment, 1 days, badCodes[i], "");
        }
        uint256[2] memory badLengths = [uint256(49), uint256(306)];
        for (uint256 i; i < badLengths.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidReason.selector, uint16(1), badLengths[i]
                )
            );
            vm.prank(doctor);
            consent.requestAccess(alice, _allScope(), treatment, 1 days, 1, new bytes(badLengths[i]));
        }
        vm.startPrank(doctor);
        consent.requestAccess(alice, _allScope(), treatment, 1 days, 1, "");
        consent.requestAccess(alice, _allScope(), treatment, 1 days, 9, new bytes(50));
        consent.requestAccess(alice, _allScope(), treatment, 1 days, 3, new bytes(305));
        vm.stopPrank();
    }

    function test_requestAccess_ttlBounds() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidRequestTtl.selector, uint64(0)));
        vm.prank(doctor);
        consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, 0, 1, "");

        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentInvalidRequestTtl.selector, uint64(MAX_TTL + 1))
        );
        vm.prank(doctor);
        consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, MAX_TTL + 1, 1, "");

        vm.prank(doctor);
        uint256 id =
            consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, MAX_TTL, 1, "");
        assertEq(consent.accessRequest(id).expiresAt, T0 + MAX_TTL);
    }

    // ---------------------------------------------------------------------------------
    // approveRequest
    // ---------------------------------------------------------------------------------

    function test_approveRequest_createsGrant() public {
        IConsentRegistry.Scope memory scope = _recordScope(77);
        vm.prank(clerk);
        uint256 id = consent.requestAccess(alice, scope, IConsentRegistry.Purpose.Insurance, 1 days, 1, "");
        uint64 expiry = uint64(T0 + 7 days);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessRequestApproved(id, alice, clerk);
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessGranted(
            alice, clerk, _scopeId(scope), scope, IConsentRegistry.Purpose.Insurance, expiry, 0, alice, keys
        );
        vm.prank(alice);
        consent.approveRequest(id, expiry, keys);

        assertEq(uint8(consent.accessRequest(id).status), uint8(IConsentRegistry.RequestStatus.Approved));
        IConsentRegistry.GrantInfo memory info = consent.grantOf(alice, clerk, scope);
        assertTrue(info.active);
        assertEq(info.expiry, expiry);
        assertEq(uint8(info.purpose), uint8(IConsentRegistry.Purpose.Insurance));
        assertTrue(consent.hasAccess(alice, clerk, scope));
    }

    function test_approveRequest_usesCurrentEpoch() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        _grantAll(alice, tech);
        vm.prank(alice);
        consent.revoke(tech);
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0 + 1 days), keys);
        assertEq(consent.grantOf(alice, doctor, _allScope()).epoch, 1);
    }

    function test_approveRequest_revertsForUnknownId() public {
        _fileRequest(doctor, alice, _allScope());
        uint256[2] memory ids = [uint256(0), 2];
        for (uint256 i; i < ids.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentUnknownRequest.selector, ids[i]));
            vm.prank(alice);
            consent.approveRequest(ids[i], uint64(T0 + 1 days), keys);
        }
    }

    function test_approveRequest_revertsForOtherCaller() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        address[3] memory callers = [bob, doctor, relayer];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentNotRequestPatient.selector, id, callers[i])
            );
            vm.prank(callers[i]);
            consent.approveRequest(id, uint64(T0 + 1 days), keys);
        }
    }

    function test_approveRequest_revertsWhenNotPending() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0 + 1 days), keys);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentRequestNotPending.selector,
                id,
                IConsentRegistry.RequestStatus.Approved
            )
        );
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0 + 1 days), keys);

        uint256 id2 = _fileRequest(doctor, alice, _recordScope(1));
        vm.prank(alice);
        consent.denyRequest(id2);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentRequestNotPending.selector, id2, IConsentRegistry.RequestStatus.Denied
            )
        );
        vm.prank(alice);
        consent.approveRequest(id2, uint64(T0 + 1 days), keys);
    }

    function test_approveRequest_expiryBoundary() public {
        uint256 id = _fileRequest(doctor, alice, _allScope()); // expires at T0 + 7 days
        uint64 expiresAt = uint64(T0 + 7 days);
        vm.warp(expiresAt + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentRequestExpired.selector, id, expiresAt)
        );
        vm.prank(alice);
        consent.approveRequest(id, expiresAt + 1 days, keys);

        vm.warp(expiresAt);
        vm.prank(alice);
        consent.approveRequest(id, expiresAt + 1 days, keys);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
    }

    function test_approveRequest_grantChecksApply() public {
        uint256 id = _fileRequest(tech, alice, _categoryScope("lab"));

        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentExpired.selector, uint64(T0), uint64(T0))
        );
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0), keys);

        uint64 tooLate = uint64(T0 + MAX_GRANT + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentDurationTooLong.selector, tooLate, MAX_GRANT)
        );
        vm.prank(alice);
        consent.approveRequest(id, tooLate, keys);

        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, 0));
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0 + 1), "");

        // The requester's organization was removed in the meantime.
        vm.prank(admin);
        roles.removeOrganization(lab);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidGrantee.selector, tech));
        vm.prank(alice);
        consent.approveRequest(id, uint64(T0 + 1), keys);
        assertEq(uint8(consent.accessRequest(id).status), uint8(IConsentRegistry.RequestStatus.Pending));
    }

    // ---------------------------------------------------------------------------------
    // approveRequestWithSig
    // ---------------------------------------------------------------------------------

    function _approvalFor(uint256 id) internal view returns (IConsentRegistry.GrantRequest memory req) {
        IConsentRegistry.AccessRequest memory stored = consent.accessRequest(id);
        req = _request(stored.patient, stored.requester, stored.scope);
        req.purpose = stored.purpose;
    }

    function test_approveRequestWithSig_relayed() public {
        uint256 id = _fileRequest(doctor, alice, _categoryScope("cardio"));
        IConsentRegistry.GrantRequest memory req = _approvalFor(id);
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0 + 1 hours);

        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessRequestApproved(id, alice, doctor);
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessGranted(
            alice, doctor, _scopeId(req.scope), req.scope, req.purpose, req.expiry, 0, relayer, keys
        );
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0 + 1 hours, sig);

        assertEq(consent.nonces(alice), 1);
        assertEq(uint8(consent.accessRequest(id).status), uint8(IConsentRegistry.RequestStatus.Approved));
        assertTrue(consent.hasAccess(alice, doctor, _categoryScope("cardio")));
    }

    function test_approveRequestWithSig_revertsOnMismatch() public {
        uint256 id = _fileRequest(doctor, alice, _categoryScope("cardio"));
        for (uint256 i; i < 5; ++i) {
            IConsentRegistry.GrantRequest memory req = _approvalFor(id);
            if (i == 0) req.patient = bob;
            if (i == 1) req.grantee = tech;
            if (i == 2) req.scope.kind = IConsentRegistry.ScopeKind.Record;
            if (i == 3) req.scope.value = "neuro";
            if (i == 4) req.purpose = IConsentRegistry.Purpose.Research;
            bytes memory sig = _signGrant(i == 0 ? BOB_PK : ALICE_PK, req, 0, T0);
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentRequestMismatch.selector, id));
            vm.prank(relayer);
            consent.approveRequestWithSig(id, req, 0, T0, sig);
        }
    }

    function test_approveRequestWithSig_revertsOnRequestState() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0 + 30 days);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentUnknownRequest.selector, 1));
        vm.prank(relayer);
        consent.approveRequestWithSig(1, req, 0, T0 + 30 days, sig);

        uint256 id = _fileRequest(doctor, alice, _allScope());
        vm.warp(T0 + 7 days + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentRequestExpired.selector, id, uint64(T0 + 7 days))
        );
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0 + 30 days, sig);

        vm.prank(alice);
        consent.denyRequest(id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentRequestNotPending.selector, id, IConsentRegistry.RequestStatus.Denied
            )
        );
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0 + 30 days, sig);
    }

    function test_approveRequestWithSig_revertsOnSignature() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        IConsentRegistry.GrantRequest memory req = _approvalFor(id);

        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0 - 1);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentSignatureExpired.selector, T0 - 1, T0));
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0 - 1, sig);

        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0, new bytes(65));

        sig = _signGrant(BOB_PK, req, 0, T0);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidSigner.selector, bob, alice));
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0, sig);

        sig = _signGrant(ALICE_PK, req, 1, T0);
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 0));
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 1, T0, sig);

        // Grant checks run after the nonce.
        IConsentRegistry.GrantRequest memory stale = _approvalFor(id);
        stale.epoch = 3;
        sig = _signGrant(ALICE_PK, stale, 0, T0);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentWrongEpoch.selector, uint64(3), uint64(0))
        );
        vm.prank(relayer);
        consent.approveRequestWithSig(id, stale, 0, T0, sig);

        sig = _signGrant(ALICE_PK, req, 0, T0);
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 0, T0, sig);

        // Replay against another pending request for the same pair and scope.
        uint256 id2 = _fileRequest(doctor, alice, _allScope());
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 1));
        vm.prank(relayer);
        consent.approveRequestWithSig(id2, req, 0, T0, sig);
    }

    // ---------------------------------------------------------------------------------
    // denyRequest
    // ---------------------------------------------------------------------------------

    function test_denyRequest_emits() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.AccessRequestDenied(id, alice, doctor);
        vm.prank(alice);
        consent.denyRequest(id);
        assertEq(uint8(consent.accessRequest(id).status), uint8(IConsentRegistry.RequestStatus.Denied));
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
    }

    function test_denyRequest_expiredRequestMayBeDenied() public {
        uint256 id = _fileRequest(doctor, alice, _allScope());
        vm.warp(T0 + 365 days);
        vm.prank(alice);
        consent.denyRequest(id);
        assertEq(uint8(consent.accessRequest(id).status), uint8(IConsentRegistry.RequestStatus.Denied));
    }

    function test_denyRequest_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentUnknownRequest.selector, 1));
        vm.prank(alice);
        consent.denyRequest(1);

        uint256 id = _fileRequest(doctor, alice, _allScope());
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentNotRequestPatient.selector, id, doctor)
        );
        vm.prank(doctor);
        consent.denyRequest(id);

        vm.prank(alice);
        consent.denyRequest(id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentRequestNotPending.selector, id, IConsentRegistry.RequestStatus.Denied
            )
        );
        vm.prank(alice);
        consent.denyRequest(id);

        uint256 id2 = _fileRequest(doctor, alice, _recordScope(1));
        vm.prank(alice);
        consent.approveRequest(id2, uint64(T0 + 1 days), keys);
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentRequestNotPending.selector,
                id2,
                IConsentRegistry.RequestStatus.Approved
            )
        );
        vm.prank(alice);
        consent.denyRequest(id2);
    }

    // ---------------------------------------------------------------------------------
    // Emergency access
    // ---------------------------------------------------------------------------------

    function test_openEmergencyAccess_grantsEverythingUntilItEnds() public {
        uint64 until = uint64(T0 + 6 hours);
        vm.expectEmit(true, true, true, true, address(consent));
        emit IConsentRegistry.EmergencyAccessOpened(alice, doctor, hospital, until, 2, new bytes(60));
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, new bytes(60), 6 hours);

        assertEq(consent.emergencyUntil(alice, doctor), until);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
        assertTrue(consent.hasAccess(alice, doctor, _categoryScope("lab")));
        assertTrue(consent.hasAccess(alice, doctor, _recordScope(123)));
        assertFalse(consent.hasAccess(bob, doctor, _allScope()));

        vm.warp(until - 1);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
        vm.warp(until);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
        assertEq(consent.emergencyUntil(alice, doctor), 0);
    }

    function test_openEmergencyAccess_reopenReplacesEnd() public {
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", MAX_EMERGENCY);
        assertEq(consent.emergencyUntil(alice, doctor), T0 + MAX_EMERGENCY);
    }

    function test_openEmergencyAccess_revertsForNonHospitalDoctor() public {
        vm.prank(hospital);
        roles.addStaff(address(0x2009));
        vm.prank(hospital);
        roles.removeStaff(address(0x2009));

        // Lab staff are active doctors but not hospital doctors.
        address[7] memory callers = [tech, clerk, hospital, lab, alice, outsider, address(0x2009)];
        for (uint256 i; i < callers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentNotHospitalDoctor.selector, callers[i])
            );
            vm.prank(callers[i]);
            consent.openEmergencyAccess(alice, 2, "", 1 hours);
        }

        vm.prank(admin);
        roles.removeOrganization(hospital);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotHospitalDoctor.selector, doctor));
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
    }

    function test_openEmergencyAccess_revertsForNonPatient() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentNotPatient.selector, tech));
        vm.prank(doctor);
        consent.openEmergencyAccess(tech, 2, "", 1 hours);
    }

    function test_openEmergencyAccess_reasonBounds() public {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidReason.selector, uint16(0), 0));
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 0, "", 1 hours);

        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentInvalidReason.selector, uint16(2), 306)
        );
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, new bytes(306), 1 hours);

        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, new bytes(305), 1 hours);
    }

    function test_openEmergencyAccess_durationBounds() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentInvalidEmergencyDuration.selector, uint64(0), MAX_EMERGENCY
            )
        );
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                IConsentRegistry.ConsentInvalidEmergencyDuration.selector, MAX_EMERGENCY + 1, MAX_EMERGENCY
            )
        );
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", MAX_EMERGENCY + 1);

        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1);
        assertEq(consent.emergencyUntil(alice, doctor), T0 + 1);
    }

    function test_emergencyAccess_endsWhenDoctorLosesStatus() public {
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.prank(hospital);
        roles.removeStaff(doctor);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
        assertEq(consent.emergencyUntil(alice, doctor), T0 + 1 hours);
    }

    function test_closeEmergencyAccess_byPatientOrDoctor() public {
        address[2] memory closers = [alice, doctor];
        for (uint256 i; i < closers.length; ++i) {
            vm.prank(doctor);
            consent.openEmergencyAccess(alice, 2, "", 1 hours);
            vm.expectEmit(true, true, false, true, address(consent));
            emit IConsentRegistry.EmergencyAccessClosed(alice, doctor, closers[i]);
            vm.prank(closers[i]);
            consent.closeEmergencyAccess(alice, doctor);
            assertEq(consent.emergencyUntil(alice, doctor), 0);
            assertFalse(consent.hasAccess(alice, doctor, _allScope()));
        }
    }

    function test_closeEmergencyAccess_reverts() public {
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);

        address[3] memory strangers = [bob, hospital, relayer];
        for (uint256 i; i < strangers.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentNotEmergencyParty.selector, strangers[i])
            );
            vm.prank(strangers[i]);
            consent.closeEmergencyAccess(alice, doctor);
        }

        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentNoEmergencyAccess.selector, bob, doctor)
        );
        vm.prank(bob);
        consent.closeEmergencyAccess(bob, doctor);

        vm.warp(T0 + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentNoEmergencyAccess.selector, alice, doctor)
        );
        vm.prank(alice);
        consent.closeEmergencyAccess(alice, doctor);
    }

    // ---------------------------------------------------------------------------------
    // hasAccess
    // ---------------------------------------------------------------------------------

    function test_hasAccess_scopeCoverage() public {
        _grantAll(alice, doctor);
        _grant(_request(alice, tech, _categoryScope("lab")));
        _grant(_request(alice, clerk, _recordScope(42)));

        // All covers everything.
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
        assertTrue(consent.hasAccess(alice, doctor, _categoryScope("imaging")));
        assertTrue(consent.hasAccess(alice, doctor, _recordScope(1)));
        // A category covers that category only.
        assertTrue(consent.hasAccess(alice, tech, _categoryScope("lab")));
        assertFalse(consent.hasAccess(alice, tech, _categoryScope("imaging")));
        assertFalse(consent.hasAccess(alice, tech, _allScope()));
        assertFalse(consent.hasAccess(alice, tech, _recordScope(42)));
        // A record covers that record only.
        assertTrue(consent.hasAccess(alice, clerk, _recordScope(42)));
        assertFalse(consent.hasAccess(alice, clerk, _recordScope(43)));
        assertFalse(consent.hasAccess(alice, clerk, _allScope()));
        assertFalse(consent.hasAccess(alice, clerk, _categoryScope("lab")));
    }

    function test_hasAccess_expiredExactFallsBackToAll() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("lab"));
        req.expiry = uint64(T0 + 1 hours);
        _grant(req);
        _grantAll(alice, doctor); // 30 days
        vm.warp(T0 + 2 hours);
        assertTrue(consent.hasAccess(alice, doctor, _categoryScope("lab")));
    }

    function test_hasAccess_followsGranteeStatus() public {
        _grantAll(alice, doctor);
        _grantAll(alice, hospital);
        vm.prank(admin);
        roles.removeOrganization(hospital);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
        assertFalse(consent.hasAccess(alice, hospital, _allScope()));
        assertTrue(consent.grantOf(alice, doctor, _allScope()).active);

        vm.prank(admin);
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));

        vm.prank(hospital);
        roles.removeStaff(doctor);
        assertFalse(consent.hasAccess(alice, doctor, _allScope()));
    }

    function test_hasAccess_grantAndEmergencyTogether() public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(1));
        req.expiry = uint64(T0 + 1 hours);
        _grant(req);
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 3 hours);
        vm.warp(T0 + 2 hours);
        assertTrue(consent.hasAccess(alice, doctor, _recordScope(1)));
        vm.prank(alice);
        consent.closeEmergencyAccess(alice, doctor);
        assertFalse(consent.hasAccess(alice, doctor, _recordScope(1)));
    }

    function test_hasAccess_doesNotCallRolesWithoutGrant() public {
        vm.record();
        assertFalse(consent.hasAccess(alice, doctor, _recordScope(1)));
        (bytes32[] memory reads,) = vm.accesses(address(roles));
        assertEq(reads.length, 0);
        (reads,) = vm.accesses(address(consent));
        assertEq(reads.length, 3); // exact slot, All slot, emergency slot
    }

    function test_hasAccess_readsOneGrantSlotForExactHit() public {
        _grant(_request(alice, doctor, _recordScope(1)));
        vm.record();
        assertTrue(consent.hasAccess(alice, doctor, _recordScope(1)));
        (bytes32[] memory reads,) = vm.accesses(address(consent));
        assertEq(reads.length, 1);
        (reads,) = vm.accesses(address(roles));
        assertEq(reads.length, 2); // the doctor's slot and the hospital's slot
    }

    event log_named_uint(string key, uint256 val);

    /// @dev Gas of one `hasAccess` call as the RecordIndex would make it, storage cold (via
    /// `vm.cool`), then again warm; both include the caller's CALL overhead and are logged with
    /// -vv. Under `--gas-report` forge runs every call as its own transaction, so both are
    /// fully cold there: the budgets below hold in either mode.
    function _measureHasAccess(
        address patient,
        address grantee,
        IConsentRegistry.Scope memory scope,
        bool expected
    ) internal returns (uint256 cold, uint256 warm) {
        vm.cool(address(consent));
        vm.cool(address(roles));
        uint256 before = gasleft();
        bool result = consent.hasAccess(patient, grantee, scope);
        cold = before - gasleft();
        before = gasleft();
        consent.hasAccess(patient, grantee, scope);
        warm = before - gasleft();
        assertEq(result, expected);
    }

    function test_gas_hasAccess_exactHit() public {
        _grant(_request(alice, doctor, _recordScope(1)));
        (uint256 cold, uint256 warm) = _measureHasAccess(alice, doctor, _recordScope(1), true);
        emit log_named_uint("hasAccess exact hit (staff), cold", cold);
        emit log_named_uint("hasAccess exact hit (staff), warm", warm);
        assertLt(cold, 20_000);
        assertLt(warm, 20_000);
    }

    function test_gas_hasAccess_allFallbackHit() public {
        _grantAll(alice, doctor);
        (uint256 cold, uint256 warm) = _measureHasAccess(alice, doctor, _categoryScope("lab"), true);
        emit log_named_uint("hasAccess via All grant (staff), cold", cold);
        emit log_named_uint("hasAccess via All grant (staff), warm", warm);
        assertLt(cold, 22_000);
        assertLt(warm, 22_000);
    }

    function test_gas_hasAccess_miss() public {
        (uint256 cold, uint256 warm) = _measureHasAccess(alice, doctor, _recordScope(1), false);
        emit log_named_uint("hasAccess miss, cold", cold);
        emit log_named_uint("hasAccess miss, warm", warm);
        assertLt(cold, 15_000);
        assertLt(warm, 15_000);
    }

    function test_gas_hasAccess_emergency() public {
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        (uint256 cold, uint256 warm) = _measureHasAccess(alice, doctor, _recordScope(1), true);
        emit log_named_uint("hasAccess via emergency, cold", cold);
        emit log_named_uint("hasAccess via emergency, warm", warm);
        assertLt(cold, 25_000);
        assertLt(warm, 25_000);
    }

    function test_hasAccess_unknownAccounts() public view {
        assertFalse(consent.hasAccess(address(0), address(0), _allScope()));
        assertFalse(consent.hasAccess(outsider, mallory, _recordScope(1)));
        assertFalse(consent.hasAccess(alice, outsider, _categoryScope("x")));
    }

    // ---------------------------------------------------------------------------------
    // isGrantee
    // ---------------------------------------------------------------------------------

    function test_isGrantee_anyUnexpiredGrantOfAnActiveParticipant() public {
        assertFalse(consent.isGrantee(alice, doctor));
        _grant(_request(alice, doctor, _recordScope(3))); // any scope counts
        assertTrue(consent.isGrantee(alice, doctor));
        assertFalse(consent.isGrantee(bob, doctor));
        _grant(_request(alice, lab, _categoryScope("lab"))); // organizations too
        assertTrue(consent.isGrantee(alice, lab));
        // Not while the grantee's organization is removed; again once re-added.
        vm.prank(admin);
        roles.removeOrganization(lab);
        assertFalse(consent.isGrantee(alice, lab));
        vm.prank(admin);
        roles.addOrganization(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        assertTrue(consent.isGrantee(alice, lab));
        // Not once expired (30 days), nor once revoked.
        vm.prank(alice);
        consent.revoke(lab);
        assertFalse(consent.isGrantee(alice, lab));
        vm.warp(block.timestamp + 30 days);
        assertFalse(consent.isGrantee(alice, doctor));
    }

    function test_isGrantee_openEmergencyAccess() public {
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        assertTrue(consent.isGrantee(alice, doctor));
        assertFalse(consent.isGrantee(bob, doctor));
        vm.prank(alice);
        consent.closeEmergencyAccess(alice, doctor);
        assertFalse(consent.isGrantee(alice, doctor));
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", 1 hours);
        vm.prank(hospital);
        roles.removeStaff(doctor); // only while an active doctor
        assertFalse(consent.isGrantee(alice, doctor));
    }

    function test_isGrantee_unknownAccounts() public view {
        assertFalse(consent.isGrantee(address(0), address(0)));
        assertFalse(consent.isGrantee(outsider, mallory));
    }

    // ---------------------------------------------------------------------------------
    // Hooks (the record index's mirror)
    // ---------------------------------------------------------------------------------

    function test_hooks_noneByDefault() public view {
        assertEq(consent.hooks(), address(0));
    }

    function test_hooks_reportAllAndCategoryGrantsAndEveryRevocation() public {
        HooksRecorder recorder = new HooksRecorder();
        address hooks = address(recorder);
        consent = new ConsentRegistry(roles, IAccessHooks(hooks), NO_POLICY);
        assertEq(consent.hooks(), hooks);

        // Direct grants: All and Category are reported, a Record scope is not.
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        vm.expectCall(
            hooks, abi.encodeCall(IAccessHooks.onGrant, (alice, doctor, _scopeId(_allScope()), req.expiry))
        );
        _grant(req);
        req = _request(alice, doctor, _categoryScope("lab"));
        vm.expectCall(
            hooks,
            abi.encodeCall(IAccessHooks.onGrant, (alice, doctor, _scopeId(_categoryScope("lab")), req.expiry))
        );
        _grant(req);
        _grant(_request(alice, doctor, _recordScope(1)));
        assertEq(recorder.calls(), 2);
        // Replacing a grant reports the new expiry.
        vm.warp(block.timestamp + 1 days);
        req = _request(alice, doctor, _categoryScope("lab"));
        vm.expectCall(
            hooks,
            abi.encodeCall(IAccessHooks.onGrant, (alice, doctor, _scopeId(_categoryScope("lab")), req.expiry))
        );
        _grant(req);

        // Signed grants and both kinds of approval.
        req = _request(bob, doctor, _categoryScope("imaging"));
        bytes memory sig = _signGrant(BOB_PK, req, 0, block.timestamp);
        vm.expectCall(
            hooks, abi.encodeCall(IAccessHooks.onGrant, (bob, doctor, _scopeId(req.scope), req.expiry))
        );
        vm.prank(relayer);
        consent.grantWithSig(req, 0, block.timestamp, sig);
        uint256 id = _fileRequest(tech, alice, _categoryScope("lab"));
        uint64 expiry = uint64(block.timestamp + 2 days);
        vm.expectCall(
            hooks,
            abi.encodeCall(IAccessHooks.onGrant, (alice, tech, _scopeId(_categoryScope("lab")), expiry))
        );
        vm.prank(alice);
        consent.approveRequest(id, expiry, keys);
        id = _fileRequest(tech, bob, _allScope());
        req = _approvalFor(id);
        sig = _signGrant(BOB_PK, req, 1, block.timestamp);
        vm.expectCall(
            hooks, abi.encodeCall(IAccessHooks.onGrant, (bob, tech, _scopeId(_allScope()), req.expiry))
        );
        vm.prank(relayer);
        consent.approveRequestWithSig(id, req, 1, block.timestamp, sig);
        assertEq(recorder.calls(), 6);

        // Revocations report every revoked scopeId (in grant order) and the new epoch.
        bytes32[] memory ids = new bytes32[](3);
        ids[0] = _scopeId(_allScope());
        ids[1] = _scopeId(_categoryScope("lab"));
        ids[2] = _scopeId(_recordScope(1));
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onRevoke, (alice, doctor, ids, uint64(1))));
        vm.prank(alice);
        consent.revoke(doctor);
        ids = new bytes32[](1);
        ids[0] = _scopeId(_categoryScope("imaging"));
        sig = _signRevoke(BOB_PK, bob, doctor, 2, block.timestamp);
        vm.expectCall(hooks, abi.encodeCall(IAccessHooks.onRevoke, (bob, doctor, ids, uint64(1))));
        vm.prank(relayer);
        consent.revokeWithSig(bob, doctor, 2, block.timestamp, sig);
        assertEq(recorder.calls(), 8);
    }

    function test_hooks_failureRevertsTheChange() public {
        HooksRecorder recorder = new HooksRecorder();
        consent = new ConsentRegistry(roles, IAccessHooks(address(recorder)), NO_POLICY);
        _grantAll(alice, doctor);
        recorder.setFailing(true);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _categoryScope("lab"));
        vm.prank(alice);
        vm.expectRevert(HooksRecorder.HooksRecorderFailure.selector);
        consent.grant(req);
        vm.prank(alice);
        vm.expectRevert(HooksRecorder.HooksRecorderFailure.selector);
        consent.revoke(doctor);
        assertEq(consent.epochOf(alice), 0);
        assertTrue(consent.hasAccess(alice, doctor, _allScope()));
    }

    // ---------------------------------------------------------------------------------
    // Fuzz: signatures
    // ---------------------------------------------------------------------------------

    function _freshPatient(uint256 privateKey) internal returns (uint256 pk, address account) {
        pk = bound(privateKey, 1, SECP256K1_N - 1);
        account = vm.addr(pk);
        vm.assume(roles.roleOf(account) == IRoleRegistry.Role.None);
        _registerPatient(pk);
    }

    function testFuzz_grantWithSig_anyPatientKey(uint256 privateKey, address submitter) public {
        (uint256 pk, address patient) = _freshPatient(privateKey);
        IConsentRegistry.GrantRequest memory req = _request(patient, doctor, _allScope());
        bytes memory sig = _signGrant(pk, req, 0, T0);
        vm.prank(submitter);
        consent.grantWithSig(req, 0, T0, sig);
        assertEq(consent.nonces(patient), 1);
        assertTrue(consent.hasAccess(patient, doctor, _allScope()));
    }

    function testFuzz_grantWithSig_wrongSigner(uint256 signerKey) public {
        signerKey = bound(signerKey, 1, SECP256K1_N - 1);
        vm.assume(signerKey != ALICE_PK);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(signerKey, req, 0, T0);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.ConsentInvalidSigner.selector, vm.addr(signerKey), alice)
        );
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    function testFuzz_grantWithSig_highSRejected(uint256 privateKey, uint64 expiryOffset) public {
        (uint256 pk, address patient) = _freshPatient(privateKey);
        IConsentRegistry.GrantRequest memory req = _request(patient, tech, _categoryScope("lab"));
        req.expiry = uint64(T0 + bound(expiryOffset, 1, MAX_GRANT));
        bytes32 digest = consent.grantDigest(req, 0, T0);
        (bytes32 r, bytes32 s, uint8 v) = _split(_signGrant(pk, req, 0, T0));
        assertLe(uint256(s), HALF_N);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flipped = v == 27 ? 28 : 27;
        // The malleated signature is valid for ecrecover, so only the low-s rule stops it.
        assertEq(ecrecover(digest, flipped, r, highS), patient);

        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, abi.encodePacked(r, highS, flipped));
        assertEq(consent.nonces(patient), 0);
    }

    function testFuzz_grantWithSig_badLengthRejected(uint256 privateKey, uint256 length) public {
        length = bound(length, 0, 160);
        vm.assume(length != 65);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        bytes memory cut = new bytes(length);
        for (uint256 i; i < length; ++i) {
            cut[i] = i < 65 ? sig[i] : bytes1(uint8(uint256(keccak256(abi.encode(privateKey, i)))));
        }
        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, cut);
    }

    function testFuzz_grantWithSig_garbageRejected(bytes32 r, bytes32 s, uint8 v) public {
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = abi.encodePacked(r, s, v);
        _expectBadSignature(sig, consent.grantDigest(req, 0, T0), alice);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    function testFuzz_grantWithSig_wrongNonce(uint256 nonce) public {
        vm.assume(nonce != 0);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, nonce, T0);
        vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 0));
        vm.prank(relayer);
        consent.grantWithSig(req, nonce, T0, sig);
    }

    function testFuzz_grantWithSig_replayRejected(uint8 uses) public {
        uses = uint8(bound(uses, 1, 5));
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        for (uint256 n; n < uses; ++n) {
            bytes memory sig = _signGrant(ALICE_PK, req, n, T0);
            vm.prank(relayer);
            consent.grantWithSig(req, n, T0, sig);
            for (uint256 old; old <= n; ++old) {
                bytes memory oldSig = _signGrant(ALICE_PK, req, old, T0);
                vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, n + 1));
                vm.prank(relayer);
                consent.grantWithSig(req, old, T0, oldSig);
            }
        }
        assertEq(consent.nonces(alice), uses);
    }

    function testFuzz_grantWithSig_deadline(uint256 deadline, uint256 warpBy) public {
        warpBy = bound(warpBy, 0, 365 days);
        deadline = bound(deadline, T0, T0 + 400 days);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.expiry = uint64(T0 + 500 days);
        bytes memory sig = _signGrant(ALICE_PK, req, 0, deadline);
        vm.warp(T0 + warpBy);
        if (deadline < block.timestamp) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentSignatureExpired.selector, deadline, block.timestamp
                )
            );
        }
        vm.prank(relayer);
        consent.grantWithSig(req, 0, deadline, sig);
    }

    function testFuzz_grantWithSig_otherChainId(uint64 chainId) public {
        vm.assume(chainId != block.chainid && chainId != 0);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        vm.chainId(chainId);
        bytes32 digest = consent.grantDigest(req, 0, T0);
        _expectBadSignature(sig, digest, alice);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
        // Signing on the new chain works.
        sig = signDigest(ALICE_PK, digest);
        vm.prank(relayer);
        consent.grantWithSig(req, 0, T0, sig);
    }

    function testFuzz_grantWithSig_otherInstance(bytes32 salt) public {
        ConsentRegistry other = new ConsentRegistry{salt: salt}(roles, NO_HOOKS, NO_POLICY);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        bytes memory sig = _signGrant(ALICE_PK, req, 0, T0);
        _expectBadSignature(sig, other.grantDigest(req, 0, T0), alice);
        vm.prank(relayer);
        other.grantWithSig(req, 0, T0, sig);
    }

    function testFuzz_revokeWithSig_signerAndNonce(uint256 signerKey, uint256 nonce) public {
        signerKey = bound(signerKey, 1, SECP256K1_N - 1);
        nonce = bound(nonce, 0, 3);
        _grantAll(alice, doctor);
        bytes memory sig = _signRevoke(signerKey, alice, doctor, nonce, T0);
        if (signerKey != ALICE_PK) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidSigner.selector, vm.addr(signerKey), alice
                )
            );
        } else if (nonce != 0) {
            vm.expectRevert(abi.encodeWithSelector(Nonces.InvalidAccountNonce.selector, alice, 0));
        }
        vm.prank(relayer);
        consent.revokeWithSig(alice, doctor, nonce, T0, sig);
        assertEq(consent.epochOf(alice), signerKey == ALICE_PK && nonce == 0 ? 1 : 0);
    }

    function testFuzz_revokeWithSig_malleatedRejected(uint256 privateKey) public {
        (uint256 pk, address patient) = _freshPatient(privateKey);
        _grantAll(patient, doctor);
        (bytes32 r, bytes32 s, uint8 v) = _split(_signRevoke(pk, patient, doctor, 0, T0));
        bytes memory malleated =
            abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.expectRevert(IConsentRegistry.ConsentInvalidSignature.selector);
        vm.prank(relayer);
        consent.revokeWithSig(patient, doctor, 0, T0, malleated);
    }

    // ---------------------------------------------------------------------------------
    // Fuzz: boundaries and validity
    // ---------------------------------------------------------------------------------

    function testFuzz_grant_expiry(uint64 expiry, uint256 warpBy) public {
        vm.warp(T0 + bound(warpBy, 0, 1000 days));
        uint64 nowTs = uint64(block.timestamp);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.expiry = expiry;
        if (expiry <= nowTs) {
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentExpired.selector, expiry, nowTs));
        } else if (expiry - nowTs > MAX_GRANT) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentDurationTooLong.selector, expiry, MAX_GRANT)
            );
        }
        vm.prank(alice);
        consent.grant(req);
    }

    function testFuzz_grant_durationBoundary(uint256 warpBy, bool over) public {
        vm.warp(T0 + bound(warpBy, 0, 1000 days));
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.expiry = uint64(block.timestamp + MAX_GRANT + (over ? 1 : 0));
        if (over) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentDurationTooLong.selector, req.expiry, MAX_GRANT
                )
            );
        }
        vm.prank(alice);
        consent.grant(req);
    }

    function testFuzz_grant_accessEndsAtExpiry(uint256 duration, uint256 probe) public {
        duration = bound(duration, 1, MAX_GRANT);
        probe = bound(probe, 0, MAX_GRANT + 1);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _recordScope(5));
        req.expiry = uint64(T0 + duration);
        _grant(req);
        vm.warp(T0 + probe);
        assertEq(consent.hasAccess(alice, doctor, _recordScope(5)), probe < duration);
        assertEq(consent.grantOf(alice, doctor, _recordScope(5)).active, probe < duration);
    }

    function testFuzz_grant_scopeValidity(uint8 kindSeed, bytes32 value) public {
        IConsentRegistry.ScopeKind kind = IConsentRegistry.ScopeKind(kindSeed % 3);
        bool valid;
        if (kind == IConsentRegistry.ScopeKind.All) valid = value == 0;
        else if (kind == IConsentRegistry.ScopeKind.Category) valid = value != 0;
        else valid = value != 0 && uint256(value) <= type(uint64).max;
        IConsentRegistry.Scope memory scope = IConsentRegistry.Scope(kind, value);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, scope);
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidScope.selector, kind, value)
            );
        }
        vm.prank(alice);
        consent.grant(req);
        assertEq(consent.hasAccess(alice, doctor, scope), valid);
    }

    function testFuzz_grant_recordScopeBoundary(uint256 index) public {
        IConsentRegistry.Scope memory scope = _recordScope(index);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, scope);
        if (index == 0 || index > type(uint64).max) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidScope.selector,
                    IConsentRegistry.ScopeKind.Record,
                    bytes32(index)
                )
            );
        }
        vm.prank(alice);
        consent.grant(req);
    }

    function testFuzz_grant_wrappedKeysLength(uint256 length) public {
        length = bound(length, 0, 4200);
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.wrappedKeys = new bytes(length);
        if (length == 0 || length > 4096) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidWrappedKeys.selector, length)
            );
        }
        vm.prank(alice);
        consent.grant(req);
    }

    function testFuzz_grant_epoch(uint64 epoch, uint8 revocations) public {
        revocations = uint8(bound(revocations, 0, 4));
        for (uint256 i; i < revocations; ++i) {
            _grantAll(alice, tech);
            vm.prank(alice);
            consent.revoke(tech);
        }
        IConsentRegistry.GrantRequest memory req = _request(alice, doctor, _allScope());
        req.epoch = epoch;
        if (epoch != revocations) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentWrongEpoch.selector, epoch, uint64(revocations)
                )
            );
        }
        vm.prank(alice);
        consent.grant(req);
    }

    function testFuzz_requestAccess_ttl(uint64 ttl) public {
        if (ttl == 0 || ttl > MAX_TTL) {
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.ConsentInvalidRequestTtl.selector, ttl));
        }
        vm.prank(doctor);
        uint256 id = consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, ttl, 1, "");
        if (ttl != 0 && ttl <= MAX_TTL) {
            assertEq(consent.accessRequest(id).expiresAt, T0 + ttl);
            // Answerable up to and including expiresAt.
            vm.warp(T0 + ttl);
            vm.prank(alice);
            consent.approveRequest(id, uint64(T0 + ttl + 1), keys);
        }
    }

    function testFuzz_requestAccess_reason(uint16 code, uint256 length) public {
        code = uint16(bound(code, 0, 12));
        length = bound(length, 0, 400);
        bool valid = code >= 1 && code <= 9 && (length == 0 || (length >= 50 && length <= 305));
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentInvalidReason.selector, code, length)
            );
        }
        vm.prank(doctor);
        consent.requestAccess(
            alice, _allScope(), IConsentRegistry.Purpose.Treatment, 1 days, code, new bytes(length)
        );
    }

    function testFuzz_approveRequest_expiry(uint64 ttl, uint256 waited) public {
        ttl = uint64(bound(ttl, 1, MAX_TTL));
        waited = bound(waited, 0, 2 * uint256(MAX_TTL));
        vm.prank(doctor);
        uint256 id = consent.requestAccess(alice, _allScope(), IConsentRegistry.Purpose.Treatment, ttl, 1, "");
        vm.warp(T0 + waited);
        if (waited > ttl) {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.ConsentRequestExpired.selector, id, uint64(T0 + ttl))
            );
        }
        vm.prank(alice);
        consent.approveRequest(id, uint64(block.timestamp + 1 days), keys);
    }

    function testFuzz_openEmergencyAccess_duration(uint64 duration) public {
        if (duration == 0 || duration > MAX_EMERGENCY) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IConsentRegistry.ConsentInvalidEmergencyDuration.selector, duration, MAX_EMERGENCY
                )
            );
        }
        vm.prank(doctor);
        consent.openEmergencyAccess(alice, 2, "", duration);
        if (duration != 0 && duration <= MAX_EMERGENCY) {
            assertEq(consent.emergencyUntil(alice, doctor), T0 + duration);
            vm.warp(T0 + duration - 1);
            assertTrue(consent.hasAccess(alice, doctor, _recordScope(1)));
            vm.warp(T0 + duration);
            assertFalse(consent.hasAccess(alice, doctor, _recordScope(1)));
        }
    }

    function testFuzz_hasAccess_neverReverts(address patient, address grantee, uint8 kindSeed, bytes32 value)
        public
        view
    {
        IConsentRegistry.Scope memory scope =
            IConsentRegistry.Scope(IConsentRegistry.ScopeKind(kindSeed % 3), value);
        assertFalse(consent.hasAccess(patient, grantee, scope));
    }
}
