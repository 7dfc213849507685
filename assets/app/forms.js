// What every Settings page shares: labelled fields, a form whose error line shows the server's
// JSON `error` on a 4xx, a status line, copy buttons, two-step confirmation buttons (no
// window.confirm: it blocks the page and cannot be styled or reached by screen readers the same
// way), and file downloads. Pages build DOM with util.h and never interpolate API strings into HTML.

import { ApiError } from './api.js';
import { h } from './util.js';

let seq = 0;
/** A unique id for a label/input pair when the caller did not name one. */
const uid = (p) => `${p}-${++seq}`;

/**
 * A labelled control. `attrs.kind`: 'input' (default), 'select' (`options`: [value, label] pairs
 * or strings), 'textarea', 'checkbox'. `hint` is tied to the control with aria-describedby.
 */
export function field(label, attrs = {}, hint = '') {
  const { kind = 'input', options = [], ...rest } = attrs;
  const id = rest.id || uid('f');
  const hintId = hint ? `${id}-hint` : null;
  const common = { id, ...rest, 'aria-describedby': hintId };
  let ctl;
  if (kind === 'select') {
    ctl = h('select', common, options.map((o) => {
      const [v, l] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: String(rest.value ?? '') === String(v) }, l);
    }));
  } else if (kind === 'textarea') {
    const { value, ...t } = common;
    ctl = h('textarea', { rows: 4, ...t });
    ctl.value = value ?? '';
  } else if (kind === 'checkbox') {
    const { checked, ...c } = common;
    ctl = h('input', { type: 'checkbox', ...c });
    ctl.checked = !!checked;
    return h('div', { class: 'field check' }, ctl, h('label', { for: id }, label), hint ? h('small', { id: hintId, class: 'muted' }, hint) : null);
  } else {
    ctl = h('input', common);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), ctl, hint ? h('small', { id: hintId, class: 'muted' }, hint) : null);
}

/** The control inside a `field()`. */
export const ctl = (fieldEl) => fieldEl.querySelector('input, select, textarea');

/**
 * A form with an error line (`#<id>-error`, role=alert) and a status line (`#<id>-status`)
 * beside its buttons. `onSubmit(form)` may throw; an ApiError shows the server's message.
 * Returns the form element; `form.run(fn)` runs any other action with the same feedback.
 */
export function form({ id, title, submit = 'Save', extra = [], onSubmit, long = false }, ...kids) {
  const err = h('p', { class: 'err', role: 'alert', id: `${id}-error` });
  const status = h('p', { class: 'ok-msg', role: 'status', id: `${id}-status` });
  const btn = h('button', { type: 'submit', class: 'btn accent' }, submit);
  // A long form keeps its buttons and its feedback in view (sticky footer).
  const el = h('form', { id, class: `card sform${long ? ' long' : ''}`, novalidate: true, 'aria-labelledby': title ? `${id}-title` : null },
    title ? h('h2', { id: `${id}-title` }, title) : null,
    ...kids,
    h('div', { class: 'form-foot' }, h('div', { class: 'actions' }, btn, ...extra), err, status));
  el.run = async (fn, busy = btn) => {
    err.textContent = '';
    status.textContent = '';
    busy.disabled = true;
    try {
      const m = await fn();
      if (typeof m === 'string') status.textContent = m;
    } catch (e) {
      err.textContent = e instanceof ApiError ? e.message : `Failed: ${e.message}`;
    } finally { busy.disabled = false; }
  };
  el.fail = (text) => { status.textContent = ''; err.textContent = text; };
  el.addEventListener('submit', (e) => { e.preventDefault(); el.run(() => onSubmit(el)); });
  return el;
}

/** A plain button. */
export const button = (label, onclick, attrs = {}) => h('button', { type: 'button', class: 'btn', onclick, ...attrs }, label);

// The confirm button (by its data-key, else its aria-label) waiting for its second press. A list that repaints
// (a health update, a reload after a save) builds new buttons: the one with this key starts
// armed, so a repaint between the two presses does not swallow the first.
let armedKey = null;

/**
 * A button that asks once more before acting: the first press arms it ("Confirm …"), the second
 * acts; focus moving elsewhere disarms it, a repaint of its list does not.
 */
export function confirmButton(label, confirmLabel, act, attrs = {}) {
  const key = attrs['data-key'] || attrs['aria-label'] || label;
  const setArmed = (on) => {
    if (on) { b.dataset.armed = '1'; b.textContent = confirmLabel; armedKey = key; return; }
    delete b.dataset.armed;
    b.textContent = label;
    if (armedKey === key) armedKey = null;
  };
  const b = button(label, () => {
    if (b.dataset.armed) { setArmed(false); act(); return; }
    setArmed(true);
  }, { class: 'btn danger', ...attrs });
  if (armedKey === key) setArmed(true);
  // Removal by a repaint may blur the button too: only a button still on the page disarms.
  b.addEventListener('blur', () => setTimeout(() => { if (b.isConnected) setArmed(false); }));
  return b;
}

/** A copy-to-clipboard button for the text of `source` (an element or a function). */
export function copyButton(source, label = 'Copy') {
  const b = button(label, async () => {
    const text = typeof source === 'function' ? source() : source.textContent;
    try { await navigator.clipboard.writeText(text); b.textContent = 'Copied'; } catch {
      // No clipboard permission (plain HTTP on a LAN address): select the text instead.
      if (source.nodeType) getSelection().selectAllChildren(source);
      b.textContent = 'Selected: press Ctrl+C';
    }
    setTimeout(() => { b.textContent = label; }, 2000);
  }, { class: 'btn sm' });
  return b;
}

/** Saves `text` as a file through a temporary link. */
export function download(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A section card with a heading and optional intro text. */
export const section = (title, intro, ...kids) =>
  h('section', { class: 'card', 'aria-label': title }, h('h2', {}, title), intro ? h('p', { class: 'muted' }, intro) : null, ...kids);

/** `{a: 1}` header map ⇄ "a: 1" lines. */
export const headerLines = (m) => Object.entries(m || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
export function parseHeaderLines(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const i = t.indexOf(':');
    if (i <= 0) throw new Error(`Header line "${t}" needs the form Name: value`);
    out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
  }
  return out;
}

/** A small table from rows of cells (strings or nodes); `caption` names it for assistive tech. */
export function table(caption, heads, rows, attrs = {}) {
  return h('div', { class: 'tscroll' }, h('table', { class: 'mini', ...attrs },
    h('caption', { class: 'sr' }, caption),
    h('thead', {}, h('tr', {}, heads.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', r.attrs || {}, (r.cells || r).map((c) => h('td', {}, c))))
      : h('tr', {}, h('td', { colspan: heads.length, class: 'muted' }, 'None yet.')))));
}
