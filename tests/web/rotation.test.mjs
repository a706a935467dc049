// Unit test of web/rotation.js: the rotation rule on the cases crates/ehr-sdk/src/rotation.rs
// decides (tests/consent_rotation.rs runs them against the SDK; the web e2e checks that
// `ehr rotate --check` and the page agree on a real chain). Run: node tests/web/rotation.test.mjs
import { rotationCheck, keyChainLink, keyChainHead } from '../../web/rotation.js';
import { keccak256, concat, bytesToHex, hexToBytes } from '../../web/crypto.js';

let passed = 0, failed = 0;
async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}
function eq(a, b, what) {
  const x = JSON.stringify(a, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  const y = JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  if (x !== y) throw new Error(`${what}: ${x} != ${y}`);
}

const doctor = '0x' + 'd0'.repeat(20), nurse = '0x' + 'a0'.repeat(20);
const hash = (n) => '0x' + n.toString(16).padStart(64, '0');
const grant = (grantee, expired, scopeKind = 0) => ({ grantee, scopeKind, scope: scopeKind === 1 ? 'category:#ab' : 'all', expiry: 100, expired });
const events = (table) => async (grantee) => table[grantee] ?? [];
let asked;
const counting = (table) => async (grantee) => { asked.push(grantee); return table[grantee] ?? []; };

await test('an expired grant whose grantee holds this epoch\'s keys rotates; one per grantee', async () => {
  asked = [];
  const found = await rotationCheck({
    epoch: 2n, now: 1000n, nonce: 0n, pending: [],
    grants: [grant(doctor, true), grant(doctor, true, 1), grant(nurse, false)],
    keyEvents: counting({ [doctor]: [{ epoch: 1n, keysHash: hash(1) }, { epoch: 2n, keysHash: hash(2) }] }),
  });
  eq(found.reasons, [{ reason: 'expired-grant', grantee: doctor, scope: 'all', expiry: 100 }], 'reasons');
  eq(asked, [doctor], 'key events read once, only for expired grantees');
});
await test('an expired grant of an earlier epoch\'s keys, a record grant, a grant in force: no rotation', async () => {
  const found = await rotationCheck({
    epoch: 2n, now: 1000n, nonce: 0n, pending: [],
    grants: [grant(doctor, true), grant(nurse, true, 2), grant(nurse, false)],
    keyEvents: events({ [doctor]: [{ epoch: 1n, keysHash: hash(1) }], [nurse]: [{ epoch: 2n, keysHash: hash(2) }] }),
  });
  eq(found.reasons, [], 'reasons');
});
await test('signed grants: on chain settles, past deadline or used nonce rotates, of an earlier epoch settles, else pending', async () => {
  const p = (n, fields) => ({ grantee: nurse, epoch: 2n, nonce: 5n, deadline: 2000n, keysHash: hash(n), ...fields });
  const found = await rotationCheck({
    epoch: 2n, now: 1000n, nonce: 5n, grants: [],
    pending: [p(10), p(11, { deadline: 999n }), p(12, { nonce: 4n }), p(13, { epoch: 1n }), p(14)],
    keyEvents: events({ [nurse]: [{ epoch: 2n, keysHash: hash(10) }] }),
  });
  eq(found.reasons, [
    { reason: 'unsubmitted-signature', grantee: nurse, deadline: 999n },
    { reason: 'unsubmitted-signature', grantee: nurse, deadline: 2000n },
  ], 'reasons');
  eq(found.settled, [hash(10), hash(11), hash(12), hash(13)], 'settled');
  eq(found.pending.map((x) => x.keysHash), [hash(14)], 'pending');
});
await test('the key chain: keccak256(abi.encode(head, epoch, scopeId, keysHash)) with the last byte zeroed', () => {
  const zero = hash(0);
  const want = keccak256(concat(hexToBytes(zero), hexToBytes(hash(3)), hexToBytes(hash(7)), hexToBytes(hash(9))));
  want[31] = 0;
  eq(keyChainLink(zero, 3n, hash(7), hash(9)), bytesToHex(want), 'link');
  eq(keyChainHead([]), zero, 'empty chain');
  const two = keyChainHead([{ epoch: 3n, scopeId: hash(7), keysHash: hash(9) }, { epoch: 4n, scopeId: zero, keysHash: hash(8) }]);
  eq(two, keyChainLink(keyChainLink(zero, 3n, hash(7), hash(9)), 4n, zero, hash(8)), 'two links');
});

console.log(`\nweb rotation: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
