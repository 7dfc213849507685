// Overview: the node summary and every guest (VMs and containers) in one table, grouped by
// node or flat, sortable, filterable by status / type / node / tag, searchable, with choosable
// columns. Each update recomputes the row list (cheap: arrays of plain objects) and the
// table rewrites only the visible cells that changed.

import { VTable, group, groupLabel } from './vtable.js';
import { nodeTable, nodeLabel } from './nodes.js';
import { openGuest } from './drawer.js';
import { guestShape, perf } from './live.js';
import { bar, bytes, esc, h, prefs, rate, tagList, uptime, statusDot } from './util.js';

const guestDisk = (g) => {
  const d = g.disk || {};
  if (!(d.total > 0) || d.usage < 0) return -1;
  return Number.isFinite(d.usage) ? d.usage : (d.used / d.total) * 100;
};
const running = (g) => g.status === 'running';
const kind = (g) => (g.type === 'qemu' ? 'VM' : 'LXC');

export const GUEST_COLUMNS = [
  { id: 'name', label: 'Name', w: 200, grow: true, sort: (g) => g.name.toLowerCase(), html: (g) => {
    const tags = tagList(g.tags).slice(0, 3).map((t) => `<span class="tag">${esc(t)}</span>`).join('');
    return `${statusDot(running(g), g.status)}<span class="name" title="${esc(g.name)}">${esc(g.name)}</span>${g.lock ? ` <span class="badge warnb">lock: ${esc(g.lock)}</span>` : ''}${tags}`;
  } },
  { id: 'type', label: 'Type', w: 56, sort: kind, html: (g) => `<span class="badge ${g.type === 'qemu' ? 'vm' : 'ct'}">${kind(g)}</span>` },
  { id: 'vmid', label: 'VMID', w: 64, cls: 'num', sort: (g) => g.vmid, html: (g) => String(g.vmid) },
  { id: 'node', label: 'Node', w: 90, cls: 'c-mid', sort: (g) => g.node, html: (g) => esc(g.node) },
  { id: 'uptime', label: 'Uptime', w: 78, cls: 'c-mid', sort: (g) => (running(g) ? g.uptime : -1), html: (g) => (running(g) ? esc(uptime(g.uptime)) : `<span class="muted">${esc(g.status)}</span>`) },
  { id: 'cpu', label: 'CPU', w: 150, sort: (g) => (running(g) ? g.cpu : -1), html: (g) => (running(g) ? bar(g.cpu * 100, `${g.cpus} ${g.cpus === 1 ? 'core' : 'cores'}`) : '–') },
  { id: 'mem', label: 'Memory', w: 170, sort: (g) => (running(g) ? g.memory?.usage ?? 0 : -1), html: (g) => (running(g) && g.memory ? bar(g.memory.usage, `${bytes(g.memory.used)}/${bytes(g.memory.total)}`) : '–') },
  { id: 'disk', label: 'Disk', w: 170, cls: 'c-mid', sort: guestDisk, html: (g) => { const p = guestDisk(g); return p < 0 ? '<span class="muted">–</span>' : bar(p, `${bytes(g.disk.used)}/${bytes(g.disk.total)}`); } },
  { id: 'diskRead', label: 'Disk read', w: 84, cls: 'c-lo num', sort: (g) => g.diskRead, html: (g) => (running(g) ? rate(g.diskRead) : '–') },
  { id: 'diskWrite', label: 'Disk write', w: 92, cls: 'c-lo num', sort: (g) => g.diskWrite, html: (g) => (running(g) ? rate(g.diskWrite) : '–') },
  { id: 'netIn', label: 'Net in', w: 84, cls: 'c-lo num', sort: (g) => g.networkIn, html: (g) => (running(g) ? rate(g.networkIn) : '–') },
  { id: 'netOut', label: 'Net out', w: 84, cls: 'c-lo num', sort: (g) => g.networkOut, html: (g) => (running(g) ? rate(g.networkOut) : '–') },
  { id: 'ip', label: 'IP', w: 130, cls: 'c-lo', hidden: true, sort: (g) => (g.ipAddresses || [])[0] || '', html: (g) => esc((g.ipAddresses || [])[0] || '–') },
  { id: 'os', label: 'OS', w: 130, cls: 'c-lo', hidden: true, sort: (g) => g.osName || '', html: (g) => esc([g.osName, g.osVersion].filter(Boolean).join(' ') || '–') },
];

/** Search: words match name, vmid, node, tags, IPs or OS; `node:x`, `tag:x`, `status:x`,
 *  `type:vm|lxc`, and `cpu>50`, `mem<20`, `disk>=80` compare percentages. All terms must hold. */
export function compileSearch(q) {
  const terms = q.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const tests = terms.map((t) => {
    const cmp = t.match(/^(cpu|mem|memory|disk)(>=|<=|>|<|=)(\d+(?:\.\d+)?)$/);
    if (cmp) {
      const [, k, op, n] = cmp, v = Number(n);
      const get = k === 'cpu' ? (g) => g.cpu * 100 : k === 'disk' ? guestDisk : (g) => g.memory?.usage ?? 0;
      return (g) => { const x = get(g); return op === '>' ? x > v : op === '<' ? x < v : op === '>=' ? x >= v : op === '<=' ? x <= v : Math.round(x) === v; };
    }
    const kv = t.match(/^(node|tag|status|type|name):(.+)$/);
    if (kv) {
      const [, k, v] = kv;
      if (k === 'tag') return (g) => tagList(g.tags).some((x) => x.toLowerCase().includes(v));
      if (k === 'type') return (g) => kind(g).toLowerCase() === (v === 'ct' ? 'lxc' : v) || g.type === v;
      return (g) => String(g[k] ?? '').toLowerCase().includes(v);
    }
    return (g) => g._search.includes(t);
  });
  return (g) => tests.every((f) => f(g));
}

const searchText = (g) => [g.name, g.vmid, g.node, ...tagList(g.tags), ...(g.ipAddresses || []), g.osName].join(' ').toLowerCase();

export function overview(root) {
  const f = prefs.get('guests', {});
  const opts = { q: '', type: f.type || 'all', status: f.status || 'all', node: '', tag: '', grouped: f.grouped ?? true,
    sort: f.sort || { col: 'name', dir: 'asc' }, hidden: f.hidden || GUEST_COLUMNS.filter((c) => c.hidden).map((c) => c.id) };
  const save = () => prefs.set('guests', { type: opts.type, status: opts.status, grouped: opts.grouped, sort: opts.sort, hidden: opts.hidden });
  let last = null;

  const nodes = nodeTable({ onPick: (n) => { opts.node = n.name; nodeSel.value = n.name; refresh(); } });
  const visibleCols = () => GUEST_COLUMNS.filter((c) => !opts.hidden.includes(c.id));
  const table = new VTable(visibleCols(), {
    label: 'Guests', sort: opts.sort, rowHeight: 34,
    onOpen: (g) => openGuest(g.id),
    rowClass: (g) => (running(g) ? '' : 'dim'),
    onSort: (col) => {
      opts.sort = { col, dir: opts.sort.col === col && opts.sort.dir === 'asc' ? 'desc' : 'asc' };
      table.setSort(opts.sort); save(); refresh();
    },
  });

  const seg = (name, label, values) => {
    const wrap = h('div', { class: 'seg', role: 'group', 'aria-label': label });
    for (const [v, text] of values) {
      wrap.append(h('button', { type: 'button', 'data-v': v, 'aria-pressed': String(opts[name] === v), onclick: () => {
        opts[name] = v; for (const b of wrap.children) b.setAttribute('aria-pressed', String(b.dataset.v === v)); save(); refresh();
      } }, text));
    }
    return wrap;
  };
  const search = h('input', { type: 'search', id: 'guest-search', placeholder: 'Search or filter: name, node:pve1, tag:db, cpu>50', 'aria-label': 'Search guests', autocomplete: 'off' });
  let debounce = 0;
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => { opts.q = search.value; refresh(); }, 80); });
  const nodeSel = h('select', { 'aria-label': 'Filter by node', onchange: () => { opts.node = nodeSel.value; refresh(); } });
  const tagSel = h('select', { 'aria-label': 'Filter by tag', onchange: () => { opts.tag = tagSel.value; refresh(); } });
  const groupBtn = h('button', { type: 'button', class: 'btn', id: 'group-toggle', 'aria-pressed': String(opts.grouped), onclick: () => {
    opts.grouped = !opts.grouped; groupBtn.setAttribute('aria-pressed', String(opts.grouped)); groupBtn.textContent = opts.grouped ? 'Grouped by node' : 'Flat list'; save(); refresh();
  } }, opts.grouped ? 'Grouped by node' : 'Flat list');
  const colMenu = h('details', { class: 'menu' }, h('summary', { class: 'btn' }, 'Columns'),
    h('div', { class: 'menu-body' }, GUEST_COLUMNS.filter((c) => c.id !== 'name').map((c) => h('label', {},
      h('input', { type: 'checkbox', checked: !opts.hidden.includes(c.id), onchange: (e) => {
        opts.hidden = e.target.checked ? opts.hidden.filter((x) => x !== c.id) : [...opts.hidden, c.id];
        table.setColumns(visibleCols()); save(); refresh();
      } }), ` ${c.label}`))));
  const reset = h('button', { type: 'button', class: 'btn', onclick: () => {
    Object.assign(opts, { q: '', type: 'all', status: 'all', node: '', tag: '' });
    search.value = ''; nodeSel.value = ''; tagSel.value = '';
    root.querySelectorAll('.seg button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.v === 'all')));
    save(); refresh();
  } }, 'Reset');
  const summary = h('p', { class: 'summary', 'aria-live': 'polite', id: 'guest-summary' });

  root.append(
    h('section', { class: 'card', 'aria-label': 'Nodes' }, nodes.el),
    h('section', { class: 'card' },
      h('div', { class: 'toolbar' }, search,
        seg('type', 'Guest type', [['all', 'All'], ['vm', 'VMs'], ['lxc', 'LXCs']]),
        seg('status', 'Status', [['all', 'All'], ['running', 'Running'], ['stopped', 'Stopped']]),
        nodeSel, tagSel, groupBtn, colMenu, reset),
      table.el, summary),
  );

  const fillSelect = (sel, label, values) => {
    const want = [['', label], ...values.map((v) => [v, v])];
    const have = [...sel.options].map((o) => o.value).join('\n');
    if (have === want.map((w) => w[0]).join('\n')) return;
    const cur = sel.value;
    sel.replaceChildren(...want.map(([v, t]) => h('option', { value: v }, t)));
    sel.value = cur;
  };

  // The last filtered, sorted, grouped rows and what they were made from. An update that moved
  // only numbers keeps them when nothing the rows depend on reads numbers (sorted by a text
  // column, no search); the table then just redraws the cells in view.
  let memo = null;
  const STATIC_SORT = ['name', 'type', 'vmid', 'node'];

  function refresh() {
    if (!last) return;
    const st = last;
    const key = `${guestShape.version}|${JSON.stringify(opts)}|${st.nodes.map((n) => `${n.id}/${nodeLabel(n)}/${n.isClusterMember}/${n.clusterName}`).join(',')}`;
    if (memo && memo.key === key && memo.vms === st.vms && memo.cts === st.containers && STATIC_SORT.includes(opts.sort.col) && !opts.q.trim()) {
      table.setRows(memo.rows);
      perf.keptRows++;
      return;
    }
    const all = st.vms.concat(st.containers);
    let nrun = 0;
    const tags = new Set();
    const searching = opts.q.trim() !== '';
    for (const g of all) {
      if (running(g)) nrun++;
      if (g.tags) for (const t of tagList(g.tags)) tags.add(t);
      if (searching && g._search === undefined) g._search = searchText(g);
    }
    fillSelect(nodeSel, 'All nodes', [...new Set(st.nodes.map((n) => n.name))].sort());
    fillSelect(tagSel, 'All tags', [...tags].sort());
    const match = compileSearch(opts.q);
    const list = all.filter((g) => !g.template
      && (opts.type === 'all' || (opts.type === 'vm') === (g.type === 'qemu'))
      && (opts.status === 'all' || (opts.status === 'running') === running(g))
      && (!opts.node || g.node === opts.node)
      && (!opts.tag || tagList(g.tags).includes(opts.tag))
      && (!searching || match(g)));
    const col = GUEST_COLUMNS.find((c) => c.id === opts.sort.col) || GUEST_COLUMNS[0];
    const dir = opts.sort.dir === 'desc' ? -1 : 1;
    // Decorate-sort-undecorate: one key computation per guest, not per comparison.
    const keyed = list.map((g) => [col.sort(g), g]);
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1].vmid - b[1].vmid) * dir);
    for (let i = 0; i < keyed.length; i++) list[i] = keyed[i][1];
    let rows = list;
    if (opts.grouped) {
      const byNode = new Map();
      for (const g of list) {
        const k = `${g.instance}-${g.node}`;
        if (!byNode.has(k)) byNode.set(k, []);
        byNode.get(k).push(g);
      }
      const nodeById = new Map(st.nodes.map((n) => [n.id, n]));
      rows = [];
      for (const k of [...byNode.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))) {
        const n = nodeById.get(k), gs = byNode.get(k);
        const name = n ? nodeLabel(n) : gs[0].node;
        rows.push(group(k, groupLabel(name, ` <span class="muted">${gs.length} guest${gs.length === 1 ? '' : 's'}</span>${n?.isClusterMember ? ` <span class="badge">${esc(n.clusterName)}</span>` : ''}`)));
        for (const g of gs) rows.push(g);
      }
    }
    table.setEmpty(all.length ? 'No guest matches these filters.' : 'No guests yet.');
    table.setRows(rows);
    memo = { key, vms: st.vms, cts: st.containers, rows };
    summary.innerHTML = `${statusDot(true, '')} ${nrun} running · ${statusDot(false, '')} ${all.length - nrun} stopped · showing ${list.length} of ${all.length}`;
  }

  return {
    update(state) { last = state; nodes.update(state); refresh(); },
    destroy() {},
  };
}
