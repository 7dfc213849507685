// Backups: PVE backup files and PBS snapshots from /api/backups/unified (newest first), the
// last backup per guest with its age, PBS datastores, and guest snapshots from the state.

import { api } from './api.js';
import { VTable } from './vtable.js';
import { ago, bar, bytes, dateTime, esc, h } from './util.js';

export function backupsView(root) {
  const guests = new Map();
  const name = (vmid) => guests.get(String(vmid)) || '';
  const table = new VTable([
    { id: 'time', label: 'When', w: 110, html: (b) => `<span title="${esc(dateTime(b.time))}">${esc(ago(b.time))}</span>` },
    { id: 'guest', label: 'Guest', w: 180, grow: true, html: (b) => `${b.type === 'host' ? 'host' : `${esc(b.type.toUpperCase())} ${esc(b.vmid)}`} <span class="muted">${esc(name(b.vmid))}</span>` },
    { id: 'src', label: 'Source', w: 70, html: (b) => `<span class="badge ${b.source}">${esc(b.source.toUpperCase())}</span>` },
    { id: 'where', label: 'Storage', w: 150, cls: 'c-mid', html: (b) => `${esc(b.storage)}${b.node ? ` <span class="muted">on ${esc(b.node)}</span>` : ''}` },
    { id: 'size', label: 'Size', w: 80, cls: 'num', html: (b) => esc(bytes(b.size)) },
    { id: 'ver', label: 'Verified', w: 80, cls: 'c-mid', html: (b) => (b.verified ? '<span class="good">verified</span>' : '<span class="muted">–</span>') },
    { id: 'prot', label: 'Protected', w: 80, cls: 'c-lo', html: (b) => (b.protected ? 'yes' : '–') },
  ], { label: 'Backups' });
  table.setEmpty('No backups found.');
  const lastEl = h('div', { class: 'chips' });
  const stores = h('div');
  const snaps = new VTable([
    { id: 'time', label: 'Taken', w: 110, html: (x) => `<span title="${esc(dateTime(x.time))}">${esc(ago(x.time))}</span>` },
    { id: 'guest', label: 'Guest', w: 180, grow: true, html: (x) => `${esc(x.type === 'qemu' ? 'VM' : 'CT')} ${esc(x.vmid)} <span class="muted">${esc(name(x.vmid))}</span>` },
    { id: 'name', label: 'Snapshot', w: 160, html: (x) => `<span class="name">${esc(x.name)}</span>` },
    { id: 'node', label: 'Node', w: 90, cls: 'c-mid', html: (x) => esc(x.node) },
    { id: 'desc', label: 'Description', w: 200, cls: 'c-lo', html: (x) => esc(x.description || '') },
  ], { label: 'Snapshots' });
  snaps.setEmpty('No guest snapshots.');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading backups…');
  root.append(
    h('section', { class: 'card' }, h('h2', {}, 'Last backup per guest'), lastEl),
    h('section', { class: 'card' }, h('h2', {}, 'All backups'), status, table.el),
    h('section', { class: 'card' }, h('h2', {}, 'Snapshots'), snaps.el),
    h('section', { class: 'card' }, h('h2', {}, 'Backup servers (PBS)'), stores));
  let loadedAt = 0;
  async function load() {
    loadedAt = Date.now();
    try {
      const r = await api('/api/backups/unified?limit=2000');
      table.setRows(r.backups || []);
      const last = (r.lastBackups || []).slice().sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
      lastEl.innerHTML = last.length ? last.map((l) => {
        const age = (Date.now() - Date.parse(l.time)) / 3600e3;
        return `<span class="chip ${age > 48 ? 'bad' : age > 26 ? 'warn' : 'good'}" title="${esc(dateTime(l.time))}">${esc(l.type.toUpperCase())} ${esc(l.vmid)} ${esc(name(l.vmid))} · ${esc(ago(l.time))}</span>`;
      }).join('') : '<p class="muted">No guest has a backup yet.</p>';
      status.textContent = `${r.total} backups`;
    } catch (e) {
      status.textContent = `Backups unavailable: ${e.message}`;
    }
  }
  return {
    update(st) {
      for (const g of st.vms.concat(st.containers)) guests.set(String(g.vmid), g.name);
      if (Date.now() - loadedAt > 60000) load();
      const list = (st.pveBackups?.guestSnapshots || []).slice().sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
      snaps.setRows(list);
      stores.innerHTML = st.pbs.length ? st.pbs.map((p) => `<h3>${esc(p.name)}</h3>${(p.datastores || []).map((d) =>
        `<div class="kv"><strong>${esc(d.name)}</strong> ${bar(d.total > 0 ? (d.used / d.total) * 100 : d.usage, `${bytes(d.used)}/${bytes(d.total)}`)}${d.deduplicationFactor ? ` <span class="muted">dedup ×${d.deduplicationFactor.toFixed(1)}</span>` : ''}${d.error ? ` <span class="bad">${esc(d.error)}</span>` : ''}</div>`).join('')}`).join('') : '<p class="muted">No backup server monitored.</p>';
    },
    destroy() {},
  };
}
