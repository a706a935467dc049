// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";

/// @title HooksRecorder
/// @notice An `IAccessHooks` that accepts every call and counts them, so registry tests can
/// check which hooks a change calls (with `vm.expectCall`) without a record index. With
/// `failing` set it reverts every call, to show that a registry does not swallow hook errors.
contract HooksRecorder is IAccessHooks {
    error HooksRecorderFailure();

    bool public failing;
    uint256 public calls;

    function setFailing(bool failing_) external {
        failing = failing_;
    }

    function onOrganizationChanged(address, bool) external {
        _record();
    }

    function onStaffChanged(address, address) external {
        _record();
    }

    function onPatientRegistered(address) external {
        _record();
    }

    function onGrant(address, address, bytes32, uint64) external {
        _record();
    }

    function onRevoke(address, address, bytes32[] calldata, uint64) external {
        _record();
    }

    function onEpochRotated(address, uint64) external {
        _record();
    }

    function _record() internal {
        if (failing) revert HooksRecorderFailure();
        calls++;
    }
}
