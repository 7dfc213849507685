// Settings → Nodes: the configured PVE, PBS and PMG instances with their connection state (live
// from the feed), cluster membership, and add / edit / delete with a live connection test whose
// message is the API's own; token or password; certificate fingerprint pinning; the one-time
// setup-script command; discovery results with one-click "use".

import { api } from './api.js';
import { ago, h } from './util.js';
import { button, confirmButton, copyButton, ctl, field, form, section, table } from './forms.js';

const TYPES = [['pve', 'Proxmox VE'], ['pbs', 'Proxmox Backup Server'], ['pmg', 'Proxmox Mail Gateway']];
const PORTS = { pve: 8006, pbs: 8007, pmg: 8006 };
const MONITOR = {
  pve: [['monitorVMs', 'VMs'], ['monitorContainers', 'Containers'], ['monitorStorage', 'Storage'], ['monitorBackups', 'Backups'], ['monitorPhysicalDisks', 'Physical disks'], ['temperatureMonitoringEnabled', 'Temperatures']],
  pbs: [['monitorDatastores', 'Datastores'], ['monitorSyncJobs', 'Sync jobs'], ['monitorVerifyJobs', 'Verify jobs'], ['monitorPruneJobs', 'Prune jobs'], ['monitorGarbageJobs', 'Garbage collection']],
  pmg: [['monitorMailStats', 'Mail statistics'], ['monitorQueues', 'Queues'], ['monitorQuarantine', 'Quarantine'], ['monitorDomainStats', 'Domain statistics']],
};

export function nodesPage(root) {
  let nodes = [];
  let editing = null; // the node being edited, or null for a new one
  let health = {};
  let healthSig = '';
  const list = h('div', { id: 'node-list' });
  const listMsg = h('p', { class: 'err', role: 'alert', id: 'node-list-error' });

  // --- the add / edit form ---
  const f = {
    type: field('Type', { kind: 'select', id: 'node-type', options: TYPES, value: 'pve' }),
    name: field('Name', { id: 'node-name', autocomplete: 'off', required: true }, 'Shown in Pulse; for a cluster, any name.'),
    host: field('Host URL', { id: 'node-host', autocomplete: 'off', required: true, placeholder: 'https://192.168.1.10:8006', inputmode: 'url' }),
    auth: field('Authentication', { kind: 'select', id: 'node-auth', options: [['token', 'API token (recommended)'], ['password', 'User and password']], value: 'token' }),
    user: field('User', { id: 'node-user', autocomplete: 'off', placeholder: 'root@pam' }),
    tokenName: field('Token ID', { id: 'node-token-name', autocomplete: 'off', placeholder: 'pulse-monitor@pam!pulse' }, 'user@realm!tokenid, as Proxmox shows it.'),
    tokenValue: field('Token secret', { id: 'node-token-value', type: 'password', autocomplete: 'off' }),
    password: field('Password', { id: 'node-password', type: 'password', autocomplete: 'off' }),
    verify: field('Verify the certificate against the system CAs', { kind: 'checkbox', id: 'node-verify' }),
    fingerprint: field('Pinned certificate fingerprint (SHA-256)', { id: 'node-fingerprint', autocomplete: 'off', spellcheck: 'false', placeholder: 'AA:BB:…' },
      'Self-signed certificate: pin it. On the host: pvenode cert info (or proxmox-backup-manager cert info) shows it. Empty and not verified: any certificate is accepted.'),
    guestURL: field('Guest console URL (optional)', { id: 'node-guest-url', autocomplete: 'off' }),
  };
  const monitorBox = h('fieldset', { id: 'node-monitor' });
  const trustBox = h('div', { id: 'node-trust-box', 'aria-live': 'polite' });
  const secretNote = h('p', { class: 'muted', id: 'node-secret-note', hidden: true }, 'Leave secrets empty to keep the stored ones.');
  const heading = h('h2', { id: 'node-form-title' }, 'Add a node');
  const cancel = button('Cancel edit', () => startEdit(null), { hidden: true, id: 'node-cancel' });
  const testBtn = button('Test connection', () => nodeForm.run(testConnection, testBtn), { id: 'node-test' });
  const nodeForm = form({ id: 'node-form', submit: 'Save node', extra: [testBtn, cancel], onSubmit: save },
    heading,
    h('div', { class: 'grid2' }, f.type, f.name, f.host, f.auth),
    h('div', { class: 'grid2', id: 'node-auth-token' }, f.tokenName, f.tokenValue),
    h('div', { class: 'grid2', id: 'node-auth-password' }, f.user, f.password),
    secretNote,
    h('fieldset', {}, h('legend', {}, 'TLS'), f.verify, f.fingerprint, trustBox),
    f.guestURL, monitorBox);
  const v = (k) => ctl(f[k]);

  function paintAuth() {
    const token = v('auth').value === 'token';
    nodeForm.querySelector('#node-auth-token').hidden = !token;
    nodeForm.querySelector('#node-auth-password').hidden = token;
  }
  function paintMonitor(values = {}) {
    const t = v('type').value;
    monitorBox.replaceChildren(h('legend', {}, 'Monitor'), ...MONITOR[t].map(([k, label]) =>
      field(label, { kind: 'checkbox', id: `node-${k}`, 'data-key': k, checked: values[k] ?? (k !== 'temperatureMonitoringEnabled') })));
  }
  v('auth').addEventListener('change', paintAuth);
  v('type').addEventListener('change', () => {
    paintMonitor();
    if (!v('host').value) v('host').placeholder = `https://192.168.1.10:${PORTS[v('type').value]}`;
  });

  function body() {
    const b = { type: v('type').value, name: v('name').value.trim(), host: v('host').value.trim(), verifySSL: v('verify').checked,
      fingerprint: v('fingerprint').value.trim(), guestURL: v('guestURL').value.trim() };
    if (v('auth').value === 'token') {
      b.tokenName = v('tokenName').value.trim();
      if (v('tokenValue').value) b.tokenValue = v('tokenValue').value;
      b.user = b.tokenName.includes('!') ? b.tokenName.split('!')[0] : v('user').value.trim();
    } else {
      b.user = v('user').value.trim();
      if (v('password').value) b.password = v('password').value;
      b.tokenName = '';
    }
    for (const i of monitorBox.querySelectorAll('input[data-key]')) b[i.dataset.key] = i.checked;
    return b;
  }

  // A certificate problem: the API names the certificate the host presents; offer to pin it.
  function offerTrust(fp) {
    const trust = button('Trust this certificate', () => {
      v('fingerprint').value = fp;
      trustBox.replaceChildren(h('p', { class: 'ok-msg' }, 'Fingerprint pinned in the form: test again or save.'));
      v('fingerprint').focus();
    }, { id: 'node-trust', class: 'btn accent' });
    trustBox.replaceChildren(h('div', { class: 'once' },
      h('p', {}, 'The host presents this certificate. Compare it with ', h('code', {}, 'pvenode cert info'), ' (PBS: ', h('code', {}, 'proxmox-backup-manager cert info'), ') on the host before trusting it.'),
      h('pre', { class: 'cmd', id: 'node-presented-fp', tabindex: 0 }, fp), h('div', { class: 'actions' }, trust)));
  }

  async function testConnection() {
    trustBox.replaceChildren();
    try { return await testOnce(); } catch (e) {
      if (e.data?.certificateFingerprint) offerTrust(e.data.certificateFingerprint);
      throw e;
    }
  }
  async function testOnce() {
    // A saved node with its secrets left empty is tested with the stored credentials.
    const b = body();
    const r = editing && !b.tokenValue && !b.password
      ? await api(`/api/config/nodes/${encodeURIComponent(editing.id)}/test`, { method: 'POST', body: {} })
      : await api('/api/config/nodes/test-connection', { method: 'POST', body: b });
    const warn = (r.warnings || []).length ? ` Warnings: ${r.warnings.join('; ')}` : '';
    return `${r.message || 'Connection works.'}${r.isCluster ? ' (cluster detected)' : ''}${warn}`;
  }

  async function save() {
    const b = body();
    if (editing) await api(`/api/config/nodes/${encodeURIComponent(editing.id)}`, { method: 'PUT', body: b });
    else await api('/api/config/nodes', { method: 'POST', body: b });
    const name = b.name;
    startEdit(null);
    await load();
    return `Node "${name}" saved. Polling starts now.`;
  }

  function startEdit(n) {
    editing = n;
    nodeForm.reset();
    heading.textContent = n ? `Edit ${n.name}` : 'Add a node';
    cancel.hidden = !n;
    secretNote.hidden = !n;
    v('type').disabled = !!n;
    if (n) {
      v('type').value = n.type; v('name').value = n.name; v('host').value = n.host;
      v('auth').value = n.hasToken || n.tokenName ? 'token' : 'password';
      v('tokenName').value = n.tokenName || ''; v('user').value = n.user || '';
      v('verify').checked = !!n.verifySSL; v('fingerprint').value = n.fingerprint || ''; v('guestURL').value = n.guestURL || '';
      nodeForm.scrollIntoView({ block: 'start' });
      v('name').focus();
    }
    paintAuth();
    paintMonitor(n || {});
  }

  // --- the list ---
  const stateOf = (n) => {
    // The state keys PVE instances by name, PBS and PMG as <type>-<name>.
    const key = n.type === 'pve' ? n.name : `${n.type}-${n.name}`;
    const ok = key in health ? health[key] === true : n.status === 'connected';
    return ok ? ['Connected', 'okb'] : ['Not connected', 'critb'];
  };
  function paintList() {
    const rows = nodes.map((n) => {
      const [label, cls] = stateOf(n);
      const members = (n.clusterEndpoints || []);
      const cluster = n.isCluster
        ? h('span', {}, `${n.clusterName || 'cluster'}: `, members.map((m) => `${m.NodeName}${m.Online ? '' : ' (offline)'}`).join(', ') || 'members pending')
        : 'standalone';
      const auth = n.hasToken ? `token ${n.tokenName || ''}` : n.hasPassword ? `password (${n.user})` : '–';
      const tls = n.fingerprint ? 'fingerprint pinned' : n.verifySSL ? 'verified' : 'not verified';
      const actions = n.readOnly ? h('span', { class: 'muted' }, 'demo') : h('div', { class: 'actions' },
        button('Test', (e) => testSaved(n, e.target), { class: 'btn sm', 'data-act': 'test', 'aria-label': `Test ${n.name}` }),
        button('Edit', () => startEdit(n), { class: 'btn sm', 'data-act': 'edit', 'aria-label': `Edit ${n.name}` }),
        confirmButton('Delete', 'Confirm delete', () => remove(n), { class: 'btn sm danger', 'data-act': 'delete', 'aria-label': `Delete ${n.name}` }));
      return { attrs: { 'data-node': n.id, 'data-status': label === 'Connected' ? 'connected' : 'disconnected' }, cells: [
        h('span', {}, h('span', { class: `badge ${n.type}` }, n.type.toUpperCase()), ' ', h('strong', {}, n.name)),
        h('span', { class: 'mono' }, n.host), auth, tls, cluster, h('span', { class: `badge ${cls}`, role: 'status' }, label), actions] };
    });
    list.replaceChildren(table('Configured nodes', ['Node', 'Host', 'Credentials', 'TLS', 'Cluster', 'State', ''], rows));
  }
  async function load() {
    try { nodes = (await api('/api/config/nodes')) || []; listMsg.textContent = ''; } catch (e) { listMsg.textContent = e.message; }
    paintList();
  }
  async function testSaved(n, btn) {
    btn.disabled = true;
    try {
      const r = await api(`/api/config/nodes/${encodeURIComponent(n.id)}/test`, { method: 'POST', body: {} });
      listMsg.textContent = '';
      listStatus.textContent = `${n.name}: ${r.message || 'connection works'}${r.latency != null ? ` (${r.latency} ms)` : ''}`;
    } catch (e) { listStatus.textContent = ''; listMsg.textContent = `${n.name}: ${e.message}`; }
    btn.disabled = false;
  }
  async function remove(n) {
    try {
      await api(`/api/config/nodes/${encodeURIComponent(n.id)}`, { method: 'DELETE' });
      listStatus.textContent = `Node "${n.name}" removed.`;
      if (editing?.id === n.id) startEdit(null);
    } catch (e) { listMsg.textContent = e.message; }
    load();
  }
  const listStatus = h('p', { class: 'ok-msg', role: 'status', id: 'node-list-status' });

  // --- setup script: the node registers itself with a one-time code ---
  const scriptOut = h('div', { id: 'setup-script-out' });
  const script = form({
    id: 'setup-form', title: 'Set up a node with a script', submit: 'Get the setup command',
    onSubmit: async (sf) => {
      const r = await api('/api/setup-script-url', { method: 'POST', body: { type: sf.querySelector('#setup-type').value, host: sf.querySelector('#setup-host').value.trim(), backupPerms: sf.querySelector('#setup-backup').checked } });
      const pre = h('pre', { class: 'cmd', id: 'setup-command', tabindex: 0 }, r.command);
      const exp = Number(r.expires);
      scriptOut.replaceChildren(h('p', {}, 'Run this as root on the node. It creates a monitoring user and token and registers the node here; the code works once',
        Number.isFinite(exp) ? ` and expires ${new Date(exp < 1e11 ? exp * 1000 : exp).toLocaleTimeString()}` : '', '.'),
      pre, h('div', { class: 'actions' }, copyButton(pre, 'Copy command')), h('p', { class: 'muted' }, 'Setup code: ', h('code', {}, r.setupToken || '')));
      return null;
    },
  },
  h('p', { class: 'muted' }, 'No typing of credentials: the node creates its own token and registers with this Pulse.'),
  h('div', { class: 'grid2' }, field('Type', { kind: 'select', id: 'setup-type', options: TYPES.slice(0, 2) }), field('Node address (optional)', { id: 'setup-host', placeholder: 'https://192.168.1.10:8006' })),
  field('Also allow reading backups (PVE)', { kind: 'checkbox', id: 'setup-backup' }), scriptOut);

  // --- discovery ---
  const found = h('div', { id: 'discovery-list' });
  async function loadDiscovery() {
    try {
      const d = await api('/api/discover');
      const servers = d?.servers || [];
      found.replaceChildren(table('Discovered servers', ['Server', 'Type', 'Version', ''], servers.map((x) => [
        `${x.hostname || x.name || x.ip || x.host}${x.ip ? ` (${x.ip}:${x.port})` : ''}`, (x.type || '').toUpperCase(), x.version || '–',
        button('Use', () => {
          startEdit(null);
          v('type').value = x.type || 'pve'; v('type').dispatchEvent(new Event('change'));
          v('host').value = `https://${x.ip || x.host}:${x.port || PORTS[x.type] || 8006}`;
          v('name').value = x.hostname || x.name || '';
          v('name').focus();
        }, { class: 'btn sm', 'aria-label': `Use ${x.ip || x.host}` })])),
      h('p', { class: 'muted' }, d?.scanning ? 'Scanning…' : d?.timestamp || d?.updated ? `Last scan ${ago(d.timestamp || d.updated)}` : 'No scan yet.'));
    } catch (e) { found.replaceChildren(h('p', { class: 'err' }, e.message)); }
  }
  const scan = button('Scan the network', async () => {
    try { await api('/api/discover', { method: 'POST', body: { subnet: 'auto' } }); } catch (e) { found.replaceChildren(h('p', { class: 'err' }, e.message)); return; }
    setTimeout(loadDiscovery, 3000);
  }, { id: 'discovery-scan' });

  root.append(section('Nodes', 'Proxmox hosts Pulse polls. A cluster needs only one entry: its members are found and used for failover.', list, listMsg, listStatus),
    nodeForm, script, section('Discovery', 'Proxmox servers found on the local network.', found, h('div', { class: 'actions' }, scan)));
  startEdit(null);
  load();
  loadDiscovery();
  return {
    update(st) {
      // The connection states come with the feed; the list is re-read when they change.
      const sig = JSON.stringify(st.connectionHealth || {});
      if (sig === healthSig) return;
      healthSig = sig;
      health = st.connectionHealth || {};
      load();
    },
  };
}
