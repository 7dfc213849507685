// A guest's detail drawer: identity, OS and agent, disks per filesystem, addresses, backups
// and snapshots, and charts for 1 h / 24 h / 7 d from /api/charts. It follows the live state
// (figures refresh on every update) and closes with Escape, giving focus back.

import { api } from './api.js';
import { state, subscribe } from './live.js';
import { lineChart } from './chart.js';
import { bar, bytes, dateTime, ago, esc, h, rate, tagList, uptime } from './util.js';

let current = null;

function findGuest(id) {
  return state.vms.find((g) => g.id === id) || state.containers.find((g) => g.id === id);
}

function facts(g) {
  const run = g.status === 'running';
  const rows = [
    ['Status', `<span class="${run ? 'good' : 'muted'}">${esc(g.status)}</span>${g.lock ? ` · lock ${esc(g.lock)}` : ''}`],
    ['Node', esc(g.node)], ['Instance', esc(g.instance)],
    ['Type', g.type === 'qemu' ? 'Virtual machine' : 'Container'], ['VMID', String(g.vmid)],
    ['Uptime', run ? esc(uptime(g.uptime)) : '–'],
    ['CPU', run ? bar(g.cpu * 100, `${g.cpus} cores`) : '–'],
    ['Memory', run && g.memory ? bar(g.memory.usage, `${bytes(g.memory.used)}/${bytes(g.memory.total)}`) : '–'],
    ['Disk', g.disk?.total > 0 && g.disk.usage >= 0 ? bar(g.disk.usage, `${bytes(g.disk.used)}/${bytes(g.disk.total)}`) : `<span class="muted">${esc(g.diskStatusReason || 'unknown')}</span>`],
    ['I/O', run ? `read ${rate(g.diskRead)} · write ${rate(g.diskWrite)} · in ${rate(g.networkIn)} · out ${rate(g.networkOut)}` : '–'],
    ['OS', esc([g.osName, g.osVersion].filter(Boolean).join(' ') || '–')],
    ['Agent', g.agentVersion ? `running (${esc(g.agentVersion)})` : g.type === 'qemu' ? '<span class="muted">not reporting</span>' : 'n/a (container)'],
    ['Tags', tagList(g.tags).map((t) => `<span class="tag">${esc(t)}</span>`).join('') || '–'],
    ['Last seen', esc(ago(g.lastSeen))],
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function disks(g) {
  const list = g.disks || [];
  if (!list.length) return '<p class="muted">No per-filesystem data (guest agent not reporting).</p>';
  return `<table class="mini"><thead><tr><th>Mount</th><th>Type</th><th>Usage</th></tr></thead><tbody>${list.map((d) =>
    `<tr><td>${esc(d.mountpoint || d.device || '–')}</td><td>${esc(d.type || '')}</td><td>${bar(d.total > 0 ? (d.used / d.total) * 100 : d.usage, `${bytes(d.used)}/${bytes(d.total)}`)}</td></tr>`).join('')}</tbody></table>`;
}

function network(g) {
  const ifs = g.networkInterfaces || [];
  if (ifs.length) {
    return `<table class="mini"><thead><tr><th>Interface</th><th>Addresses</th><th>MAC</th></tr></thead><tbody>${ifs.map((i) =>
      `<tr><td>${esc(i.name)}</td><td>${(i.addresses || []).map(esc).join('<br>') || '–'}</td><td class="mono">${esc(i.mac || '')}</td></tr>`).join('')}</tbody></table>`;
  }
  const ips = g.ipAddresses || [];
  return ips.length ? `<p>${ips.map(esc).join(', ')}</p>` : '<p class="muted">No addresses reported.</p>';
}

function snapshots(g) {
  const snaps = (state.pveBackups?.guestSnapshots || []).filter((s) => s.vmid === g.vmid && s.instance === g.instance);
  if (!snaps.length) return '<p class="muted">No snapshots.</p>';
  return `<ul class="plain">${snaps.map((s) => `<li><strong>${esc(s.name)}</strong> · ${esc(dateTime(s.time))}${s.description ? ` · ${esc(s.description)}` : ''}</li>`).join('')}</ul>`;
}

async function loadBackups(g, el) {
  try {
    const type = g.type === 'qemu' ? 'vm' : 'ct';
    const r = await api(`/api/backups/unified?vmid=${g.vmid}&type=${type}&limit=20`);
    const list = r?.backups || [];
    el.innerHTML = list.length
      ? `<table class="mini"><thead><tr><th>When</th><th>Where</th><th>Size</th><th>Verified</th></tr></thead><tbody>${list.map((b) =>
        `<tr><td title="${esc(dateTime(b.time))}">${esc(ago(b.time))}</td><td>${esc(b.source.toUpperCase())} ${esc(b.storage)}</td><td>${esc(bytes(b.size))}</td><td>${b.verified ? '<span class="good">yes</span>' : '<span class="muted">no</span>'}</td></tr>`).join('')}</tbody></table>`
      : '<p class="muted">No backups found.</p>';
  } catch (e) {
    el.innerHTML = `<p class="bad">Backups unavailable: ${esc(e.message)}</p>`;
  }
}

const RANGE_MS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3 };

async function loadCharts(g, el, range) {
  el.setAttribute('aria-busy', 'true');
  try {
    const r = await api(`/api/charts?range=${range}&id=${encodeURIComponent(g.id)}`);
    const m = r?.data?.[g.id] || {};
    const rangeMs = RANGE_MS[range];
    el.dataset.range = range;
    el.replaceChildren(
      lineChart([{ name: 'CPU', points: m.cpu }, { name: 'Memory', points: m.memory }, { name: 'Disk', points: m.disk }], { unit: '%', title: 'Usage', rangeMs }),
      lineChart([{ name: 'In', points: m.netin }, { name: 'Out', points: m.netout }], { unit: 'B/s', title: 'Network', rangeMs }),
      lineChart([{ name: 'Read', points: m.diskread }, { name: 'Write', points: m.diskwrite }], { unit: 'B/s', title: 'Disk I/O', rangeMs }),
    );
  } catch (e) {
    el.innerHTML = `<p class="bad">Charts unavailable: ${esc(e.message)}</p>`;
  }
  el.removeAttribute('aria-busy');
}

export function closeGuest() {
  if (!current) return;
  current.unsub();
  current.el.remove();
  document.removeEventListener('keydown', current.onKey);
  current.opener?.focus?.();
  current = null;
  if (location.hash.startsWith('#guest=')) history.replaceState(null, '', location.pathname);
}

export function openGuest(id) {
  closeGuest();
  const g = findGuest(id);
  if (!g) return;
  const opener = document.activeElement;
  const title = h('h2', { id: 'drawer-title' });
  const close = h('button', { type: 'button', class: 'btn close', 'aria-label': 'Close details', onclick: closeGuest }, '✕');
  const factsEl = h('div');
  const disksEl = h('div');
  const netEl = h('div');
  const snapEl = h('div');
  const backupsEl = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const chartsEl = h('div', { class: 'charts' });
  const ranges = h('div', { class: 'seg', role: 'group', 'aria-label': 'Chart range' });
  for (const r of ['1h', '24h', '7d']) {
    ranges.append(h('button', { type: 'button', 'aria-pressed': String(r === '1h'), onclick: (e) => {
      for (const b of ranges.children) b.setAttribute('aria-pressed', String(b === e.currentTarget));
      loadCharts(findGuest(id) || g, chartsEl, r);
    } }, r));
  }
  const panel = h('aside', { class: 'drawer', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'drawer-title' },
    h('header', {}, title, close),
    factsEl,
    // Settings hook (issue #16): this guest's own alert thresholds, without a page reload.
    h('p', {}, h('a', { href: `/settings/alerts?resource=${encodeURIComponent(id)}`, id: 'drawer-thresholds', onclick: (e) => {
      e.preventDefault(); closeGuest(); history.pushState(null, '', `/settings/alerts?resource=${encodeURIComponent(id)}`); dispatchEvent(new PopStateEvent('popstate'));
    } }, 'Alert thresholds for this guest…')),
    h('h3', {}, 'History'), ranges, chartsEl,
    h('h3', {}, 'Filesystems'), disksEl,
    h('h3', {}, 'Network'), netEl,
    h('h3', {}, 'Backups'), backupsEl,
    h('h3', {}, 'Snapshots'), snapEl);
  const el = h('div', { class: 'drawer-wrap', onclick: (e) => { if (e.target === el) closeGuest(); } }, panel);
  const paint = () => {
    const cur = findGuest(id);
    if (!cur) { factsEl.innerHTML = '<p class="bad">This guest is no longer in the state.</p>'; return; }
    title.textContent = `${cur.name} (${cur.vmid})`;
    factsEl.innerHTML = facts(cur);
    disksEl.innerHTML = disks(cur);
    netEl.innerHTML = network(cur);
    snapEl.innerHTML = snapshots(cur);
  };
  const onKey = (e) => { if (e.key === 'Escape') closeGuest(); };
  document.addEventListener('keydown', onKey);
  document.body.append(el);
  current = { el, opener, onKey, unsub: subscribe(paint) };
  paint();
  close.focus();
  loadBackups(g, backupsEl);
  loadCharts(g, chartsEl, '1h');

}
