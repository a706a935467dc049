// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IRoleRegistry
/// @notice Who is who in ehrkit: the system admin, organizations (hospitals, insurers, labs),
/// their staff, and patients, plus the secp256k1 public key of every account that receives
/// wrapped record keys.
/// @dev One account holds at most one role. An organization is identified by its admin
/// account. Removing an organization deactivates its staff without erasing their history.
interface IRoleRegistry {
    /// @notice The role an account holds.
    enum Role {
        None,
        Organization,
        Staff,
        Patient
    }

    /// @notice What an organization is.
    enum OrgKind {
        Hospital,
        Insurer,
        Lab
    }

    /// @notice An organization as stored.
    struct Organization {
        OrgKind kind;
        bool active;
        string name;
    }

    /// @notice Emitted when the admin adds an organization.
    event OrganizationAdded(address indexed org, OrgKind kind, string name);
    /// @notice Emitted when the admin removes an organization (its staff stop being active).
    event OrganizationRemoved(address indexed org);
    /// @notice Emitted when an organization adds a staff member (doctor, lab technician, claims reviewer).
    event StaffAdded(address indexed org, address indexed staff);
    /// @notice Emitted when an organization removes a staff member.
    event StaffRemoved(address indexed org, address indexed staff);
    /// @notice Emitted when a patient registers.
    event PatientRegistered(address indexed patient);
    /// @notice Emitted when an account stores (or replaces) its public key.
    event PublicKeyRegistered(address indexed account, bytes publicKey);

    /// @notice The account already holds a role (`role`), so it cannot take another.
    error RoleAlreadyAssigned(address account, Role role);
    /// @notice The account has no organization role, or its organization was removed.
    error RoleNotOrganization(address account);
    /// @notice The staff member is not on `org`'s staff.
    error RoleNotStaffOf(address org, address staff);
    /// @notice The zero address cannot hold a role.
    error RoleZeroAddress();
    /// @notice The public key is not 64 bytes (uncompressed X ‖ Y without the 0x04 prefix).
    error RoleInvalidPublicKeyLength(uint256 length);
    /// @notice The public key hashes to `derived`, not to the caller `account`.
    error RolePublicKeyMismatch(address account, address derived);
    /// @notice An organization name must be 1 to 64 bytes long.
    error RoleInvalidName();

    /// @notice Adds an organization administered by `org`. Admin only.
    /// @param org The organization's admin account; it identifies the organization.
    /// @param kind Hospital, insurer or lab.
    /// @param name Display name, 1 to 64 bytes.
    function addOrganization(address org, OrgKind kind, string calldata name) external;

    /// @notice Removes an organization; its staff are no longer active. Admin only.
    function removeOrganization(address org) external;

    /// @notice Adds `staff` to the calling organization. The organization must be active.
    function addStaff(address staff) external;

    /// @notice Removes `staff` from the calling organization.
    function removeStaff(address staff) external;

    /// @notice Registers the caller as a patient with its public key.
    /// @param publicKey 64-byte uncompressed secp256k1 key (X ‖ Y) whose keccak256 gives the caller's address.
    function registerPatient(bytes calldata publicKey) external;

    /// @notice Stores or replaces the caller's public key, so others can wrap record keys to it.
    /// @param publicKey 64-byte uncompressed secp256k1 key (X ‖ Y) whose keccak256 gives the caller's address.
    function registerPublicKey(bytes calldata publicKey) external;

    /// @notice The role of `account` (None when it has none or was removed).
    function roleOf(address account) external view returns (Role);

    /// @notice The organization `staff` belongs to (zero if none).
    function orgOf(address staff) external view returns (address);

    /// @notice The stored organization record for `org`.
    function organization(address org) external view returns (Organization memory);

    /// @notice True when `account` is an active organization.
    function isActiveOrganization(address account) external view returns (bool);

    /// @notice True when `org` is an active organization of kind `kind`.
    function isActiveOrganizationOfKind(address org, OrgKind kind) external view returns (bool);

    /// @notice True when `account` is staff of an active hospital or lab.
    function isActiveDoctor(address account) external view returns (bool);

    /// @notice True when `account` may hold grants: an active organization, or staff of an active organization.
    function isActiveParticipant(address account) external view returns (bool);

    /// @notice True when `account` is a registered patient.
    function isPatient(address account) external view returns (bool);

    /// @notice The 64-byte public key of `account`, empty when none is registered.
    function publicKeyOf(address account) external view returns (bytes memory);

    /// @notice The contract told about organization, staff and patient changes (zero for none).
    function hooks() external view returns (address);
}
