// Storage: pools per node with shared storage listed once, Ceph clusters, ZFS pool health and
// physical disks (SMART health, wearout, temperature).

import { VTable, group, groupLabel } from './vtable.js';
import { bar, bytes, esc, h } from './util.js';

const usage = (s) => (s.total > 0 ? (s.used / s.total) * 100 : 0);

export function storageView(root) {
  const cols = [
    { id: 'name', label: 'Storage', w: 170, grow: true, html: (s) => `<span class="name">${esc(s.name)}</span>${s.zfsPool ? ` <span class="badge ${s.zfsPool.state === 'ONLINE' ? 'okb' : 'warnb'}">ZFS ${esc(s.zfsPool.state)}</span>` : ''}` },
    { id: 'type', label: 'Type', w: 80, html: (s) => `<span class="badge">${esc(s.type)}</span>` },
    { id: 'content', label: 'Content', w: 150, cls: 'c-lo', html: (s) => esc(s.content) },
    { id: 'status', label: 'Status', w: 90, html: (s) => (s.status === 'available' ? '<span class="good">available</span>' : `<span class="bad">${esc(s.status || 'unknown')}</span>`) },
    { id: 'shared', label: 'Shared', w: 110, cls: 'c-mid', html: (s) => (s.shared ? `shared${s.nodes?.length ? ` · ${s.nodes.length} nodes` : ''}` : '–') },
    { id: 'usage', label: 'Usage', w: 220, html: (s) => bar(usage(s), `${bytes(s.used)}/${bytes(s.total)}`) },
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
  return {
    update(st) {
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
    destroy() {},
  };
}
