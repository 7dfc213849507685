// Settings → Alerts: activation, defaults per resource type (trigger and clear with the
// hysteresis band drawn between them), per-resource overrides, grace periods, quiet hours with a
// time zone, cooldown, grouping and escalation. The whole configuration is edited in memory and
// saved with one PUT /api/alerts/config; the server validates and its message shows by the form.

import { api } from './api.js';
import { state } from './live.js';
import { h } from './util.js';
import { button, ctl, field, form, section, table } from './forms.js';
import { alertHistory } from './settings_alert_history.js';

// Metric → [label, unit, slider max]. Percentages slide 0–100; rates and temperatures are typed.
const METRICS = {
  cpu: ['CPU', '%', 100], memory: ['Memory', '%', 100], disk: ['Disk', '%', 100], usage: ['Usage', '%', 100],
  diskRead: ['Disk read', 'MB/s', 0], diskWrite: ['Disk write', 'MB/s', 0],
  networkIn: ['Network in', 'MB/s', 0], networkOut: ['Network out', 'MB/s', 0], temperature: ['Temperature', '°C', 150],
};
const TYPES = [
  { key: 'guestDefaults', id: 'guest', label: 'Guests (VMs and containers)', metrics: ['cpu', 'memory', 'disk', 'diskRead', 'diskWrite', 'networkIn', 'networkOut'] },
  { key: 'nodeDefaults', id: 'node', label: 'Nodes', metrics: ['cpu', 'memory', 'disk', 'temperature'] },
  { key: 'hostDefaults', id: 'host', label: 'Host agents', metrics: ['cpu', 'memory', 'disk'] },
  { key: 'storageDefault', id: 'storage', label: 'Storage', metrics: null },
  { key: 'dockerDefaults', id: 'docker', label: 'Docker containers', metrics: ['cpu', 'memory', 'disk'] },
];
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const num = (v) => (v === '' ? NaN : Number(v));

/** One trigger/clear pair: sliders and numbers kept in step, and the band between them. */
function thresholdRow(id, label, unit, max, pair) {
  const band = h('div', { class: 'band', 'aria-hidden': 'true' }, h('i'), h('b'));
  const note = h('small', { class: 'muted hyst', id: `${id}-note` });
  const paint = () => {
    const t = pair.trigger, c = pair.clear;
    if (!(t > 0)) note.textContent = 'Off (trigger 0).';
    else note.textContent = `Fires at ${t}${unit}, clears below ${c}${unit}: ${+(t - c).toFixed(2)}${unit} of hysteresis.`;
    const scale = max || Math.max(t, c, 1) * 1.25;
    const [i, b] = band.children;
    i.style.left = `${Math.min(100, (c / scale) * 100)}%`;
    i.style.width = `${Math.max(0, Math.min(100, ((t - c) / scale) * 100))}%`;
    b.style.left = `${Math.min(100, (t / scale) * 100)}%`;
    band.hidden = !(t > 0);
  };
  const part = (which, text) => {
    const n = h('input', { type: 'number', id: `${id}-${which}`, step: 'any', min: 0, value: pair[which], 'aria-label': `${label} ${text} (${unit})` });
    const kids = [n];
    let r = null;
    if (max) {
      r = h('input', { type: 'range', min: 0, max, step: 1, value: pair[which], tabindex: -1, 'aria-hidden': 'true' });
      kids.unshift(r);
      r.addEventListener('input', () => { n.value = r.value; pair[which] = num(r.value); paint(); });
    }
    n.addEventListener('input', () => { pair[which] = num(n.value); if (r) r.value = n.value; paint(); });
    return h('div', {}, h('label', { for: `${id}-${which}` }, `${text} (${unit})`), h('div', { class: 'range' }, ...kids));
  };
  paint();
  return h('div', { class: 'thr', 'data-metric': id }, h('strong', {}, label), part('trigger', 'Trigger'), part('clear', 'Clear'), band, note);
}

export function alertsPage(root, ctx) {
  let cfg = null;
  let resources = [];
  const activation = section('Activation', null);
  const body = h('div', { class: 'grid-gap' });
  const saveForm = form({
    id: 'alerts-form', title: 'Alert configuration', submit: 'Save alert settings', long: true,
    onSubmit: async () => {
      await api('/api/alerts/config', { method: 'PUT', body: cfg });
      cfg = await api('/api/alerts/config');
      render();
      ctx.refreshState?.();
      return 'Alert settings saved.';
    },
  }, body);
  root.append(activation, saveForm, alertHistory());

  function paintActivation() {
    const st = cfg.activationState || 'pending_review';
    const text = { active: 'Alerts are active: notifications are sent.', pending_review: 'Alerts are being observed but not yet notifying. Review the thresholds, then activate.', snoozed: 'Alerts are snoozed.' }[st] || st;
    const kids = [h('p', { id: 'activation-state', 'data-state': st }, text)];
    if (st !== 'active') {
      kids.push(button('Activate alerts', async (e) => {
        e.target.disabled = true;
        try { await api('/api/alerts/activate', { method: 'POST', body: {} }); cfg = await api('/api/alerts/config'); paintActivation(); } catch (ex) { saveForm.fail(ex.message); }
        e.target.disabled = false;
      }, { id: 'activate-alerts', class: 'btn accent' }));
    }
    activation.replaceChildren(h('h2', {}, 'Activation'), ...kids);
  }

  function defaults() {
    return TYPES.map((t, i) => {
      const rows = t.metrics
        ? t.metrics.map((m) => {
          const [label, unit, max] = METRICS[m];
          cfg[t.key] ||= {};
          cfg[t.key][m] ||= { trigger: 0, clear: 0 };
          return thresholdRow(`thr-${t.id}-${m}`, label, unit, max, cfg[t.key][m]);
        })
        : [thresholdRow(`thr-${t.id}-usage`, 'Usage', '%', 100, cfg[t.key] ||= { trigger: 0, clear: 0 })];
      return h('details', { class: 'card inner', open: i === 0 }, h('summary', {}, t.label), rows);
    });
  }

  function overrides() {
    const box = h('div', { id: 'alert-overrides' });
    const list = () => {
      const rows = Object.entries(cfg.overrides || {}).map(([id, o]) => {
        const name = resources.find((r) => r.id === id)?.name || id;
        const parts = Object.entries(o).filter(([, v]) => v && typeof v === 'object' && 'trigger' in v).map(([m, v]) => `${METRICS[m]?.[0] || m} ${v.trigger}/${v.clear}`);
        if (o.disabled) parts.unshift('alerts off');
        return { attrs: { 'data-override': id }, cells: [name, parts.join(', ') || '–', button('Remove', () => { delete cfg.overrides[id]; list(); }, { class: 'btn sm', 'aria-label': `Remove override for ${name}` })] };
      });
      box.replaceChildren(table('Overrides', ['Resource', 'Thresholds (trigger/clear)', ''], rows));
    };
    list();
    // `/settings/alerts?resource=<id>` (a link from a resource) preselects it here.
    const wanted = new URLSearchParams(location.search).get('resource');
    const res = field('Resource', { kind: 'select', id: 'ov-resource', value: wanted || '', options: resources.map((r) => [r.id, `${r.name} (${r.kind})`]) });
    const metric = field('Metric', { kind: 'select', id: 'ov-metric', options: ['cpu', 'memory', 'disk', 'usage', 'temperature'].map((m) => [m, METRICS[m][0]]) });
    const trig = field('Trigger', { id: 'ov-trigger', type: 'number', step: 'any', value: 90 });
    const clr = field('Clear', { id: 'ov-clear', type: 'number', step: 'any', value: 85 });
    const off = field('Turn alerts off for this resource', { kind: 'checkbox', id: 'ov-off' });
    const add = button('Add override', () => {
      const id = res.querySelector('select').value;
      if (!id) return;
      cfg.overrides ||= {};
      const o = cfg.overrides[id] ||= {};
      if (off.querySelector('input').checked) o.disabled = true;
      else o[metric.querySelector('select').value] = { trigger: num(trig.querySelector('input').value), clear: num(clr.querySelector('input').value) };
      list();
    }, { id: 'ov-add' });
    if (wanted) requestAnimationFrame(() => { res.scrollIntoView({ block: 'center' }); ctl(res).focus(); });
    return h('fieldset', { id: 'alert-overrides-set' }, h('legend', {}, 'Per-resource overrides (saved with the form)'), box, h('div', { class: 'grid2' }, res, metric, trig, clr), off, h('div', { class: 'actions' }, add));
  }

  function timing() {
    const s = (cfg.schedule ||= {});
    const q = (s.quietHours ||= { days: {}, suppress: {} });
    q.days ||= {}; q.suppress ||= {};
    const g = (s.grouping ||= {});
    const esc = (s.escalation ||= { enabled: false, levels: [] });
    esc.levels ||= [];
    const bindNum = (f, obj, key) => { f.querySelector('input').addEventListener('input', (e) => { obj[key] = num(e.target.value); }); return f; };
    const bindBool = (f, obj, key) => { f.querySelector('input').addEventListener('change', (e) => { obj[key] = e.target.checked; }); return f; };
    const bindStr = (f, obj, key) => { f.querySelector('input, select').addEventListener('input', (e) => { obj[key] = e.target.value; }); return f; };
    let zones = [];
    try { zones = Intl.supportedValuesOf('timeZone'); } catch { /* old browser: type it */ }
    const tz = q.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    if (!zones.includes(tz)) zones.unshift(tz);
    q.timezone = tz;
    const grace = h('fieldset', {}, h('legend', {}, 'Grace periods (seconds a value must stay over the trigger)'),
      h('div', { class: 'grid2' },
        bindNum(field('Default', { id: 'grace-default', type: 'number', min: 0, value: cfg.timeThreshold ?? 0 }), cfg, 'timeThreshold'),
        Object.keys(cfg.timeThresholds || {}).map((k) => bindNum(field(`${k[0].toUpperCase()}${k.slice(1)}`, { id: `grace-${k}`, type: 'number', min: 0, value: cfg.timeThresholds[k] }), cfg.timeThresholds, k))));
    const quiet = h('fieldset', {}, h('legend', {}, 'Quiet hours'),
      bindBool(field('Hold notifications during quiet hours', { kind: 'checkbox', id: 'quiet-enabled', checked: q.enabled }), q, 'enabled'),
      h('div', { class: 'grid2' },
        bindStr(field('From', { id: 'quiet-start', type: 'time', value: q.start || '22:00' }), q, 'start'),
        bindStr(field('Until', { id: 'quiet-end', type: 'time', value: q.end || '08:00' }, 'An end before the start spans midnight.'), q, 'end'),
        bindStr(field('Time zone', { kind: 'select', id: 'quiet-tz', value: tz, options: zones }), q, 'timezone')),
      h('fieldset', { class: 'days' }, h('legend', {}, 'Days'), DAYS.map((d) => bindBool(field(d[0].toUpperCase() + d.slice(1), { kind: 'checkbox', id: `quiet-${d}`, checked: !!q.days[d] }), q.days, d))),
      h('fieldset', {}, h('legend', {}, 'Also hold during quiet hours'),
        ['performance', 'storage', 'offline'].map((k) => bindBool(field(`${k[0].toUpperCase()}${k.slice(1)} alerts`, { kind: 'checkbox', id: `quiet-sup-${k}`, checked: !!q.suppress[k] }), q.suppress, k))));
    const levels = h('div', { id: 'esc-levels' });
    const paintLevels = () => levels.replaceChildren(...esc.levels.map((l, i) => h('div', { class: 'grid2' },
      bindNum(field(`Level ${i + 1}: after (minutes)`, { id: `esc-${i}-after`, type: 'number', min: 1, value: l.after }), l, 'after'),
      bindStr(field(`Level ${i + 1}: notify`, { kind: 'select', id: `esc-${i}-notify`, value: l.notify, options: [['all', 'All channels'], ['email', 'Email'], ['webhook', 'Webhooks']] }), l, 'notify'),
      h('div', { class: 'actions' }, button('Remove level', () => { esc.levels.splice(i, 1); paintLevels(); }, { class: 'btn sm' })))));
    paintLevels();
    const notif = h('fieldset', {}, h('legend', {}, 'Notification pacing'),
      h('div', { class: 'grid2' },
        bindNum(field('Cooldown (minutes)', { id: 'cooldown', type: 'number', min: 0, value: s.cooldown ?? 0 }, 'Minimum time between notifications for one ongoing alert.'), s, 'cooldown'),
        bindNum(field('Notifications per alert per hour', { id: 'max-hour', type: 'number', min: 0, value: s.maxAlertsHour ?? 0 }, '0 = no limit.'), s, 'maxAlertsHour'),
        bindNum(field('Grouping window (seconds)', { id: 'group-window', type: 'number', min: 0, value: g.window ?? 0 }), g, 'window')),
      bindBool(field('Group alerts that start together', { kind: 'checkbox', id: 'group-enabled', checked: g.enabled }), g, 'enabled'),
      bindBool(field('Group by node', { kind: 'checkbox', id: 'group-node', checked: g.byNode }), g, 'byNode'),
      bindBool(field('Group by guest', { kind: 'checkbox', id: 'group-guest', checked: g.byGuest }), g, 'byGuest'),
      bindBool(field('Escalate alerts that stay active', { kind: 'checkbox', id: 'esc-enabled', checked: esc.enabled }), esc, 'enabled'),
      levels, h('div', { class: 'actions' }, button('Add escalation level', () => { esc.levels.push({ after: 15 * (esc.levels.length + 1), notify: 'all' }); paintLevels(); }, { class: 'btn sm' })));
    return [grace, quiet, notif];
  }

  function render() {
    paintActivation();
    body.replaceChildren(
      h('fieldset', {}, h('legend', {}, 'Defaults per resource type'), ...defaults()),
      overrides(), ...timing());
  }

  function collect(st) {
    const out = [];
    for (const g of [...(st.vms || []), ...(st.containers || [])]) out.push({ id: g.id, name: g.name, kind: g.type === 'lxc' ? 'container' : 'VM' });
    for (const n of st.nodes || []) out.push({ id: n.id, name: n.name, kind: 'node' });
    for (const s of st.storage || []) out.push({ id: s.id, name: `${s.name} on ${s.node}`, kind: 'storage' });
    return out;
  }

  (async () => {
    // The live feed already holds the estate; ask the API only before its first snapshot.
    try {
      resources = collect(state.lastUpdate != null ? state : await api('/api/state'));
    } catch { /* overrides still list ids */ }
    try { cfg = await api('/api/alerts/config'); render(); } catch (e) { saveForm.fail(e.message); }
  })();
  return {};
}
