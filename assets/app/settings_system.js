// Settings → System: polling intervals, discovery, theme, retention and the other writable
// settings (keys pinned by the environment are shown read-only); export / import of the
// encrypted configuration with the passphrase rules; diagnostics; agent install commands with a
// freshly minted, narrowly scoped token.

import { api } from './api.js';
import { h, uptime } from './util.js';
import { button, copyButton, ctl, download, field, form, section, table } from './forms.js';

const MIN_PASSPHRASE = 12; // config::export::MIN_PASSPHRASE_LEN

// key → [label, kind, hint]; kind: 'num' | 'bool' | 'text' | 'list' | ['select', options].
const SETTINGS = [
  ['pvePollingInterval', 'PVE polling interval (seconds)', 'num', 'Set at start-up (environment or pulse.env).'],
  ['pbsPollingInterval', 'PBS polling interval (seconds)', 'num'],
  ['pmgPollingInterval', 'PMG polling interval (seconds)', 'num'],
  ['backupPollingEnabled', 'Poll backups', 'bool'],
  ['backupPollingInterval', 'Backup polling interval (seconds, 0 = automatic)', 'num'],
  ['connectionTimeout', 'Connection timeout (seconds)', 'num'],
  ['metricsRetentionDays', 'Keep metric history (days, 1–7)', 'num'],
  ['theme', 'Default theme', ['select', [['', 'Follow the system'], ['light', 'Light'], ['dark', 'Dark']]], 'For browsers without their own choice; the header toggle sets yours.'],
  ['temperatureMonitoringEnabled', 'Monitor temperatures', 'bool'],
  ['discoveryEnabled', 'Discover Proxmox servers on the network', 'bool'],
  ['discoverySubnet', 'Discovery subnet', 'text', '"auto" or CIDR ranges, comma separated.'],
  ['webhookAllowedCIDRs', 'Private networks webhooks may reach', 'text', 'CIDR ranges, comma separated; loopback and link-local are refused unless listed.'],
  ['allowedOrigins', 'Allowed CORS origins', 'text'],
  ['allowEmbedding', 'Allow embedding in frames', 'bool'],
  ['allowedEmbedOrigins', 'Allowed embedding origins', 'text'],
];

export function systemPage(root) {
  let current = {};
  const inputs = {};
  const grid = h('div', { class: 'grid2' });
  const envNote = h('p', { class: 'muted', id: 'settings-env-note' });
  const settings = form({ id: 'system-form', title: 'General', onSubmit: async () => {
    const patch = {};
    for (const [k, el] of Object.entries(inputs)) {
      if (el.disabled) continue;
      const val = el.type === 'checkbox' ? el.checked : el.type === 'number' ? (el.value === '' ? null : Number(el.value)) : el.value.trim();
      if (JSON.stringify(val) !== JSON.stringify(current[k] ?? (el.type === 'checkbox' ? false : el.type === 'number' ? null : ''))) patch[k] = val;
    }
    if (!Object.keys(patch).length) return 'Nothing changed.';
    await api('/api/system/settings/update', { method: 'POST', body: patch });
    if ('theme' in patch && patch.theme) document.dispatchEvent(new CustomEvent('pulse-theme', { detail: patch.theme }));
    await load();
    return `Saved: ${Object.keys(patch).join(', ')}.`;
  } }, envNote, grid);

  async function load() {
    try { current = (await api('/api/system/settings')) || {}; } catch (e) { settings.fail(e.message); return; }
    const env = current.envOverrides || {};
    grid.replaceChildren();
    for (const [k, label, kind, hint] of SETTINGS) {
      // Empty and zero values are left out of the answer: show them as defaults, not hide them.
      if (k === 'pvePollingInterval' && !(k in current)) continue;
      const id = `set-${k}`;
      let f;
      if (kind === 'bool') f = field(label, { kind: 'checkbox', id, checked: !!current[k] }, hint);
      else if (kind === 'num') f = field(label, { id, type: 'number', min: 0, value: current[k] ?? '' }, hint);
      else if (Array.isArray(kind)) f = field(label, { kind: 'select', id, options: kind[1], value: current[k] ?? '' }, hint);
      else f = field(label, { id, value: Array.isArray(current[k]) ? current[k].join(', ') : current[k] ?? '' }, hint);
      const el = ctl(f);
      // Not writable here: pinned by the environment, or the PVE interval (start-up only).
      if (env[k] || k === 'pvePollingInterval') { el.disabled = true; if (env[k]) f.append(h('small', { class: 'muted' }, 'Set by the environment; change it there.')); }
      inputs[k] = el;
      grid.append(f);
    }
    const pinned = Object.keys(env).filter((k) => env[k]);
    envNote.textContent = pinned.length ? `Pinned by environment variables: ${pinned.join(', ')}.` : '';
  }

  // --- export / import ---
  const rules = `At least ${MIN_PASSPHRASE} characters. You need the same passphrase to import; Pulse cannot recover it. The file holds node credentials and notification secrets, encrypted with it.`;
  const exp = form({ id: 'export-form', title: 'Export the configuration', submit: 'Export', onSubmit: async (f) => {
    const p = f.querySelector('#export-pass').value;
    if (p !== f.querySelector('#export-pass2').value) throw new Error('The passphrases do not match.');
    const r = await api('/api/config/export', { method: 'POST', body: { passphrase: p } });
    const name = `pulse-config-${new Date().toISOString().slice(0, 10)}.enc`;
    download(name, r.data, 'application/octet-stream');
    f.reset();
    return `Exported: ${name} (${r.data.length} bytes) downloaded.`;
  } },
  h('p', { class: 'muted', id: 'export-rules' }, rules),
  h('div', { class: 'grid2' }, field('Passphrase', { id: 'export-pass', type: 'password', autocomplete: 'new-password', minlength: MIN_PASSPHRASE }),
    field('Repeat passphrase', { id: 'export-pass2', type: 'password', autocomplete: 'new-password' })));
  const imp = form({ id: 'import-form', title: 'Import a configuration', submit: 'Import', onSubmit: async (f) => {
    const file = f.querySelector('#import-file').files[0];
    const data = file ? (await file.text()).trim() : f.querySelector('#import-data').value.trim();
    if (!data) throw new Error('Choose an export file or paste its contents.');
    await api('/api/config/import', { method: 'POST', body: { passphrase: f.querySelector('#import-pass').value, data } });
    f.reset();
    await load();
    return 'Configuration imported: nodes, alerts, notifications and settings are in use now.';
  } },
  h('p', { class: 'muted' }, 'Replaces nodes, alert and notification settings, system settings and guest metadata with the file\'s. Sign-in and API tokens of this server stay.'),
  field('Export file', { id: 'import-file', type: 'file', accept: '.enc,.txt,application/octet-stream' }),
  field('…or paste the exported data', { kind: 'textarea', id: 'import-data', rows: 3, spellcheck: 'false' }),
  field('Passphrase', { id: 'import-pass', type: 'password', autocomplete: 'off' }));

  // --- diagnostics ---
  const diagOut = h('div', { id: 'diag-out', 'aria-live': 'polite' });
  let lastDiag = null;
  const runDiag = button('Run diagnostics', async () => {
    runDiag.disabled = true;
    diagOut.replaceChildren(h('p', { class: 'muted' }, 'Testing every node…'));
    try {
      const d = lastDiag = await api('/api/diagnostics');
      const nodes = [...(d.nodes || []).map((n) => ({ ...n, type: n.type || 'pve' })), ...(d.pbs || []).map((n) => ({ ...n, type: 'pbs' }))];
      diagOut.replaceChildren(
        h('dl', { class: 'facts' }, h('dt', {}, 'Version'), h('dd', {}, d.version || '–'), h('dt', {}, 'Uptime'), h('dd', {}, uptime(d.uptime)),
          h('dt', {}, 'System'), h('dd', {}, d.system ? `${d.system.os}/${d.system.arch}, ${d.system.numCPU} CPUs, ${d.system.memoryMB} MB` : '–')),
        table('Node checks', ['Node', 'Type', 'Host', 'Result'], nodes.map((n) => ({ attrs: { 'data-ok': String(!!n.connected) }, cells: [
          n.name, n.type.toUpperCase(), h('span', { class: 'mono' }, n.host || ''),
          n.connected ? `OK${n.latencyMs != null ? ` (${n.latencyMs} ms)` : ''}` : h('span', { class: 'bad' }, n.error || n.lastPollError || 'not connected')] }))),
        (d.errors || []).length ? h('ul', { class: 'plain bad', id: 'diag-errors' }, d.errors.map((e) => h('li', {}, typeof e === 'string' ? e : JSON.stringify(e)))) : h('p', { class: 'good' }, 'No errors reported.'),
        h('div', { class: 'actions' }, button('Download as JSON', () => download('pulse-diagnostics.json', JSON.stringify(lastDiag, null, 2)), { class: 'btn sm' })));
    } catch (e) { diagOut.replaceChildren(h('p', { class: 'err', role: 'alert' }, e.message)); }
    runDiag.disabled = false;
  }, { id: 'diag-run' });

  // --- agents ---
  const origin = location.origin;
  const agentBox = (kind, label, scope, script) => {
    const cmd = (token) => `curl -fsSL ${origin}/${script} | sudo bash -s -- --url ${origin} --token ${token}`;
    const pre = h('pre', { class: 'cmd', id: `agent-${kind}-cmd`, tabindex: 0 }, cmd('<API token>'));
    const note = h('p', { class: 'muted' }, `Needs a token with the ${scope} scope.`);
    const mint = button(`Create a ${label} token`, async () => {
      mint.disabled = true;
      try {
        const r = await api('/api/security/tokens', { method: 'POST', body: { name: `${kind}-agent ${new Date().toISOString().slice(0, 16)}`, scopes: [scope] } });
        pre.textContent = cmd(r.token);
        note.textContent = 'The command holds a new token, shown only here and only now. Revoke it under Security.';
      } catch (e) { note.textContent = e.message; note.className = 'err'; }
      mint.disabled = false;
    }, { id: `agent-${kind}-mint` });
    return h('div', { class: 'grid-gap' }, h('h3', {}, label), note, pre, h('div', { class: 'actions' }, mint, copyButton(pre, 'Copy command')));
  };

  root.append(settings,
    h('div', { class: 'grid2 wide' }, exp, imp),
    section('Diagnostics', 'Tests every configured node now and reports poll errors.', diagOut, h('div', { class: 'actions' }, runDiag)),
    section('Agents', 'Install on a machine to report Docker containers or the host itself.',
      agentBox('docker', 'Docker agent', 'docker:report', 'install-docker-agent.sh'),
      agentBox('host', 'Host agent', 'host-agent:report', 'install-host-agent.sh')));
  load();
  return {};
}
