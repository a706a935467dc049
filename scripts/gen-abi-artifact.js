#!/usr/bin/env node
// One artifact of scripts/gen-abi: reduces a forge artifact to what ehrkit keeps in abi/ and
// checks an older EVM build against the prague one and against its EVM version's opcodes.
//
//   node gen-abi-artifact.js EVM FORGE_ARTIFACT OUT_FILE PRAGUE_FILE
'use strict';
const fs = require('fs');

const [evm, artifactPath, outPath, praguePath] = process.argv.slice(2);
const fail = (message) => {
  process.stderr.write(`gen-abi: ${message}\n`);
  process.exit(1);
};
const a = JSON.parse(fs.readFileSync(artifactPath, 'utf8'));
const code = { bytecode: { object: a.bytecode.object }, deployedBytecode: { object: a.deployedBytecode.object } };

// Opcodes introduced after each older target. Prague added none (EOF was left out of it), so
// cancun's list is empty; shanghai lacks cancun's five.
const MISSING = {
  cancun: {},
  shanghai: { 0x49: 'BLOBHASH', 0x4a: 'BLOBBASEFEE', 0x5c: 'TLOAD', 0x5d: 'TSTORE', 0x5e: 'MCOPY' },
};

// Opcodes of `hex` in order, skipping PUSH data, up to the CBOR metadata solc appends (its
// last two bytes give its length); the metadata is data, not code.
function opcodes(hex) {
  const bytes = Buffer.from(hex.replace(/^0x/, ''), 'hex');
  let end = bytes.length;
  if (end >= 2) {
    const cbor = bytes.readUInt16BE(end - 2);
    if (cbor + 2 <= end && bytes[end - 2 - cbor] === 0xa1) end -= cbor + 2;
  }
  const out = [];
  for (let i = 0; i < end; i++) {
    const op = bytes[i];
    out.push([i, op]);
    if (op >= 0x60 && op <= 0x7f) i += op - 0x5f;
  }
  return out;
}

if (evm === 'prague') {
  fs.writeFileSync(outPath, JSON.stringify({ abi: a.abi, ...code }, null, 2) + '\n');
} else {
  const prague = JSON.parse(fs.readFileSync(praguePath, 'utf8'));
  if (JSON.stringify(prague.abi) !== JSON.stringify(a.abi)) {
    fail(`the ${evm} build of ${artifactPath} has another ABI than the prague build; the bindings assume one ABI`);
  }
  const missing = MISSING[evm];
  if (!missing) fail(`no opcode list for EVM version ${evm}`);
  // The runtime code is checked on its own (the creation code holds it as data after the
  // constructor's code, behind its own metadata), and the constructor's code before it.
  const runtime = code.deployedBytecode.object.replace(/^0x/, '');
  const creation = code.bytecode.object.replace(/^0x/, '');
  const at = creation.indexOf(runtime);
  const parts = at > 0 ? { constructor: creation.slice(0, at), runtime } : { creation, runtime };
  for (const [part, hex] of Object.entries(parts)) {
    for (const [offset, op] of opcodes(hex)) {
      if (missing[op]) fail(`the ${evm} build of ${artifactPath} uses ${missing[op]} (${part} code, byte ${offset}), which ${evm} lacks`);
    }
  }
  fs.writeFileSync(outPath, JSON.stringify(code, null, 2) + '\n');
}
