import { h } from './util.js';
export function nodesPage(root) { root.append(h('p', {}, 'Coming')); return {}; }
