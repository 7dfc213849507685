// Storage: pools per node with shared storage listed once (usage over 24 h, the fill forecast),
// Ceph clusters, ZFS pools (a badge on a storage whose pool needs a look, every pool with the
// devices it lists) and physical disks (SMART health, wearout, temperature).

import { VTable, group, groupLabel } from './vtable.js';
import { api } from './api.js';
import { sparkline } from './chart.js';
import { bar, bytes, esc, h } from './util.js';

const usage = (s) => (s.total > 0 ? (s.used / s.total) * 100 : 0);

/** The state's forecast for a storage (`forecasts`, once an hour of history exists). */
function forecastCell(f) {
  if (!f) return '<span class="muted" title="Not enough history yet">–</span>';
  const title = `${f.growthPercentPerDay >= 0 ? '+' : ''}${f.growthPercentPerDay.toFixed(2)} points a day over ${Math.round(f.basisHours)} h (confidence ${Math.round(f.confidence * 100)}%)`;
  if (f.daysUntilFull == null) return `<span class="muted" title="${esc(title)}">${f.growthPercentPerDay < 0 ? 'shrinking' : 'flat'}</span>`;
  const d = f.daysUntilFull;
  const text = d < 1 ? 'full in <1d' : d < 730 ? `full in ${Math.round(d)}d` : `full in ${Math.round(d / 365)}y`;
  return `<span class="${d < 7 ? 'bad' : d < 30 ? 'warn' : ''}" title="${esc(title)}">${text}</span>`;
}

/** A pool that needs a look: not ONLINE, or counting errors. */
const zfsTrouble = (p) => p && (p.state !== 'ONLINE' || p.readErrors > 0 || p.writeErrors > 0 || p.checksumErrors > 0);
const zfsClass = (p) => (p.state === 'ONLINE' || p.state === 'DEGRADED' ? 'warnb' : 'critb');
const zfsErrors = (x) => `${x.readErrors} read, ${x.writeErrors} write, ${x.checksumErrors} checksum errors`;
const zfsDevice = (d) => `${d.name} (${d.type}) ${d.state}${d.readErrors || d.writeErrors || d.checksumErrors ? `, ${zfsErrors(d)}` : ''}${d.message ? `: ${d.message}` : ''}`;

/** The storage row's ZFS badge: only for a pool that needs a look; the tooltip has the rest. */
function zfsBadge(s) {
  const p = s.zfsPool;
  if (!zfsTrouble(p)) return '';
  const title = [`Pool ${p.name}: ${p.state}`, zfsErrors(p), ...(p.devices || []).map(zfsDevice)].join('\n');
  return ` <span class="badge zfs ${zfsClass(p)}" title="${esc(title)}">ZFS ${esc(p.state)}</span>`;
}

/** Every pool once per node (several storages may live on one pool), troubled ones first. */
function zfsPools(storage) {
  const seen = new Map();
  for (const s of storage) if (s.zfsPool) seen.set(`${s.instance}|${s.node}|${s.zfsPool.name}`, { node: s.node, pool: s.zfsPool });
  const all = [...seen.values()];
  all.sort((a, b) => (zfsTrouble(b.pool) - zfsTrouble(a.pool)) || a.node.localeCompare(b.node, undefined, { numeric: true }) || a.pool.name.localeCompare(b.pool.name));
  if (!all.length) return '<p class="muted">No ZFS pools reported.</p>';
  return all.map(({ node, pool: p }) => {
    const bad = zfsTrouble(p);
    const state = `<span class="badge ${bad ? zfsClass(p) : 'okb'}">${esc(p.state)}</span>`;
    const devs = (p.devices || []).length ? `<ul class="zfs-devs">${p.devices.map((d) => `<li class="mono">${esc(zfsDevice(d))}</li>`).join('')}</ul>` : '';
    const status = bad && p.status ? `<p class="muted">${esc(p.status)}</p>` : '';
    return `<div class="zfs-pool" data-pool="${esc(`${node}/${p.name}`)}"><span><strong>${esc(node)} · ${esc(p.name)}</strong> ${state}</span><span class="${bad ? '' : 'muted'}">${esc(zfsErrors(p))}</span>${p.scan ? ` <span class="muted">${esc(p.scan)}</span>` : ''}${status}${devs}</div>`;
  }).join('');
}

/** Usage history per storage (`/api/storage-charts`, 24 h), refreshed once a minute. */
const trends = { at: 0, data: {}, loading: false };
function refreshTrends(onDone) {
  if (trends.loading || Date.now() - trends.at < 60000) return;
  trends.loading = true;
  api('/api/storage-charts?range=1440')
    .then((r) => {
      trends.data = {};
      for (const [id, c] of Object.entries(r || {})) if (c.usage) trends.data[id] = c.usage.map((p) => ({ timestamp: Date.parse(p.timestamp), value: p.value }));
    })
    .catch(() => {})
    .finally(() => { trends.at = Date.now(); trends.loading = false; onDone(); });
}

export function storageView(root) {
  const cols = [
    { id: 'name', label: 'Storage', w: 170, grow: true, html: (s) => `<span class="name">${esc(s.name)}</span>${zfsBadge(s)}` },
    { id: 'type', label: 'Type', w: 80, html: (s) => `<span class="badge">${esc(s.type)}</span>` },
    { id: 'content', label: 'Content', w: 150, cls: 'c-lo', html: (s) => esc(s.content) },
    { id: 'status', label: 'Status', w: 90, html: (s) => (s.status === 'available' ? '<span class="good">available</span>' : `<span class="bad">${esc(s.status || 'unknown')}</span>`) },
    { id: 'shared', label: 'Shared', w: 110, cls: 'c-mid', html: (s) => (s.shared ? `shared${s.nodes?.length ? ` · ${s.nodes.length} nodes` : ''}` : '–') },
    { id: 'usage', label: 'Usage', w: 220, html: (s) => bar(usage(s), `${bytes(s.used)}/${bytes(s.total)}`) },
    { id: 'trend', label: 'Usage 24h', w: 96, cls: 'c-lo', html: (s) => sparkline(trends.data[s.id], { label: `${s.name} usage, last 24 hours` }) },
    { id: 'forecast', label: 'Forecast', w: 100, cls: 'c-mid', html: (s) => forecastCell(forecasts.get(s.id)) },
    { id: 'free', label: 'Free', w: 80, cls: 'num c-mid', html: (s) => esc(bytes(s.free)) },
    { id: 'total', label: 'Total', w: 80, cls: 'num c-mid', html: (s) => esc(bytes(s.total)) },
  ];
  const table = new VTable(cols, { label: 'Storage', rowClass: (s) => (s.status === 'available' ? '' : 'dim') });
  table.setEmpty('No storage reported yet.');
  const ceph = h('div');
  const zfs = h('div', { 'aria-label': 'ZFS pools' });
  const disks = new VTable([
    { id: 'node', label: 'Node', w: 90, html: (d) => esc(d.node) },
    { id: 'dev', label: 'Device', w: 110, html: (d) => `<span class="mono">${esc(d.devPath)}</span>` },
    { id: 'model', label: 'Model', w: 200, grow: true, html: (d) => esc(d.model) },
    { id: 'type', label: 'Type', w: 60, html: (d) => esc(d.type) },
    { id: 'size', label: 'Size', w: 80, cls: 'num', html: (d) => esc(bytes(d.size)) },
    { id: 'health', label: 'SMART', w: 80, html: (d) => (d.health === 'PASSED' || d.health === 'OK' ? '<span class="good">PASSED</span>' : `<span class="bad">${esc(d.health || 'unknown')}</span>`) },
    { id: 'wear', label: 'Wearout', w: 80, cls: 'num', html: (d) => (d.wearout > 0 ? `<span class="${d.wearout < 10 ? 'bad' : ''}">${d.wearout}%</span>` : '–') },
    { id: 'temp', label: 'Temp', w: 60, cls: 'num c-mid', html: (d) => (d.temperature > 0 ? `${d.temperature}°C` : '–') },
  ], { label: 'Physical disks' });
  disks.setEmpty('No physical disks reported.');
  root.append(
    h('section', { class: 'card' }, h('h2', {}, 'Storage pools'), table.el),
    h('section', { class: 'card' }, h('h2', {}, 'Ceph'), ceph),
    h('section', { class: 'card' }, h('h2', {}, 'ZFS pools'), zfs),
    h('section', { class: 'card' }, h('h2', {}, 'Physical disks'), disks.el));
  let forecasts = new Map();
  let last = null;
  let zfsHtml = '';
  return {
    update(st) {
      last = st;
      refreshTrends(() => { if (last) this.update(last); });
      forecasts = new Map((st.forecasts || []).map((f) => [f.id, f]));
      const shared = new Map();
      const perNode = new Map();
      for (const s of st.storage) {
        if (!(s.total > 0)) continue; // the original hides empty entries
        if (s.shared) {
          const k = `${s.instance}|${s.name}|${s.type}`;
          if (!shared.has(k)) shared.set(k, s);
        } else {
          if (!perNode.has(s.node)) perNode.set(s.node, []);
          perNode.get(s.node).push(s);
        }
      }
      const rows = [];
      const byName = (a, b) => a.name.localeCompare(b.name);
      if (shared.size) {
        rows.push(group('shared', groupLabel('Shared storage')));
        rows.push(...[...shared.values()].sort(byName));
      }
      for (const node of [...perNode.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
        rows.push(group(node, groupLabel(node)));
        rows.push(...perNode.get(node).sort(byName));
      }
      table.setRows(rows);
      const cl = st.cephClusters || [];
      ceph.innerHTML = cl.length ? cl.map((c) => `<div class="kv"><span><strong>${esc(c.name)}</strong> <span class="badge ${c.health === 'HEALTH_OK' ? 'okb' : 'warnb'}">${esc(c.health)}</span></span>${bar(c.totalBytes > 0 ? (c.usedBytes / c.totalBytes) * 100 : 0, `${bytes(c.usedBytes)}/${bytes(c.totalBytes)}`)} <span class="muted">OSDs ${c.numOsdsUp}/${c.numOsds} up · ${c.numPGs} PGs</span>${c.healthMessage ? `<p class="muted">${esc(c.healthMessage)}</p>` : ''}</div>`).join('') : '<p class="muted">No Ceph cluster.</p>';
      const zhtml = zfsPools(st.storage);
      if (zhtml !== zfsHtml) zfs.innerHTML = zfsHtml = zhtml;
      disks.setRows([...(st.physicalDisks || [])].sort((a, b) => (a.node + a.devPath).localeCompare(b.node + b.devPath)));
    },
    destroy() { last = null; },
  };
}
