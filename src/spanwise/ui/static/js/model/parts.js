// Building blocks shared by the model tabs: stat cards and chart panels.

import { fmtNumber, h } from '../dom.js';

export function card(label, value, title) {
  return h('div', { class: 'card', title }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

/** A panel with a title, a one-line explanation and its body. */
export function panel(title, subtitle, ...body) {
  return h('div', { class: 'panel' }, h('h3', { class: 'chart-title' }, title), h('div', { class: 'chart-sub' }, subtitle), ...body);
}

export const chartGrid = () => ({ left: 56, right: 16, top: 34, bottom: 28 });

/** A statistic: p-values can be tiny (1e-107), so small values use an exponent. */
export function fmtStat(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1);
  return fmtNumber(value);
}
