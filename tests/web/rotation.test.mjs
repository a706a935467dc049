// Unit test of web/rotation.js: the rotation rule on the shared cases of
// tests/vectors/rotation/cases.json, which crates/ehr-sdk/src/rotation.rs's rule decides in
// its unit test too (the web e2e checks that `ehr rotate --check` and the page agree on a real
// chain). Run: node tests/web/rotation.test.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const cases = JSON.parse(readFileSync(fileURLToPath(new URL('../vectors/rotation/cases.json', import.meta.url)), 'utf8')).cases;
for (const k of cases) {
  await test(k.name, async () => {
    const asked = [];
    const found = await rotationCheck({
      epoch: BigInt(k.epoch), now: BigInt(k.now), nonce: BigInt(k.nonce),
      grants: k.grants.map((g) => ({ ...g, scope: `kind ${g.scopeKind}` })),
      pending: k.pending.map((p) => ({ ...p, epoch: BigInt(p.epoch), nonce: BigInt(p.nonce), deadline: BigInt(p.deadline) })),
      keyEvents: async (grantee) => {
        asked.push(grantee);
        return (k.keyEvents[grantee] ?? []).map((e) => ({ epoch: BigInt(e.epoch), keysHash: e.keysHash }));
      },
    });
    const reasons = found.reasons.map((r) => (r.reason === 'expired-grant'
      ? { reason: r.reason, grantee: r.grantee, expiry: r.expiry }
      : { reason: r.reason, grantee: r.grantee, deadline: Number(r.deadline) }));
    eq(reasons, k.expect.reasons, 'reasons');
    eq(found.settled, k.expect.settled, 'settled');
    eq(found.pending.map((p) => p.keysHash), k.expect.pending, 'pending');
    eq(asked, k.expect.asked, 'key events read');
  });
}
if (cases.length < 4) { failed++; console.log(`FAIL only ${cases.length} shared cases`); }
const hash = (n) => '0x' + n.toString(16).padStart(64, '0');
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
