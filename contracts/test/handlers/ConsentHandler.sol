// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../../src/ConsentRegistry.sol";
import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "../../src/interfaces/IConsentRegistry.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {EhrHelpers} from "../utils/EhrFixture.sol";

/// @title ConsentHandler
/// @notice Drives a ConsentRegistry for forge's invariant runner with a fixed cast (patients
/// whose keys the handler knows, three organizations, three staff members, an outsider and an
/// attacker key) and keeps ghost state: every grant the handler created through an authorised
/// path (the patient's own call or the patient's valid signature), revocations, signed
/// operations, requests and emergency access. Time moves only through `warp`, and every action
/// first re-applies the handler's clock, so the invariant checks can do the same.
contract ConsentHandler is EhrHelpers {
    uint256 internal constant PATIENTS = 2;
    uint256 internal constant GRANTEES = 5;
    uint256 internal constant SCOPES = 4;
    uint256 internal constant ATTACKER_PK = 0xBAD;
    /// @notice The hospital's doctor, the only grantee that can open emergency access.
    address public constant DOCTOR = address(0x2001);

    error UnknownPatient(address account);

    struct GhostGrant {
        bool exists;
        uint64 expiry;
        uint64 epoch;
        uint64 grantedAt;
        IConsentRegistry.Purpose purpose;
        bool unloggedReads;
    }

    struct GhostRequest {
        address requester;
        address patient;
        uint8 scopeIndex;
        IConsentRegistry.Purpose purpose;
        IConsentRegistry.RequestStatus status;
        uint64 expiresAt;
    }

    struct SignedGrant {
        IConsentRegistry.GrantRequest grant;
        uint256 nonce;
        uint256 deadline;
        bytes signature;
    }

    RoleRegistry public immutable roles;
    ConsentRegistry public immutable consent;

    uint256[PATIENTS] internal _patientKeys;
    address[PATIENTS] public patients;
    // lab, doctor (hospital staff), tech (lab staff), clerk (insurer staff), outsider.
    address[GRANTEES] public grantees;
    address public relayer = address(0x4001);

    /// @notice The handler's clock: every action and every invariant check warps here first.
    uint256 public currentTime;

    // Ghost state.
    mapping(address patient => mapping(address grantee => mapping(uint256 scope => GhostGrant))) internal
        _ghost;
    mapping(address patient => mapping(address grantee => bool)) public revokedSinceGrant;
    mapping(address patient => uint256) public revocations;
    mapping(address patient => uint256) public signedOps;
    mapping(address patient => mapping(address doctor => uint64)) public ghostEmergency;
    mapping(uint256 requestId => GhostRequest) internal _requests;
    uint256 public requestCount;
    /// @notice Calls that succeeded although the model says they must fail (forged or replayed
    /// signatures, stale epochs, strangers). Must stay 0.
    uint256 public unexpectedSuccesses;
    /// @notice Ghost of the lab's status (toggled by `toggleLab`).
    bool public labActive = true;

    mapping(address patient => SignedGrant) internal _lastSigned;
    mapping(string action => uint256) public calls;

    constructor() {
        currentTime = T0;
        vm.warp(currentTime);
        (roles, consent) = _newRegistries(address(this), NO_HOOKS);

        address hospital = address(0x1001);
        address lab = address(0x1002);
        address insurer = address(0x1003);
        grantees = [lab, DOCTOR, address(0x2002), address(0x2003), address(0x3001)];
        roles.addOrganization(hospital, IRoleRegistry.OrgKind.Hospital, "St. Mary");
        roles.addOrganization(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        roles.addOrganization(insurer, IRoleRegistry.OrgKind.Insurer, "Acme Health");
        vm.prank(hospital);
        roles.addStaff(DOCTOR);
        vm.prank(lab);
        roles.addStaff(grantees[2]);
        vm.prank(insurer);
        roles.addStaff(grantees[3]);

        _patientKeys = [uint256(0xA11CE), 0xB0B];
        for (uint256 i; i < PATIENTS; ++i) {
            patients[i] = _registerPatientWith(roles, _patientKeys[i]);
        }
    }

    modifier tick(string memory action) {
        vm.warp(currentTime);
        calls[action]++;
        _;
    }

    // ---------------------------------------------------------------------------------
    // Views for the invariant checks
    // ---------------------------------------------------------------------------------

    function patientCount() external pure returns (uint256) {
        return PATIENTS;
    }

    function granteeCount() external pure returns (uint256) {
        return GRANTEES;
    }

    function scopeCount() external pure returns (uint256) {
        return SCOPES;
    }

    function ghostGrant(address patient, address grantee, uint256 scopeIndex)
        external
        view
        returns (GhostGrant memory)
    {
        return _ghost[patient][grantee][scopeIndex];
    }

    /// @notice Every ghost grant of `patient`, flattened as [grantee index * SCOPES + scope index].
    function ghostGrantsOf(address patient) external view returns (GhostGrant[] memory all) {
        all = new GhostGrant[](GRANTEES * SCOPES);
        for (uint256 g; g < GRANTEES; ++g) {
            for (uint256 s; s < SCOPES; ++s) {
                all[g * SCOPES + s] = _ghost[patient][grantees[g]][s];
            }
        }
    }

    /// @notice The ghost end of emergency access of `patient` for every grantee, by grantee index.
    function ghostEmergencyOf(address patient) external view returns (uint64[] memory all) {
        all = new uint64[](GRANTEES);
        for (uint256 g; g < GRANTEES; ++g) {
            all[g] = ghostEmergency[patient][grantees[g]];
        }
    }

    /// @notice The role model of the cast: whether grantee `g` is an active participant and an active doctor.
    function granteeStatus(uint256 g) public view returns (bool participant, bool doctor) {
        // lab, doctor (hospital), tech (lab), clerk (insurer), outsider.
        if (g == 0) return (labActive, false);
        if (g == 1) return (true, true);
        if (g == 2) return (labActive, labActive);
        if (g == 3) return (true, false);
        return (false, false);
    }

    function ghostRequest(uint256 requestId) external view returns (GhostRequest memory) {
        return _requests[requestId];
    }

    /// @notice The fixed scope set: All, Category "lab", Category "imaging", Record 7.
    function scopeAt(uint256 index) public pure returns (IConsentRegistry.Scope memory) {
        if (index == 0) return _allScope();
        if (index == 1) return _categoryScope(bytes32("lab"));
        if (index == 2) {
            return _categoryScope(bytes32("imaging"));
        }
        return _recordScope(7);
    }

    // ---------------------------------------------------------------------------------
    // Actions: grants
    // ---------------------------------------------------------------------------------

    function _draft(
        uint256 patientSeed,
        uint256 granteeSeed,
        uint256 scopeSeed,
        uint256 purposeSeed,
        uint256 duration
    )
        internal
        view
        returns (IConsentRegistry.GrantRequest memory req, uint256 patientIndex, uint256 scopeIndex)
    {
        patientIndex = patientSeed % PATIENTS;
        scopeIndex = scopeSeed % SCOPES;
        address patient = patients[patientIndex];
        req = IConsentRegistry.GrantRequest({
            patient: patient,
            grantee: grantees[granteeSeed % GRANTEES],
            scope: scopeAt(scopeIndex),
            purpose: IConsentRegistry.Purpose(purposeSeed % 4),
            expiry: uint64(block.timestamp + bound(duration, 1 hours, 20 days)),
            epoch: consent.epochOf(patient),
            wrappedKeys: abi.encodePacked(keccak256(abi.encode(patientSeed, granteeSeed, duration)))
        });
    }

    function _recordGrant(IConsentRegistry.GrantRequest memory req, uint256 scopeIndex) internal {
        _ghost[req.patient][req.grantee][scopeIndex] = GhostGrant({
            exists: true,
            expiry: req.expiry,
            epoch: req.epoch,
            grantedAt: uint64(block.timestamp),
            purpose: req.purpose,
            unloggedReads: false
        });
        revokedSinceGrant[req.patient][req.grantee] = false;
    }

    /// @notice The patient grants directly.
    function grant(
        uint256 patientSeed,
        uint256 granteeSeed,
        uint256 scopeSeed,
        uint256 purposeSeed,
        uint256 duration
    ) external tick("grant") {
        (IConsentRegistry.GrantRequest memory req,, uint256 scopeIndex) =
            _draft(patientSeed, granteeSeed, scopeSeed, purposeSeed, duration);
        vm.prank(req.patient);
        try consent.grant(req) {
            _recordGrant(req, scopeIndex);
        } catch {}
    }

    /// @notice A stranger (grantee, outsider or another patient) tries to grant on a patient's behalf.
    function grantAsStranger(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed, uint256 callerSeed)
        external
        tick("grantAsStranger")
    {
        (IConsentRegistry.GrantRequest memory req, uint256 patientIndex,) =
            _draft(patientSeed, granteeSeed, scopeSeed, 0, 1 days);
        address caller = callerSeed % 2 == 0
            ? grantees[callerSeed % GRANTEES]
            : patients[(patientIndex + 1 + callerSeed % (PATIENTS - 1)) % PATIENTS];
        vm.prank(caller);
        try consent.grant(req) {
            unexpectedSuccesses++;
        } catch {}
    }

    /// @notice A relayer submits a grant the patient signed with the right nonce.
    function grantWithSig(
        uint256 patientSeed,
        uint256 granteeSeed,
        uint256 scopeSeed,
        uint256 purposeSeed,
        uint256 duration,
        uint256 deadlineSeed
    ) external tick("grantWithSig") {
        (IConsentRegistry.GrantRequest memory req, uint256 patientIndex, uint256 scopeIndex) =
            _draft(patientSeed, granteeSeed, scopeSeed, purposeSeed, duration);
        uint256 nonce = consent.nonces(req.patient);
        uint256 deadline = block.timestamp + bound(deadlineSeed, 0, 1 days);
        bytes memory signature =
            signDigest(_patientKeys[patientIndex], consent.grantDigest(req, nonce, deadline));
        vm.prank(relayer);
        try consent.grantWithSig(req, nonce, deadline, signature) {
            signedOps[req.patient]++;
            _recordGrant(req, scopeIndex);
            _lastSigned[req.patient] = SignedGrant(req, nonce, deadline, signature);
        } catch {}
    }

    /// @notice Invalid signatures: the attacker's key, a malleated (high-s) signature, a
    /// truncated one, a wrong nonce or a stale epoch. None may succeed.
    function grantWithBadSig(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed, uint256 mode)
        external
        tick("grantWithBadSig")
    {
        (IConsentRegistry.GrantRequest memory req, uint256 patientIndex,) =
            _draft(patientSeed, granteeSeed, scopeSeed, 0, 1 days);
        uint256 nonce = consent.nonces(req.patient);
        uint256 deadline = block.timestamp + 1 hours;
        mode = mode % 5;
        if (mode == 3) nonce += 1;
        if (mode == 4) {
            if (req.epoch == 0) req.epoch = 1;
            else req.epoch -= 1;
        }
        uint256 key = mode == 0 ? ATTACKER_PK : _patientKeys[patientIndex];
        bytes memory signature = signDigest(key, consent.grantDigest(req, nonce, deadline));
        if (mode == 1) {
            (bytes32 r, bytes32 s, uint8 v) = _split(signature);
            signature =
                abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        } else if (mode == 2) {
            assembly {
                mstore(signature, 64)
            }
        }
        vm.prank(relayer);
        try consent.grantWithSig(req, nonce, deadline, signature) {
            unexpectedSuccesses++;
        } catch {}
    }

    /// @notice Replays the patient's last successful signed grant. Must fail.
    function replayGrant(uint256 patientSeed) external tick("replayGrant") {
        SignedGrant memory last = _lastSigned[patients[patientSeed % PATIENTS]];
        if (last.signature.length == 0) return;
        vm.prank(relayer);
        try consent.grantWithSig(last.grant, last.nonce, last.deadline, last.signature) {
            unexpectedSuccesses++;
        } catch {}
    }

    // ---------------------------------------------------------------------------------
    // Actions: revocation
    // ---------------------------------------------------------------------------------

    function _recordRevoke(address patient, address grantee) internal {
        for (uint256 s; s < SCOPES; ++s) {
            delete _ghost[patient][grantee][s];
        }
        revokedSinceGrant[patient][grantee] = true;
        revocations[patient]++;
    }

    /// @notice The patient lets a grantee read one grant's records without logging (or takes
    /// it back); only a stored, unexpired grant takes the flag.
    function setUnloggedReads(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed, bool allowed)
        external
        tick("setUnloggedReads")
    {
        uint256 scopeIndex = scopeSeed % SCOPES;
        address patient = patients[patientSeed % PATIENTS];
        address grantee = grantees[granteeSeed % GRANTEES];
        GhostGrant storage ghost = _ghost[patient][grantee][scopeIndex];
        vm.prank(patient);
        try consent.setUnloggedReads(grantee, scopeAt(scopeIndex), allowed) {
            if (!ghost.exists || ghost.expiry <= block.timestamp) unexpectedSuccesses++;
            ghost.unloggedReads = allowed;
        } catch {}
    }

    /// @notice A stranger (a grantee, the other patient, the attacker) tries to set the flag
    /// on a patient's grant: the call can only ever touch the caller's own grants.
    function setUnloggedReadsAsStranger(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed)
        external
        tick("setUnloggedReadsAsStranger")
    {
        uint256 scopeIndex = scopeSeed % SCOPES;
        address patient = patients[patientSeed % PATIENTS];
        address grantee = grantees[granteeSeed % GRANTEES];
        vm.prank(grantee);
        try consent.setUnloggedReads(patient, scopeAt(scopeIndex), true) {
            unexpectedSuccesses++;
        } catch {}
    }

    /// @notice The patient revokes a grantee directly.
    function revoke(uint256 patientSeed, uint256 granteeSeed) external tick("revoke") {
        address patient = patients[patientSeed % PATIENTS];
        address grantee = grantees[granteeSeed % GRANTEES];
        vm.prank(patient);
        try consent.revoke(grantee) {
            _recordRevoke(patient, grantee);
        } catch {}
    }

    /// @notice A relayer submits a revocation the patient signed (sometimes with the attacker's key).
    function revokeWithSig(uint256 patientSeed, uint256 granteeSeed, bool forged)
        external
        tick("revokeWithSig")
    {
        uint256 patientIndex = patientSeed % PATIENTS;
        address patient = patients[patientIndex];
        address grantee = grantees[granteeSeed % GRANTEES];
        uint256 nonce = consent.nonces(patient);
        uint256 deadline = block.timestamp;
        bytes memory signature = signDigest(
            forged ? ATTACKER_PK : _patientKeys[patientIndex],
            consent.revokeDigest(patient, grantee, nonce, deadline)
        );
        vm.prank(relayer);
        try consent.revokeWithSig(patient, grantee, nonce, deadline, signature) {
            if (forged) unexpectedSuccesses++;
            signedOps[patient]++;
            _recordRevoke(patient, grantee);
        } catch {}
    }

    // ---------------------------------------------------------------------------------
    // Actions: requests
    // ---------------------------------------------------------------------------------

    /// @notice A grantee (or the outsider, which must fail) files a request.
    function requestAccess(
        uint256 requesterSeed,
        uint256 patientSeed,
        uint256 scopeSeed,
        uint256 purposeSeed,
        uint64 ttl
    ) external tick("requestAccess") {
        address requester = grantees[requesterSeed % GRANTEES];
        address patient = patients[patientSeed % PATIENTS];
        uint8 scopeIndex = uint8(scopeSeed % SCOPES);
        IConsentRegistry.Purpose purpose = IConsentRegistry.Purpose(purposeSeed % 4);
        ttl = uint64(bound(ttl, 1, 3 days));
        IConsentRegistry.Scope memory scope = scopeAt(scopeIndex);
        vm.prank(requester);
        try consent.requestAccess(patient, scope, purpose, ttl, 1, "") returns (uint256 id) {
            requestCount++;
            if (id != requestCount) unexpectedSuccesses++;
            _requests[id] = GhostRequest({
                requester: requester,
                patient: patient,
                scopeIndex: scopeIndex,
                purpose: purpose,
                status: IConsentRegistry.RequestStatus.Pending,
                expiresAt: uint64(block.timestamp + ttl)
            });
        } catch {}
    }

    function _pickRequest(uint256 idSeed) internal view returns (uint256 id) {
        if (requestCount == 0) return 0;
        id = bound(idSeed, 1, requestCount);
    }

    function _recordApproval(uint256 id, IConsentRegistry.GrantRequest memory req) internal {
        GhostRequest storage request = _requests[id];
        request.status = IConsentRegistry.RequestStatus.Approved;
        _recordGrant(req, request.scopeIndex);
    }

    function _approvalGrant(uint256 id, uint256 duration)
        internal
        view
        returns (IConsentRegistry.GrantRequest memory)
    {
        GhostRequest memory request = _requests[id];
        return IConsentRegistry.GrantRequest({
            patient: request.patient,
            grantee: request.requester,
            scope: scopeAt(request.scopeIndex),
            purpose: request.purpose,
            expiry: uint64(block.timestamp + bound(duration, 1 hours, 20 days)),
            epoch: consent.epochOf(request.patient),
            wrappedKeys: hex"0badc0de"
        });
    }

    /// @notice The request's patient approves it (or a stranger tries, which must fail).
    function approveRequest(uint256 idSeed, uint256 duration, bool asStranger)
        external
        tick("approveRequest")
    {
        uint256 id = _pickRequest(idSeed);
        if (id == 0) return;
        IConsentRegistry.GrantRequest memory req = _approvalGrant(id, duration);
        address caller = asStranger ? req.grantee : req.patient;
        vm.prank(caller);
        try consent.approveRequest(id, req.expiry, req.wrappedKeys) {
            if (asStranger) unexpectedSuccesses++;
            _recordApproval(id, req);
        } catch {}
    }

    /// @notice A relayer approves a request with the patient's signed grant.
    function approveRequestWithSig(uint256 idSeed, uint256 duration) external tick("approveRequestWithSig") {
        uint256 id = _pickRequest(idSeed);
        if (id == 0) return;
        IConsentRegistry.GrantRequest memory req = _approvalGrant(id, duration);
        uint256 patientIndex = _indexOf(req.patient);
        uint256 nonce = consent.nonces(req.patient);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature =
            signDigest(_patientKeys[patientIndex], consent.grantDigest(req, nonce, deadline));
        vm.prank(relayer);
        try consent.approveRequestWithSig(id, req, nonce, deadline, signature) {
            signedOps[req.patient]++;
            _recordApproval(id, req);
        } catch {}
    }

    /// @notice The request's patient denies it.
    function denyRequest(uint256 idSeed) external tick("denyRequest") {
        uint256 id = _pickRequest(idSeed);
        if (id == 0) return;
        vm.prank(_requests[id].patient);
        try consent.denyRequest(id) {
            _requests[id].status = IConsentRegistry.RequestStatus.Denied;
        } catch {}
    }

    // ---------------------------------------------------------------------------------
    // Actions: emergency, roles, time
    // ---------------------------------------------------------------------------------

    /// @notice A staff member (only the hospital doctor can succeed) opens emergency access.
    function openEmergency(uint256 callerSeed, uint256 patientSeed, uint64 duration)
        external
        tick("openEmergency")
    {
        address caller = grantees[callerSeed % GRANTEES];
        address patient = patients[patientSeed % PATIENTS];
        duration = uint64(bound(duration, 1, 72 hours));
        vm.prank(caller);
        try consent.openEmergencyAccess(patient, 2, "", duration) {
            if (caller != DOCTOR) unexpectedSuccesses++;
            ghostEmergency[patient][caller] = uint64(block.timestamp) + duration;
        } catch {}
    }

    /// @notice The patient or the doctor closes emergency access.
    function closeEmergency(uint256 patientSeed, bool byDoctor) external tick("closeEmergency") {
        address patient = patients[patientSeed % PATIENTS];
        address doctor = DOCTOR;
        vm.prank(byDoctor ? doctor : patient);
        try consent.closeEmergencyAccess(patient, doctor) {
            ghostEmergency[patient][doctor] = 0;
        } catch {}
    }

    /// @notice The admin removes or re-adds the lab (its technician goes inactive with it).
    function toggleLab() external tick("toggleLab") {
        address lab = grantees[0];
        if (labActive) roles.removeOrganization(lab);
        else roles.addOrganization(lab, IRoleRegistry.OrgKind.Lab, "Quest Lab");
        labActive = !labActive;
    }

    /// @notice Moves the handler's clock forward.
    function warp(uint256 seconds_) external tick("warp") {
        currentTime += bound(seconds_, 1, 5 days);
        vm.warp(currentTime);
    }

    // ---------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------

    function _indexOf(address patient) internal view returns (uint256) {
        for (uint256 i; i < PATIENTS; ++i) {
            if (patients[i] == patient) return i;
        }
        revert UnknownPatient(patient);
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
    }
}
