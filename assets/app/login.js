// Sign-in and first-run setup. Login posts {username, password} and reloads on success; a 401
// shows the message with the remaining attempts, 403 the lockout minutes, 429 the rate limit.
// First run: the bootstrap token (from the data dir) plus an admin user and password; the
// generated API token is shown once.

import { api, ApiError } from './api.js';
import { h } from './util.js';

function card(title, ...kids) {
  return h('main', { class: 'auth' }, h('form', { class: 'card auth-card', novalidate: true },
    h('div', { class: 'brand' }, h('img', { src: '/logo.svg', alt: '', width: 40, height: 40 }), h('h1', {}, title)), ...kids));
}
const field = (label, attrs) => {
  const id = `f-${attrs.name}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
};

export function loginView(root, { notice = '' } = {}) {
  const err = h('p', { class: 'err', role: 'alert', id: 'login-error' });
  const note = h('p', { class: 'muted', id: 'login-notice', hidden: !notice }, notice);
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = card('Sign in to Pulse', note,
    field('Username', { name: 'username', autocomplete: 'username', required: true, autofocus: true }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    err, submit);
  root.replaceChildren(form);
  form.firstChild.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    err.textContent = '';
    submit.disabled = true;
    try {
      const r = await fetch('/api/login', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: f.username.value, password: f.password.value }) });
      let body = {};
      try { body = await r.json(); } catch { /* keep {} */ }
      if (r.ok) {
        try { sessionStorage.setItem('pulse_auth_user', f.username.value); } catch { /* ignore */ }
        location.reload();
        return;
      }
      let text = body.message || body.error || `Sign-in failed (${r.status})`;
      if (r.status === 401 && body.locked) text += ' The account is now locked.';
      else if (r.status === 401 && Number.isFinite(body.remaining) && !/remaining/i.test(text)) text += ` (${body.remaining} attempt${body.remaining === 1 ? '' : 's'} remaining)`;
      if (r.status === 403 && body.remainingMinutes) text = `Account locked. Try again in ${body.remainingMinutes} minute${body.remainingMinutes === 1 ? '' : 's'}.`;
      if (r.status === 429) text = body.message || body.error || 'Too many attempts. Wait a moment and try again.';
      err.textContent = text;
      f.password.select();
    } catch (ex) {
      err.textContent = `Cannot reach Pulse: ${ex.message}`;
    } finally { submit.disabled = false; }
  });
}

const randomHex = (n) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');

export function setupView(root, status) {
  const err = h('p', { class: 'err', role: 'alert' });
  const path = status.bootstrapTokenPath || '<data dir>/.bootstrap_token';
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Secure Pulse');
  const form = card('Welcome to Pulse',
    h('p', {}, 'Create the administrator account. To prove you own this server, paste the setup token from ', h('code', {}, path), ' (for example ', h('code', {}, `cat ${path}`), ').'),
    field('Setup token', { name: 'setupToken', autocomplete: 'off', required: true, spellcheck: 'false' }),
    field('Admin username', { name: 'username', value: 'admin', autocomplete: 'username', required: true }),
    field('Password (8+ characters)', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }),
    field('Repeat password', { name: 'password2', type: 'password', autocomplete: 'new-password', required: true }),
    err, submit);
  root.replaceChildren(form);
  form.firstChild.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target;
    err.textContent = '';
    if (f.password.value !== f.password2.value) { err.textContent = 'The passwords do not match.'; return; }
    const apiToken = randomHex(24);
    submit.disabled = true;
    try {
      const r = await api('/api/security/quick-setup', { method: 'POST', auth: false,
        body: { username: f.username.value, password: f.password.value, apiToken, setupToken: f.setupToken.value.trim(), force: false } });
      if (r && r.skipped) { err.textContent = r.message; return; }
      root.replaceChildren(card('Pulse is secured',
        h('p', {}, 'Your admin account is ready. This API token for scripts and agents is shown only once: store it now.'),
        h('pre', { class: 'token', id: 'setup-token', tabindex: 0 }, apiToken),
        h('button', { type: 'button', class: 'btn primary', onclick: () => location.reload() }, 'Continue to sign in')));
    } catch (ex) {
      err.textContent = ex instanceof ApiError ? ex.message : `Setup failed: ${ex.message}`;
    } finally { submit.disabled = false; }
  });
}
