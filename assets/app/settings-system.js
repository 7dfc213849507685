import { h } from './util.js';
export function systemPage(root) { root.append(h('p', {}, 'Coming')); return {}; }
