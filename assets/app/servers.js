// Views for the other estates: Replication jobs, PBS servers, the Mail Gateway, Docker hosts
// and host agents. Small lists, keyed tables with cell-level updates.

import { VTable, group, groupLabel } from './vtable.js';
import { ago, bar, bytes, dateTime, esc, h, toMs, uptime, statusDot } from './util.js';

const online = (s) => ['online', 'healthy'].includes(s);

/** "in 3h" for a time ahead (a job's next run). */
function until(t) {
  const s = (toMs(t) - Date.now()) / 1000;
  if (!Number.isFinite(s)) return '–';
  if (s < 60) return 'due';
  if (s < 3600) return `in ${Math.floor(s / 60)}m`;
  if (s < 86400) return `in ${Math.floor(s / 3600)}h`;
  return `in ${Math.floor(s / 86400)}d`;
}

export function replicationView(root) {
  const t = new VTable([
    { id: 'guest', label: 'Guest', w: 160, grow: true, html: (j) => `${esc(j.guestName || j.guestId)} <span class="muted">${esc(j.guestId)}</span>` },
    { id: 'job', label: 'Job', w: 80, html: (j) => esc(j.jobId) },
    { id: 'route', label: 'Source → target', w: 170, html: (j) => `${esc(j.sourceNode)} → ${esc(j.targetNode)}` },
    { id: 'sched', label: 'Schedule', w: 90, cls: 'c-mid', html: (j) => esc(j.schedule) },
    { id: 'last', label: 'Last sync', w: 100, html: (j) => esc(ago(j.lastSyncTime)) },
    { id: 'next', label: 'Next', w: 100, cls: 'c-mid', html: (j) => esc(j.nextSyncTime ? new Date(j.nextSyncTime).toLocaleTimeString() : '–') },
    { id: 'state', label: 'State', w: 120, html: (j) => (j.error || j.failCount > 0 ? `<span class="bad">${esc(j.error || `${j.failCount} failures`)}</span>` : `<span class="good">${esc(j.status || j.state || 'ok')}</span>`) },
  ], { label: 'Replication jobs' });
  t.setEmpty('No replication jobs.');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Replication'), t.el));
  return { update: (st) => t.setRows(st.replicationJobs || []), destroy() {} };
}

export function pbsView(root) {
  const t = new VTable([
    { id: 'name', label: 'Server', w: 180, grow: true, html: (p) => `${statusDot(online(p.status), p.status)}<span class="name">${esc(p.name)}</span> <span class="muted">${esc(p.host)}</span>` },
    { id: 'ver', label: 'Version', w: 80, cls: 'c-mid', html: (p) => esc(p.version) },
    { id: 'up', label: 'Uptime', w: 80, html: (p) => esc(uptime(p.uptime)) },
    { id: 'cpu', label: 'CPU', w: 150, html: (p) => bar(p.cpu) },
    { id: 'mem', label: 'Memory', w: 180, html: (p) => bar(p.memory, `${bytes(p.memoryUsed)}/${bytes(p.memoryTotal)}`) },
  ], { label: 'Backup servers' });
  t.setEmpty('No Proxmox Backup Server monitored.');
  const ds = new VTable([
    { id: 'server', label: 'Server', w: 120, html: (d) => esc(d.server) },
    { id: 'name', label: 'Datastore', w: 160, grow: true, html: (d) => `<span class="name">${esc(d.name)}</span>${d.error ? ` <span class="bad">${esc(d.error)}</span>` : ''}` },
    { id: 'usage', label: 'Usage', w: 220, html: (d) => bar(d.total > 0 ? (d.used / d.total) * 100 : d.usage, `${bytes(d.used)}/${bytes(d.total)}`) },
    { id: 'dedup', label: 'Dedup', w: 70, cls: 'num c-mid', html: (d) => (d.deduplicationFactor ? `×${d.deduplicationFactor.toFixed(1)}` : '–') },
    { id: 'ns', label: 'Namespaces', w: 100, cls: 'num c-lo', html: (d) => String((d.namespaces || []).length) },
  ], { label: 'Datastores' });
  ds.setEmpty('No datastores.');
  // Every job kind in one list: what ran last, how it went, when it runs next.
  const jobs = new VTable([
    { id: 'server', label: 'Server', w: 110, cls: 'c-mid', html: (j) => esc(j.server) },
    { id: 'kind', label: 'Job', w: 140, grow: true, html: (j) => `<span class="badge">${esc(j.kind)}</span> <span class="name">${esc(j.jobId)}</span>` },
    { id: 'store', label: 'Datastore', w: 110, html: (j) => esc(j.store || '–') },
    { id: 'sched', label: 'Schedule', w: 90, cls: 'c-lo', html: (j) => esc(j.schedule || '–') },
    { id: 'last', label: 'Last run', w: 100, html: (j) => (j.lastRun ? `<span title="${esc(dateTime(j.lastRun))}">${esc(ago(j.lastRun))}</span>` : '<span class="muted">never</span>') },
    { id: 'state', label: 'Result', w: 200, html: (j) => (j.status === 'error' || j.error ? `<span class="bad" title="${esc(j.error || j.lastRunState)}">${esc(j.error || j.lastRunState || 'error')}</span>` : j.status === 'never' ? '<span class="muted">not run yet</span>' : `<span class="good">${esc(j.lastRunState || j.status || 'ok')}</span>`) },
    { id: 'next', label: 'Next', w: 100, cls: 'c-mid', html: (j) => (j.nextRun ? `<span title="${esc(dateTime(j.nextRun))}">${esc(until(j.nextRun))}</span>` : '–') },
  ], { label: 'PBS jobs' });
  jobs.setEmpty('No jobs configured.');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Backup servers'), t.el), h('section', { class: 'card' }, h('h2', {}, 'Datastores'), ds.el),
    h('section', { class: 'card' }, h('h2', {}, 'Jobs'), jobs.el));
  const KINDS = [['backupJobs', 'backup', 'lastBackup'], ['syncJobs', 'sync', 'lastSync'], ['verifyJobs', 'verify', 'lastVerify'], ['pruneJobs', 'prune', 'lastPrune'], ['garbageJobs', 'garbage collection', 'lastGarbage']];
  return {
    update(st) {
      t.setRows(st.pbs.map((p) => ({ ...p })));
      ds.setRows(st.pbs.flatMap((p) => (p.datastores || []).map((d) => ({ ...d, id: `${p.id}/${d.name}`, server: p.name }))));
      jobs.setRows(st.pbs.flatMap((p) => KINDS.flatMap(([key, kind, last]) => (p[key] || []).map((j, i) => ({
        ...j, id: `${p.id}/${kind}/${j.id}/${j.store}/${i}`, jobId: j.id, server: p.name, kind, lastRun: j[last] || j.lastRun,
      })))));
    },
    destroy() {},
  };
}

export function mailView(root) {
  const box = h('div');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Mail gateway'), box));
  return {
    update(st) {
      const list = st.pmg || [];
      box.innerHTML = list.length ? list.map((p) => {
        const m = p.mailStats || {};
        const q = p.quarantine || {};
        const stat = (k, v) => `<div class="stat"><span>${k}</span><strong>${esc(v ?? '–')}</strong></div>`;
        return `<h3>${statusDot(online(p.status), p.status)} ${esc(p.name)} <span class="muted">${esc(p.version)}</span></h3>
          <div class="stats">${stat('Mail total', m.countTotal)}${stat('Inbound', m.countIn)}${stat('Outbound', m.countOut)}${stat('Spam in', m.spamIn)}${stat('Viruses', m.virusIn)}${stat('Bounces in', m.bouncesIn)}${stat('Greylisted', m.greylistCount)}${stat('RBL rejects', m.rblRejects)}${stat('Traffic in', bytes(m.bytesIn))}${stat('Quarantine spam', q.spam)}${stat('Quarantine virus', q.virus)}</div>
          <table class="mini"><thead><tr><th>Node</th><th>Role</th><th>Status</th><th>Uptime</th><th>Queue</th></tr></thead><tbody>${(p.nodes || []).map((n) =>
            `<tr><td>${esc(n.name)}</td><td>${esc(n.role)}</td><td>${esc(n.status)}</td><td>${esc(uptime(n.uptime))}</td><td>${n.queueStatus ? `${n.queueStatus.total} (active ${n.queueStatus.active}, deferred ${n.queueStatus.deferred})` : '–'}</td></tr>`).join('')}</tbody></table>`;
      }).join('') : '<p class="muted">No Proxmox Mail Gateway monitored.</p>';
    },
    destroy() {},
  };
}

const sev = (i) => (i.severity === 'critical' ? 'critb' : 'warnb');

export function dockerView(root) {
  const t = new VTable([
    { id: 'name', label: 'Host', w: 180, grow: true, html: (d) => `${statusDot(d.status === 'online', d.status)}<span class="name">${esc(d.displayName || d.hostname)}</span>` },
    { id: 'rt', label: 'Runtime', w: 120, cls: 'c-mid', html: (d) => esc(`${d.runtime || 'docker'} ${d.runtimeVersion || d.dockerVersion || ''}`) },
    { id: 'cpu', label: 'CPU', w: 150, html: (d) => bar(d.cpuUsagePercent, d.cpus ? `${d.cpus} cores` : '') },
    { id: 'mem', label: 'Memory', w: 170, html: (d) => bar(d.memory?.usage, `${bytes(d.memory?.used)}/${bytes(d.memory?.total)}`) },
    { id: 'ct', label: 'Containers', w: 110, html: (d) => { const c = d.containers || []; const bad = c.filter((x) => x.state !== 'running').length; return `${c.length}${bad ? ` <span class="warn">${bad} not running</span>` : ''}`; } },
    { id: 'seen', label: 'Last seen', w: 100, cls: 'c-mid', html: (d) => esc(ago(d.lastSeen)) },
  ], { label: 'Docker hosts' });
  t.setEmpty('No Docker agent is reporting. Install one from Settings → Docker.');
  // Containers grouped under their host; `health` is Docker's health check when the image has one.
  const cts = new VTable([
    { id: 'name', label: 'Container', w: 150, grow: true, html: (c) => `${statusDot(c.state === 'running' ? (c.health === 'unhealthy' ? 'warn' : true) : false, c.state)}<span class="name">${esc(c.name)}</span>` },
    { id: 'image', label: 'Image', w: 150, cls: 'c-mid', html: (c) => `<span class="mono">${esc(c.image)}</span>` },
    { id: 'state', label: 'State', w: 150, html: (c) => `<span class="${c.state === 'running' ? 'good' : 'bad'}">${esc(c.state)}</span>${c.health ? ` <span class="${c.health === 'healthy' ? 'muted' : 'warn'}">${esc(c.health)}</span>` : ''}` },
    { id: 'cpu', label: 'CPU', w: 130, html: (c) => (c.state === 'running' ? bar(c.cpuPercent) : '–') },
    { id: 'mem', label: 'Memory', w: 170, html: (c) => (c.state === 'running' ? bar(c.memoryPercent, `${bytes(c.memoryUsageBytes)}/${bytes(c.memoryLimitBytes)}`) : '–') },
    { id: 'restarts', label: 'Restarts', w: 80, cls: 'num c-lo', html: (c) => String(c.restartCount ?? 0) },
    { id: 'up', label: 'Uptime', w: 80, cls: 'c-lo', html: (c) => esc(c.state === 'running' ? uptime(c.uptimeSeconds) : c.status || '–') },
  ], { label: 'Docker containers' });
  cts.setEmpty('No containers.');
  const issues = new VTable([
    { id: 'sev', label: 'Severity', w: 90, html: (i) => `<span class="badge ${sev(i)}">${esc(i.severity)}</span>` },
    { id: 'host', label: 'Host', w: 140, cls: 'c-mid', html: (i) => esc(i.host) },
    { id: 'ct', label: 'Container', w: 130, html: (i) => esc(i.containerName || '–') },
    { id: 'msg', label: 'Issue', w: 220, grow: true, html: (i) => esc(i.message) },
  ], { label: 'Docker issues' });
  issues.setEmpty('No issues. Every container is healthy.');
  root.append(
    h('section', { class: 'card' }, h('h2', {}, 'Docker hosts'), t.el),
    h('section', { class: 'card' }, h('h2', {}, 'Issues'), issues.el),
    h('section', { class: 'card' }, h('h2', {}, 'Containers'), cts.el));
  return {
    update(st) {
      const hosts = [...(st.dockerHosts || [])].sort((a, b) => String(a.displayName || a.hostname).localeCompare(String(b.displayName || b.hostname)));
      t.setRows(hosts);
      const rows = [];
      for (const d of hosts) {
        const list = d.containers || [];
        if (!list.length) continue;
        rows.push(group(d.id, groupLabel(d.displayName || d.hostname, ` <span class="muted">${list.length} containers</span>`)));
        rows.push(...[...list].sort((a, b) => String(a.name).localeCompare(String(b.name))).map((c) => ({ ...c, id: `${d.id}/${c.id}` })));
      }
      cts.setRows(rows);
      issues.setRows(hosts.flatMap((d) => (d.issues || []).map((i, n) => ({ ...i, id: `${d.id}#${n}`, host: d.displayName || d.hostname })))
        .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1)));
    },
    destroy() {},
  };
}

/** The busiest filesystem of a host agent (the one an admin looks at first). */
const fullestDisk = (d) => (d.disks || []).reduce((m, x) => (!m || x.usage > m.usage ? x : m), null);
/** The hottest sensor reading, °C. */
const hottest = (d) => Math.max(-Infinity, ...Object.values(d.sensors?.temperatureCelsius || {}));

export function hostsView(root) {
  const t = new VTable([
    { id: 'name', label: 'Host', w: 180, grow: true, html: (d) => `${statusDot(d.status === 'online', d.status)}<span class="name">${esc(d.displayName || d.hostname)}</span>` },
    { id: 'os', label: 'OS', w: 150, cls: 'c-mid', html: (d) => esc(`${d.osName || d.platform || ''} ${d.osVersion || ''}`) },
    { id: 'cpu', label: 'CPU', w: 150, html: (d) => bar(d.cpuUsage, `${d.cpuCount || '?'} cores`) },
    { id: 'load', label: 'Load', w: 110, cls: 'num c-lo', html: (d) => esc((d.loadAverage || []).map((l) => l.toFixed(2)).join(' ') || '–') },
    { id: 'mem', label: 'Memory', w: 170, html: (d) => bar(d.memory?.usage, `${bytes(d.memory?.used)}/${bytes(d.memory?.total)}`) },
    { id: 'disk', label: 'Disk', w: 170, cls: 'c-mid', html: (d) => { const x = fullestDisk(d); return x ? bar(x.usage, `${x.mountpoint} ${bytes(x.used)}/${bytes(x.total)}`) : '–'; } },
    { id: 'temp', label: 'Temp', w: 70, cls: 'num c-lo', html: (d) => { const c = hottest(d); return Number.isFinite(c) ? `${Math.round(c)}°C` : '–'; } },
    { id: 'up', label: 'Uptime', w: 80, html: (d) => esc(uptime(d.uptimeSeconds)) },
    { id: 'seen', label: 'Last seen', w: 100, cls: 'c-mid', html: (d) => esc(ago(d.lastSeen)) },
  ], { label: 'Host agents' });
  t.setEmpty('No host agent is reporting.');
  root.append(h('section', { class: 'card' }, h('h2', {}, 'Hosts'), t.el));
  return { update: (st) => t.setRows(st.hosts || []), destroy() {} };
}
