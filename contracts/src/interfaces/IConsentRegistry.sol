// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsentRegistry
/// @notice Patient consent: grants with a scope, purpose and expiry (given directly or by an
/// EIP-712 signature that anyone may relay), revocation, access requests, and break-glass
/// emergency access. `hasAccess` is the one rule every other contract and client applies.
/// @dev A patient's key epoch starts at 0 and advances on every revocation, `rotateEpoch` and
/// `rotateKeys`; grant signatures name the epoch they were made in, so a signature made before
/// a rotation cannot be submitted after it. Wrapped key material travels in events; the
/// registry commits to it in state (`keyChainOf`), so a client accepts only key material the
/// chain itself handed out. A patient's key generation (`keysOf`) names the master secret its
/// epochs' keys derive from; each generation's key-check value lets a client detect a wrong
/// derivation before it grants or writes anything.
interface IConsentRegistry {
    /// @notice What a grant covers.
    enum ScopeKind {
        All,
        Category,
        Record
    }

    /// @notice Why access is granted.
    enum Purpose {
        Treatment,
        Insurance,
        Research,
        Emergency
    }

    /// @notice The state of an access request.
    enum RequestStatus {
        None,
        Pending,
        Approved,
        Denied
    }

    /// @notice A grant's coverage: everything, one category (a short ASCII name left-aligned in
    /// bytes32, e.g. bytes32("lab")), or one record (its index number as uint256).
    struct Scope {
        ScopeKind kind;
        bytes32 value;
    }

    /// @notice The grant a patient signs. EIP-712 type:
    /// `Grant(address patient,address grantee,Scope scope,uint8 purpose,uint64 expiry,uint64 epoch,bytes wrappedKeys,uint256 nonce,uint256 deadline)Scope(uint8 kind,bytes32 value)`.
    /// `wrappedKeys` is the patient's epoch key material wrapped (ECIES) to the grantee.
    struct GrantRequest {
        address patient;
        address grantee;
        Scope scope;
        Purpose purpose;
        uint64 expiry;
        uint64 epoch;
        bytes wrappedKeys;
    }

    /// @notice A stored grant.
    struct GrantInfo {
        Purpose purpose;
        uint64 expiry;
        uint64 epoch;
        uint64 grantedAt;
        bool active;
    }

    /// @notice A stored access request.
    struct AccessRequest {
        address requester;
        address patient;
        Scope scope;
        Purpose purpose;
        RequestStatus status;
        uint64 createdAt;
        uint64 expiresAt;
    }

    /// @notice Emitted when a grant is created or replaced; carries the wrapped epoch keys for the grantee.
    event AccessGranted(
        address indexed patient,
        address indexed grantee,
        bytes32 indexed scopeId,
        Scope scope,
        Purpose purpose,
        uint64 expiry,
        uint64 epoch,
        address submitter,
        bytes wrappedKeys
    );
    /// @notice Emitted when the patient revokes every grant it gave `grantee`; `newEpoch` is the patient's epoch after the revocation.
    event AccessRevoked(address indexed patient, address indexed grantee, uint64 newEpoch, address submitter);
    /// @notice Emitted when the patient hands a still-trusted grantee the keys of a new epoch.
    event EpochKeysShared(
        address indexed patient, address indexed grantee, uint64 indexed epoch, bytes wrappedKeys
    );
    /// @notice Emitted when the patient voids its next nonce: every grant, revocation or
    /// approval it signed with `nonce` and nobody submitted can no longer be submitted.
    event NonceInvalidated(address indexed patient, uint256 nonce);
    /// @notice Emitted when the patient advances its key epoch without revoking anyone (for
    /// example after a grant expired): records written from now on use keys nobody holds yet.
    event EpochRotated(address indexed patient, uint64 newEpoch);
    /// @notice Emitted when the patient starts key generation `generation` (1 at set-up) at
    /// epoch `epoch`, with the key-check value of its new master secret.
    event KeysRotated(address indexed patient, uint64 generation, uint64 epoch, bytes24 keyCheck);
    /// @notice Emitted when a staff member or organization asks a patient for access.
    event AccessRequested(
        uint256 indexed requestId,
        address indexed patient,
        address indexed requester,
        Scope scope,
        Purpose purpose,
        uint64 expiresAt,
        uint16 reasonCode,
        bytes encryptedReason
    );
    /// @notice Emitted when the patient approves a request (an `AccessGranted` follows in the same transaction).
    event AccessRequestApproved(
        uint256 indexed requestId, address indexed patient, address indexed requester
    );
    /// @notice Emitted when the patient denies a request.
    event AccessRequestDenied(uint256 indexed requestId, address indexed patient, address indexed requester);
    /// @notice Emitted when a doctor opens break-glass access. Always logged.
    event EmergencyAccessOpened(
        address indexed patient,
        address indexed doctor,
        address indexed hospital,
        uint64 until,
        uint16 reasonCode,
        bytes encryptedReason
    );
    /// @notice Emitted when break-glass access is ended early by the patient or the doctor.
    event EmergencyAccessClosed(address indexed patient, address indexed doctor, address closedBy);
    /// @notice Emitted when the patient lets the grantee of one grant read without logging
    /// each read on chain (`allowed`), or takes that back. Honest clients log every read of a
    /// grantee unless the grant covering it allows otherwise; nothing on chain can force a
    /// key holder to log.
    event UnloggedReadsSet(
        address indexed patient, address indexed grantee, bytes32 indexed scopeId, bool allowed
    );

    /// @notice A key-check value must not be zero.
    error ConsentInvalidKeyCheck();
    /// @notice A signature carried `nonce` other than the patient's current one (replayed,
    /// voided by `invalidateNonce`, or out of order); `currentNonce` is the one expected. The
    /// same error, selector and fields as OpenZeppelin's `Nonces`.
    error InvalidAccountNonce(address account, uint256 currentNonce);
    /// @notice The patient already set up its keys (`setupKeys` is once; rotate with `rotateKeys`).
    error ConsentKeysAlreadySetUp(address patient);
    /// @notice The patient has not set up its keys yet (`setupKeys`).
    error ConsentKeysNotSetUp(address patient);
    /// @notice The caller (or the signer) is not a registered patient.
    error ConsentNotPatient(address account);
    /// @notice The grantee is not an active organization or active staff member.
    error ConsentInvalidGrantee(address grantee);
    /// @notice The grant's expiry `expiry` is not after the current time `nowTs`.
    error ConsentExpired(uint64 expiry, uint64 nowTs);
    /// @notice The grant lasts longer than the maximum of `maxDuration` seconds.
    error ConsentDurationTooLong(uint64 expiry, uint64 maxDuration);
    /// @notice The signed message's deadline has passed.
    error ConsentSignatureExpired(uint256 deadline, uint256 nowTs);
    /// @notice The signature is malformed or malleable (high s, bad length, bad v).
    error ConsentInvalidSignature();
    /// @notice The signature was made by `signer`, not by `patient`.
    error ConsentInvalidSigner(address signer, address patient);
    /// @notice The grant names epoch `given`, but the patient's current epoch is `current`.
    error ConsentWrongEpoch(uint64 given, uint64 current);
    /// @notice A record scope names record 0 or a value too large, or a category scope is empty, or an All scope carries a value.
    error ConsentInvalidScope(ScopeKind kind, bytes32 value);
    /// @notice The grantee holds no active grant from the patient.
    error ConsentNoActiveGrant(address patient, address grantee);
    /// @notice No request has this id.
    error ConsentUnknownRequest(uint256 requestId);
    /// @notice The request is no longer pending (status `status`).
    error ConsentRequestNotPending(uint256 requestId, RequestStatus status);
    /// @notice The request expired at `expiresAt`.
    error ConsentRequestExpired(uint256 requestId, uint64 expiresAt);
    /// @notice Only the request's patient may answer it.
    error ConsentNotRequestPatient(uint256 requestId, address caller);
    /// @notice The signed grant does not match the request it approves.
    error ConsentRequestMismatch(uint256 requestId);
    /// @notice A reason must be 1 to 256 bytes.
    error ConsentInvalidReason(uint16 reasonCode, uint256 encryptedReasonLength);
    /// @notice The request's validity must be between 1 second and 30 days.
    error ConsentInvalidRequestTtl(uint64 ttl);
    /// @notice Only an active doctor of an active hospital may open emergency access.
    error ConsentNotHospitalDoctor(address account);
    /// @notice Emergency access lasts 1 second to `maxDuration` seconds.
    error ConsentInvalidEmergencyDuration(uint64 duration, uint64 maxDuration);
    /// @notice No open emergency access exists for this patient and doctor.
    error ConsentNoEmergencyAccess(address patient, address doctor);
    /// @notice Only the patient or the doctor may end emergency access.
    error ConsentNotEmergencyParty(address caller);
    /// @notice A patient may give one grantee at most `max` grants with distinct scopes.
    error ConsentTooManyScopes(address patient, address grantee, uint256 max);
    /// @notice Key material must be 1 to 4096 bytes.
    error ConsentInvalidWrappedKeys(uint256 length);

    /// @notice Lets the grantee of the caller's stored, unexpired grant of `scope` read records
    /// it covers without logging each read (`RecordIndex.logReads`), or takes that back.
    /// Replacing or revoking the grant clears it: reads are logged by default.
    function setUnloggedReads(address grantee, Scope calldata scope, bool allowed) external;

    /// @notice Grants access as the calling patient.
    /// @dev `grant.patient` must equal msg.sender and `grant.epoch` the current epoch.
    function grant(GrantRequest calldata grant) external;

    /// @notice Submits a grant signed by the patient (EIP-712); anyone may relay it and pay the gas.
    /// @param grant The signed grant.
    /// @param nonce The patient's next nonce (see `nonces`).
    /// @param deadline Last timestamp at which the signature is accepted.
    /// @param signature 65-byte r ‖ s ‖ v secp256k1 signature by `grant.patient`.
    function grantWithSig(
        GrantRequest calldata grant,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Revokes every grant the calling patient gave `grantee` and advances the patient's epoch.
    function revoke(address grantee) external;

    /// @notice Revokes by the patient's EIP-712 signature over
    /// `Revoke(address patient,address grantee,uint256 nonce,uint256 deadline)`; anyone may relay.
    function revokeWithSig(
        address patient,
        address grantee,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Shares the keys of the patient's current epoch with a grantee that still holds an active grant.
    function shareEpochKeys(address grantee, bytes calldata wrappedKeys) external;

    /// @notice Voids the caller's (a patient's) current nonce, so that signatures made with it
    /// and withheld (a grant signed but never submitted) can no longer be submitted.
    function invalidateNonce() external;

    /// @notice Advances the caller's key epoch (caller: a registered patient). Grants stay;
    /// the patient then re-shares the new epoch with the grantees it still trusts.
    function rotateEpoch() external;

    /// @notice Records the caller's first key generation (1) and its key-check value, at the
    /// current epoch. Once per patient.
    function setupKeys(bytes24 keyCheck) external;

    /// @notice Starts the caller's next key generation, with its key-check value, at a new epoch.
    function rotateKeys(bytes24 keyCheck) external;

    /// @notice Files an access request (caller: active staff or organization).
    /// @dev Reasons are PHI, so none is stored in clear: `reasonCode` is one of the codes below
    /// (after HL7 v3 PurposeOfUse) and `encryptedReason` optional free text ECIES-encrypted to
    /// the patient's registered key by the client (docs/protocol.md §2.6), at most
    /// `MAX_ENCRYPTED_REASON_LENGTH` bytes. Codes: 1 treatment (TREAT), 2 emergency treatment
    /// (ETREAT), 3 payment (HPAYMT), 4 research (HRESCH), 5 operations (HOPERAT), 6 care
    /// coordination (CAREMGT), 7 patient request (PATRQT), 8 public health (PUBHLTH), 9 legal
    /// (HLEGAL).
    /// @param ttl How long the request stays answerable, in seconds (1 s to 30 days).
    /// @return requestId The new request's id (ids start at 1).
    function requestAccess(
        address patient,
        Scope calldata scope,
        Purpose purpose,
        uint64 ttl,
        uint16 reasonCode,
        bytes calldata encryptedReason
    ) external returns (uint256 requestId);

    /// @notice Approves a pending request as its patient, creating the grant.
    function approveRequest(uint256 requestId, uint64 expiry, bytes calldata wrappedKeys) external;

    /// @notice Approves a pending request with the patient's signed grant; anyone may relay.
    /// @dev The grant's grantee, scope and purpose must equal the request's.
    function approveRequestWithSig(
        uint256 requestId,
        GrantRequest calldata grant,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Denies a pending request as its patient.
    function denyRequest(uint256 requestId) external;

    /// @notice Opens break-glass access to `patient` for `duration` seconds (caller: active doctor of an active hospital).
    /// @dev `reasonCode` and `encryptedReason` as for `requestAccess`.
    function openEmergencyAccess(
        address patient,
        uint16 reasonCode,
        bytes calldata encryptedReason,
        uint64 duration
    ) external;

    /// @notice Ends break-glass access early (caller: the patient or the doctor).
    function closeEmergencyAccess(address patient, address doctor) external;

    /// @notice The one access rule: true when `grantee` holds an active, unexpired grant from
    /// `patient` whose scope covers `scope`, or open emergency access. An All grant covers every
    /// scope; a Category grant covers that category; a Record grant covers that record.
    function hasAccess(address patient, address grantee, Scope calldata scope) external view returns (bool);

    /// @notice True when `account` is a current grantee of `patient`: it holds at least one
    /// unexpired grant of any scope and is an active participant, or it holds open emergency
    /// access and is an active doctor (the conditions under which `hasAccess` counts them).
    function isGrantee(address patient, address account) external view returns (bool);

    /// @notice Whether the stored, unexpired grant of `scope` from `patient` lets `grantee`
    /// read without logging (`setUnloggedReads`); false when no such grant is stored.
    function unloggedReadsAllowed(address patient, address grantee, Scope calldata scope)
        external
        view
        returns (bool);

    /// @notice The stored grant for (patient, grantee, scope); `active` is false once revoked or replaced.
    function grantOf(address patient, address grantee, Scope calldata scope)
        external
        view
        returns (GrantInfo memory);

    /// @notice The patient's current key epoch.
    function epochOf(address patient) external view returns (uint64);

    /// @notice The patient's key generation (0 before `setupKeys`) and current epoch.
    function keysOf(address patient) external view returns (uint64 generation, uint64 epoch);

    /// @notice Key generation `generation` of `patient`: its key-check value and the first
    /// epoch whose keys derive from it (zeros for a generation that does not exist).
    function generationOf(address patient, uint64 generation)
        external
        view
        returns (bytes24 keyCheck, uint64 startEpoch);

    /// @notice The nonce `patient`'s next signed grant, revocation or approval must carry (and
    /// that `invalidateNonce` voids). Starts at zero; each use advances it by one.
    function nonces(address patient) external view returns (uint256);

    /// @notice The head of the chain of key material `patient` handed `grantee`: starts at zero;
    /// every `AccessGranted` and `EpochKeysShared` of the pair sets it to
    /// `keccak256(abi.encode(head, epoch, scopeId, keccak256(wrappedKeys)))` with its low byte
    /// cleared (scopeId is zero for `EpochKeysShared`). Never reset, not even by `revoke`.
    function keyChainOf(address patient, address grantee) external view returns (bytes32);

    /// @notice The end of open emergency access for (patient, doctor), 0 when none.
    function emergencyUntil(address patient, address doctor) external view returns (uint64);

    /// @notice A stored access request.
    function accessRequest(uint256 requestId) external view returns (AccessRequest memory);

    /// @notice The number of access requests filed so far (the last id).
    function requestCount() external view returns (uint256);

    /// @notice The EIP-712 digest a patient signs for `grant` with `nonce` and `deadline`.
    function grantDigest(GrantRequest calldata grant, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice The EIP-712 digest a patient signs to revoke `grantee` with `nonce` and `deadline`.
    function revokeDigest(address patient, address grantee, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice The role registry this registry consults.
    function roles() external view returns (address);

    /// @notice The scopeIds of the grants stored for (patient, grantee), expired ones included.
    function scopeIdsOf(address patient, address grantee) external view returns (bytes32[] memory);

    /// @notice The scopeId a grant of `scope` is stored under: keccak256(abi.encode(kind, value)).
    function scopeIdOf(Scope calldata scope) external pure returns (bytes32);

    /// @notice The contract told about grants and revocations (zero for none).
    function hooks() external view returns (address);

    /// @notice The contract asked before every break-glass opening (zero for none).
    function emergencyPolicy() external view returns (address);

    /// @notice The EIP-712 domain separator for this chain and contract.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}
