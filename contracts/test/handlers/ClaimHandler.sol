// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ClaimRegistry} from "../../src/ClaimRegistry.sol";
import {ConsentRegistry} from "../../src/ConsentRegistry.sol";
import {RecordIndex} from "../../src/RecordIndex.sol";
import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";
import {IClaimRegistry} from "../../src/interfaces/IClaimRegistry.sol";
import {IConsentRegistry} from "../../src/interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "../../src/interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {EhrHelpers} from "../utils/EhrFixture.sol";

/// @title ClaimHandler
/// @notice Drives a ClaimRegistry on the real, wired RecordIndex + RoleRegistry +
/// ConsentRegistry for forge's invariant runner: patients add records and grant (Record or
/// All scopes) and revoke; insurers are removed and re-added (sometimes as another kind);
/// staff join, leave and move; time passes; random actors file claims over random record
/// lists and start reviews and decide random claims.
/// Before every claim call it evaluates the rule from the registries (`isPatient`,
/// `isActiveOrganizationOfKind`, `stateOf`, `hasAccess`, `orgOf`) and the claim's ghost
/// state, so it can count calls that succeeded against the rule and valid calls that failed.
/// Every claim is kept as a ghost (what was filed, and its status moved only along the
/// allowed edges), for the invariants to compare with the contract.
contract ClaimHandler is EhrHelpers {
    uint256 internal constant PATIENTS = 2;
    uint256 internal constant ORGS = 3;
    uint256 internal constant STAFF = 4;
    uint256 internal constant INITIAL_RECORDS = 4;

    /// @notice What the handler knows a claim must be.
    struct Ghost {
        address patient;
        address insurer;
        IClaimRegistry.ClaimStatus status;
        uint64 submittedAt;
        uint64 decidedAt;
        bytes32 termsCommitment;
        uint64[] recordIds;
    }

    RecordIndex public immutable index;
    RoleRegistry public immutable roles;
    ConsentRegistry public immutable consent;
    ClaimRegistry public immutable claims;

    uint256[PATIENTS] internal _patientKeys = [uint256(0xA11CE), 0xB0B];
    address[PATIENTS] public patients;
    // insurer A, insurer B, hospital
    address[ORGS] public orgs = [address(0x1003), address(0x1004), address(0x1001)];
    // clerk A (insurer A), clerk B (insurer B), doctor (hospital), floater (no organization yet)
    address[STAFF] public staff = [address(0x2003), address(0x2004), address(0x2001), address(0x2005)];
    address public constant OUTSIDER = address(0x3001);

    /// @notice Every account that acts: patients, staff, organizations and the outsider.
    address[] public actors;

    /// @notice The handler's clock: every action and every invariant check warps here first.
    uint256 public currentTime = T0;

    Ghost[] internal _ghosts;
    /// @notice Claim calls that succeeded although the rule (or the ghost state) refused them. Must stay 0.
    uint256 public unexpectedSuccesses;
    /// @notice Valid claim calls the rule allowed that reverted. Must stay 0.
    uint256 public missedCalls;
    /// @notice Successful submissions of a record the insurer could not read at that moment. Must stay 0.
    uint256 public ungrantedSubmissions;
    /// @notice Successful transitions by someone other than the claim's insurer or its staff. Must stay 0.
    uint256 public movesByOthers;
    /// @notice Successful transitions along an edge other than Submitted → UnderReview →
    /// Approved | Rejected. Must stay 0.
    uint256 public illegalEdges;
    mapping(string action => uint256) public calls;

    constructor() {
        vm.warp(currentTime);
        (index, roles, consent) = _newStack(address(this));
        claims = new ClaimRegistry(roles, consent, index);

        roles.addOrganization(orgs[0], IRoleRegistry.OrgKind.Insurer, "Acme Health");
        roles.addOrganization(orgs[1], IRoleRegistry.OrgKind.Insurer, "Beta Mutual");
        roles.addOrganization(orgs[2], IRoleRegistry.OrgKind.Hospital, "St. Mary");
        for (uint256 i; i < 3; ++i) {
            vm.prank(orgs[i]);
            roles.addStaff(staff[i]);
        }
        for (uint256 i; i < PATIENTS; ++i) {
            patients[i] = _registerPatientWith(roles, _patientKeys[i]);
            for (uint256 r; r < INITIAL_RECORDS; ++r) {
                _addRecord(patients[i], r);
            }
            // Each insurer starts able to read records 1 and 2 (claims succeed from the first call).
            for (uint256 k; k < 4; ++k) {
                _grantRecord(patients[i], orgs[k % 2], 1 + k / 2, 30 days);
            }
            actors.push(patients[i]);
        }
        for (uint256 i; i < STAFF; ++i) {
            actors.push(staff[i]);
        }
        for (uint256 i; i < ORGS; ++i) {
            actors.push(orgs[i]);
        }
        actors.push(OUTSIDER);
    }

    modifier tick(string memory action) {
        vm.warp(currentTime);
        calls[action]++;
        _;
    }

    // ---------------------------------------------------------------------------------
    // Views for the invariant checks
    // ---------------------------------------------------------------------------------

    /// @notice The number of claims the handler saw filed.
    function ghostCount() external view returns (uint256) {
        return _ghosts.length;
    }

    /// @notice The ghost of claim `claimId` (ids start at 1).
    function ghost(uint256 claimId) external view returns (Ghost memory) {
        return _ghosts[claimId - 1];
    }

    /// @notice The insurer rule: the insurer account or a staff member of it, while the
    /// insurer is an active organization of kind Insurer.
    function mayMove(address insurer, address account) public view returns (bool) {
        return (account == insurer || roles.orgOf(account) == insurer)
            && roles.isActiveOrganizationOfKind(insurer, IRoleRegistry.OrgKind.Insurer);
    }

    // ---------------------------------------------------------------------------------
    // Actions: records, roles and consent
    // ---------------------------------------------------------------------------------

    /// @notice A patient adds a record.
    function addRecord(uint256 patientSeed, uint256 seed) external tick("addRecord") {
        _addRecord(patients[patientSeed % PATIENTS], seed);
    }

    /// @notice A patient grants a random actor (mostly an insurer or its clerk) a Record grant
    /// of one of its records (or one past them), or, one time in eight, an All grant.
    function grant(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed, uint256 duration)
        external
        tick("grant")
    {
        (granteeSeed, scopeSeed) = (_mix(granteeSeed, "grantee"), _mix(scopeSeed, "scope"));
        address patient = patients[patientSeed % PATIENTS];
        uint256 records = index.stateOf(patient).records;
        IConsentRegistry.Scope memory scope =
            scopeSeed % 8 == 0 ? _allScope() : _recordScope(1 + (scopeSeed >> 3) % (records + 1));
        address grantee =
            granteeSeed % 4 == 0 ? actors[(granteeSeed >> 2) % actors.length] : orgs[(granteeSeed >> 2) % 2];
        _tryGrant(patient, grantee, scope, bound(duration, 1 days, 30 days));
    }

    /// @notice A patient revokes every grant it gave a random actor.
    function revoke(uint256 patientSeed, uint256 granteeSeed) external tick("revoke") {
        address patient = patients[patientSeed % PATIENTS];
        vm.prank(patient);
        try consent.revoke(actors[granteeSeed % actors.length]) {} catch {}
    }

    /// @notice The admin removes an active organization (one time in three), or re-adds a
    /// removed one, as an insurer three times in four, else as a hospital.
    function toggleOrganization(uint256 orgSeed, uint256 kindSeed) external tick("toggleOrganization") {
        address org = orgs[orgSeed % ORGS];
        if (roles.isActiveOrganization(org)) {
            if (kindSeed % 3 == 0) roles.removeOrganization(org);
        } else {
            IRoleRegistry.OrgKind kind =
                kindSeed % 4 == 0 ? IRoleRegistry.OrgKind.Hospital : IRoleRegistry.OrgKind.Insurer;
            roles.addOrganization(org, kind, "re-added");
        }
    }

    /// @notice A staff member leaves its organization, or joins a random one.
    function moveStaff(uint256 staffSeed, uint256 orgSeed) external tick("moveStaff") {
        address member = staff[staffSeed % STAFF];
        address current = roles.orgOf(member);
        if (current != address(0)) {
            vm.prank(current);
            try roles.removeStaff(member) {} catch {}
        } else {
            vm.prank(orgs[orgSeed % ORGS]);
            try roles.addStaff(member) {} catch {}
        }
    }

    /// @notice Moves the handler's clock forward (grants expire).
    function warp(uint256 seconds_) external tick("warp") {
        currentTime += bound(seconds_, 1, 12 hours);
        vm.warp(currentTime);
    }

    // ---------------------------------------------------------------------------------
    // Actions: claims
    // ---------------------------------------------------------------------------------

    /// @dev One submission attempt (a struct, to stay within the stack).
    struct Submission {
        address caller;
        address insurer;
        uint64[] recordIds;
        bytes32 termsCommitment;
        bytes sealedTerms;
        bool valid;
        bool granted;
    }

    /// @notice A random actor (mostly a patient) files a claim with a random account (mostly
    /// an insurer) over 1 to 4 of the patient's records (sometimes unknown ones, a repeat, no
    /// records, a zero amount or a bad currency).
    function submitClaim(uint256 callerSeed, uint256 insurerSeed, uint256 listSeed, uint256 amountSeed)
        external
        tick("submitClaim")
    {
        (callerSeed, insurerSeed) = (_mix(callerSeed, "caller"), _mix(insurerSeed, "insurer"));
        (listSeed, amountSeed) = (_mix(listSeed, "list"), _mix(amountSeed, "amount"));
        Submission memory s;
        s.caller =
            callerSeed % 5 == 0 ? actors[(callerSeed >> 3) % actors.length] : patients[callerSeed % PATIENTS];
        s.insurer = insurerSeed % 5 == 0 ? actors[(insurerSeed >> 3) % actors.length] : orgs[insurerSeed % 2];
        s.recordIds = _pickRecords(s.caller, s.insurer, listSeed);
        // Mostly valid terms; sometimes a zero commitment or no sealed terms (refused).
        s.termsCommitment = amountSeed % 16 == 0 ? bytes32(0) : keccak256(abi.encode(amountSeed));
        s.sealedTerms = (amountSeed >> 64) % 16 == 0 ? new bytes(0) : new bytes(200);
        (s.valid, s.granted) = _submissionAllowed(s);

        vm.prank(s.caller);
        try claims.submitClaim(s.insurer, s.recordIds, s.termsCommitment, s.sealedTerms) returns (
            uint256 claimId
        ) {
            if (!s.valid || claimId != _ghosts.length + 1) unexpectedSuccesses++;
            if (!s.granted) ungrantedSubmissions++;
            Ghost storage g = _ghosts.push();
            g.patient = s.caller;
            g.insurer = s.insurer;
            g.status = IClaimRegistry.ClaimStatus.Submitted;
            g.submittedAt = uint64(block.timestamp);
            g.termsCommitment = s.termsCommitment;
            g.recordIds = s.recordIds;
            calls["submitClaim.ok"]++;
        } catch {
            if (s.valid) missedCalls++;
        }
    }

    /// @notice A random actor (mostly the claim's insurer or its staff) starts reviewing a
    /// claim (mostly a submitted one, sometimes any or an unknown id).
    function startReview(uint256 callerSeed, uint256 claimSeed) external tick("startReview") {
        (callerSeed, claimSeed) = (_mix(callerSeed, "reviewer"), _mix(claimSeed, "claim"));
        uint256 claimId = _pickClaim(claimSeed, IClaimRegistry.ClaimStatus.Submitted);
        address caller = _pickReviewer(claimId, callerSeed);
        bool known = claimId != 0 && claimId <= _ghosts.length;
        bool expected = known && mayMove(_ghosts[claimId - 1].insurer, caller)
            && _ghosts[claimId - 1].status == IClaimRegistry.ClaimStatus.Submitted;

        vm.prank(caller);
        try claims.startReview(claimId) {
            if (!expected) unexpectedSuccesses++;
            if (!known) return;
            Ghost storage g = _ghosts[claimId - 1];
            if (!mayMove(g.insurer, caller)) movesByOthers++;
            if (g.status != IClaimRegistry.ClaimStatus.Submitted) illegalEdges++;
            g.status = IClaimRegistry.ClaimStatus.UnderReview;
            calls["startReview.ok"]++;
        } catch {
            if (expected) missedCalls++;
        }
    }

    /// @notice A random actor (mostly the claim's insurer or its staff) decides a claim
    /// (mostly one under review), with a reason of 0 to 300 bytes (mostly valid).
    function decide(uint256 callerSeed, uint256 claimSeed, bool approved, uint256 reasonSeed)
        external
        tick("decide")
    {
        (callerSeed, claimSeed) = (_mix(callerSeed, "reviewer"), _mix(claimSeed, "claim"));
        reasonSeed = _mix(reasonSeed, "reason");
        uint256 claimId = _pickClaim(claimSeed, IClaimRegistry.ClaimStatus.UnderReview);
        address caller = _pickReviewer(claimId, callerSeed);
        // Codes 0 and 9 are out of range; words, when sent, are 50 to 305 bytes of ciphertext.
        uint16 code = uint16(reasonSeed % 10);
        uint256 length = (reasonSeed >> 4) % 4 == 0 ? 0 : (reasonSeed >> 6) % 330;
        bool known = claimId != 0 && claimId <= _ghosts.length;
        bool expected = known && mayMove(_ghosts[claimId - 1].insurer, caller)
            && _ghosts[claimId - 1].status == IClaimRegistry.ClaimStatus.UnderReview && code >= 1 && code <= 8
            && (length == 0 || (length >= 50 && length <= 305));

        vm.prank(caller);
        try claims.decide(claimId, approved, code, new bytes(length)) {
            if (!expected) unexpectedSuccesses++;
            if (!known) return;
            Ghost storage g = _ghosts[claimId - 1];
            if (!mayMove(g.insurer, caller)) movesByOthers++;
            if (g.status != IClaimRegistry.ClaimStatus.UnderReview) illegalEdges++;
            g.status = approved ? IClaimRegistry.ClaimStatus.Approved : IClaimRegistry.ClaimStatus.Rejected;
            g.decidedAt = uint64(block.timestamp);
            calls["decide.ok"]++;
        } catch {
            if (expected) missedCalls++;
        }
    }

    // ---------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------

    /// @dev Spreads a fuzzer seed over all bits: the fuzzer favours small and edge values,
    /// which would pick the same few branches of every `%` choice.
    function _mix(uint256 seed, string memory salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    function _grantRecord(address patient, address grantee, uint256 recordId, uint256 duration) internal {
        _tryGrant(patient, grantee, _recordScope(recordId), duration);
    }

    /// @dev An Insurance-purpose grant (which may fail: grantee not a participant, too many scopes).
    function _tryGrant(
        address patient,
        address grantee,
        IConsentRegistry.Scope memory scope,
        uint256 duration
    ) internal {
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: patient,
            grantee: grantee,
            scope: scope,
            purpose: IConsentRegistry.Purpose.Insurance,
            expiry: uint64(block.timestamp + duration),
            epoch: consent.epochOf(patient),
            wrappedKeys: hex"01"
        });
        vm.prank(patient);
        try consent.grant(req) {} catch {}
    }

    function _addRecord(address patient, uint256 seed) internal {
        uint64 epoch = consent.epochOf(patient);
        vm.prank(patient);
        index.addRecord(
            patient,
            keccak256(abi.encode(patient, seed, block.timestamp)),
            bytes32("lab"),
            epoch,
            new bytes(128)
        );
    }

    /// @dev 1 to 4 ids: two times in three records `insurer` may read now (if any), else any ids
    /// in 0 to records + 1; one time in eight the first id repeated, one in sixteen no ids.
    function _pickRecords(address patient, address insurer, uint256 seed)
        internal
        view
        returns (uint64[] memory ids)
    {
        if (seed % 16 == 0) return new uint64[](0);
        uint256 records = index.stateOf(patient).records;
        uint256 count = 1 + (seed >> 4) % 4;
        ids = new uint64[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = uint64(uint256(keccak256(abi.encode(seed, i))) % (records + 2));
        }
        if ((seed >> 8) % 3 != 0) {
            // Distinct readable records, from a random start.
            uint64[] memory readable = new uint64[](records);
            uint256 found;
            uint256 start = (seed >> 12) % (records + 1);
            for (uint256 k; k < records && found < count; ++k) {
                uint64 id = uint64(1 + (start + k) % records);
                IConsentRegistry.Scope memory scope = _recordScope(id);
                if (consent.hasAccess(patient, insurer, scope)) readable[found++] = id;
            }
            if (found > 0) {
                ids = new uint64[](found);
                for (uint256 i; i < found; ++i) {
                    ids[i] = readable[i];
                }
                count = found;
            }
        }
        if (count > 1 && (seed >> 9) % 8 == 0) ids[count - 1] = ids[0];
    }

    /// @dev The contract's rule for a submission, from the registries: whether it is valid,
    /// and whether the insurer may read every listed record now.
    function _submissionAllowed(Submission memory s) internal view returns (bool valid, bool granted) {
        uint256 count = s.recordIds.length;
        uint64 records = index.stateOf(s.caller).records;
        granted = true;
        bool distinct = true;
        bool known = true;
        for (uint256 i; i < count; ++i) {
            uint64 id = s.recordIds[i];
            for (uint256 j; j < i; ++j) {
                if (s.recordIds[j] == id) distinct = false;
            }
            if (id == 0 || id > records) known = false;
            IConsentRegistry.Scope memory scope = _recordScope(id);
            if (!consent.hasAccess(s.caller, s.insurer, scope)) granted = false;
        }
        valid = roles.isPatient(s.caller)
            && roles.isActiveOrganizationOfKind(s.insurer, IRoleRegistry.OrgKind.Insurer) && count >= 1
            && count <= claims.MAX_RECORDS() && distinct && s.termsCommitment != bytes32(0)
            && s.sealedTerms.length != 0 && known && granted;
    }

    /// @dev Three times in four a claim in `status` (if any), else any id from 0 to the
    /// count + 1 (0 and the last are unknown).
    function _pickClaim(uint256 seed, IClaimRegistry.ClaimStatus status) internal view returns (uint256) {
        uint256 count = _ghosts.length;
        if (seed % 4 != 0) {
            uint256 start = (seed >> 2) % (count + 1);
            for (uint256 k; k < count; ++k) {
                uint256 claimId = 1 + (start + k) % count;
                if (_ghosts[claimId - 1].status == status) return claimId;
            }
        }
        return (seed >> 2) % (count + 2);
    }

    /// @dev Three times in four the claim's insurer or one of its staff (who may have lost
    /// the right since), else any actor.
    function _pickReviewer(uint256 claimId, uint256 seed) internal view returns (address) {
        if (seed % 4 != 0 && claimId != 0 && claimId <= _ghosts.length) {
            address insurer = _ghosts[claimId - 1].insurer;
            if ((seed >> 2) % 2 == 0) return insurer;
            for (uint256 i; i < STAFF; ++i) {
                address member = staff[((seed >> 3) + i) % STAFF];
                if (roles.orgOf(member) == insurer) return member;
            }
            return insurer;
        }
        return actors[(seed >> 2) % actors.length];
    }
}
