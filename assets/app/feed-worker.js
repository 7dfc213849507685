// The live feed's parser, off the page's thread. At 3,000 guests a `rawData` frame is ~1.9 MB of
// JSON: parsing it costs the page ~30 ms, and handing a parsed copy over (structured clone)
// costs as much again. So the worker parses, keeps the guest lists it last saw, and sends the
// page only what changed: per guest, the fields whose value moved. The page applies that to the
// objects it holds, a fraction of the parse.
//
// In:  {seq, text}  (a WebSocket text frame, as received)
// Out: {seq, msg}   (the parsed message; for initialState/rawData, `data.vms`/`data.containers`
//                   are replaced by `patch[key]` = {add, upd, gone, ids})

const KEYS = ['vms', 'containers'];
/** Last list seen per key: id → object, and the ids in order. */
const held = { vms: { byId: new Map(), ids: [] }, containers: { byId: new Map(), ids: [] } };

/** Primitive compare first; objects (memory, disk, tags arrays) by their JSON. */
const same = (x, y) => x === y || (typeof x === 'object' && typeof y === 'object' && x !== null && y !== null && JSON.stringify(x) === JSON.stringify(y));

function diff(key, list) {
  const prev = held[key];
  const byId = new Map();
  const add = [], upd = [], gone = [];
  let reorder = list.length !== prev.ids.length;
  for (let i = 0; i < list.length; i++) {
    const g = list[i];
    byId.set(g.id, g);
    if (!reorder && prev.ids[i] !== g.id) reorder = true;
    const p = prev.byId.get(g.id);
    if (!p) { add.push(g); continue; }
    let d = null;
    for (const k in g) if (!same(g[k], p[k])) (d ||= { id: g.id })[k] = g[k];
    for (const k in p) if (!(k in g)) gone.push([g.id, k]);
    if (d) upd.push(d);
  }
  const ids = list.map((g) => g.id);
  held[key] = { byId, ids };
  return { add, upd, gone, ids: reorder ? ids : null };
}

onmessage = (e) => {
  const { seq, text } = e.data;
  let msg;
  try { msg = JSON.parse(text); } catch { postMessage({ seq, msg: null }); return; }
  const data = msg && msg.data;
  if ((msg.type === 'initialState' || msg.type === 'rawData') && data && typeof data === 'object') {
    // initialState replaces everything the page holds: start the lists afresh.
    if (msg.type === 'initialState') for (const k of KEYS) held[k] = { byId: new Map(), ids: [] };
    const patch = {};
    for (const k of KEYS) {
      if (Array.isArray(data[k])) { patch[k] = diff(k, data[k]); delete data[k]; }
    }
    msg.patch = patch;
  }
  postMessage({ seq, msg });
};
