// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IAccessHooks} from "./IAccessHooks.sol";

/// @title IRecordIndex
/// @notice The two-side-verifiable, forward-private searchable index of a patient's records.
/// The contract checks who may write; nothing per keyword is stored: each record's digest,
/// category, key epoch and padded, sorted tag list go into an event, and per patient the
/// contract keeps a hash-chain accumulator over every record and tombstone, so a searcher who
/// reads the events can prove the list complete and untampered. See docs/protocol.md.
/// @dev Accumulator, starting from zero for each patient, over entries n = 1, 2, ...:
/// record entry:    acc_n = keccak256(abi.encodePacked(acc_{n-1}, uint64 recordId, bytes32 digest,
///                          keccak256(tags), uint8(0), bytes32 category, uint64 epoch, address writer))
/// tombstone entry: acc_n = keccak256(abi.encodePacked(acc_{n-1}, uint64 recordId,
///                          bytes32(uint256(supersededBy)), keccak256(""), uint8(1), bytes32 category,
///                          uint64 epoch, address writer))
interface IRecordIndex is IAccessHooks {
    /// @notice One record of a batch.
    struct RecordInput {
        bytes32 digest;
        bytes32 category;
        bytes tags;
    }

    /// @notice A patient's index state, as the searcher checks it.
    struct IndexState {
        bytes32 accumulator;
        uint64 records;
        uint64 entries;
        uint64 epoch;
    }

    /// @notice A record was added: record `recordId` of `patient`, written by `writer`.
    /// `tags` is the concatenation of 16-byte tags, sorted, padded with dummies to a bucket.
    event RecordAdded(
        address indexed patient,
        uint64 indexed recordId,
        address indexed writer,
        bytes32 digest,
        bytes32 category,
        uint64 epoch,
        bytes tags
    );

    /// @notice Record `recordId` was corrected: `supersededBy` replaces it. Records are never erased.
    event RecordSuperseded(
        address indexed patient,
        uint64 indexed recordId,
        address indexed writer,
        uint64 supersededBy,
        bytes32 category,
        uint64 epoch
    );

    /// @notice A grantee of `patient` logged that it read records or searched them.
    /// `sealedReads` is what was read (record numbers, search keywords), encrypted to the
    /// patient and bound to the deployment, the patient and `reader` (see docs/protocol.md):
    /// only the patient can open it, and it cannot be replayed under another reader's name.
    /// Its length is 49 + a power of two from 32 to 4096 bytes, so it shows no exact count.
    event ReadsLogged(address indexed patient, address indexed reader, bytes sealedReads);

    /// @notice The caller may not write records of `category` for `patient`.
    error IndexNotAuthorized(address patient, address writer, bytes32 category);
    /// @notice Break-glass access lets a doctor add records, not correct (supersede) them.
    error IndexBreakGlassCannotSupersede(address patient, address writer);
    /// @notice The record was built with key epoch `given`; the patient is at `current`.
    error IndexWrongEpoch(uint64 given, uint64 current);
    /// @notice A tag list must be 8, 16, 32 or 64 tags of 16 bytes; `length` bytes is not.
    error IndexInvalidTags(uint256 length);
    /// @notice A digest must not be zero.
    error IndexZeroDigest();
    /// @notice A category must be a non-zero left-aligned name.
    error IndexInvalidCategory(bytes32 category);
    /// @notice `patient` has no record `recordId`.
    error IndexUnknownRecord(address patient, uint64 recordId);
    /// @notice A batch holds 1 to `max` records.
    error IndexInvalidBatchSize(uint256 size, uint256 max);
    /// @notice Only a current grantee of `patient` may log a read.
    error IndexNotGrantee(address patient, address account);
    /// @notice A sealed read log is 49 + 2^k bytes (k = 5 to 12); `length` bytes is not.
    error IndexInvalidReadLog(uint256 length);
    /// @notice Only the wired registries may call the hooks.
    error IndexUnauthorizedHook(address caller);
    /// @notice The index is not wired to its registries yet, or already is.
    error IndexWiring();

    /// @notice Wires the index to its registries. Once, by the deployer, before any use.
    function wire(address roles, address consent) external;

    /// @notice Adds a record for `patient` (caller: the patient, or an active doctor whose grant
    /// covers `category`, or who holds open emergency access).
    /// @param epoch The patient's current key epoch, whose keys made `tags` and the envelope.
    /// @return recordId The new record's number (the patient's records count from 1).
    function addRecord(address patient, bytes32 digest, bytes32 category, uint64 epoch, bytes calldata tags)
        external
        returns (uint64 recordId);

    /// @notice Adds many records in one transaction (migrations, bulk uploads).
    /// @return firstId The first new record's number; the rest follow consecutively.
    function addRecords(address patient, uint64 epoch, RecordInput[] calldata records)
        external
        returns (uint64 firstId);

    /// @notice Corrects record `recordId`: a tombstone (superseded by the new record) plus the new record.
    /// @param category The corrected record's category; the caller must be allowed to write it.
    function supersede(
        address patient,
        uint64 recordId,
        bytes32 digest,
        bytes32 category,
        uint64 epoch,
        bytes calldata tags
    ) external returns (uint64 newRecordId);

    /// @notice Logs in the patient's audit trail that the caller read records of `patient`
    /// (caller: a current grantee, emergency access included). One call covers a whole
    /// command: every record fetched, or a search's keywords and hits.
    /// @param sealedReads What was read, sealed to the patient (see `ReadsLogged`).
    function logReads(address patient, bytes calldata sealedReads) external;

    /// @notice The patient's accumulator, record count, entry count and key epoch.
    function stateOf(address patient) external view returns (IndexState memory);

    /// @notice Whether `writer` may add a record of `category` for `patient` now.
    function canWrite(address patient, address writer, bytes32 category) external view returns (bool);

    /// @notice The role registry.
    function roles() external view returns (address);

    /// @notice The consent registry.
    function consent() external view returns (address);

    /// @notice Whether the mirror alone authorizes `writer` (the cheap path, no registry call):
    /// `writer` is the registered `patient`, or staff of an organization that writes holding an
    /// unexpired Category(`category`) or All grant. False does not mean a write fails:
    /// emergency access is checked with the registries (see `canWrite`).
    function mirrorAllows(address patient, address writer, bytes32 category) external view returns (bool);

    /// @notice The account allowed to call `wire` (the deployer).
    function wirer() external view returns (address);
}
