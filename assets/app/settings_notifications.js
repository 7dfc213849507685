// Settings → Notifications: email (provider presets, test), webhooks (service templates, a
// custom payload template, custom headers and fields, test, delivery history) and Apprise.
// Secrets come back masked; sending the mask back keeps the stored secret (the server's rule).

import { api } from './api.js';
import { dateTime, h } from './util.js';
import { button, confirmButton, ctl, field, form, headerLines, parseHeaderLines, section, table } from './forms.js';

const lines = (t) => t.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

export function notificationsPage(root) {
  let templates = [];
  let hooks = [];
  let editing = null;

  // --- email ---
  const e = {
    enabled: field('Send alerts by email', { kind: 'checkbox', id: 'email-enabled' }),
    provider: field('Provider', { kind: 'select', id: 'email-provider', options: [] }),
    server: field('SMTP server', { id: 'email-server', autocomplete: 'off' }),
    port: field('Port', { id: 'email-port', type: 'number', min: 1, max: 65535 }),
    security: field('Security', { kind: 'select', id: 'email-security', options: [['starttls', 'STARTTLS'], ['tls', 'TLS (implicit)'], ['none', 'None']] }, 'Implicit TLS applies on port 465 or any port but 25 and 587.'),
    username: field('Username', { id: 'email-username', autocomplete: 'off' }),
    password: field('Password', { id: 'email-password', type: 'password', autocomplete: 'new-password' }),
    from: field('From', { id: 'email-from', type: 'email', autocomplete: 'off' }),
    to: field('To', { id: 'email-to', autocomplete: 'off' }, 'One or more addresses, separated by commas.'),
  };
  const ev = (k) => ctl(e[k]);
  const howTo = h('p', { class: 'muted', id: 'email-howto' });
  let providers = [];
  ev('provider').addEventListener('change', () => {
    const p = providers.find((x) => x.name === ev('provider').value);
    if (!p) return;
    if (p.smtpHost) ev('server').value = p.smtpHost;
    ev('port').value = p.smtpPort || 587;
    ev('security').value = p.tls ? 'tls' : p.startTLS ? 'starttls' : 'none';
    howTo.textContent = p.instructions || '';
  });
  const emailBody = () => ({
    enabled: ev('enabled').checked, provider: ev('provider').value, server: ev('server').value.trim(), port: Number(ev('port').value) || 0,
    username: ev('username').value, password: ev('password').value, from: ev('from').value.trim(), to: lines(ev('to').value),
    tls: ev('security').value === 'tls', startTLS: ev('security').value === 'starttls',
  });
  const emailTest = button('Send test email', () => email.run(async () => {
    const r = await api('/api/notifications/test', { method: 'POST', body: { method: 'email', config: emailBody() } });
    return r.message || 'Test email sent.';
  }, emailTest), { id: 'email-test' });
  const email = form({ id: 'email-form', title: 'Email', extra: [emailTest], onSubmit: async () => {
    await api('/api/notifications/email', { method: 'PUT', body: emailBody() });
    loadEmail();
    return 'Email settings saved.';
  } }, e.enabled, h('div', { class: 'grid2' }, e.provider, e.server, e.port, e.security, e.username, e.password, e.from, e.to), howTo);
  async function loadEmail() {
    try {
      providers = (await api('/api/notifications/email-providers')) || [];
      const c = (await api('/api/notifications/email')) || {};
      ev('provider').replaceChildren(h('option', { value: '' }, 'Choose a preset…'), ...providers.map((p) => h('option', { value: p.name }, p.name)));
      ev('provider').value = c.provider || '';
      ev('enabled').checked = !!c.enabled; ev('server').value = c.server || ''; ev('port').value = c.port || 587;
      // What the server will do (notify/email.rs): implicit TLS on 465, or with `tls` on a port
      // other than 25/587; else STARTTLS when asked; else none.
      const implicit = c.port === 465 || (c.tls && !c.startTLS && c.port !== 25 && c.port !== 587);
      ev('security').value = implicit ? 'tls' : c.startTLS ? 'starttls' : 'none';
      ev('username').value = c.username || ''; ev('password').value = c.password || ''; ev('from').value = c.from || ''; ev('to').value = (c.to || []).join(', ');
    } catch (ex) { email.fail(ex.message); }
  }

  // --- webhooks ---
  const w = {
    service: field('Service', { kind: 'select', id: 'hook-service', options: [['generic', 'Generic JSON']] }),
    name: field('Name', { id: 'hook-name', autocomplete: 'off' }),
    url: field('URL', { id: 'hook-url', autocomplete: 'off', inputmode: 'url' }),
    method: field('Method', { kind: 'select', id: 'hook-method', options: ['POST', 'PUT', 'PATCH', 'GET'] }),
    headers: field('Headers', { kind: 'textarea', id: 'hook-headers', rows: 3, placeholder: 'Authorization: Bearer …' }, 'One per line: Name: value.'),
    fields: field('Custom fields', { kind: 'textarea', id: 'hook-fields', rows: 2, placeholder: 'routing_key: …' }, 'Service parameters the template uses, one per line: name: value.'),
    template: field('Payload template', { kind: 'textarea', id: 'hook-template', rows: 8, spellcheck: 'false' },
      'Go template syntax with the alert\'s fields ({{.Level}}, {{.Message}}, {{.ResourceName}}, {{.Value}}…). Empty: the service\'s built-in payload.'),
    enabled: field('Enabled', { kind: 'checkbox', id: 'hook-enabled', checked: true }),
  };
  const wv = (k) => ctl(w[k]);
  const serviceHelp = h('p', { class: 'muted', id: 'hook-help' });
  const builtin = button('Start from the built-in template', () => {
    const t = templates.find((x) => x.service === wv('service').value);
    wv('template').value = t?.payloadTemplate || '';
  }, { class: 'btn sm', id: 'hook-builtin' });
  wv('service').addEventListener('change', () => {
    const t = templates.find((x) => x.service === wv('service').value);
    serviceHelp.textContent = t ? `${t.instructions || ''} URL: ${t.urlPattern}` : '';
    if (t && !wv('url').value) wv('url').placeholder = t.urlPattern;
    if (t?.method && !editing) wv('method').value = t.method;
    if (t?.headers && !wv('headers').value) wv('headers').value = headerLines(t.headers);
  });
  const hookBody = () => {
    const b = { name: wv('name').value.trim(), url: wv('url').value.trim(), method: wv('method').value, service: wv('service').value,
      headers: parseHeaderLines(wv('headers').value), customFields: parseHeaderLines(wv('fields').value), template: wv('template').value, enabled: wv('enabled').checked };
    if (editing) b.id = editing.id;
    return b;
  };
  const hookTest = button('Send test', () => hook.run(async () => {
    const r = await api('/api/notifications/webhooks/test', { method: 'POST', body: hookBody() });
    loadHistory();
    return `Test delivered: HTTP ${r.status}.`;
  }, hookTest), { id: 'hook-test' });
  // The payload the form would send for a sample alert, rendered by the server's template engine.
  const preview = h('div', { id: 'hook-preview-box', 'aria-live': 'polite' });
  const hookPreview = button('Preview payload', () => hook.run(async () => {
    const r = await api('/api/notifications/webhooks/preview', { method: 'POST', body: hookBody() });
    let text = r.body;
    try { text = JSON.stringify(JSON.parse(r.body), null, 2); } catch { /* not JSON (ntfy, custom text): as is */ }
    preview.replaceChildren(h('p', { class: 'muted' }, 'With a sample alert, this request would be sent:'),
      h('pre', { class: 'cmd', id: 'hook-preview', tabindex: 0 }, `${r.method} ${r.url}\n${r.headers.map(([k, x]) => `${k}: ${x}`).join('\n')}\n\n${text}`));
    return null;
  }, hookPreview), { id: 'hook-preview-btn' });
  const hookCancel = button('Cancel edit', () => editHook(null), { id: 'hook-cancel', hidden: true });
  const hookTitle = h('h3', { id: 'hook-form-title' }, 'Add a webhook');
  const hook = form({ id: 'hook-form', submit: 'Save webhook', extra: [hookPreview, hookTest, hookCancel], onSubmit: async () => {
    const b = hookBody();
    if (editing) await api(`/api/notifications/webhooks/${encodeURIComponent(editing.id)}`, { method: 'PUT', body: b });
    else await api('/api/notifications/webhooks', { method: 'POST', body: b });
    editHook(null);
    await loadHooks();
    return `Webhook "${b.name}" saved.`;
  } }, hookTitle, h('div', { class: 'grid2' }, w.service, w.name, w.url, w.method), serviceHelp, w.headers, w.fields, w.template, h('div', { class: 'actions' }, builtin), w.enabled, preview);
  function editHook(x) {
    editing = x;
    hook.reset();
    hookTitle.textContent = x ? `Edit ${x.name}` : 'Add a webhook';
    hookCancel.hidden = !x;
    if (x) {
      wv('service').value = x.service || 'generic'; wv('name').value = x.name; wv('url').value = x.url; wv('method').value = x.method || 'POST';
      wv('headers').value = headerLines(x.headers); wv('fields').value = headerLines(x.customFields); wv('template').value = x.template || '';
      wv('enabled').checked = !!x.enabled;
      wv('name').focus();
    } else {
      wv('enabled').checked = true;
      wv('service').value = 'generic';
    }
    wv('service').dispatchEvent(new Event('change'));
  }
  const hookList = h('div', { id: 'hook-list' });
  const hookListMsg = h('p', { class: 'err', role: 'alert', id: 'hook-list-error' });
  const hookListStatus = h('p', { class: 'ok-msg', role: 'status', id: 'hook-list-status' });
  async function loadHooks() {
    try { hooks = (await api('/api/notifications/webhooks')) || []; } catch (ex) { hookListMsg.textContent = ex.message; return; }
    hookList.replaceChildren(table('Webhooks', ['Name', 'Service', 'URL', 'Enabled', ''], hooks.map((x) => ({ attrs: { 'data-hook': x.id }, cells: [
      x.name, x.service || 'generic', h('span', { class: 'mono' }, x.url), x.enabled ? 'yes' : 'no',
      h('div', { class: 'actions' },
        button('Test', async (ev2) => {
          ev2.target.disabled = true;
          hookListMsg.textContent = ''; hookListStatus.textContent = '';
          try {
            const r = await api('/api/notifications/webhooks/test', { method: 'POST', body: { id: x.id } });
            hookListStatus.textContent = `${x.name}: delivered, HTTP ${r.status}.`;
          } catch (ex) { hookListMsg.textContent = `${x.name}: ${ex.message}`; }
          ev2.target.disabled = false;
          loadHistory();
        }, { class: 'btn sm', 'data-act': 'test', 'aria-label': `Test ${x.name}` }),
        button('Edit', () => editHook(x), { class: 'btn sm', 'aria-label': `Edit ${x.name}` }),
        confirmButton('Delete', 'Confirm delete', async () => {
          try { await api(`/api/notifications/webhooks/${encodeURIComponent(x.id)}`, { method: 'DELETE' }); } catch (ex) { hookListMsg.textContent = ex.message; }
          loadHooks();
        }, { class: 'btn sm danger', 'aria-label': `Delete ${x.name}` })),
    ] }))));
  }
  const history = h('div', { id: 'hook-history' });
  async function loadHistory() {
    try {
      const list = (await api('/api/notifications/history?channel=webhook&limit=50')) || [];
      history.replaceChildren(table('Webhook deliveries', ['When', 'Webhook', 'Kind', 'Result', 'Target'], list.slice(0, 50).map((x) => ({ attrs: { 'data-ok': String(!!x.success) }, cells: [
        dateTime(x.timestamp), x.name, x.kind, x.success ? `OK (HTTP ${x.statusCode})` : `Failed${x.statusCode ? ` (HTTP ${x.statusCode})` : ''}: ${x.errorMessage || ''}`, h('span', { class: 'mono' }, x.target || '')] }))));
    } catch (ex) { history.replaceChildren(h('p', { class: 'err' }, ex.message)); }
  }

  // --- Apprise ---
  const a = {
    enabled: field('Send alerts through Apprise', { kind: 'checkbox', id: 'apprise-enabled' }),
    mode: field('Mode', { kind: 'select', id: 'apprise-mode', options: [['cli', 'Apprise command line'], ['http', 'Apprise API server']] }),
    targets: field('Targets', { kind: 'textarea', id: 'apprise-targets', rows: 3 }, 'Apprise URLs, one per line (CLI mode).'),
    cliPath: field('CLI path', { id: 'apprise-cli', placeholder: 'apprise' }),
    serverUrl: field('API server URL', { id: 'apprise-server', inputmode: 'url' }),
    configKey: field('Config key', { id: 'apprise-key' }),
    apiKey: field('API key', { id: 'apprise-apikey', type: 'password', autocomplete: 'new-password' }),
    apiKeyHeader: field('API key header', { id: 'apprise-apikey-header', placeholder: 'X-API-KEY' }),
    timeout: field('Timeout (seconds)', { id: 'apprise-timeout', type: 'number', min: 1 }),
    skipTls: field('Skip TLS verification', { kind: 'checkbox', id: 'apprise-skip-tls' }),
  };
  const av = (k) => ctl(a[k]);
  const appriseBody = () => ({ enabled: av('enabled').checked, mode: av('mode').value, targets: lines(av('targets').value.replace(/,/g, '\n')), cliPath: av('cliPath').value.trim(),
    serverUrl: av('serverUrl').value.trim(), configKey: av('configKey').value.trim(), apiKey: av('apiKey').value, apiKeyHeader: av('apiKeyHeader').value.trim(),
    timeoutSeconds: Number(av('timeout').value) || 0, skipTlsVerify: av('skipTls').checked });
  const appriseTest = button('Send test', () => apprise.run(async () => {
    const r = await api('/api/notifications/test', { method: 'POST', body: { method: 'apprise' } });
    return r.message || 'Test sent.';
  }, appriseTest), { id: 'apprise-test' });
  const apprise = form({ id: 'apprise-form', title: 'Apprise', extra: [appriseTest], onSubmit: async () => {
    await api('/api/notifications/apprise', { method: 'PUT', body: appriseBody() });
    loadApprise();
    return 'Apprise settings saved.';
  } }, a.enabled, h('div', { class: 'grid2' }, a.mode, a.cliPath, a.serverUrl, a.configKey, a.apiKey, a.apiKeyHeader, a.timeout), a.targets, a.skipTls);
  async function loadApprise() {
    try {
      const c = (await api('/api/notifications/apprise')) || {};
      av('enabled').checked = !!c.enabled; av('mode').value = c.mode || 'cli'; av('targets').value = (c.targets || []).join('\n'); av('cliPath').value = c.cliPath || '';
      av('serverUrl').value = c.serverUrl || ''; av('configKey').value = c.configKey || ''; av('apiKey').value = c.apiKey || ''; av('apiKeyHeader').value = c.apiKeyHeader || '';
      av('timeout').value = c.timeoutSeconds || 15; av('skipTls').checked = !!c.skipTlsVerify;
    } catch (ex) { apprise.fail(ex.message); }
  }

  root.append(email,
    section('Webhooks', 'Discord, Slack, Teams, Telegram, Gotify, ntfy, Pushover, PagerDuty or any JSON endpoint.', hookList, hookListMsg, hookListStatus, hook),
    section('Webhook deliveries', 'The latest attempts, newest first.', history, h('div', { class: 'actions' }, button('Refresh', loadHistory, { class: 'btn sm' }))),
    apprise);
  (async () => {
    try {
      templates = (await api('/api/notifications/webhook-templates')) || [];
      wv('service').replaceChildren(...templates.map((t) => h('option', { value: t.service }, t.name)));
      wv('service').value = 'generic';
      wv('service').dispatchEvent(new Event('change'));
    } catch (ex) { hook.fail(ex.message); }
  })();
  loadEmail();
  loadHooks();
  loadHistory();
  loadApprise();
  return {};
}
