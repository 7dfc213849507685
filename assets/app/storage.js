// Storage: pools per node with shared storage listed once (usage over 24 h, the fill forecast),
// Ceph clusters, ZFS pool health and physical disks (SMART health, wearout, temperature).

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
    { id: 'name', label: 'Storage', w: 170, grow: true, html: (s) => `<span class="name">${esc(s.name)}</span>${s.zfsPool ? ` <span class="badge ${s.zfsPool.state === 'ONLINE' ? 'okb' : 'warnb'}">ZFS ${esc(s.zfsPool.state)}</span>` : ''}` },
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
    h('section', { class: 'card' }, h('h2', {}, 'Physical disks'), disks.el));
  let forecasts = new Map();
  let last = null;
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
      disks.setRows([...(st.physicalDisks || [])].sort((a, b) => (a.node + a.devPath).localeCompare(b.node + b.devPath)));
    },
    destroy() { last = null; },
  };
}
