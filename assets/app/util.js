// Formatting and tiny DOM helpers shared by every view. Units follow the state contract:
// guest/node `cpu` is a fraction, `memory.usage`/`disk.usage` are percentages, rates are
// bytes per second, uptimes seconds, `lastSeen`/`lastUpdate` milliseconds since the epoch.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes text for HTML: every string from the API goes through here before innerHTML. */
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
/** Bytes with binary multiples, as Proxmox shows them ("17 GB", "1.4 TB"). */
export function bytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(n >= 10 ? 0 : 1)} ${UNITS[i]}`;
}
export const rate = (n) => (Number.isFinite(n) && n > 0 ? `${bytes(n)}/s` : '0 B/s');
export const pct = (n) => (Number.isFinite(n) ? `${n < 10 && n > 0 ? n.toFixed(1) : Math.round(n)}%` : '–');

/** "8d 22h", "3h 5m", "42s". */
export function uptime(s) {
  if (!Number.isFinite(s) || s <= 0) return '–';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m`;
  return `${Math.floor(s)}s`;
}

/** Milliseconds, Unix seconds or ISO string → ms. */
export function toMs(t) {
  if (t == null || t === '') return NaN;
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  return Date.parse(t);
}
export function ago(t) {
  const ms = toMs(t);
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
export function dateTime(t) {
  const ms = toMs(t);
  return Number.isFinite(ms) ? new Date(ms).toLocaleString() : '–';
}

/** Severity class for a usage percentage (the original's 80/90 colour steps). */
export const level = (p) => (p >= 90 ? 'b-crit' : p >= 80 ? 'b-warn' : 'b-ok');

/** A usage bar: the percentage exactly as the state gives it, plus an optional detail. */
export function bar(p, detail = '') {
  if (!Number.isFinite(p) || p < 0) return '<span class="muted">–</span>';
  const w = Math.min(100, Math.max(0, p));
  const label = detail ? `${pct(p)} (${detail})` : pct(p);
  return `<div class="bar ${level(p)}" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${w.toFixed(1)}" aria-label="${esc(label)}"><i style="width:${w.toFixed(1)}%"></i><span>${esc(label)}</span></div>`;
}

/** `tags` may be a comma/semicolon string, an array or null. */
export function tagList(t) {
  if (!t) return [];
  if (Array.isArray(t)) return t.filter(Boolean).map(String);
  return String(t).split(/[,;]/).map((s) => s.trim()).filter(Boolean);
}

export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'html') el.innerHTML = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k != null) el.append(k.nodeType ? k : document.createTextNode(k));
  return el;
}

/** Sets innerHTML only when it changed: the cheap path to incremental updates. */
export function setHtml(el, html) {
  if (el._html !== html) { el._html = html; el.innerHTML = html; }
}

export const statusDot = (ok, label) =>
  `<span class="dot ${ok === true ? 'on' : ok === 'warn' ? 'warn' : 'off'}" aria-hidden="true"></span><span class="sr">${esc(label)}</span>`;

/** Persisted view preferences. */
export const prefs = {
  get(k, d) { try { const v = localStorage.getItem(`pulse-ui.${k}`); return v == null ? d : JSON.parse(v); } catch { return d; } },
  set(k, v) { try { localStorage.setItem(`pulse-ui.${k}`, JSON.stringify(v)); } catch { /* private mode */ } },
};
