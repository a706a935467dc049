// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {RoleRegistry} from "../../src/RoleRegistry.sol";
import {IAccessHooks} from "../../src/interfaces/IAccessHooks.sol";
import {IRoleRegistry} from "../../src/interfaces/IRoleRegistry.sol";
import {EhrHelpers} from "../utils/EhrFixture.sol";

/// @title RoleHandler
/// @notice Drives a RoleRegistry (the handler is its admin) over a fixed set of accounts whose
/// keys it knows, and keeps a ghost model of every account. Each action predicts whether the
/// registry must accept it; a disagreement is counted in `mismatches`.
contract RoleHandler is EhrHelpers {
    uint256 internal constant ACCOUNTS = 5;

    struct Model {
        IRoleRegistry.Role role;
        IRoleRegistry.OrgKind kind;
        bool active;
        address org;
    }

    RoleRegistry public immutable roles;
    uint256[ACCOUNTS] internal _keys;
    address[ACCOUNTS] public accounts;
    mapping(address account => Model) internal _model;
    uint256 public mismatches;

    constructor() {
        roles = new RoleRegistry(1 days, address(this), NO_HOOKS);
        for (uint256 i; i < ACCOUNTS; ++i) {
            _keys[i] = 0x1000 + i;
            accounts[i] = vm.addr(_keys[i]);
        }
    }

    function accountCount() external pure returns (uint256) {
        return ACCOUNTS;
    }

    function model(address account) external view returns (Model memory) {
        return _model[account];
    }

    function _check(bool succeeded, bool expected) internal {
        if (succeeded != expected) mismatches++;
    }

    function _isActiveOrg(Model memory m) internal pure returns (bool) {
        return m.role == IRoleRegistry.Role.Organization && m.active;
    }

    /// @notice The admin adds (or reactivates) an organization.
    function addOrganization(uint256 accountSeed, uint8 kindSeed) external {
        address account = accounts[accountSeed % ACCOUNTS];
        IRoleRegistry.OrgKind kind = IRoleRegistry.OrgKind(kindSeed % 3);
        Model memory m = _model[account];
        bool expected =
            m.role == IRoleRegistry.Role.None || (m.role == IRoleRegistry.Role.Organization && !m.active);
        bool succeeded;
        try roles.addOrganization(account, kind, "org") {
            succeeded = true;
            _model[account] = Model(IRoleRegistry.Role.Organization, kind, true, address(0));
        } catch {}
        _check(succeeded, expected);
    }

    /// @notice The admin removes an organization.
    function removeOrganization(uint256 accountSeed) external {
        address account = accounts[accountSeed % ACCOUNTS];
        bool expected = _isActiveOrg(_model[account]);
        bool succeeded;
        try roles.removeOrganization(account) {
            succeeded = true;
            _model[account].active = false;
        } catch {}
        _check(succeeded, expected);
    }

    /// @notice An account (an organization or not) adds another as staff.
    function addStaff(uint256 orgSeed, uint256 staffSeed) external {
        address org = accounts[orgSeed % ACCOUNTS];
        address staff = accounts[staffSeed % ACCOUNTS];
        bool expected = _isActiveOrg(_model[org]) && _model[staff].role == IRoleRegistry.Role.None;
        bool succeeded;
        vm.prank(org);
        try roles.addStaff(staff) {
            succeeded = true;
            _model[staff] = Model(IRoleRegistry.Role.Staff, IRoleRegistry.OrgKind.Hospital, false, org);
        } catch {}
        _check(succeeded, expected);
    }

    /// @notice An account removes another from its staff.
    function removeStaff(uint256 orgSeed, uint256 staffSeed) external {
        address org = accounts[orgSeed % ACCOUNTS];
        address staff = accounts[staffSeed % ACCOUNTS];
        Model memory s = _model[staff];
        bool expected = _isActiveOrg(_model[org]) && s.role == IRoleRegistry.Role.Staff && s.org == org;
        bool succeeded;
        vm.prank(org);
        try roles.removeStaff(staff) {
            succeeded = true;
            delete _model[staff];
        } catch {}
        _check(succeeded, expected);
    }

    /// @notice An account registers as a patient with its own key (or, with `foreign`, another's).
    function registerPatient(uint256 accountSeed, bool foreign) external {
        uint256 index = accountSeed % ACCOUNTS;
        address account = accounts[index];
        bytes memory key = publicKeyOf(_keys[foreign ? (index + 1) % ACCOUNTS : index]);
        bool expected = !foreign && _model[account].role == IRoleRegistry.Role.None;
        bool succeeded;
        vm.prank(account);
        try roles.registerPatient(key) {
            succeeded = true;
            _model[account].role = IRoleRegistry.Role.Patient;
        } catch {}
        _check(succeeded, expected);
    }
}
