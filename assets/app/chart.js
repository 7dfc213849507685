// Our own small SVG charts: a sparkline for table cells and a line chart with a time axis and a
// hover read-out for the detail drawer. Points are {timestamp (ms), value}.

import { esc, pct, rate } from './util.js';

/** A tiny trend line (string, for table cells). Values in 0..max (default 100). */
export function sparkline(points, { w = 80, h = 20, max = 100, label = 'trend' } = {}) {
  if (!points || points.length < 2) return '<span class="muted">–</span>';
  const t0 = points[0].timestamp, span = Math.max(1, points[points.length - 1].timestamp - t0);
  const top = Math.max(max, ...points.map((p) => p.value)) || 1;
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${(((p.timestamp - t0) / span) * w).toFixed(1)},${(h - 1 - (p.value / top) * (h - 2)).toFixed(1)}`).join('');
  const last = points[points.length - 1].value;
  return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}: now ${esc(pct(last))}"><path d="${d}"/></svg>`;
}

const two = (n) => String(n).padStart(2, '0');
const fmtTime = (ms, span) => {
  const d = new Date(ms);
  if (span > 2 * 86400e3) return `${d.getMonth() + 1}/${d.getDate()}`;
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return span < 600e3 ? `${hm}:${two(d.getSeconds())}` : hm;
};

/**
 * A line chart element. series: [{name, points, color}]; unit: '%' (0..100) or 'B/s'.
 * Hovering (or focusing and using ←/→) shows the values at the nearest time.
 */
export function lineChart(series, { unit = '%', title = '', height = 140, rangeMs = 0 } = {}) {
  const W = 560, H = height, L = 44, R = 8, T = 8, B = 20;
  const wrap = document.createElement('figure');
  wrap.className = 'chart';
  // Negative values mean "unknown" (disk usage without a guest agent): not drawn.
  series = series.map((s) => ({ ...s, points: (s.points || []).filter((p) => Number.isFinite(p.value) && p.value >= 0) }));
  const all = series.flatMap((s) => s.points);
  if (all.length < 2) {
    wrap.innerHTML = `<figcaption>${esc(title)}</figcaption><p class="muted chart-empty">Not enough history yet.</p>`;
    return wrap;
  }
  // The axis spans the chosen range (1h / 24h / 7d), not just the points held: a guest seen
  // for two minutes shows two minutes of line at the right end of an hour, not a stretched hour.
  const dataT0 = Math.min(...all.map((p) => p.timestamp)), dataT1 = Math.max(...all.map((p) => p.timestamp));
  const t1 = rangeMs ? Math.max(dataT1, Date.now()) : dataT1;
  const t0 = rangeMs ? Math.min(dataT0, t1 - rangeMs) : dataT0;
  const span = Math.max(1, t1 - t0);
  const vmax = unit === '%' ? 100 : Math.max(1024, ...all.map((p) => p.value)) * 1.1;
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - Math.min(v, vmax) / vmax) * (H - T - B);
  const fmt = unit === '%' ? pct : rate;
  let grid = '';
  for (let i = 0; i <= 4; i++) {
    const v = (vmax * i) / 4, yy = y(v).toFixed(1);
    grid += `<line class="grid" x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}"/><text class="axis" x="${L - 4}" y="${yy}" dy="3" text-anchor="end">${esc(fmt(v))}</text>`;
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    grid += `<text class="axis" x="${x(t).toFixed(1)}" y="${H - 4}" text-anchor="${i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}">${esc(fmtTime(t, span))}</text>`;
  }
  const paths = series.map((s, i) => {
    if (!s.points.length) return '';
    if (s.points.length === 1) return `<circle class="pt s${i}" r="3" cx="${x(s.points[0].timestamp).toFixed(1)}" cy="${y(s.points[0].value).toFixed(1)}"/>`;
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p.timestamp).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
    return `<path class="line s${i}" d="${d}"/>`;
  }).join('');
  const legend = series.map((s, i) => `<span class="lg s${i}">${esc(s.name)}</span>`).join('');
  wrap.innerHTML = `<figcaption>${esc(title)} <span class="legend">${legend}</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" tabindex="0" role="img" aria-label="${esc(title)} chart">${grid}${paths}<line class="cursor" y1="${T}" y2="${H - B}" x1="-10" x2="-10"/></svg>
    <output class="readout" aria-live="polite"></output>`;
  const svg = wrap.querySelector('svg'), cursor = wrap.querySelector('.cursor'), out = wrap.querySelector('output');
  const times = [...new Set(all.map((p) => p.timestamp))].sort((a, b) => a - b);
  let idx = times.length - 1;
  const show = (i) => {
    idx = Math.max(0, Math.min(times.length - 1, i));
    const t = times[idx];
    const xx = x(t).toFixed(1);
    cursor.setAttribute('x1', xx); cursor.setAttribute('x2', xx);
    const vals = series.map((s) => {
      const p = s.points.reduce((best, q) => (Math.abs(q.timestamp - t) < Math.abs(best.timestamp - t) ? q : best), s.points[0] || { timestamp: t, value: NaN });
      return `${esc(s.name)} ${esc(fmt(p.value))}`;
    });
    out.innerHTML = `${esc(new Date(t).toLocaleString())} · ${vals.join(' · ')}`;
  };
  svg.addEventListener('pointermove', (e) => {
    const r = svg.getBoundingClientRect();
    const t = t0 + (((e.clientX - r.left) / r.width) * W - L) / (W - L - R) * span;
    let best = 0;
    for (let i = 1; i < times.length; i++) if (Math.abs(times[i] - t) < Math.abs(times[best] - t)) best = i;
    show(best);
  });
  svg.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft') { e.preventDefault(); show(idx - 1); }
    if (e.key === 'ArrowRight') { e.preventDefault(); show(idx + 1); }
  });
  show(idx);
  return wrap;
}
