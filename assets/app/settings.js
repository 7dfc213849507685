// Settings: the pages an admin used `curl` for, under /settings/<page>. Each page is its own
// module (settings_*.js) exporting `(root, ctx) → {update?, destroy?}`; this file is only the
// sub-navigation and the mount.

import { h } from './util.js';
import { nodesPage } from './settings_nodes.js';
import { securityPage } from './settings_security.js';
import { alertsPage } from './settings_alerts.js';
import { notificationsPage } from './settings_notifications.js';
import { systemPage } from './settings_system.js';

const PAGES = [
  { slug: 'nodes', label: 'Nodes', page: nodesPage },
  { slug: 'security', label: 'Security', page: securityPage },
  { slug: 'alerts', label: 'Alerts', page: alertsPage },
  { slug: 'notifications', label: 'Notifications', page: notificationsPage },
  { slug: 'system', label: 'System', page: systemPage },
];

export function settingsView(root, ctx) {
  const slug = location.pathname.split('/')[2];
  const cur = PAGES.find((p) => p.slug === slug) || PAGES[0];
  const nav = h('nav', { class: 'subnav', 'aria-label': 'Settings pages' }, PAGES.map((p) =>
    h('a', { href: `/settings/${p.slug}`, 'data-page': p.slug, 'aria-current': p === cur ? 'page' : null }, p.label)));
  nav.addEventListener('click', (e) => {
    const a = e.target.closest('a');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    ctx.go(a.getAttribute('href'));
  });
  const body = h('div', { class: 'settings-page', id: `settings-${cur.slug}` });
  root.append(h('h1', { class: 'page-title' }, `Settings · ${cur.label}`), nav, body);
  document.title = `${cur.label} · Settings · Pulse`;
  const page = cur.page(body, ctx) || {};
  return {
    update(st) { page.update?.(st); },
    destroy() { page.destroy?.(); },
  };
}
