// Settings → Security: the status the API reports, password change, API tokens (create with
// scopes, the secret shown once and never again, hint, last used, revoke) and lockout reset.

import { api } from './api.js';
import { ago, dateTime, h } from './util.js';
import { button, confirmButton, copyButton, ctl, field, form, section, table } from './forms.js';

const SCOPES = [
  ['monitoring:read', 'Read monitoring data'],
  ['monitoring:write', 'Acknowledge and clear alerts'],
  ['docker:report', 'Docker agent reports'],
  ['docker:manage', 'Manage Docker hosts'],
  ['host-agent:report', 'Host agent reports'],
  ['settings:read', 'Read settings'],
  ['settings:write', 'Change settings'],
];

const yes = (b) => (b ? 'Yes' : 'No');

export function securityPage(root) {
  const status = section('Status', 'What the server reports about its own protection.');
  const tokens = h('div', { id: 'token-list' });
  const shown = h('div', { id: 'new-token-box', 'aria-live': 'polite' });
  const listErr = h('p', { class: 'err', role: 'alert', id: 'token-list-error' });
  const listStatus = h('p', { class: 'ok-msg', role: 'status', id: 'token-list-status' });

  async function loadStatus() {
    try {
      const s = await api('/api/security/status');
      const facts = [
        ['Authentication', s.hasAuthentication ? `Password sign-in${s.authUsername ? ` (${s.authUsername})` : ''}` : 'Not configured'],
        ['API tokens', s.apiTokenConfigured ? `Configured${s.apiTokenHint ? ` (${s.apiTokenHint})` : ''}` : 'None'],
        ['HTTPS', yes(s.hasHTTPS)],
        ['Network', s.isPrivateNetwork ? 'Private network' : s.publicAccess ? 'Public access' : 'Unknown'],
        ['Your address', s.clientIP || '–'],
        ['Audit log', yes(s.hasAuditLogging)],
        ['Export protected', yes(s.exportProtected)],
      ];
      if (s.configuredButPendingRestart) facts.push(['Pending', 'Restart Pulse to apply the new security settings']);
      status.querySelector('dl')?.remove();
      status.append(h('dl', { class: 'facts', id: 'security-facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
    } catch (e) { status.append(h('p', { class: 'err' }, e.message)); }
  }

  async function loadTokens() {
    let list = [];
    try { list = (await api('/api/security/tokens'))?.tokens || []; } catch (e) {
      tokens.replaceChildren(h('p', { class: 'err' }, e.message));
      return;
    }
    tokens.replaceChildren(table('API tokens', ['Name', 'Token', 'Scopes', 'Created', 'Last used', ''], list.map((t) => ({
      attrs: { 'data-token-id': t.id },
      cells: [
        t.name || '(unnamed)',
        h('code', {}, `${t.prefix || ''}…${t.suffix || ''}`),
        (t.scopes || ['*']).map((s) => (s === '*' ? 'full access' : s)).join(', '),
        h('span', { title: dateTime(t.createdAt) }, ago(t.createdAt)),
        t.lastUsedAt ? h('span', { title: dateTime(t.lastUsedAt) }, ago(t.lastUsedAt)) : 'never',
        confirmButton('Revoke', 'Confirm revoke', async () => {
          listErr.textContent = ''; listStatus.textContent = '';
          try {
            await api(`/api/security/tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' });
            listStatus.textContent = `Token "${t.name}" revoked.`;
          } catch (e) { listErr.textContent = e.message; }
          await loadTokens();
          loadStatus();
        }, { 'aria-label': `Revoke token ${t.name}`, 'data-act': 'revoke' }),
      ],
    }))));
  }

  // Signed-in browsers: where, since when; any but this one can be ended.
  const sessions = h('div', { id: 'session-list' });
  const sessErr = h('p', { class: 'err', role: 'alert', id: 'session-list-error' });
  const sessStatus = h('p', { class: 'ok-msg', role: 'status', id: 'session-list-status' });
  async function loadSessions() {
    let list = [];
    try { list = (await api('/api/security/sessions'))?.sessions || []; } catch (e) { sessErr.textContent = e.message; return; }
    sessions.replaceChildren(table('Sessions', ['User', 'Address', 'Browser', 'Signed in', 'Expires', ''], list.map((x) => ({
      attrs: { 'data-session': x.id, 'data-current': String(!!x.current) },
      cells: [x.username || '–', x.ip || '–', h('span', { title: x.userAgent || '' }, (x.userAgent || '–').slice(0, 60)),
        h('span', { title: dateTime(x.createdAt) }, ago(x.createdAt)), dateTime(x.expiresAt),
        x.current ? h('span', { class: 'badge okb' }, 'this browser') : confirmButton('End', 'Confirm end', async () => {
          sessErr.textContent = ''; sessStatus.textContent = '';
          try {
            await api(`/api/security/sessions/${encodeURIComponent(x.id)}`, { method: 'DELETE' });
            sessStatus.textContent = `Session from ${x.ip || 'an unknown address'} ended.`;
          } catch (e) { sessErr.textContent = e.message; }
          loadSessions();
        }, { 'aria-label': `End the session from ${x.ip || 'unknown'}`, 'data-act': 'end', 'data-key': `session ${x.id}` })],
    }))));
  }

  const scopeBoxes = SCOPES.map(([v, label]) => field(`${label} (${v})`, { kind: 'checkbox', name: 'scope', value: v, id: `scope-${v.replace(':', '-')}` }));
  const create = form({
    id: 'token-form', title: 'Create an API token', submit: 'Create token',
    onSubmit: async (f) => {
      const name = f.querySelector('#token-name').value.trim();
      const scopes = [...f.querySelectorAll('input[name=scope]:checked')].map((i) => i.value);
      const body = { name };
      if (scopes.length) body.scopes = scopes;
      const r = await api('/api/security/tokens', { method: 'POST', body });
      showOnce(r.token, r.record);
      f.reset();
      await loadTokens();
      loadStatus();
      return `Token "${r.record?.name || name}" created.`;
    },
  },
  field('Name', { id: 'token-name', autocomplete: 'off', required: true, maxlength: 100 }, 'What will use it, for example "ansible" or "docker-agent-nas".'),
  h('fieldset', { class: 'scopes' }, h('legend', {}, 'Scopes (none checked: full access)'), scopeBoxes),
  shown);

  // The raw secret lives only in this box until it is dismissed; it is never stored or fetched again.
  function showOnce(token, record) {
    const pre = h('pre', { class: 'token', id: 'new-token', tabindex: 0 }, token);
    const done = h('button', { type: 'button', class: 'btn', id: 'new-token-done', onclick: () => shown.replaceChildren() }, 'I have stored it');
    shown.replaceChildren(h('div', { class: 'once' },
      h('p', {}, h('strong', {}, `Token "${record?.name || ''}": copy it now. `), 'It is shown only once and cannot be retrieved later.'),
      pre, h('div', { class: 'actions' }, copyButton(pre), done)));
    pre.focus();
  }

  const pw = form({
    id: 'password-form', title: 'Change password', submit: 'Change password',
    onSubmit: async (f) => {
      const cur = f.querySelector('#pw-current').value, next = f.querySelector('#pw-new').value;
      if (next !== f.querySelector('#pw-repeat').value) throw new Error('The new passwords do not match.');
      // auth: false — a 401 here means "current password is incorrect", not "signed out".
      await api('/api/security/change-password', { method: 'POST', body: { currentPassword: cur, newPassword: next }, auth: false });
      f.reset();
      loadSessions();
      return 'Password changed. Other sessions of this user were signed out.';
    },
  },
  field('Current password', { id: 'pw-current', type: 'password', autocomplete: 'current-password', required: true }),
  field('New password', { id: 'pw-new', type: 'password', autocomplete: 'new-password', required: true, minlength: 8 }, 'At least 8 characters.'),
  field('Repeat new password', { id: 'pw-repeat', type: 'password', autocomplete: 'new-password', required: true }));

  const lockout = form({
    id: 'lockout-form', title: 'Reset a lockout', submit: 'Reset',
    onSubmit: async (f) => {
      const id = ctl(f.querySelector('.field')).value.trim();
      await api('/api/security/reset-lockout', { method: 'POST', body: { identifier: id } });
      return `Lockout for ${id} reset.`;
    },
  }, field('Username or IP address', { id: 'lockout-id', autocomplete: 'off', required: true }, 'Failed sign-ins lock an account or address for 15 minutes.'));

  root.append(status, section('API tokens', 'Tokens let scripts and agents call the API. Give each one only the scopes it needs.', tokens, listErr, listStatus), create, pw,
    section('Sessions', 'Browsers signed in to this Pulse.', sessions, sessErr, sessStatus, h('div', { class: 'actions' }, button('Refresh', loadSessions, { class: 'btn sm', id: 'session-refresh' }))),
    lockout);
  loadStatus();
  loadTokens();
  loadSessions();
  return {};
}
