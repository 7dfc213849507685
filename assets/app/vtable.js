// A table that stays fast at thousands of rows. Rows are absolutely positioned divs from a
// small pool: only the rows in view exist in the DOM, and an update rewrites only the cells
// whose HTML changed (setHtml). Below VIRTUAL_MIN rows every row is rendered and the table
// flows with the page. Group headers are rows with `{group: true, html}`.

import { esc, setHtml } from './util.js';

const VIRTUAL_MIN = 400;
const OVERSCAN = 12;

export class VTable {
  /**
   * columns: [{id, label, w, grow?, cls?, sortable?, html(item) → string}]
   * opts: {label, rowHeight, onOpen(item), rowClass(item), sort: {col, dir}, onSort(col)}
   */
  constructor(columns, opts = {}) {
    this.opts = opts;
    this.rh = opts.rowHeight || 34;
    this.rows = [];
    this.pool = [];
    this.virtual = false;
    this.el = document.createElement('div');
    this.el.className = 'vt';
    this.el.setAttribute('role', 'table');
    if (opts.label) this.el.setAttribute('aria-label', opts.label);
    this.scroller = document.createElement('div');
    this.scroller.className = 'vt-scroll';
    this.head = document.createElement('div');
    this.head.className = 'vt-head';
    this.head.setAttribute('role', 'row');
    this.body = document.createElement('div');
    this.body.className = 'vt-body';
    this.body.setAttribute('role', 'rowgroup');
    this.empty = document.createElement('div');
    this.empty.className = 'vt-empty muted';
    this.empty.hidden = true;
    this.scroller.append(this.head, this.body);
    this.el.append(this.scroller, this.empty);
    let pending = 0;
    this.scroller.addEventListener('scroll', () => {
      if (!this.virtual || pending) return;
      pending = requestAnimationFrame(() => { pending = 0; this.render(); });
    }, { passive: true });
    this.body.addEventListener('click', (e) => {
      const row = e.target.closest('.vt-row');
      if (row && row._item && !row._item.group && !e.target.closest('a,button,input')) this.opts.onOpen?.(row._item);
    });
    this.body.addEventListener('keydown', (e) => this.key(e));
    this.setColumns(columns);
  }

  setColumns(columns) {
    this.columns = columns;
    this.head.replaceChildren(...columns.map((c) => {
      const cell = document.createElement('div');
      cell.className = `vt-c ${c.cls || ''}`;
      cell.setAttribute('role', 'columnheader');
      cell.style.cssText = this.width(c);
      if (c.sortable !== false && this.opts.onSort) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'sort';
        b.textContent = c.label;
        b.addEventListener('click', () => this.opts.onSort(c.id));
        cell.append(b);
      } else cell.textContent = c.label;
      cell.dataset.col = c.id;
      return cell;
    }));
    this.pool.forEach((r) => r.remove());
    this.pool = [];
    this.markSort();
    this.render();
  }

  width(c) { return c.grow ? `flex:1 0 ${c.w}px` : `flex:0 0 ${c.w}px`; }

  markSort() {
    const s = this.opts.sort || {};
    for (const cell of this.head.children) {
      if (cell.dataset.col === s.col) cell.setAttribute('aria-sort', s.dir === 'desc' ? 'descending' : 'ascending');
      else cell.removeAttribute('aria-sort');
    }
  }

  setSort(sort) { this.opts.sort = sort; this.markSort(); }
  setEmpty(text) { this.emptyText = text; }

  /** New rows (already filtered, sorted, grouped); redraws what is in view. */
  setRows(rows) {
    this.rows = rows;
    this.render();
  }

  makeRow() {
    const row = document.createElement('div');
    row.className = 'vt-row';
    row.setAttribute('role', 'row');
    row.tabIndex = -1;
    row._cells = this.columns.map((c) => {
      const cell = document.createElement('div');
      cell.className = `vt-c ${c.cls || ''}`;
      cell.setAttribute('role', 'cell');
      cell.style.cssText = this.width(c);
      return cell;
    });
    row._group = document.createElement('div');
    row._group.className = 'vt-glabel';
    row._group.setAttribute('role', 'cell');
    row.append(row._group, ...row._cells);
    this.body.append(row);
    return row;
  }

  render() {
    const n = this.rows.length;
    const virtual = n >= VIRTUAL_MIN;
    if (virtual !== this.virtual) {
      this.virtual = virtual;
      this.el.classList.toggle('vt-virtual', virtual);
    }
    this.el.setAttribute('aria-rowcount', String(n + 1));
    this.empty.hidden = n > 0;
    this.empty.textContent = this.emptyText || 'Nothing to show.';
    let start = 0, end = n;
    if (virtual) {
      this.body.style.height = `${n * this.rh}px`;
      const top = Math.max(0, this.scroller.scrollTop - this.head.offsetHeight);
      const view = this.scroller.clientHeight || 800;
      start = Math.max(0, Math.floor(top / this.rh) - OVERSCAN);
      end = Math.min(n, Math.ceil((top + view) / this.rh) + OVERSCAN);
    } else this.body.style.height = '';
    while (this.pool.length < end - start) this.pool.push(this.makeRow());
    const focused = document.activeElement;
    for (let i = start; i < end; i++) this.fill(this.pool[i - start], this.rows[i], i);
    for (let j = end - start; j < this.pool.length; j++) {
      const r = this.pool[j];
      if (!r.hidden) { r.hidden = true; r._item = null; r._key = null; }
    }
    if (focused && focused.classList?.contains('vt-row') && focused.hidden) this.body.focus?.();
  }

  fill(row, item, i) {
    row.hidden = false;
    row._item = item;
    row._index = i;
    row.setAttribute('aria-rowindex', String(i + 2));
    if (this.virtual) row.style.transform = `translateY(${i * this.rh}px)`;
    else if (row.style.transform) row.style.transform = '';
    if (item.group) {
      if (row._kind !== 'g') { row._kind = 'g'; row.className = 'vt-row vt-group'; row.tabIndex = -1; }
      setHtml(row._group, item.html);
      row._key = item.key;
      return;
    }
    const cls = `vt-row ${this.opts.rowClass ? this.opts.rowClass(item) : ''}`;
    if (row._kind !== 'd') { row._kind = 'd'; row.tabIndex = 0; }
    if (row.className !== cls) row.className = cls;
    if (row._key !== item.id) { row._key = item.id; row.dataset.id = item.id ?? ''; }
    const cols = this.columns;
    for (let c = 0; c < cols.length; c++) setHtml(row._cells[c], cols[c].html(item));
  }

  /** Arrow keys move between rows, Enter/Space opens one. */
  key(e) {
    const row = e.target.closest('.vt-row');
    if (!row) return;
    if ((e.key === 'Enter' || e.key === ' ') && row._item && !row._item.group) {
      e.preventDefault();
      this.opts.onOpen?.(row._item);
      return;
    }
    const step = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    let i = row._index + step;
    while (this.rows[i] && this.rows[i].group) i += step;
    if (!this.rows[i]) return;
    if (this.virtual) {
      const y = i * this.rh + this.head.offsetHeight;
      if (y < this.scroller.scrollTop || y + this.rh > this.scroller.scrollTop + this.scroller.clientHeight) {
        this.scroller.scrollTop = y - this.scroller.clientHeight / 2;
        this.render();
      }
    }
    const target = this.pool.find((r) => !r.hidden && r._index === i);
    target?.focus();
  }
}

/** A group header row. */
export const group = (key, html) => ({ group: true, key, html });
export const groupLabel = (title, extra = '') => `<strong>${esc(title)}</strong>${extra}`;
