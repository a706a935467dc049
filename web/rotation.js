// Access that ends, the page's side of crates/ehr-sdk/src/rotation.rs: when the patient's key
// epoch must rotate, and the key-material commitment that makes the chain's key events
// trustworthy (crates/ehr-index/src/grant_events.rs). One rule, the SDK's, kept here only;
// tests/web/rotation.test.mjs checks it on the cases the SDK's tests use, and the e2e checks
// that `ehr rotate --check` and the page name the same reasons. Pure functions: the caller
// reads the chain.
import { keccak256, concat, bytesToHex, hexToBytes, be64 } from './crypto.js';

/** One link of the per-(patient, grantee) key chain the consent registry commits to
 * (`keyChainOf`): keccak256(abi.encode(head, uint64 epoch, scopeId, keysHash)), last byte 0. */
export function keyChainLink(head, epoch, scopeId, keysHash) {
  const word = (b) => { const out = new Uint8Array(32); out.set(b, 32 - b.length); return out; };
  const link = keccak256(concat(hexToBytes(head), word(be64(epoch)), hexToBytes(scopeId), hexToBytes(keysHash)));
  link[31] = 0;
  return bytesToHex(link);
}

/** The head of the key chain over `events` ({ epoch, scopeId (zero for a share), keysHash }),
 * in chain order: what `keyChainOf` must equal for the events to be all there is. */
export function keyChainHead(events) {
  let head = bytesToHex(new Uint8Array(32));
  for (const e of events) head = keyChainLink(head, e.epoch, e.scopeId, e.keysHash);
  return head;
}

/**
 * Whether the patient's epoch must rotate (rotation::check):
 * - an All or Category grant has expired while its grantee holds the current epoch's keys (a
 *   grant or a share of the current epoch among its key events), or
 * - a grant the patient signed and did not send itself can no longer reach the chain (its
 *   deadline passed, or its nonce was used otherwise) while its key material never appeared
 *   on chain.
 *
 * `grants`: the stored grants ({ grantee, scopeKind, scope, expiry, expired });
 * `keyEvents(grantee)`: that grantee's key events ({ epoch, keysHash }), asked at most once
 * per grantee; `pending`: remembered signed grants ({ grantee, epoch, nonce, deadline,
 * keysHash }, numbers as BigInt). Returns { reasons, pending (still submittable), settled
 * (keysHash of remembered grants to forget once the rotation, if any, is done) }.
 */
export async function rotationCheck({ epoch, now, nonce, grants, pending, keyEvents }) {
  const cache = new Map();
  const eventsOf = async (grantee) => {
    const key = grantee.toLowerCase();
    if (!cache.has(key)) cache.set(key, await keyEvents(key));
    return cache.get(key);
  };
  const reasons = [];
  for (const g of grants) {
    if (!g.expired || g.scopeKind === 2) continue;
    const grantee = g.grantee.toLowerCase();
    if (reasons.some((r) => r.reason === 'expired-grant' && r.grantee === grantee)) continue;
    if ((await eventsOf(grantee)).some((e) => e.epoch === epoch)) {
      reasons.push({ reason: 'expired-grant', grantee, scope: g.scope, expiry: g.expiry });
    }
  }
  const stillPending = [], settled = [];
  for (const p of pending) {
    if (p.epoch < epoch) { settled.push(p.keysHash); continue; }
    const events = await eventsOf(p.grantee);
    if (events.some((e) => e.keysHash === p.keysHash)) {
      settled.push(p.keysHash);
    } else if (p.deadline < now || nonce > p.nonce) {
      settled.push(p.keysHash);
      reasons.push({ reason: 'unsubmitted-signature', grantee: p.grantee.toLowerCase(), deadline: p.deadline });
    } else {
      stillPending.push(p);
    }
  }
  return { epoch, reasons, pending: stillPending, settled };
}

/** A reason as the patient reads it. */
export function describeReason(r, when) {
  if (r.reason === 'expired-grant') return `${r.grantee}'s ${r.scope} grant expired (${when(Number(r.expiry))}) while it holds this epoch's keys`;
  return `a grant you signed for ${r.grantee} can no longer be submitted (deadline ${when(Number(r.deadline))}), but its keys left this page`;
}
