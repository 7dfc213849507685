// Settings → Alerts, the history: a timeline of past alerts (newest first, grouped by day) with
// filters for period, severity and a resource/message search; clearing it asks twice.

import { api } from './api.js';
import { h } from './util.js';
import { button, confirmButton, field, section } from './forms.js';

const PERIODS = [['1', 'Last 24 hours'], ['7', 'Last 7 days'], ['30', 'Last 30 days'], ['0', 'Everything kept']];

function duration(a) {
  const end = Date.parse(a.resolvedTime || a.lastSeen || '');
  const start = Date.parse(a.startTime || '');
  if (!Number.isFinite(end) || !Number.isFinite(start) || end < start) return '';
  const s = Math.round((end - start) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

export function alertHistory() {
  const period = field('Period', { kind: 'select', id: 'hist-period', options: PERIODS, value: '7' });
  const severity = field('Severity', { kind: 'select', id: 'hist-severity', options: [['all', 'All'], ['warning', 'Warning'], ['critical', 'Critical']] });
  const search = field('Resource or message', { id: 'hist-search', type: 'search', autocomplete: 'off' });
  const list = h('div', { id: 'alert-history', 'aria-live': 'polite' });
  const msg = h('p', { class: 'err', role: 'alert', id: 'alert-history-error' });
  let items = [];

  const paint = () => {
    const q = search.querySelector('input').value.trim().toLowerCase();
    const shown = items.filter((a) => !q || `${a.resourceName} ${a.resourceId} ${a.node} ${a.message} ${a.type}`.toLowerCase().includes(q));
    if (!shown.length) { list.replaceChildren(h('p', { class: 'muted' }, 'No alerts in this period.')); return; }
    const days = new Map();
    for (const a of shown) {
      const d = new Date(a.startTime).toLocaleDateString(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
      if (!days.has(d)) days.set(d, []);
      days.get(d).push(a);
    }
    list.replaceChildren(h('p', { class: 'muted', id: 'alert-history-count' }, `${shown.length} alert${shown.length === 1 ? '' : 's'}`),
      ...[...days].map(([d, as]) => h('section', { class: 'tl-day', 'aria-label': d }, h('h3', {}, d), h('ol', { class: 'timeline' }, as.map((a) =>
        h('li', { class: `tl-${a.level}`, 'data-alert': a.id },
          h('time', { datetime: a.startTime }, new Date(a.startTime).toLocaleTimeString()),
          h('span', { class: `badge ${a.level === 'critical' ? 'critb' : 'warnb'}` }, a.level),
          h('strong', {}, a.resourceName || a.resourceId), ' ',
          h('span', {}, a.message), ' ',
          h('span', { class: 'muted' }, [a.resolvedTime ? `resolved after ${duration(a)}` : 'still active or unresolved', a.acknowledged ? 'acknowledged' : ''].filter(Boolean).join(' · '))))))));
  };
  const load = async () => {
    const days = Number(period.querySelector('select').value);
    const p = new URLSearchParams({ limit: '1000', severity: severity.querySelector('select').value });
    if (days) p.set('startTime', new Date(Date.now() - days * 86400000).toISOString());
    try { items = (await api(`/api/alerts/history?${p}`)) || []; msg.textContent = ''; } catch (e) { msg.textContent = e.message; items = []; }
    paint();
  };
  period.querySelector('select').addEventListener('change', load);
  severity.querySelector('select').addEventListener('change', load);
  search.querySelector('input').addEventListener('input', paint);
  const clear = confirmButton('Clear history', 'Confirm: delete all history', async () => {
    try { await api('/api/alerts/history', { method: 'DELETE' }); } catch (e) { msg.textContent = e.message; }
    load();
  }, { id: 'hist-clear' });
  load();
  return section('History', 'Past alerts as a timeline, newest first.',
    h('div', { class: 'grid2' }, period, severity, search), list, msg, h('div', { class: 'actions' }, button('Refresh', load, { class: 'btn sm' }), clear));
}
