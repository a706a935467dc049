// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IAccessHooks} from "./interfaces/IAccessHooks.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/// @title RoleRegistry
/// @notice Who is who in ehrkit: one system admin (OpenZeppelin's single default admin, handed
/// over in two delayed steps), organizations added by the admin, their staff, and
/// self-registered patients, plus the secp256k1 public key of every account that receives
/// wrapped record keys.
/// @dev Storage layout, chosen so that the checks the consent registry runs on every access
/// are cheap:
/// - each account's record is ONE slot (`_Account`: role, and for an organization its kind and
///   active flag, and for a staff member its organization), so `isActiveParticipant` costs one
///   cold SLOAD for an organization and two for a staff member, and `isActiveDoctor` at most
///   two (the staff member's slot, then its organization's slot);
/// - an organization's name lives in a separate string slot, read only by `organization`;
/// - a public key is stored as two words (X, Y), not as `bytes` (which would take a third,
///   length slot).
/// A removed organization keeps `Role.Organization` with its active flag cleared, so it can
/// be re-added (reactivated) and its staff become active again with it.
///
/// Every organization, staff and patient change is also reported to the `IAccessHooks`
/// contract given at deployment (the record index, which mirrors the state its write rule
/// reads), in the same transaction and after the registry's own effects.
contract RoleRegistry is IRoleRegistry, AccessControlDefaultAdminRules {
    /// @notice The longest organization name, in bytes.
    uint256 public constant MAX_NAME_LENGTH = 64;
    /// @notice The length of a public key: uncompressed X ‖ Y without the 0x04 prefix.
    uint256 public constant PUBLIC_KEY_LENGTH = 64;

    /// @dev One account, packed into a single slot (1 + 1 + 1 + 20 bytes).
    struct _Account {
        Role role;
        // Meaningful for `Role.Organization` only.
        OrgKind kind;
        // Meaningful for `Role.Organization` only: false once the admin removed the organization.
        bool active;
        // Meaningful for `Role.Staff` only: the organization the account works for.
        address org;
    }

    /// @dev A stored public key; both words are zero when none is registered (no registrable
    /// key is all-zero: it would have to hash to the caller's address).
    struct _PublicKey {
        bytes32 x;
        bytes32 y;
    }

    mapping(address account => _Account) private _accounts;
    mapping(address org => string) private _orgNames;
    mapping(address account => _PublicKey) private _publicKeys;

    /// @dev Told about organization, staff and patient changes; zero for none.
    IAccessHooks private immutable _hooks;

    /// @notice Deploys the registry.
    /// @param initialAdminDelay Delay (seconds) a scheduled admin transfer must wait before it can be accepted.
    /// @param initialAdmin The first system admin (must not be the zero address).
    /// @param hooks_ The contract told about every organization, staff and patient change (the
    /// record index); the zero address for none.
    constructor(uint48 initialAdminDelay, address initialAdmin, IAccessHooks hooks_)
        AccessControlDefaultAdminRules(initialAdminDelay, initialAdmin)
    {
        _hooks = hooks_;
    }

    // ---------------------------------------------------------------------------------
    // Admin: organizations
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRoleRegistry
    /// @dev Re-adding a removed organization reactivates it with the new kind and name (its
    /// staff become active again). Reverts `RoleAlreadyAssigned` when `org` is an active
    /// organization or holds any other role, `RoleZeroAddress` for the zero address and
    /// `RoleInvalidName` for an empty or over-long name. Reports the organization to the hooks
    /// (`onOrganizationChanged`, writing for a hospital or lab).
    function addOrganization(address org, OrgKind kind, string calldata name)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        if (org == address(0)) revert RoleZeroAddress();
        uint256 nameLength = bytes(name).length;
        if (nameLength == 0 || nameLength > MAX_NAME_LENGTH) revert RoleInvalidName();
        _Account memory account = _load(org);
        if (account.role != Role.None && (account.role != Role.Organization || account.active)) {
            revert RoleAlreadyAssigned(org, account.role);
        }

        _accounts[org] = _Account({role: Role.Organization, kind: kind, active: true, org: address(0)});
        _orgNames[org] = name;
        emit OrganizationAdded(org, kind, name);
        if (address(_hooks) != address(0)) _hooks.onOrganizationChanged(org, kind != OrgKind.Insurer);
    }

    /// @inheritdoc IRoleRegistry
    /// @dev Clears the active flag only: the account keeps `Role.Organization` (see `roleOf`)
    /// and its staff keep `Role.Staff`, inactive until the organization is re-added.
    /// Reverts `RoleNotOrganization` when `org` is not an active organization. Reports the
    /// organization to the hooks as no longer writing.
    function removeOrganization(address org) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_isActiveOrganization(_load(org))) revert RoleNotOrganization(org);

        _accounts[org].active = false;
        emit OrganizationRemoved(org);
        if (address(_hooks) != address(0)) _hooks.onOrganizationChanged(org, false);
    }

    // ---------------------------------------------------------------------------------
    // Organizations: staff
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRoleRegistry
    /// @dev Reverts `RoleNotOrganization(caller)` unless the caller is an active organization,
    /// `RoleZeroAddress` for the zero address and `RoleAlreadyAssigned` when `staff` holds a role.
    /// Reports the staff member's organization to the hooks.
    function addStaff(address staff) external {
        _requireActiveOrganization(msg.sender);
        if (staff == address(0)) revert RoleZeroAddress();
        Role role = _load(staff).role;
        if (role != Role.None) revert RoleAlreadyAssigned(staff, role);

        _accounts[staff] =
            _Account({role: Role.Staff, kind: OrgKind.Hospital, active: false, org: msg.sender});
        emit StaffAdded(msg.sender, staff);
        if (address(_hooks) != address(0)) _hooks.onStaffChanged(staff, msg.sender);
    }

    /// @inheritdoc IRoleRegistry
    /// @dev The account returns to `Role.None`: it may later join another organization or
    /// register as a patient. Reverts `RoleNotOrganization(caller)` unless the caller is an
    /// active organization and `RoleNotStaffOf` when `staff` is not on the caller's staff.
    /// Reports the staff member to the hooks with no organization.
    function removeStaff(address staff) external {
        _requireActiveOrganization(msg.sender);
        _Account memory account = _load(staff);
        if (account.role != Role.Staff || account.org != msg.sender) {
            revert RoleNotStaffOf(msg.sender, staff);
        }

        delete _accounts[staff];
        emit StaffRemoved(msg.sender, staff);
        if (address(_hooks) != address(0)) _hooks.onStaffChanged(staff, address(0));
    }

    // ---------------------------------------------------------------------------------
    // Patients and public keys
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRoleRegistry
    /// @dev Reverts `RoleInvalidPublicKeyLength`, `RolePublicKeyMismatch` (the key does not
    /// hash to the caller) or `RoleAlreadyAssigned` (the caller holds a role, including
    /// `Role.Patient`). Reports the patient to the hooks.
    function registerPatient(bytes calldata publicKey) external {
        _requireOwnKey(publicKey);
        Role role = _load(msg.sender).role;
        if (role != Role.None) revert RoleAlreadyAssigned(msg.sender, role);

        _accounts[msg.sender].role = Role.Patient;
        emit PatientRegistered(msg.sender);
        _storeKey(publicKey);
        if (address(_hooks) != address(0)) _hooks.onPatientRegistered(msg.sender);
    }

    /// @inheritdoc IRoleRegistry
    /// @dev Open to every account, with or without a role. Reverts
    /// `RoleInvalidPublicKeyLength` or `RolePublicKeyMismatch`.
    function registerPublicKey(bytes calldata publicKey) external {
        _requireOwnKey(publicKey);
        _storeKey(publicKey);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IRoleRegistry
    /// @dev A removed organization still reports `Role.Organization` (its active flag is
    /// false; see `isActiveOrganization`), and staff of a removed organization still report
    /// `Role.Staff` (see `isActiveParticipant`). A removed staff member reports `Role.None`.
    function roleOf(address account) external view returns (Role) {
        return _load(account).role;
    }

    /// @inheritdoc IRoleRegistry
    /// @dev Also answers for staff of a removed organization; zero for every non-staff account.
    function orgOf(address staff) external view returns (address) {
        _Account memory account = _load(staff);
        return account.role == Role.Staff ? account.org : address(0);
    }

    /// @inheritdoc IRoleRegistry
    /// @dev All fields are zero (Hospital, inactive, empty name) for an account that never was an organization.
    function organization(address org) external view returns (Organization memory) {
        _Account memory account = _load(org);
        if (account.role != Role.Organization) {
            return Organization({kind: OrgKind.Hospital, active: false, name: ""});
        }
        return Organization({kind: account.kind, active: account.active, name: _orgNames[org]});
    }

    /// @inheritdoc IRoleRegistry
    function isActiveOrganization(address account) external view returns (bool) {
        return _isActiveOrganization(_load(account));
    }

    /// @inheritdoc IRoleRegistry
    function isActiveOrganizationOfKind(address org, OrgKind kind) external view returns (bool) {
        _Account memory account = _load(org);
        return _isActiveOrganization(account) && account.kind == kind;
    }

    /// @inheritdoc IRoleRegistry
    /// @dev Exactly two SLOADs for staff (the account's slot, then its organization's slot), one otherwise.
    function isActiveDoctor(address account) external view returns (bool) {
        _Account memory staff = _load(account);
        if (staff.role != Role.Staff) return false;
        _Account memory org = _load(staff.org);
        return _isActiveOrganization(org) && (org.kind == OrgKind.Hospital || org.kind == OrgKind.Lab);
    }

    /// @inheritdoc IRoleRegistry
    /// @dev One SLOAD for an organization, two for a staff member.
    function isActiveParticipant(address account) external view returns (bool) {
        _Account memory record = _load(account);
        if (record.role == Role.Organization) return record.active;
        if (record.role == Role.Staff) return _isActiveOrganization(_load(record.org));
        return false;
    }

    /// @inheritdoc IRoleRegistry
    function isPatient(address account) external view returns (bool) {
        return _load(account).role == Role.Patient;
    }

    /// @inheritdoc IRoleRegistry
    function publicKeyOf(address account) external view returns (bytes memory) {
        _PublicKey memory key = _publicKeys[account];
        if (key.x == bytes32(0) && key.y == bytes32(0)) return "";
        return abi.encodePacked(key.x, key.y);
    }

    /// @inheritdoc IRoleRegistry
    function hooks() external view returns (address) {
        return address(_hooks);
    }

    /// @notice ERC-165: also reports `IRoleRegistry`.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IRoleRegistry).interfaceId || super.supportsInterface(interfaceId);
    }

    // ---------------------------------------------------------------------------------
    // Internal helpers
    // ---------------------------------------------------------------------------------

    /// @dev Reads an account's record with ONE SLOAD (Solidity's storage-to-memory copy
    /// would issue one SLOAD per member). Layout, low-order bytes first: role (8 bits), kind
    /// (8 bits), active (8 bits), org (160 bits).
    function _load(address account) private view returns (_Account memory record) {
        _Account storage stored = _accounts[account];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(stored.slot)
        }
        record.role = Role(uint8(word));
        record.kind = OrgKind(uint8(word >> 8));
        record.active = uint8(word >> 16) != 0;
        record.org = address(uint160(word >> 24));
    }

    /// @dev Reverts `RoleNotOrganization(account)` unless `account` is an active organization.
    function _requireActiveOrganization(address account) private view {
        if (!_isActiveOrganization(_load(account))) revert RoleNotOrganization(account);
    }

    /// @dev True for an organization record whose active flag is set.
    function _isActiveOrganization(_Account memory account) private pure returns (bool) {
        return account.role == Role.Organization && account.active;
    }

    /// @dev Reverts unless `publicKey` is 64 bytes and hashes to the caller's address.
    function _requireOwnKey(bytes calldata publicKey) private view {
        if (publicKey.length != PUBLIC_KEY_LENGTH) revert RoleInvalidPublicKeyLength(publicKey.length);
        address derived = address(uint160(uint256(keccak256(publicKey))));
        if (derived != msg.sender) revert RolePublicKeyMismatch(msg.sender, derived);
    }

    /// @dev Stores the caller's (already checked) 64-byte key and emits `PublicKeyRegistered`.
    function _storeKey(bytes calldata publicKey) private {
        _publicKeys[msg.sender] = _PublicKey({x: bytes32(publicKey[0:32]), y: bytes32(publicKey[32:64])});
        emit PublicKeyRegistered(msg.sender, publicKey);
    }
}
