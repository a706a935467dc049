// The patient page: connect an EIP-1193 wallet, show registration, requests, grants, emergency
// accesses and the audit trail (from `ehr serve`'s API), and act: approve a request or grant
// access (keys derived and wrapped here, grant signed with eth_signTypedData_v4, relayed by
// `ehr serve`), revoke, end emergency access (transactions sent from the wallet).
import * as c from './crypto.js';

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const DAY = 86400;
const SIGNATURE_VALID_FOR = 3600;

/** A failure with a sentence meant for the patient. */
class UserError extends Error {}

const state = {
  deployment: null, // GET /api/deployment
  provider: null, // window.ethereum
  account: null, // the connected wallet's account (lowercase)
  viewing: null, // the patient shown
  master: null, // { account, secret } K_p, only in memory, only in this page
  requests: [],
  busy: false,
};

// --- messages ------------------------------------------------------------------------------
function say(text) {
  $('error').hidden = true;
  $('status').textContent = text;
}
function fail(text) {
  $('status').textContent = '';
  const box = $('error');
  box.textContent = text;
  box.hidden = false;
  box.focus();
}
function describe(e) {
  if (e instanceof UserError) return e.message;
  return `Something went wrong: ${e?.message ?? e}`;
}
/** Runs one action: buttons disabled meanwhile, one message at the end, never half a state. */
async function act(label, fn) {
  if (state.busy) return;
  state.busy = true;
  document.body.setAttribute('aria-busy', 'true');
  for (const b of document.querySelectorAll('main button')) b.disabled = true;
  say(`${label}…`);
  try {
    const done = await fn();
    say(done);
    $('status').focus();
  } catch (e) {
    fail(describe(e));
  } finally {
    state.busy = false;
    document.body.removeAttribute('aria-busy');
    for (const b of document.querySelectorAll('main button')) b.disabled = false;
    applyMode();
  }
}

// --- the server's API ----------------------------------------------------------------------
async function api(path, body) {
  let response;
  try {
    response = await fetch(path, body === undefined ? {} : {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch {
    throw new UserError('Cannot reach the ehr server (is `ehr serve` still running?).');
  }
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { error: text.slice(0, 200) }; }
  if (!response.ok) {
    const prefix = response.status === 502 ? 'The chain could not be read: ' : '';
    throw new UserError(prefix + (json.error ?? `HTTP ${response.status}`));
  }
  return json;
}

// --- the wallet ------------------------------------------------------------------------------
async function wallet(method, params = []) {
  try {
    return await state.provider.request({ method, params });
  } catch (e) {
    if (e?.code === 4001) throw new UserError('You rejected the request in your wallet: nothing was signed or sent.');
    if (e?.code === 4100) throw new UserError('The wallet has not authorised this page for that account: reconnect.');
    if (e?.code === 4900 || e?.code === 4901) throw new UserError('The wallet is disconnected from the chain.');
    const err = new Error(e?.message ?? String(e));
    err.code = e?.code;
    err.data = e?.data?.data ?? e?.data;
    throw err;
  }
}
async function checkChain() {
  let id;
  try { id = BigInt(await wallet('eth_chainId')); } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`The wallet cannot reach its chain (${e.message}).`);
  }
  const want = BigInt(state.deployment.chainId);
  if (id !== want) {
    throw new UserError(`Your wallet is on chain ${id}, but these records are on chain ${want}. Switch the wallet's network, then try again.`);
  }
}
function selector(signature) { return c.keccak256(enc.encode(signature)).slice(0, 4); }
function pad32(bytes) { const out = new Uint8Array(32); out.set(bytes, 32 - bytes.length); return out; }
function encodeCall(signature, ...addresses) {
  return c.bytesToHex(c.concat(selector(signature), ...addresses.map((a) => pad32(c.hexToBytes(a)))));
}
function ethCall(to, data) {
  return wallet('eth_call', [{ from: state.account, to, data }, 'latest']);
}
async function blockTime() {
  const block = await wallet('eth_getBlockByNumber', ['latest', false]);
  return Number(BigInt(block.timestamp));
}

// ConsentRegistry's custom errors a page action can meet, by selector.
const REVERTS = {
  'ConsentNoActiveGrant(address,address)': 'That grantee holds no active grant any more.',
  'ConsentNoEmergencyAccess(address,address)': 'That emergency access is no longer open.',
  'ConsentNotEmergencyParty(address)': 'Only the patient or the doctor may end emergency access.',
  'ConsentNotPatient(address)': 'This account is not a registered patient.',
  'ConsentRequestExpired(uint256,uint64)': 'The request has expired: it can no longer be approved.',
  'ConsentRequestNotPending(uint256,uint8)': 'The request was already answered.',
};
function revertMessage(e) {
  const data = typeof e?.data === 'string' ? e.data : '';
  for (const [sig, text] of Object.entries(REVERTS)) {
    if (data.startsWith(c.bytesToHex(selector(sig)))) return text;
  }
  return null;
}

/** Sends a transaction from the wallet after simulating it; waits for it to be mined. */
async function send(to, data, what) {
  try {
    await ethCall(to, data);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`The contract would refuse to ${what}: ${revertMessage(e) ?? e.message}. Nothing was sent.`);
  }
  const hash = await wallet('eth_sendTransaction', [{ from: state.account, to, data }]);
  for (let i = 0; i < 120; i++) {
    const receipt = await wallet('eth_getTransactionReceipt', [hash]);
    if (receipt) {
      if (BigInt(receipt.status) !== 1n) throw new UserError(`The transaction to ${what} was mined but reverted (${hash}).`);
      return hash;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new UserError(`The transaction to ${what} (${hash}) was sent but not mined within a minute; check it before retrying.`);
}

/** The consent registry's EIP-712 domain, read from the contract through the wallet. */
async function consentDomain() {
  const d = state.deployment;
  const raw = c.hexToBytes(await ethCall(d.consentRegistry, c.bytesToHex(selector('eip712Domain()'))));
  const wordAt = (i) => raw.slice(32 * i, 32 * i + 32);
  const uint = (b) => BigInt(c.bytesToHex(b));
  const string = (i) => {
    const at = Number(uint(wordAt(i)));
    const len = Number(uint(raw.slice(at, at + 32)));
    return new TextDecoder().decode(raw.slice(at + 32, at + 32 + len));
  };
  const fields = raw[0];
  const chainId = uint(wordAt(3));
  const verifyingContract = c.bytesToHex(wordAt(4).slice(12));
  if (fields !== 0x0f || chainId !== BigInt(d.chainId) || verifyingContract !== d.consentRegistry.toLowerCase()) {
    throw new UserError('The consent registry reports an unexpected signing domain: refusing to sign.');
  }
  return { name: string(1), version: string(2), chainId, verifyingContract };
}

/** K_p: the wallet's deterministic signature of the MasterSecret message, checked, kept in memory. */
async function masterSecret() {
  if (state.master?.account === state.account) return state.master.secret;
  const d = state.deployment;
  const typed = c.masterSecretTypedData(state.account, d.chainId, d.recordIndex);
  say('Your wallet asks you to sign "Derive my ehrkit record keys" — this unlocks your keys in this page only…');
  const signature = await wallet('eth_signTypedData_v4', [state.account, c.typedDataJson(typed)]);
  if (c.recoverAddress(c.typedDataHash(typed), signature).toLowerCase() !== state.account) {
    throw new UserError('The wallet signed with another account than the connected one: reconnect.');
  }
  const secret = c.masterSecretFromSignature(signature, state.account);
  state.master = { account: state.account, secret };
  return secret;
}

/** Builds, signs and relays a grant of `scope` to `grantee` (approving `requestId` when given). */
async function signAndRelay({ grantee, scope, purpose, days, requestId }) {
  await checkChain();
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new UserError('A grant lasts 1 to 365 days.');
  if (scope.kind === 2) throw new UserError('Record-scope grants need the record\'s key from its envelope: use `ehr grant --scope record:ID --cid CID`.');
  if (!state.deployment.relayer) throw new UserError('This server has no relay account, so it cannot submit signed grants (start `ehr serve --account …`).');
  const [target, me] = await Promise.all([api(`/api/accounts/${grantee}`), api(`/api/accounts/${state.account}`)]);
  if (target.role === 'none') throw new UserError(`${grantee} is not a registered organization or staff member.`);
  if (!target.publicKey) throw new UserError(`${grantee} has not registered a public key yet (ehr key register), so its keys cannot be wrapped.`);
  const master = await masterSecret();
  const [domain, now] = await Promise.all([consentDomain(), blockTime()]);
  const epoch = BigInt(me.epoch);
  const wrappedKeys = await c.wrapGrantKeys({
    plaintext: c.grantPlaintext(master, epoch, scope), scope, patient: state.account, grantee,
    granteePublicKey: target.publicKey, epoch,
  });
  const grant = {
    patient: state.account, grantee, scope: { kind: scope.kind, value: c.bytesToHex(scope.value) },
    purpose, expiry: BigInt(now + days * DAY), epoch, wrappedKeys: c.bytesToHex(wrappedKeys),
  };
  const nonce = BigInt(me.nonce);
  const deadline = BigInt(now + SIGNATURE_VALID_FOR);
  const typed = c.grantTypedData(domain, grant, nonce, deadline);
  say('Your wallet asks you to sign the grant…');
  const signature = await wallet('eth_signTypedData_v4', [state.account, c.typedDataJson(typed)]);
  if (c.recoverAddress(c.typedDataHash(typed), signature).toLowerCase() !== state.account) {
    throw new UserError('The wallet signed with another account than the connected one: nothing was sent.');
  }
  const body = {
    grant: { ...grant, expiry: Number(grant.expiry), epoch: Number(grant.epoch) },
    nonce: '0x' + nonce.toString(16), deadline: '0x' + deadline.toString(16), signature,
  };
  say('Submitting the signed grant…');
  if (requestId !== undefined) return api('/api/relay/approve', { requestId, ...body });
  return api('/api/relay/grant', body);
}

// --- views -----------------------------------------------------------------------------------
function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}
function button(label, accessibleName, onClick, secondary) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', accessibleName);
  if (secondary) b.className = 'secondary';
  b.addEventListener('click', onClick);
  return b;
}
const when = (unix) => new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
function empty(tbody, columns, text) {
  const row = tbody.insertRow();
  const td = cell(row, text);
  td.colSpan = columns;
  td.className = 'muted';
}
const canAct = () => state.account && state.viewing === state.account;

async function refresh() {
  const who = state.viewing;
  if (!who) return;
  const [account, requests, grants, emergencies, audit] = await Promise.all([
    api(`/api/accounts/${who}`),
    api(`/api/patients/${who}/requests`),
    api(`/api/patients/${who}/grants`),
    api(`/api/patients/${who}/emergencies`),
    api(`/api/patients/${who}/audit`).catch((e) => ({ error: describe(e), entries: [] })),
  ]);
  const reg = $('registration');
  reg.replaceChildren();
  for (const [k, v] of [['Account', who], ['Role', account.role], ['Key epoch', String(account.epoch)], ['Public key', account.publicKey ? 'registered' : 'none']]) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    if (k === 'Account') dd.className = 'addr';
    reg.append(dt, dd);
  }
  if (account.role !== 'patient') {
    const dd = document.createElement('dd');
    dd.textContent = 'This account is not a registered patient (ehr patient register).';
    reg.append(document.createElement('dt'), dd);
  }

  state.requests = requests.requests;
  const rq = $('requests');
  rq.replaceChildren();
  for (const r of requests.requests) {
    const row = rq.insertRow();
    cell(row, `#${r.id}`);
    cell(row, r.requester, 'addr');
    cell(row, r.scope);
    cell(row, r.purpose);
    cell(row, r.reason);
    cell(row, when(r.expiresAt));
    cell(row, r.status);
    const actions = cell(row, '');
    if (canAct() && r.status === 'pending') {
      actions.append(button('Approve', `Approve request #${r.id}`, () => approve(r)));
    }
  }
  if (!requests.requests.length) empty(rq, 8, 'No access requests.');

  const gt = $('grants');
  gt.replaceChildren();
  for (const g of grants.grants) {
    const row = gt.insertRow();
    cell(row, g.grantee, 'addr');
    cell(row, g.scope);
    cell(row, g.purpose);
    cell(row, when(g.expiry));
    const actions = cell(row, '');
    if (canAct()) actions.append(button('Revoke', `Revoke every grant to ${g.grantee}`, () => revoke(g.grantee), true));
  }
  if (!grants.grants.length) empty(gt, 5, 'Nobody holds a grant.');

  const em = $('emergencies');
  em.replaceChildren();
  for (const x of emergencies.emergencies) {
    const row = em.insertRow();
    cell(row, x.doctor, 'addr');
    cell(row, x.hospital, 'addr');
    cell(row, x.reason);
    cell(row, when(x.until));
    const actions = cell(row, '');
    if (canAct()) actions.append(button('End', `End emergency access of ${x.doctor}`, () => endEmergency(x.doctor), true));
  }
  if (!emergencies.emergencies.length) empty(em, 5, 'No emergency access is open.');

  const list = $('audit');
  list.replaceChildren();
  if (audit.error) {
    const li = document.createElement('li'); li.textContent = audit.error; list.append(li);
  }
  for (const e of [...audit.entries].reverse()) {
    const li = document.createElement('li');
    const t = document.createElement('time');
    t.dateTime = e.time; t.textContent = e.time.replace('T', ' ').replace('Z', ' UTC');
    li.append(t, document.createTextNode(e.summary));
    list.append(li);
  }
  if (!audit.entries.length && !audit.error) {
    const li = document.createElement('li'); li.textContent = 'Nothing yet.'; list.append(li);
  }
  for (const id of ['me', 'requests-section', 'grants-section', 'emergencies-section', 'audit-section']) $(id).hidden = false;
  applyMode();
}

function applyMode() {
  $('grant-form').hidden = !canAct();
}

// --- actions ---------------------------------------------------------------------------------
function approve(r) {
  act(`Approving request #${r.id}`, async () => {
    const now = await blockTime().catch(() => Math.floor(Date.now() / 1000));
    if (r.status !== 'pending' || r.expiresAt <= now) {
      await refresh();
      throw new UserError(`Request #${r.id} has expired (answer by ${when(r.expiresAt)}): it can no longer be approved. Ask the requester to file a new one.`);
    }
    const days = Number($('approve-days').value);
    const scope = { kind: r.scopeKind, value: c.hexToBytes(r.scopeValue) };
    await signAndRelay({ grantee: r.requester, scope, purpose: r.purposeId, days, requestId: r.id });
    await refresh();
    return `Request #${r.id} approved: ${r.requester} can now read ${r.scope} records.`;
  });
}

function grantFromForm(event) {
  event.preventDefault();
  act('Granting access', async () => {
    const grantee = $('grant-grantee').value.trim().toLowerCase();
    if (!/^0x[0-9a-f]{40}$/.test(grantee)) throw new UserError('The grantee must be an address: 0x and 40 hex digits.');
    let scope = { kind: 0, value: new Uint8Array(32) };
    if ($('grant-scope').value === 'category') {
      const name = $('grant-category').value.trim();
      if (!/^[a-z0-9_-]{1,31}$/.test(name)) throw new UserError('A category is 1 to 31 lowercase letters, digits, - or _ (e.g. lab).');
      // On chain the category is this patient's opaque id for the name, never the name.
      scope = c.categoryScope(await masterSecret(), name);
    }
    const days = Number($('grant-days').value);
    await signAndRelay({ grantee, scope, purpose: Number($('grant-purpose').value), days });
    $('grant-form').reset();
    await refresh();
    return `Access granted to ${grantee}.`;
  });
}

function revoke(grantee) {
  act(`Revoking ${grantee}`, async () => {
    await checkChain();
    const data = encodeCall('revoke(address)', grantee);
    await send(state.deployment.consentRegistry, data, 'revoke the grant');
    await refresh();
    return `Every grant to ${grantee} is revoked; your key epoch advanced, so records you add from now on are out of its reach. Other grantees get the new epoch's keys with \`ehr reshare\`.`;
  });
}

function endEmergency(doctor) {
  act('Ending emergency access', async () => {
    await checkChain();
    const data = encodeCall('closeEmergencyAccess(address,address)', state.account, doctor);
    await send(state.deployment.consentRegistry, data, 'end the emergency access');
    await refresh();
    return `Emergency access of ${doctor} ended.`;
  });
}

async function connect() {
  await act('Connecting to your wallet', async () => {
    const accounts = await wallet('eth_requestAccounts');
    if (!accounts?.length) throw new UserError('The wallet shared no account.');
    await checkChain();
    state.account = accounts[0].toLowerCase();
    state.viewing = state.account;
    state.master = null;
    $('wallet-state').textContent = `Connected: ${state.account}`;
    $('connect').textContent = 'Reconnect wallet';
    await refresh();
    return 'Wallet connected.';
  });
}

// --- start -----------------------------------------------------------------------------------
async function start() {
  try {
    state.deployment = await api('/api/deployment');
    const d = state.deployment;
    $('deployment').textContent = `Chain ${d.chainId} · consent registry ${d.consentRegistry}` + (d.relayer ? '' : ' · no relay account (read-only server)');
  } catch (e) {
    fail(describe(e));
    $('connect').disabled = true;
    return;
  }
  $('connect').addEventListener('click', connect);
  $('refresh').addEventListener('click', () => act('Refreshing', async () => { await refresh(); return 'Up to date.'; }));
  $('grant-form').addEventListener('submit', grantFromForm);
  $('view-form').addEventListener('submit', (event) => {
    event.preventDefault();
    act('Loading', async () => {
      const a = $('view-address').value.trim().toLowerCase();
      if (!/^0x[0-9a-f]{40}$/.test(a)) throw new UserError('Enter an address: 0x and 40 hex digits.');
      state.viewing = a;
      await refresh();
      return `Showing ${a} (read-only).`;
    });
  });
  state.provider = window.ethereum ?? null;
  if (!state.provider) {
    $('connect').hidden = true;
    $('view-form').hidden = false;
    $('wallet-state').textContent = 'No wallet found: read-only mode. You can look at a patient\'s grants and audit trail; to approve, grant or revoke, open this page in a browser with an Ethereum wallet.';
    return;
  }
  state.provider.on?.('accountsChanged', () => { state.master = null; state.account = null; $('wallet-state').textContent = 'The wallet changed accounts: connect again.'; applyMode(); });
  state.provider.on?.('chainChanged', () => { state.master = null; say('The wallet changed networks: connect again.'); });
}

start();
