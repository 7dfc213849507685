// The live feed: one WebSocket to /ws, welcome → initialState → rawData. Keys present in a
// message replace the held ones (the contract's merge rules); renders are coalesced to one
// per animation frame, so a burst of updates costs one pass over the views. Frames are parsed in
// a worker that hands back only the guest fields that moved (feed-worker.js).

export const state = { nodes: [], vms: [], containers: [], storage: [], cephClusters: [], physicalDisks: [],
  pbs: [], pmg: [], replicationJobs: [], dockerHosts: [], hosts: [], activeAlerts: [], backups: null,
  pbsBackups: [], pveBackups: null, connectionHealth: {}, forecasts: [], lastUpdate: null };

const COPY = ['nodes', 'vms', 'containers', 'storage', 'cephClusters', 'pbs', 'pmg', 'replicationJobs',
  'pbsBackups', 'pmgBackups', 'pveBackups', 'connectionHealth', 'physicalDisks', 'activeAlerts', 'forecasts'];

let ws = null;
let retries = 0;
let timer = 0;
let stopped = true;
let frame = 0;
const listeners = new Set();
const connListeners = new Set();

/** Connection: `connecting` | `live` | `waiting` (backoff, `retryAt` ms) | `offline`. */
export const conn = { status: 'offline', retryAt: 0, initial: false, updates: 0 };

export const subscribe = (f) => { listeners.add(f); return () => listeners.delete(f); };
export const onConn = (f) => { connListeners.add(f); f(conn); return () => connListeners.delete(f); };
const setConn = (status, extra = {}) => { Object.assign(conn, { status }, extra); connListeners.forEach((f) => f(conn)); };

let expired = () => {};
/** A close with 1008 means the session is gone (main.js shows the login page). */
export function onExpired(f) { expired = f; }

/**
 * Merges what the page fetched itself (the start-up probe, the alerts list after an action).
 * The worker leaves out a key whose JSON did not change since it last sent it; after this
 * merge the page may hold something else, so the worker must send that key again next time.
 */
export function merge(data, initial) {
  mergeIn(data, initial);
  if (worker && data && typeof data === 'object') worker.postMessage({ forget: Object.keys(data) });
}

function mergeIn(data, initial) {
  if (!data || typeof data !== 'object') return;
  for (const k of COPY) if (data[k] !== undefined && data[k] !== null) state[k] = data[k];
  if (data.vms || data.containers) guestShape.version++; // whole lists (parsed on the page)
  if (data.backups) {
    state.backups = data.backups;
    if (data.backups.pve) state.pveBackups = data.backups.pve;
    if (data.backups.pbs) state.pbsBackups = data.backups.pbs;
  }
  if (Array.isArray(data.dockerHosts) && (data.dockerHosts.length || initial)) state.dockerHosts = data.dockerHosts;
  if (Array.isArray(data.hosts)) state.hosts = data.hosts;
  state.lastUpdate = data.lastUpdate ?? Date.now();
}

/**
 * Bumped whenever a guest list changes in what lists are filtered, sorted and grouped by
 * (a guest added or removed, the order, or one of SHAPE_KEYS): a view whose filters and order
 * read only those may keep its last list while this stays the same. Numbers, the memory
 * balloon or the disk status reason moving (every poll at 3,000 guests) do not bump it.
 */
export const guestShape = { version: 0 };
const SHAPE_KEYS = ['name', 'type', 'vmid', 'node', 'instance', 'status', 'tags', 'template'];
const shapeMoved = (p) => p.add.length > 0 || p.ids !== null
  || p.upd.some((d) => SHAPE_KEYS.some((k) => k in d)) || p.gone.some(([, k]) => SHAPE_KEYS.includes(k));

/** Guest lists by id, for applying the worker's patches to the objects the views hold. */
const index = { vms: null, containers: null };
function byIdOf(key) {
  const ix = index[key];
  if (ix && ix.arr === state[key]) return ix.byId;
  const byId = new Map(state[key].map((g) => [g.id, g]));
  index[key] = { arr: state[key], byId };
  return byId;
}

/** A guest list from the worker: new guests whole, moved fields only, removed fields, order. */
function applyPatch(key, p, initial) {
  if (initial || shapeMoved(p)) guestShape.version++;
  const byId = initial ? new Map() : byIdOf(key);
  for (const g of p.add) byId.set(g.id, g);
  // Views cache text derived from a guest's strings on it (`_search`); a changed field drops it.
  for (const d of p.upd) { const o = byId.get(d.id); if (o) { Object.assign(o, d); delete o._search; } }
  for (const [id, k] of p.gone) { const o = byId.get(id); if (o) delete o[k]; }
  if (p.ids) {
    const arr = [];
    for (const id of p.ids) { const g = byId.get(id); if (g) arr.push(g); }
    state[key] = arr;
    index[key] = { arr, byId: new Map(arr.map((g) => [g.id, g])) };
  }
  // Numbers that moved: (index in the list, index in `paths`, value) triples.
  const f = p.num;
  if (f && f.length) {
    const paths = p.paths.map((x) => x.split('.'));
    const arr = state[key];
    for (let n = 0; n < f.length; n += 3) {
      let o = arr[f[n]];
      const path = paths[f[n + 1]];
      for (let j = 0; o && j < path.length - 1; j++) o = o[path[j]];
      if (o) o[path[path.length - 1]] = f[n + 2];
    }
  }
}

/** Timings the benchmark reads (`make bench`): message parse + merge, and view update. */
export const perf = { parseMs: [], renderMs: [], firstRender: 0, viaWorker: 0, keptRows: 0 };
const keep = (a, v) => { a.push(v); if (a.length > 50) a.shift(); };
window.__pulsePerf = perf;

function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const t = performance.now();
    for (const f of listeners) f(state);
    keep(perf.renderMs, performance.now() - t);
  });
}

// The parser worker (feed-worker.js): frames go to it as text and come back as patches, in
// order. Without it (no Worker support, or it failed to start) frames are parsed here.
let worker = null;
let seq = 0;
// seq → {sock, text}: frames of a closed socket are dropped (the next socket starts with a full
// initialState), and if the worker dies its unanswered frames are parsed here, in order.
const inFlight = new Map();
try {
  // `pulse-feed-worker=off` in localStorage parses on the page (the benchmark compares both).
  if (localStorage.getItem('pulse-feed-worker') === 'off') throw new Error('off');
  worker = new Worker(import.meta.resolve('/assets/feed-worker.js'), { type: 'module', name: 'pulse-feed' });
  worker.onmessage = (e) => {
    // Before touching e.data: the page's cost includes deserialising the patch.
    const t = performance.now();
    const { seq: n, msg } = e.data;
    const f = inFlight.get(n);
    inFlight.delete(n);
    if (f && f.sock === ws && msg) { perf.viaWorker++; handle(f.sock, msg, t); }
  };
  worker.onerror = (e) => {
    e.preventDefault?.();
    worker = null;
    const pending = [...inFlight.values()];
    inFlight.clear();
    for (const f of pending) parseHere(f.sock, f.text);
  };
} catch { worker = null; }

function parseHere(sock, text) {
  if (sock !== ws) return;
  const t = performance.now();
  let msg;
  try { msg = JSON.parse(text); } catch { return; }
  if (msg && typeof msg === 'object') handle(sock, msg, t);
}

function handle(sock, msg, t) {
  const patch = msg.patch;
  if (patch) for (const k in patch) applyPatch(k, patch[k], msg.type === 'initialState');
  switch (msg.type) {
    case 'initialState':
      mergeIn(msg.data, true);
      retries = 0;
      setConn('live', { initial: true });
      schedule();
      break;
    case 'rawData':
      mergeIn(msg.data, false);
      keep(perf.parseMs, performance.now() - t);
      conn.updates++;
      schedule();
      break;
    case 'ping':
      sock.send(JSON.stringify({ type: 'pong', data: { timestamp: Date.now() } }));
      break;
    case 'settingsUpdate':
      if (msg.data && msg.data.theme) document.dispatchEvent(new CustomEvent('pulse-theme', { detail: msg.data.theme }));
      break;
    default:
      break; // welcome, pong, alert events: the state carries what the views show
  }
}

function open() {
  clearTimeout(timer);
  setConn('connecting', { initial: false });
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  const sock = new WebSocket(url);
  ws = sock;
  sock.onmessage = (ev) => {
    if (worker) {
      inFlight.set(++seq, { sock, text: ev.data });
      worker.postMessage({ seq, text: ev.data });
      return;
    }
    parseHere(sock, ev.data);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    if (stopped) return setConn('offline');
    if (ev.code === 1008) { stop(); expired(); return; }
    // Back-off 1 s × 2^n, capped at 30 s, as the original client does.
    const delay = Math.min(30000, 1000 * 2 ** retries++);
    setConn('waiting', { retryAt: Date.now() + delay, initial: false });
    timer = setTimeout(open, delay);
  };
}

export function start() { if (!stopped) return; stopped = false; open(); }
export function stop() { stopped = true; clearTimeout(timer); if (ws) { const s = ws; ws = null; s.close(1000); } setConn('offline'); }
/** "Retry now" from the connection pill. */
export function retryNow() { if (!stopped && !ws) { retries = 0; open(); } }

// Keep-alive the way the original client does it: a JSON ping every 30 s.
setInterval(() => { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping', data: { timestamp: Date.now() } })); }, 30000);
