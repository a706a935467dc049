// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.28;

/// @notice Benchmark baseline only (not deployed by ehrkit): a keyword index that stores one
/// storage slot per keyword, the layout of Hu et al., "Searching an Encrypted Cloud Meets
/// Blockchain" (INFOCOM 2018): the contract keeps, per (patient, keyword token), the record
/// it points to, so every keyword of a new record costs one fresh SSTORE. The writer check is
/// a single mapping read (cheaper than ehrkit's consent check), so the comparison favours the
/// baseline.
contract SstoreBaselineIndex {
    /// writer => patient => allowed
    mapping(address => mapping(address => bool)) public canWrite;
    /// patient => number of records
    mapping(address => uint256) public records;
    /// keccak(patient, token) => digest of the record the token points to
    mapping(bytes32 => bytes32) public entries;

    error NotAllowed();

    function allow(address writer) external {
        canWrite[writer][msg.sender] = true;
    }

    /// One SSTORE per keyword token (plus the record counter).
    function addRecord(address patient, bytes32 digest, bytes32[] calldata tokens) external {
        if (msg.sender != patient && !canWrite[msg.sender][patient]) revert NotAllowed();
        records[patient] += 1;
        for (uint256 i = 0; i < tokens.length; ++i) {
            entries[keccak256(abi.encode(patient, tokens[i]))] = digest;
        }
    }
}
