// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAccessHooks} from "./interfaces/IAccessHooks.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IEmergencyPolicy} from "./interfaces/IEmergencyPolicy.sol";
import {IRoleRegistry} from "./interfaces/IRoleRegistry.sol";

/// @title ConsentRegistry
/// @notice Patient consent for ehrkit: grants with a scope, purpose and expiry, given directly
/// or by an EIP-712 signature that anyone may relay; revocation (which advances the patient's
/// key epoch); access requests; and break-glass emergency access for hospital doctors.
/// `hasAccess` is the one access rule every other contract and client applies.
/// @dev Storage is laid out for a cheap `hasAccess`:
/// - a grant is ONE packed slot per (patient, grantee, scopeId), scopeId = keccak256(abi.encode(kind, value));
///   its `expiry` is non-zero exactly when the grant exists, so validity is one SLOAD;
/// - per (patient, grantee) one word holding the number of scopeIds granted (low byte, at most
///   `MAX_SCOPES_PER_GRANTEE`) and the head of the pair's key-material chain (the other 248
///   bits), plus the scopeIds themselves, so `revoke` deletes every grant of the pair, the hot
///   path never reads a generation counter, and committing to the key material costs no slot
///   of its own;
/// - per patient one word with the key epoch, the key generation and the signature nonce (a
///   signed grant's nonce update then lands on the slot its epoch check reads anyway, instead
///   of a slot of its own: about 20,000 gas less for a patient's first relayed grant), and per
///   generation one word with its key-check value and first epoch;
/// - emergency access is one uint64 per (patient, doctor).
/// `hasAccess` reads the exact-scope slot, then (for a Category or Record scope) the All slot,
/// then the emergency slot, and calls the role registry only once it found something valid.
/// Every created or replaced All or Category grant and every revocation is also reported to
/// the `IAccessHooks` contract given at deployment (the record index, which mirrors the state
/// its write rule reads), in the same transaction and after the registry's own effects.
/// Every break-glass opening is put to the `IEmergencyPolicy` contract given at deployment
/// (the guardian registry, which keeps the patient's hospital rules and renewal cap), which
/// reverts to refuse it.
/// EIP-712 domain: name "ehrkit ConsentRegistry", version "1" (ERC-5267 `eip712Domain()`).
contract ConsentRegistry is IConsentRegistry, EIP712 {
    // ---------------------------------------------------------------------------------
    // Constants
    // ---------------------------------------------------------------------------------

    /// @notice The longest a grant may last, counted from the block it is stored in.
    uint64 public constant MAX_GRANT_DURATION = 3650 days;
    /// @notice The longest break-glass access may last.
    uint64 public constant MAX_EMERGENCY_DURATION = 72 hours;
    /// @notice The longest an access request stays answerable.
    uint64 public constant MAX_REQUEST_TTL = 30 days;
    /// @notice The most distinct scopes one patient may grant one grantee (until a revoke clears them).
    uint256 public constant MAX_SCOPES_PER_GRANTEE = 32;
    /// @notice The longest request or emergency reason, in bytes.
    /// @notice The highest reason code (codes are 1 to `MAX_REASON_CODE`; see `requestAccess`).
    uint16 public constant MAX_REASON_CODE = 9;
    /// @notice The longest encrypted reason: ECIES (33-byte point, 16-byte tag) of 256 bytes of text.
    uint256 public constant MAX_ENCRYPTED_REASON_LENGTH = 305;
    /// @dev The shortest non-empty encrypted reason: ECIES of one byte.
    uint256 private constant _MIN_ENCRYPTED_REASON_LENGTH = 50;
    /// @notice The longest wrapped key material, in bytes.
    uint256 public constant MAX_WRAPPED_KEYS_LENGTH = 4096;

    /// @notice EIP-712 type hash of `Scope`.
    bytes32 public constant SCOPE_TYPEHASH = keccak256("Scope(uint8 kind,bytes32 value)");
    /// @notice EIP-712 type hash of `Grant`.
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,Scope scope,uint8 purpose,uint64 expiry,uint64 epoch,bytes wrappedKeys,uint256 nonce,uint256 deadline)Scope(uint8 kind,bytes32 value)"
    );
    /// @notice EIP-712 type hash of `Revoke`.
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,uint256 nonce,uint256 deadline)");

    /// @dev keccak256(abi.encode(ScopeKind.All, bytes32(0))): the scopeId of the All scope.
    bytes32 private constant _ALL_SCOPE_ID =
        0xad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5;
    /// @dev The low byte of a pair word: its number of stored scopeIds.
    uint256 private constant _COUNT_MASK = 0xff;
    /// @dev Record scopes name a record index below 2^64.
    uint256 private constant _RECORD_LIMIT = 1 << 64;
    /// @dev Where the signature nonce starts in a patient's key-state word.
    uint256 private constant _NONCE_SHIFT = 128;

    // ---------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------

    /// @dev A stored grant, packed into one slot (8 + 8 + 8 + 1 + 1 + 1 bytes). `expiry` is
    /// non-zero exactly when `exists` is set. `unloggedReads` (set by `setUnloggedReads`)
    /// takes a spare byte of the same word, so the flag costs no slot; storing a grant writes
    /// the whole word and so clears it.
    struct _Grant {
        uint64 expiry;
        uint64 epoch;
        uint64 grantedAt;
        Purpose purpose;
        bool exists;
        bool unloggedReads;
    }

    /// @dev A stored access request, packed into three slots:
    /// (requester, purpose, status, createdAt), (patient, kind, expiresAt), (value).
    struct _Request {
        address requester;
        Purpose purpose;
        RequestStatus status;
        uint64 createdAt;
        address patient;
        ScopeKind kind;
        uint64 expiresAt;
        bytes32 value;
    }

    IRoleRegistry private immutable _roles;
    /// @dev Told about grants and revocations; zero for none.
    IAccessHooks private immutable _hooks;
    /// @dev Asked before every break-glass opening; zero for none.
    IEmergencyPolicy private immutable _policy;

    mapping(address patient => mapping(address grantee => mapping(bytes32 scopeId => _Grant))) private
        _grants;
    /// @dev key-material chain head (high 248 bits) | number of scopeIds (low 8 bits).
    mapping(address patient => mapping(address grantee => uint256)) private _pairs;
    mapping(address patient => mapping(address grantee => mapping(uint256 index => bytes32 scopeId))) private
        _pairScopeIds;
    /// @dev epoch (bits 0-63) | generation << 64 | nonce << 128.
    mapping(address patient => uint256) private _keyStates;
    /// @dev keyCheck (high 24 bytes) | first epoch (low 64 bits).
    mapping(address patient => mapping(uint64 generation => uint256)) private _generations;
    mapping(address patient => mapping(address doctor => uint64 until)) private _emergencyUntil;
    mapping(uint256 requestId => _Request) private _requests;
    uint256 private _requestCount;

    /// @notice Deploys the registry on top of a role registry.
    /// @param roles_ The role registry consulted for patients, participants and doctors.
    /// @param hooks_ The contract told about every All or Category grant and every revocation
    /// (the record index); the zero address for none.
    /// @param policy_ The contract asked before every break-glass opening (the guardian
    /// registry); the zero address for none.
    constructor(IRoleRegistry roles_, IAccessHooks hooks_, IEmergencyPolicy policy_)
        EIP712("ehrkit ConsentRegistry", "1")
    {
        _roles = roles_;
        _hooks = hooks_;
        _policy = policy_;
    }

    // ---------------------------------------------------------------------------------
    // Grants
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNotPatient(msg.sender)` unless `grant.patient` is the caller, then
    /// applies the grant checks (see `_checkGrant`). Replaces an existing grant of the same scope.
    function grant(GrantRequest calldata grantRequest) external {
        if (grantRequest.patient != msg.sender) revert ConsentNotPatient(msg.sender);
        _checkGrantRequest(grantRequest);
        _storeGrantRequest(grantRequest);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Checks, in order: deadline, signature and signer, nonce, then the grant checks.
    /// A replayed signature reverts with `InvalidAccountNonce`.
    function grantWithSig(
        GrantRequest calldata grantRequest,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(
            grantRequest.patient, _grantStructHash(grantRequest, nonce, deadline), nonce, deadline, signature
        );
        _checkGrantRequest(grantRequest);
        _storeGrantRequest(grantRequest);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNoActiveGrant` when the pair has no stored grant (an expired but
    /// stored grant counts). Emits `AccessRevoked` with the new epoch and the caller as submitter.
    function revoke(address grantee) external {
        _revoke(msg.sender, grantee);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Checks, in order: deadline, signature and signer, nonce; then as `revoke`. The
    /// caller is reported as the submitter.
    function revokeWithSig(
        address patient,
        address grantee,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _useSignature(
            patient, _revokeStructHash(patient, grantee, nonce, deadline), nonce, deadline, signature
        );
        _revoke(patient, grantee);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Caller must be a registered patient (`ConsentNotPatient`); key material 1 to 4096
    /// bytes (`ConsentInvalidWrappedKeys`); `grantee` must hold at least one unexpired grant
    /// from it (`ConsentNoActiveGrant`) and still be an active participant
    /// (`ConsentInvalidGrantee`): a removed staff member or organization keeps its grants until
    /// the patient revokes them, but is handed no new epoch's keys. Changes no state: the keys
    /// travel in `EpochKeysShared`.
    function shareEpochKeys(address grantee, bytes calldata wrappedKeys) external {
        if (!_roles.isPatient(msg.sender)) revert ConsentNotPatient(msg.sender);
        _checkWrappedKeys(wrappedKeys.length);
        if (!_hasUnexpiredGrant(msg.sender, grantee)) revert ConsentNoActiveGrant(msg.sender, grantee);
        if (!_roles.isActiveParticipant(grantee)) revert ConsentInvalidGrantee(grantee);

        uint64 epoch = _epochOf(msg.sender);
        _pairs[msg.sender][grantee] = _chain(_pairs[msg.sender][grantee], epoch, bytes32(0), wrappedKeys);
        emit EpochKeysShared(msg.sender, grantee, epoch, wrappedKeys);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Caller must be a registered patient (`ConsentNotPatient`). Every signed grant,
    /// revocation and approval of a patient carries its current nonce (`nonces(patient)`), so
    /// one call voids all of them that were signed and not submitted.
    function invalidateNonce() external {
        if (!_roles.isPatient(msg.sender)) revert ConsentNotPatient(msg.sender);
        emit NonceInvalidated(msg.sender, _useNonce(msg.sender));
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentInvalidScope` for an invalid scope and `ConsentNoActiveGrant`
    /// unless the caller has a stored, unexpired grant of `scope` to `grantee`. Emits
    /// `UnloggedReadsSet`.
    function setUnloggedReads(address grantee, Scope calldata scope, bool allowed) external {
        _checkScope(scope.kind, scope.value);
        bytes32 scopeId = _scopeId(scope.kind, scope.value);
        _Grant storage stored = _grants[msg.sender][grantee][scopeId];
        if (stored.expiry <= block.timestamp) revert ConsentNoActiveGrant(msg.sender, grantee);
        stored.unloggedReads = allowed;
        emit UnloggedReadsSet(msg.sender, grantee, scopeId, allowed);
    }

    // ---------------------------------------------------------------------------------
    // Key epochs and generations
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IConsentRegistry
    /// @dev Caller must be a registered patient (`ConsentNotPatient`). Emits `EpochRotated`,
    /// then tells the hooks (`onEpochRotated`).
    function rotateEpoch() external {
        if (!_roles.isPatient(msg.sender)) revert ConsentNotPatient(msg.sender);
        uint256 state = _keyStates[msg.sender];
        uint64 newEpoch = uint64(state) + 1;
        _keyStates[msg.sender] = (state & ~uint256(type(uint64).max)) | newEpoch;
        emit EpochRotated(msg.sender, newEpoch);
        if (address(_hooks) != address(0)) _hooks.onEpochRotated(msg.sender, newEpoch);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNotPatient`, `ConsentInvalidKeyCheck` (zero) or
    /// `ConsentKeysAlreadySetUp`. The epoch does not change: nobody holds keys of the patient
    /// before this (the SDK sets up keys right after registering).
    function setupKeys(bytes24 keyCheck) external {
        if (!_roles.isPatient(msg.sender)) revert ConsentNotPatient(msg.sender);
        if (keyCheck == bytes24(0)) revert ConsentInvalidKeyCheck();
        uint256 state = _keyStates[msg.sender];
        if (uint64(state >> 64) != 0) revert ConsentKeysAlreadySetUp(msg.sender);
        uint64 epoch = uint64(state);
        _keyStates[msg.sender] = state | (uint256(1) << 64);
        _generations[msg.sender][1] = uint256(bytes32(keyCheck)) | epoch;
        emit KeysRotated(msg.sender, 1, epoch, keyCheck);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNotPatient`, `ConsentInvalidKeyCheck` (zero) or
    /// `ConsentKeysNotSetUp`. Advances the epoch (the new generation's first), emits
    /// `KeysRotated`, then tells the hooks (`onEpochRotated`).
    function rotateKeys(bytes24 keyCheck) external {
        if (!_roles.isPatient(msg.sender)) revert ConsentNotPatient(msg.sender);
        if (keyCheck == bytes24(0)) revert ConsentInvalidKeyCheck();
        uint256 state = _keyStates[msg.sender];
        uint64 generation = uint64(state >> 64);
        if (generation == 0) revert ConsentKeysNotSetUp(msg.sender);
        ++generation;
        uint64 newEpoch = uint64(state) + 1;
        _keyStates[msg.sender] =
            ((state >> _NONCE_SHIFT) << _NONCE_SHIFT) | (uint256(generation) << 64) | newEpoch;
        _generations[msg.sender][generation] = uint256(bytes32(keyCheck)) | newEpoch;
        emit KeysRotated(msg.sender, generation, newEpoch, keyCheck);
        if (address(_hooks) != address(0)) _hooks.onEpochRotated(msg.sender, newEpoch);
    }

    // ---------------------------------------------------------------------------------
    // Requests
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentInvalidGrantee(caller)` unless the caller is an active participant,
    /// `ConsentNotPatient`, `ConsentInvalidScope`, `ConsentInvalidReason` (a code outside 1 to
    /// `MAX_REASON_CODE`, or an encrypted reason neither empty nor 50 to 305 bytes) or
    /// `ConsentInvalidRequestTtl` (1 s to 30 days).
    function requestAccess(
        address patient,
        Scope calldata scope,
        Purpose purpose,
        uint64 ttl,
        uint16 reasonCode,
        bytes calldata encryptedReason
    ) external returns (uint256 requestId) {
        if (!_roles.isActiveParticipant(msg.sender)) revert ConsentInvalidGrantee(msg.sender);
        if (!_roles.isPatient(patient)) revert ConsentNotPatient(patient);
        _checkScope(scope.kind, scope.value);
        _checkReason(reasonCode, encryptedReason.length);
        if (ttl == 0 || ttl > MAX_REQUEST_TTL) revert ConsentInvalidRequestTtl(ttl);

        uint64 expiresAt = uint64(block.timestamp) + ttl;
        requestId = ++_requestCount;
        _requests[requestId] = _Request({
            requester: msg.sender,
            purpose: purpose,
            status: RequestStatus.Pending,
            createdAt: uint64(block.timestamp),
            patient: patient,
            kind: scope.kind,
            expiresAt: expiresAt,
            value: scope.value
        });
        emit AccessRequested(
            requestId, patient, msg.sender, scope, purpose, expiresAt, reasonCode, encryptedReason
        );
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentUnknownRequest`, `ConsentNotRequestPatient`,
    /// `ConsentRequestNotPending`, `ConsentRequestExpired` (after `expiresAt`), then applies the
    /// grant checks to (requester, request scope, request purpose, `expiry`, current epoch).
    /// Emits `AccessRequestApproved`, then `AccessGranted`.
    function approveRequest(uint256 requestId, uint64 expiry, bytes calldata wrappedKeys) external {
        _Request memory request = _loadRequest(requestId);
        if (request.patient != msg.sender) revert ConsentNotRequestPatient(requestId, msg.sender);
        _requireAnswerable(requestId, request);
        uint64 epoch = _epochOf(msg.sender);
        _checkGrant(
            msg.sender, request.requester, request.kind, request.value, expiry, epoch, wrappedKeys.length
        );

        _requests[requestId].status = RequestStatus.Approved;
        emit AccessRequestApproved(requestId, msg.sender, request.requester);
        _storeGrant(
            msg.sender,
            request.requester,
            Scope({kind: request.kind, value: request.value}),
            request.purpose,
            expiry,
            epoch,
            wrappedKeys
        );
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentUnknownRequest`, `ConsentRequestNotPending`,
    /// `ConsentRequestExpired`, `ConsentRequestMismatch` (the signed grant's patient, grantee,
    /// scope or purpose differ from the request's), then checks deadline, signature, nonce and
    /// the grant checks like `grantWithSig`.
    function approveRequestWithSig(
        uint256 requestId,
        GrantRequest calldata grantRequest,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _Request memory request = _loadRequest(requestId);
        _requireAnswerable(requestId, request);
        if (
            grantRequest.patient != request.patient || grantRequest.grantee != request.requester
                || grantRequest.scope.kind != request.kind || grantRequest.scope.value != request.value
                || grantRequest.purpose != request.purpose
        ) revert ConsentRequestMismatch(requestId);
        _useSignature(
            grantRequest.patient, _grantStructHash(grantRequest, nonce, deadline), nonce, deadline, signature
        );
        _checkGrantRequest(grantRequest);

        _requests[requestId].status = RequestStatus.Approved;
        emit AccessRequestApproved(requestId, request.patient, request.requester);
        _storeGrantRequest(grantRequest);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentUnknownRequest`, `ConsentNotRequestPatient` or
    /// `ConsentRequestNotPending`. An expired pending request may still be denied.
    function denyRequest(uint256 requestId) external {
        _Request memory request = _loadRequest(requestId);
        if (request.patient != msg.sender) revert ConsentNotRequestPatient(requestId, msg.sender);
        if (request.status != RequestStatus.Pending) {
            revert ConsentRequestNotPending(requestId, request.status);
        }

        _requests[requestId].status = RequestStatus.Denied;
        emit AccessRequestDenied(requestId, msg.sender, request.requester);
    }

    // ---------------------------------------------------------------------------------
    // Emergency access
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNotHospitalDoctor` unless the caller is an active doctor whose
    /// organization is an active hospital, `ConsentNotPatient`, `ConsentInvalidReason` or
    /// `ConsentInvalidEmergencyDuration` (1 s to 72 h). Opening again replaces the end time.
    /// Then the policy (`IEmergencyPolicy.onEmergencyOpened`) may refuse: a denied hospital,
    /// or more time in total than the patient's renewal cap.
    function openEmergencyAccess(
        address patient,
        uint16 reasonCode,
        bytes calldata encryptedReason,
        uint64 duration
    ) external {
        if (!_roles.isActiveDoctor(msg.sender)) {
            revert ConsentNotHospitalDoctor(msg.sender);
        }
        address hospital = _roles.orgOf(msg.sender);
        if (!_roles.isActiveOrganizationOfKind(hospital, IRoleRegistry.OrgKind.Hospital)) {
            revert ConsentNotHospitalDoctor(msg.sender);
        }
        if (!_roles.isPatient(patient)) revert ConsentNotPatient(patient);
        _checkReason(reasonCode, encryptedReason.length);
        if (duration == 0 || duration > MAX_EMERGENCY_DURATION) {
            revert ConsentInvalidEmergencyDuration(duration, MAX_EMERGENCY_DURATION);
        }

        uint64 until = uint64(block.timestamp) + duration;
        uint64 previousUntil = _emergencyUntil[patient][msg.sender];
        _emergencyUntil[patient][msg.sender] = until;
        emit EmergencyAccessOpened(patient, msg.sender, hospital, until, reasonCode, encryptedReason);
        if (address(_policy) != address(0)) {
            _policy.onEmergencyOpened(patient, msg.sender, hospital, previousUntil, until);
        }
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Reverts `ConsentNotEmergencyParty` unless the caller is `patient` or `doctor`, and
    /// `ConsentNoEmergencyAccess` unless access is open (its end is in the future).
    function closeEmergencyAccess(address patient, address doctor) external {
        if (msg.sender != patient && msg.sender != doctor) revert ConsentNotEmergencyParty(msg.sender);
        if (_emergencyUntil[patient][doctor] <= block.timestamp) {
            revert ConsentNoEmergencyAccess(patient, doctor);
        }

        delete _emergencyUntil[patient][doctor];
        emit EmergencyAccessClosed(patient, doctor, msg.sender);
    }

    // ---------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------

    /// @inheritdoc IConsentRegistry
    /// @dev Cheapest first: the exact-scope grant slot, then (for a Category or Record scope)
    /// the All grant slot, then the emergency slot. A valid grant counts only while the grantee
    /// is an active participant, emergency access only while the grantee is an active doctor;
    /// the role registry is called only after something valid was found. Never reverts for
    /// unknown accounts.
    function hasAccess(address patient, address grantee, Scope calldata scope) external view returns (bool) {
        mapping(bytes32 => _Grant) storage grants = _grants[patient][grantee];
        ScopeKind kind = scope.kind;
        bool valid = grants[_scopeId(kind, scope.value)].expiry > block.timestamp;
        if (!valid && kind != ScopeKind.All) valid = grants[_ALL_SCOPE_ID].expiry > block.timestamp;
        if (valid && _roles.isActiveParticipant(grantee)) return true;
        return _emergencyUntil[patient][grantee] > block.timestamp && _roles.isActiveDoctor(grantee);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev Scans the pair's (at most `MAX_SCOPES_PER_GRANTEE`) grants; calls the role
    /// registry only once it found an unexpired grant or open emergency access.
    function isGrantee(address patient, address account) external view returns (bool) {
        if (_hasUnexpiredGrant(patient, account) && _roles.isActiveParticipant(account)) return true;
        return _emergencyUntil[patient][account] > block.timestamp && _roles.isActiveDoctor(account);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev All fields are zero when no grant is stored; `active` = stored and unexpired (it
    /// does not consult the role registry; `hasAccess` does).
    function grantOf(address patient, address grantee, Scope calldata scope)
        external
        view
        returns (GrantInfo memory)
    {
        _Grant memory stored = _grants[patient][grantee][_scopeId(scope.kind, scope.value)];
        return GrantInfo({
            purpose: stored.purpose,
            expiry: stored.expiry,
            epoch: stored.epoch,
            grantedAt: stored.grantedAt,
            active: stored.exists && stored.expiry > block.timestamp
        });
    }

    /// @inheritdoc IConsentRegistry
    function unloggedReadsAllowed(address patient, address grantee, Scope calldata scope)
        external
        view
        returns (bool)
    {
        _Grant storage stored = _grants[patient][grantee][_scopeId(scope.kind, scope.value)];
        return stored.unloggedReads && stored.expiry > block.timestamp;
    }

    /// @inheritdoc IConsentRegistry
    function scopeIdsOf(address patient, address grantee) external view returns (bytes32[] memory) {
        return _scopeIdList(patient, grantee);
    }

    /// @inheritdoc IConsentRegistry
    function scopeIdOf(Scope calldata scope) external pure returns (bytes32) {
        return _scopeId(scope.kind, scope.value);
    }

    /// @inheritdoc IConsentRegistry
    function epochOf(address patient) external view returns (uint64) {
        return _epochOf(patient);
    }

    /// @inheritdoc IConsentRegistry
    function keysOf(address patient) external view returns (uint64 generation, uint64 epoch) {
        uint256 state = _keyStates[patient];
        return (uint64(state >> 64), uint64(state));
    }

    /// @inheritdoc IConsentRegistry
    function generationOf(address patient, uint64 generation)
        external
        view
        returns (bytes24 keyCheck, uint64 startEpoch)
    {
        uint256 word = _generations[patient][generation];
        return (bytes24(bytes32(word)), uint64(word));
    }

    /// @inheritdoc IConsentRegistry
    function nonces(address patient) external view returns (uint256) {
        return _keyStates[patient] >> _NONCE_SHIFT;
    }

    /// @inheritdoc IConsentRegistry
    function keyChainOf(address patient, address grantee) external view returns (bytes32) {
        return bytes32(_pairs[patient][grantee] & ~_COUNT_MASK);
    }

    /// @inheritdoc IConsentRegistry
    /// @dev 0 once the access was closed or has ended.
    function emergencyUntil(address patient, address doctor) external view returns (uint64) {
        uint64 until = _emergencyUntil[patient][doctor];
        return until > block.timestamp ? until : 0;
    }

    /// @inheritdoc IConsentRegistry
    /// @dev All fields are zero for an unknown id. A pending request past `expiresAt` keeps
    /// status Pending but can no longer be approved.
    function accessRequest(uint256 requestId) external view returns (AccessRequest memory) {
        _Request memory request = _requests[requestId];
        return AccessRequest({
            requester: request.requester,
            patient: request.patient,
            scope: Scope({kind: request.kind, value: request.value}),
            purpose: request.purpose,
            status: request.status,
            createdAt: request.createdAt,
            expiresAt: request.expiresAt
        });
    }

    /// @inheritdoc IConsentRegistry
    function requestCount() external view returns (uint256) {
        return _requestCount;
    }

    /// @inheritdoc IConsentRegistry
    function grantDigest(GrantRequest calldata grantRequest, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_grantStructHash(grantRequest, nonce, deadline));
    }

    /// @inheritdoc IConsentRegistry
    function revokeDigest(address patient, address grantee, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(_revokeStructHash(patient, grantee, nonce, deadline));
    }

    /// @inheritdoc IConsentRegistry
    function roles() external view returns (address) {
        return address(_roles);
    }

    /// @inheritdoc IConsentRegistry
    function hooks() external view returns (address) {
        return address(_hooks);
    }

    /// @inheritdoc IConsentRegistry
    function emergencyPolicy() external view returns (address) {
        return address(_policy);
    }

    /// @inheritdoc IConsentRegistry
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------
    // Internal: grants
    // ---------------------------------------------------------------------------------

    /// @dev The grant checks for a calldata grant request.
    function _checkGrantRequest(GrantRequest calldata grantRequest) private view {
        _checkGrant(
            grantRequest.patient,
            grantRequest.grantee,
            grantRequest.scope.kind,
            grantRequest.scope.value,
            grantRequest.expiry,
            grantRequest.epoch,
            grantRequest.wrappedKeys.length
        );
    }

    /// @dev The grant checks shared by every way of granting, in this order: the patient is
    /// registered, the grantee is an active participant, the scope is valid, the expiry is in
    /// the future and at most `MAX_GRANT_DURATION` away, the epoch is current, and the key
    /// material is 1 to 4096 bytes.
    function _checkGrant(
        address patient,
        address grantee,
        ScopeKind kind,
        bytes32 value,
        uint64 expiry,
        uint64 epoch,
        uint256 wrappedKeysLength
    ) private view {
        if (!_roles.isPatient(patient)) revert ConsentNotPatient(patient);
        if (!_roles.isActiveParticipant(grantee)) revert ConsentInvalidGrantee(grantee);
        _checkScope(kind, value);
        if (expiry <= block.timestamp) revert ConsentExpired(expiry, uint64(block.timestamp));
        if (expiry - block.timestamp > MAX_GRANT_DURATION) {
            revert ConsentDurationTooLong(expiry, MAX_GRANT_DURATION);
        }
        uint64 current = _epochOf(patient);
        if (epoch != current) revert ConsentWrongEpoch(epoch, current);
        _checkWrappedKeys(wrappedKeysLength);
    }

    /// @dev Stores a checked calldata grant request.
    function _storeGrantRequest(GrantRequest calldata grantRequest) private {
        _storeGrant(
            grantRequest.patient,
            grantRequest.grantee,
            grantRequest.scope,
            grantRequest.purpose,
            grantRequest.expiry,
            grantRequest.epoch,
            grantRequest.wrappedKeys
        );
    }

    /// @dev Stores (or replaces) a checked grant, emits `AccessGranted` with the caller as
    /// submitter, then reports an All or Category grant to the hooks (`onGrant`). Reverts
    /// `ConsentTooManyScopes` when the grant adds a new scope to a pair that already holds
    /// `MAX_SCOPES_PER_GRANTEE`.
    function _storeGrant(
        address patient,
        address grantee,
        Scope memory scope,
        Purpose purpose,
        uint64 expiry,
        uint64 epoch,
        bytes calldata wrappedKeys
    ) private {
        bytes32 scopeId = _scopeId(scope.kind, scope.value);
        _Grant storage slot = _grants[patient][grantee][scopeId];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(slot.slot)
        }
        uint256 pair = _pairs[patient][grantee];
        // A stored grant always has its `exists` byte set, so a zero word means no grant.
        if (word == 0) {
            uint256 count = pair & _COUNT_MASK;
            if (count >= MAX_SCOPES_PER_GRANTEE) {
                revert ConsentTooManyScopes(patient, grantee, MAX_SCOPES_PER_GRANTEE);
            }
            _pairScopeIds[patient][grantee][count] = scopeId;
            ++pair;
        }
        _pairs[patient][grantee] = _chain(pair, epoch, scopeId, wrappedKeys);
        // One SSTORE of the whole packed `_Grant` (Solidity would write member by member):
        // expiry | epoch << 64 | grantedAt << 128 | purpose << 192 | exists << 200.
        word = uint256(expiry) | (uint256(epoch) << 64) | (uint256(uint64(block.timestamp)) << 128)
            | (uint256(uint8(purpose)) << 192) | (uint256(1) << 200);
        assembly ("memory-safe") {
            sstore(slot.slot, word)
        }
        emit AccessGranted(patient, grantee, scopeId, scope, purpose, expiry, epoch, msg.sender, wrappedKeys);
        if (address(_hooks) != address(0) && scope.kind != ScopeKind.Record) {
            _hooks.onGrant(patient, grantee, scopeId, expiry);
        }
    }

    /// @dev Deletes every grant `patient` gave `grantee`, advances the patient's epoch, emits
    /// `AccessRevoked` with the caller as submitter, then reports the revoked scopeIds and the
    /// new epoch to the hooks (`onRevoke`).
    function _revoke(address patient, address grantee) private {
        bytes32[] memory ids = _scopeIdList(patient, grantee);
        uint256 count = ids.length;
        if (count == 0) revert ConsentNoActiveGrant(patient, grantee);

        mapping(bytes32 => _Grant) storage grants = _grants[patient][grantee];
        mapping(uint256 => bytes32) storage stored = _pairScopeIds[patient][grantee];
        for (uint256 i; i < count; ++i) {
            delete grants[ids[i]];
            delete stored[i];
        }
        // The key-material chain stays: the grantee keeps the keys it was given, and a client
        // still checks them against it.
        _pairs[patient][grantee] &= ~_COUNT_MASK;
        uint256 state = _keyStates[patient];
        uint64 newEpoch = uint64(state) + 1;
        _keyStates[patient] = (state & ~uint256(type(uint64).max)) | newEpoch;
        emit AccessRevoked(patient, grantee, newEpoch, msg.sender);
        if (address(_hooks) != address(0)) _hooks.onRevoke(patient, grantee, ids, newEpoch);
    }

    /// @dev True when `grantee` holds at least one unexpired grant from `patient`.
    function _hasUnexpiredGrant(address patient, address grantee) private view returns (bool) {
        mapping(uint256 => bytes32) storage ids = _pairScopeIds[patient][grantee];
        mapping(bytes32 => _Grant) storage grants = _grants[patient][grantee];
        uint256 count = _pairs[patient][grantee] & _COUNT_MASK;
        for (uint256 i; i < count; ++i) {
            if (grants[ids[i]].expiry > block.timestamp) return true;
        }
        return false;
    }

    /// @dev The scopeIds stored for (patient, grantee), in the order they were first granted.
    function _scopeIdList(address patient, address grantee) private view returns (bytes32[] memory ids) {
        mapping(uint256 => bytes32) storage stored = _pairScopeIds[patient][grantee];
        uint256 count = _pairs[patient][grantee] & _COUNT_MASK;
        ids = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            ids[i] = stored[i];
        }
    }

    /// @dev The patient's current key epoch.
    function _epochOf(address patient) private view returns (uint64) {
        return uint64(_keyStates[patient]);
    }

    /// @dev `pair` with its key-material chain advanced by one link (see `keyChainOf`); the
    /// scope count in the low byte is kept.
    function _chain(uint256 pair, uint64 epoch, bytes32 scopeId, bytes calldata wrappedKeys)
        private
        pure
        returns (uint256)
    {
        bytes32 link = keccak256(abi.encode(pair & ~_COUNT_MASK, epoch, scopeId, keccak256(wrappedKeys)));
        return (uint256(link) & ~_COUNT_MASK) | (pair & _COUNT_MASK);
    }

    // ---------------------------------------------------------------------------------
    // Internal: requests
    // ---------------------------------------------------------------------------------

    /// @dev Loads a request, reverting `ConsentUnknownRequest` for an id never issued.
    function _loadRequest(uint256 requestId) private view returns (_Request memory request) {
        request = _requests[requestId];
        if (request.status == RequestStatus.None) revert ConsentUnknownRequest(requestId);
    }

    /// @dev Reverts unless the request is pending and not past its `expiresAt`.
    function _requireAnswerable(uint256 requestId, _Request memory request) private view {
        if (request.status != RequestStatus.Pending) {
            revert ConsentRequestNotPending(requestId, request.status);
        }
        if (block.timestamp > request.expiresAt) revert ConsentRequestExpired(requestId, request.expiresAt);
    }

    // ---------------------------------------------------------------------------------
    // Internal: signatures and hashing
    // ---------------------------------------------------------------------------------

    /// @dev Checks a patient's EIP-712 signature and consumes its nonce, in this order:
    /// deadline, signature validity (`_tryRecover`: bad length, high s, bad v or no signer all
    /// give `ConsentInvalidSignature`), signer, nonce.
    function _useSignature(
        address patient,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) private {
        if (deadline < block.timestamp) {
            revert ConsentSignatureExpired(deadline, block.timestamp);
        }
        (address signer, ECDSA.RecoverError err) = _tryRecover(_hashTypedDataV4(structHash), signature);
        if (err != ECDSA.RecoverError.NoError) revert ConsentInvalidSignature();
        if (signer != patient) revert ConsentInvalidSigner(signer, patient);
        _useCheckedNonce(patient, nonce);
    }

    /// @dev Returns the patient's current nonce and advances it (in the key-state word).
    function _useNonce(address patient) private returns (uint256 current) {
        uint256 state = _keyStates[patient];
        current = state >> _NONCE_SHIFT;
        _keyStates[patient] = state + (uint256(1) << _NONCE_SHIFT);
    }

    /// @dev `_useNonce`, reverting `InvalidAccountNonce` unless `nonce` is the current one.
    function _useCheckedNonce(address patient, uint256 nonce) private {
        uint256 current = _useNonce(patient);
        if (nonce != current) revert InvalidAccountNonce(patient, current);
    }

    /// @dev `ECDSA.tryRecoverCalldata` of OpenZeppelin 5.5+, spelled out over the (v, r, s)
    /// overload that 5.4 has too: the shanghai build compiles against 5.4 (5.5+ needs MCOPY),
    /// and both builds must check signatures the same way. Only 65-byte signatures.
    function _tryRecover(bytes32 hash, bytes calldata signature)
        private
        pure
        returns (address signer, ECDSA.RecoverError err)
    {
        if (signature.length != 65) return (address(0), ECDSA.RecoverError.InvalidSignatureLength);
        bytes32 r;
        bytes32 s;
        uint8 v;
        // calldataload instead of slices: the length is checked above, and slices would check
        // it three times more.
        assembly ("memory-safe") {
            r := calldataload(signature.offset)
            s := calldataload(add(signature.offset, 0x20))
            v := byte(0, calldataload(add(signature.offset, 0x40)))
        }
        (signer, err,) = ECDSA.tryRecover(hash, v, r, s);
    }

    /// @dev EIP-712 struct hash of `Grant`; `wrappedKeys` enters as its keccak256.
    function _grantStructHash(GrantRequest calldata grantRequest, uint256 nonce, uint256 deadline)
        private
        pure
        returns (bytes32)
    {
        bytes32 scopeHash =
            keccak256(abi.encode(SCOPE_TYPEHASH, grantRequest.scope.kind, grantRequest.scope.value));
        return keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                grantRequest.patient,
                grantRequest.grantee,
                scopeHash,
                grantRequest.purpose,
                grantRequest.expiry,
                grantRequest.epoch,
                keccak256(grantRequest.wrappedKeys),
                nonce,
                deadline
            )
        );
    }

    /// @dev EIP-712 struct hash of `Revoke`.
    function _revokeStructHash(address patient, address grantee, uint256 nonce, uint256 deadline)
        private
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantee, nonce, deadline));
    }

    // ---------------------------------------------------------------------------------
    // Internal: validation
    // ---------------------------------------------------------------------------------

    /// @dev keccak256(abi.encode(kind, value)), computed in scratch space.
    function _scopeId(ScopeKind kind, bytes32 value) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(0x00, kind)
            mstore(0x20, value)
            id := keccak256(0x00, 0x40)
        }
    }

    /// @dev All carries no value; Category a non-zero name; Record a non-zero index below 2^64.
    function _checkScope(ScopeKind kind, bytes32 value) private pure {
        bool valid;
        if (kind == ScopeKind.All) valid = value == bytes32(0);
        else if (kind == ScopeKind.Category) valid = value != bytes32(0);
        else valid = value != bytes32(0) && uint256(value) < _RECORD_LIMIT;
        if (!valid) revert ConsentInvalidScope(kind, value);
    }

    /// @dev Reverts `ConsentInvalidReason` unless the code is 1 to `MAX_REASON_CODE` and the
    /// encrypted reason is empty or 50 to `MAX_ENCRYPTED_REASON_LENGTH` bytes.
    function _checkReason(uint16 reasonCode, uint256 encryptedLength) private pure {
        bool badCode = reasonCode == 0 || reasonCode > MAX_REASON_CODE;
        bool badLength = encryptedLength != 0
            && (encryptedLength < _MIN_ENCRYPTED_REASON_LENGTH
                || encryptedLength > MAX_ENCRYPTED_REASON_LENGTH);
        if (badCode || badLength) revert ConsentInvalidReason(reasonCode, encryptedLength);
    }

    /// @dev Reverts `ConsentInvalidWrappedKeys` unless 1 to 4096 bytes.
    function _checkWrappedKeys(uint256 length) private pure {
        if (length == 0 || length > MAX_WRAPPED_KEYS_LENGTH) revert ConsentInvalidWrappedKeys(length);
    }
}
