// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ConsentRegistry} from "../../src/ConsentRegistry.sol";
import {RecordIndex} from "../../src/RecordIndex.sol";
import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "../../src/interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "../../src/interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {EhrHelpers} from "../utils/EhrFixture.sol";

/// @title RecordIndexHandler
/// @notice Drives a wired RecordIndex + RoleRegistry + ConsentRegistry for forge's invariant
/// runner: organizations removed and re-added with random kinds, staff joining, leaving and
/// moving, a late patient registration, grants of every scope, revocations, emergency access
/// opened and closed, time jumps, and adds, batches and supersedes by random actors
/// (authorized or not, sometimes with a stale or future epoch).
/// Before every write it evaluates the registries' own rule (`isPatient`, `isActiveDoctor`,
/// `hasAccess`) and the epoch and record checks, so it can count writes that succeeded against
/// the rule (`unexpectedSuccesses`) and valid, authorized writes that failed (`missedWrites`).
/// Every successful entry is kept in a ghost list per patient, for the accumulator invariant.
contract RecordIndexHandler is EhrHelpers {
    uint256 internal constant PATIENTS = 3;
    uint256 internal constant ORGS = 4;
    uint256 internal constant STAFF = 5;
    uint256 internal constant CATEGORIES = 3;

    /// @notice A ghost entry: what the index must have chained.
    struct Entry {
        uint8 kind; // 0 record, 1 tombstone
        uint64 recordId;
        uint64 supersededBy;
        bytes32 digest;
        bytes32 tagsHash;
        bytes32 category;
        uint64 epoch;
        address writer;
    }

    RecordIndex public immutable index;
    RoleRegistry public immutable roles;
    ConsentRegistry public immutable consent;

    uint256[PATIENTS] internal _patientKeys = [uint256(0xA11CE), 0xB0B, 0xCA401];
    address[PATIENTS] public patients;
    // hospital, lab, insurer, clinic (a second hospital)
    address[ORGS] public orgs = [address(0x1001), address(0x1002), address(0x1003), address(0x1004)];
    // doctor (hospital), tech (lab), clerk (insurer), doctor2 (clinic), floater (no org yet)
    address[STAFF] public staff =
        [address(0x2001), address(0x2002), address(0x2003), address(0x2004), address(0x2005)];
    address public constant OUTSIDER = address(0x3001);
    bytes32[CATEGORIES] public categories = [bytes32("lab"), bytes32("imaging"), bytes32("notes")];

    /// @notice Every account that tries to write, and that the mirror invariant checks:
    /// patients, staff, organizations and the outsider.
    address[] public actors;

    /// @notice The handler's clock: every action and every invariant check warps here first.
    uint256 public currentTime = T0;

    mapping(address patient => Entry[]) internal _entries;
    mapping(address patient => uint64) public ghostRecords;
    /// @notice Writes that succeeded although the registries' rule (or a check) refused them. Must stay 0.
    uint256 public unexpectedSuccesses;
    /// @notice Valid writes the registries' rule allowed that reverted. Must stay 0.
    uint256 public missedWrites;
    mapping(string action => uint256) public calls;

    error UnexpectedRevert(bytes reason);

    constructor() {
        vm.warp(currentTime);
        (index, roles, consent) = _newStack(address(this));

        roles.addOrganization(orgs[0], IRoleRegistry.OrgKind.Hospital, "St. Mary");
        roles.addOrganization(orgs[1], IRoleRegistry.OrgKind.Lab, "Quest Lab");
        roles.addOrganization(orgs[2], IRoleRegistry.OrgKind.Insurer, "Acme Health");
        roles.addOrganization(orgs[3], IRoleRegistry.OrgKind.Hospital, "Clinic");
        for (uint256 i; i < 4; ++i) {
            vm.prank(orgs[i]);
            roles.addStaff(staff[i]);
        }
        for (uint256 i; i < PATIENTS; ++i) {
            patients[i] = vm.addr(_patientKeys[i]);
            if (i < 2) _registerPatient(i);
        }
        for (uint256 i; i < PATIENTS; ++i) {
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

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function patientCount() external pure returns (uint256) {
        return PATIENTS;
    }

    function categoryCount() external pure returns (uint256) {
        return CATEGORIES;
    }

    /// @notice Every ghost entry of `patient`, in order.
    function entriesOf(address patient) external view returns (Entry[] memory) {
        return _entries[patient];
    }

    /// @notice The registries' write rule, as `IRecordIndex.canWrite` must answer it.
    function rule(address patient, address writer, bytes32 category) public view returns (bool) {
        if (writer == patient && roles.isPatient(patient)) return true;
        return roles.isActiveDoctor(writer) && consent.hasAccess(patient, writer, _categoryScope(category));
    }

    /// @notice The rule without emergency access: exactly what the mirror must allow.
    function ruleWithoutEmergency(address patient, address writer, bytes32 category)
        public
        view
        returns (bool)
    {
        if (writer == patient) return roles.isPatient(patient);
        if (!roles.isActiveDoctor(writer)) return false;
        return consent.grantOf(patient, writer, _categoryScope(category)).active
            || consent.grantOf(patient, writer, _allScope()).active;
    }

    // ---------------------------------------------------------------------------------
    // Actions: roles
    // ---------------------------------------------------------------------------------

    /// @notice The admin removes an active organization (one time in three), or re-adds a
    /// removed one with a random kind (a hospital half the time, else a lab or an insurer).
    function toggleOrganization(uint256 orgSeed, uint256 kindSeed) external tick("toggleOrganization") {
        address org = orgs[orgSeed % ORGS];
        if (roles.isActiveOrganization(org)) {
            // Removal one time in three, so organizations are mostly active.
            if (kindSeed % 3 == 0) roles.removeOrganization(org);
        } else {
            uint256 k = kindSeed % 4;
            IRoleRegistry.OrgKind kind = k < 2
                ? IRoleRegistry.OrgKind.Hospital
                : (k == 2 ? IRoleRegistry.OrgKind.Lab : IRoleRegistry.OrgKind.Insurer);
            roles.addOrganization(org, kind, "re-added");
        }
    }

    /// @notice A staff member leaves its organization, or joins a random one (which may fail:
    /// the organization must be active, and a staff member of a removed one cannot leave).
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

    /// @notice The third patient registers (once).
    function registerLatePatient() external tick("registerLatePatient") {
        if (!roles.isPatient(patients[2])) _registerPatient(2);
    }

    // ---------------------------------------------------------------------------------
    // Actions: consent
    // ---------------------------------------------------------------------------------

    /// @notice A patient grants a random actor All, a category, or record 1 (fails for
    /// non-participants, unregistered patients and full scope lists).
    function grant(uint256 patientSeed, uint256 granteeSeed, uint256 scopeSeed, uint256 duration)
        external
        tick("grant")
    {
        address patient = patients[patientSeed % PATIENTS];
        uint256 s = scopeSeed % 5;
        IConsentRegistry.Scope memory scope;
        if (s == 0) scope = _allScope();
        else if (s < 4) scope = _categoryScope(categories[s - 1]);
        else scope = _recordScope(1);
        IConsentRegistry.GrantRequest memory req = IConsentRegistry.GrantRequest({
            patient: patient,
            // Two grants in three go to staff, the rest to any actor.
            grantee: granteeSeed % 3 == 0
                ? actors[(granteeSeed >> 2) % actors.length]
                : staff[(granteeSeed >> 2) % STAFF],
            scope: scope,
            purpose: IConsentRegistry.Purpose.Treatment,
            expiry: uint64(block.timestamp + bound(duration, 1 hours, 10 days)),
            epoch: consent.epochOf(patient),
            wrappedKeys: hex"04"
        });
        vm.prank(patient);
        try consent.grant(req) {} catch {}
    }

    /// @notice A patient revokes every grant it gave a random actor.
    function revoke(uint256 patientSeed, uint256 granteeSeed) external tick("revoke") {
        address patient = patients[patientSeed % PATIENTS];
        vm.prank(patient);
        try consent.revoke(actors[granteeSeed % actors.length]) {} catch {}
    }

    /// @notice A patient rotates its key epoch (or, every other time, its key generation).
    function rotate(uint256 patientSeed, bool keys) external tick("rotate") {
        address patient = patients[patientSeed % PATIENTS];
        vm.startPrank(patient);
        if (keys) {
            try consent.setupKeys(bytes24(keccak256(abi.encode(patient)))) {}
            catch {
                consent.rotateKeys(bytes24(keccak256(abi.encode(patient, block.timestamp))));
            }
        } else {
            consent.rotateEpoch();
        }
        vm.stopPrank();
    }

    /// @notice A staff member opens break-glass access (only a hospital's staff can).
    function openEmergency(uint256 staffSeed, uint256 patientSeed, uint256 duration)
        external
        tick("openEmergency")
    {
        vm.prank(staff[staffSeed % STAFF]);
        try consent.openEmergencyAccess(
            patients[patientSeed % PATIENTS], 2, "", uint64(bound(duration, 1, 72 hours))
        ) {}
            catch {}
    }

    /// @notice The patient or the staff member closes break-glass access.
    function closeEmergency(uint256 staffSeed, uint256 patientSeed, bool byStaff)
        external
        tick("closeEmergency")
    {
        address member = staff[staffSeed % STAFF];
        address patient = patients[patientSeed % PATIENTS];
        vm.prank(byStaff ? member : patient);
        try consent.closeEmergencyAccess(patient, member) {} catch {}
    }

    /// @notice Moves the handler's clock forward (grants and emergency access expire).
    function warp(uint256 seconds_) external tick("warp") {
        currentTime += bound(seconds_, 1, 12 hours);
        vm.warp(currentTime);
    }

    // ---------------------------------------------------------------------------------
    // Actions: writes
    // ---------------------------------------------------------------------------------

    /// @notice A random actor adds a record (sometimes with a wrong epoch).
    function addRecord(uint256 actorSeed, uint256 patientSeed, uint256 categorySeed, uint256 epochSeed)
        external
        tick("addRecord")
    {
        address patient = patients[patientSeed % PATIENTS];
        address writer = _pickWriter(actorSeed, patient);
        bytes32 category = _pickCategory(categorySeed, patient, writer);
        (uint64 epoch, bool epochOk) = _pickEpoch(patient, epochSeed);
        bytes memory tags = _tags(epochSeed);
        bytes32 digest = keccak256(abi.encode("digest", actorSeed, patientSeed, categorySeed, epochSeed));
        bool expected = epochOk && rule(patient, writer, category);

        bool mirrored = writer != patient && index.mirrorAllows(patient, writer, category);
        vm.prank(writer);
        try index.addRecord(patient, digest, category, epoch, tags) returns (uint64 id) {
            if (!expected || id != ghostRecords[patient] + 1) unexpectedSuccesses++;
            _pushRecord(patient, digest, keccak256(tags), category, epoch, writer);
            calls["addRecord.ok"]++;
            if (writer == patient) calls["addRecord.ok.patient"]++;
            else if (mirrored) calls["addRecord.ok.doctorMirror"]++;
            else calls["addRecord.ok.doctorFallback"]++;
        } catch {
            if (expected) missedWrites++;
        }
    }

    /// @notice A random actor adds 1 to 4 records of random categories in one batch.
    function addRecords(uint256 actorSeed, uint256 patientSeed, uint256 shapeSeed, uint256 epochSeed)
        external
        tick("addRecords")
    {
        address patient = patients[patientSeed % PATIENTS];
        address writer = _pickWriter(actorSeed, patient);
        (uint64 epoch, bool expected) = _pickEpoch(patient, epochSeed);
        IRecordIndex.RecordInput[] memory records = new IRecordIndex.RecordInput[](1 + shapeSeed % 4);
        for (uint256 i; i < records.length; ++i) {
            bytes32 category = _pickCategory(shapeSeed >> (8 + 4 * i), patient, writer);
            records[i] = IRecordIndex.RecordInput(
                keccak256(abi.encode("batch", shapeSeed, epochSeed, i)),
                category,
                _tags(shapeSeed >> (16 + i))
            );
            expected = expected && rule(patient, writer, category);
        }

        vm.prank(writer);
        try index.addRecords(patient, epoch, records) returns (uint64 firstId) {
            if (!expected || firstId != ghostRecords[patient] + 1) unexpectedSuccesses++;
            for (uint256 i; i < records.length; ++i) {
                _pushRecord(
                    patient, records[i].digest, keccak256(records[i].tags), records[i].category, epoch, writer
                );
            }
            calls["addRecords.ok"]++;
        } catch {
            if (expected) missedWrites++;
        }
    }

    /// @dev One supersede attempt (a struct, to stay within the stack).
    struct Supersede {
        address writer;
        address patient;
        bytes32 category;
        uint64 target;
        uint64 records;
        uint64 epoch;
        bytes32 digest;
        bytes tags;
        bool expected;
    }

    /// @notice A random actor supersedes a random record (sometimes one that does not exist).
    function supersede(uint256 actorSeed, uint256 patientSeed, uint256 recordSeed, uint256 categorySeed)
        external
        tick("supersede")
    {
        Supersede memory a;
        a.patient = patients[patientSeed % PATIENTS];
        a.writer = _pickWriter(actorSeed, a.patient);
        a.category = _pickCategory(categorySeed, a.patient, a.writer);
        a.records = ghostRecords[a.patient];
        a.target = uint64(recordSeed % (uint256(a.records) + 2)); // 0 and records + 1 are unknown
        bool epochOk;
        (a.epoch, epochOk) = _pickEpoch(a.patient, categorySeed >> 8);
        a.tags = _tags(recordSeed >> 8);
        a.digest = keccak256(abi.encode("supersede", recordSeed, categorySeed));
        // A correction needs the patient or a grant: break-glass access adds records only.
        a.expected = a.target != 0 && a.target <= a.records && epochOk
            && ruleWithoutEmergency(a.patient, a.writer, a.category);

        vm.prank(a.writer);
        try index.supersede(a.patient, a.target, a.digest, a.category, a.epoch, a.tags) returns (uint64 id) {
            if (!a.expected || id != a.records + 1) unexpectedSuccesses++;
            _entries[a.patient].push(
                Entry({
                    kind: 1,
                    recordId: a.target,
                    supersededBy: a.records + 1,
                    digest: bytes32(0),
                    tagsHash: keccak256(""),
                    category: a.category,
                    epoch: a.epoch,
                    writer: a.writer
                })
            );
            _pushRecord(a.patient, a.digest, keccak256(a.tags), a.category, a.epoch, a.writer);
            calls["supersede.ok"]++;
        } catch {
            if (a.expected) missedWrites++;
        }
    }

    // ---------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------

    function _registerPatient(uint256 i) internal {
        _registerPatientWith(roles, _patientKeys[i]);
    }

    /// @dev The writer of an attempt: a third of the time the patient itself, a third a staff
    /// member holding some grant or open emergency access from the patient (if any), a third
    /// any actor, so that the
    /// campaign sees many successful writes on every path, and many refused ones.
    function _pickWriter(uint256 seed, address patient) internal view returns (address) {
        uint256 mode = seed % 3;
        if (mode == 0) return patient;
        if (mode == 1) {
            // A staff member the rule lets write some category, else one holding any grant or
            // emergency access (which may have expired or lost its organization since).
            address holder;
            for (uint256 i; i < STAFF; ++i) {
                address member = staff[(seed / 3 + i) % STAFF];
                for (uint256 c; c < CATEGORIES; ++c) {
                    if (rule(patient, member, categories[c])) return member;
                }
                if (
                    holder == address(0)
                        && (consent.scopeIdsOf(patient, member).length != 0
                            || consent.emergencyUntil(patient, member) != 0)
                ) holder = member;
            }
            if (holder != address(0)) return holder;
        }
        return actors[(seed / 3) % actors.length];
    }

    /// @dev A third of the time a category `writer` may write for `patient` (if any), a third
    /// one it holds a stored grant for (possibly expired: the mirror must see the expiry), a
    /// third any category.
    function _pickCategory(uint256 seed, address patient, address writer) internal view returns (bytes32) {
        uint256 mode = seed % 3;
        for (uint256 i; mode < 2 && i < CATEGORIES; ++i) {
            bytes32 category = categories[(seed / 3 + i) % CATEGORIES];
            if (mode == 0 && rule(patient, writer, category)) return category;
            IConsentRegistry.Scope memory scope = _categoryScope(category);
            if (mode == 1 && consent.grantOf(patient, writer, scope).expiry != 0) return category;
        }
        return categories[(seed / 3) % CATEGORIES];
    }

    /// @dev Mostly the current epoch; one time in sixteen the next one, and one in sixteen the previous one.
    function _pickEpoch(address patient, uint256 seed) internal view returns (uint64 epoch, bool ok) {
        uint64 current = consent.epochOf(patient);
        uint256 mode = seed % 16;
        if (mode == 0) return (current + 1, false);
        if (mode == 1 && current > 0) return (current - 1, false);
        return (current, true);
    }

    /// @dev A tag list of 8, 16, 32 or 64 pseudo-random tags.
    function _tags(uint256 seed) internal pure returns (bytes memory tags) {
        uint256 count = 8 << (seed % 4);
        tags = new bytes(count * 16);
        for (uint256 i; i < count; i += 2) {
            bytes32 pair = keccak256(abi.encode(seed, i));
            assembly {
                mstore(add(add(tags, 0x20), mul(i, 16)), pair)
            }
        }
    }

    function _pushRecord(
        address patient,
        bytes32 digest,
        bytes32 tagsHash,
        bytes32 category,
        uint64 epoch,
        address writer
    ) internal {
        uint64 id = ++ghostRecords[patient];
        _entries[patient].push(
            Entry({
                kind: 0,
                recordId: id,
                supersededBy: 0,
                digest: digest,
                tagsHash: tagsHash,
                category: category,
                epoch: epoch,
                writer: writer
            })
        );
    }
}
