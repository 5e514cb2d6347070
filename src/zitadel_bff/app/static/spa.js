// The demo's single-page view: what a browser app does through the BFF. It never sees a token:
// the session cookie is HttpOnly, and the BFF adds the bearer token to the API calls.
'use strict';

const root = document.getElementById('spa');
const api = root.dataset.api;
const byId = (id) => document.getElementById(id);
let csrfToken = null;

async function loadSession() {
  const resp = await fetch('/auth/session', { headers: { Accept: 'application/json' } });
  const session = await resp.json();
  csrfToken = session.csrf_token;
  const who = byId('who');
  if (session.authenticated) {
    const user = session.user;
    who.textContent = `Signed in as ${user.name || user.email || user.sub}`
      + ` (roles: ${user.roles.join(', ') || 'none'}).`;
  } else {
    who.textContent = 'You are signed out: the API answers 401 until you sign in.';
  }
  byId('signin').hidden = session.authenticated;
  byId('get').disabled = !session.authenticated;
  byId('post').disabled = !session.authenticated;
}

function show(method, path, status, received) {
  byId('status').textContent = `${method} ${path} → ${status}`;
  byId('request').textContent = `${received.method} ${received.path}`;
  byId('bearer').textContent = received.bearer_token ? 'received' : 'none';
  byId('fingerprint').textContent = received.bearer_fingerprint || '–';
  byId('cookies').textContent = received.cookie_received ? 'received (!)' : 'none (kept by the BFF)';
  byId('body').textContent = received.body || '(empty)';
  byId('raw').textContent = JSON.stringify(received, null, 2);
}

async function call(method) {
  const path = method === 'GET' ? `${api}/hello?from=spa` : `${api}/notes`;
  const init = { method, headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    init.headers['X-CSRF-Token'] = csrfToken;
    init.body = JSON.stringify({ note: byId('note').value });
  }
  const resp = await fetch(path, init);
  const body = await resp.json();
  if (resp.ok) {
    show(method, path, resp.status, body);
  } else {
    byId('status').textContent = `${method} ${path} → ${resp.status} ${body.error}`;
  }
}

byId('get').addEventListener('click', () => call('GET'));
byId('call').addEventListener('submit', (event) => {
  event.preventDefault();
  call('POST');
});
loadSession();
