// The patient page: pick an EIP-1193 wallet (EIP-6963 discovery, window.ethereum as fallback),
// show registration, requests, grants, emergency accesses and the audit trail (from `ehr
// serve`'s API), and act: approve or deny a request, grant access (keys derived and wrapped
// here, grant signed with eth_signTypedData_v4, relayed by `ehr serve`), revoke (expired grants
// too), end emergency access (transactions sent from the wallet), rotate the key epoch when an
// access that ended still holds its keys (rotation.js, before every grant and on demand). What
// a signature covers — epoch, nonce, the grantee's key, the registries — is read through the
// wallet's own eth_call, never taken from the server.
import * as c from './crypto.js';
import { rotationCheck, keyChainHead, describeReason } from './rotation.js';
import { recordDataKey, EnvelopeError, MAX_HEADER_LEN } from './envelope.js';

const $ = (id) => document.getElementById(id);
const enc = new TextEncoder();
const DAY = 86400;
const SIGNATURE_VALID_FOR = 3600;

/** A failure with a sentence meant for the patient. */
class UserError extends Error {}

const state = {
  deployment: null, // GET /api/deployment
  provider: null, // the chosen wallet's EIP-1193 provider
  wallets: [], // { info: EIP-6963 provider info, provider }
  chain: null, // registry addresses read on chain through the wallet
  account: null, // the connected wallet's account (lowercase)
  viewing: null, // the patient shown
  walletName: '', // the chosen wallet's name
  master: null, // { account, keys }: the patient's keys (crypto.js patientKeys), only in memory, only for one action
  requests: [],
  busy: false,
};

// --- messages ------------------------------------------------------------------------------
function say(text) {
  $('error').hidden = true;
  $('status').textContent = text;
}
/** A step of a long action: "text (step i of n)" and the progress bar. */
function step(i, n, text) {
  say(`${text} (step ${i} of ${n})`);
  const bar = $('progress');
  bar.max = n;
  bar.value = i - 1;
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
  const bar = $('progress');
  bar.removeAttribute('value'); // indeterminate until a step says more
  bar.hidden = false;
  say(`${label}…`);
  try {
    const done = await fn();
    say(done);
    $('status').focus();
  } catch (e) {
    fail(describe(e));
  } finally {
    // The master secrets live only for one action: the next one asks the wallet again.
    dropKeys();
    state.busy = false;
    $('progress').hidden = true;
    document.body.removeAttribute('aria-busy');
    for (const b of document.querySelectorAll('main button')) b.disabled = false;
    applyMode();
  }
}

// --- the server's API ----------------------------------------------------------------------
// `ehr serve` answers API calls only with the token it embedded in this launch's page.
const API_TOKEN = document.querySelector('meta[name="ehr-api-token"]')?.content ?? '';
async function api(path, body) {
  let response;
  const headers = { 'x-ehr-token': API_TOKEN };
  try {
    response = await fetch(path, body === undefined ? { headers } : {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body),
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
async function walletChainId() {
  try { return BigInt(await wallet('eth_chainId')); } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`The wallet cannot reach its chain (${e.message}).`);
  }
}
/**
 * Makes sure the wallet is on the deployment's chain before anything is signed: asks it to
 * switch (wallet_switchEthereumChain) and, when it does not know the chain (4902), to add it
 * (wallet_addEthereumChain) with the RPC URL the server names for wallets.
 */
async function checkChain() {
  const want = BigInt(state.deployment.chainId);
  const id = await walletChainId();
  if (id === want) return;
  const chainId = '0x' + want.toString(16);
  say(`Your wallet is on chain ${id}, these records are on chain ${want}: your wallet asks you to switch…`);
  try {
    await wallet('wallet_switchEthereumChain', [{ chainId }]);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`Your wallet stayed on chain ${id} (${e.message}) Switch it to chain ${want}, then try again.`);
    const unknown = e.code === 4902 || e.data?.originalError?.code === 4902;
    if (!unknown) throw new UserError(`Your wallet could not switch to chain ${want} (${e.message}). Switch its network by hand, then try again.`);
    const rpc = state.deployment.walletRpcUrl;
    if (!rpc) throw new UserError(`Your wallet does not know chain ${want}, and this server names no RPC URL for wallets (ehr serve --wallet-rpc-url). Add the network in your wallet, then try again.`);
    say(`Your wallet does not know chain ${want}: it asks you to add it…`);
    try {
      await wallet('wallet_addEthereumChain', [{
        chainId, chainName: `ehrkit chain ${want}`, rpcUrls: [rpc],
        nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      }]);
    } catch (added) {
      if (added instanceof UserError) throw new UserError(`Chain ${want} was not added to your wallet (${added.message})`);
      throw new UserError(`Your wallet could not add chain ${want} (${added.message}).`);
    }
    // Some wallets switch when they add a chain; others need asking again.
    if (await walletChainId() !== want) await wallet('wallet_switchEthereumChain', [{ chainId }]);
  }
  const now = await walletChainId();
  if (now !== want) throw new UserError(`Your wallet is on chain ${now}, but these records are on chain ${want}. Switch the wallet's network, then try again.`);
}
function selector(signature) { return c.keccak256(enc.encode(signature)).slice(0, 4); }
function pad32(bytes) { const out = new Uint8Array(32); out.set(bytes, 32 - bytes.length); return out; }
/** ABI-encodes a call whose arguments are addresses (hex strings) and uints (BigInt). */
function encodeCall(signature, ...args) {
  const words = args.map((a) => (typeof a === 'bigint' ? pad32(c.hexToBytes(a.toString(16).padStart(64, '0'))) : pad32(c.hexToBytes(a))));
  return c.bytesToHex(c.concat(selector(signature), ...words));
}
function ethCall(to, data) {
  return wallet('eth_call', [{ from: state.account, to, data }, 'latest']);
}
// Return values, decoded from the words of an eth_call answer.
const word = (raw, i) => raw.slice(32 * i, 32 * i + 32);
const uintAt = (raw, i) => BigInt(c.bytesToHex(word(raw, i)));
const addressAt = (raw, i) => c.bytesToHex(word(raw, i).slice(12));
function bytesAt(raw, i) {
  const at = Number(uintAt(raw, i));
  const len = Number(BigInt(c.bytesToHex(raw.slice(at, at + 32))));
  return raw.slice(at + 32, at + 32 + len);
}
async function read(to, signature, ...args) {
  const raw = c.hexToBytes(await ethCall(to, encodeCall(signature, ...args)));
  if (raw.length < 32) throw new UserError(`The chain answered nothing for ${signature.split('(')[0]} at ${to}: is the deployment on this chain?`);
  return raw;
}

/**
 * The registries as the chain links them, read through the wallet: the consent registry's
 * role registry, and the record index pointing at both. The server's addresses must agree,
 * and must be those this browser saw before for the chain (pinned in localStorage).
 */
async function chainDeployment() {
  const d = state.deployment;
  const consent = d.consentRegistry.toLowerCase();
  const index = d.recordIndex.toLowerCase();
  const [roles, indexConsent, indexRoles] = await Promise.all([
    read(consent, 'roles()'), read(index, 'consent()'), read(index, 'roles()'),
  ]).then((answers) => answers.map((raw) => addressAt(raw, 0)));
  if (roles !== d.roleRegistry.toLowerCase() || indexConsent !== consent || indexRoles !== roles) {
    throw new UserError('The contracts this server names do not link to each other on chain: refusing to sign anything for them.');
  }
  const key = `ehrkit.deployment.${d.chainId}`;
  const seen = JSON.stringify({ consent, index, roles });
  const pinned = localStorage.getItem(key);
  if (pinned && pinned !== seen) {
    throw new UserError(`This server now names other contracts on chain ${d.chainId} than it did before (pinned in this browser). If the deployment was replaced on purpose, clear this site's data; otherwise do not use this server.`);
  }
  if (!pinned) localStorage.setItem(key, seen);
  state.chain = { consent, index, roles };
  return state.chain;
}
/** What a signature over `account`'s grants needs, read on chain: epoch, nonce, role, key. */
async function onChain(account) {
  const { consent, roles } = state.chain ?? await chainDeployment();
  const [epoch, nonce, role, key] = await Promise.all([
    read(consent, 'epochOf(address)', account), read(consent, 'nonces(address)', account),
    read(roles, 'roleOf(address)', account), read(roles, 'publicKeyOf(address)', account),
  ]);
  return { epoch: uintAt(epoch, 0), nonce: uintAt(nonce, 0), role: Number(uintAt(role, 0)), publicKey: bytesAt(key, 0) };
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
  'ConsentNotRequestPatient(uint256,address)': 'That request was made to another patient.',
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
  say(`Your wallet asks you to send the transaction to ${what}…`);
  const hash = await wallet('eth_sendTransaction', [{ from: state.account, to, data }]);
  for (let i = 0; i < 120; i++) {
    if (i > 0) say(`Waiting for the transaction to ${what} to be mined (${Math.round(i / 2)} s)…`);
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

/**
 * The patient's keys for this action, only in memory (crypto.js patientKeys): the current key
 * generation's master secret, whose keys new epochs use, and the first generation's (or, for
 * a patient that set up generations late, the original signature-only one), whose category
 * naming key keeps category ids stable across rotations (keys::patient_keys). Each generation's
 * secret is the wallet's signature of its message mixed with its recovery code, checked against
 * the key-check value on chain before any key is used.
 */
async function masterSecret() {
  if (state.master?.account === state.account) return state.master.keys;
  const { consent } = state.chain ?? await chainDeployment();
  const generation = uintAt(await read(consent, 'keysOf(address)', state.account), 0);
  const infoOf = async (g) => {
    const raw = await read(consent, 'generationOf(address,uint64)', state.account, g);
    return { keyCheck: word(raw, 0).slice(0, 24), start: uintAt(raw, 1) };
  };
  // Every typed code, parsed before anything is signed; each generation takes the one that
  // gives its key check (the page cannot tell which code is which before that), the current
  // generation first, and no code serves two.
  const typed = typedRecoveryCodes();
  const used = new Set();
  const masters = [];
  if (generation === 0n) {
    masters.push({ start: 0n, secret: await legacyMaster() });
  } else {
    const first = await infoOf(1n);
    const current = generation === 1n ? first : await infoOf(generation);
    masters.push({ start: current.start, secret: await generationMaster(generation, current.keyCheck, typed, used, generation) });
    if (first.start > 0n) masters.push({ start: 0n, secret: await legacyMaster() });
    else if (generation > 1n) masters.push({ start: 0n, secret: await generationMaster(1n, first.keyCheck, typed, used, generation) });
  }
  const keys = c.patientKeys(masters);
  state.master = { account: state.account, keys };
  return keys;
}
/** Zeroes the keys of the last action. */
function dropKeys() {
  if (!state.master) return;
  for (const m of state.master.keys.masters) m.secret.fill(0);
  state.master.keys.namingKey.fill(0);
  state.master = null;
}
async function signMasterSecret(typed, what) {
  say(`Your wallet asks you to sign "Derive my ehrkit record keys"${what} — this unlocks your keys in this page only…`);
  const signature = await wallet('eth_signTypedData_v4', [state.account, c.typedDataJson(typed)]);
  if (c.recoverAddress(c.typedDataHash(typed), signature).toLowerCase() !== state.account) {
    throw new UserError('The wallet signed with another account than the connected one: reconnect.');
  }
  return signature;
}
/** Generation 0: the original scheme, the signature alone. */
async function legacyMaster() {
  const d = state.deployment;
  const signature = await signMasterSecret(c.masterSecretTypedData(state.account, d.chainId, d.recordIndex), '');
  return c.masterSecretFromSignature(signature, state.account);
}
/** K_p(g): the signature of generation g's message with the recovery code that gives `keyCheck`. */
async function generationMaster(g, keyCheck, typed, used, current) {
  const d = state.deployment;
  const stored = localStorage.getItem(recoveryKey(g));
  const candidates = typed.filter((t) => !used.has(t.code));
  if (stored && !used.has(stored) && !typed.some((t) => t.code === stored)) candidates.push({ code: stored, secret: parseRecoveryCode(stored) });
  const which = current > 1n ? ` (key generation ${g})` : '';
  if (!candidates.length) {
    throw new UserError(current > 1n
      ? `Your keys need the recovery code of key generation ${g}: paste what \`ehr key recovery-code --generation ${g}\` shows into "Recovery code" (several codes may go there, one after the other), then try again.`
      : 'Your keys need your recovery code: paste what `ehr key recovery-code` shows into "Recovery code", then try again.');
  }
  const signature = await signMasterSecret(c.masterSecretV2TypedData(state.account, g, d.chainId, d.recordIndex), which);
  const want = c.bytesToHex(keyCheck);
  for (const { code, secret } of candidates) {
    const master = c.masterSecretFromGeneration(signature, secret, state.account, g);
    if (c.bytesToHex(c.keyCheck(master)) === want) {
      used.add(code);
      localStorage.setItem(recoveryKey(g), code);
      return master;
    }
    master.fill(0);
  }
  if (stored) localStorage.removeItem(recoveryKey(g));
  throw new UserError(`Your recovery code and this wallet's signature do not give the keys registered on chain (key generation ${g}): check the code (\`ehr key recovery-code${current > 1n ? ` --generation ${g}` : ''}\` shows it), or this wallet does not sign deterministically. Nothing was signed or sent.`);
}
function recoveryKey(generation) {
  const d = state.deployment;
  return `ehrkit.recovery.${d.chainId}.${d.recordIndex.toLowerCase()}.${state.account}.${generation}`;
}
/** The recovery codes typed in the page, each parsed: a code starts with ehr2 ("h" and "r"
 * are not hex digits, so several codes in one field split there). */
function typedRecoveryCodes() {
  const text = document.getElementById('recovery-code').value;
  return text.split(/(?=ehr2)/i).map((t) => t.trim()).filter(Boolean)
    .map((code) => ({ code, secret: parseRecoveryCode(code) }));
}
function parseRecoveryCode(code) {
  try { return c.recoverySecretFromCode(code); } catch (e) { throw new UserError(`The recovery code is not valid: ${e.message}.`); }
}

/**
 * Builds, signs and relays a grant of `scope` to `grantee` (approving `requestId` when given),
 * after rotating the epoch if an ended access asks for it. Returns what the rotation did ('' if
 * none), for the patient.
 */
const STEPS = 6;
async function signAndRelay({ grantee, scope, purpose, days, requestId }) {
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new UserError('A grant lasts 1 to 365 days.');
  if (!state.deployment.relayer) throw new UserError('This server has no relay account, so it cannot submit signed grants (start `ehr serve --account …`).');
  step(1, STEPS, 'Checking your wallet\'s network');
  await checkChain();
  step(2, STEPS, 'Checking whether your key epoch must rotate first');
  const rotated = await maintainKeys();
  step(3, STEPS, 'Reading your key epoch, nonce and the grantee\'s key from the chain');
  const [target, me] = await Promise.all([onChain(grantee), onChain(state.account)]);
  if (target.role !== 1 && target.role !== 2) throw new UserError(`${grantee} is not a registered organization or staff member.`);
  if (!target.publicKey.length) throw new UserError(`${grantee} has not registered a public key yet (ehr key register), so its keys cannot be wrapped.`);
  step(4, STEPS, 'Unlocking your record keys');
  const keys = await masterSecret();
  const [domain, now] = await Promise.all([consentDomain(), blockTime()]);
  const epoch = me.epoch;
  // A Record grant carries the record's data key (from its envelope), the others keys of the epoch.
  const wrappedKeys = await c.wrapGrantKeys({
    plaintext: scope.kind === 2 ? scope.dataKey : c.grantPlaintext(keys, epoch, scope), scope, patient: state.account, grantee,
    granteePublicKey: c.bytesToHex(target.publicKey), epoch,
  });
  scope.dataKey?.fill(0);
  const grant = {
    patient: state.account, grantee, scope: { kind: scope.kind, value: c.bytesToHex(scope.value) },
    purpose, expiry: BigInt(now + days * DAY), epoch, wrappedKeys: c.bytesToHex(wrappedKeys),
  };
  const nonce = me.nonce;
  const deadline = BigInt(now + SIGNATURE_VALID_FOR);
  const typed = c.grantTypedData(domain, grant, nonce, deadline);
  step(5, STEPS, 'Your wallet asks you to sign the grant');
  const signature = await wallet('eth_signTypedData_v4', [state.account, c.typedDataJson(typed)]);
  if (c.recoverAddress(c.typedDataHash(typed), signature).toLowerCase() !== state.account) {
    throw new UserError('The wallet signed with another account than the connected one: nothing was sent.');
  }
  const body = {
    grant: { ...grant, expiry: Number(grant.expiry), epoch: Number(grant.epoch) },
    nonce: '0x' + nonce.toString(16), deadline: '0x' + deadline.toString(16), signature,
  };
  // Its key material is out of this page now: remembered until it is on chain, rotated away
  // if it never gets there (the relay fails, the server keeps it).
  const keysHash = c.bytesToHex(c.keccak256(wrappedKeys));
  rememberSigned({ grantee, epoch, nonce, deadline, keysHash });
  step(6, STEPS, 'Submitting the signed grant and waiting for it to be mined');
  await api(requestId !== undefined ? '/api/relay/approve' : '/api/relay/grant', requestId !== undefined ? { requestId, ...body } : body);
  forgetSigned([keysHash]);
  return rotated;
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
  // Rows drawn while an action runs stay disabled until it ends, like the rest.
  b.disabled = state.busy;
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
/** "staff of General Hospital (hospital)": who an account is, from the server's role views. */
function partyText(info) {
  const org = info?.organization;
  const inactive = org && !org.active ? ', removed' : '';
  if (info?.role === 'staff' && org) return `staff of ${org.name} (${org.kind}${inactive})`;
  if (info?.role === 'organization' && org) return `${org.name} (${org.kind} organization${inactive})`;
  if (info?.role === 'patient') return 'a patient';
  return 'not a registered organization or staff member';
}
/** An address cell with who it is beneath. */
function partyCell(row, address, info) {
  const td = cell(row, '');
  const a = document.createElement('span');
  a.className = 'addr';
  a.textContent = address;
  const who = document.createElement('small');
  who.className = 'party';
  who.textContent = partyText(info);
  td.append(a, who);
  return td;
}

/** Which guardians released their share of the emergency kit to a break-glass doctor. */
function guardiansCell(row, guardians) {
  const { threshold, releasedBy } = guardians ?? { threshold: 0, releasedBy: [] };
  if (!threshold) return cell(row, 'no guardians: nothing readable', 'muted');
  const readable = releasedBy.length >= threshold ? 'the emergency scope is readable' : 'nothing readable yet';
  const td = cell(row, `${releasedBy.length} of ${threshold} needed released: ${readable}`);
  td.dataset.released = String(releasedBy.length);
  for (const g of releasedBy) {
    const a = document.createElement('small');
    a.className = 'addr party';
    a.textContent = g;
    td.append(a);
  }
  return td;
}

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
    partyCell(row, r.requester, r.requesterInfo);
    cell(row, r.scope);
    cell(row, r.purpose);
    cell(row, r.reason);
    cell(row, when(r.expiresAt));
    cell(row, r.status);
    const actions = cell(row, '');
    if (canAct() && r.status === 'pending') {
      actions.append(button('Approve', `Approve request #${r.id}`, () => approve(r)));
      actions.append(button('Deny', `Deny request #${r.id}`, () => deny(r), true));
    }
  }
  if (!requests.requests.length) empty(rq, 8, 'No access requests.');

  const gt = $('grants');
  gt.replaceChildren();
  // One Revoke per grantee: the contract's revoke removes every grant to it, expired ones too.
  const offered = new Set();
  for (const g of grants.grants) {
    const row = gt.insertRow();
    partyCell(row, g.grantee, g.granteeInfo);
    cell(row, g.scope);
    cell(row, g.purpose);
    cell(row, when(g.expiry));
    const status = cell(row, g.expired ? 'expired (still stored)' : 'active', g.expired ? 'muted' : undefined);
    if (g.unloggedReads) {
      // The patient let this grant read without logging each read on chain (`ehr unlogged-reads`).
      const flag = document.createElement('small');
      flag.className = 'party';
      flag.textContent = 'reads not logged';
      status.append(flag);
    }
    const actions = cell(row, '');
    if (canAct() && !offered.has(g.grantee)) {
      offered.add(g.grantee);
      actions.append(button('Revoke', `Revoke every grant to ${g.grantee}`, () => revoke(g.grantee), true));
    }
  }
  if (!grants.grants.length) empty(gt, 6, 'Nobody holds a grant.');
  await showRotation();

  const em = $('emergencies');
  em.replaceChildren();
  for (const x of emergencies.emergencies) {
    const row = em.insertRow();
    partyCell(row, x.doctor, x.doctorInfo);
    cell(row, x.hospital, 'addr');
    cell(row, x.reason);
    cell(row, when(x.until));
    guardiansCell(row, x.guardians);
    const actions = cell(row, '');
    if (canAct()) actions.append(button('End', `End emergency access of ${x.doctor}`, () => endEmergency(x.doctor), true));
  }
  if (!emergencies.emergencies.length) empty(em, 6, 'No emergency access is open.');

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

/** The "Rotate keys" notice, when rotation::check would rotate (the patient's own view only). */
async function showRotation() {
  const box = $('rotation');
  if (!canAct()) { box.hidden = true; return; }
  let found;
  try { found = await checkRotation(); } catch (e) {
    box.hidden = false;
    $('rotation-why').textContent = `Whether your key epoch must rotate could not be checked: ${describe(e)}`;
    return;
  }
  box.hidden = !found.reasons.length;
  $('rotation-why').textContent = found.reasons.map((r) => describeReason(r, when)).join('; ') + (found.reasons.length ? '.' : '');
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
    const rotated = await signAndRelay({ grantee: r.requester, scope, purpose: r.purposeId, days, requestId: r.id });
    await refresh();
    return `Request #${r.id} approved: ${r.requester} can now read ${r.scope} records.${rotated ? ` ${rotated}` : ''}`;
  });
}

function deny(r) {
  act(`Denying request #${r.id}`, async () => {
    await checkChain();
    await chainDeployment();
    await send(state.chain.consent, encodeCall('denyRequest(uint256)', BigInt(r.id)), `deny request #${r.id}`);
    await refresh();
    return `Request #${r.id} denied: ${r.requester} gets nothing.`;
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
    } else if ($('grant-scope').value === 'record') {
      const text = $('grant-record').value.trim();
      if (!/^[0-9]{1,19}$/.test(text) || BigInt(text) < 1n || BigInt(text) >= 1n << 64n) throw new UserError('A record number is a whole number from 1 (as `ehr search` shows it).');
      await checkChain();
      scope = await recordScope(BigInt(text));
    }
    const days = Number($('grant-days').value);
    const rotated = await signAndRelay({ grantee, scope, purpose: Number($('grant-purpose').value), days });
    $('grant-form').reset();
    await refresh();
    return `Access granted to ${grantee}.${rotated ? ` ${rotated}` : ''}`;
  });
}

function revoke(grantee) {
  act(`Revoking ${grantee}`, async () => {
    await checkChain();
    await chainDeployment();
    // The grants that stay, read before the revocation changes the view.
    const { grants } = await api(`/api/patients/${state.account}/grants`);
    const data = encodeCall('revoke(address)', grantee);
    await send(state.chain.consent, data, 'revoke the grant');
    const shared = await reshare(grants.filter((g) => g.grantee.toLowerCase() !== grantee.toLowerCase()));
    await refresh();
    return `Every grant to ${grantee} is revoked; your key epoch advanced, so records you add from now on are out of its reach. ${shared}`;
  });
}

/** ABI-encodes shareEpochKeys(address,bytes). */
function encodeShare(grantee, bytes) {
  const uint = (n) => c.hexToBytes(BigInt(n).toString(16).padStart(64, '0'));
  const padded = new Uint8Array(Math.ceil(bytes.length / 32) * 32);
  padded.set(bytes);
  return c.bytesToHex(c.concat(selector('shareEpochKeys(address,bytes)'), pad32(c.hexToBytes(grantee)),
    uint(64), uint(bytes.length), padded));
}

/**
 * Hands the current epoch's keys to every grantee of `grants` that keeps an unexpired All or
 * Category grant and is still an active participant (what `ehr reshare` does): one
 * shareEpochKeys per grantee, its items wrapped in this page. Returns a sentence for the patient.
 */
async function reshare(grants) {
  const byGrantee = new Map();
  for (const g of grants) {
    if (g.expired || g.scopeKind === 2) continue;
    const key = g.grantee.toLowerCase();
    if (!byGrantee.has(key)) byGrantee.set(key, []);
    byGrantee.get(key).push({ kind: g.scopeKind, value: c.hexToBytes(g.scopeValue) });
  }
  if (!byGrantee.size) return 'No other grantee holds an all or category grant: nothing to re-share.';
  const { roles } = state.chain;
  const me = await onChain(state.account);
  const keys = await masterSecret();
  const done = [], skipped = [];
  let i = 0;
  for (const [grantee, scopes] of byGrantee) {
    step(++i, byGrantee.size, `Re-sharing the new epoch's keys with ${grantee}`);
    if (uintAt(await read(roles, 'isActiveParticipant(address)', grantee), 0) === 0n) {
      skipped.push(`${grantee} (no longer an active participant)`);
      continue;
    }
    const target = await onChain(grantee);
    const items = [];
    for (const scope of scopes) {
      items.push(await c.wrapGrantKeys({
        plaintext: c.grantPlaintext(keys, me.epoch, scope), scope, patient: state.account, grantee,
        granteePublicKey: c.bytesToHex(target.publicKey), epoch: me.epoch,
      }));
    }
    await send(state.chain.consent, encodeShare(grantee, c.concat(...items)), `share the new epoch's keys with ${grantee}`);
    done.push(grantee);
  }
  const parts = [];
  if (done.length) parts.push(`Epoch ${me.epoch}'s keys were re-shared with ${done.join(', ')}.`);
  if (skipped.length) parts.push(`Not re-shared: ${skipped.join(', ')}.`);
  return parts.join(' ');
}

// --- record grants: a record's data key from its envelope header ------------------------------
const RECORD_ADDED = c.bytesToHex(c.keccak256(enc.encode('RecordAdded(address,uint64,address,bytes32,bytes32,uint64,bytes)')));
/**
 * A Record scope for the connected patient's record `id`, with the record's data key: the
 * record's (epoch, category) read through the wallet (its RecordAdded event), its envelope
 * header from the server, the symmetric slot opened with K_data of that (epoch, category)
 * derived here, and the header MAC checked in the record's context (this chain, record index
 * and patient), so a header of another patient or deployment, or a modified one, is refused.
 */
async function recordScope(id) {
  const d = state.deployment;
  const { index } = state.chain ?? await chainDeployment();
  const logs = await wallet('eth_getLogs', [{
    address: index, fromBlock: '0x' + BigInt(d.deployedAtBlock ?? 0).toString(16), toBlock: 'latest',
    topics: [RECORD_ADDED, topicOf(state.account), c.bytesToHex(pad32(c.hexToBytes(id.toString(16).padStart(16, '0'))))],
  }]);
  const log = logs.find((l) => !l.removed && l.address.toLowerCase() === index);
  if (!log) throw new UserError(`You have no record #${id} on chain: nothing was signed.`);
  const data = c.hexToBytes(log.data);
  const category = word(data, 1);
  const epoch = uintAt(data, 2);
  const { header } = await api(`/api/patients/${state.account}/records/${id}/header`);
  const headerBytes = c.hexToBytes(header);
  if (headerBytes.length > MAX_HEADER_LEN) throw new UserError(`The server sent ${headerBytes.length} bytes as record #${id}'s header, more than a header can be: nothing was signed.`);
  const keys = await masterSecret();
  const { data: dataKek } = c.categoryKeys(c.epochKey(keys.masterOf(epoch), epoch), category);
  try {
    const dataKey = await recordDataKey({ headerBytes, chainId: d.chainId, recordIndex: d.recordIndex, patient: state.account, dataKek });
    return { kind: 2, value: pad32(c.hexToBytes(id.toString(16).padStart(16, '0'))), dataKey };
  } catch (e) {
    if (e instanceof EnvelopeError) throw new UserError(`Record #${id}'s envelope cannot give its key: ${e.message}. Nothing was signed.`);
    throw e;
  } finally {
    dataKek.fill(0);
  }
}

// --- access that ends: rotating the epoch (crates/ehr-sdk/src/rotation.rs) ----------------------
const KEY_EVENTS = {
  granted: c.bytesToHex(c.keccak256(enc.encode('AccessGranted(address,address,bytes32,(uint8,bytes32),uint8,uint64,uint64,address,bytes)'))),
  shared: c.bytesToHex(c.keccak256(enc.encode('EpochKeysShared(address,address,uint64,bytes)'))),
};
const topicOf = (address) => c.bytesToHex(pad32(c.hexToBytes(address)));
/**
 * The keys the patient handed `grantee` (grants and shares, { epoch, keysHash }), read through
 * the wallet up to block `head` and checked against the registry's key-material commitment
 * (`keyChainOf` at that block), so a node that leaves one out is caught as the SDK catches it.
 */
async function keyEvents(grantee, head) {
  const { consent } = state.chain;
  const block = '0x' + head.toString(16);
  const logs = await wallet('eth_getLogs', [{
    address: consent, fromBlock: '0x' + BigInt(state.deployment.deployedAtBlock ?? 0).toString(16), toBlock: block,
    topics: [[KEY_EVENTS.granted, KEY_EVENTS.shared], topicOf(state.account), topicOf(grantee)],
  }]);
  const events = logs.filter((l) => !l.removed && l.address.toLowerCase() === consent).map((l) => {
    const data = c.hexToBytes(l.data);
    const granted = l.topics[0].toLowerCase() === KEY_EVENTS.granted;
    const keys = granted ? bytesAt(data, 6) : bytesAt(data, 0);
    return {
      epoch: granted ? uintAt(data, 4) : BigInt(l.topics[3]),
      scopeId: granted ? l.topics[3] : c.bytesToHex(new Uint8Array(32)),
      keysHash: c.bytesToHex(c.keccak256(keys)),
    };
  });
  const committed = c.bytesToHex(c.hexToBytes(await wallet('eth_call', [{ to: consent, data: encodeCall('keyChainOf(address,address)', state.account, grantee) }, block])));
  if (keyChainHead(events) !== committed) {
    throw new UserError(`The chain's key events for ${grantee} do not match what the consent registry committed to: your wallet's node may be hiding some. Nothing was sent.`);
  }
  return events;
}

// Grants this page signed for the relay, remembered until they are on chain or rotated away.
function pendingKey() {
  return `ehrkit.pending.${state.deployment.chainId}.${state.chain.consent}.${state.account}`;
}
function pendingGrants() {
  try {
    return JSON.parse(localStorage.getItem(pendingKey()) ?? '[]').map((p) => ({
      ...p, epoch: BigInt(p.epoch), nonce: BigInt(p.nonce), deadline: BigInt(p.deadline),
    }));
  } catch { return []; }
}
function savePending(list) {
  const plain = list.map((p) => ({ ...p, epoch: String(p.epoch), nonce: String(p.nonce), deadline: String(p.deadline) }));
  if (plain.length) localStorage.setItem(pendingKey(), JSON.stringify(plain));
  else localStorage.removeItem(pendingKey());
}
function rememberSigned(p) { savePending([...pendingGrants().filter((x) => x.keysHash !== p.keysHash), p]); }
function forgetSigned(hashes) { savePending(pendingGrants().filter((p) => !hashes.includes(p.keysHash))); }

/** rotation::check for the connected patient: its epoch, stored grants and remembered signatures. */
async function checkRotation() {
  await chainDeployment();
  const headHex = await wallet('eth_blockNumber');
  const head = BigInt(headHex);
  const block = await wallet('eth_getBlockByNumber', [headHex, false]);
  const { consent } = state.chain;
  const at = (signature, ...args) => wallet('eth_call', [{ to: consent, data: encodeCall(signature, ...args) }, headHex]).then((r) => uintAt(c.hexToBytes(r), 0));
  const [epoch, nonce, { grants }] = await Promise.all([
    at('epochOf(address)', state.account), at('nonces(address)', state.account), api(`/api/patients/${state.account}/grants`),
  ]);
  return {
    grants,
    ...await rotationCheck({
      epoch, now: BigInt(block.timestamp), nonce, grants, pending: pendingGrants(),
      keyEvents: (grantee) => keyEvents(grantee, head),
    }),
  };
}

/**
 * rotation::maintain: rotates the epoch (rotateEpoch from the wallet, then the new epoch
 * re-shared with the grantees in force) when the check asks for it, and forgets the settled
 * signatures. Runs before the page grants or approves, so nothing new is handed out under keys
 * that should be dead. Returns a sentence for the patient, or '' when nothing was needed.
 */
async function maintainKeys() {
  const found = await checkRotation();
  let said = '';
  if (found.reasons.length) {
    const why = found.reasons.map((r) => describeReason(r, when)).join('; ');
    say(`Your key epoch must rotate first: ${why}.`);
    await send(state.chain.consent, c.bytesToHex(selector('rotateEpoch()')), 'rotate your key epoch');
    const shared = await reshare(found.grants);
    said = `Your key epoch rotated to ${found.epoch + 1n} (${why}). ${shared}`;
  }
  forgetSigned(found.settled);
  return said;
}

function rotateNow() {
  act('Rotating your key epoch', async () => {
    await checkChain();
    const said = await maintainKeys();
    await refresh();
    return said || 'Nothing asks for a rotation any more.';
  });
}

function endEmergency(doctor) {
  act('Ending emergency access', async () => {
    await checkChain();
    await chainDeployment();
    const data = encodeCall('closeEmergencyAccess(address,address)', state.account, doctor);
    await send(state.chain.consent, data, 'end the emergency access');
    await refresh();
    return `Emergency access of ${doctor} ended.`;
  });
}

async function connect() {
  await act('Connecting to your wallet', async () => {
    if (!state.provider) throw new UserError('Choose which wallet to use first.');
    const accounts = await wallet('eth_requestAccounts');
    if (!accounts?.length) throw new UserError('The wallet shared no account.');
    await checkChain();
    state.account = accounts[0].toLowerCase();
    await chainDeployment();
    state.viewing = state.account;
    dropKeys();
    $('wallet-state').textContent = `Connected: ${state.account} (${state.walletName})`;
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
  $('rotate').addEventListener('click', rotateNow);
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
  discoverWallets();
}

// --- wallets: EIP-6963 discovery, window.ethereum as fallback --------------------------------
const WALLET_WAIT_MS = 400;
function discoverWallets() {
  window.addEventListener('eip6963:announceProvider', (event) => {
    const { info, provider } = event.detail ?? {};
    if (!info?.uuid || typeof info.name !== 'string' || typeof provider?.request !== 'function') return;
    if (state.wallets.some((w) => w.info.uuid === info.uuid || w.provider === provider)) return;
    // A wallet that also sits in window.ethereum is listed once, under its own name.
    state.wallets = state.wallets.filter((w) => w.provider !== provider);
    state.wallets.push({ info, provider });
    renderWallets();
  });
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  // Wallets answer the request synchronously or soon after; window.ethereum is the fallback
  // for a wallet that does not speak EIP-6963.
  setTimeout(() => {
    const legacy = window.ethereum;
    if (legacy && typeof legacy.request === 'function' && !state.wallets.some((w) => w.provider === legacy)) {
      state.wallets.push({ info: { uuid: 'window.ethereum', name: 'Browser wallet (window.ethereum)' }, provider: legacy });
    }
    renderWallets();
    // One wallet: nothing to choose. Several: the patient picks.
    if (state.wallets.length === 1 && !state.provider) chooseWallet(state.wallets[0]);
    if (!state.wallets.length) {
      $('connect').hidden = true;
      $('view-form').hidden = false;
      $('wallet-state').textContent = 'No wallet found: read-only mode. You can look at a patient\'s grants and audit trail; to approve, grant or revoke, open this page in a browser with an Ethereum wallet.';
    }
  }, WALLET_WAIT_MS);
}
function renderWallets() {
  const list = $('wallet-options');
  list.replaceChildren();
  for (const w of state.wallets) {
    const label = document.createElement('label');
    label.className = 'wallet-option';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'wallet';
    input.value = w.info.uuid;
    input.checked = state.provider === w.provider;
    input.addEventListener('change', () => chooseWallet(w));
    label.append(input);
    // Icons are data: URIs by EIP-6963; anything else is not loaded (CSP allows data: only).
    if (typeof w.info.icon === 'string' && w.info.icon.startsWith('data:image/')) {
      const img = document.createElement('img');
      img.src = w.info.icon; img.alt = ''; img.width = 20; img.height = 20;
      label.append(img);
    }
    label.append(document.createTextNode(w.info.name));
    list.append(label);
  }
  $('wallet-list').hidden = state.wallets.length === 0;
}
function onAccountsChanged() { dropKeys(); state.account = null; $('wallet-state').textContent = 'The wallet changed accounts: connect again.'; applyMode(); }
function onChainChanged() { dropKeys(); say('The wallet changed networks: connect again.'); }
function chooseWallet(w) {
  if (state.provider === w.provider) return;
  state.provider?.removeListener?.('accountsChanged', onAccountsChanged);
  state.provider?.removeListener?.('chainChanged', onChainChanged);
  state.provider = w.provider;
  state.walletName = w.info.name;
  state.account = null;
  dropKeys();
  state.chain = null;
  w.provider.on?.('accountsChanged', onAccountsChanged);
  w.provider.on?.('chainChanged', onChainChanged);
  for (const input of document.querySelectorAll('input[name="wallet"]')) input.checked = input.value === w.info.uuid;
  $('wallet-state').textContent = `${w.info.name} chosen: connect it.`;
  applyMode();
}

start();
