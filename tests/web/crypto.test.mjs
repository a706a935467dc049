// Unit test of web/crypto.js against the Rust side's vectors (tests/vectors/). Run: node tests/web/crypto.test.mjs
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as c from '../../web/crypto.js';
import * as env from '../../web/envelope.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const json = (p) => JSON.parse(readFileSync(root + p, 'utf8'));
const hex = (b) => c.bytesToHex(b);
let passed = 0, failed = 0;
async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}
function eq(a, b, what) {
  const x = typeof a === 'string' ? a.toLowerCase() : a, y = typeof b === 'string' ? b.toLowerCase() : b;
  if (x !== y) throw new Error(`${what}: ${x} != ${y}`);
}

const k = json('tests/vectors/index/keys.json');
const e = json('tests/vectors/envelope/ecies.json');

await test('EIP-712 MasterSecret signing hash', () => {
  const td = c.masterSecretTypedData(k.patient, k.chainId, k.recordIndex);
  eq(hex(c.typedDataHash(td)), k.signingHash, 'signingHash');
  eq(c.recoverAddress(c.typedDataHash(td), k.signature), k.patient, 'signer');
});
await test('master secret from the signature (and from its high-s twin)', () => {
  eq(hex(c.masterSecretFromSignature(k.signature, k.patient)), k.masterSecret, 'masterSecret');
  // A wallet may return the malleable twin (n - s, flipped v, or v as 0/1): same secret.
  const sig = c.hexToBytes(k.signature);
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = BigInt(c.bytesToHex(sig.slice(32, 64)));
  const twin = c.concat(sig.slice(0, 32), c.hexToBytes((n - s).toString(16).padStart(64, '0')), new Uint8Array([(sig[64] - 27) ^ 1]));
  eq(hex(c.masterSecretFromSignature(twin, k.patient)), k.masterSecret, 'twin');
});
await test('key generation: v2 message, recovery code, master secret, key check', () => {
  const g = k.generation;
  const td = c.masterSecretV2TypedData(k.patient, g.generation, k.chainId, k.recordIndex);
  eq(hex(c.typedDataHash(td)), g.signingHash, 'signingHash');
  eq(c.recoverAddress(c.typedDataHash(td), g.signature), k.patient, 'signer');
  const secret = c.recoverySecretFromCode(g.recoveryCode);
  eq(hex(secret), g.recoverySecret, 'recoverySecret');
  eq(hex(c.recoverySecretFromCode(g.recoveryCode.toUpperCase().replaceAll('-', ' '))), g.recoverySecret, 'loose code');
  const typo = g.recoveryCode.slice(0, -1) + (g.recoveryCode.endsWith('0') ? '1' : '0');
  let refused = false;
  try { c.recoverySecretFromCode(typo); } catch { refused = true; }
  if (!refused) throw new Error('a mistyped code was accepted');
  const m = c.masterSecretFromGeneration(g.signature, secret, k.patient, g.generation);
  eq(hex(m), g.masterSecret, 'masterSecret');
  eq(hex(c.keyCheck(m)), g.keyCheck, 'keyCheck');
});
await test('two key generations: each epoch from the generation covering it, category ids from the first', () => {
  const g = k.generations;
  const second = g.second;
  const td = c.masterSecretV2TypedData(k.patient, second.generation, k.chainId, k.recordIndex);
  eq(hex(c.typedDataHash(td)), second.signingHash, 'signingHash');
  const r2 = c.recoverySecretFromCode(second.recoveryCode);
  eq(hex(r2), second.recoverySecret, 'recoverySecret of generation 2');
  const m2 = c.masterSecretFromGeneration(second.signature, r2, k.patient, second.generation);
  eq(hex(m2), second.masterSecret, 'masterSecret of generation 2');
  eq(hex(c.keyCheck(m2)), second.keyCheck, 'keyCheck of generation 2');
  // Generation 1's code does not give generation 2's keys.
  const wrong = c.masterSecretFromGeneration(second.signature, c.recoverySecretFromCode(k.generation.recoveryCode), k.patient, second.generation);
  if (hex(c.keyCheck(wrong)) === second.keyCheck) throw new Error('generation 1\'s code opened generation 2');
  // Given in any order, as the page collects them.
  const keys = c.patientKeys([
    { start: BigInt(g.startEpochs[1]), secret: m2 },
    { start: BigInt(g.startEpochs[0]), secret: c.hexToBytes(k.generation.masterSecret) },
  ]);
  eq(hex(keys.namingKey), g.categoryNamingKey, 'naming key from generation 1');
  const lab = c.categoryScope(keys, 'lab');
  eq(hex(lab.value), g.labId, 'lab id from generation 1');
  g.epochs.forEach((epoch, i) => {
    eq(hex(c.grantPlaintext(keys, BigInt(epoch), { kind: 0, value: new Uint8Array(32) })), g.allPlaintexts[i], `All plaintext of epoch ${epoch}`);
    eq(hex(c.grantPlaintext(keys, BigInt(epoch), lab).slice(0, 64)), g.labKeys[i], `lab keys of epoch ${epoch}`);
  });
  // Only the current generation, without the first: other category ids (what the page refused to do).
  const alone = c.patientKeys([{ start: 0n, secret: m2 }]);
  if (hex(c.categoryScope(alone, 'lab').value) === g.labId) throw new Error('the naming key does not depend on the generation');
});
await test('epoch, index and data keys; key ids', () => {
  const m = c.hexToBytes(k.masterSecret);
  k.epochs.forEach((epoch, i) => {
    const ke = c.epochKey(m, epoch);
    eq(hex(ke), k.epochKeys[i], `epochKey ${epoch}`);
    k.categories.forEach((cat, j) => {
      const { index, data } = c.categoryKeys(ke, c.hexToBytes(cat));
      eq(hex(index), k.indexKeys[i * k.categories.length + j], 'indexKey');
      eq(hex(data), k.dataKeys[i * k.categories.length + j], 'dataKey');
    });
  });
  const first = c.categoryKeys(c.epochKey(m, k.epochs[0]), c.hexToBytes(k.categories[0]));
  k.recordIds.forEach((r, i) => eq(hex(c.keyId(first.data, c.hexToBytes(r))), k.keyIds[i], 'keyId'));
  eq(hex(c.categoryBytes32('lab')), k.categoryNames[0], 'category name bytes32');
});
await test('category naming key and opaque ids', () => {
  const m = c.hexToBytes(k.masterSecret);
  const naming = c.categoryNamingKey(m);
  eq(hex(naming), k.categoryNamingKey, 'categoryNamingKey');
  const names = ['lab', 'imaging'];
  names.forEach((name, j) => {
    eq(hex(c.categoryBytes32(name)), k.categoryNames[j], 'name bytes');
    eq(hex(c.categoryId(naming, name)), k.categories[j], `id of ${name}`);
    eq(c.categoryNameOf(naming, k.categories[j]), name, 'well-known name back from the id');
  });
  eq(c.categoryNameOf(naming, '0x' + 'ab'.repeat(16) + '00'.repeat(16)), null, 'unknown id');
  let threw = false;
  try { c.categoryBytes32('a'.repeat(32)); } catch { threw = true; }
  if (!threw) throw new Error('a 32-byte name was accepted');
});
await test('ECIES vectors', async () => {
  const R = c.hexToBytes(e.recipient_public_key_compressed);
  for (const v of e.vectors) {
    const eph = c.hexToBytes(v.ephemeral_secret_key);
    const { key, nonce } = c.eciesKeyNonce(eph, R, v.purpose);
    eq(hex(key), '0x' + v.kek, 'kek');
    eq(hex(nonce), '0x' + v.nonce, 'nonce');
    const w = await c.eciesWrap(R, v.purpose, c.hexToBytes(v.aad), c.hexToBytes(v.plaintext), eph);
    eq(hex(w), '0x' + v.wrapped, 'wrapped');
  }
});
await test('grant scope ids, aads, plaintexts and wrappedKeys items', async () => {
  const m = c.patientKeys([{ start: 0n, secret: c.hexToBytes(k.masterSecret) }]);
  for (let i = 0; i < k.grantKinds.length; i++) {
    const scope = { kind: k.grantKinds[i], value: k.grantScopeValues[i] };
    eq(hex(c.scopeId(scope)), k.grantScopeIds[i], 'scopeId');
    eq(hex(c.grantAad(k.patient, k.grantee, k.grantEpoch, scope)), k.grantAads[i], 'aad');
    if (scope.kind !== 2) eq(hex(c.grantPlaintext(m, k.grantEpoch, scope)), k.grantPlaintexts[i], 'plaintext');
    if (scope.kind === 1) eq(hex(c.grantPlaintext(m, k.grantEpoch, c.categoryScope(m, 'lab'))), k.grantPlaintexts[i], 'plaintext by name');
    const item = await c.wrapGrantKeys({
      plaintext: c.hexToBytes(k.grantPlaintexts[i]), scope, patient: k.patient, grantee: k.grantee,
      granteePublicKey: k.granteePublicKey, epoch: k.grantEpoch, ephemeralSecret: c.hexToBytes(k.grantEphemeralKeys[i]),
    });
    eq(hex(item), k.grantItems[i], `item ${i}`);
  }
});
await test('a public key that is not the grantee\'s is refused', async () => {
  let threw = false;
  try { c.publicKeyForAddress(k.granteePublicKey, k.patient); } catch { threw = true; }
  if (!threw) throw new Error('accepted');
  eq(c.addressOfPublicKey(c.hexToBytes(k.granteePublicKey)), k.grantee, 'address');
});
await test('EIP-712 Grant type string and hashing is deterministic', () => {
  const domain = { name: 'ehrkit ConsentRegistry', version: '1', chainId: 31337n, verifyingContract: '0x' + '07'.repeat(20) };
  const grant = { patient: k.patient, grantee: k.grantee, scope: { kind: 0, value: '0x' + '00'.repeat(32) }, purpose: 0, expiry: 1000n, epoch: 0n, wrappedKeys: '0x6b657973' };
  const h1 = c.typedDataHash(c.grantTypedData(domain, grant, 0, 5));
  const h2 = c.typedDataHash(c.grantTypedData({ ...domain, chainId: 1n }, grant, 0, 5));
  if (hex(h1) === hex(h2)) throw new Error('chain id not bound');
  JSON.parse(c.typedDataJson(c.grantTypedData(domain, grant, 0, 5)));
});

await test('envelope v2 headers: parsed, the symmetric slot opened in the record context, the header MAC checked', async () => {
  const { readdirSync } = await import('node:fs');
  const files = readdirSync(root + 'tests/vectors/envelope').filter((f) => f.startsWith('envelope'));
  if (files.length < 5) throw new Error(`only ${files.length} envelope vectors`);
  for (const f of files) {
    const v = json(`tests/vectors/envelope/${f}`);
    const ctx = v.inputs.context;
    const bytes = c.hexToBytes(v.expected.envelope);
    const header = env.parseHeader(bytes);
    eq(header.length, v.intermediate.header_len, `${f} header length`);
    eq(hex(header.recordId), '0x' + ctx.record_id, `${f} record id`);
    const context = env.recordContext(ctx.chain_id, '0x' + ctx.index_contract, '0x' + ctx.patient, header.recordId);
    eq(hex(env.slotBinding(context)), '0x' + v.intermediate.slot_binding, `${f} slot binding`);
    const sym = v.inputs.symmetric_recipients[0];
    const key = await env.openSymmetricSlot(header, context, c.hexToBytes(sym.kek), c.hexToBytes(sym.key_id));
    eq(key && hex(key), '0x' + v.inputs.data_key, `${f} data key`);
    if (!env.headerMacVerifies(header, context, key)) throw new Error(`${f}: the header MAC does not verify`);
    // Another patient, chain or record index: the slot does not open, the MAC does not verify.
    const other = env.recordContext(ctx.chain_id + 1, '0x' + ctx.index_contract, '0x' + ctx.patient, header.recordId);
    if (await env.openSymmetricSlot(header, other, c.hexToBytes(sym.kek), c.hexToBytes(sym.key_id))) throw new Error(`${f}: opened in another context`);
    if (env.headerMacVerifies(header, other, key)) throw new Error(`${f}: MAC verified in another context`);
    if (await env.openSymmetricSlot(header, context, new Uint8Array(32), c.hexToBytes(sym.key_id))) throw new Error(`${f}: opened with another key`);
  }
});
await test('envelope headers that are not: each refused with its reason', () => {
  const v = json('tests/vectors/envelope/envelope-1.json');
  const good = c.hexToBytes(v.intermediate.header);
  const bad = (at, value, reason) => {
    const b = good.slice();
    b[at] = value;
    try { env.parseHeader(b); } catch (e) {
      if (!(e instanceof env.EnvelopeError) || !reason.test(e.message)) throw new Error(`byte ${at}: ${e.message}`);
      return;
    }
    throw new Error(`byte ${at} = ${value} accepted`);
  };
  bad(0, 0x58, /magic/);
  bad(4, 1, /version 1/);
  bad(5, 0, /content algorithm/);
  bad(6, 9, /padding algorithm/);
  bad(9, 0x11, /chunk size/);
  bad(59, 0, /slot count 0/);
  bad(59, 65, /slot count 65/);
  bad(60, 3, /slot type 3/);
  bad(61, 5, /public key/);
  try { env.parseHeader(good.slice(0, 100)); throw new Error('a truncated header parsed'); } catch (e) { if (!/truncated/.test(e.message)) throw e; }
  // A flipped byte in a slot: parses, but the MAC no longer verifies.
  const flipped = good.slice();
  flipped[100] ^= 1;
  const ctx = v.inputs.context;
  const header = env.parseHeader(flipped);
  const context = env.recordContext(ctx.chain_id, '0x' + ctx.index_contract, '0x' + ctx.patient, header.recordId);
  if (env.headerMacVerifies(header, context, c.hexToBytes(v.inputs.data_key))) throw new Error('a modified header verified');
});

console.log(`\nweb crypto: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
