// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IAccessHooks} from "./interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IRecordIndex} from "./interfaces/IRecordIndex.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/// @title RecordIndex
/// @notice The searchable, two-side-verifiable index of every patient's records: it checks who
/// may write, puts each record (digest, category, key epoch, padded tag list) into an event,
/// and keeps per patient a hash-chain accumulator over every record and tombstone, so a
/// searcher reading the events can prove the list complete and untampered.
/// @dev Gas drives the design: a doctor's `addRecord` with a 16-tag bucket must fit in 50,000
/// gas for the whole transaction. Of that, 21,000 (base), ≈5,600 (calldata), 5,203 (the LOG4
/// of 416 bytes), 5,800 (two SSTOREs) and 2,100 per cold slot read are fixed, so:
///
/// THE MIRROR. Asking the registries on every write (two cold calls, three cold slots, ≈15k)
/// does not fit. The index instead keeps a mirror of exactly the state the write rule reads,
/// fed by the registries through `IAccessHooks` in the same transaction as every change:
/// the organization of every staff member, whether every organization "writes" (is an active
/// hospital or lab), whether an account is a registered patient, and the expiry of every All
/// or Category grant. A doctor's write reads five cold slots (the patient's accumulator and
/// state, the doctor's organization, that organization's flag, the grant) and calls nobody.
/// Only when the mirror says no does the index ask the registries
/// (`IRoleRegistry.isActiveDoctor` && `IConsentRegistry.hasAccess`), which also covers
/// break-glass emergency access: it is time-limited and opened without a hook, so it is
/// deliberately not mirrored. The mirror must only be SOUND (never allow what the registries'
/// rule refuses); the invariant tests check it is also complete for grants.
///
/// THE STORAGE LAYOUT is hand-managed, because a Solidity mapping costs a keccak256 (≈60 gas
/// with its memory writes) per lookup and the hot path has little room left. Per-account
/// words live at unhashed slots: a namespace prefix (the top 95 or 96 bits of a keccak256 of
/// its name, the low 160 or 161 bits zero) OR-ed with the address, so distinct accounts never
/// share a slot and no namespace can meet another, Solidity's slots 0 and 1, or a hashed slot
/// (probability 2^-95):
/// - `_PATIENTS | patient << 1`: the patient's accumulator;
/// - `_PATIENTS | patient << 1 | 1`: its state, low-order first: records (64 bits), entries
///   (64), key epoch (64, the consent registry's, mirrored by `onRevoke`), registered (1 bit,
///   mirrored by `onPatientRegistered`: the patient path reads no slot of its own);
/// - `_STAFF | staff`: the staff member's organization (zero when none);
/// - `_ORGS | org`: 1 while the organization writes;
/// - `keccak256(abi.encode(patient, grantee, scopeId, _GRANTS))`: a grant's expiry, one hash
///   per lookup where nested mappings would take three.
///
/// Before `wire` the hooks revert, so the mirror is empty, every write falls through to the
/// registry check, and that check reverts `IndexWiring`: the hot path never reads the
/// registry addresses.
contract RecordIndex is IRecordIndex {
    // ---------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------

    /// @notice The most records one `addRecords` call may add.
    uint256 public constant MAX_BATCH = 256;

    /// @dev Storage namespaces (see the contract's @dev): keccak256("ehrkit.RecordIndex.patients")
    /// with the low 161 bits cleared, keccak256("ehrkit.RecordIndex.staff") and
    /// keccak256("ehrkit.RecordIndex.orgs") with the low 160 bits cleared, and
    /// keccak256("ehrkit.RecordIndex.grants") whole (the last word of a grant slot's preimage).
    uint256 private constant _PATIENTS = 0x95c2a489c19fed06fc60a8b40000000000000000000000000000000000000000;
    uint256 private constant _STAFF = 0x4fbf6bab00e16b6cb66b9a080000000000000000000000000000000000000000;
    uint256 private constant _ORGS = 0x020176f7786071ad9caa94a40000000000000000000000000000000000000000;
    uint256 private constant _GRANTS = 0xdfc74f0d3f033ed7cb7913809b1cfcb92611bd1321db7fcdf5ba7455f2afabc0;

    /// @dev The fields of a patient's state word.
    uint256 private constant _ENTRIES_SHIFT = 64;
    uint256 private constant _EPOCH_SHIFT = 128;
    uint256 private constant _REGISTERED_BIT = 1 << 192;
    uint256 private constant _UINT64_MASK = 0xffffffffffffffff;
    uint256 private constant _ADDRESS_MASK = (1 << 160) - 1;
    /// @dev Added to the state word: one more record and one more entry.
    uint256 private constant _ONE_RECORD_ONE_ENTRY = 1 | (1 << 64);

    /// @dev ECIES over secp256k1 adds a 33-byte ephemeral key and a 16-byte tag.
    uint256 private constant _SEALED_OVERHEAD = 49;
    /// @dev The smallest and largest padded read-log plaintext.
    uint256 private constant _MIN_READ_LOG = 32;
    uint256 private constant _MAX_READ_LOG = 4096;

    /// @dev Bit n set when a tag list of n × 128 bytes (8n tags of 16 bytes) is allowed: n = 1, 2, 4, 8.
    uint256 private constant _TAG_BUCKETS = (1 << 1) | (1 << 2) | (1 << 4) | (1 << 8);

    /// @dev keccak256(abi.encode(uint8(0), bytes32(0))): the consent registry's scopeId of the All scope.
    bytes32 private constant _ALL_SCOPE_ID =
        0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5;
    /// @dev keccak256(""): the tag-list hash of a tombstone.
    bytes32 private constant _EMPTY_HASH = 0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470;
    /// @dev The topic of `RecordAdded`, for the hand-written LOG4.
    bytes32 private constant _RECORD_ADDED_TOPIC =
        keccak256("RecordAdded(address,uint64,address,bytes32,bytes32,uint64,bytes)");

    // ---------------------------------------------------------------------------------
    // Storage (the rest is laid out by hand: see the contract's @dev)
    // ---------------------------------------------------------------------------------

    /// @dev The account allowed to call `wire`.
    address private immutable _wirer;

    address private _roles;
    address private _consent;

    /// @notice Deploys an unwired index; the deployer must call `wire` once the registries exist.
    constructor() {
        _wirer = msg.sender;
    }

    // ---------------------------------------------------------------------------------
    // Wiring
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRecordIndex
    /// @dev Reverts `IndexWiring` unless the caller is the deployer, the index is not wired yet,
    /// and both addresses are non-zero. The registries must have been deployed with this index
    /// as their hooks, or the mirror stays empty (every write then takes the registry check).
    function wire(address roles_, address consent_) external {
        if (msg.sender != _wirer || _roles != address(0) || roles_ == address(0) || consent_ == address(0)) {
            revert IndexWiring();
        }
        _roles = roles_;
        _consent = consent_;
    }

    // ---------------------------------------------------------------------------------
    // Hooks (the mirror)
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IAccessHooks
    /// @dev Role registry only.
    function onOrganizationChanged(address org, bool writes) external {
        _onlyHookCaller(_roles);
        _sstore(_orgSlot(org), writes ? 1 : 0);
    }

    /// @inheritdoc IAccessHooks
    /// @dev Role registry only.
    function onStaffChanged(address staff, address org) external {
        _onlyHookCaller(_roles);
        _sstore(_staffSlot(staff), uint160(org));
    }

    /// @inheritdoc IAccessHooks
    /// @dev Role registry only.
    function onPatientRegistered(address patient) external {
        _onlyHookCaller(_roles);
        uint256 slot = _patientSlot(patient) | 1;
        _sstore(slot, _sload(slot) | _REGISTERED_BIT);
    }

    /// @inheritdoc IAccessHooks
    /// @dev Consent registry only.
    function onGrant(address patient, address grantee, bytes32 scopeId, uint64 expiry) external {
        _onlyHookCaller(_consent);
        _sstore(_grantSlot(patient, grantee, scopeId), expiry);
    }

    /// @inheritdoc IAccessHooks
    /// @dev Consent registry only. Deletes every listed scope's mirrored expiry (Record scopes
    /// were never mirrored: deleting them changes nothing) and mirrors the new epoch.
    function onRevoke(address patient, address grantee, bytes32[] calldata scopeIds, uint64 newEpoch)
        external
    {
        _onlyHookCaller(_consent);
        for (uint256 i; i < scopeIds.length; ++i) {
            _sstore(_grantSlot(patient, grantee, scopeIds[i]), 0);
        }
        _mirrorEpoch(patient, newEpoch);
    }

    /// @inheritdoc IAccessHooks
    /// @dev Consent registry only. Mirrors the new epoch.
    function onEpochRotated(address patient, uint64 newEpoch) external {
        _onlyHookCaller(_consent);
        _mirrorEpoch(patient, newEpoch);
    }

    /// @dev Writes `newEpoch` into the patient's mirrored state word.
    function _mirrorEpoch(address patient, uint64 newEpoch) private {
        uint256 slot = _patientSlot(patient) | 1;
        _sstore(slot, (_sload(slot) & ~(_UINT64_MASK << _EPOCH_SHIFT)) | (uint256(newEpoch) << _EPOCH_SHIFT));
    }

    // ---------------------------------------------------------------------------------
    // Writes
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRecordIndex
    /// @dev Checks, in order: the epoch (`IndexWrongEpoch`), the record (`IndexZeroDigest`,
    /// `IndexInvalidCategory`, `IndexInvalidTags`), the writer (`IndexNotAuthorized`, or
    /// `IndexWiring` before wiring): the order of a one-record `addRecords`, which the
    /// differential test (RecordIndex.differential.t.sol) holds it to. Emits `RecordAdded`.
    /// This is the hot path, hand-written around Solidity's checks: the mirror lookup
    /// (`_mirrorAllows`, inlined), then the record, which copies the tags from calldata once
    /// (into the event's data, where they are hashed too), builds the accumulator's preimage
    /// in place, writes both patient slots and returns directly. `addRecords` and `supersede`
    /// run the same logic through the shared helpers; the tests hold both to the same rule.
    function addRecord(address patient, bytes32 digest, bytes32 category, uint64 epoch, bytes calldata tags)
        external
        returns (uint64 recordId)
    {
        uint256 slot;
        uint256 state;
        bool allowed;
        assembly ("memory-safe") {
            // `patient` is clean (ABI-decoded), and so is `caller()`.
            slot := or(_PATIENTS, shl(1, patient))
            state := sload(or(slot, 1))
            switch eq(caller(), patient)
            case 1 { allowed := and(shr(192, state), 1) } // the registered bit
            default {
                // `_mirrorAllowsDoctor(patient, caller(), category)`, inlined.
                let org := sload(or(_STAFF, caller()))
                if org {
                    if sload(or(_ORGS, org)) {
                        let m := mload(0x40)
                        mstore(m, patient)
                        mstore(add(m, 0x20), caller())
                        mstore(0x00, 1)
                        mstore(0x20, category)
                        mstore(add(m, 0x40), keccak256(0x00, 0x40))
                        mstore(add(m, 0x60), _GRANTS)
                        allowed := gt(sload(keccak256(m, 0x80)), timestamp())
                        if iszero(allowed) {
                            mstore(add(m, 0x40), _ALL_SCOPE_ID)
                            allowed := gt(sload(keccak256(m, 0x80)), timestamp())
                        }
                    }
                }
            }
        }
        {
            uint64 current = uint64(state >> _EPOCH_SHIFT);
            if (epoch != current) revert IndexWrongEpoch(epoch, current);
        }
        // `_checkRecord`, spelled out: the compiler does not inline it.
        if (digest == bytes32(0)) revert IndexZeroDigest();
        if (category == bytes32(0)) revert IndexInvalidCategory(category);
        if (tags.length & 127 != 0 || (_TAG_BUCKETS >> (tags.length >> 7)) & 1 == 0) {
            revert IndexInvalidTags(tags.length);
        }
        if (!allowed) _authorizeByRegistries(patient, category);

        bytes32 topic = _RECORD_ADDED_TOPIC;
        // Not "memory-safe": the block owns all memory from 0x00, because it returns.
        assembly {
            recordId := add(and(state, _UINT64_MASK), 1) // below 2^64: every record costs gas
            // RecordAdded's data, ABI-encoded from 0x00: digest, category, epoch, offset of
            // tags (0x80), tags length, tags (a multiple of 128 bytes: no padding).
            mstore(0x00, digest)
            mstore(0x20, category)
            mstore(0x40, epoch)
            mstore(0x60, 0x80)
            mstore(0x80, tags.length)
            calldatacopy(0xa0, tags.offset, tags.length)
            log4(0x00, add(0xa0, tags.length), topic, patient, recordId, caller())
            let tagsHash := keccak256(0xa0, tags.length)

            // The accumulator's 165-byte packed preimage, also from 0x00 (the event is out);
            // each mstore overwrites the previous one's trailing bytes: [0,32) acc |
            // [32,40) recordId | [40,72) digest | [72,104) keccak256(tags) | [104] kind 0 |
            // [105,137) category | [137,145) epoch | [145,165) writer.
            mstore(0x00, sload(slot))
            mstore(32, shl(192, recordId))
            mstore(40, digest)
            mstore(72, tagsHash)
            mstore8(104, 0)
            mstore(105, category)
            mstore(137, shl(192, epoch))
            mstore(145, shl(96, caller()))
            sstore(slot, keccak256(0x00, 165))
            sstore(or(slot, 1), add(state, _ONE_RECORD_ONE_ENTRY))

            // Return the id here: Solidity's epilogue would only re-encode it.
            mstore(0x00, recordId)
            return(0x00, 0x20)
        }
    }

    /// @inheritdoc IRecordIndex
    /// @dev Reverts `IndexInvalidBatchSize` unless 1 to `MAX_BATCH` records, then
    /// `IndexWrongEpoch`, then per record as `addRecord` (record checks, then the writer). The
    /// writer is checked once per run of equal categories (the last authorized category is
    /// cached); the entries are chained in memory and the patient's two slots written once,
    /// after the events.
    function addRecords(address patient, uint64 epoch, RecordInput[] calldata records)
        external
        returns (uint64 firstId)
    {
        uint256 count = records.length;
        if (count == 0 || count > MAX_BATCH) revert IndexInvalidBatchSize(count, MAX_BATCH);
        uint256 slot = _patientSlot(patient);
        uint256 state = _sload(slot | 1);
        _checkEpoch(epoch, state);

        bytes32 acc = bytes32(_sload(slot));
        bytes32 authorized; // categories are non-zero, so zero means "none yet"
        unchecked {
            firstId = uint64(state) + 1; // below 2^64: every record costs gas
            for (uint256 i; i < count; ++i) {
                RecordInput calldata record = records[i];
                _checkRecord(record.digest, record.category, record.tags.length);
                if (record.category != authorized) {
                    authorized = record.category;
                    _authorize(patient, authorized, state);
                }
                acc = _appendInput(acc, patient, firstId + uint64(i), epoch, record);
            }
        }
        _sstore(slot, uint256(acc));
        _sstore(slot | 1, state + count * _ONE_RECORD_ONE_ENTRY);
    }

    /// @inheritdoc IRecordIndex
    /// @dev Checks, in order: the new record (as `addRecord`), `IndexUnknownRecord` (0 or past
    /// the last record), `IndexWrongEpoch`, the writer (for `category`; break-glass access
    /// does not count: `IndexBreakGlassCannotSupersede`). Appends the tombstone
    /// (emitting `RecordSuperseded`), then the new record (emitting `RecordAdded`). The index
    /// keeps nothing per record, so it knows neither the superseded record's category nor
    /// whether it was superseded before: searchers see both in the events.
    function supersede(
        address patient,
        uint64 recordId,
        bytes32 digest,
        bytes32 category,
        uint64 epoch,
        bytes calldata tags
    ) external returns (uint64 newRecordId) {
        _checkRecord(digest, category, tags.length);
        uint256 slot = _patientSlot(patient);
        uint256 state = _sload(slot | 1);
        if (recordId == 0 || recordId > uint64(state)) revert IndexUnknownRecord(patient, recordId);
        _checkEpoch(epoch, state);
        _authorizeSupersede(patient, category, state);

        unchecked {
            newRecordId = uint64(state) + 1;
        }
        bytes32 acc = _appendTombstone(bytes32(_sload(slot)), patient, recordId, newRecordId, category, epoch);
        acc = _appendRecord(acc, patient, newRecordId, digest, category, epoch, tags);
        _sstore(slot, uint256(acc));
        // One more record, two more entries.
        _sstore(slot | 1, state + _ONE_RECORD_ONE_ENTRY + (1 << _ENTRIES_SHIFT));
    }

    /// @inheritdoc IRecordIndex
    /// @dev Reverts `IndexInvalidReadLog` unless the length is `_SEALED_OVERHEAD` + 2^k
    /// (k = 5 to 12), `IndexWiring` before wiring and `IndexNotGrantee` unless
    /// `IConsentRegistry.isGrantee(patient, caller)`. The reader is always the caller, so a
    /// read cannot be logged in another account's name; the contract cannot check what the
    /// ciphertext says (the patient's client does, against the reader bound into it).
    function logReads(address patient, bytes calldata sealedReads) external {
        if (!_validReadLogLength(sealedReads.length)) revert IndexInvalidReadLog(sealedReads.length);
        address consent_ = _consent;
        if (consent_ == address(0)) revert IndexWiring();
        if (!IConsentRegistry(consent_).isGrantee(patient, msg.sender)) {
            revert IndexNotGrantee(patient, msg.sender);
        }
        emit ReadsLogged(patient, msg.sender, sealedReads);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRecordIndex
    function stateOf(address patient) external view returns (IndexState memory) {
        uint256 slot = _patientSlot(patient);
        uint256 state = _sload(slot | 1);
        return IndexState({
            accumulator: bytes32(_sload(slot)),
            records: uint64(state),
            entries: uint64(state >> _ENTRIES_SHIFT),
            epoch: uint64(state >> _EPOCH_SHIFT)
        });
    }

    /// @inheritdoc IRecordIndex
    /// @dev The write rule without the record and epoch checks: the mirror, then the
    /// registries. False for a zero category (no record can carry it) and before wiring.
    function canWrite(address patient, address writer, bytes32 category) external view returns (bool) {
        if (category == bytes32(0)) return false;
        if (_mirrorAllows(patient, writer, category, _sload(_patientSlot(patient) | 1))) return true;
        address roles_ = _roles;
        return roles_ != address(0) && _registriesAllow(roles_, patient, writer, category);
    }

    /// @inheritdoc IRecordIndex
    function mirrorAllows(address patient, address writer, bytes32 category) external view returns (bool) {
        return _mirrorAllows(patient, writer, category, _sload(_patientSlot(patient) | 1));
    }

    /// @inheritdoc IRecordIndex
    function roles() external view returns (address) {
        return _roles;
    }

    /// @inheritdoc IRecordIndex
    function consent() external view returns (address) {
        return _consent;
    }

    /// @inheritdoc IRecordIndex
    function wirer() external view returns (address) {
        return _wirer;
    }

    // ---------------------------------------------------------------------------------
    // Internal: authorization
    // ---------------------------------------------------------------------------------

    /// @dev Reverts `IndexWiring` or `IndexNotAuthorized` unless the caller may write records
    /// of `category` for `patient`: the mirror first (no call), the registries only when it says no.
    function _authorize(address patient, bytes32 category, uint256 state) private view {
        if (!_mirrorAllows(patient, msg.sender, category, state)) _authorizeByRegistries(patient, category);
    }

    /// @dev `_authorize` without break-glass access: a correction needs the patient or a grant.
    /// The mirror is complete for grants (the invariant tests), so a writer it refuses whom the
    /// registries allow holds break-glass access only: `IndexBreakGlassCannotSupersede`.
    function _authorizeSupersede(address patient, bytes32 category, uint256 state) private view {
        if (_mirrorAllows(patient, msg.sender, category, state)) return;
        _authorizeByRegistries(patient, category);
        revert IndexBreakGlassCannotSupersede(patient, msg.sender);
    }

    /// @dev The slow path of `_authorize`: reverts `IndexWiring` before wiring, and
    /// `IndexNotAuthorized` unless the registries allow the caller.
    function _authorizeByRegistries(address patient, bytes32 category) private view {
        address roles_ = _roles;
        if (roles_ == address(0)) revert IndexWiring();
        if (!_registriesAllow(roles_, patient, msg.sender, category)) {
            revert IndexNotAuthorized(patient, msg.sender, category);
        }
    }

    /// @dev The write rule on the mirror: `writer` is `patient` and registered (`state` is the
    /// patient's state word), or staff of an organization that writes holding an unexpired
    /// grant for Category(`category`), else All. A doctor costs three or four slot reads: the
    /// organization, its flag, one or two grants.
    function _mirrorAllows(address patient, address writer, bytes32 category, uint256 state)
        private
        view
        returns (bool)
    {
        if (writer == patient) return state & _REGISTERED_BIT != 0;
        return _mirrorAllowsDoctor(patient, writer, category);
    }

    /// @dev The doctor half of `_mirrorAllows` (`writer` is not `patient`), in assembly on the
    /// unhashed slots. `addRecord` inlines the same code: keep the two identical.
    function _mirrorAllowsDoctor(address patient, address writer, bytes32 category)
        private
        view
        returns (bool allowed)
    {
        assembly ("memory-safe") {
            patient := and(patient, _ADDRESS_MASK)
            writer := and(writer, _ADDRESS_MASK)
            let org := sload(or(_STAFF, writer))
            if org {
                if sload(or(_ORGS, org)) {
                    // `_grantSlot(patient, writer, scopeId)`, its preimage built past the free
                    // memory pointer: first the scopeId of Category(category) (computed as the
                    // consent registry does, in scratch space), then of All.
                    let m := mload(0x40)
                    mstore(m, patient)
                    mstore(add(m, 0x20), writer)
                    mstore(0x00, 1)
                    mstore(0x20, category)
                    mstore(add(m, 0x40), keccak256(0x00, 0x40))
                    mstore(add(m, 0x60), _GRANTS)
                    allowed := gt(sload(keccak256(m, 0x80)), timestamp())
                    if iszero(allowed) {
                        mstore(add(m, 0x40), _ALL_SCOPE_ID)
                        allowed := gt(sload(keccak256(m, 0x80)), timestamp())
                    }
                }
            }
        }
    }

    /// @dev The write rule asked of the registries (the one rule; covers emergency access).
    function _registriesAllow(address roles_, address patient, address writer, bytes32 category)
        private
        view
        returns (bool)
    {
        return IRoleRegistry(roles_).isActiveDoctor(writer)
            && IConsentRegistry(_consent)
                .hasAccess(
                patient, writer, IConsentRegistry.Scope(IConsentRegistry.ScopeKind.Category, category)
            );
    }

    /// @dev Reverts `IndexWiring` before wiring, `IndexUnauthorizedHook` unless the caller is `registry`.
    function _onlyHookCaller(address registry) private view {
        if (registry == address(0)) revert IndexWiring();
        if (msg.sender != registry) revert IndexUnauthorizedHook(msg.sender);
    }

    // ---------------------------------------------------------------------------------
    // Internal: validation
    // ---------------------------------------------------------------------------------

    /// @dev A record needs a non-zero digest and category and 8, 16, 32 or 64 tags of 16 bytes.
    function _checkRecord(bytes32 digest, bytes32 category, uint256 tagsLength) private pure {
        if (digest == bytes32(0)) revert IndexZeroDigest();
        if (category == bytes32(0)) revert IndexInvalidCategory(category);
        if (!_validTagsLength(tagsLength)) revert IndexInvalidTags(tagsLength);
    }

    /// @dev 128, 256, 512 or 1024: a multiple of 128 bytes whose quotient (1, 2, 4 or 8) is a
    /// bit of `_TAG_BUCKETS` (a quotient of 256 or more shifts the bitmap to zero).
    function _validTagsLength(uint256 tagsLength) private pure returns (bool) {
        return tagsLength & 127 == 0 && (_TAG_BUCKETS >> (tagsLength >> 7)) & 1 != 0;
    }

    /// @dev A sealed read log: ECIES overhead plus a padded plaintext of a power of two from
    /// 32 to 4096 bytes, so the public sees only the bucket of how much was read.
    function _validReadLogLength(uint256 length) private pure returns (bool) {
        if (length <= _SEALED_OVERHEAD) return false;
        uint256 padded = length - _SEALED_OVERHEAD;
        return padded >= _MIN_READ_LOG && padded <= _MAX_READ_LOG && padded & (padded - 1) == 0;
    }

    /// @dev Reverts `IndexWrongEpoch` unless `epoch` is the patient's current epoch.
    function _checkEpoch(uint64 epoch, uint256 state) private pure {
        uint64 current = uint64(state >> _EPOCH_SHIFT);
        if (epoch != current) revert IndexWrongEpoch(epoch, current);
    }

    // ---------------------------------------------------------------------------------
    // Internal: storage
    // ---------------------------------------------------------------------------------

    /// @dev The slot of the patient's accumulator; its state word is at the next slot (`| 1`).
    function _patientSlot(address patient) private pure returns (uint256) {
        return _PATIENTS | (uint256(uint160(patient)) << 1);
    }

    /// @dev The slot of a staff member's organization.
    function _staffSlot(address staff) private pure returns (uint256) {
        return _STAFF | uint256(uint160(staff));
    }

    /// @dev The slot of an organization's "writes" flag.
    function _orgSlot(address org) private pure returns (uint256) {
        return _ORGS | uint256(uint160(org));
    }

    /// @dev The slot of the mirrored expiry of the grant of `scopeId` from `patient` to `grantee`.
    function _grantSlot(address patient, address grantee, bytes32 scopeId) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(patient, grantee, scopeId, _GRANTS)));
    }

    /// @dev Reads a hand-laid-out slot.
    function _sload(uint256 slot) private view returns (uint256 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }

    /// @dev Writes a hand-laid-out slot.
    function _sstore(uint256 slot, uint256 value) private {
        assembly ("memory-safe") {
            sstore(slot, value)
        }
    }

    // ---------------------------------------------------------------------------------
    // Internal: the accumulator
    // ---------------------------------------------------------------------------------

    /// @dev Emits `RecordAdded` and returns the next accumulator
    /// keccak256(abi.encodePacked(acc, uint64 recordId, digest, keccak256(tags), uint8(0),
    /// category, uint64 epoch, address writer)), writer = the caller. The same code as
    /// `addRecord`'s hot path (see there), for batches and supersedes.
    function _appendRecord(
        bytes32 acc,
        address patient,
        uint64 recordId,
        bytes32 digest,
        bytes32 category,
        uint64 epoch,
        bytes calldata tags
    ) private returns (bytes32 next) {
        bytes32 topic = _RECORD_ADDED_TOPIC;
        assembly ("memory-safe") {
            patient := and(patient, _ADDRESS_MASK)
            recordId := and(recordId, _UINT64_MASK)
            epoch := and(epoch, _UINT64_MASK)
            let data := mload(0x40)
            mstore(data, digest)
            mstore(add(data, 0x20), category)
            mstore(add(data, 0x40), epoch)
            mstore(add(data, 0x60), 0x80)
            mstore(add(data, 0x80), tags.length)
            let tagsStart := add(data, 0xa0)
            calldatacopy(tagsStart, tags.offset, tags.length)
            let end := add(tagsStart, tags.length)
            log4(data, sub(end, data), topic, patient, recordId, caller())

            mstore(end, acc)
            mstore(add(end, 32), shl(192, recordId))
            mstore(add(end, 40), digest)
            mstore(add(end, 72), keccak256(tagsStart, tags.length))
            mstore8(add(end, 104), 0)
            mstore(add(end, 105), category)
            mstore(add(end, 137), shl(192, epoch))
            mstore(add(end, 145), shl(96, caller()))
            next := keccak256(end, 165)
        }
    }

    /// @dev `_appendRecord` for one record of a batch (keeps `addRecords` within the stack).
    function _appendInput(
        bytes32 acc,
        address patient,
        uint64 recordId,
        uint64 epoch,
        RecordInput calldata record
    ) private returns (bytes32) {
        return _appendRecord(acc, patient, recordId, record.digest, record.category, epoch, record.tags);
    }

    /// @dev Emits `RecordSuperseded` and returns the next accumulator
    /// keccak256(abi.encodePacked(acc, uint64 recordId, bytes32(uint256(supersededBy)),
    /// keccak256(""), uint8(1), category, uint64 epoch, address writer)), writer = the caller.
    function _appendTombstone(
        bytes32 acc,
        address patient,
        uint64 recordId,
        uint64 supersededBy,
        bytes32 category,
        uint64 epoch
    ) private returns (bytes32) {
        emit RecordSuperseded(patient, recordId, msg.sender, supersededBy, category, epoch);
        return keccak256(
            abi.encodePacked(
                acc,
                recordId,
                bytes32(uint256(supersededBy)),
                _EMPTY_HASH,
                uint8(1),
                category,
                epoch,
                msg.sender
            )
        );
    }
}
