// Alerts: the active list (acknowledge / un-acknowledge / clear) and recent history.

import { api } from './api.js';
import { VTable } from './vtable.js';
import { ago, dateTime, esc, h } from './util.js';

const num = (v) => (Number.isFinite(v) ? (Math.abs(v) >= 100 ? Math.round(v) : v.toFixed(1)) : '–');

/** Unacknowledged active alerts by level: the header badge. */
export function alertCounts(list) {
  const c = { warning: 0, critical: 0 };
  for (const a of list || []) if (!a.acknowledged && c[a.level] !== undefined) c[a.level]++;
  return c;
}

export function alertsView(root, { refreshState }) {
  const act = async (a, what) => {
    try {
      await api(`/api/alerts/${encodeURIComponent(a.id)}/${what}`, { method: 'POST', body: {} });
      msg.textContent = `Alert ${what === 'clear' ? 'cleared' : what === 'acknowledge' ? 'acknowledged' : 'un-acknowledged'}.`;
      histAt = 0; // a cleared alert belongs in the history now, not in 30 s
      refreshState();
    } catch (e) { msg.textContent = `Failed: ${e.message}`; }
  };
  const cols = [
    { id: 'level', label: 'Level', w: 80, html: (a) => `<span class="badge ${a.level === 'critical' ? 'critb' : 'warnb'}">${esc(a.level)}</span>` },
    { id: 'res', label: 'Resource', w: 170, grow: true, html: (a) => `<span class="name">${esc(a.resourceName || a.resourceId)}</span> <span class="muted">${esc(a.node || '')}</span>` },
    { id: 'type', label: 'Type', w: 90, html: (a) => esc(a.type) },
    { id: 'val', label: 'Value', w: 110, cls: 'num', html: (a) => `${num(a.value)} / ${num(a.threshold)}` },
    { id: 'since', label: 'Since', w: 100, cls: 'c-mid', html: (a) => `<span title="${esc(dateTime(a.startTime))}">${esc(ago(a.startTime))}</span>` },
    { id: 'msg', label: 'Message', w: 220, cls: 'c-lo', html: (a) => esc(a.message) },
  ];
  const active = new VTable([...cols, { id: 'act', label: 'Actions', w: 190, html: (a) =>
    `<button type="button" class="btn sm" data-act="${a.acknowledged ? 'unacknowledge' : 'acknowledge'}">${a.acknowledged ? 'Un-ack' : 'Acknowledge'}</button> <button type="button" class="btn sm" data-act="clear">Clear</button>` }],
  { label: 'Active alerts', rowClass: (a) => (a.acknowledged ? 'dim' : '') });
  active.setEmpty('No active alerts. All clear.');
  active.el.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    const row = e.target.closest('.vt-row');
    if (b && row?._item) act(row._item, b.dataset.act);
  });
  // The history lists still-active alerts too: those say so instead of a resolve time.
  let activeIds = new Set();
  const hist = new VTable([...cols, { id: 'end', label: 'Resolved', w: 110, html: (a) => (activeIds.has(a.alertId) ? '<span class="warn">still active</span>' : esc(a.lastSeen ? ago(a.lastSeen) : '–')) }], { label: 'Alert history' });
  hist.setEmpty('No alert history.');
  const msg = h('p', { class: 'muted', 'aria-live': 'polite' });
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Active alerts'), msg, active.el),
    h('section', { class: 'card' }, h('h2', {}, 'Recent history'), hist.el));
  let histAt = 0;
  return {
    update(st) {
      activeIds = new Set((st.activeAlerts || []).map((a) => a.id));
      active.setRows([...(st.activeAlerts || [])].sort((a, b) => (a.level === b.level ? String(a.resourceName).localeCompare(String(b.resourceName)) : a.level === 'critical' ? -1 : 1)));
      if (Date.now() - histAt > 30000) {
        histAt = Date.now();
        api('/api/alerts/history?limit=200').then((r) => hist.setRows((r || []).map((a, i) => ({ ...a, alertId: a.id, id: `${a.id}#${i}` })))).catch(() => {});
      }
    },
    destroy() {},
  };
}
