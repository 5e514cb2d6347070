// ZITADEL-shaped OpenID Provider for tests and the local demo.
// Local development provider — NOT a real ZITADEL. Loopback use only: it has unauthenticated
// /__test__/ control endpoints and fixed, committed signing keys.
//
// Start: node devtools/op/server.mjs   (prints "OP ready http://HOST:PORT" when listening)
import {
  createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, sign as cryptoSign, verify as cryptoVerify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

// oidc-provider prints notices with console.info (stdout); keep stdout for the ready line only.
console.info = (...args) => console.error(...args);

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;

function envStr(name, dflt) {
  return env[name] === undefined ? dflt : env[name];
}
function envInt(name, dflt) {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number.parseInt(raw, 10);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
}
function envList(name, dflt) {
  return envStr(name, dflt).split(',').map((s) => s.trim()).filter(Boolean);
}

// ---------------------------------------------------------------- configuration
const HOST = envStr('OP_HOST', '127.0.0.1');
const PORT = envInt('OP_PORT', 9000);
const ISSUER = `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${PORT}`;
const CLIENT_ID = envStr('OP_CLIENT_ID', '243864426485212395@zitadel-bff');
const CLIENT_SECRET = envStr('OP_CLIENT_SECRET', 'dev-client-secret-not-for-production');
const CLIENT_NAME = envStr('OP_CLIENT_NAME', 'zitadel-bff demo'); // shown on the login page, like ZITADEL's app name
// OP_CLIENT_AUTH=private_key_jwt: the client authenticates with an assertion signed by the key
// whose public JWK set is in OP_CLIENT_JWKS_FILE (ZITADEL's "JWT" application authentication).
const CLIENT_AUTH = envStr('OP_CLIENT_AUTH', '');
const CLIENT_JWKS_FILE = envStr('OP_CLIENT_JWKS_FILE', '');
const KEY_JWT_CLIENT = CLIENT_AUTH === 'private_key_jwt';
if (KEY_JWT_CLIENT && !CLIENT_JWKS_FILE) throw new Error('OP_CLIENT_AUTH=private_key_jwt needs OP_CLIENT_JWKS_FILE');
const PUBLIC_CLIENT = CLIENT_SECRET === '' && !KEY_JWT_CLIENT;
const REDIRECT_URIS = envList('OP_REDIRECT_URIS', 'http://127.0.0.1:3000/auth/callback');
const POST_LOGOUT_REDIRECT_URIS = envList('OP_POST_LOGOUT_REDIRECT_URIS', 'http://127.0.0.1:3000/auth/logout/callback');
const BACKCHANNEL_LOGOUT_URI = envStr('OP_BACKCHANNEL_LOGOUT_URI', 'http://127.0.0.1:3000/auth/backchannel-logout');
const ACCESS_TOKEN_TTL = envInt('OP_ACCESS_TOKEN_TTL', 43200);
let tokenDelayMs = 0; // POST /__test__/token-delay changes it at run time
let accessTokenTtl = ACCESS_TOKEN_TTL; // POST /__test__/access-token-ttl changes it at run time
const ID_TOKEN_TTL = envInt('OP_ID_TOKEN_TTL', 43200);
const REFRESH_TOKEN_TTL = envInt('OP_REFRESH_TOKEN_TTL', 2592000);
const SESSION_TTL = envInt('OP_SESSION_TTL', 86400);
const CLOCK_TOLERANCE = envInt('OP_CLOCK_TOLERANCE', 0);
const JWKS_FILE = resolve(envStr('OP_JWKS_FILE', join(here, 'keys', 'jwks.json')));
const JWKS_ROTATED_FILE = resolve(envStr('OP_JWKS_ROTATED_FILE', join(here, 'keys', 'jwks-rotated.json')));
const PROJECT_ID = envStr('OP_PROJECT_ID', '243864426485212394');

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const ROUTES = {
  authorization: '/oauth/v2/authorize',
  token: '/oauth/v2/token',
  introspection: '/oauth/v2/introspect',
  revocation: '/oauth/v2/revoke',
  jwks: '/oauth/v2/keys',
  userinfo: '/oidc/v1/userinfo',
  end_session: '/oidc/v1/end_session',
};

// ---------------------------------------------------------------- users (ZITADEL shape)
const ORG = { id: '301234567890123000', name: 'ACME', domain: 'acme.localhost' };
const b64u = (s) => Buffer.from(s, 'utf8').toString('base64url'); // base64url, no padding
const USERS = [
  {
    login: 'admin',
    sub: '301234567890123456',
    name: 'Ada Admin',
    given_name: 'Ada',
    family_name: 'Admin',
    email: 'admin@acme.localhost',
    email_verified: true,
    locale: 'en',
    roles: ['admin', 'user'],
    metadata: { department: 'platform' },
  },
  {
    login: 'alice',
    sub: '301234567890123457',
    name: 'Alice Example',
    given_name: 'Alice',
    family_name: 'Example',
    email: 'alice@acme.localhost',
    email_verified: false,
    locale: 'en',
    roles: ['user'],
    metadata: {},
  },
  {
    // Markup in every claim the app displays: it must show it as text (the escaping tests).
    // Unlisted, so the login page (and its screenshots) shows admin and alice only.
    login: 'mallory',
    listed: false,
    sub: '301234567890123458',
    name: '<script>alert(1)</script>',
    given_name: '"><img src=x onerror=alert(1)>',
    family_name: "'><svg onload=alert(1)>",
    email: 'mallory@acme.localhost',
    email_verified: false,
    locale: 'en',
    roles: ['user'],
    metadata: { note: '<b onmouseover=alert(1)>hi</b>' },
  },
];
const usersBySub = new Map(USERS.map((u) => [u.sub, u]));
function userByLogin(name) {
  const n = String(name ?? '').trim().toLowerCase();
  if (!n) return undefined;
  return USERS.find((u) => u.login === n || u.email === n || `${u.login}@${ORG.domain}` === n || u.sub === n);
}

const ROLES_CLAIM = 'urn:zitadel:iam:org:project:roles';
const PROJECT_ROLES_CLAIM = `urn:zitadel:iam:org:project:${PROJECT_ID}:roles`;
const METADATA_CLAIM = 'urn:zitadel:iam:user:metadata';
const RO = 'urn:zitadel:iam:user:resourceowner';

function userClaims(u) {
  const roles = Object.fromEntries(u.roles.map((r) => [r, { [ORG.id]: ORG.domain }]));
  const claims = {
    sub: u.sub,
    name: u.name,
    given_name: u.given_name,
    family_name: u.family_name,
    preferred_username: u.login,
    locale: u.locale,
    email: u.email,
    [ROLES_CLAIM]: roles,
    [PROJECT_ROLES_CLAIM]: roles,
    [`${RO}:id`]: ORG.id,
    [`${RO}:name`]: ORG.name,
    [`${RO}:primary_domain`]: ORG.domain,
  };
  if (u.email_verified) claims.email_verified = true; // ZITADEL omits false
  const md = Object.entries(u.metadata ?? {});
  if (md.length) claims[METADATA_CLAIM] = Object.fromEntries(md.map(([k, v]) => [k, b64u(v)]));
  return claims;
}

// ---------------------------------------------------------------- keys
function loadJwk(file) {
  const jwks = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(jwks.keys) || !jwks.keys.length) throw new Error(`${file}: no keys`);
  return jwks.keys[0];
}
const KEYSETS = {
  primary: loadJwk(JWKS_FILE),
  rotated: loadJwk(JWKS_ROTATED_FILE),
};
const keyObjectsByKid = new Map(Object.values(KEYSETS).map((jwk) => [jwk.kid, createPrivateKey({ key: jwk, format: 'jwk' })]));

function signJwt(header, payload, kid) {
  const key = keyObjectsByKid.get(kid) ?? keyObjectsByKid.get(KEYSETS[current].kid);
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}
function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
  };
}
const now = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------- in-memory adapter (shared by both providers)
const store = new Map(); // `${model}:${id}` -> { payload, exp (ms epoch | Infinity) }
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

function storeGet(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.exp <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e.payload;
}
function* storeEntries(model) {
  const prefix = `${model}:`;
  for (const key of [...store.keys()]) {
    if (!key.startsWith(prefix)) continue;
    const payload = storeGet(key);
    if (payload) yield [key, payload];
  }
}

class TestAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), { payload, exp: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity });
  }

  async find(id) { return storeGet(this.key(id)); }

  async findByUid(uid) {
    for (const [, p] of storeEntries(this.model)) if (p.uid === uid) return p;
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [, p] of storeEntries(this.model)) if (p.userCode === userCode) return p;
    return undefined;
  }

  async consume(id) {
    const p = storeGet(this.key(id));
    if (p) p.consumed = now();
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) { revokeGrantTokens(grantId); }
}

function revokeGrantTokens(grantId) {
  let n = 0;
  for (const model of GRANTABLE) {
    for (const [key, p] of storeEntries(model)) {
      if (p.grantId === grantId) {
        store.delete(key);
        n += 1;
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------- stats
function freshStats() {
  return {
    token_requests: { authorization_code: 0, refresh_token: 0 },
    revocations: 0,
    end_sessions: 0,
    backchannel_sent: 0,
    backchannel_failed: 0,
    // Every client assertion received (decoded, unverified: oidc-provider verifies it), so tests
    // can check what the app sent: header, claims and the endpoint it was sent to.
    client_assertions: [],
    // Every authorize request's parameters as the app sent them (prompt, max_age, scope,
    // login_hint, ui_locales, ...), so tests can check what each option adds.
    authorize_requests: [],
  };
}

function recordAssertion(path, body) {
  if (typeof body.client_assertion !== 'string') return;
  const [header, payload] = body.client_assertion.split('.').slice(0, 2).map((part) => {
    try { return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')); } catch { return null; }
  });
  stats.client_assertions.push({ endpoint: path, type: body.client_assertion_type, header, payload });
  stats.client_assertions.splice(0, Math.max(0, stats.client_assertions.length - 50));
}
let stats = freshStats();
let introspectionAud = null; // POST /__test__/introspection-aud sets it; null = ZITADEL's own

// ---------------------------------------------------------------- small http helpers
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

async function readBody(ctx) {
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > 64 * 1024) ctx.throw(413, 'request entity too large');
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  if (!raw) return {};
  if (ctx.is('application/json')) {
    try { return JSON.parse(raw); } catch { ctx.throw(400, 'invalid JSON body'); }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = JSON.stringify(body);
}

const PAGE_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;padding:40px 16px}
main{max-width:380px;margin:0 auto;background:#fff;border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.15);padding:24px 28px}
.banner{background:#fff4d6;border:1px solid #e0b64a;color:#5c4200;border-radius:6px;padding:8px 10px;font-size:.9em;margin-bottom:16px}
h1{font-size:1.4em;margin:0 0 12px}label{display:block;font-weight:600;margin:12px 0 6px}
input[type=text]{width:100%;box-sizing:border-box;font-size:1em;padding:9px 10px;border:1px solid #9aa3b2;border-radius:5px}
input[type=text]:focus{outline:2px solid #2f6fdb;outline-offset:1px}
button{margin-top:16px;width:100%;font-size:1em;font-weight:600;padding:10px;border:0;border-radius:5px;background:#2f6fdb;color:#fff;cursor:pointer}
button:hover{background:#2259b8}.error{color:#a4161a;background:#fde8e8;border-radius:5px;padding:8px 10px;margin:8px 0}
.hint{color:#555;font-size:.85em;margin-top:14px}code{background:#eef0f3;padding:0 3px;border-radius:3px}`;

function page(title, inner) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} — local test provider</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
<p class="banner" role="note"><strong>Local development provider — not a real ZITADEL.</strong> For tests and demos only.</p>
${inner}
</main>
</body>
</html>`;
}

function loginPage(uid, { username = '', error, clientId, register = false } = {}) {
  const title = register ? 'Create your account' : 'Sign in';
  return page(title, `<h1>${title}</h1>
${register ? '<p class="hint">The registration form of ZITADEL would be here; in this local provider, pick a known login name to continue.</p>' : ''}
${clientId ? `<p>to continue to <strong>${esc(CLIENT_NAME)}</strong></p>` : ''}
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/ui/login/${esc(uid)}" autocomplete="off">
<label for="username">Login name</label>
<input type="text" id="username" name="username" value="${esc(username)}" required autofocus autocapitalize="none" spellcheck="false">
<button type="submit">Continue</button>
</form>
<p class="hint">No password is asked. Known users: ${USERS.filter((u) => u.listed !== false).map((u) => `<code>${esc(u.login)}</code>`).join(', ')}.</p>`);
}

// ---------------------------------------------------------------- interaction (login + automatic consent)
async function grantEverything(provider, details, accountId) {
  const { params } = details;
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
    if (grant && grant.accountId !== accountId) grant = undefined;
  }
  grant ??= new provider.Grant({ accountId, clientId: params.client_id });
  if (params.scope) grant.addOIDCScope(String(params.scope));
  if (String(params.scope ?? '').split(' ').includes(OFFLINE_ALIAS)) grant.addOIDCScope('offline_access');
  const d = details.prompt?.details ?? {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
  }
  if (params.claims) {
    try {
      const c = JSON.parse(params.claims);
      grant.addOIDCClaims([...Object.keys(c.id_token ?? {}), ...Object.keys(c.userinfo ?? {})]);
    } catch { /* ignore malformed claims param */ }
  }
  return grant.save();
}

function interactionRoutes(provider) {
  return async function interactionMiddleware(ctx, next) {
    const m = /^\/ui\/login\/([\w-]+)\/?$/.exec(ctx.path);
    if (!m) return next();
    ctx.set('Cache-Control', 'no-store');
    let details;
    try {
      details = await provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Sign in', '<h1>Sign-in request expired</h1><p class="error">This sign-in request is unknown or expired. Go back to the application and start again.</p>');
      return undefined;
    }
    if (details.uid !== m[1]) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = page('Sign in', '<h1>Sign-in request mismatch</h1><p class="error">Start again from the application.</p>');
      return undefined;
    }
    const { prompt, params, session } = details;

    // consent only (user already signed in here): approve automatically, like ZITADEL.
    if (prompt.name !== 'login' && session?.accountId) {
      const grantId = await grantEverything(provider, details, session.accountId);
      const to = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      ctx.status = 303;
      ctx.redirect(to);
      return undefined;
    }

    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, { username: params.login_hint ?? '', clientId: params.client_id, register: params.x_zitadel_prompt === 'create' });
      return undefined;
    }
    if (ctx.method !== 'POST') {
      ctx.status = 405;
      return undefined;
    }
    const body = await readBody(ctx);
    const user = userByLogin(body.username);
    if (!user) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, { username: body.username ?? '', error: 'Unknown user. Try one of the known login names below.', clientId: params.client_id });
      return undefined;
    }
    const grantId = await grantEverything(provider, details, user.sub);
    const to = await provider.interactionResult(ctx.req, ctx.res, {
      login: { accountId: user.sub, amr: ['pwd'], remember: true },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  };
}

// ---------------------------------------------------------------- logout pages
async function logoutSource(ctx, form) {
  // keep oidc-provider's form (id="op.logoutForm", absolute action, hidden xsrf) and add logout=yes
  const formHtml = form.replace('</form>', '<input type="hidden" name="logout" value="yes"/><noscript><button type="submit">Sign out</button></noscript></form>');
  ctx.type = 'html';
  ctx.body = page('Signing out', `<h1>Signing out…</h1>
${formHtml}
<script>document.getElementById('op.logoutForm').submit();</script>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1>Signed out</h1><p>You are signed out of the local test provider.</p>');
}

async function renderError(ctx, out, error) {
  if (ctx.oidc?.route?.startsWith('end_session')) { // ZITADEL: 400 JSON, no redirect
    json(ctx, ctx.status && ctx.status >= 400 ? ctx.status : 400, out);
    return;
  }
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>Something went wrong</h1>${Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('')}`);
}

// ---------------------------------------------------------------- provider factory
const cookieKeys = [createHmac('sha256', 'zitadel-shaped-test-op').update(ISSUER).digest('base64url')];

function clientAuthentication() {
  if (KEY_JWT_CLIENT) {
    const { keys } = JSON.parse(readFileSync(CLIENT_JWKS_FILE, 'utf8'));
    return { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys } };
  }
  if (PUBLIC_CLIENT) return { token_endpoint_auth_method: 'none' };
  return { token_endpoint_auth_method: 'client_secret_basic', client_secret: CLIENT_SECRET };
}

const clientMeta = {
  client_id: CLIENT_ID,
  client_name: CLIENT_NAME,
  application_type: 'web',
  require_auth_time: true,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: REDIRECT_URIS,
  post_logout_redirect_uris: POST_LOGOUT_REDIRECT_URIS,
  id_token_signed_response_alg: 'RS256',
  ...clientAuthentication(),
  ...(BACKCHANNEL_LOGOUT_URI ? { backchannel_logout_uri: BACKCHANNEL_LOGOUT_URI, backchannel_logout_session_required: true } : {}),
};

const OFFLINE_ALIAS = 'urn:test-op:offline_access'; // see preMiddleware
const hasOffline = (scopes) => scopes.has(OFFLINE_ALIAS) || scopes.has('offline_access');
const ZITADEL_SCOPES = ['urn:zitadel:iam:org:projects:roles', 'urn:zitadel:iam:org:project:roles', 'urn:zitadel:iam:user:metadata', 'urn:zitadel:iam:user:resourceowner'];

function buildProvider(keyName) {
  const jwk = KEYSETS[keyName];
  const provider = new Provider(ISSUER, {
    adapter: TestAdapter,
    clients: [clientMeta],
    jwks: { keys: [jwk] },
    routes: ROUTES,
    cookies: { keys: cookieKeys },
    clockTolerance: CLOCK_TOLERANCE,
    allowOmittingSingleRegisteredRedirectUri: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'offline_access', OFFLINE_ALIAS, ...ZITADEL_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'locale'],
      email: ['email', 'email_verified'],
      'urn:zitadel:iam:org:projects:roles': [ROLES_CLAIM, PROJECT_ROLES_CLAIM],
      'urn:zitadel:iam:org:project:roles': [ROLES_CLAIM, PROJECT_ROLES_CLAIM],
      'urn:zitadel:iam:user:metadata': [METADATA_CLAIM],
      'urn:zitadel:iam:user:resourceowner': [`${RO}:id`, `${RO}:name`, `${RO}:primary_domain`],
      sid: null,
      auth_time: null,
      acr: null,
      iss: null,
    },
    conformIdTokenClaims: true, // profile/email/roles come from userinfo only (ZITADEL default)
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
    },
    interactions: { url: (ctx, interaction) => `/ui/login/${interaction.uid}` },
    extraParams: ['x_zitadel_prompt'],
    findAccount: async (ctx, sub) => {
      const u = usersBySub.get(sub);
      if (!u) return undefined;
      return { accountId: sub, claims: async () => userClaims(u) };
    },
    issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token') && hasOffline(code.scopes),
    expiresWithSession: async (ctx, code) => !hasOffline(code.scopes),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => accessTokenTtl,
      IdToken: ID_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
      Session: SESSION_TTL,
      Grant: Math.max(REFRESH_TOKEN_TTL, SESSION_TTL, ACCESS_TOKEN_TTL),
      Interaction: 3600,
      AuthorizationCode: 60,
    },
    // lift oidc-provider's SSRF protection (it blocks 127.0.0.0/8): this provider only talks to loopback apps
    fetch: (url, options) => {
      delete options.dispatcher;
      return globalThis.fetch(url, options);
    },
    clientBasedCORS: () => false,
    renderError,
  });

  // ---- ZITADEL-shaped ID/logout tokens: aud [client_id, project_id], azp, client_id, header typ JWT
  const { IdToken, Client } = provider;
  const originalIssue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function issue(opts = {}) {
    const jwt = await originalIssue.call(this, opts);
    if (opts.use !== 'idtoken' && opts.use !== 'logout') return jwt;
    const { header, payload } = decodeJwt(jwt);
    if (header.alg !== 'RS256' || !keyObjectsByKid.has(header.kid)) return jwt;
    const clientId = this.client.clientId;
    if (opts.use === 'idtoken') {
      payload.aud = [clientId, PROJECT_ID];
      payload.azp = clientId;
      payload.client_id = clientId;
      const at = this.ctx?.oidc?.entities?.AccessToken;
      if (!payload.at_hash && at?.jti) { // oidc-provider only adds at_hash for implicit/hybrid; ZITADEL always does
        payload.at_hash = createHash('sha256').update(at.jti).digest().subarray(0, 16).toString('base64url');
      }
    } else {
      payload.aud = [clientId];
      payload.exp = payload.iat + 900;
    }
    return signJwt({ alg: 'RS256', kid: header.kid, typ: 'JWT' }, payload, header.kid);
  };
  // sid always in the ID token (ZITADEL), even without a back-channel logout URI
  Client.prototype.includeSid = () => true;

  provider.use(preMiddleware);
  provider.use(interactionRoutes(provider));
  provider.use(testRoutes);

  provider.on('end_session.success', () => { stats.end_sessions += 1; });
  provider.on('backchannel.success', () => { stats.backchannel_sent += 1; });
  provider.on('backchannel.error', (ctx, err) => {
    stats.backchannel_failed += 1;
    console.error(`[op] back-channel logout failed: ${err.message}`);
  });
  provider.on('server_error', (ctx, err) => console.error(`[op] server_error on ${ctx.method} ${ctx.path}: ${err.stack ?? err}`));
  provider.on('grant.error', (ctx, err) => console.error(`[op] token request failed: ${err.error ?? err.name}: ${err.error_description ?? err.message}`));
  provider.on('authorization.error', (ctx, err) => console.error(`[op] authorize failed: ${err.error ?? err.name}: ${err.error_description ?? err.message}`));
  provider.on('end_session.error', (ctx, err) => console.error(`[op] end_session failed: ${err.error ?? err.name}: ${err.error_description ?? err.message}`));
  return provider;
}

// ---------------------------------------------------------------- middleware before oidc-provider's router
const BODY_ROUTES = new Set([ROUTES.token, ROUTES.revocation, ROUTES.introspection]);
const ADVERTISED_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

async function preMiddleware(ctx, next) {
  if (ctx.method === 'POST' && BODY_ROUTES.has(ctx.path) && ctx.is('application/x-www-form-urlencoded')) {
    // parse once: count requests, and accept client_secret_post for a client_secret_basic client
    const body = await readBody(ctx);
    recordAssertion(ctx.path, body);
    if (!PUBLIC_CLIENT && !KEY_JWT_CLIENT && body.client_secret !== undefined && !ctx.get('authorization')) {
      const id = body.client_id ?? CLIENT_ID;
      ctx.request.headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(body.client_secret)}`).toString('base64')}`;
      delete body.client_secret;
      delete body.client_id;
    }
    ctx.request.body = body;
    if (ctx.path === ROUTES.token && body.grant_type in stats.token_requests) stats.token_requests[body.grant_type] += 1;
    // POST /__test__/token-delay: a slow token endpoint (a request in flight while the app stops)
    if (ctx.path === ROUTES.token && tokenDelayMs > 0) await new Promise((r) => setTimeout(r, tokenDelayMs));
    if (ctx.path === ROUTES.revocation) stats.revocations += 1;
  }

  if (ctx.path === ROUTES.authorization && ctx.method === 'GET') {
    stats.authorize_requests.push({ ...ctx.query });
    stats.authorize_requests.splice(0, Math.max(0, stats.authorize_requests.length - 50));
    // ZITADEL's prompt=create shows its registration form; oidc-provider does not know the value:
    // ask it for a login, and tell our login page to show itself as the registration form.
    if (ctx.query.prompt === 'create') ctx.query = { ...ctx.query, prompt: 'login', x_zitadel_prompt: 'create' };
  }

  // oidc-provider drops offline_access from authorize requests unless prompt=consent is sent; ZITADEL
  // does not. Carry it under an alias scope oidc-provider does not special-case (mapped back below).
  if (ctx.path === ROUTES.authorization && ctx.method === 'GET' && typeof ctx.query.scope === 'string') {
    const scope = ctx.query.scope.split(' ');
    if (scope.includes('offline_access')) {
      ctx.query = { ...ctx.query, scope: scope.map((s) => (s === 'offline_access' ? OFFLINE_ALIAS : s)).join(' ') };
    }
  }

  // oidc-provider reads the id_token_hint's `aud` as a single client id; ours is [client_id, project_id]
  // (ZITADEL). A hint that verifies with one of our keys is re-signed with aud=azp for the provider
  // (this also keeps hints signed before a key rotation working).
  if (ctx.path === ROUTES.end_session) {
    if (ctx.method === 'GET' && typeof ctx.query.id_token_hint === 'string') {
      const hint = normalizeHint(ctx.query.id_token_hint);
      if (hint) ctx.query = { ...ctx.query, id_token_hint: hint };
    } else if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
      const body = await readBody(ctx);
      if (typeof body.id_token_hint === 'string') body.id_token_hint = normalizeHint(body.id_token_hint) ?? body.id_token_hint;
      ctx.request.body = body;
    }
  }

  await next();

  if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, scopes_supported: ADVERTISED_SCOPES, code_challenge_methods_supported: ['S256'] };
  }
  if (BODY_ROUTES.has(ctx.path) && ctx.status === 401 && ctx.body?.error === 'invalid_client') {
    ctx.status = 400; // ZITADEL answers every OAuth error, invalid_client included, with 400
    ctx.remove('WWW-Authenticate');
  }
  if (ctx.path === ROUTES.introspection && ctx.status === 200 && ctx.body?.active === true) {
    // ZITADEL's introspection names the project's client ids and the project in aud, and adds
    // the user's claims the token's scopes cover (roles included). A test may set aud.
    const user = USERS.find((u) => u.sub === ctx.body.sub);
    const scopes = String(ctx.body.scope ?? '').split(' ');
    const claims = user ? userClaims(user) : {};
    const extra = { aud: introspectionAud ?? [CLIENT_ID, PROJECT_ID], username: user?.login };
    if (scopes.includes('urn:zitadel:iam:org:projects:roles')) {
      extra[ROLES_CLAIM] = claims[ROLES_CLAIM];
      extra[PROJECT_ROLES_CLAIM] = claims[PROJECT_ROLES_CLAIM];
    }
    if (scopes.includes('email')) Object.assign(extra, { email: claims.email, email_verified: claims.email_verified });
    ctx.body = { ...ctx.body, ...extra };
  }
  if ((ctx.path === ROUTES.token || ctx.path === ROUTES.introspection) && ctx.body && typeof ctx.body.scope === 'string') {
    ctx.body.scope = ctx.body.scope.split(' ').map((s) => (s === OFFLINE_ALIAS ? 'offline_access' : s)).join(' ');
  }
  if (ctx.path === ROUTES.jwks && ctx.status === 200) {
    ctx.set('Cache-Control', 'max-age=300, must-revalidate');
  }
}

function verifyOurJwt(jwt) {
  try {
    const [h, p, sig] = jwt.split('.');
    const { header, payload } = decodeJwt(jwt);
    const key = keyObjectsByKid.get(header.kid);
    if (header.alg !== 'RS256' || !key) return undefined;
    if (!cryptoVerify('sha256', Buffer.from(`${h}.${p}`), createPublicKey(key), Buffer.from(sig, 'base64url'))) return undefined;
    return { header, payload };
  } catch {
    return undefined;
  }
}

function normalizeHint(jwt) {
  const v = verifyOurJwt(jwt);
  if (!v || v.payload.iss !== ISSUER) return undefined;
  const { payload } = v;
  if (!Array.isArray(payload.aud) && v.header.kid === KEYSETS[current].kid) return undefined; // already fine
  const aud = Array.isArray(payload.aud) ? (payload.azp ?? payload.aud[0]) : payload.aud;
  return signJwt({ alg: 'RS256', kid: KEYSETS[current].kid, typ: 'JWT' }, { ...payload, aud }, KEYSETS[current].kid);
}

// ---------------------------------------------------------------- /__test__/ control endpoints
function buildLogoutToken(overrides = {}) {
  const t = now();
  const payload = {
    iss: ISSUER,
    sub: undefined,
    aud: [CLIENT_ID],
    iat: t,
    exp: t + 900,
    jti: randomBytes(16).toString('base64url'),
    sid: undefined,
    events: { [LOGOUT_EVENT]: {} },
  };
  const header = { alg: 'RS256', kid: KEYSETS[current].kid, typ: 'JWT' };
  for (const [k, v] of Object.entries(overrides)) {
    if (k === 'typ' || k === 'kid') {
      if (v === null) delete header[k]; else header[k] = v;
    } else if (k === 'key') {
      // sign with "primary" or "rotated" regardless of the current one
      if (KEYSETS[v]) header.kid = overrides.kid ?? KEYSETS[v].kid;
    } else if (v === null) {
      delete payload[k];
    } else {
      payload[k] = v;
    }
  }
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const signingKid = overrides.key && KEYSETS[overrides.key] ? KEYSETS[overrides.key].kid : KEYSETS[current].kid;
  return signJwt(header, payload, signingKid);
}

async function sendBackchannel(sub, sid) {
  if (!BACKCHANNEL_LOGOUT_URI) return { status: null, error: 'no OP_BACKCHANNEL_LOGOUT_URI configured' };
  try {
    const res = await fetch(BACKCHANNEL_LOGOUT_URI, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: buildLogoutToken({ sub, sid }) }),
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer().catch(() => {});
    return { status: res.status };
  } catch (err) {
    return { status: null, error: err.message };
  }
}

async function tokenActive(token) {
  const p = providers[current];
  if (!token || typeof token !== 'string') return false;
  for (const Model of [p.RefreshToken, p.AccessToken]) {
    let t;
    try { t = await Model.find(token); } catch { t = undefined; }
    if (!t) continue;
    if (t.consumed || t.isExpired) return false;
    if (t.grantId && !(await p.Grant.find(t.grantId))) return false;
    if (t.expiresWithSession && t.sessionUid && !(await new TestAdapter('Session').findByUid(t.sessionUid))) return false;
    return true;
  }
  return false;
}

async function testRoutes(ctx, next) {
  if (!ctx.path.startsWith('/__test__/')) return next();
  const route = `${ctx.method} ${ctx.path.replace(/\/+$/, '')}`;
  const q = ctx.query;
  switch (route) {
    case 'GET /__test__/stats':
      return json(ctx, 200, stats);
    case 'POST /__test__/stats/reset':
      stats = freshStats();
      return json(ctx, 200, stats);
    case 'POST /__test__/revoke': {
      const body = await readBody(ctx);
      const sub = q.sub ?? body.sub;
      if (!sub) return json(ctx, 400, { error: 'sub required' });
      let revoked = 0;
      for (const [key, g] of storeEntries('Grant')) {
        if (g.accountId === sub) {
          revokeGrantTokens(g.jti);
          store.delete(key);
          revoked += 1;
        }
      }
      return json(ctx, 200, { revoked });
    }
    case 'GET /__test__/sessions': {
      if (!q.sub) return json(ctx, 400, { error: 'sub required' });
      let active = 0;
      for (const [, s] of storeEntries('Session')) if (s.accountId === q.sub) active += 1;
      return json(ctx, 200, { active });
    }
    case 'POST /__test__/revoke-access-token': {
      // Only this access token, as when ZITADEL refuses one token while its grant lives on.
      const body = await readBody(ctx);
      const token = await providers[current].AccessToken.find(body.token ?? q.token).catch(() => undefined);
      if (token) await token.destroy();
      return json(ctx, 200, { revoked: token ? 1 : 0 });
    }
    case 'POST /__test__/introspection-aud': {
      const body = await readBody(ctx);
      const aud = body.aud ?? q.aud;
      introspectionAud = aud ? String(aud).split(',') : null;
      return json(ctx, 200, { aud: introspectionAud });
    }
    case 'POST /__test__/token-active': {
      const body = await readBody(ctx);
      return json(ctx, 200, { active: await tokenActive(body.token ?? q.token) });
    }
    case 'POST /__test__/logout-token': {
      const body = await readBody(ctx);
      return json(ctx, 200, { logout_token: buildLogoutToken(body) });
    }
    case 'POST /__test__/backchannel': {
      const body = await readBody(ctx);
      const sub = q.sub ?? body.sub;
      const sid = q.sid ?? body.sid;
      return json(ctx, 200, await sendBackchannel(sub, sid));
    }
    case 'POST /__test__/access-token-ttl': {
      // lifetime of the access tokens issued from now on (tests: short at sign-in, long after)
      const seconds = Number.parseInt(q.seconds, 10);
      if (!Number.isFinite(seconds) || seconds < 1) return json(ctx, 400, { error: 'seconds must be a positive integer' });
      const previous = accessTokenTtl;
      accessTokenTtl = seconds;
      return json(ctx, 200, { seconds, previous });
    }
    case 'POST /__test__/token-delay': {
      // the token endpoint answers this many ms late (0: at once)
      const ms = Number.parseInt(q.ms, 10);
      if (!Number.isFinite(ms) || ms < 0) return json(ctx, 400, { error: 'ms must be a non-negative integer' });
      const previous = tokenDelayMs;
      tokenDelayMs = ms;
      return json(ctx, 200, { ms, previous });
    }
    case 'POST /__test__/rotate-keys': {
      current = q.back === '1' || q.back === 'true' ? 'primary' : 'rotated';
      return json(ctx, 200, { kid: KEYSETS[current].kid, keys: current });
    }
    case 'GET /__test__/health':
      return json(ctx, 200, { ok: true, issuer: ISSUER, kid: KEYSETS[current].kid });
    default:
      return json(ctx, 404, { error: 'unknown test endpoint' });
  }
}

// ---------------------------------------------------------------- server
let current = 'primary';
const providers = {};
providers.primary = buildProvider('primary');
providers.rotated = buildProvider('rotated');
const handlers = { primary: providers.primary.callback(), rotated: providers.rotated.callback() };

const server = http.createServer((req, res) => handlers[current](req, res));
server.keepAliveTimeout = 5000;

server.on('error', (err) => {
  console.error(`[op] cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

server.listen(PORT, HOST, () => {
  process.stdout.write(`OP ready ${ISSUER}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
