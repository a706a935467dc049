// End to end: the patient page in headless Chromium against a real anvil.
//
// `ehr dev up` in a temp dir; deploy; a hospital, a doctor (public key registered) and the
// patient — one of anvil's own dev accounts (its key read from anvil's startup log), because
// anvil signs eth_signTypedData_v4 only for those; a lab record; `ehr serve` relaying as the
// admin. The page gets two injected EIP-6963 wallets (the first also as window.ethereum) that
// forward to anvil's JSON-RPC (and can play a wallet on another chain that does not know
// anvil's, or a user who rejects). Checked on chain with the CLI; the server's Host/Origin
// check through Chromium's own resolver (a DNS name mapped to 127.0.0.1, as rebinding does).
//
//   node tests/web/e2e.mjs     (needs `cargo build -p ehr-cli`, Debian chromium, npm playwright-core)
import { execFileSync, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ehrBin = process.env.EHR_BIN ?? join(root, 'target/debug/ehr');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'ehr-web-e2e-'));
const env = { ...process.env, PATH: `${join(root, '.tools/bin')}:${process.env.PATH}`, NO_COLOR: '1' };
delete env.ETH_RPC_URL; delete env.EHR_PRIVATE_KEY; delete env.EHR_DEPLOYMENT; delete env.EHR_STORE;
const started = Date.now();
let passed = 0, failed = 0;
let serve = null, browser = null, stackUp = false, anvilPid = null;

function ehr(...args) {
  const out = execFileSync(ehrBin, [...args, '--json'], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out);
}
function ehrFails(...args) {
  try { execFileSync(ehrBin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }); } catch (e) { return String(e.stderr); }
  throw new Error(`ehr ${args.join(' ')} should have failed`);
}
const as = (name) => ['--account', name, '--password-file', 'pw'];
// What the page showed when a check failed (set once the page exists).
let pageState = async () => '';
async function check(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.stack ?? e}\n     page: ${await pageState().catch(() => '?')}`); }
}
function assert(cond, what) { if (!cond) throw new Error(what); }

async function cleanup() {
  try { await browser?.close(); } catch {}
  if (serve && serve.exitCode === null) { serve.kill('SIGTERM'); }
  if (stackUp) { try { execFileSync(ehrBin, ['dev', 'down'], { cwd: dir, env, stdio: 'ignore' }); } catch {} }
  if (anvilPid) { try { process.kill(anvilPid, 0); process.kill(anvilPid, 'SIGKILL'); } catch {} }
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await cleanup(); process.exit(130); });

try {
  // --- the chain and the cast ----------------------------------------------------------------
  writeFileSync(join(dir, 'pw'), 'correct horse\n');
  const up = ehr('dev', 'up');
  stackUp = true;
  anvilPid = up.stack.anvil.pid;
  const rpc = up.stack.anvil.url;
  const account = (name) => {
    const a = ehr('account', 'new', name, '--password-file', 'pw').address;
    ehr('dev', 'fund', a);
    return a.toLowerCase();
  };
  const admin = account('admin');
  const hospital = account('hospital');
  const doctor = account('doctor');
  const nurse = account('nurse');
  // The patient is anvil's dev account (1): its key from anvil's own startup log.
  const log = readFileSync(join(dir, up.stack.anvil.log), 'utf8');
  const key = /^\(1\) (0x[0-9a-f]{64})$/m.exec(log.slice(log.indexOf('Private Keys')))?.[1];
  assert(key, 'no private key (1) in the anvil log');
  const patient = ehr('account', 'import', 'alice', '--private-key', key, '--password-file', 'pw').address.toLowerCase();
  ehr('deploy', ...as('admin'));
  ehr('org', 'add', hospital, '--kind', 'hospital', '--name', 'General Hospital', ...as('admin'));
  ehr('staff', 'add', doctor, ...as('hospital'));
  ehr('key', 'register', ...as('doctor'));
  ehr('staff', 'add', nurse, ...as('hospital'));
  ehr('key', 'register', ...as('nurse'));
  ehr('patient', 'register', ...as('alice'));
  // Another patient, whose recovery code is well formed but not alice's.
  const bobAddress = account('bob');
  ehr('patient', 'register', ...as('bob'));
  copyFileSync(join(root, 'tests/vectors/fhir/valid/observation-lab.json'), join(dir, 'lab.json'));
  ehr('upload', 'lab.json', '--fhir', '--patient', patient, '--category', 'lab', '--keywords', 'hba1c', ...as('alice'));
  // A doctor without a grant cannot name a category on chain (only the patient computes its
  // opaque id), so it asks for all; the page's own grant form grants category:lab later.
  const request = ehr('request', patient, '--scope', 'all', '--purpose', 'treatment', '--reason', 'Diabetes follow-up', '--ttl', '7d', ...as('doctor'));
  const deployment = JSON.parse(readFileSync(join(dir, '.ehr/deployment.json'), 'utf8'));

  // --- ehr serve, relaying as the admin ---------------------------------------------------------
  serve = spawn(ehrBin, ['serve', '--listen', '127.0.0.1:0', '--wallet-rpc-url', rpc, ...as('admin'), '--json'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let serveErr = '';
  serve.stderr.on('data', (d) => { serveErr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ehr serve did not start: ${serveErr}`)), 20000);
    serve.stdout.on('data', (d) => {
      out += d;
      try { const j = JSON.parse(out); clearTimeout(timer); resolve(j.url); } catch {}
    });
    serve.on('exit', (code) => reject(new Error(`ehr serve exited ${code}: ${serveErr}`)));
  });

  // --- the browser and the wallet -----------------------------------------------------------
  // playwright-core gives every launch a fresh temporary --user-data-dir of its own.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // A name resolving to this machine: what a DNS-rebinding attacker's name does.
      '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
  });
  // Per wallet: the chain it is on when not anvil's (null: anvil's), the chains it knows, a
  // user who rejects, and every method the page called on it.
  const anvilChain = '0x7a69';
  const wallets = {
    a: { chainId: null, known: new Set([anvilChain]), reject: false, calls: [] },
    b: { chainId: null, known: new Set([anvilChain]), reject: false, calls: [] },
  };
  let rpcId = 0;
  async function forward(method, params) {
    const r = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }) });
    const j = await r.json();
    return j.error ? { error: { code: j.error.code, message: j.error.message, data: j.error.data } } : { result: j.result };
  }
  const rejected = { error: { code: 4001, message: 'User rejected the request.' } };
  async function walletRequest({ wallet: id, method, params }) {
    const w = wallets[id];
    w.calls.push({ method, params });
    if (method === 'eth_requestAccounts' || method === 'eth_accounts') return { result: [patient] };
    if (method === 'wallet_switchEthereumChain') {
      if (w.reject) return rejected;
      const target = params[0].chainId;
      if (!w.known.has(target)) return { error: { code: 4902, message: `Unrecognized chain ID "${target}".` } };
      w.chainId = target === anvilChain ? null : target;
      return { result: null };
    }
    if (method === 'wallet_addEthereumChain') {
      if (w.reject) return rejected;
      w.known.add(params[0].chainId);
      return { result: null }; // like most wallets: added, not switched
    }
    if (method === 'eth_chainId' && w.chainId) return { result: w.chainId };
    if (w.chainId) return { error: { code: -32603, message: `wallet ${id} is on chain ${w.chainId}` } };
    if ((method === 'eth_signTypedData_v4' || method === 'eth_sendTransaction') && w.reject) return rejected;
    return forward(method, params ?? []);
  }
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.exposeBinding('__ehrWallet', (_source, request) => walletRequest(request));
  await context.addInitScript(() => {
    const icon = 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#0b5cad"/></svg>');
    const provider = (id) => ({
      async request(args) {
        const r = await window.__ehrWallet({ wallet: id, method: args.method, params: args.params });
        if (r.error) { const e = new Error(r.error.message); e.code = r.error.code; e.data = r.error.data; throw e; }
        return r.result;
      },
      on() {},
      removeListener() {},
    });
    const announced = [
      { info: { uuid: '0e5e6a84-0a7d-4d5e-9a5b-000000000001', name: 'Test Wallet A', icon, rdns: 'test.wallet.a' }, provider: provider('a') },
      { info: { uuid: '0e5e6a84-0a7d-4d5e-9a5b-000000000002', name: 'Test Wallet B', icon, rdns: 'test.wallet.b' }, provider: provider('b') },
    ];
    window.ethereum = announced[0].provider; // wallet A also claims window.ethereum, as real ones do
    const announce = () => {
      for (const detail of announced) {
        window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze(detail) }));
      }
    };
    window.addEventListener('eip6963:requestProvider', announce);
    announce();
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const errorBox = page.locator('#error');
  const status = page.locator('#status');
  pageState = async () => `status "${await status.textContent()}", error "${await errorBox.isVisible() ? await errorBox.textContent() : ''}"`;

  const chooseB = () => page.getByLabel('Test Wallet B').check();
  const signingCalls = (w) => wallets[w].calls.filter((c) => c.method === 'eth_signTypedData_v4' || c.method === 'eth_sendTransaction').length;
  // Grants signed and transactions sent (not the master-secret messages that unlock keys).
  const grantSignings = (w) => wallets[w].calls.filter((c) => c.method === 'eth_sendTransaction' || (c.method === 'eth_signTypedData_v4' && JSON.parse(c.params[1]).primaryType !== 'MasterSecret')).length;

  /** Grants `category` to `grantee` for `days` from the page's form; waits for the outcome. */
  async function grantInForm(grantee, category, days) {
    await page.getByLabel('Grantee address').fill(grantee);
    await page.getByLabel('Scope').selectOption('category');
    await page.getByLabel('Category (when one category)').fill(category);
    await page.getByLabel('Lasts (days)').fill(String(days));
    await page.getByRole('button', { name: 'Sign and grant' }).click();
    await page.waitForFunction(() => /Access granted/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
  }

  await check('two EIP-6963 wallets: the page lists both, once each', async () => {
    await page.goto(url);
    await page.getByLabel('Test Wallet A').waitFor();
    await page.getByLabel('Test Wallet B').waitFor();
    await page.waitForTimeout(600); // past the window.ethereum fallback
    assert(await page.locator('input[name="wallet"]').count() === 2, 'window.ethereum listed twice');
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await errorBox.waitFor({ state: 'visible' });
    assert(/Choose which wallet/.test(await errorBox.textContent()), await errorBox.textContent());
  });

  await check('another chain, switch declined: a clear message, nothing connected or signed', async () => {
    // Wallet B is on chain 1 and has never heard of anvil's chain.
    wallets.b.chainId = '0x1'; wallets.b.known = new Set(['0x1']); wallets.b.reject = true;
    await chooseB();
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.waitForFunction(() => !document.getElementById('error').hidden && /stayed on chain 1\b/.test(document.getElementById('error').textContent));
    assert((await page.locator('#wallet-state').textContent()).includes('connect it'), 'connected anyway');
    assert(signingCalls('b') === 0, 'signed on the wrong chain');
    wallets.b.reject = false;
  });

  await check('chain switch: switch requested, 4902, add requested with the wallet RPC URL, switched, connected', async () => {
    wallets.b.calls = [];
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: `Approve request #${request.id}` }).waitFor();
    const asked = wallets.b.calls.map((c) => c.method).filter((m) => m.startsWith('wallet_'));
    assert(JSON.stringify(asked) === JSON.stringify(['wallet_switchEthereumChain', 'wallet_addEthereumChain', 'wallet_switchEthereumChain']), JSON.stringify(asked));
    const add = wallets.b.calls.find((c) => c.method === 'wallet_addEthereumChain').params[0];
    assert(add.chainId === anvilChain && add.rpcUrls[0] === rpc && add.nativeCurrency.decimals === 18, JSON.stringify(add));
    const first = wallets.b.calls.findIndex((c) => c.method.startsWith('wallet_'));
    assert(wallets.b.calls.slice(0, first).every((c) => !/sign|send/i.test(c.method)), 'something signed before the switch');
    assert(wallets.b.chainId === null, 'not on anvil');
    assert((await page.locator('#wallet-state').textContent()).includes('Test Wallet B'), await page.locator('#wallet-state').textContent());
  });

  await check('connect: registration, the pending request with who asked, the audit trail', async () => {
    await page.reload();
    await chooseB();
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: `Approve request #${request.id}` }).waitFor();
    const reg = await page.locator('#registration').textContent();
    assert(reg.includes(patient) && reg.includes('patient'), reg);
    // The words are encrypted to the patient: the page shows the code, `ehr requests` as the
    // patient decrypts them.
    assert((await page.locator('#requests').textContent()).includes('treatment (words encrypted to the patient'), 'reason code missing');
    assert(!(await page.locator('#requests').textContent()).includes('Diabetes follow-up'), 'words shown without the patient key');
    assert(ehr('requests', ...as('alice')).requests[0].reason === 'Diabetes follow-up', 'the patient cannot read the words');
    const requests = await page.locator('#requests').textContent();
    assert(requests.includes('staff of General Hospital (hospital)'), `requester's organization missing: ${requests}`);
    assert((await page.locator('#audit li').count()) >= 2, 'audit trail empty');
    assert((await page.locator('#grants').textContent()).includes('Nobody holds a grant'), 'grants not empty');
    // Alice's keys are generation 1: the page needs her recovery code with the signature.
    await page.fill('#recovery-code', ehr('key', 'recovery-code', ...as('alice')).code);
  });

  await check('the user rejects the signature: a clear message, nothing on chain', async () => {
    wallets.b.reject = true;
    await page.getByRole('button', { name: `Approve request #${request.id}` }).click();
    await page.waitForFunction(() => !document.getElementById('error').hidden);
    const text = await errorBox.textContent();
    assert(/rejected the request in your wallet/.test(text), text);
    const requests = ehr('requests', '--patient', patient).requests;
    assert(requests[0].status === 'pending', `status ${requests[0].status}`);
    wallets.b.reject = false;
  });

  await check('a wrong recovery code: a clear message, nothing signed into a grant, nothing on chain', async () => {
    await page.fill('#recovery-code', 'ehr2-' + '0'.repeat(68));
    await page.getByRole('button', { name: `Approve request #${request.id}` }).click();
    await page.waitForFunction(() => /checksum/.test(document.getElementById('error').textContent));
    const requests = ehr('requests', '--patient', patient).requests;
    assert(requests[0].status === 'pending', `status ${requests[0].status}`);
    // A well-formed code of another secret: refused by the key-check value on chain.
    const other = ehr('key', 'recovery-code', ...as('bob')).code;
    await page.fill('#recovery-code', other);
    await page.getByRole('button', { name: `Approve request #${request.id}` }).click();
    await page.waitForFunction(() => /do not give the keys/.test(document.getElementById('error').textContent));
    assert(ehr('requests', '--patient', patient).requests[0].status === 'pending', 'approved with a wrong code');
    await page.fill('#recovery-code', ehr('key', 'recovery-code', ...as('alice')).code);
  });

  await check('approve in the page: the chosen wallet signs, the grant is on chain and the doctor can search and fetch', async () => {
    const [aBefore, bBefore] = [signingCalls('a'), signingCalls('b')];
    await page.getByRole('button', { name: `Approve request #${request.id}` }).click();
    await page.waitForFunction(() => /approved/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const requests = ehr('requests', '--patient', patient).requests;
    assert(requests[0].status === 'approved', `status ${requests[0].status}`);
    const grants = ehr('audit', patient).entries.filter((e) => e.event.kind === 'granted');
    assert(grants.length === 1 && grants[0].event.grantee.toLowerCase() === doctor, JSON.stringify(grants));
    assert(grants[0].event.submitter.toLowerCase() === admin, 'not relayed by the server');
    assert(signingCalls('a') === aBefore && signingCalls('b') > bBefore, `wallet A signed: ${signingCalls('a') - aBefore}`);
    // The doctor unwraps the page-built wrappedKeys: search (index key) and fetch (data key).
    const found = ehr('search', patient, 'hba1c', ...as('doctor'));
    assert(found.hits.length === 1 && found.hits[0].recordId === 1, JSON.stringify(found));
    const fetched = ehr('fetch', '1', '--patient', patient, '-o', 'out.json', ...as('doctor'));
    assert(fetched.resourceType === 'Observation', JSON.stringify(fetched));
    assert(readFileSync(join(dir, 'out.json'), 'utf8') === readFileSync(join(dir, 'lab.json'), 'utf8'), 'fetched record differs');
    await page.locator('#grants').getByText(doctor).waitFor();
  });

  await check('a grant the patient lets read without logging is marked so in the page', async () => {
    ehr('unlogged-reads', doctor, '--scope', 'all', ...as('alice'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    const row = page.locator('#grants tr', { hasText: doctor });
    await row.getByText('reads not logged').waitFor();
    ehr('unlogged-reads', doctor, '--scope', 'all', '--off', ...as('alice'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForFunction((d) => {
      const r = [...document.querySelectorAll('#grants tr')].find((tr) => tr.textContent.includes(d));
      return r && !r.textContent.includes('reads not logged');
    }, doctor, { timeout: 30000 });
  });

  await check('an expired request: a clear message, nothing signed', async () => {
    const r2 = ehr('request', patient, '--scope', 'all', '--purpose', 'treatment', '--reason', 'Second opinion', '--ttl', '1m', ...as('doctor'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: `Approve request #${r2.id}` }).waitFor();
    await forward('evm_increaseTime', [120]);
    await forward('evm_mine', []);
    await page.getByRole('button', { name: `Approve request #${r2.id}` }).click();
    await page.waitForFunction(() => !document.getElementById('error').hidden);
    const text = await errorBox.textContent();
    assert(/has expired/.test(text), text);
    const grants = ehr('audit', patient).entries.filter((e) => e.event.kind === 'granted');
    assert(grants.length === 1, 'a grant was made');
  });

  await check('deny in the page: the request is denied on chain', async () => {
    const r3 = ehr('request', patient, '--scope', 'category:imaging', '--purpose', 'research', '--reason', 'Study cohort', '--ttl', '7d', ...as('doctor'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: `Deny request #${r3.id}` }).click();
    await page.waitForFunction(() => /denied/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const denied = ehr('requests', '--patient', patient).requests.find((x) => x.id === r3.id);
    assert(denied.status === 'denied', `status ${denied.status}`);
    assert(await page.getByRole('button', { name: `Deny request #${r3.id}` }).count() === 0, 'still offered');
  });

  await check('revoke in the page: gone on chain, and the new epoch re-shared with the grantee who stays', async () => {
    ehr('grant', nurse, '--scope', 'all', '--expires', '30d', ...as('alice'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: `Revoke every grant to ${doctor}` }).click();
    await page.waitForFunction(() => /revoked/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const isGrantee = execFileSync('cast', ['call', deployment.consentRegistry, 'isGrantee(address,address)(bool)', patient, doctor, '--rpc-url', rpc], { env, encoding: 'utf8' }).trim();
    assert(isGrantee === 'false', `isGrantee ${isGrantee}`);
    const revoked = ehr('audit', patient).entries.filter((e) => e.event.kind === 'revoked');
    assert(revoked.length === 1 && revoked[0].event.submitter.toLowerCase() === patient, JSON.stringify(revoked));
    const shares = ehr('audit', patient).entries.filter((e) => e.event.kind === 'epochKeysShared');
    assert(shares.length === 1 && shares[0].event.grantee.toLowerCase() === nurse && shares[0].event.epoch === 1, JSON.stringify(shares) + ' status: ' + await page.locator('#status').textContent());
    assert(/re-shared with/.test(await page.locator('#status').textContent()), await page.locator('#status').textContent());
    // A record of the new epoch opens for the nurse with the keys the page wrapped.
    copyFileSync(join(root, 'tests/vectors/fhir/valid/observation-lab.json'), join(dir, 'lab2.json'));
    ehr('upload', 'lab2.json', '--fhir', '--allow-duplicate', '--patient', patient, '--category', 'lab', '--keywords', 'after-revoke', ...as('alice'));
    const found = ehr('search', patient, 'after-revoke', ...as('nurse'));
    assert(found.hits.length === 1 && found.hits[0].recordId === 2, JSON.stringify(found));
    ehr('revoke', nurse, ...as('alice')); // epoch 2
  });

  await check('grant from the form (epoch 2, after the revocations), relayed; the doctor searches again', async () => {
    await grantInForm(doctor, 'lab', 10);
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const grants = ehr('audit', patient).entries.filter((e) => e.event.kind === 'granted' && e.event.grantee.toLowerCase() === doctor);
    assert(grants.length === 2 && grants[1].event.epoch === 2, JSON.stringify(grants.map((g) => g.event)));
    // A record written in epoch 2 is readable with the keys the page wrapped for epoch 2.
    ehr('upload', 'lab.json', '--fhir', '--patient', patient, '--category', 'lab', '--keywords', 'hba1c', '--allow-duplicate', ...as('alice'));
    const found = ehr('search', patient, 'hba1c', ...as('doctor'));
    assert(found.hits.some((h) => h.recordId === 3), JSON.stringify(found));
    ehr('fetch', '3', '--patient', patient, '-o', 'out3.json', ...as('doctor'));
  });

  await check('a bad grantee in the form: a clear message, nothing signed', async () => {
    await page.getByLabel('Grantee address').fill(hospital.slice(0, 20));
    await page.getByRole('button', { name: 'Sign and grant' }).click();
    await page.waitForFunction(() => !document.getElementById('error').hidden);
    assert(/must be an address/.test(await errorBox.textContent()), await errorBox.textContent());
    await page.getByLabel('Grantee address').fill('');
  });

  await check('emergency access: listed with the guardians who released, ended in the page, gone on chain', async () => {
    // Two guardians, both needed; one releases its share to the doctor.
    ehr('guardian', 'set', nurse, bobAddress, '--threshold', '2', ...as('alice'));
    ehr('emergency', 'open', patient, '--reason', 'Unconscious in the ER', '--hours', '4', ...as('doctor'));
    ehr('guardian', 'release', patient, '--doctor', doctor, ...as('nurse'));
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByRole('button', { name: `End emergency access of ${doctor}` }).waitFor();
    const row = page.locator('#emergencies tr', { hasText: doctor });
    const guardians = await row.locator('td[data-released]').textContent();
    assert(/1 of 2 needed released: nothing readable yet/.test(guardians), guardians);
    assert(guardians.toLowerCase().includes(nurse.toLowerCase()), guardians);
    assert(!guardians.toLowerCase().includes(bobAddress.toLowerCase()), guardians);
    await page.screenshot({ path: join(root, 'docs/web-page.png'), fullPage: true });
    await page.getByRole('button', { name: `End emergency access of ${doctor}` }).click();
    await page.waitForFunction(() => /ended/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const until = execFileSync('cast', ['call', deployment.consentRegistry, 'emergencyUntil(address,address)(uint64)', patient, doctor, '--rpc-url', rpc], { env, encoding: 'utf8' }).trim();
    assert(until === '0', `emergencyUntil ${until}`);
  });

  const epochOf = () => execFileSync('cast', ['call', deployment.consentRegistry, 'epochOf(address)(uint64)', patient, '--rpc-url', rpc], { env, encoding: 'utf8' }).trim();
  const rotationReasons = () => ehr('rotate', '--check', ...as('alice')).reasons;

  await check('a grant expires: the page and `ehr rotate --check` name it, the next grant rotates first; the expired grantee cannot read what is written after, the one in force can', async () => {
    // The doctor holds epoch 2's keys (its 10-day lab grant above); the nurse gets an All grant
    // that stays in force.
    ehr('grant', nurse, '--scope', 'all', '--expires', '30d', ...as('alice'));
    assert(epochOf() === '2', `epoch ${epochOf()}`);
    await forward('evm_increaseTime', [11 * 86400]);
    await forward('evm_mine', []);
    const sdk = rotationReasons();
    assert(sdk.length === 1 && sdk[0].reason === 'expired-grant' && sdk[0].grantee.toLowerCase() === doctor, JSON.stringify(sdk));
    await page.getByRole('button', { name: 'Refresh' }).click();
    const notice = page.locator('#rotation');
    await notice.waitFor();
    const why = await page.locator('#rotation-why').textContent();
    assert(why.includes(doctor) && !why.includes(nurse) && /expired/.test(why), why);
    await page.getByRole('button', { name: 'Rotate keys' }).waitFor();
    // The patient's next action: a grant to the nurse, from the form.
    await grantInForm(nurse, 'imaging', 5);
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const said = await status.textContent();
    assert(/rotated to 3/.test(said) && /re-shared with/.test(said), said);
    assert(epochOf() === '3', `epoch ${epochOf()}`);
    const events = ehr('audit', patient).entries.map((e) => e.event);
    const shares = events.filter((e) => e.kind === 'epochKeysShared' && e.epoch === 3);
    assert(shares.length === 1 && shares[0].grantee.toLowerCase() === nurse, JSON.stringify(shares));
    const granted = events.filter((e) => e.kind === 'granted' && e.grantee.toLowerCase() === nurse && e.epoch === 3);
    assert(granted.length === 1, 'the grant was not made in the new epoch');
    // The SDK agrees that nothing asks for a rotation any more, and so does the page.
    assert(rotationReasons().length === 0, JSON.stringify(rotationReasons()));
    assert(await notice.isHidden(), 'the rotation notice is still shown');
    // A record written now: out of the expired doctor's reach, open to the nurse.
    ehr('upload', 'lab2.json', '--fhir', '--allow-duplicate', '--patient', patient, '--category', 'lab', '--keywords', 'after-expiry', ...as('alice'));
    assert(epochOf() === '3', 'the upload rotated again');
    // The expired doctor's client does not even read: it cannot log the read on chain, as
    // every grantee read must be (consent_rotation shows its old keys would not open record 4).
    const doctorSearch = ehrFails('search', patient, 'after-expiry', ...as('doctor'));
    assert(/cannot log a read/.test(doctorSearch), doctorSearch);
    const refused = ehrFails('fetch', '4', '--patient', patient, '-o', 'no.json', ...as('doctor'));
    assert(refused.length > 0 && !existsSync(join(dir, 'no.json')), refused);
    const nurseFound = ehr('search', patient, 'after-expiry', ...as('nurse'));
    assert(nurseFound.hits.length === 1 && nurseFound.hits[0].recordId === 4, JSON.stringify(nurseFound));
    ehr('fetch', '4', '--patient', patient, '-o', 'out4.json', ...as('nurse'));
    ehr('revoke', nurse, ...as('alice')); // epoch 4
  });

  await check('an expired grant is listed as stored, and revoked in the page', async () => {
    await forward('evm_increaseTime', [11 * 86400]);
    await forward('evm_mine', []);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#grants').getByText('expired (still stored)').waitFor();
    const row = await page.locator('#grants tr').filter({ hasText: doctor }).textContent();
    // The server sees only the category's opaque id.
    assert(/category:#[0-9a-f]{32}/.test(row) && /staff of General Hospital/.test(row), row);
    await page.getByRole('button', { name: `Revoke every grant to ${doctor}` }).click();
    await page.waitForFunction(() => /revoked/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const ids = execFileSync('cast', ['call', deployment.consentRegistry, 'scopeIdsOf(address,address)(bytes32[])', patient, doctor, '--rpc-url', rpc], { env, encoding: 'utf8' }).trim();
    assert(ids === '[]', `scopeIdsOf ${ids}`);
    assert((await page.locator('#grants').textContent()).includes('Nobody holds a grant'), 'grant still listed');
  });

  await check('key generation 2 (`ehr rotate --keys`): the page needs both codes, derives both generations, and a grant it makes opens a record written after it', async () => {
    const rotated = ehr('rotate', '--keys', ...as('alice'));
    assert(rotated.rotated.reasons[0].generation === 2, JSON.stringify(rotated.rotated));
    const second = ehr('key', 'recovery-code', ...as('alice'));
    const first = ehr('key', 'recovery-code', '--generation', '1', ...as('alice'));
    assert(second.generation === 2 && first.generation === 1 && second.code !== first.code, JSON.stringify([first.generation, second.generation]));
    assert(/no generation 3/.test(ehrFails('key', 'recovery-code', '--generation', '3', ...as('alice'))), 'generation 3 shown');
    // Only the new code, and this browser forgot generation 1's: the code serves generation 2,
    // generation 1 has none; a clear message, no grant signed, nothing sent.
    await page.evaluate(() => { for (const k of Object.keys(localStorage)) if (k.startsWith('ehrkit.recovery.')) localStorage.removeItem(k); });
    await page.fill('#recovery-code', second.code);
    const nonceBefore = ehr('audit', patient).entries.length;
    const signsBefore = grantSignings('b');
    await grantInForm(doctor, 'lab', 10);
    const text = await errorBox.textContent();
    assert(/recovery code of key generation 1/.test(text) && /--generation 1/.test(text), text);
    assert(grantSignings('b') === signsBefore, 'a grant was signed or a transaction sent');
    assert(ehr('audit', patient).entries.length === nonceBefore, 'something reached the chain');
    // Both codes, in any order: the grant goes through in the new generation's epoch.
    await page.fill('#recovery-code', `${second.code}\n${first.code}`);
    await grantInForm(doctor, 'lab', 10);
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const epoch = Number(epochOf());
    const grants = ehr('audit', patient).entries.filter((e) => e.event.kind === 'granted' && e.event.grantee.toLowerCase() === doctor);
    assert(grants.at(-1).event.epoch === epoch, JSON.stringify(grants.at(-1).event));
    // The category id is generation 1's (the CLI's upload files the record under it), and the
    // epoch keys generation 2's: the doctor finds and opens a record written after the grant.
    ehr('upload', 'lab2.json', '--fhir', '--allow-duplicate', '--patient', patient, '--category', 'lab', '--keywords', 'second-generation', ...as('alice'));
    const found = ehr('search', patient, 'second-generation', ...as('doctor'));
    assert(found.hits.length === 1 && found.hits[0].recordId === 5, JSON.stringify(found));
    ehr('fetch', '5', '--patient', patient, '-o', 'out5.json', ...as('doctor'));
    assert(readFileSync(join(dir, 'out5.json'), 'utf8') === readFileSync(join(dir, 'lab.json'), 'utf8'), 'fetched record differs');
    // Both codes were kept for this origin: the next action needs none typed.
    await page.fill('#recovery-code', '');
    const kept = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('ehrkit.recovery.')).map((k) => k.split('.').at(-1)).sort());
    assert(JSON.stringify(kept) === '["1","2"]', JSON.stringify(kept));
  });

  await check('a record grant from the page: the nurse fetches record 5 and not record 6; a record that does not exist is refused before anything is signed', async () => {
    ehr('upload', 'lab2.json', '--fhir', '--allow-duplicate', '--patient', patient, '--category', 'lab', '--keywords', 'not-granted', ...as('alice'));
    // The nurse's grants ended at epoch 4: records 5 and 6 (generation 2) are out of its reach.
    assert(/no key|not readable|cannot/i.test(ehrFails('fetch', '5', '--patient', patient, '-o', 'no5.json', ...as('nurse'))), 'the nurse read record 5 before the grant');
    const before = grantSignings('b');
    await page.getByLabel('Grantee address').fill(nurse);
    await page.getByLabel('Scope').selectOption('record');
    await page.getByLabel('Record number (when one record)').fill('99');
    await page.getByRole('button', { name: 'Sign and grant' }).click();
    await page.waitForFunction(() => !document.getElementById('error').hidden);
    assert(/no record #99/.test(await errorBox.textContent()), await errorBox.textContent());
    assert(grantSignings('b') === before, 'a grant was signed for a record that does not exist');
    await page.getByLabel('Record number (when one record)').fill('5');
    await page.getByRole('button', { name: 'Sign and grant' }).click();
    await page.waitForFunction(() => /Access granted/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    const granted = ehr('audit', patient).entries.filter((e) => e.event.kind === 'granted' && e.event.grantee.toLowerCase() === nurse).at(-1).event;
    assert(/record:5|record 5/.test(JSON.stringify(granted.scope)), JSON.stringify(granted));
    ehr('fetch', '5', '--patient', patient, '-o', 'nurse5.json', ...as('nurse'));
    assert(readFileSync(join(dir, 'nurse5.json'), 'utf8') === readFileSync(join(dir, 'lab2.json'), 'utf8'), 'record 5 differs');
    const refused = ehrFails('fetch', '6', '--patient', patient, '-o', 'nurse6.json', ...as('nurse'));
    assert(refused.length > 0 && !existsSync(join(dir, 'nurse6.json')), refused);
  });

  await check('a signed grant that never reached the chain: after its deadline the page asks to rotate, and "Rotate keys" does it', async () => {
    // The signed grant leaves the page, but the relay request never arrives.
    await page.route('**/api/relay/grant', (route) => route.abort());
    await grantInForm(doctor, 'imaging', 5);
    await page.unroute('**/api/relay/grant');
    assert(/Cannot reach the ehr server/.test(await errorBox.textContent()), await errorBox.textContent());
    const remembered = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('ehrkit.pending.')).map((k) => JSON.parse(localStorage.getItem(k)).length));
    assert(JSON.stringify(await remembered()) === '[1]', JSON.stringify(await remembered()));
    const before = Number(epochOf());
    await forward('evm_increaseTime', [2 * 3600]); // past the signature's one-hour deadline
    await forward('evm_mine', []);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#rotation').waitFor();
    const why = await page.locator('#rotation-why').textContent();
    assert(why.includes(doctor) && /can no longer be submitted/.test(why), why);
    await page.getByRole('button', { name: 'Rotate keys' }).click();
    await page.waitForFunction(() => /rotated to/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden, null, { timeout: 60000 });
    assert(await errorBox.isHidden(), `error: ${await errorBox.textContent()}`);
    assert(Number(epochOf()) === before + 1, `epoch ${epochOf()}`);
    assert(await page.locator('#rotation').isHidden(), 'the notice is still shown');
    assert(JSON.stringify(await remembered()) === '[]', `still remembered: ${JSON.stringify(await remembered())}`);
    // The doctor's lab grant is in force: it gets the new epoch; the nurse's record grant needs none.
    const shares = ehr('audit', patient).entries.map((e) => e.event).filter((e) => e.kind === 'epochKeysShared' && e.epoch === before + 1);
    assert(shares.length === 1 && shares[0].grantee.toLowerCase() === doctor, JSON.stringify(shares));
  });

  const token = await page.locator('meta[name="ehr-api-token"]').getAttribute('content');
  const withToken = (extra = {}) => ({ headers: { 'x-ehr-token': token, ...extra } });

  await check('the API: JSON errors with status codes', async () => {
    let r = await fetch(new URL('/api/patients/0x12/grants', url), withToken());
    assert(r.status === 400 && (await r.json()).error.includes('not an address'), `bad address ${r.status}`);
    r = await fetch(new URL('/api/relay/grant', url), { method: 'POST', ...withToken({ 'content-type': 'application/json' }), body: '{"grant":1}' });
    assert(r.status === 400, `bad body ${r.status}`);
    r = await fetch(new URL('/api/nothing', url), withToken());
    assert(r.status === 404, `unknown ${r.status}`);
    r = await fetch(new URL('/api/relay/grant', url), withToken());
    assert(r.status === 405, `GET relay ${r.status}`);
    r = await fetch(new URL('/api/deployment', url));
    assert(r.status === 401 && (await r.json()).error.includes('x-ehr-token'), `no token ${r.status}`);
    // A record's envelope header: the header only, for a record the index holds.
    r = await fetch(new URL(`/api/patients/${patient}/records/1/header`, url), withToken());
    const h = await r.json();
    assert(r.status === 200 && h.recordId === 1 && /^0x4548524502/.test(h.header) && (h.header.length - 2) / 2 <= 5340, JSON.stringify(h).slice(0, 200));
    r = await fetch(new URL(`/api/patients/${patient}/records/99/header`, url), withToken());
    assert(r.status === 404 && /no record 99/.test((await r.json()).error), `unknown record ${r.status}`);
    r = await fetch(new URL(`/api/patients/${patient}/records/x/header`, url), withToken());
    assert(r.status === 400 && /not a record id/.test((await r.json()).error), `bad record id ${r.status}`);
    r = await fetch(new URL(`/api/patients/${patient}/records/1/header`, url), { method: 'POST', ...withToken() });
    assert(r.status === 405, `POST header ${r.status}`);
    r = await fetch(new URL(`/api/patients/${patient}/records/1/header`, url));
    assert(r.status === 401, `header without the token ${r.status}`);
    r = await fetch(new URL('/api/deployment', url), withToken());
    const d = await r.json();
    assert(r.status === 200 && !('rpcUrl' in d) && d.walletRpcUrl === rpc, JSON.stringify(d));
    assert(!/correct horse|0x[0-9a-f]{64}/.test(serveErr), 'the server logged a secret');
  });

  await check('a foreign Host or Origin is refused: a rebound DNS name in Chromium, an Origin header', async () => {
    const port = new URL(url).port;
    const p = await context.newPage();
    const response = await p.goto(`http://rebind.test:${port}/`);
    assert(response.status() === 403, `status ${response.status()}`);
    const body = await p.textContent('body');
    assert(/answers only for/.test(body) && !body.includes(token), body);
    await p.close();
    const answer = await new Promise((resolve, reject) => {
      const req = httpRequest(new URL('/api/deployment', url), { headers: { origin: 'http://evil.example', 'x-ehr-token': token } }, (res) => {
        let text = ''; res.on('data', (d) => { text += d; }); res.on('end', () => resolve({ status: res.statusCode, text }));
      });
      req.on('error', reject); req.end();
    });
    assert(answer.status === 403 && /evil\.example/.test(answer.text), JSON.stringify(answer));
  });

  await check('read-only without a wallet', async () => {
    const plain = await browser.newContext();
    const p = await plain.newPage();
    await p.goto(url);
    await p.getByText('No wallet found: read-only mode').waitFor();
    await p.getByLabel('Patient address (read-only)').fill(patient);
    await p.getByLabel('Patient address (read-only)').press('Enter');
    await p.locator('#audit li').first().waitFor();
    assert(await p.getByRole('button', { name: /Revoke|Approve|Sign and grant|Connect/ }).count() === 0, 'actions offered read-only');
    await plain.close();
  });

  await check('no uncaught page errors', async () => {
    assert(pageErrors.length === 0, pageErrors.join('\n'));
  });
} catch (e) {
  failed++;
  console.log(`FAIL setup: ${e.stack ?? e}${e.stderr ? `\n${e.stderr}` : ''}`);
} finally {
  await cleanup();
}
console.log(`\nweb e2e: ${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
process.exit(failed ? 1 : 0);
