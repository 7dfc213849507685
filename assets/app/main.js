// Entry point: the contract's start-up sequence (security status → auth probe → live feed),
// the app shell (header with connection state, alerts badge, theme toggle, sign-out), client
// routes, and one render per animation frame for the view on screen.

import { api, onUnauthorized } from './api.js';
import { onConn, onExpired, perf, retryNow, start, state, stop, subscribe, merge } from './live.js';
import { loginView, setupView } from './login.js';
import { overview } from './overview.js';
import { storageView } from './storage.js';
import { backupsView } from './backups.js';
import { alertsView, alertCounts } from './alerts.js';
import { dockerView, hostsView, mailView, pbsView, replicationView } from './servers.js';
import { closeGuest } from './drawer.js';
import { settingsView } from './settings.js';
import { h } from './util.js';

const root = document.getElementById('app');

const ROUTES = [
  { path: '/proxmox/overview', label: 'Overview', view: overview },
  { path: '/proxmox/storage', label: 'Storage', view: storageView },
  { path: '/proxmox/backups', label: 'Backups', view: backupsView },
  { path: '/proxmox/replication', label: 'Replication', view: replicationView },
  { path: '/proxmox/pbs', label: 'PBS', view: pbsView },
  { path: '/proxmox/mail', label: 'Mail Gateway', view: mailView },
  { path: '/docker', label: 'Docker', view: dockerView },
  { path: '/hosts', label: 'Hosts', view: hostsView },
  { path: '/alerts', label: 'Alerts', view: alertsView },
  { path: '/settings', label: 'Settings', view: settingsView, sub: true },
];
const REDIRECTS = { '/': '/proxmox/overview', '/proxmox': '/proxmox/overview', '/storage': '/proxmox/storage', '/backups': '/proxmox/backups', '/servers': '/hosts' };

// --- theme: the system's unless the user picked one (localStorage.darkMode, as the original) ---
const media = matchMedia('(prefers-color-scheme: dark)');
function applyTheme() {
  const saved = localStorage.getItem('darkMode');
  const dark = saved == null ? media.matches : saved === 'true';
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  const b = document.getElementById('theme-toggle');
  if (b) { b.setAttribute('aria-pressed', String(dark)); b.title = dark ? 'Switch to light theme' : 'Switch to dark theme'; b.textContent = dark ? '☾' : '☀'; }
}
media.addEventListener('change', applyTheme);
document.addEventListener('pulse-theme', (e) => { localStorage.setItem('darkMode', String(e.detail === 'dark')); applyTheme(); });
applyTheme();

// --- the shell ---
let shell = null;
let view = null;
let viewPath = '';

function buildShell() {
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Views' }, ROUTES.map((r) => h('a', { href: r.path, 'data-path': r.path }, r.label)));
  nav.addEventListener('click', (e) => {
    const a = e.target.closest('a');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    go(a.getAttribute('href'));
  });
  const pill = h('button', { type: 'button', id: 'conn', class: 'pill', 'aria-live': 'polite', onclick: retryNow });
  const badge = h('a', { href: '/alerts', id: 'alert-badge', class: 'alert-badge', onclick: (e) => { e.preventDefault(); go('/alerts'); } }, 'Alerts');
  const theme = h('button', { type: 'button', id: 'theme-toggle', class: 'btn icon', 'aria-label': 'Dark theme', onclick: () => {
    localStorage.setItem('darkMode', String(document.documentElement.dataset.theme !== 'dark')); applyTheme();
  } });
  const logout = h('button', { type: 'button', class: 'btn', id: 'logout', onclick: signOut }, 'Sign out');
  const main = h('main', { id: 'view', tabindex: -1 });
  const footer = h('footer', { id: 'footer' });
  shell = { nav, pill, badge, main, footer };
  root.replaceChildren(
    h('a', { href: '#view', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'top' },
      h('a', { href: '/proxmox/overview', class: 'brand', onclick: (e) => { e.preventDefault(); go('/proxmox/overview'); } },
        h('img', { src: '/logo.svg', alt: '', width: 28, height: 28 }), h('span', {}, 'Pulse')),
      nav, h('div', { class: 'tools' }, pill, badge, theme, logout)),
    main, footer);
  applyTheme();
  onConn(paintConn);
}

let connTick = 0;
function paintConn(c) {
  if (!shell) return;
  const p = shell.pill;
  clearInterval(connTick);
  const label = () => {
    if (c.status === 'live') return ['live', 'Live'];
    if (c.status === 'connecting') return ['wait', 'Connecting…'];
    if (c.status === 'waiting') return ['bad', `Reconnecting in ${Math.max(0, Math.ceil((c.retryAt - Date.now()) / 1000))}s`];
    return ['bad', 'Offline'];
  };
  const paint = () => {
    const [cls, text] = label();
    p.className = `pill ${cls}`;
    p.textContent = text;
    p.title = c.status === 'waiting' ? 'Connection lost. Click to retry now.' : c.status === 'live' ? 'Receiving live updates' : '';
    p.dataset.status = c.status;
  };
  paint();
  if (c.status === 'waiting') connTick = setInterval(paint, 1000);
  document.body.classList.toggle('stale', c.status !== 'live' && state.lastUpdate != null);
}

function paintChrome() {
  const c = alertCounts(state.activeAlerts);
  const total = c.warning + c.critical;
  shell.badge.innerHTML = total ? `Alerts <span class="count ${c.critical ? 'crit' : 'warn'}">${total}</span>` : 'Alerts';
  shell.badge.setAttribute('aria-label', total ? `Alerts: ${c.critical} critical, ${c.warning} warning` : 'Alerts: none active');
  const present = { '/proxmox/pbs': state.pbs.length, '/proxmox/mail': state.pmg.length, '/docker': state.dockerHosts.length, '/hosts': state.hosts.length, '/proxmox/replication': state.replicationJobs.length };
  for (const a of shell.nav.children) {
    const p = a.dataset.path;
    a.hidden = p in present && !present[p] && p !== viewPath;
  }
  const t = state.lastUpdate ? new Date(state.lastUpdate).toLocaleTimeString() : '–';
  shell.footer.textContent = `Pulse ${version} · last refresh ${t}`;
}

function resolve(path) {
  path = REDIRECTS[path] || path;
  return ROUTES.find((r) => path === r.path || path.startsWith(`${r.path}/`)) || ROUTES[0];
}

function go(path, replace = false) {
  const r = resolve(path);
  // Views with sub-pages (Settings) keep the full path; the others land on their own path.
  const target = r.sub && path.startsWith(`${r.path}/`) ? path : r.path;
  if (location.pathname !== target) history[replace ? 'replaceState' : 'pushState'](null, '', target);
  mount(r);
}

function mount(r) {
  closeGuest();
  view?.destroy?.();
  viewPath = r.path;
  shell.main.replaceChildren();
  shell.main.dataset.view = r.path;
  for (const a of shell.nav.children) {
    if (a.dataset.path === r.path) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${r.label} · Pulse`;
  view = r.view(shell.main, { refreshState, go });
  if (state.lastUpdate != null) { view.update(state); paintChrome(); } else shell.main.prepend(h('p', { class: 'loading muted', id: 'loading' }, 'Waiting for live data…'));
}

addEventListener('popstate', () => { if (shell) mount(resolve(location.pathname)); });

subscribe((st) => {
  if (!view) return;
  document.getElementById('loading')?.remove();
  view.update(st);
  paintChrome();
  document.body.classList.toggle('stale', false);
  firstRender();
});

// The benchmark times one view update on demand (`make bench`), apart from parsing and GC.
window.__pulseUpdate = () => { const t = performance.now(); view?.update(state); paintChrome(); return performance.now() - t; };

/** When the first overview was on screen (ms since navigation start), for the benchmark. */
function firstRender() {
  if (!perf.firstRender) requestAnimationFrame(() => { perf.firstRender = performance.now(); });
}

async function refreshState() {
  try {
    const list = await api('/api/alerts/active');
    merge({ activeAlerts: list || [] }, false);
    view?.update(state);
    paintChrome();
  } catch { /* the next rawData brings it anyway */ }
}

async function signOut() {
  try { await api('/api/logout', { method: 'POST', body: {} }); } catch { /* the session is gone either way */ }
  stop();
  try { localStorage.setItem('just_logged_out', '1'); sessionStorage.clear(); } catch { /* ignore */ }
  showLogin('You are signed out.');
}

function showLogin(notice) {
  stop();
  closeGuest();
  view = null; shell = null;
  if (location.pathname !== '/' && !location.pathname.startsWith('/proxmox')) history.replaceState(null, '', '/');
  loginView(root, { notice });
}

let version = '';
onUnauthorized((msg) => showLogin(msg));
onExpired(() => showLogin('Your session has ended. Please sign in again.'));

async function boot() {
  if (localStorage.getItem('just_logged_out')) {
    localStorage.removeItem('just_logged_out');
    return loginView(root, { notice: 'You are signed out.' });
  }
  let status;
  try { status = await api('/api/security/status', { auth: false }); } catch (e) {
    if (e.status === 401) return loginView(root);
    status = { hasAuthentication: true };
  }
  if (!status.hasAuthentication && !status.hasProxyAuth && !status.oidcUsername) return setupView(root, status);
  const probe = await fetch('/api/state', { headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' }, credentials: 'same-origin' });
  if (probe.status === 401) return loginView(root);
  // The probe body is today's state: draw from it at once, the feed takes over when it opens.
  buildShell();
  go(location.pathname, true);
  try {
    merge(await probe.json(), true);

    view.update(state);
    document.getElementById('loading')?.remove();
    paintChrome();
    firstRender();
  } catch { /* wait for the feed */ }
  start();
  api('/api/version').then((v) => { version = v.version; paintChrome(); }).catch(() => {});
  refreshState();
  setInterval(() => { if (shell) refreshState(); }, 60000);
}

boot();
