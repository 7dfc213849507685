import { h } from './util.js';
export function notificationsPage(root) { root.append(h('p', {}, 'Coming')); return {}; }
