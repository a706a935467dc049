// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title HmacSha256
/// @notice HMAC-SHA256 (RFC 2104) over the SHA-256 precompile, for tests that recompute the
/// search tags the Rust client derives. Test-only: it copies freely and is not gas-tuned.
library HmacSha256 {
    /// @dev SHA-256's block size in bytes.
    uint256 internal constant BLOCK = 64;

    /// @notice HMAC-SHA256(key, message).
    function hmac(bytes memory key, bytes memory message) internal pure returns (bytes32) {
        if (key.length > BLOCK) key = abi.encodePacked(sha256(key));
        bytes memory inner = new bytes(BLOCK);
        bytes memory outer = new bytes(BLOCK);
        for (uint256 i; i < BLOCK; ++i) {
            bytes1 k = i < key.length ? key[i] : bytes1(0);
            inner[i] = k ^ 0x36;
            outer[i] = k ^ 0x5c;
        }
        return sha256(abi.encodePacked(outer, sha256(abi.encodePacked(inner, message))));
    }

    /// @notice HMAC-SHA256 with a 32-byte key.
    function hmac(bytes32 key, bytes memory message) internal pure returns (bytes32) {
        return hmac(abi.encodePacked(key), message);
    }
}
