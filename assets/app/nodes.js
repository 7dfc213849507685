// The node summary table (top of Overview and Storage): one row per PVE node with CPU, memory
// and disk bars as the state gives them, online state, uptime, temperature, version, a 1 h CPU
// trend from /api/charts and guest counts.

import { VTable } from './vtable.js';
import { sparkline } from './chart.js';
import { api } from './api.js';
import { bar, bytes, esc, uptime, statusDot } from './util.js';

export const nodeOnline = (n) => n.status === 'online' && n.uptime > 0 && !['offline', 'error'].includes(n.connectionHealth);
export const nodeLabel = (n) => n.displayName || n.name || n.host || n.instance;

/** The displayed CPU temperature: the maximum of package, max and core readings. */
export function nodeTemp(n) {
  const t = n.temperature;
  if (!t || !t.available) return null;
  const vals = [t.cpuPackage, t.cpuMax, ...(t.cores || []).map((c) => c.temp)].filter((v) => Number.isFinite(v) && v > 0);
  return vals.length ? Math.max(...vals) : null;
}

/** The CPU trend per node, refreshed once a minute (the history resolution). */
// One small request per node (`id=`): the unfiltered answer carries every guest's history.
const trends = { at: 0, data: {}, loading: false };
function refreshTrends(nodes, onDone) {
  if (trends.loading || !nodes.length || Date.now() - trends.at < 60000) return;
  trends.loading = true;
  Promise.all(nodes.map((n) => api(`/api/charts?range=1h&id=${encodeURIComponent(n.id)}`)
    .then((r) => { trends.data[n.id] = r?.nodeData?.[n.id] || {}; }).catch(() => {})))
    .then(() => { trends.at = Date.now(); trends.loading = false; onDone(); });
}

/** The node temperature cell: °C, amber within 10 °C of the alert trigger, and a "hot" badge
 *  at or past it (the trigger the alert engine uses, so the badge and the alert agree). */
export function tempCell(t, trigger) {
  if (t == null) return '<span class="muted">–</span>';
  const hot = trigger > 0 && t >= trigger;
  const cls = hot ? 'bad' : trigger > 0 && t >= trigger - 10 ? 'warn' : '';
  return `<span class="temp ${cls}">${Math.round(t)}°C</span>${hot ? ' <span class="badge critb hot" title="At or past the temperature alert threshold">hot</span>' : ''}`;
}

export function nodeTable({ onPick, extra = [] } = {}) {
  let counts = {};
  // Node temperature alert trigger (°C), read once per view from the alert configuration;
  // Pulse's default until then, none when the metric is switched off there.
  let trigger = 80, asked = false;
  const cols = [
    { id: 'name', label: 'Node', w: 220, grow: true, html: (n) => {
      const ver = (n.pveVersion || '').split('/')[1];
      const cluster = n.isClusterMember ? n.clusterName : 'Standalone';
      return `${statusDot(nodeOnline(n), nodeOnline(n) ? 'online' : 'offline')}<span class="name">${esc(nodeLabel(n))}</span>${ver ? ` <span class="badge pve">PVE ${esc(ver)}</span>` : ''} <span class="badge">${esc(cluster || '')}</span>`;
    } },
    { id: 'uptime', label: 'Uptime', w: 80, html: (n) => (nodeOnline(n) ? esc(uptime(n.uptime)) : '<span class="bad">offline</span>') },
    { id: 'cpu', label: 'CPU', w: 170, html: (n) => (nodeOnline(n) ? bar(n.cpu * 100, `${n.cpuInfo?.cores || '?'} cores`) : '–') },
    { id: 'trend', label: 'CPU 1h', w: 96, cls: 'c-lo', html: (n) => sparkline(trends.data[n.id]?.cpu, { label: `${nodeLabel(n)} CPU, last hour` }) },
    { id: 'mem', label: 'Memory', w: 190, html: (n) => (nodeOnline(n) ? bar(n.memory?.usage, `${bytes(n.memory?.used)}/${bytes(n.memory?.total)}`) : '–') },
    { id: 'disk', label: 'Disk', w: 190, cls: 'c-mid', html: (n) => (nodeOnline(n) && n.disk?.total ? bar(Number.isFinite(n.disk.usage) ? n.disk.usage : (n.disk.used / n.disk.total) * 100, `${bytes(n.disk.used)}/${bytes(n.disk.total)}`) : '–') },
    { id: 'temp', label: 'Temp', w: 96, cls: 'c-lo', html: (n) => tempCell(nodeTemp(n), trigger) },
    { id: 'vms', label: 'VMs', w: 52, cls: 'c-mid num', html: (n) => String(counts[n.id]?.vm || 0) },
    { id: 'cts', label: 'CTs', w: 52, cls: 'c-mid num', html: (n) => String(counts[n.id]?.ct || 0) },
    ...extra,
  ];
  const table = new VTable(cols, { label: 'Nodes', onOpen: onPick, rowClass: (n) => (nodeOnline(n) ? '' : 'dim') });
  table.setEmpty('No Proxmox nodes yet.');
  return {
    el: table.el,
    update(state) {
      counts = {};
      for (const g of state.vms) { const k = `${g.instance}-${g.node}`; (counts[k] ||= { vm: 0, ct: 0 }).vm++; }
      for (const g of state.containers) { const k = `${g.instance}-${g.node}`; (counts[k] ||= { vm: 0, ct: 0 }).ct++; }
      const nodes = [...state.nodes].sort((a, b) => nodeLabel(a).localeCompare(nodeLabel(b), undefined, { numeric: true }));
      table.setRows(nodes);
      refreshTrends(nodes, () => table.setRows(nodes));
      if (!asked && nodes.some((n) => nodeTemp(n) != null)) {
        asked = true;
        api('/api/alerts/config').then((c) => {
          const t = c?.nodeDefaults?.temperature?.trigger;
          trigger = Number.isFinite(t) ? t : 80;
          table.setRows(nodes);
        }).catch(() => {});
      }
    },
  };
}
