// The page's cryptography, byte for byte the Rust side's (docs/protocol.md §2, docs/envelope.md
// §3.1): EIP-712 hashing, the master secret from a wallet signature, the key hierarchy, ECIES
// and a grant's wrappedKeys. Checked against tests/vectors/ by tests/web/crypto.test.mjs.
// Pure functions: nothing here touches the network or the DOM.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';

const enc = new TextEncoder();

export const LABELS = Object.freeze({
  masterSecret: 'ehrkit/v1/master-secret',
  masterSecretV2: 'ehrkit/v2/master-secret',
  keyCheck: 'ehrkit/v2/key-check',
  recoveryCode: 'ehrkit/v2/recovery-code',
  epoch: 'ehrkit/v1/epoch',
  index: 'ehrkit/v1/index',
  data: 'ehrkit/v1/data',
  keyId: 'ehrkit/v1/key-id',
  eciesKek: 'ehrkit/v1/ecies/kek',
  grantKeys: 'ehrkit/v1/grant-keys',
  categoryNamingKey: 'ehrkit/v2/category-naming-key',
  categoryId: 'ehrkit/v2/category-id',
});
/** The version byte of a wrappedKeys item (2: All carries K_cat, Category carries the name). */
export const GRANT_KEYS_VERSION = 2;
/** The categories every client knows by name (ehr_record::Category::WELL_KNOWN). */
export const WELL_KNOWN_CATEGORIES = Object.freeze(['lab', 'imaging', 'prescription', 'diagnosis', 'note', 'vitals', 'demographics']);
export const MASTER_SECRET_PURPOSE = 'Derive my ehrkit record keys. Sign this only in ehrkit.';
const N = secp256k1.Point.CURVE().n;

// --- bytes ---------------------------------------------------------------------------------
export function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new Error(`not hex: ${String(hex).slice(0, 20)}`);
  }
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
export function bytesToHex(bytes) {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
export function be64(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}
function word(n) { // uint256, big-endian, 32 bytes
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 256n) throw new Error('uint out of range');
  return hexToBytes(v.toString(16).padStart(64, '0'));
}
function addressBytes(a) {
  const b = hexToBytes(a);
  if (b.length !== 20) throw new Error(`not an address: ${a}`);
  return b;
}
export function keccak256(bytes) { return keccak_256(bytes); }

/** A category name (1 to 31 printable ASCII bytes) left-aligned in 32 bytes: never on chain. */
export function categoryBytes32(name) {
  const b = enc.encode(name);
  if (b.length < 1 || b.length > 31 || b.some((x) => x < 0x21 || x > 0x7e)) {
    throw new Error('a category is 1 to 31 printable ASCII characters');
  }
  const out = new Uint8Array(32);
  out.set(b);
  return out;
}

// --- EIP-712 ---------------------------------------------------------------------------------
export const DOMAIN_TYPE = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];
export const GRANT_TYPES = {
  Grant: [
    { name: 'patient', type: 'address' }, { name: 'grantee', type: 'address' },
    { name: 'scope', type: 'Scope' }, { name: 'purpose', type: 'uint8' },
    { name: 'expiry', type: 'uint64' }, { name: 'epoch', type: 'uint64' },
    { name: 'wrappedKeys', type: 'bytes' }, { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
  Scope: [{ name: 'kind', type: 'uint8' }, { name: 'value', type: 'bytes32' }],
};
export const MASTER_SECRET_TYPES = {
  MasterSecret: [{ name: 'patient', type: 'address' }, { name: 'purpose', type: 'string' }],
};
export const MASTER_SECRET_V2_TYPES = {
  MasterSecret: [
    { name: 'patient', type: 'address' }, { name: 'generation', type: 'uint64' }, { name: 'purpose', type: 'string' },
  ],
};

function encodeType(primary, types) {
  const deps = new Set();
  const walk = (t) => {
    for (const f of types[t]) {
      if (types[f.type] && !deps.has(f.type) && f.type !== primary) { deps.add(f.type); walk(f.type); }
    }
  };
  walk(primary);
  const one = (t) => `${t}(${types[t].map((f) => `${f.type} ${f.name}`).join(',')})`;
  return one(primary) + [...deps].sort().map(one).join('');
}
function encodeValue(type, value, types) {
  if (types[type]) return keccak256(encodeData(type, value, types));
  if (type === 'string') return keccak256(enc.encode(value));
  if (type === 'bytes') return keccak256(typeof value === 'string' ? hexToBytes(value) : value);
  if (type === 'address') return concat(new Uint8Array(12), addressBytes(value));
  if (type === 'bytes32') {
    const b = typeof value === 'string' ? hexToBytes(value) : value;
    if (b.length !== 32) throw new Error('bytes32 must be 32 bytes');
    return b;
  }
  if (/^uint\d+$/.test(type)) return word(value);
  throw new Error(`unsupported EIP-712 type ${type}`);
}
function encodeData(primary, data, types) {
  const typeHash = keccak256(enc.encode(encodeType(primary, types)));
  return concat(typeHash, ...types[primary].map((f) => encodeValue(f.type, data[f.name], types)));
}
export function hashStruct(primary, data, types) {
  return keccak256(encodeData(primary, data, types));
}
/** The EIP-712 signing hash: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message)). */
export function typedDataHash({ domain, primaryType, types, message }) {
  const all = { ...types, EIP712Domain: DOMAIN_TYPE };
  return keccak256(concat(new Uint8Array([0x19, 0x01]),
    hashStruct('EIP712Domain', domain, all), hashStruct(primaryType, message, all)));
}
/** The eth_signTypedData_v4 payload (numbers as decimal strings, bytes as hex). */
export function typedDataJson({ domain, primaryType, types, message }) {
  const plain = (v) => (typeof v === 'bigint' ? v.toString()
    : v instanceof Uint8Array ? bytesToHex(v)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v);
  return JSON.stringify({
    types: { EIP712Domain: DOMAIN_TYPE, ...types }, primaryType, domain: plain(domain), message: plain(message),
  });
}
export function masterSecretTypedData(patient, chainId, recordIndex) {
  return {
    domain: { name: 'ehrkit', version: '1', chainId: BigInt(chainId), verifyingContract: recordIndex },
    primaryType: 'MasterSecret',
    types: MASTER_SECRET_TYPES,
    message: { patient, purpose: MASTER_SECRET_PURPOSE },
  };
}
/** The message of key generation `generation` ≥ 1 (domain version "2"). */
export function masterSecretV2TypedData(patient, generation, chainId, recordIndex) {
  return {
    domain: { name: 'ehrkit', version: '2', chainId: BigInt(chainId), verifyingContract: recordIndex },
    primaryType: 'MasterSecret',
    types: MASTER_SECRET_V2_TYPES,
    message: { patient, generation: BigInt(generation), purpose: MASTER_SECRET_PURPOSE },
  };
}
export function grantTypedData(domain, grant, nonce, deadline) {
  return {
    domain, primaryType: 'Grant', types: GRANT_TYPES,
    message: { ...grant, nonce: BigInt(nonce), deadline: BigInt(deadline) },
  };
}

// --- signatures ------------------------------------------------------------------------------
/** r ‖ s ‖ v with low s and v ∈ {27, 28}, as the CLI's signer produces it. */
export function canonicalSignature(sig) {
  const b = typeof sig === 'string' ? hexToBytes(sig) : sig;
  if (b.length !== 65) throw new Error(`a signature is 65 bytes, got ${b.length}`);
  let r = b.slice(0, 32);
  let s = BigInt(bytesToHex(b.slice(32, 64)));
  let parity;
  if (b[64] === 0 || b[64] === 1) parity = b[64];
  else if (b[64] === 27 || b[64] === 28) parity = b[64] - 27;
  else throw new Error('invalid signature v');
  if (s > N / 2n) { s = N - s; parity ^= 1; }
  return concat(r, word(s), new Uint8Array([27 + parity]));
}
/** The address that signed `hash` (32 bytes) with `sig` (65 bytes). */
export function recoverAddress(hash, sig) {
  const c = canonicalSignature(sig);
  const recovered = secp256k1.Signature.fromBytes(c.slice(0, 64), 'compact')
    .addRecoveryBit(c[64] - 27).recoverPublicKey(hash);
  return addressOfPublicKey(recovered.toBytes(false).slice(1));
}
/** The address of a raw 64-byte X ‖ Y public key. */
export function addressOfPublicKey(raw64) {
  return bytesToHex(keccak256(raw64).slice(12));
}

// --- key hierarchy ---------------------------------------------------------------------------
const hkdf32 = (ikm, salt, info) => hkdf(sha256, ikm, salt, info, 32);

/** K_p from the patient's wallet signature of the MasterSecret message. */
export function masterSecretFromSignature(signature, patient) {
  return hkdf32(canonicalSignature(signature), addressBytes(patient), enc.encode(LABELS.masterSecret));
}
/** K_p of key generation `generation` ≥ 1: the signature of its message mixed with its
 * recovery secret (32 bytes, from the recovery code). */
export function masterSecretFromGeneration(signature, recoverySecret, patient, generation) {
  if (recoverySecret.length !== 32) throw new Error('a recovery secret is 32 bytes');
  return hkdf32(concat(canonicalSignature(signature), recoverySecret),
    concat(addressBytes(patient), be64(generation)), enc.encode(LABELS.masterSecretV2));
}
/** The key-check value the consent registry stores for a generation's master secret. */
export function keyCheck(master) {
  return hmac(sha256, master, enc.encode(LABELS.keyCheck)).slice(0, 24);
}
/** The recovery secret in a recovery code (`ehr2-…`; case, spaces and dashes free). */
export function recoverySecretFromCode(code) {
  const cleaned = String(code).replace(/[\s-]/g, '').toLowerCase();
  if (!cleaned.startsWith('ehr2')) throw new Error('a recovery code starts with ehr2');
  const hexDigits = cleaned.slice(4);
  if (!/^[0-9a-f]{68}$/.test(hexDigits)) throw new Error('a recovery code has 68 hexadecimal digits after ehr2');
  const bytes = hexToBytes(hexDigits);
  const secret = bytes.slice(0, 32);
  const sum = sha256(concat(enc.encode(LABELS.recoveryCode), secret)).slice(0, 2);
  if (sum[0] !== bytes[32] || sum[1] !== bytes[33]) throw new Error('the recovery code\'s checksum is wrong (a typo?)');
  return secret;
}
export function epochKey(master, epoch) {
  return hkdf32(master, new Uint8Array(0), concat(enc.encode(LABELS.epoch), be64(epoch)));
}
export function categoryKeys(epochKeyBytes, category32) {
  return {
    index: hkdf32(epochKeyBytes, new Uint8Array(0), concat(enc.encode(LABELS.index), category32)),
    data: hkdf32(epochKeyBytes, new Uint8Array(0), concat(enc.encode(LABELS.data), category32)),
  };
}
/** K_cat: the patient's category naming key (not per epoch). */
export function categoryNamingKey(master) {
  return hkdf32(master, new Uint8Array(0), enc.encode(LABELS.categoryNamingKey));
}
/** A category's opaque on-chain id: HMAC-SHA256(K_cat, label ‖ name[32])[..16] ‖ 0^16. */
export function categoryId(namingKey, name) {
  const mac = hmac(sha256, namingKey, concat(enc.encode(LABELS.categoryId), categoryBytes32(name)));
  const id = new Uint8Array(32);
  id.set(mac.slice(0, 16));
  return id;
}
/** The well-known name whose id is `id` for this naming key, or null. */
export function categoryNameOf(namingKey, id) {
  const want = bytesToHex(typeof id === 'string' ? hexToBytes(id) : id);
  return WELL_KNOWN_CATEGORIES.find((name) => bytesToHex(categoryId(namingKey, name)) === want) ?? null;
}
/**
 * A patient's keys over its key generations (SearchKeys::patient_generations): each master
 * secret with the first epoch it covers. An epoch's keys derive from the newest master secret
 * whose first epoch is not after it; the category naming key is the first one's, so that
 * category ids survive key rotations.
 */
export function patientKeys(masters) {
  if (!masters.length) throw new Error('a patient has at least one master secret');
  const sorted = [...masters].sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  return {
    masters: sorted,
    namingKey: categoryNamingKey(sorted[0].secret),
    masterOf(epoch) {
      return [...sorted].reverse().find((m) => BigInt(m.start) <= BigInt(epoch)).secret;
    },
  };
}
/** A Category scope by name, as the chain holds it: { kind: 1, value: id, name }. */
export function categoryScope(keys, name) {
  return { kind: 1, value: categoryId(keys.namingKey, name), name };
}
export function keyId(dataKek, recordId16) {
  return hmac(sha256, dataKek, concat(enc.encode(LABELS.keyId), recordId16)).slice(0, 16);
}

// --- ECIES (docs/envelope.md §3.1) -----------------------------------------------------------
async function aesGcmSeal(key, nonce, aad, plaintext) {
  const k = await globalThis.crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const out = await globalThis.crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, k, plaintext);
  return new Uint8Array(out);
}
/** The 44-byte HKDF output (AES key ‖ nonce) for ephemeral secret `e` and recipient `R`. */
export function eciesKeyNonce(ephemeralSecret, recipientPublic, purpose) {
  const p = enc.encode(purpose);
  if (p.length < 1 || p.length > 255) throw new Error('an ECIES purpose is 1 to 255 bytes');
  const E = secp256k1.getPublicKey(ephemeralSecret, true);
  const R = secp256k1.Point.fromBytes(recipientPublic).toBytes(true);
  const z = secp256k1.getSharedSecret(ephemeralSecret, R, true).slice(1);
  const okm = hkdf(sha256, z, concat(E, R), concat(enc.encode(LABELS.eciesKek), new Uint8Array([p.length]), p), 44);
  return { E, key: okm.slice(0, 32), nonce: okm.slice(32) };
}
/** ECIES wrap: E ‖ AES-256-GCM(plaintext, aad). `ephemeralSecret` only for test vectors. */
export async function eciesWrap(recipientPublic, purpose, aad, plaintext, ephemeralSecret) {
  const e = ephemeralSecret ?? secp256k1.utils.randomSecretKey();
  const { E, key, nonce } = eciesKeyNonce(e, recipientPublic, purpose);
  return concat(E, await aesGcmSeal(key, nonce, aad, plaintext));
}

// --- grants (docs/protocol.md §2.5) ----------------------------------------------------------
/** scope: { kind: 0 | 1 | 2, value: 32 bytes } */
export function scopeId(scope) {
  const encoded = new Uint8Array(64);
  encoded[31] = scope.kind;
  encoded.set(typeof scope.value === 'string' ? hexToBytes(scope.value) : scope.value, 32);
  return keccak256(encoded);
}
export function grantAad(patient, grantee, epoch, scope) {
  return concat(addressBytes(patient), addressBytes(grantee), be64(epoch), scopeId(scope));
}
/**
 * The key material a grant of `scope` in `epoch` hands over (All: K_e ‖ K_cat; Category:
 * K_idx ‖ K_data ‖ name[32]), from the patient's `keys` (patientKeys). A Category scope's value
 * is the category's opaque id; its name is `scope.name`, or found among the well-known
 * categories (a scope read from chain).
 */
export function grantPlaintext(keys, epoch, scope) {
  const ke = epochKey(keys.masterOf(epoch), epoch);
  const naming = keys.namingKey;
  if (scope.kind === 0) return concat(ke, naming);
  if (scope.kind === 1) {
    const v = typeof scope.value === 'string' ? hexToBytes(scope.value) : scope.value;
    const name = scope.name ?? categoryNameOf(naming, v);
    if (name === null) {
      throw new Error(`category ${bytesToHex(v.slice(0, 16))} is not a well-known category, so its name cannot be recovered from its id: grant it by name instead`);
    }
    if (bytesToHex(categoryId(naming, name)) !== bytesToHex(v)) throw new Error(`the scope's id is not the id of category ${name}`);
    const { index, data } = categoryKeys(ke, v);
    return concat(index, data, categoryBytes32(name));
  }
  throw new Error('a record-scope grant needs the record\'s data key, which only its envelope holds: use the CLI (ehr grant --scope record:ID --cid CID)');
}
/**
 * The public key the role registry holds (64 bytes X ‖ Y) as a point, after checking that it
 * belongs to `address`.
 */
export function publicKeyForAddress(raw64, address) {
  const raw = typeof raw64 === 'string' ? hexToBytes(raw64) : raw64;
  if (raw.length !== 64) throw new Error('the registered public key is not 64 bytes');
  const point = secp256k1.Point.fromBytes(concat(new Uint8Array([4]), raw)); // throws off-curve
  if (addressOfPublicKey(raw).toLowerCase() !== address.toLowerCase()) {
    throw new Error(`the registered public key does not belong to ${address}`);
  }
  return point.toBytes(true);
}
/** One wrappedKeys item: 0x02 ‖ kind ‖ ECIES(grantee, "ehrkit/v1/grant-keys", aad, plaintext). */
export async function wrapGrantKeys({ plaintext, scope, patient, grantee, granteePublicKey, epoch, ephemeralSecret }) {
  const recipient = publicKeyForAddress(granteePublicKey, grantee);
  const wrapped = await eciesWrap(recipient, LABELS.grantKeys, grantAad(patient, grantee, epoch, scope), plaintext, ephemeralSecret);
  return concat(new Uint8Array([GRANT_KEYS_VERSION, scope.kind]), wrapped);
}
