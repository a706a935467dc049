// The part of an envelope (docs/envelope.md, format version 2) the page reads: its header,
// parsed as strictly as crates/ehr-crypto/src/envelope/header.rs does, the symmetric slot a
// category's K_data opens, and the header MAC that commits to the data key. Enough to hand a
// record's data key to a Record grantee; the page never decrypts a chunk. Checked against
// tests/vectors/envelope/ by tests/web/crypto.test.mjs. Pure functions.
import { sha256 } from '@noble/hashes/sha2.js';
import { hkdf, extract, expand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { concat, be64, hexToBytes, keyId } from './crypto.js';

const enc = new TextEncoder();
export const ENVELOPE_LABELS = Object.freeze({
  headerMac: 'ehrkit/v1/header-mac',
  slotBinding: 'ehrkit/v1/slot-binding',
  symmetricSlotKek: 'ehrkit/v1/symmetric-slot/kek',
});
const MAGIC = [0x45, 0x48, 0x52, 0x45]; // "EHRE"
export const VERSION = 2;
const SALT_LEN = 32, RECORD_ID_LEN = 16, MAC_LEN = 32, MAX_SLOTS = 64;
const PREAMBLE_LEN = 4 + 1 + 1 + 1 + 4 + SALT_LEN + RECORD_ID_LEN;
const ECIES_BODY = 33 + 48, SYMMETRIC_BODY = 16 + 16 + 48;
/** The longest header: 64 ECIES slots. */
export const MAX_HEADER_LEN = PREAMBLE_LEN + 1 + MAX_SLOTS * (1 + ECIES_BODY) + MAC_LEN;

/** A header that does not parse, with the reason. */
export class EnvelopeError extends Error {}

/**
 * Parses the header at the start of `bytes` (which may hold more of the envelope):
 * { chunkSize, salt, recordId, slots, authenticated (the bytes the MAC covers), mac, length }.
 * Symmetric slots are { type: 'symmetric', keyId, salt, wrapped }; ECIES slots are kept whole.
 */
export function parseHeader(bytes) {
  let at = 0;
  const take = (n) => {
    if (at + n > bytes.length) throw new EnvelopeError(`the header is truncated (${bytes.length} bytes)`);
    const out = bytes.slice(at, at + n);
    at += n;
    return out;
  };
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new EnvelopeError('not an ehrkit envelope (bad magic)');
  take(4);
  const [version, content, padding] = take(3);
  if (version !== VERSION) throw new EnvelopeError(`unsupported envelope version ${version}`);
  if (content !== 1) throw new EnvelopeError(`unsupported content algorithm ${content}`);
  if (padding !== 1) throw new EnvelopeError(`unsupported padding algorithm ${padding}`);
  const chunkSize = new DataView(take(4).buffer).getUint32(0);
  if (chunkSize < 4096 || chunkSize > 4194304 || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new EnvelopeError(`invalid chunk size ${chunkSize}`);
  }
  const salt = take(SALT_LEN);
  const recordId = take(RECORD_ID_LEN);
  const [count] = take(1);
  if (count < 1 || count > MAX_SLOTS) throw new EnvelopeError(`invalid slot count ${count}`);
  const slots = [];
  for (let i = 0; i < count; i++) {
    const [type] = take(1);
    if (type === 1) {
      const body = take(ECIES_BODY);
      if (body[0] !== 2 && body[0] !== 3) throw new EnvelopeError('an ECIES slot holds an invalid public key');
      slots.push({ type: 'ecies', body });
    } else if (type === 2) {
      const body = take(SYMMETRIC_BODY);
      slots.push({ type: 'symmetric', keyId: body.slice(0, 16), salt: body.slice(16, 32), wrapped: body.slice(32) });
    } else {
      throw new EnvelopeError(`unknown slot type ${type}`);
    }
  }
  const authenticated = bytes.slice(0, at);
  const mac = take(MAC_LEN);
  return { chunkSize, salt, recordId, slots, authenticated, mac, length: at };
}

/** The record context (64 bytes): be64(chainId) ‖ record index[20] ‖ patient[20] ‖ record id[16]. */
export function recordContext(chainId, recordIndex, patient, recordId) {
  const index = hexToBytes(recordIndex), who = hexToBytes(patient);
  if (index.length !== 20 || who.length !== 20 || recordId.length !== RECORD_ID_LEN) throw new EnvelopeError('a record context is chain id, two addresses and a 16-byte record id');
  return concat(be64(chainId), index, who, recordId);
}
/** H("ehrkit/v1/slot-binding" ‖ version ‖ context): every slot's AAD. */
export function slotBinding(context) {
  return sha256(concat(enc.encode(ENVELOPE_LABELS.slotBinding), new Uint8Array([VERSION]), context));
}
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The data key from the symmetric slot with key id `id`, opened with `kek`, or null. */
export async function openSymmetricSlot(header, context, kek, id) {
  const slot = header.slots.find((s) => s.type === 'symmetric' && equal(s.keyId, id));
  if (!slot) return null;
  const okm = hkdf(sha256, kek, slot.salt, concat(enc.encode(ENVELOPE_LABELS.symmetricSlotKek), id), 44);
  const iv = okm.slice(32);
  const key = await globalThis.crypto.subtle.importKey('raw', okm.slice(0, 32), 'AES-GCM', false, ['decrypt']);
  okm.fill(0);
  try {
    const plain = new Uint8Array(await globalThis.crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: concat(slotBinding(context), id), tagLength: 128 },
      key, slot.wrapped));
    return plain.length === 32 ? plain : null;
  } catch {
    return null;
  }
}
/** Whether the header MAC verifies under `dataKey` in `context` (so the header is the
 * record's, unmodified, and the data key the one every reader gets). */
export function headerMacVerifies(header, context, dataKey) {
  const macKey = expand(sha256, extract(sha256, dataKey, header.salt), enc.encode(ENVELOPE_LABELS.headerMac), 32);
  const mac = hmac(sha256, macKey, concat(header.authenticated, context));
  macKey.fill(0);
  let diff = 0;
  for (let i = 0; i < MAC_LEN; i++) diff |= mac[i] ^ header.mac[i];
  return diff === 0;
}

/**
 * A record's data key from its envelope header, opened with K_data of the record's (epoch,
 * category) and checked with the header MAC in the record's context. Throws EnvelopeError with
 * the reason when the header does not parse, has no slot for that key, or does not verify.
 */
export async function recordDataKey({ headerBytes, chainId, recordIndex, patient, dataKek }) {
  const header = parseHeader(headerBytes);
  const context = recordContext(chainId, recordIndex, patient, header.recordId);
  // A category's K_data names its slot by HMAC(K_data, label ‖ record id) (crypto.js keyId).
  const key = await openSymmetricSlot(header, context, dataKek, keyId(dataKek, header.recordId));
  if (!key) throw new EnvelopeError('no key slot of this envelope opens with the key of the record\'s epoch and category');
  if (!headerMacVerifies(header, context, key)) {
    key.fill(0);
    throw new EnvelopeError('the envelope header does not authenticate as this patient\'s record in this deployment');
  }
  return key;
}
