import { h } from './util.js';
export function alertsPage(root) { root.append(h('p', {}, 'Coming')); return {}; }
