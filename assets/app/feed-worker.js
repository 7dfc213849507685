// The live feed's parser, off the page's thread. At 3,000 guests a `rawData` frame is ~1.9 MB of
// JSON: parsing it costs the page ~30 ms, and handing a parsed copy over (structured clone)
// costs as much again. So the worker parses, keeps the guest lists it last saw, and sends the
// page only what changed: per guest, the fields whose value moved. The page applies that to the
// objects it holds, a fraction of the parse.
//
// In:  {seq, text}  (a WebSocket text frame, as received), or {forget: [key]} (see live.js merge)
// Out: {seq, msg}   (the parsed message; for initialState/rawData, `data.vms`/`data.containers`
//                   are replaced by `patch[key]` = {add, upd, gone, ids, paths, num})

const KEYS = ['vms', 'containers'];
/** The JSON of each other key as last sent. */
const sent = new Map();
/** Last list seen per key: id → object, and the ids in order. */
const held = { vms: { byId: new Map(), ids: [] }, containers: { byId: new Map(), ids: [] } };

// What moves on every poll is numbers, at the top of a guest or inside `memory`, `disk`,
// `disks[i]`. Those travel as triples in one Float64Array (transferred, not copied): the guest's
// index in the list, the path's index in `paths`, the value. Anything else that changed (a string,
// a new key, an array that grew) goes as that top-level field in `upd`.
const isNum = (v) => typeof v === 'number';
const isObj = (v) => v !== null && typeof v === 'object';

/**
 * Collects [path, value] for every number that differs between `x` and `y` when both have the
 * same shape and nothing but numbers differ; returns false otherwise (then the field goes whole).
 */
function numLeaves(x, y, path, out, depth) {
  if (depth > 3 || Array.isArray(x) !== Array.isArray(y)) return false;
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) {
    if (!(k in y)) return false;
    const a = x[k], b = y[k];
    if (a === b) continue;
    if (isNum(a) && isNum(b)) out.push([`${path}.${k}`, a]);
    else if (isObj(a) && isObj(b)) { if (!numLeaves(a, b, `${path}.${k}`, out, depth + 1)) return false; }
    else return false;
  }
  return true;
}

function diff(key, list) {
  const prev = held[key];
  const byId = new Map();
  const add = [], upd = [], gone = [], trips = [];
  const paths = [], pathIx = new Map();
  const at = (path) => { let n = pathIx.get(path); if (n === undefined) { n = paths.length; paths.push(path); pathIx.set(path, n); } return n; };
  let reorder = list.length !== prev.ids.length;
  const leaves = [];
  for (let i = 0; i < list.length; i++) {
    const g = list[i];
    byId.set(g.id, g);
    if (!reorder && prev.ids[i] !== g.id) reorder = true;
    const p = prev.byId.get(g.id);
    if (!p) { add.push(g); continue; }
    let d = null;
    for (const k in g) {
      const x = g[k], y = p[k];
      if (x === y) continue;
      if (isNum(x) && isNum(y)) { trips.push(i, at(k), x); continue; }
      if (isObj(x) && isObj(y)) {
        leaves.length = 0;
        if (numLeaves(x, y, k, leaves, 1)) { for (const [path, v] of leaves) trips.push(i, at(path), v); continue; }
        if (JSON.stringify(x) === JSON.stringify(y)) continue;
      }
      (d ||= { id: g.id })[k] = x;
    }
    for (const k in p) if (!(k in g)) gone.push([g.id, k]);
    if (d) upd.push(d);
  }
  const ids = list.map((g) => g.id);
  held[key] = { byId, ids };
  return { add, upd, gone, ids: reorder ? ids : null, paths, num: Float64Array.from(trips) };
}

onmessage = (e) => {
  // The page merged these keys from its own fetch: send them with the next frame that has them.
  if (e.data.forget) { for (const k of e.data.forget) sent.delete(k); return; }
  const { seq, text } = e.data;
  let msg;
  try { msg = JSON.parse(text); } catch { postMessage({ seq, msg: null }); return; }
  if (!isObj(msg)) { postMessage({ seq, msg: null }); return; }
  const data = msg.data;
  if ((msg.type === 'initialState' || msg.type === 'rawData') && isObj(data) && !Array.isArray(data)) {
    // initialState replaces everything the page holds: start the lists afresh.
    if (msg.type === 'initialState') {
      for (const k of KEYS) held[k] = { byId: new Map(), ids: [] };
      sent.clear();
    }
    const patch = {};
    for (const k of KEYS) {
      if (Array.isArray(data[k])) { patch[k] = diff(k, data[k]); delete data[k]; }
    }
    // Every other list or object: sent only when it changed (the page keeps what it holds for
    // a key a message leaves out). The backup lists alone are over 1 MB at 3,000 guests.
    for (const k of Object.keys(data)) {
      if (!isObj(data[k])) continue;
      const text = JSON.stringify(data[k]);
      if (sent.get(k) === text) delete data[k]; else sent.set(k, text);
    }
    msg.patch = patch;
    postMessage({ seq, msg }, Object.values(patch).map((p) => p.num.buffer));
    return;
  }
  postMessage({ seq, msg });
};
