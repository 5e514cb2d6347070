// Self-test of the ZITADEL-shaped test OP. No dependencies: global fetch + node:crypto.
//   node devtools/op/selftest.mjs
// Starts server.mjs on a free port (plus a tiny back-channel logout receiver), drives the whole
// flow like a plain HTTP client (manual cookies, manual redirects), and exits non-zero on failure.
import { spawn } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT_ID = '243864426485212395@zitadel-bff';
const CLIENT_SECRET = 'dev-client-secret-not-for-production';
const PROJECT_ID = '243864426485212394';
const ADMIN = '301234567890123456';
const ALICE = '301234567890123457';
const ORG_ID = '301234567890123000';

let failures = 0;
let passes = 0;
function check(cond, msg, extra) {
  if (cond) {
    passes += 1;
  } else {
    failures += 1;
    console.error(`FAIL: ${msg}${extra !== undefined ? ` -> ${typeof extra === 'string' ? extra : JSON.stringify(extra)}` : ''}`);
  }
}
function must(cond, msg, extra) {
  check(cond, msg, extra);
  if (!cond) throw new Error(`aborting: ${msg}`);
}

const freePort = () => new Promise((res) => {
  const s = http.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
});

// ---------------------------------------------------------------- back-channel receiver
const received = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    received.push(new URLSearchParams(body).get('logout_token'));
    res.writeHead(200).end();
  });
});
const appPort = await freePort();
await new Promise((r) => receiver.listen(appPort, '127.0.0.1', r));
const APP = `http://127.0.0.1:${appPort}`;
const REDIRECT_URI = `${APP}/auth/callback`;
const POST_LOGOUT = `${APP}/auth/logout/callback`;

// ---------------------------------------------------------------- start the OP
const opPort = await freePort();
const ISSUER = `http://127.0.0.1:${opPort}`;
const op = spawn(process.execPath, [join(here, 'server.mjs')], {
  env: {
    ...process.env,
    OP_PORT: String(opPort),
    OP_REDIRECT_URIS: REDIRECT_URI,
    OP_POST_LOGOUT_REDIRECT_URIS: POST_LOGOUT,
    OP_BACKCHANNEL_LOGOUT_URI: `${APP}/auth/backchannel-logout`,
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let opErr = '';
op.stderr.on('data', (d) => { opErr += d; });
const started = Date.now();
await new Promise((resolve, reject) => {
  let out = '';
  op.stdout.on('data', (d) => {
    out += d;
    if (out.includes(`OP ready ${ISSUER}\n`)) resolve();
  });
  op.on('exit', (code) => reject(new Error(`OP exited early (${code}): ${opErr}`)));
  setTimeout(() => reject(new Error(`OP not ready in 5s: ${out} ${opErr}`)), 5000);
});
const startupMs = Date.now() - started;

// ---------------------------------------------------------------- tiny HTTP client with a cookie jar
const jar = new Map();
function storeCookies(res) {
  for (const sc of res.headers.getSetCookie()) {
    const [pair, ...attrs] = sc.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]) < new Date())
      || attrs.some((a) => /^\s*max-age=\s*0/i.test(a));
    if (!value || expired) jar.delete(name); else jar.set(name, value);
  }
}
async function req(url, { method = 'GET', headers = {}, form, jsonBody, cookies = true } = {}) {
  const h = { ...headers };
  if (cookies && jar.size) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let body;
  if (form) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  if (jsonBody) { h['content-type'] = 'application/json'; body = JSON.stringify(jsonBody); }
  const res = await fetch(new URL(url, ISSUER), { method, headers: h, body, redirect: 'manual' });
  if (cookies) storeCookies(res);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, location: res.headers.get('location'), headers: res.headers, text, json };
}
const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
const decode = (jwt) => {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
};
let jwksCache;
function verifySig(jwt, jwks) {
  const { header } = decode(jwt);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) return false;
  const [h, p, s] = jwt.split('.');
  return cryptoVerify('sha256', Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
}

// follow redirects inside the OP until we reach the app's redirect_uri (not followed) or a page
async function follow(first) {
  let r = first;
  for (let i = 0; i < 10 && r.location; i += 1) {
    const next = new URL(r.location, ISSUER).href;
    if (next.startsWith(APP)) return { final: next, page: undefined };
    r = await req(next);
  }
  return { final: undefined, page: r };
}

const SCOPE = 'openid profile email offline_access urn:zitadel:iam:org:projects:roles urn:zitadel:iam:user:metadata urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:project:id:zitadel:aud';
function authorizeUrl(extra = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const params = {
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: SCOPE,
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const k of Object.keys(params)) if (params[k] === null) delete params[k];
  return { url: `/oauth/v2/authorize?${new URLSearchParams(params)}`, verifier, params };
}
async function exchange(code, verifier, auth = 'basic') {
  const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
  if (auth === 'post') return req('/oauth/v2/token', { method: 'POST', form: { ...form, client_id: CLIENT_ID, client_secret: CLIENT_SECRET }, cookies: false });
  return req('/oauth/v2/token', { method: 'POST', headers: { authorization: basic }, form, cookies: false });
}
const refresh = (rt) => req('/oauth/v2/token', { method: 'POST', headers: { authorization: basic }, form: { grant_type: 'refresh_token', refresh_token: rt }, cookies: false });
const active = async (token) => (await req('/__test__/token-active', { method: 'POST', form: { token }, cookies: false })).json.active;

// full login with the scripted form; returns { code, state, tokens }
async function login(username, extra = {}, { expectForm = true } = {}) {
  const a = authorizeUrl({ login_hint: username, ...extra });
  const r1 = await req(a.url);
  must(r1.status === 303 || r1.status === 302, 'authorize redirects', r1.status);
  let { final, page } = await follow(r1);
  if (expectForm) {
    must(!final && page && page.status === 200, 'login page shown', page?.status);
    const action = /<form method="post" action="([^"]+)"/.exec(page.text)?.[1];
    must(action, 'login form has an action');
    check(page.text.includes('Local development provider — not a real ZITADEL'), 'login page labelled as local provider');
    check(/<label for="username">/.test(page.text) && /id="username" name="username"/.test(page.text), 'username input with label');
    check(page.text.includes(`value="${username}"`), 'username prefilled from login_hint');
    check(/<button type="submit">Continue<\/button>/.test(page.text), 'Continue button');
    const bad = await req(action, { method: 'POST', form: { username: 'nobody' } });
    check(bad.status === 400 && bad.text.includes('Unknown user'), 'unknown user re-renders with error', bad.status);
    const ok = await req(action, { method: 'POST', form: { username } });
    must(ok.status === 303, 'login POST redirects', ok.status);
    ({ final, page } = await follow(ok));
  }
  must(final, 'flow ends at redirect_uri', page && `${page.status} ${page.text.slice(0, 300)}`);
  const u = new URL(final);
  check(u.origin + u.pathname === REDIRECT_URI, 'redirect_uri exact', final);
  check(u.searchParams.get('state') === a.params.state, 'state echoed');
  check(u.searchParams.get('iss') === ISSUER, 'iss param in authorization response');
  const code = u.searchParams.get('code');
  must(code, 'code returned', final);
  return { code, verifier: a.verifier, params: a.params };
}

try {
  console.log(`OP started in ${startupMs} ms at ${ISSUER}`);
  check(startupMs < 3000, 'startup fast', startupMs);

  // ---- discovery + JWKS
  const disc = (await req('/.well-known/openid-configuration', { cookies: false })).json;
  check(disc.issuer === ISSUER, 'issuer', disc.issuer);
  for (const [k, p] of Object.entries({
    authorization_endpoint: '/oauth/v2/authorize', token_endpoint: '/oauth/v2/token', introspection_endpoint: '/oauth/v2/introspect',
    revocation_endpoint: '/oauth/v2/revoke', jwks_uri: '/oauth/v2/keys', userinfo_endpoint: '/oidc/v1/userinfo', end_session_endpoint: '/oidc/v1/end_session',
  })) check(disc[k] === ISSUER + p, `discovery ${k}`, disc[k]);
  check(JSON.stringify(disc.code_challenge_methods_supported) === '["S256"]', 'S256 only');
  check(disc.backchannel_logout_supported === true && disc.backchannel_logout_session_supported === true, 'backchannel logout advertised');
  const jwksRes = await req('/oauth/v2/keys', { cookies: false });
  jwksCache = jwksRes.json;
  check(jwksCache.keys.length === 1 && /^\d+$/.test(jwksCache.keys[0].kid) && !jwksCache.keys[0].d, 'JWKS: one public key with numeric kid', jwksCache);
  check(jwksRes.headers.get('cache-control') === 'max-age=300, must-revalidate', 'JWKS cache-control', jwksRes.headers.get('cache-control'));

  // ---- authorize validation errors are 400 pages, not redirects
  const badRedirect = await req(authorizeUrl({ redirect_uri: `${APP}/evil` }).url, { cookies: false });
  check(badRedirect.status === 400 && !badRedirect.location, 'unregistered redirect_uri -> 400 page', badRedirect.status);
  const noPkce = await req(authorizeUrl({ code_challenge: null, code_challenge_method: null }).url, { cookies: false });
  check(noPkce.status === 303 && new URL(noPkce.location).searchParams.get('error') === 'invalid_request', 'PKCE required', noPkce.location);

  // ---- login 1: admin, full form
  await req('/__test__/stats/reset', { method: 'POST', cookies: false });
  const l1 = await login('admin');
  const wrongVerifier = await exchange(l1.code, randomBytes(32).toString('base64url'));
  check(wrongVerifier.status === 400 && wrongVerifier.json?.error === 'invalid_grant', 'wrong PKCE verifier -> invalid_grant', wrongVerifier.json);
  // (the failed attempt above does not consume the code in oidc-provider? it does: log in again)
  const l1b = await login('admin', {}, { expectForm: false }); // SSO: session exists, no form
  const t1 = await exchange(l1b.code, l1b.verifier);
  must(t1.status === 200, 'code exchange 200', t1.json);
  const tok = t1.json;
  check(tok.token_type === 'Bearer' && tok.access_token && tok.refresh_token && tok.id_token && tok.expires_in > 43000, 'token response shape', Object.keys(tok));
  check(tok.access_token.split('.').length !== 3, 'access token is opaque');

  const { header: h1, payload: id1 } = decode(tok.id_token);
  check(h1.alg === 'RS256' && h1.kid === jwksCache.keys[0].kid && h1.typ === 'JWT', 'id_token header', h1);
  check(verifySig(tok.id_token, jwksCache), 'id_token signature verifies against JWKS');
  check(id1.iss === ISSUER && id1.sub === ADMIN, 'id_token iss/sub', id1);
  check(Array.isArray(id1.aud) && id1.aud[0] === CLIENT_ID && id1.aud.includes(PROJECT_ID), 'id_token aud array [client, project]', id1.aud);
  check(id1.azp === CLIENT_ID && id1.client_id === CLIENT_ID, 'azp/client_id', id1);
  check(id1.nonce === l1b.params.nonce, 'nonce', id1.nonce);
  check(typeof id1.sid === 'string' && id1.sid.length > 0, 'sid present', id1);
  check(typeof id1.auth_time === 'number' && id1.exp - id1.iat === 43200, 'auth_time and 12h exp', id1);
  check(id1.at_hash === createHash('sha256').update(tok.access_token).digest().subarray(0, 16).toString('base64url'), 'at_hash', id1.at_hash);
  check(id1.email === undefined && id1.name === undefined && id1['urn:zitadel:iam:org:project:roles'] === undefined, 'no profile/roles in id_token by default', id1);

  // ---- userinfo
  const ui = await req('/oidc/v1/userinfo', { headers: { authorization: `Bearer ${tok.access_token}` }, cookies: false });
  check(ui.status === 200, 'userinfo 200', ui.status);
  const u = ui.json;
  check(u.sub === ADMIN && u.name === 'Ada Admin' && u.given_name === 'Ada' && u.family_name === 'Admin' && u.preferred_username === 'admin' && u.locale === 'en', 'userinfo profile', u);
  check(u.email === 'admin@acme.localhost' && u.email_verified === true, 'userinfo email', u);
  const expectRoles = { admin: { [ORG_ID]: 'acme.localhost' }, user: { [ORG_ID]: 'acme.localhost' } };
  check(JSON.stringify(u['urn:zitadel:iam:org:project:roles']) === JSON.stringify(expectRoles), 'roles map', u['urn:zitadel:iam:org:project:roles']);
  check(JSON.stringify(u[`urn:zitadel:iam:org:project:${PROJECT_ID}:roles`]) === JSON.stringify(expectRoles), 'project roles map', u);
  check(u['urn:zitadel:iam:user:metadata']?.department === Buffer.from('platform').toString('base64url'), 'metadata base64url', u['urn:zitadel:iam:user:metadata']);
  check(u['urn:zitadel:iam:user:resourceowner:id'] === ORG_ID && u['urn:zitadel:iam:user:resourceowner:name'] === 'ACME' && u['urn:zitadel:iam:user:resourceowner:primary_domain'] === 'acme.localhost', 'resourceowner claims', u);
  const uiBad = await req('/oidc/v1/userinfo', { headers: { authorization: 'Bearer nope' }, cookies: false });
  check(uiBad.status === 401, 'userinfo bad token -> 401', uiBad.status);

  // ---- introspection
  const intro = await req('/oauth/v2/introspect', { method: 'POST', headers: { authorization: basic }, form: { token: tok.access_token }, cookies: false });
  check(intro.json?.active === true && intro.json.sub === ADMIN, 'introspection active', intro.json);

  // ---- refresh twice (rotation), same sub + sid
  const r1 = await refresh(tok.refresh_token);
  check(r1.status === 200 && r1.json.refresh_token && r1.json.refresh_token !== tok.refresh_token, 'refresh #1 rotates', r1.json);
  const r2 = await refresh(r1.json.refresh_token);
  check(r2.status === 200 && r2.json.refresh_token !== r1.json.refresh_token, 'refresh #2 rotates', r2.json);
  const idr = decode(r2.json.id_token).payload;
  check(idr.sub === ADMIN && idr.sid === id1.sid && Array.isArray(idr.aud) && idr.aud.includes(PROJECT_ID), 'refresh id_token same sub/sid, aud array', idr);
  check(await active(r2.json.refresh_token), 'current refresh token active');
  check(!(await active(tok.refresh_token)), 'first refresh token inactive (consumed)');
  const old = await refresh(tok.refresh_token);
  check(old.status === 400 && old.json?.error === 'invalid_grant', 'old refresh token refused', old.json);
  check(!(await active(r2.json.refresh_token)), 'reuse of a rotated token revoked the whole grant (oidc-provider behaviour)');
  let st = (await req('/__test__/stats', { cookies: false })).json;
  check(st.token_requests.authorization_code === 2 && st.token_requests.refresh_token === 3, 'stats token_requests', st);

  // ---- login 2 via SSO (grant was revoked -> consent auto-approved, no form); client_secret_post
  const l2 = await login('admin', {}, { expectForm: false });
  const t2 = await exchange(l2.code, l2.verifier, 'post');
  must(t2.status === 200 && t2.json.refresh_token, 'client_secret_post exchange', t2.json);
  check(decode(t2.json.id_token).payload.sid === id1.sid, 'same OP session -> same sid');
  const badAuth = await req('/oauth/v2/token', { method: 'POST', headers: { authorization: 'Basic eDp5' }, form: { grant_type: 'refresh_token', refresh_token: 'x' }, cookies: false });
  check(badAuth.status === 400 && badAuth.json?.error === 'invalid_client', 'invalid_client is HTTP 400', badAuth.status);
  const rv = await req('/oauth/v2/revoke', { method: 'POST', headers: { authorization: basic }, form: { token: t2.json.refresh_token, token_type_hint: 'refresh_token' }, cookies: false });
  check(rv.status === 200, 'revocation 200', rv.status);
  check(!(await active(t2.json.refresh_token)), 'revoked refresh token inactive');
  const ui2 = await req('/oidc/v1/userinfo', { headers: { authorization: `Bearer ${t2.json.access_token}` }, cookies: false });
  check(ui2.status === 401, 'revoking the refresh token killed its access token', ui2.status);

  // ---- /__test__/revoke
  const l3 = await login('admin', {}, { expectForm: false });
  const t3 = (await exchange(l3.code, l3.verifier)).json;
  check(await active(t3.access_token), 'access token active');
  const tr = (await req(`/__test__/revoke?sub=${ADMIN}`, { method: 'POST', cookies: false })).json;
  check(tr.revoked >= 1, '__test__/revoke count', tr);
  check(!(await active(t3.refresh_token)) && !(await active(t3.access_token)), '__test__/revoke kills tokens');
  check((await req('/oidc/v1/userinfo', { headers: { authorization: `Bearer ${t3.access_token}` }, cookies: false })).status === 401, 'userinfo 401 after __test__/revoke');

  // ---- prompt=login keeps offline_access (ZITADEL does; oidc-provider would drop it)
  const l4 = await login('admin', { prompt: 'login' });
  const t4 = (await exchange(l4.code, l4.verifier)).json;
  check(!!t4.refresh_token, 'prompt=login still yields a refresh token', Object.keys(t4));
  // without offline_access: no refresh token
  const l5 = await login('admin', { scope: 'openid profile' }, { expectForm: false });
  const t5 = (await exchange(l5.code, l5.verifier)).json;
  check(!t5.refresh_token, 'no offline_access -> no refresh token');

  // ---- end_session: unregistered post_logout_redirect_uri -> 400, no redirect
  const badLogout = await req(`/oidc/v1/end_session?${new URLSearchParams({ id_token_hint: t4.id_token, post_logout_redirect_uri: `${APP}/evil`, state: 'x' })}`);
  check(badLogout.status === 400 && !badLogout.location && badLogout.json?.error, 'unregistered post_logout_redirect_uri -> 400 JSON', `${badLogout.status} ${badLogout.text.slice(0, 200)}`);

  // ---- end_session through the auto-submit form, back-channel logout
  const sidNow = decode(t4.id_token).payload.sid;
  check((await req(`/__test__/sessions?sub=${ADMIN}`, { cookies: false })).json.active === 1, 'one OP session before logout');
  received.length = 0;
  await req('/__test__/stats/reset', { method: 'POST', cookies: false });
  const es = await req(`/oidc/v1/end_session?${new URLSearchParams({ id_token_hint: t4.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 'bye123', client_id: CLIENT_ID })}`);
  check(es.status === 200 && es.text.includes('id="op.logoutForm"'), 'end_session shows auto-submit form', es.status);
  const formTag = /<form[^>]*id="op\.logoutForm"[^>]*>/.exec(es.text)?.[0] ?? '';
  const action = /action="([^"]+)"/.exec(formTag)?.[1];
  check(/method="post"/.test(formTag) && action, 'form method/action', formTag);
  check(/<script>document\.getElementById\('op\.logoutForm'\)\.submit\(\);<\/script>/.test(es.text), 'auto-submit script');
  const fields = Object.fromEntries([...es.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\s*\/?>/g)].map((m) => [m[1], m[2]]));
  check(fields.xsrf && fields.logout === 'yes', 'hidden xsrf + logout=yes', fields);
  const done = await req(action, { method: 'POST', form: fields });
  check(done.status === 303 && done.location === `${POST_LOGOUT}?state=bye123`, 'redirect to post_logout_redirect_uri with state', `${done.status} ${done.location}`);
  check((await req(`/__test__/sessions?sub=${ADMIN}`, { cookies: false })).json.active === 0, 'OP session ended');
  check(!jar.has('_session'), 'session cookie cleared');
  check(received.length === 1, 'one back-channel logout delivered', received.length);
  if (received[0]) {
    const { header: lh, payload: lt } = decode(received[0]);
    check(lh.typ === 'JWT' && lh.kid === jwksCache.keys[0].kid && verifySig(received[0], jwksCache), 'logout token header/signature', lh);
    check(lt.iss === ISSUER && lt.sub === ADMIN && lt.sid === sidNow && JSON.stringify(lt.aud) === JSON.stringify([CLIENT_ID])
      && lt.events?.['http://schemas.openid.net/event/backchannel-logout'] && lt.jti && !lt.nonce && lt.exp - lt.iat === 900, 'logout token claims', lt);
  }
  st = (await req('/__test__/stats', { cookies: false })).json;
  check(st.end_sessions === 1 && st.backchannel_sent === 1 && st.backchannel_failed === 0, 'stats after logout', st);
  check(await active(t4.refresh_token), 'offline_access refresh token survives OP logout (app must revoke it)');

  // ---- after logout a new authorize shows the form again (alice: email not verified, no metadata, user role)
  const l6 = await login('alice');
  const t6 = (await exchange(l6.code, l6.verifier)).json;
  const u6 = (await req('/oidc/v1/userinfo', { headers: { authorization: `Bearer ${t6.access_token}` }, cookies: false })).json;
  check(u6.sub === ALICE && u6.email === 'alice@acme.localhost' && !('email_verified' in u6) && !('urn:zitadel:iam:user:metadata' in u6), 'alice userinfo', u6);
  check(JSON.stringify(Object.keys(u6['urn:zitadel:iam:org:project:roles'])) === '["user"]', 'alice roles', u6);

  // ---- test endpoints: logout-token, backchannel
  const lt1 = (await req('/__test__/logout-token', { method: 'POST', jsonBody: { sub: ALICE, sid: 'abc', nonce: 'n', jti: null, typ: 'logout+jwt' }, cookies: false })).json.logout_token;
  const d1 = decode(lt1);
  check(d1.header.typ === 'logout+jwt' && d1.payload.nonce === 'n' && !('jti' in d1.payload) && d1.payload.sid === 'abc' && verifySig(lt1, jwksCache), 'crafted logout token', d1);
  received.length = 0;
  const bc = (await req(`/__test__/backchannel?sub=${ALICE}&sid=s1`, { method: 'POST', cookies: false })).json;
  check(bc.status === 200 && received.length === 1 && decode(received[0]).payload.sid === 's1', '__test__/backchannel', bc);

  // ---- key rotation
  const rot = (await req('/__test__/rotate-keys', { method: 'POST', cookies: false })).json;
  const jwks2 = (await req('/oauth/v2/keys', { cookies: false })).json;
  check(jwks2.keys.length === 1 && jwks2.keys[0].kid === rot.kid && rot.kid !== jwksCache.keys[0].kid, 'JWKS serves only the rotated key', jwks2);
  const l7 = await login('alice', {}, { expectForm: false }); // session from before the swap still works
  const t7 = (await exchange(l7.code, l7.verifier)).json;
  check(decode(t7.id_token).header.kid === rot.kid && verifySig(t7.id_token, jwks2), 'id_token signed with rotated key');
  const r7 = await refresh(t6.refresh_token); // token issued before rotation still refreshes
  check(r7.status === 200 && decode(r7.json.id_token).header.kid === rot.kid, 'refresh across rotation', r7.json);
  // id_token_hint signed with the old key still accepted at end_session
  const es2 = await req(`/oidc/v1/end_session?${new URLSearchParams({ id_token_hint: t6.id_token, post_logout_redirect_uri: POST_LOGOUT, state: 's2' })}`);
  check(es2.status === 200 && es2.text.includes('op.logoutForm'), 'end_session with pre-rotation id_token_hint', `${es2.status} ${es2.text.slice(0, 200)}`);
  const reuse = await exchange(l7.code, l7.verifier);
  check(reuse.status === 400 && reuse.json?.error === 'invalid_grant', 'code single-use', reuse.json);
  check(!(await active(t7.access_token)), 'code replay revoked the tokens issued from it (oidc-provider behaviour)');
  const back = (await req('/__test__/rotate-keys?back=1', { method: 'POST', cookies: false })).json;
  check(back.kid === jwksCache.keys[0].kid && (await req('/oauth/v2/keys', { cookies: false })).json.keys[0].kid === back.kid, 'rotate back');
} catch (err) {
  failures += 1;
  console.error(err.stack);
} finally {
  op.kill('SIGTERM');
  const code = await new Promise((r) => { op.on('exit', (c, sig) => r(c ?? sig)); setTimeout(() => r('timeout'), 2000); });
  check(code === 0, 'OP exits cleanly on SIGTERM', code);
  receiver.close();
  if (failures && opErr) console.error(`--- OP stderr ---\n${opErr}`);
  console.log(`${failures ? 'FAILED' : 'OK'}: ${passes} checks passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}
